// ANCHOR: protocol
//! The channel between the runtime and its child.
//!
//! After clone(2) two processes run the same program, and the order of their
//! steps matters (later: the parent writes uid_map before the child may act
//! as root; the child joins its cgroup before the command runs). They take
//! turns over a socketpair, at numbered sync points, like crun does:
//!
//! ```text
//!  runtime                          child
//!     |  clone ------------------------> |  waits
//!     |  (step 5 on: cgroup; 7: uid_map) |
//!     |  "parent-done" ----------------> |  sync 0: the runtime's part is done
//!     |                                  |  sets up its namespaces
//!     |  <------------------- "ready"    |  sync 1: set up, about to exec
//!     |  inspect, pause                  |
//!     |  "go" --------------------------> |  sync 2: may exec now
//!     |  <------------- EOF or "fail"    |  sync 3: exec done or failed
//! ```
//!
//! Sync 3 needs no message on success: both ends are close-on-exec, so a
//! successful execve(2) closes the child's end and the runtime reads EOF.
//! That is how the runtime tells "the command ran and exited 127" from
//! "the command was never found" (std::process::Command does the same).
// ANCHOR_END: protocol

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::explain;

/// One end of the channel. `UnixStream::pair` opens both with SOCK_CLOEXEC.
/// `None` once this process closed its end. Each side holds it inside the
/// type of its end ([`RuntimeEnd`], [`ChildEnd`]), so which side may say
/// what is checked by the compiler.
#[derive(Debug)]
struct Channel(Option<UnixStream>);

/// The runtime's end: it says "parent-done" and "go", sends fds, and
/// reads the child's reports.
#[derive(Debug)]
pub struct RuntimeEnd(Channel);

/// The child's end: it waits for the runtime and reports back.
#[derive(Debug)]
pub struct ChildEnd(Channel);

/// What the child reports at a sync point.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    /// Setup done; waiting for "go".
    Ready,
    /// Setup or exec failed: exit code and a one-line reason.
    Failed(i32, String),
    /// The child's end closed: exec succeeded (or the child died).
    Closed,
}

/// Open the channel: the runtime's end and the child's.
pub fn channel() -> Result<(RuntimeEnd, ChildEnd)> {
    let (a, b) = UnixStream::pair().map_err(|e| Error::io("socketpair(AF_UNIX)", e))?;
    Ok((RuntimeEnd(Channel(Some(a))), ChildEnd(Channel(Some(b)))))
}

impl RuntimeEnd {
    /// Runtime, sync 0: the runtime's part of the setup is done, so the
    /// child may start on its own. In step 1 that part is only narrating
    /// the clone (so the story is told in order); from step 5 on the child
    /// is in its cgroup by then, from step 7 on its uid_map is written.
    pub fn parent_done(&mut self) -> Result<()> {
        explain::note("sync 0: the runtime's part of the setup is done");
        self.0.send("parent-done")
    }

    /// Runtime: let the child go on.
    pub fn go(&mut self) -> Result<()> {
        explain::note("sync 2: go");
        self.0.send("go")
    }

    // ANCHOR: send_fd
    /// Runtime: hand an open file descriptor to the child (SCM_RIGHTS):
    /// the kernel installs a copy in the receiver's fd table. Step 7 sends
    /// an idmapped mount this way.
    /// `None` tells the child there is no fd this time.
    pub fn send_fd(&mut self, fd: Option<std::os::fd::BorrowedFd<'_>>) -> Result<()> {
        use nix::sys::socket::{MsgFlags, sendmsg};
        use std::os::fd::AsRawFd;
        let sock = self.0.stream()?.as_raw_fd();
        let Some(fd) = fd else {
            let iov = [std::io::IoSlice::new(b"N")];
            sendmsg::<()>(sock, &iov, &[], MsgFlags::empty(), None)
                .map_err(|e| Error::syscall("sendmsg", e))?;
            return Ok(());
        };
        send_fd_on(sock, fd)
    }
    // ANCHOR_END: send_fd

    /// Runtime: read the child's next report.
    pub fn report(&mut self) -> Result<Report> {
        let Some(line) = self.0.recv()? else {
            return Ok(Report::Closed);
        };
        Ok(parse_report(&line))
    }
}

impl ChildEnd {
    /// Child, sync 0: wait until the runtime has done its part.
    pub fn wait_parent(&mut self) -> Result<()> {
        let got = self.0.recv();
        explain::release(); // what the child narrated so far, now in order
        match got?.as_deref() {
            Some("parent-done") => Ok(()),
            other => Err(Error::Protocol(format!(
                "runtime went away at sync 0 (got {other:?})"
            ))),
        }
    }

    /// Child: setup is done, waiting at the sync point.
    pub fn ready(&mut self) -> Result<()> {
        explain::note("sync 1: ready, waiting for go");
        self.0.send("ready")
    }

    /// Child: something failed; the runtime prints `reason` and exits `code`.
    pub fn fail(&mut self, code: i32, reason: &str) {
        // Best effort: if the runtime is gone there is no one to tell.
        let _ = self
            .0
            .send(&format!("fail {code} {}", reason.replace('\n', " ")));
    }

    // ANCHOR: recv_fd
    /// Child: receive what [`RuntimeEnd::send_fd`] sent: an fd, or `None`.
    pub fn recv_fd(&mut self) -> Result<Option<std::os::fd::OwnedFd>> {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        use std::os::fd::{AsRawFd, FromRawFd};
        let sock = self.0.stream()?.as_raw_fd();
        let mut byte = [0u8; 1];
        let mut iov = [std::io::IoSliceMut::new(&mut byte)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
            .map_err(|e| Error::syscall("recvmsg(SCM_RIGHTS)", e))?;
        for cmsg in msg
            .cmsgs()
            .map_err(|e| Error::syscall("recvmsg(SCM_RIGHTS)", e))?
        {
            if let ControlMessageOwned::ScmRights(fds) = cmsg
                && let Some(fd) = fds.first()
            {
                // SAFETY: the kernel just installed this fd for us.
                return Ok(Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(*fd) }));
            }
        }
        if msg.bytes == 0 {
            return Err(Error::Protocol(
                "runtime went away before sending a file descriptor".into(),
            ));
        }
        Ok(None)
    }
    // ANCHOR_END: recv_fd

    /// The fd number of this end, for code that must keep it open while
    /// closing everything else (step 2's init).
    pub fn raw_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.0.0.as_ref().map(|s| s.as_raw_fd())
    }

    /// Close this process's end. Other processes' copies stay open: this is
    /// close(2), not shutdown(2).
    pub fn close(&mut self) {
        self.0.0 = None;
    }

    /// Child: wait for "go". EOF means the runtime died: give up.
    pub fn wait_go(&mut self) -> Result<()> {
        match self.0.recv()?.as_deref() {
            Some("go") => Ok(()),
            other => Err(Error::Protocol(format!(
                "runtime went away at a sync point (got {other:?})"
            ))),
        }
    }
}

impl Channel {
    fn stream(&mut self) -> Result<&mut UnixStream> {
        self.0
            .as_mut()
            .ok_or_else(|| Error::Protocol("sync socket used after close".into()))
    }

    fn send(&mut self, msg: &str) -> Result<()> {
        self.stream()?
            .write_all(format!("{msg}\n").as_bytes())
            .map_err(|e| Error::io("write to sync socket", e))
    }

    /// One line, read a byte at a time so nothing past the newline is
    /// consumed (messages are a few bytes; this is not a hot path).
    fn recv(&mut self) -> Result<Option<String>> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match self.stream()?.read(&mut byte) {
                Ok(0) if line.is_empty() => return Ok(None),
                Ok(0) => break,
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) => line.push(byte[0]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("read from sync socket", e)),
            }
        }
        Ok(Some(String::from_utf8_lossy(&line).into_owned()))
    }
}

// ANCHOR: gate
/// What the child waits on at sync 2 before it execs. In steps 1 to 9 it is
/// the runtime's "go" on the socket ([`ChildEnd`]). An OCI runtime's
/// `create` exits after sync 1 and `start` comes later from another
/// process, which holds no end of the socket: there the gate is a FIFO in
/// the container's state dir ([`FifoGate`]), as runc's `exec.fifo` is.
pub trait StartGate {
    /// Block until the command may run.
    fn wait_start(&mut self) -> Result<()>;
}

impl StartGate for ChildEnd {
    fn wait_start(&mut self) -> Result<()> {
        self.wait_go()
    }
}

/// A named pipe as the start gate. The child opens it for writing, which
/// blocks until a reader opens it: `start`, from any process that may open
/// the file. The reader then reads one byte, and the child goes on.
#[derive(Debug)]
pub struct FifoGate(pub std::path::PathBuf);

impl FifoGate {
    /// Make the FIFO (mode 0600: only the runtime's user may start it).
    pub fn create(path: &std::path::Path) -> Result<FifoGate> {
        let call = format!("mkfifo({:?}, 0600)", path.display().to_string());
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .map_err(|e| Error::syscall(call.clone(), e))?;
        explain::syscall(&call, 0);
        Ok(FifoGate(path.to_path_buf()))
    }

    /// `start`'s side: open the FIFO for reading (which lets the child's
    /// open finish) and read its byte; then the command runs.
    pub fn open(path: &std::path::Path) -> Result<()> {
        let mut fifo = std::fs::File::open(path)
            .map_err(|e| Error::io(format!("opening the start FIFO {}", path.display()), e))?;
        let mut byte = [0u8; 1];
        match fifo.read(&mut byte) {
            Ok(1) => Ok(()),
            Ok(_) => Err(Error::Protocol(
                "the container's init went away before it was started".into(),
            )),
            Err(e) => Err(Error::io("reading the start FIFO", e)),
        }
    }
}

impl StartGate for FifoGate {
    fn wait_start(&mut self) -> Result<()> {
        explain::note("sync 2: waiting for `start` to open the FIFO");
        let mut fifo = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.0)
            .map_err(|e| Error::io(format!("opening the start FIFO {}", self.0.display()), e))?;
        fifo.write_all(b"0")
            .map_err(|e| Error::io("writing the start FIFO", e))
    }
}
// ANCHOR_END: gate

/// Send `fd` (one byte "F" and SCM_RIGHTS) over the channel end whose fd
/// number is `sock`: [`RuntimeEnd::send_fd`], and the command's process,
/// which still holds the init's copy of the child end until it execs (step 8
/// hands the runtime its seccomp listener this way).
pub fn send_fd_on(sock: std::os::fd::RawFd, fd: std::os::fd::BorrowedFd<'_>) -> Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    use std::os::fd::AsRawFd;
    let raw = [fd.as_raw_fd()];
    let iov = [std::io::IoSlice::new(b"F")];
    sendmsg::<()>(
        sock,
        &iov,
        &[ControlMessage::ScmRights(&raw)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| Error::syscall("sendmsg(SCM_RIGHTS)", e))?;
    explain::syscall(&format!("sendmsg(SCM_RIGHTS, [{}])", raw[0]), 1);
    Ok(())
}

impl RuntimeEnd {
    /// The fd number of this end, for a runtime that polls it together with
    /// other fds (step 8's seccomp supervisor).
    pub fn raw_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.0.0.as_ref().map(|s| s.as_raw_fd())
    }

    /// Runtime, between sync 2 and 3 (step 8): an fd the command sends
    /// before it execs, or, if it failed first, its report as an error.
    pub fn recv_fd_or_failure(&mut self, child: Pid) -> Result<std::os::fd::OwnedFd> {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        use std::os::fd::{AsRawFd, FromRawFd};
        let sock = self.0.stream()?.as_raw_fd();
        let mut byte = [0u8; 1];
        let mut iov = [std::io::IoSliceMut::new(&mut byte)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
            .map_err(|e| Error::syscall("recvmsg(SCM_RIGHTS)", e))?;
        for cmsg in msg
            .cmsgs()
            .map_err(|e| Error::syscall("recvmsg(SCM_RIGHTS)", e))?
        {
            if let ControlMessageOwned::ScmRights(fds) = cmsg
                && let Some(fd) = fds.first()
            {
                // SAFETY: the kernel just installed this fd for us.
                return Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(*fd) });
            }
        }
        if msg.bytes == 0 {
            return Err(Error::child(
                format!("the command died before it was filtered ({})", reap(child)),
                crate::error::EXIT_RUNTIME,
            ));
        }
        // A report instead ("fail CODE REASON"): the byte read is its first.
        let rest = self.0.recv()?.unwrap_or_default();
        let line = format!("{}{rest}", byte[0] as char);
        match parse_report(&line) {
            Report::Failed(code, reason) => {
                reap(child);
                Err(Error::child(reason, code))
            }
            other => Err(Error::Protocol(format!(
                "expected a file descriptor from the command, got {other:?}"
            ))),
        }
    }
}

/// Runtime, sync 1: wait until the child is set up. If it failed instead,
/// reap it and return its reason and exit code.
pub fn expect_ready(chan: &mut RuntimeEnd, child: Pid) -> Result<()> {
    match chan.report()? {
        Report::Ready => Ok(()),
        Report::Failed(code, reason) => {
            reap(child);
            Err(Error::child(reason, code))
        }
        Report::Closed => Err(Error::child(
            format!("the child died during setup ({})", reap(child)),
            crate::error::EXIT_RUNTIME,
        )),
    }
}

/// Runtime, sync 3: after "go", EOF means execve(2) succeeded. A report
/// means exec failed (127 not found, 126 not executable).
pub fn expect_exec(chan: &mut RuntimeEnd, child: Pid) -> Result<()> {
    match chan.report()? {
        Report::Closed => {
            explain::note("sync 3: socket closed by execve: the command is running");
            Ok(())
        }
        Report::Failed(code, reason) => {
            reap(child);
            Err(Error::exec(reason, code))
        }
        Report::Ready => Err(Error::Protocol("child said ready twice".into())),
    }
}

/// Wait for a child that has failed, so it leaves no zombie behind.
fn reap(child: Pid) -> String {
    match nix::sys::wait::waitpid(child, None) {
        Ok(status) => crate::signals::describe(status),
        Err(e) => format!("wait failed: {e}"),
    }
}

/// Child: run the child's sequence. When it fails, tell the runtime why
/// over the channel and exit with the error's code. (A sequence that ends in
/// exec returns only on failure; step02's init returns the command's status.)
pub fn child_main(
    chan: &mut Option<ChildEnd>,
    sequence: impl FnOnce(&mut ChildEnd) -> Result<i32>,
) -> isize {
    let Some(mut chan) = chan.take() else {
        return crate::error::EXIT_RUNTIME as isize;
    };
    // Until sync 0 the runtime may still be narrating the clone: the
    // child's lines wait (see `ChildEnd::wait_parent`).
    explain::hold();
    let err = match sequence(&mut chan) {
        Ok(code) => return code as isize,
        Err(e) => e,
    };
    chan.fail(err.exit_code(), &err.to_string());
    err.exit_code() as isize
}

fn parse_report(line: &str) -> Report {
    if line == "ready" {
        return Report::Ready;
    }
    if let Some(rest) = line.strip_prefix("fail ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code = code.parse().unwrap_or(crate::error::EXIT_RUNTIME);
        return Report::Failed(code, reason.to_string());
    }
    Report::Failed(
        crate::error::EXIT_RUNTIME,
        format!("unexpected message from the child: {line:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        let (mut runtime, mut child) = channel().unwrap();
        child.ready().unwrap();
        child.fail(127, "sh: not found\nsecond line");
        drop(child);
        assert_eq!(runtime.report().unwrap(), Report::Ready);
        assert_eq!(
            runtime.report().unwrap(),
            Report::Failed(127, "sh: not found second line".into())
        );
        assert_eq!(runtime.report().unwrap(), Report::Closed);
    }

    #[test]
    fn go_and_runtime_gone() {
        let (mut runtime, mut child) = channel().unwrap();
        runtime.go().unwrap();
        child.wait_go().unwrap();
        drop(runtime);
        assert!(child.wait_go().is_err());
    }

    #[test]
    fn a_fifo_gate_opens_when_start_reads_it() {
        let dir = std::env::temp_dir().join(format!("isolab-gate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("start.fifo");
        let mut gate = FifoGate::create(&path).unwrap();
        // The child's side blocks until `start` opens the FIFO.
        let waiting = std::thread::spawn(move || gate.wait_start());
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiting.is_finished(), "the gate opened by itself");
        FifoGate::open(&path).unwrap();
        waiting.join().unwrap().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn garbage_is_a_failure() {
        assert!(matches!(parse_report("hello"), Report::Failed(125, _)));
    }
}
