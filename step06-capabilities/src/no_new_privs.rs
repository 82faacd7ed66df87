//! no_new_privs: execve(2) can never grant more privileges.
//!
//! Once PR_SET_NO_NEW_PRIVS is set (it can't be unset, and children
//! inherit it), set-uid and set-gid bits and file capabilities are ignored
//! on exec: a `--user 1000` container can't become root again through a
//! set-uid-root program. It is also what lets an unprivileged process
//! install a seccomp filter or a Landlock ruleset (steps 8 and 9).

use crate::error::{Result, SyscallResult};
use crate::explain;

// ANCHOR: set
/// Set no_new_privs for this task and everything it execs.
pub fn set() -> Result<()> {
    nix::sys::prctl::set_no_new_privs().or_syscall(|| "prctl(PR_SET_NO_NEW_PRIVS, 1)".into())?;
    explain::syscall("prctl(PR_SET_NO_NEW_PRIVS, 1)", 0);
    Ok(())
}
// ANCHOR_END: set
