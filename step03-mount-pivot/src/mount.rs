//! mount(2) and friends, narrated. Every mount the runtime makes goes
//! through here, so `--explain` shows all of them.

use nix::mount::{MntFlags, MsFlags};

use crate::error::{Error, Result, Traced};
use crate::explain;
use crate::resolve::Target;

/// MsFlags the way mount(2)'s man page spells them.
pub fn flag_names(flags: MsFlags) -> String {
    let names = [
        (MsFlags::MS_RDONLY, "MS_RDONLY"),
        (MsFlags::MS_NOSUID, "MS_NOSUID"),
        (MsFlags::MS_NODEV, "MS_NODEV"),
        (MsFlags::MS_NOEXEC, "MS_NOEXEC"),
        (MsFlags::MS_REMOUNT, "MS_REMOUNT"),
        (MsFlags::MS_BIND, "MS_BIND"),
        (MsFlags::MS_REC, "MS_REC"),
        (MsFlags::MS_PRIVATE, "MS_PRIVATE"),
        (MsFlags::MS_STRICTATIME, "MS_STRICTATIME"),
    ];
    let parts: Vec<&str> = names
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}

/// mount(source, target, fstype, flags, data), onto a target opened
/// inside the rootfs. `shown` is the target as the container will see it.
pub fn mount(
    source: &str,
    target: &Target,
    fstype: &str,
    flags: MsFlags,
    data: &str,
) -> Result<()> {
    mount_shown(source, source, target, fstype, flags, data)
}

/// [`mount`], narrating `shown` as the source (a container path instead of
/// the /proc/self/fd/N link the call really uses).
fn mount_shown(
    source: &str,
    shown: &str,
    target: &Target,
    fstype: &str,
    flags: MsFlags,
    data: &str,
) -> Result<()> {
    let call = format!(
        "mount({shown:?}, {:?}, {fstype:?}, {}, {data:?})",
        target.path,
        flag_names(flags)
    );
    let fstype_arg = (!fstype.is_empty()).then_some(fstype);
    let data_arg = (!data.is_empty()).then_some(data);
    nix::mount::mount(
        Some(source),
        target.proc_path().as_str(),
        fstype_arg,
        flags,
        data_arg,
    )
    .traced(&call)?;
    Ok(())
}

/// mount(2) on a host path (the rootfs itself, `/`), before pivot_root.
pub fn mount_path(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    let call = format!(
        "mount({:?}, {target:?}, {:?}, {}, {:?})",
        source.unwrap_or("none"),
        fstype.unwrap_or("none"),
        flag_names(flags),
        data.unwrap_or("")
    );
    nix::mount::mount(source, target, fstype, flags, data).traced(&call)?;
    Ok(())
}

// ANCHOR: make_rprivate
/// Make every mount in this (new) mount namespace private, recursively.
/// Must come before any other mount: on systemd machines `/` is shared,
/// and without this each mount we make would propagate back to the host.
pub fn make_rprivate() -> Result<()> {
    mount_path(None, "/", None, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None)
}
// ANCHOR_END: make_rprivate

/// Bind `source`, a file or directory inside the rootfs, onto `target`.
pub fn bind(source: &Target, target: &Target, flags: MsFlags) -> Result<()> {
    mount_shown(
        &source.proc_path(),
        &source.path,
        target,
        "",
        MsFlags::MS_BIND | flags,
        "",
    )
}

// ANCHOR: remount_readonly
/// Make an existing mount read-only. A bind mount ignores MS_RDONLY on
/// creation: read-only takes a second call, a remount of the bind.
pub fn remount_readonly(target: &Target, extra: MsFlags) -> Result<()> {
    mount(
        "none",
        target,
        "",
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | extra,
        "",
    )
}
// ANCHOR_END: remount_readonly

/// `struct mount_attr` of linux/mount.h, for mount_setattr(2).
#[repr(C)]
#[derive(Debug, Default)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// MOUNT_ATTR_* of linux/mount.h.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
/// AT_RECURSIVE: the mount and every mount below it.
pub const AT_RECURSIVE: u32 = 0x8000;

/// mount_setattr(fd, "", AT_EMPTY_PATH | `flags`, attr): change the mount
/// `fd` is on (Linux 5.12). `shown` is how the narrator writes the call.
pub fn setattr(
    fd: std::os::fd::BorrowedFd<'_>,
    flags: u32,
    attr: &MountAttr,
    shown: &str,
) -> Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid fd, an empty NUL-terminated path with AT_EMPTY_PATH,
    // and an attr of exactly the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as u32 | flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        let errno = nix::errno::Errno::last();
        let err = Error::syscall(shown, errno);
        return Err(match errno {
            nix::errno::Errno::ENOSYS => {
                err.with_hint("mount_setattr(2) needs Linux 5.12 or newer")
            }
            _ => err,
        });
    }
    explain::syscall(shown, 0);
    Ok(())
}

// ANCHOR: readonly_recursive
/// Make the mount at `target` and every mount below it read-only, nosuid,
/// nodev and noexec: one mount_setattr(2) with AT_RECURSIVE. A remount
/// (see [`remount_readonly`]) changes one mount only, so after a recursive
/// bind the submounts (the host's cgroup hierarchies under /sys, debugfs,
/// anything mounted there) would stay writable.
pub fn readonly_recursive(target: &Target) -> Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
        ..MountAttr::default()
    };
    let shown = format!(
        "mount_setattr({:?}, AT_RECURSIVE, MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC)",
        target.path
    );
    setattr(target.fd(), AT_RECURSIVE, &attr, &shown)
}
// ANCHOR_END: readonly_recursive

/// umount2(target, MNT_DETACH): lazy unmount, gone once unused.
pub fn detach(target: &str) -> Result<()> {
    let call = format!("umount2({target:?}, MNT_DETACH)");
    nix::mount::umount2(target, MntFlags::MNT_DETACH).traced(&call)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_by_name() {
        assert_eq!(
            flag_names(MsFlags::MS_REC | MsFlags::MS_PRIVATE),
            "MS_REC|MS_PRIVATE"
        );
        assert_eq!(flag_names(MsFlags::empty()), "0");
        assert_eq!(
            flag_names(MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY),
            "MS_RDONLY|MS_REMOUNT|MS_BIND"
        );
    }
}
