//! An idmapped mount of the image, so it looks root-owned inside.
//!
//! The image's files belong to host uid 0. In a user namespace that maps
//! container 0 to host 1000000, host 0 is not mapped at all, and the files
//! would show up as owned by `nobody` (65534). An idmapped mount (Linux
//! 5.12, mount_setattr(2) with MOUNT_ATTR_IDMAP) shifts ownership on the
//! way through the mount, by the container's own map: host 0 on disk reads
//! as host 1000000, which is root inside. Nothing on disk changes, and one
//! image serves containers with different maps. Overlayfs accepts an
//! idmapped lower layer since Linux 5.19.
//!
//! The runtime makes the mount (only the initial namespace's root may) as a
//! detached tree with open_tree(2), idmaps it with the child's user
//! namespace, and hands the fd to the child over the sync socket; the child
//! attaches it in its own mount namespace with move_mount(2).
//! Where this is not supported the runtime says so and uses the image as
//! it is (files owned by `nobody` inside).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;

use crate::error::{Error, Result};
use crate::explain;

use crate::mount::{self, AT_RECURSIVE, MOUNT_ATTR_IDMAP, MountAttr};

const OPEN_TREE_CLONE: u32 = 1;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

// ANCHOR: create
/// Runtime side: a detached copy of `image`'s mount, idmapped with the user
/// namespace of process `pid`.
pub fn create(image: &Path, pid: i32) -> Result<OwnedFd> {
    create_with(image, pid, true)
}

/// [`create`], with the submounts of `image` (`recursive`, an rbind) or
/// without (a bind). Only the top mount is idmapped either way.
pub fn create_with(image: &Path, pid: i32, recursive: bool) -> Result<OwnedFd> {
    let rec = if recursive { AT_RECURSIVE } else { 0 };
    let path = CString::new(image.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Request("image path has a NUL byte".into()))?;
    // One string for the narration and the error.
    let call = format!(
        "open_tree({:?}, OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC{})",
        image.display().to_string(),
        if recursive { "|AT_RECURSIVE" } else { "" }
    );
    // SAFETY: a NUL-terminated path; the result is a new fd we own.
    let tree = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | rec,
        )
    };
    if tree < 0 {
        return Err(Error::syscall(call, Errno::last()));
    }
    // SAFETY: tree is a fresh fd nobody else owns.
    let tree = unsafe { OwnedFd::from_raw_fd(tree as i32) };
    explain::syscall(&call, tree.as_raw_fd());
    let userns = std::fs::File::open(format!("/proc/{pid}/ns/user"))
        .map_err(|e| Error::io("opening the child's user namespace", e))?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        userns_fd: userns.as_raw_fd() as u64,
        ..MountAttr::default()
    };
    mount::setattr(
        tree.as_fd(),
        0,
        &attr,
        &format!(
            "mount_setattr({}, MOUNT_ATTR_IDMAP, userns of {pid})",
            tree.as_raw_fd()
        ),
    )?;
    Ok(tree)
}

// ANCHOR_END: create

// ANCHOR: attach
/// Child side: attach the received tree at `target` (an empty directory).
pub fn attach(tree: &OwnedFd, target: &Path) -> Result<()> {
    let to = CString::new(target.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Request("path has a NUL byte".into()))?;
    let shown = target.display().to_string();
    move_mount(
        tree,
        libc::AT_FDCWD,
        &to,
        0,
        &format!("AT_FDCWD, {shown:?}"),
    )
}
// ANCHOR_END: attach

/// [`attach`] onto a target already open (O_PATH, resolved inside a
/// rootfs): the OCI runtime's idmapped binds. `shown` names it.
pub fn attach_fd(tree: &OwnedFd, target: std::os::fd::BorrowedFd<'_>, shown: &str) -> Result<()> {
    let to = format!("{shown:?}, \"\"");
    move_mount(tree, target.as_raw_fd(), c"", MOVE_MOUNT_T_EMPTY_PATH, &to)
}

/// move_mount(2) of the detached `tree` to `to_dfd`/`to_path`; `to` is
/// the target as the narration shows it.
fn move_mount(
    tree: &OwnedFd,
    to_dfd: std::os::fd::RawFd,
    to_path: &std::ffi::CStr,
    to_flags: u32,
    to: &str,
) -> Result<()> {
    let flags = MOVE_MOUNT_F_EMPTY_PATH | to_flags;
    // SAFETY: valid fds and NUL-terminated paths.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            to_dfd,
            to_path.as_ptr(),
            flags,
        )
    };
    let shown = if to_flags == 0 {
        "MOVE_MOUNT_F_EMPTY_PATH"
    } else {
        "MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH"
    };
    let call = format!("move_mount({}, \"\", {to}, {shown})", tree.as_raw_fd());
    if rc != 0 {
        return Err(Error::syscall(call, Errno::last()));
    }
    explain::syscall(&call, 0);
    Ok(())
}
