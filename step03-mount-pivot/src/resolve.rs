//! Resolving paths inside the rootfs without ever leaving it.
//!
//! Before pivot_root the runtime mounts /proc, /sys and /dev into the
//! rootfs, by path. But the rootfs is untrusted: its `proc` could be a
//! symlink to `/etc`, and a naive `mount("proc", "ROOTFS/proc")` would
//! follow it and mount over the host's /etc. openat2(2) with
//! RESOLVE_IN_ROOT resolves a path as if ROOTFS were `/` (absolute symlinks
//! and `..` stay inside). We open the target O_PATH, refuse it if it is a
//! symlink itself, and mount onto `/proc/self/fd/N`: the kernel mounts on
//! exactly the inode we checked (runc does the same, see its CVE-2019-19921
//! and CVE-2021-30465 fixes).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::stat::{Mode, SFlag, fstat};

use crate::error::{Error, Result};

/// struct open_how from linux/openat2.h (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// An fd open on the rootfs directory: the `/` that paths resolve against.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    shown: String,
}

impl Root {
    /// Open the rootfs directory.
    pub fn open(rootfs: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(
            rootfs,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::syscall(format!("open({:?}, O_PATH|O_DIRECTORY)", rootfs), e))?;
        Ok(Root {
            fd,
            shown: rootfs.display().to_string(),
        })
    }

    // ANCHOR: open_target
    /// Open `path` (relative to the rootfs, `/` allowed) as O_PATH without
    /// leaving the rootfs, and refuse a final symlink. With `dir`, create a
    /// missing directory first (its parent resolved the same way).
    pub fn open_target(&self, path: &str, dir: bool) -> Result<Target> {
        if dir {
            self.mkdir_p(path)?;
        }
        let fd = self.openat2(path, libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)?;
        let st = fstat(&fd).map_err(|e| Error::syscall(format!("fstat({path})"), e))?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFLNK {
            return Err(Error::Request(format!(
                "{}{path} is a symlink: refusing to mount onto it (a rootfs must not redirect its mount points)",
                self.shown.trim_end_matches('/')
            )));
        }
        if dir && kind != SFlag::S_IFDIR {
            return Err(Error::Request(format!(
                "{}{path} is not a directory: can't mount a filesystem there",
                self.shown.trim_end_matches('/')
            )));
        }
        Ok(Target {
            fd,
            path: path.to_string(),
        })
    }
    // ANCHOR_END: open_target

    /// Create `path` as an empty file if it is missing (its parents as
    /// directories), each step resolved inside the rootfs: the mount point
    /// of a file bind (an engine's /etc/resolv.conf).
    pub fn create_file(&self, path: &str) -> Result<()> {
        if self.exists(path) {
            return Ok(());
        }
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        self.mkdir_p(parent)?;
        let parent_fd = self.openat2(
            if parent.is_empty() { "/" } else { parent },
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )?;
        match nix::fcntl::openat(
            &parent_fd,
            name,
            nix::fcntl::OFlag::O_CREAT
                | nix::fcntl::OFlag::O_EXCL
                | nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_NOFOLLOW
                | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        ) {
            Ok(_) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err(Error::syscall(format!("openat({path}, O_CREAT)"), e)),
        }
    }

    /// Does `path` exist inside the rootfs (not following a final symlink)?
    pub fn exists(&self, path: &str) -> bool {
        self.openat2(path, libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .is_ok()
    }

    /// Create `path` and its missing parents as directories, each step
    /// resolved inside the rootfs.
    pub fn mkdir_p(&self, path: &str) -> Result<()> {
        let mut so_far = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            let parent = if so_far.is_empty() {
                "/".to_string()
            } else {
                so_far.clone()
            };
            so_far = format!("{so_far}/{part}");
            if self.exists(&so_far) {
                continue;
            }
            let parent_fd =
                self.openat2(&parent, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)?;
            match nix::sys::stat::mkdirat(&parent_fd, part, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(Error::syscall(format!("mkdirat({so_far})"), e)),
            }
        }
        Ok(())
    }

    fn openat2(&self, path: &str, flags: libc::c_int) -> Result<OwnedFd> {
        self.openat2_with(
            path,
            flags,
            libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
        )
        .map_err(|errno| {
            let hint = if errno == Errno::ENOSYS {
                " (openat2 needs Linux 5.6 or newer)"
            } else {
                ""
            };
            Error::Request(format!(
                "openat2({path:?}, RESOLVE_IN_ROOT) in {} failed: {errno}{hint}",
                self.shown
            ))
        })
    }

    /// Open `path` as O_PATH only if no component of it is a symlink
    /// (ELOOP otherwise): for rules that must name the path itself, not
    /// wherever an image's symlink points (step 9's Landlock paths).
    pub fn open_without_symlinks(&self, path: &str) -> std::result::Result<OwnedFd, Errno> {
        self.openat2_with(
            path,
            libc::O_PATH | libc::O_CLOEXEC,
            libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS,
        )
    }

    fn openat2_with(
        &self,
        path: &str,
        flags: libc::c_int,
        resolve: u64,
    ) -> std::result::Result<OwnedFd, Errno> {
        let c = CString::new(path.trim_start_matches('/')).map_err(|_| Errno::EINVAL)?;
        let c = if c.as_bytes().is_empty() {
            CString::new(".").unwrap_or_default()
        } else {
            c
        };
        openat2(self.fd.as_raw_fd(), &c, flags, resolve)
    }
}

/// openat2(2) of `path` relative to `dirfd`, with `resolve`'s RESOLVE_*
/// restrictions (also step 9's `proc_handle`).
pub fn openat2(
    dirfd: std::os::fd::RawFd,
    path: &std::ffi::CStr,
    flags: libc::c_int,
    resolve: u64,
) -> std::result::Result<OwnedFd, Errno> {
    // ANCHOR: openat2
    let how = OpenHow {
        flags: flags as u64,
        mode: 0,
        resolve, // RESOLVE_IN_ROOT: "/" and ".." stop at the rootfs
    };
    // SAFETY: valid pointers to a NUL-terminated path and an open_how
    // of the size we pass; the returned fd is owned by us from here.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    // ANCHOR_END: openat2
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: rc is a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as i32) })
}

/// A mount target opened inside the rootfs.
#[derive(Debug)]
pub struct Target {
    fd: OwnedFd,
    /// The path inside the container, for messages and the narrator.
    pub path: String,
}

// ANCHOR: proc_path
impl Target {
    /// The magic link that names exactly this inode, for mount(2).
    pub fn proc_path(&self) -> String {
        format!("/proc/self/fd/{}", self.fd.as_raw_fd())
    }

    /// The fd itself, for the *at(2) calls that take one (mount_setattr).
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }
}
// ANCHOR_END: proc_path
