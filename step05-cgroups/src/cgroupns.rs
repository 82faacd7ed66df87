//! The cgroup namespace: the container sees its own cgroup as `/`.
//!
//! A cgroup namespace virtualises the paths in /proc/PID/cgroup and the
//! root of cgroupfs mounted inside it: both start at the cgroup the process
//! was in when the namespace was created. So the order matters: the runtime
//! moves the child into its cgroup first (sync 0), and only then does the
//! child unshare(CLONE_NEWCGROUP). runc does the same.
//!
//! Inside, the container's own subtree is mounted read-only at
//! /sys/fs/cgroup, as runc does: it can read its limits and usage, not
//! change them.

use nix::mount::MsFlags;
use nix::sched::CloneFlags;

use crate::cgroup::{Cgroup, Version};
use crate::error::{Result, Traced};
use crate::mount;
use crate::pseudofs::safe_flags;
use crate::resolve::Root;

// ANCHOR: unshare
/// unshare(CLONE_NEWCGROUP), after the runtime moved us into our cgroup.
pub fn unshare() -> Result<()> {
    nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).traced("unshare(CLONE_NEWCGROUP)")?;
    Ok(())
}
// ANCHOR_END: unshare

// ANCHOR: mount_readonly
/// Mount the container's cgroup subtree read-only at /sys/fs/cgroup.
pub fn mount_readonly(root: &Root, cgroup: &Cgroup) -> Result<()> {
    let ro = safe_flags() | MsFlags::MS_RDONLY;
    if cgroup.v1.is_empty() && cgroup.v2.is_none() {
        // No cgroup (rootless without delegation): /sys is the host's,
        // bound read-only, and would show the host's whole cgroup tree.
        // An empty read-only tmpfs covers it.
        let target = root.open_target("/sys/fs/cgroup", true)?;
        return mount::mount("tmpfs", &target, "tmpfs", ro, "mode=555");
    }
    if cgroup.version == Version::V2 {
        let mut target = root.open_target("/sys/fs/cgroup", true)?;
        if crate::pseudofs::in_user_namespace() {
            // From step 7, /sys is the host's, bound with its submounts: on
            // a pure v2 host that includes the host's cgroup2 mount at this
            // very place, and the kernel refuses a superblock on top of a
            // mount of itself (EBUSY). A tmpfs in between, as crun does
            // (containers/crun#765).
            mount::mount("tmpfs", &target, "tmpfs", ro, "mode=555")?;
            target = root.open_target("/sys/fs/cgroup", false)?;
        }
        return mount::mount("cgroup2", &target, "cgroup2", ro, "");
    }
    // v1 and hybrid: a tmpfs with one directory per hierarchy we joined.
    let top = root.open_target("/sys/fs/cgroup", true)?;
    mount::mount("tmpfs", &top, "tmpfs", safe_flags(), "mode=755")?;
    let in_userns = crate::pseudofs::in_user_namespace();
    for (hierarchy, dir) in &cgroup.v1 {
        let name = hierarchy
            .mount
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let target = root.open_target(&format!("/sys/fs/cgroup/{name}"), true)?;
        if in_userns {
            // In a user namespace (step 7) a v1 hierarchy can be mounted
            // only with exactly its existing options, and never as a new
            // one; binding our own cgroup's directory is simpler and shows
            // the same subtree.
            mount::mount(&dir.to_string_lossy(), &target, "", MsFlags::MS_BIND, "")?;
            let again = root.open_target(&format!("/sys/fs/cgroup/{name}"), false)?;
            mount::remount_readonly(&again, safe_flags())?;
            continue;
        }
        mount::mount(
            "cgroup",
            &target,
            "cgroup",
            ro,
            &hierarchy.options.join(","),
        )?;
    }
    if cgroup.v2.is_some() {
        let target = root.open_target("/sys/fs/cgroup/unified", true)?;
        mount::mount("cgroup2", &target, "cgroup2", ro, "")?;
    }
    let top = root.open_target("/sys/fs/cgroup", false)?;
    mount::remount_readonly(&top, safe_flags())
}
// ANCHOR_END: mount_readonly
