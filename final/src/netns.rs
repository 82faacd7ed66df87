//! The network namespace: a new one has only a loopback interface, and it
//! is down. Up it goes, so `127.0.0.1` works inside (runc does the same);
//! anything more (a veth to the host) is the front end's business.

use crate::error::{Error, Result};
use crate::explain;

// ANCHOR: loopback_up
/// `ip link set lo up`, with two ioctls on any socket of the namespace.
pub fn loopback_up() -> Result<()> {
    // SAFETY: plain socket(2); the fd is closed below.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(Error::syscall(
            "socket(AF_INET, SOCK_DGRAM)",
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: an all-zero ifreq is valid; the name is NUL-terminated.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo\0".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write the ifreq we own.
    let result = unsafe {
        if libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) < 0 {
            Err("ioctl(SIOCGIFFLAGS, \"lo\")")
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) < 0 {
                Err("ioctl(SIOCSIFFLAGS, \"lo\", IFF_UP)")
            } else {
                Ok(())
            }
        }
    };
    let errno = nix::errno::Errno::last();
    // SAFETY: our own fd, closed once.
    unsafe { libc::close(sock) };
    result.map_err(|call| Error::syscall(call, errno))?;
    explain::syscall("ioctl(SIOCSIFFLAGS, \"lo\", IFF_UP)", 0);
    Ok(())
}
// ANCHOR_END: loopback_up
