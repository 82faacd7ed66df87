//! The C library and raw system calls the attacks make, declared by hand:
//! this program is compiled by `rustc` alone (no crates) and linked
//! static, so it runs in any image. 64-bit x86 and Arm; the numbers of
//! the calls glibc has no wrapper for are the kernel's
//! (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h).

use std::ffi::{CString, c_char, c_int, c_long, c_uint, c_ulong, c_void};

#[cfg(target_arch = "x86_64")]
pub mod nr {
    pub const KEYCTL: i64 = 250;
    pub const BPF: i64 = 321;
    pub const PERF_EVENT_OPEN: i64 = 298;
    pub const USERFAULTFD: i64 = 323;
    pub const KEXEC_LOAD: i64 = 246;
    pub const INIT_MODULE: i64 = 175;
    pub const REBOOT: i64 = 169;
    pub const MKNODAT: i64 = 259;
    pub const PTRACE: i64 = 101;
    pub const OPEN_BY_HANDLE_AT: i64 = 304;
}

#[cfg(target_arch = "aarch64")]
pub mod nr {
    pub const KEYCTL: i64 = 219;
    pub const BPF: i64 = 280;
    pub const PERF_EVENT_OPEN: i64 = 241;
    pub const USERFAULTFD: i64 = 282;
    pub const KEXEC_LOAD: i64 = 104;
    pub const INIT_MODULE: i64 = 105;
    pub const REBOOT: i64 = 142;
    pub const MKNODAT: i64 = 33;
    pub const PTRACE: i64 = 117;
    pub const OPEN_BY_HANDLE_AT: i64 = 265;
}

/// The same on every architecture (numbers from 424 up are shared).
pub const NR_IO_URING_SETUP: i64 = 425;
pub const NR_FSOPEN: i64 = 430;
pub const NR_FSCONFIG: i64 = 431;
pub const NR_FSMOUNT: i64 = 432;

unsafe extern "C" {
    pub fn syscall(num: c_long, ...) -> c_long;
    pub fn fork() -> c_int;
    pub fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    pub fn _exit(code: c_int) -> !;
    pub fn pipe(fds: *mut c_int) -> c_int;
    pub fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize;
    pub fn close(fd: c_int) -> c_int;
    pub fn dup2(old: c_int, new: c_int) -> c_int;
    pub fn alarm(seconds: c_uint) -> c_uint;
    pub fn getpid() -> c_int;
    pub fn geteuid() -> c_uint;
    pub fn setuid(uid: c_uint) -> c_int;
    pub fn setgid(gid: c_uint) -> c_int;
    pub fn setgroups(n: usize, list: *const c_uint) -> c_int;
    pub fn chroot(path: *const c_char) -> c_int;
    pub fn chdir(path: *const c_char) -> c_int;
    pub fn unshare(flags: c_int) -> c_int;
    pub fn setns(fd: c_int, nstype: c_int) -> c_int;
    pub fn kill(pid: c_int, sig: c_int) -> c_int;
    pub fn pause() -> c_int;
    pub fn gethostname(name: *mut c_char, len: usize) -> c_int;
    pub fn sethostname(name: *const c_char, len: usize) -> c_int;
    pub fn settimeofday(tv: *const c_void, tz: *const c_void) -> c_int;
    pub fn swapoff(path: *const c_char) -> c_int;
    pub fn klogctl(kind: c_int, buf: *mut c_char, len: c_int) -> c_int;
    pub fn shmget(key: c_int, size: usize, flags: c_int) -> c_int;
    pub fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int;
    pub fn connect(fd: c_int, addr: *const c_void, len: c_uint) -> c_int;
    pub fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    pub fn openat(dirfd: c_int, path: *const c_char, flags: c_int, ...) -> c_int;
    pub fn mmap(a: *mut c_void, n: usize, p: c_int, f: c_int, fd: c_int, o: i64) -> *mut c_void;
    pub fn execv(path: *const c_char, argv: *const *const c_char) -> c_int;
}

pub const O_RDONLY: c_int = 0;
pub const O_WRONLY: c_int = 1;
pub const O_NONBLOCK: c_int = 0o4000;
pub const O_DIRECTORY: c_int = 0o200000;
pub const O_CLOEXEC: c_int = 0o2000000;

/// The errno of the last failed call.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The errno's name, as the man pages write it.
pub fn errno_name(e: i32) -> String {
    let name = match e {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        6 => "ENXIO",
        8 => "ENOEXEC",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        19 => "ENODEV",
        20 => "ENOTDIR",
        22 => "EINVAL",
        26 => "ETXTBSY",
        28 => "ENOSPC",
        30 => "EROFS",
        38 => "ENOSYS",
        95 => "EOPNOTSUPP",
        97 => "EAFNOSUPPORT",
        111 => "ECONNREFUSED",
        116 => "ESTALE",
        126 => "ENOKEY",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

/// The last errno's name.
pub fn last() -> String {
    errno_name(errno())
}

pub fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in a path")
}

/// `openat(dirfd, path, flags)`: the fd, or the errno.
pub fn open_at(dirfd: c_int, path: &str, flags: c_int) -> Result<c_int, i32> {
    let p = cstr(path);
    // SAFETY: a valid C string; the kernel returns a new fd or -1.
    let fd = unsafe { openat(dirfd, p.as_ptr(), flags | O_CLOEXEC) };
    if fd < 0 { Err(errno()) } else { Ok(fd) }
}

/// Close `fd` (the attacks' own fds only).
pub fn close_fd(fd: c_int) {
    // SAFETY: fd is one this program opened and owns.
    unsafe { close(fd) };
}

/// A raw system call with up to six integer arguments: its result or the
/// errno.
pub fn raw(num: i64, args: [usize; 6]) -> Result<i64, i32> {
    // SAFETY: every call site passes NULL, zero, or pointers to live
    // buffers of the size the call expects.
    let rc = unsafe { syscall(num, args[0], args[1], args[2], args[3], args[4], args[5]) };
    if rc < 0 { Err(errno()) } else { Ok(rc) }
}

/// A new, detached mount of `fstype` made with the new mount API (fsopen,
/// fsconfig CREATE, fsmount): its fd, or the step that failed. The mount
/// is never attached anywhere and is gone when the fd closes, so success
/// proves the permission without changing any mount table.
pub fn detached_mount(fstype: &str, options: &[(&str, Option<&str>)]) -> Result<c_int, String> {
    let t = cstr(fstype);
    let fs = raw(NR_FSOPEN, [t.as_ptr() as usize, 1, 0, 0, 0, 0])
        .map_err(|e| format!("fsopen(\"{fstype}\"): {}", errno_name(e)))? as c_int;
    for (key, value) in options {
        let k = cstr(key);
        let v = value.map(cstr);
        // FSCONFIG_SET_FLAG (0) or FSCONFIG_SET_STRING (1).
        let (cmd, vp) = match &v {
            Some(v) => (1usize, v.as_ptr() as usize),
            None => (0usize, 0usize),
        };
        if let Err(e) = raw(
            NR_FSCONFIG,
            [fs as usize, cmd, k.as_ptr() as usize, vp, 0, 0],
        ) {
            close_fd(fs);
            return Err(format!("fsconfig({key}): {}", errno_name(e)));
        }
    }
    // FSCONFIG_CMD_CREATE (6): the superblock.
    if let Err(e) = raw(NR_FSCONFIG, [fs as usize, 6, 0, 0, 0, 0]) {
        close_fd(fs);
        return Err(format!("fsconfig(CREATE) of {fstype}: {}", errno_name(e)));
    }
    let mnt = raw(NR_FSMOUNT, [fs as usize, 1, 0, 0, 0, 0]);
    close_fd(fs);
    mnt.map(|m| m as c_int)
        .map_err(|e| format!("fsmount of {fstype}: {}", errno_name(e)))
}

/// The inode of this process's namespace `kind` (`/proc/self/ns/KIND`).
pub fn ns_inode(kind: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/ns/{kind}"))
        .ok()
        .map(|m| m.ino())
}
