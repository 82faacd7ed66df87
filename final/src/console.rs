//! `process.terminal` with `--console-socket`: how an engine gets the
//! container's terminal. The runtime exits after `create`, so it can't sit
//! between the engine and the container copying bytes; instead it hands
//! the engine the pty's master end. The protocol is runc's
//! (docs/terminals.md in runc): the engine listens on a Unix socket, the
//! runtime connects, makes a pty inside the container (its own devpts),
//! and sends the master fd over the socket with SCM_RIGHTS; the slave
//! becomes the container process's controlling terminal and its stdio.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};

use crate::error::{Error, Result};
use crate::explain;

/// Connect to the engine's socket, from the host (before pivot_root puts
/// its path out of reach); the fd goes to the container's process.
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| {
        Error::io(
            format!("connecting to --console-socket {}", path.display()),
            e,
        )
    })?;
    explain::syscall(
        &format!("connect({:?})", path.display().to_string()),
        stream.as_raw_fd() as usize,
    );
    Ok(OwnedFd::from(stream))
}

// ANCHOR: setup
/// In the container, after pivot_root: open a pty of its devpts, send the
/// master to the engine, make the slave our controlling terminal and stdio.
/// `size` is process.consoleSize (rows, columns); `uid` will own the slave.
pub fn setup(socket: &OwnedFd, size: Option<(u16, u16)>, uid: u32) -> Result<()> {
    use nix::fcntl::OFlag;
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| Error::syscall("open(\"/dev/ptmx\")", e))?;
    grantpt(&master).map_err(|e| Error::syscall("grantpt", e))?;
    unlockpt(&master).map_err(|e| Error::syscall("unlockpt", e))?;
    let name = ptsname_r(&master).map_err(|e| Error::syscall("ptsname", e))?;
    explain::syscall(&format!("open(\"/dev/ptmx\") -> {name}"), 0);
    let slave: OwnedFd = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::syscall(format!("open({name:?})"), e))?;
    if let Some((rows, cols)) = size {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer.
        let rc = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        nix::errno::Errno::result(rc).map_err(|e| Error::syscall("ioctl(TIOCSWINSZ)", e))?;
    }
    // The process's user must be able to reopen its terminal (/dev/tty).
    nix::unistd::fchown(&slave, Some(nix::unistd::Uid::from_raw(uid)), None)
        .map_err(|e| Error::syscall(format!("fchown({name:?})"), e))?;
    let fds = [master.as_raw_fd()];
    let payload = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &payload,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| Error::syscall("sendmsg(--console-socket, SCM_RIGHTS)", e))?;
    explain::syscall("sendmsg(console socket, SCM_RIGHTS [pty master])", 0);
    drop(master); // the engine holds it now
    nix::unistd::setsid().map_err(|e| Error::syscall("setsid", e))?;
    // SAFETY: TIOCSCTTY takes an int argument (0: don't steal).
    let rc = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) };
    nix::errno::Errno::result(rc).map_err(|e| Error::syscall("ioctl(TIOCSCTTY)", e))?;
    for target in 0..3 {
        dup2(&slave, target)?;
    }
    explain::syscall(
        &format!("setsid, ioctl(TIOCSCTTY), dup2({name:?} -> 0, 1, 2)"),
        0,
    );
    Ok(())
}
// ANCHOR_END: setup

fn dup2(fd: &OwnedFd, target: RawFd) -> Result<()> {
    // SAFETY: dup2 onto a standard fd number; the old one is replaced.
    let rc = unsafe { libc::dup2(fd.as_raw_fd(), target) };
    nix::errno::Errno::result(rc).map_err(|e| Error::syscall(format!("dup2(pty, {target})"), e))?;
    Ok(())
}

/// Receive the fd a runtime sent (the engine's side; for tests and tools).
pub fn receive(listener: &std::os::unix::net::UnixListener) -> Result<OwnedFd> {
    receive_message(listener).map(|(_, fd)| fd)
}

/// Accept one connection and receive its message: the bytes sent with
/// the fd (a pty's name; a seccomp agent's container process state) and
/// the fd itself.
pub fn receive_message(listener: &std::os::unix::net::UnixListener) -> Result<(Vec<u8>, OwnedFd)> {
    let (stream, _) = listener
        .accept()
        .map_err(|e| Error::io("accepting on the socket", e))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = nix::sys::socket::recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::syscall("recvmsg", e))?;
    let len = msg.bytes;
    let mut fd = None;
    for cmsg in msg.cmsgs().map_err(|e| Error::syscall("recvmsg", e))? {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(&raw) = fds.first()
        {
            // SAFETY: the kernel just installed this fd for us.
            fd = Some(unsafe { OwnedFd::from_raw_fd(raw) });
        }
    }
    let fd = fd.ok_or_else(|| Error::Request("the message carried no fd".into()))?;
    buf.truncate(len);
    Ok((buf, fd))
}
