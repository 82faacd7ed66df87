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

/// Mount sysfs read-only at /sys. Inside a user namespace (step 7) the
/// kernel refuses a new sysfs unless that namespace also owns the network
/// namespace, so there we bind the host's /sys, with every mount below it,
/// read-only instead (as runc does for rootless containers).
pub fn mount_sys(root: &Root) -> Result<()> {
    let target = root.open_target("/sys", true)?;
    if !in_user_namespace() {
        return mount::mount(
            "sysfs",
            &target,
            "sysfs",
            safe_flags() | MsFlags::MS_RDONLY,
            "",
        );
    }
    // Recursive: in a user namespace the host's submounts of /sys are
    // locked to it, and a bind without them is refused. So all of them come
    // along, and all of them are made read-only, not only the top one.
    mount::mount("/sys", &target, "", MsFlags::MS_BIND | MsFlags::MS_REC, "")?;
    let again = root.open_target("/sys", false)?;
    mount::readonly_recursive(&again)
}
// ANCHOR_END: proc_sys

/// Is this process in a user namespace other than the initial one? The
/// initial one maps every id to itself: `0 0 4294967295`.
pub fn in_user_namespace() -> bool {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"]
}

/// Real root: uid 0 in the initial user namespace. Root inside some other
/// user namespace (`unshare -Ur`) runs isolab the rootless way (step 7).
pub fn real_root() -> bool {
    nix::unistd::geteuid().is_root() && !in_user_namespace()
}
