//! prctl(2) settings every child makes: a name, death with its parent, and
//! (from step 2, whose init never execs) no core dumps and no ptrace.

use std::ffi::CString;

use nix::sys::signal::Signal;

use crate::error::{Result, SyscallResult, Traced};
use crate::explain;

// ANCHOR: prctl
/// Name this task (`/proc/PID/comm`, what `ps` and `top` show), so each
/// stage of the runtime can be told apart. The kernel keeps 15 bytes.
pub fn set_name(name: &str) -> Result<()> {
    let short: String = name.chars().take(15).collect();
    let call = format!("prctl(PR_SET_NAME, {})", explain::quoted(&short));
    let c = CString::new(short).unwrap_or_default();
    nix::sys::prctl::set_name(&c).traced(&call)?;
    Ok(())
}

/// Ask the kernel to SIGKILL this task when its parent dies, so a container
/// never outlives a runtime that was killed with SIGKILL. The setting
/// survives execve(2) (except for set-uid programs).
pub fn set_pdeathsig() -> Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .or_syscall(|| "prctl(PR_SET_PDEATHSIG, SIGKILL)".into())?;
    explain::syscall("prctl(PR_SET_PDEATHSIG, SIGKILL)", 0);
    Ok(())
}
// ANCHOR_END: prctl

// ANCHOR: dumpable
/// Make this task non-dumpable: no core dump, and /proc/PID/fd, /proc/PID/mem
/// and ptrace(2) then need CAP_SYS_PTRACE over its user namespace. The
/// init (step 2 on) is a copy of the runtime that never execs, so without
/// this anything in the container may look through its /proc entries at
/// what it inherited. execve(2) makes the command dumpable again, as it
/// should be (runc does the same for its init).
pub fn set_dumpable(on: bool) -> Result<()> {
    let call = format!("prctl(PR_SET_DUMPABLE, {})", on as u8);
    nix::sys::prctl::set_dumpable(on).traced(&call)?;
    Ok(())
}
// ANCHOR_END: dumpable
