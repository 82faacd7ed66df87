//! A fresh session keyring for each container.
//!
//! The kernel's key retention service (keyrings(7)) holds secrets for the
//! kernel and for programs: Kerberos tickets, NFS and CIFS credentials,
//! ecryptfs and fscrypt keys. Keyrings are not namespaced. A process may use
//! the keys of every keyring it *possesses*: its thread, process and session
//! keyrings, which it inherits across clone(2), fork(2) and execve(2), and
//! which a uid change does not take away. So without this the container
//! possesses its caller's session keyring, whatever user it runs as.
//!
//! Joining a new, empty session keyring drops that possession: afterwards
//! only keys whose permissions let the container's uid in are reachable.
//! runc and crun join a fresh one for every container, for the same reason.

use nix::errno::Errno;

use crate::error::{Error, Result};
use crate::explain;

/// keyctl(2) operation from linux/keyctl.h.
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

// ANCHOR: join
/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): replace this process's
/// session keyring with a new anonymous one.
pub fn join_new_session() -> Result<()> {
    let call = "keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)";
    // SAFETY: a NULL name asks for an anonymous keyring; no memory is passed.
    let serial = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if serial < 0 {
        return match Errno::last() {
            // A kernel built without CONFIG_KEYS has no keyrings to leak.
            Errno::ENOSYS => {
                explain::note("no key retention service in this kernel: nothing to leave behind");
                Ok(())
            }
            errno => Err(Error::syscall(call, errno)),
        };
    }
    explain::syscall(call, serial);
    Ok(())
}
// ANCHOR_END: join
