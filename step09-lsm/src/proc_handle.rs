//! Writes the runtime makes into /proc on the container's behalf (its
//! sysctls, its oom_score_adj, the LSM labels of step 9) go through a
//! handle on /proc that was checked to be procfs, and each file is opened
//! beneath it without crossing a mount.
//!
//! A container's /proc is a mount inside a root filesystem the runtime does
//! not control, and config.json's mounts come after it. A bind mount over
//! /proc/self/attr/exec, or over a file of /proc/sys, turns the runtime's
//! write into a write to whatever was bound there: a host file, or a /proc
//! file of the whole kernel (runc's CVE-2019-16884, where a fake /proc
//! silently skipped the AppArmor profile, and CVE-2025-52881, where the
//! label went to /proc/sys/kernel/core_pattern). With RESOLVE_NO_XDEV the
//! open fails with EXDEV instead of following such a mount.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;

use crate::error::{Error, Result};
use crate::explain;

/// f_type of procfs in statfs(2).
const PROC_SUPER_MAGIC: i64 = 0x9fa0;
/// The inode number of the root of every procfs instance.
const PROC_ROOT_INO: u64 = 1;

/// An fd on the root of a procfs mount, checked.
#[derive(Debug)]
pub struct ProcHandle(OwnedFd);

// ANCHOR: proc_handle
impl ProcHandle {
    /// The /proc of this process's root (after pivot_root, the container's).
    pub fn open() -> Result<ProcHandle> {
        Self::open_at(libc::AT_FDCWD, "/proc", "/proc")
    }

    /// The /proc under `root` (before pivot_root), resolved inside it.
    pub fn open_in(root: &crate::resolve::Root) -> Result<ProcHandle> {
        let dir = root.open_target("/proc", false)?;
        Self::open_at(dir.fd().as_raw_fd(), ".", "/proc")
    }

    fn open_at(at: libc::c_int, path: &str, shown: &str) -> Result<ProcHandle> {
        let fd = openat2(
            at,
            path,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        )
        .map_err(|e| Error::syscall(format!("open({shown}, O_PATH)"), e))?;
        let fs = nix::sys::statfs::fstatfs(&fd)
            .map_err(|e| Error::syscall(format!("fstatfs({shown})"), e))?;
        let st =
            nix::sys::stat::fstat(&fd).map_err(|e| Error::syscall(format!("fstat({shown})"), e))?;
        if fs.filesystem_type().0 as i64 != PROC_SUPER_MAGIC || st.st_ino != PROC_ROOT_INO {
            return Err(Error::Request(format!(
                "{shown} is not the root of a procfs mount: refusing to write through it"
            )));
        }
        Ok(ProcHandle(fd))
    }

    /// Open `path` (relative: `thread-self/attr/exec`) for writing,
    /// beneath the handle, following no magic link and crossing no mount.
    pub fn open_write(&self, path: &str) -> std::result::Result<std::fs::File, Errno> {
        let resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_XDEV | libc::RESOLVE_NO_MAGICLINKS;
        let flags = libc::O_WRONLY | libc::O_CLOEXEC;
        let fd = openat2(self.0.as_raw_fd(), path, flags, resolve)?;
        Ok(std::fs::File::from(fd))
    }

    /// Write `value` to `path`; a mount in the way is an error naming it.
    pub fn write(&self, path: &str, value: &str) -> Result<()> {
        use std::io::Write;
        let shown = format!("/proc/{path}");
        let mut file = self.open_write(path).map_err(|e| match e {
            Errno::EXDEV => Error::Request(format!(
                "{shown}: something is mounted over it (or over a directory on the way): refusing to write {value:?} there"
            )),
            e => Error::syscall(format!("open({shown}, O_WRONLY)"), e),
        })?;
        file.write_all(value.as_bytes())
            .map_err(|e| Error::io(format!("writing {value:?} to {shown}"), e))?;
        explain::syscall(&format!("write({shown:?}, {value:?})"), value.len());
        Ok(())
    }
}
// ANCHOR_END: proc_handle

fn openat2(
    at: libc::c_int,
    path: &str,
    flags: libc::c_int,
    resolve: u64,
) -> std::result::Result<OwnedFd, Errno> {
    let c = CString::new(path).map_err(|_| Errno::EINVAL)?;
    crate::resolve::openat2(at, &c, flags, resolve)
}
