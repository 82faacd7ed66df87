//! Naming what the filter refuses: the runtime as a seccomp supervisor.
//!
//! A refused syscall shows up as a bare EPERM somewhere deep in a program,
//! the most confusing failure a container user meets. With `--explain`,
//! the default profile answers refusals with SECCOMP_RET_USER_NOTIF
//! instead of ERRNO: the kernel stops the caller and passes the call to a
//! listener fd (Linux 5.0), which the command's process sends the runtime
//! before it execs. The runtime prints the call by name with its
//! arguments and answers EPERM, what the caller would have got anyway.
//!
//! The same channel records what a command needs (`--seccomp-learn`): a
//! filter that notifies on every call, answered with "continue".
//!
//! Not a security boundary: a supervisor could also read the caller's
//! memory to look at pointer arguments, but the caller (another thread)
//! can change that memory between the check and the kernel's use of it.
//! Here the answer is always "no", so nothing depends on such a check.

use std::collections::BTreeSet;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::explain;

/// What the supervisor does with a notification.
#[derive(Debug)]
pub enum Mode {
    /// Name the refused call and answer EPERM (`--explain`).
    Refuse,
    /// Write down the call's name and let it run (`--seccomp-learn`).
    Learn(BTreeSet<String>),
}

// ANCHOR: answer
/// Receive one notification and answer it as `mode` says.
fn answer(listener: &OwnedFd, mode: &mut Mode) {
    let Ok(req) = ScmpNotifReq::receive(listener.as_raw_fd()) else {
        return; // the caller died meanwhile
    };
    let name = req
        .data
        .syscall
        .get_name_by_arch(req.data.arch)
        .unwrap_or_else(|_| format!("syscall {}", i32::from(req.data.syscall)));
    let resp = match mode {
        Mode::Refuse => {
            let args: Vec<String> = req.data.args.iter().map(|a| format!("{a:#x}")).collect();
            explain::note(&format!(
                "seccomp refused {name}({}) in PID {}: answered EPERM",
                args.join(", "),
                req.pid
            ));
            ScmpNotifResp::new_error(req.id, -libc::EPERM, ScmpNotifRespFlags::empty())
        }
        Mode::Learn(seen) => {
            seen.insert(name);
            // Let the kernel run the call as if no filter were there
            // (SECCOMP_USER_NOTIF_FLAG_CONTINUE, Linux 5.5).
            ScmpNotifResp::new_continue(req.id, ScmpNotifRespFlags::empty())
        }
    };
    let _ = resp.respond(listener.as_raw_fd());
}
// ANCHOR_END: answer

/// Between sync 2 and sync 3: answer the filter's notifications until the
/// sync socket `sync` has something to say (EOF from execve, or a
/// failure). The command's last steps before execve pass the filter too,
/// and a supervisor that only listened after sync 3 would never answer
/// them: both would wait for each other.
pub fn until_exec(sync: std::os::fd::RawFd, listener: &OwnedFd, mode: &mut Mode) -> Result<()> {
    // SAFETY: `sync` is the runtime's end of the sync socket, open for
    // the whole run; borrowed only for this poll loop.
    let sync = unsafe { std::os::fd::BorrowedFd::borrow_raw(sync) };
    loop {
        let mut fds = [
            PollFd::new(sync, PollFlags::POLLIN),
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::syscall("poll", e)),
            Ok(_) => {}
        }
        if fds[1]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN))
        {
            answer(listener, mode);
            continue;
        }
        if fds[0].revents().is_some_and(|r| !r.is_empty()) {
            return Ok(());
        }
    }
}

/// `signals::supervise`, also answering the filter's notifications: wait
/// until `main` exits, forwarding signals, reaping orphans. Call
/// `signals::block` first.
pub fn supervise(main: Pid, listener: OwnedFd, mode: &mut Mode) -> Result<WaitStatus> {
    let signals = SignalFd::with_flags(&crate::signals::watched(), SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::syscall("signalfd", e))?;
    let mut listening = true;
    loop {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(status) if status.pid() == Some(main) => return Ok(status),
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::ECHILD) => break,
                Err(e) => return Err(Error::syscall("wait4(-1, WNOHANG)", e)),
            }
        }
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if listening {
            fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::syscall("poll", e)),
            Ok(_) => {}
        }
        let events = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .unwrap_or(PollFlags::empty())
        };
        let (sig_ready, notif) = (events(0), events(1));
        if notif.contains(PollFlags::POLLIN) {
            answer(&listener, mode);
        } else if notif.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
            listening = false; // nothing filtered is left
        }
        if sig_ready.contains(PollFlags::POLLIN)
            && let Ok(Some(info)) = signals.read_signal()
            && let Ok(signal) = Signal::try_from(info.ssi_signo as i32)
            && signal != Signal::SIGCHLD
        {
            let _ = kill(main, signal);
        }
    }
}
