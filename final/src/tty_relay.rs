//! `run -t`: the front end plays the engine's part of the console
//! protocol (see `console`). It listens on a socket in the bundle, `create`
//! sends it the master end of the container's pty, and a relay process
//! copies between the user's terminal (put in raw mode, so that Ctrl-C and
//! line editing reach the container's shell rather than ours) and the
//! master, and passes on window size changes. That is what conmon and
//! containerd's shim do for podman and docker.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use nix::sys::termios::{self, SetArg, Termios};
use nix::unistd::{ForkResult, Pid};

use crate::error::{Error, Result};

/// The socket `create` connects to (`--console-socket`).
pub fn listen(path: &Path) -> Result<UnixListener> {
    UnixListener::bind(path).map_err(|e| Error::io(format!("binding {}", path.display()), e))
}

/// The pty master `create` sent (it connected while setting up the
/// container; the connection has waited in the listen queue).
pub fn receive(listener: &UnixListener) -> Result<OwnedFd> {
    let (stream, _) = listener
        .accept()
        .map_err(|e| Error::io("accepting the console connection", e))?;
    let mut byte = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::syscall("recvmsg(console socket)", e))?;
    for cmsg in msg
        .cmsgs()
        .map_err(|e| Error::syscall("recvmsg(console socket)", e))?
    {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(fd) = fds.first()
        {
            // SAFETY: the kernel just installed this fd for us.
            return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    Err(Error::Request(
        "the console socket carried no pty master".into(),
    ))
}

/// The relay process and the terminal settings to restore.
#[derive(Debug)]
pub struct Relay {
    pid: Pid,
    saved: Option<Termios>,
}

// ANCHOR: relay
/// Put our terminal in raw mode and fork the relay: stdin to the master
/// (with `input`), the master to stdout, until the container's side of the
/// pty is closed.
pub fn start(master: OwnedFd, input: bool) -> Result<Relay> {
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(stdin.as_fd()).ok();
    if let Some(t) = &saved {
        let mut raw = t.clone();
        termios::cfmakeraw(&mut raw);
        let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
    }
    copy_winsize(&master);
    // SAFETY: the runtime is single-threaded; the child only copies bytes
    // and exits.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::syscall("fork (tty relay)", e))? {
        ForkResult::Parent { child } => Ok(Relay { pid: child, saved }),
        ForkResult::Child => {
            relay(&master, input);
            // SAFETY: leave without running the parent's exit handlers.
            unsafe { libc::_exit(0) }
        }
    }
}
// ANCHOR_END: relay

/// The relay's loop. A read of the master fails with EIO once no process
/// holds the pty's other end: the container has exited.
fn relay(master: &OwnedFd, mut input: bool) {
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if input { 0 } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two pollfds we own; 250 ms, to notice window resizes.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, 250) };
        if n < 0 && nix::errno::Errno::last() != nix::errno::Errno::EINTR {
            return;
        }
        copy_winsize(master);
        if fds[0].revents != 0 {
            match nix::unistd::read(master, &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if write_all(1, &buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
        if fds[1].revents != 0 {
            match nix::unistd::read(std::io::stdin().as_fd(), &mut buf) {
                Ok(0) | Err(_) => input = false,
                Ok(n) => {
                    let _ = write_all(master.as_raw_fd(), &buf[..n]);
                }
            }
        }
    }
}

fn write_all(fd: RawFd, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: write(2) from a live buffer.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

/// Our terminal's size onto the container's (the kernel sends its
/// foreground process SIGWINCH when it changes).
fn copy_winsize(master: &OwnedFd) {
    // SAFETY: an all-zero winsize is valid.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a winsize we own.
    unsafe {
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            let mut theirs: libc::winsize = std::mem::zeroed();
            libc::ioctl(master.as_raw_fd(), libc::TIOCGWINSZ, &mut theirs);
            if theirs.ws_row != ws.ws_row || theirs.ws_col != ws.ws_col {
                libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
            }
        }
    }
}

impl Relay {
    /// After the container: let the relay copy what is left (2 s at
    /// most), then give the terminal its settings back.
    pub fn finish(self) {
        use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
        let mut alive = true;
        for _ in 0..200 {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                // exited, or already reaped by the supervisor (then its PID
                // may be another process's by now: no kill)
                _ => {
                    alive = false;
                    break;
                }
            }
        }
        if alive {
            let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(self.pid, None);
        }
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}
