//! Masked and read-only paths: the parts of /proc and /sys a container must
//! not read or write even as root, because they describe or control the
//! whole machine, not the container's namespaces.
//!
//! The lists are docker's defaults (moby's oci/defaults.go). Masking a file
//! binds /dev/null over it; masking a directory mounts an empty read-only
//! tmpfs over it. Read-only paths are bound onto themselves and remounted
//! read-only.

use nix::mount::MsFlags;

use crate::error::Result;
use crate::explain;
use crate::mount;
use crate::resolve::Root;

// ANCHOR: lists
/// Paths that read as empty inside the container.
pub const MASKED: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths that can be read but not written.
pub const READONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];
// ANCHOR_END: lists

// ANCHOR: apply
/// Apply docker's default lists. Paths this kernel doesn't have are skipped.
pub fn apply(root: &Root) -> Result<()> {
    apply_lists(root, &MASKED, &READONLY)?;
    explain::note("masked and read-only paths applied (docker's default lists)");
    Ok(())
}

/// Mask every path of `masked` and make every path of `readonly` read-only
/// (an OCI config gives both lists per container; `final` passes them).
pub fn apply_lists(root: &Root, masked: &[&str], readonly: &[&str]) -> Result<()> {
    for &path in masked {
        if !root.exists(path) {
            continue;
        }
        let target = root.open_target(path, false)?;
        if std::fs::metadata(target.proc_path())
            .map(|m| m.is_dir())
            .unwrap_or(false)
        {
            mount::mount("tmpfs", &target, "tmpfs", MsFlags::MS_RDONLY, "size=0")?;
        } else {
            let null = root.open_target("/dev/null", false)?;
            is_null_device(&null)?;
            mount::bind(&null, &target, MsFlags::empty())?;
        }
    }
    for &path in readonly {
        if !root.exists(path) {
            continue;
        }
        let target = root.open_target(path, false)?;
        mount::bind(&target, &target, MsFlags::MS_REC)?;
        let again = root.open_target(path, false)?;
        mount::remount_readonly(
            &again,
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        )?;
    }
    Ok(())
}
// ANCHOR_END: apply

// ANCHOR: is_null_device
/// The container's /dev/null, about to be bound over a masked file, must
/// be the null device, character 1:3. Anything else bound there (the
/// image's file, a node another container swapped in, a bind of a /proc
/// file: runc's CVE-2025-31133) would give the "masked" path its contents,
/// read-write.
fn is_null_device(null: &crate::resolve::Target) -> Result<()> {
    let st = nix::sys::stat::fstat(null.fd())
        .map_err(|e| crate::error::Error::syscall("fstat(/dev/null)", e))?;
    let kind =
        nix::sys::stat::SFlag::from_bits_truncate(st.st_mode) & nix::sys::stat::SFlag::S_IFMT;
    if kind != nix::sys::stat::SFlag::S_IFCHR || st.st_rdev != nix::sys::stat::makedev(1, 3) {
        return Err(crate::error::Error::Request(
            "the container's /dev/null is not the null device (character 1:3): refusing to mask paths with it".into(),
        ));
    }
    Ok(())
}
// ANCHOR_END: is_null_device
