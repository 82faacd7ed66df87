//! The runtime runs from a sealed copy of itself (CVE-2019-5736).
//!
//! Every process of `create`, `run` and `exec` that a container can see
//! (the init waiting for `start`, an exec'd process before its execve)
//! runs the runtime's code, and /proc/PID/exe names the file it runs. A
//! process in the container that may look at it (same PID namespace, and
//! CAP_SYS_PTRACE, which non-dumpable alone does not stop) can open that
//! link, wait until the runtime has exec'd the container's command, and
//! reopen the fd for writing: the host's runtime binary, overwritten from
//! inside a container, runs next as root on the host.
//!
//! So before anything else these commands re-exec from a file no one can
//! write, which /proc/PID/exe then names:
//!
//! - as root, the binary seen through a read-only overlayfs mount that is
//!   never attached anywhere (fsopen/fsmount): an overlay without an upper
//!   layer refuses every write with EROFS, and nothing is copied;
//! - otherwise (a normal user may not mount), a memfd copy of the binary,
//!   sealed against every change (F_SEAL_WRITE, _GROW, _SHRINK, and _SEAL
//!   so the seals stay). The copy costs milliseconds per command: the
//!   binary's loaded part read into fresh memory, and freed again.
//!
//! runc does the same, in that order (its `libcontainer/exeseal`: overlayfs
//! first, then a memfd); crun copies (`cloned_binary.c`).

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

use crate::error::{Error, Result};
use crate::explain;

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

// ANCHOR: ensure
/// Re-exec this process from a sealed memfd copy of its binary, unless it
/// runs from one already. Returns only in the sealed copy.
pub fn ensure() -> Result<()> {
    let exe = std::fs::File::open("/proc/self/exe")
        .map_err(|e| Error::io("opening /proc/self/exe", e))?;
    if unwritable(&exe) {
        return name_after_argv0(); // the re-exec: its comm is the fd's number
    }
    let view = if crate::pseudofs::real_root() {
        overlay_view().inspect_err(|e| {
            explain::note(&format!(
                "read-only overlay view: {e}: a sealed copy instead"
            ));
        })
    } else {
        Err(Error::Request("not root".into()))
    };
    let memfd = match view {
        Ok(fd) => fd,
        Err(_) => copy_sealed(&exe)?,
    };
    let argv = to_c(std::env::args_os())?;
    let argv_p: Vec<*const libc::c_char> = argv
        .iter()
        .map(|c| c.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    unsafe extern "C" {
        static environ: *const *const libc::c_char;
    }
    explain::syscall("execveat(sealed isolab, \"\", AT_EMPTY_PATH)", 0);
    // SAFETY: a NUL-terminated array of pointers into `argv`, which
    // outlives the call, and the environment exactly as it is (single
    // threaded: nothing changes it meanwhile); on success no return.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            memfd.as_raw_fd(),
            c"".as_ptr(),
            argv_p.as_ptr(),
            environ,
            libc::AT_EMPTY_PATH,
        )
    };
    Err(Error::syscall(
        "execveat(memfd:isolab, AT_EMPTY_PATH)",
        nix::errno::Errno::last(),
    ))
}
// ANCHOR_END: ensure

/// The file this process runs can't be written by anyone: a sealed memfd,
/// or a file of a read-only overlayfs (this module's two ways).
fn unwritable(exe: &std::fs::File) -> bool {
    // SAFETY: fcntl(2) on an fd we own; a regular file answers EINVAL.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    if seals >= 0 && seals & SEALS == SEALS {
        return true;
    }
    let fs = nix::sys::statfs::fstatfs(exe);
    let vfs = nix::sys::statvfs::fstatvfs(exe);
    matches!((fs, vfs), (Ok(fs), Ok(vfs))
        if fs.filesystem_type() == nix::sys::statfs::OVERLAYFS_SUPER_MAGIC
            && vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

// ANCHOR: overlay_view
/// The binary through an overlayfs of two lower layers and no upper one,
/// which makes it read-only: on top an empty tmpfs (overlay wants two
/// layers at least, and this one needs no directory on disk: it is named
/// by its fd), below the binary's directory. Both mounts are made with
/// the new mount API and never attached to the tree; the file opened from
/// the overlay keeps it alive, and the kernel frees it with the process.
fn overlay_view() -> Result<OwnedFd> {
    let path =
        std::fs::read_link("/proc/self/exe").map_err(|e| Error::io("reading /proc/self/exe", e))?;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(Error::Request(format!("{}: no directory", path.display())));
    };
    let dir = dir.to_string_lossy();
    if dir.contains([',', ':', '\\']) || !path.exists() {
        return Err(Error::Request(format!(
            "{}: not a path overlay options can carry",
            path.display()
        )));
    }
    let empty = new_mount("tmpfs", &[("size", "4k")], MOUNT_ATTR_RDONLY)?;
    let lower = format!("/proc/self/fd/{}:{dir}", empty.as_raw_fd());
    let view = new_mount(
        "overlay",
        &[("lowerdir", &lower)],
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
    )?;
    let name = CString::new(name.as_encoded_bytes().to_vec())
        .map_err(|_| Error::Request("a NUL in the binary's name".into()))?;
    // SAFETY: openat(2) below a mount fd we own, with a NUL-terminated name.
    let fd = unsafe {
        libc::openat(
            view.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(Error::syscall(
            "openat(overlay view, isolab)",
            nix::errno::Errno::last(),
        ));
    }
    explain::syscall(
        &format!("fsopen(\"overlay\") + fsconfig(lowerdir={lower}) + fsmount(MOUNT_ATTR_RDONLY)"),
        fd,
    );
    // SAFETY: a fresh fd no one else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
// ANCHOR_END: overlay_view

const MOUNT_ATTR_RDONLY: u32 = 0x1;
const MOUNT_ATTR_NOSUID: u32 = 0x2;
const MOUNT_ATTR_NODEV: u32 = 0x4;

/// fsopen(2), fsconfig(2) for each option and to create, fsmount(2): a
/// mount of `fstype` that belongs to no mount tree.
fn new_mount(fstype: &str, options: &[(&str, &str)], attrs: u32) -> Result<OwnedFd> {
    let c = |s: &str| CString::new(s).map_err(|_| Error::Request(format!("a NUL in {s:?}")));
    let fail = |what: String| Error::syscall(what, nix::errno::Errno::last());
    let kind = c(fstype)?;
    // SAFETY: fsopen with a NUL-terminated name and FSOPEN_CLOEXEC.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, kind.as_ptr(), 1u32) } as i32;
    if fs < 0 {
        return Err(fail(format!("fsopen({fstype:?})")));
    }
    // SAFETY: the fd fsopen just returned.
    let fs = unsafe { OwnedFd::from_raw_fd(fs) };
    const FSCONFIG_SET_STRING: u32 = 1;
    const FSCONFIG_CMD_CREATE: u32 = 6;
    for (key, value) in options {
        let (k, v) = (c(key)?, c(value)?);
        // SAFETY: fsconfig on our fs context with NUL-terminated strings.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0,
            )
        };
        if rc < 0 {
            return Err(fail(format!("fsconfig({fstype}, {key}={value})")));
        }
    }
    // SAFETY: as above, the create command takes no key or value.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if rc < 0 {
        return Err(fail(format!("fsconfig({fstype}, FSCONFIG_CMD_CREATE)")));
    }
    // SAFETY: fsmount of our context, FSMOUNT_CLOEXEC.
    let mnt = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), 1u32, attrs) } as i32;
    if mnt < 0 {
        return Err(fail(format!("fsmount({fstype})")));
    }
    // SAFETY: the fd fsmount just returned.
    Ok(unsafe { OwnedFd::from_raw_fd(mnt) })
}

/// The binary's bytes in a new memfd, sealed. Close-on-exec: the kernel
/// holds the file it executes without the fd.
fn copy_sealed(exe: &std::fs::File) -> Result<OwnedFd> {
    // MFD_EXEC: where vm.memfd_noexec asks for non-executable memfds by
    // default, say this one is for exec; kernels before 6.3 don't know
    // the flag (EINVAL) and make every memfd executable.
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: memfd_create(2) with a static name; the fd is ours.
    let mut fd = unsafe { libc::memfd_create(c"isolab".as_ptr(), flags | libc::MFD_EXEC) };
    if fd < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINVAL {
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(c"isolab".as_ptr(), flags) };
    }
    if fd < 0 {
        return Err(Error::syscall(
            "memfd_create(\"isolab\", MFD_CLOEXEC|MFD_ALLOW_SEALING)",
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: a fresh fd no one else owns.
    let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let size = exe
        .metadata()
        .map_err(|e| Error::io("stat /proc/self/exe", e))?
        .len();
    // Only what running it needs: a debug build is 85% debug information,
    // which nothing reads from the copy (a backtrace can't find the file
    // behind /proc/self/exe either way).
    let mut head = vec![0; 65536];
    let n = std::os::unix::fs::FileExt::read_at(exe, &mut head, 0)
        .map_err(|e| Error::io("reading /proc/self/exe", e))?;
    let len = crate::elf::loaded_extent(&head[..n])
        .filter(|&end| end <= size)
        .unwrap_or(size) as usize;
    let mut done = 0;
    while done < len {
        // SAFETY: sendfile(2) between two fds we own, from the current offset.
        let n = unsafe {
            libc::sendfile(
                memfd.as_raw_fd(),
                exe.as_raw_fd(),
                std::ptr::null_mut(),
                len - done,
            )
        };
        if n < 0 {
            return Err(Error::syscall(
                "sendfile(memfd, /proc/self/exe)",
                nix::errno::Errno::last(),
            ));
        }
        if n == 0 {
            return Err(Error::Request(format!(
                "/proc/self/exe ended after {done} of {len} bytes: was the binary replaced while it ran?"
            )));
        }
        done += n as usize;
    }
    // SAFETY: fcntl(2) on our memfd.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(Error::syscall(
            "fcntl(memfd, F_ADD_SEALS, WRITE|GROW|SHRINK|SEAL)",
            nix::errno::Errno::last(),
        ));
    }
    explain::syscall(
        &format!("memfd_create(\"isolab\") + sendfile({len} bytes) + F_ADD_SEALS"),
        0,
    );
    Ok(memfd)
}

/// execveat(2) of an fd names the task after the fd's number ("3"); `ps`
/// should still say isolab.
fn name_after_argv0() -> Result<()> {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let name = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "isolab".into());
    crate::prctl::set_name(&name)
}

fn to_c(items: impl Iterator<Item = OsString>) -> Result<Vec<CString>> {
    items
        .map(|s| {
            CString::new(s.into_vec())
                .map_err(|_| Error::BadFlag("an argument or variable holds a NUL byte".into()))
        })
        .collect()
}
