//! `linux.personality`: the execution domain of the container's process.
//! LINUX32 (PER_LINUX32) makes `uname -m` say i686 on an x86_64 kernel,
//! for 32-bit builds that read the machine name (setarch(8) does the same).

use crate::error::{Error, Result};
use crate::explain;

/// personality(PER_LINUX32); inherited across execve.
pub fn linux32() -> Result<()> {
    const PER_LINUX32: libc::c_ulong = 0x0008;
    // SAFETY: personality(2) takes a plain value and touches no memory.
    let rc = unsafe { libc::personality(PER_LINUX32) };
    if rc < 0 {
        return Err(Error::syscall(
            "personality(PER_LINUX32)",
            nix::errno::Errno::last(),
        ));
    }
    explain::syscall("personality(PER_LINUX32)", rc as usize);
    Ok(())
}
