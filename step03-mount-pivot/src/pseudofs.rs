//! The kernel's own filesystems inside the container: /proc and /sys.
//!
//! A new procfs instance shows the PID namespace of the process that mounts
//! it, so after this `ps` lists only the container. sysfs is mounted
//! read-only, as docker does for unprivileged containers.

use nix::mount::MsFlags;

use crate::error::Result;
use crate::mount;
use crate::resolve::Root;

/// The flags every pseudo filesystem gets: no set-uid, no devices, no exec.
pub fn safe_flags() -> MsFlags {
    MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC
}

// ANCHOR: proc_sys
/// Mount a fresh procfs at /proc.
pub fn mount_proc(root: &Root) -> Result<()> {
    let target = root.open_target("/proc", true)?;
    mount::mount("proc", &target, "proc", safe_flags(), "")
}

/// Mount sysfs read-only at /sys.
pub fn mount_sys(root: &Root) -> Result<()> {
    let target = root.open_target("/sys", true)?;
    mount::mount(
        "sysfs",
        &target,
        "sysfs",
        safe_flags() | MsFlags::MS_RDONLY,
        "",
    )
}
// ANCHOR_END: proc_sys
