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
//! So before anything else these commands copy the binary into a memfd,
//! seal it against every change (F_SEAL_WRITE, _GROW, _SHRINK, and _SEAL
//! so the seals stay), and re-exec from it. /proc/PID/exe then names a
//! file no one can write. runc and crun do the same (runc's
//! `libcontainer/exeseal`, crun's `cloned_binary.c`); the copy costs one
//! read of the binary's loaded part from the page cache per command.

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
    // SAFETY: fcntl(2) on an fd we own; a regular file answers EINVAL.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    if seals >= 0 && seals & SEALS == SEALS {
        return name_after_argv0(); // the copy: its comm is the fd's number
    }
    let memfd = copy_sealed(&exe)?;
    let argv = to_c(std::env::args_os())?;
    let argv_p: Vec<*const libc::c_char> = argv
        .iter()
        .map(|c| c.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    unsafe extern "C" {
        static environ: *const *const libc::c_char;
    }
    explain::syscall("execveat(memfd:isolab, \"\", AT_EMPTY_PATH)", 0);
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
