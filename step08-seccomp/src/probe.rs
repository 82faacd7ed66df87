//! `probe CALL...`: what a hostile container would try, one syscall each,
//! with arguments chosen so that the kernel itself answers something other
//! than EPERM when the call gets through (EFAULT for a NULL pointer, EINVAL
//! for a zero size, or success). So EPERM here means the filter said no.
//! The tests copy this binary into an image and run it inside containers;
//! the book uses it too.

use nix::errno::Errno;

/// The calls `probe` knows, in the order `probe all` tries them.
pub const CALLS: [&str; 19] = [
    "unshare-user",
    "clone-newuser",
    "keyctl",
    "add_key",
    "bpf",
    "perf_event_open",
    "io_uring_setup",
    "personality-addr-no-randomize",
    "socket-af-alg",
    "socket-af-vsock",
    "clone3",
    "setns",
    "pivot_root",
    "userfaultfd",
    "syslog",
    "int80-keyctl",
    "thread",
    "abstract-connect",
    "mkdir",
];

/// Make the call `name`: `Ok` with what it returned, or its errno.
pub fn attempt(name: &str) -> Option<std::result::Result<i64, Errno>> {
    let raw = |rc: i64| if rc < 0 { Err(Errno::last()) } else { Ok(rc) };
    // SAFETY: raw syscalls with NULL or zero arguments the kernel rejects
    // before touching memory, valid C strings, or harmless values; a child
    // made by the raw clone exits at once.
    let result = unsafe {
        match name {
            "unshare-user" => raw(libc::unshare(libc::CLONE_NEWUSER) as i64),
            "clone-newuser" => {
                // fork(2)'s clone with a namespace flag: the child exits at once.
                let rc = libc::syscall(
                    libc::SYS_clone,
                    (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong,
                    0usize,
                    0usize,
                    0usize,
                    0usize,
                );
                if rc == 0 {
                    libc::syscall(libc::SYS_exit, 0);
                }
                if rc > 0 {
                    libc::waitpid(rc as i32, std::ptr::null_mut(), 0);
                }
                raw(rc)
            }
            "keyctl" => {
                // KEYCTL_GET_KEYRING_ID (0) of the session keyring (-3).
                raw(libc::syscall(libc::SYS_keyctl, 0, -3i32, 0))
            }
            "add_key" => raw(libc::syscall(
                libc::SYS_add_key,
                c"user".as_ptr(),
                c"isolab-probe".as_ptr(),
                c"x".as_ptr(),
                1usize,
                -3i32, // KEY_SPEC_SESSION_KEYRING
            )),
            // BPF_PROG_LOAD (5) with a NULL attr: EFAULT if let through.
            "bpf" => raw(libc::syscall(libc::SYS_bpf, 5, 0usize, 0u32)),
            "perf_event_open" => raw(libc::syscall(
                libc::SYS_perf_event_open,
                0usize,
                0,
                -1,
                -1,
                0,
            )),
            "io_uring_setup" => raw(libc::syscall(libc::SYS_io_uring_setup, 0u32, 0usize)),
            "personality-addr-no-randomize" => {
                // Query first, so a success changes nothing.
                let current = libc::personality(0xffff_ffff);
                let rc = libc::personality((current as u64 | 0x0040000) as libc::c_ulong);
                if rc >= 0 {
                    libc::personality(current as libc::c_ulong);
                }
                raw(rc as i64)
            }
            "socket-af-alg" => close_if_open(raw(libc::socket(38, libc::SOCK_SEQPACKET, 0) as i64)),
            "socket-af-vsock" => close_if_open(raw(libc::socket(40, libc::SOCK_STREAM, 0) as i64)),
            // clone3 with a NULL struct: EFAULT if let through, ENOSYS from
            // a filter that sends libc back to clone(2).
            "clone3" => raw(libc::syscall(libc::SYS_clone3, 0usize, 0usize)),
            // setns(-1, 0): EBADF if let through.
            "setns" => raw(libc::syscall(libc::SYS_setns, -1, 0)),
            // pivot_root(NULL, NULL): EFAULT if let through.
            "pivot_root" => raw(libc::syscall(libc::SYS_pivot_root, 0usize, 0usize)),
            // userfaultfd(-1): EINVAL if let through.
            "userfaultfd" => raw(libc::syscall(libc::SYS_userfaultfd, -1)),
            // syslog(SYSLOG_ACTION_SIZE_BUFFER): the log's size.
            "syslog" => raw(libc::syscall(libc::SYS_syslog, 10, 0usize, 0)),
            "int80-keyctl" => int80_keyctl(),
            // A thread: glibc tries clone3 first, gets ENOSYS from the
            // filter, and falls back to clone(2) with thread flags only.
            "thread" => std::thread::spawn(|| 7i64)
                .join()
                .map_err(|_| Errno::EAGAIN),
            // connect(2) to the abstract UNIX socket "@isolab-probe" (the
            // tests listen there, on the host): ECONNREFUSED if nobody does.
            "abstract-connect" => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(b"isolab-probe")
                    .map_err(|_| Errno::EINVAL);
                match addr.and_then(|a| {
                    std::os::unix::net::UnixStream::connect_addr(&a)
                        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))
                }) {
                    Ok(_) => Ok(0),
                    Err(e) => Err(e),
                }
            }
            // connect(2) to 127.0.0.1:PORT: "tcp-connect:8080".
            name if name.starts_with("tcp-connect:") => {
                let port: u16 = name["tcp-connect:".len()..].parse().unwrap_or(0);
                std::net::TcpStream::connect(("127.0.0.1", port))
                    .map(|_| 0)
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))
            }
            // truncate(2) of PATH to its own length, so nothing changes:
            // "truncate:/etc/hostname". Landlock handles it from ABI 3 on.
            name if name.starts_with("truncate:") => {
                let path = &name["truncate:".len()..];
                match (std::fs::metadata(path), std::ffi::CString::new(path)) {
                    (Ok(meta), Ok(c)) => raw(libc::truncate(c.as_ptr(), meta.len() as i64) as i64),
                    (Err(e), _) => Err(Errno::from_raw(e.raw_os_error().unwrap_or(0))),
                    (_, Err(_)) => Err(Errno::EINVAL),
                }
            }
            "mkdir" => {
                let rc = libc::mkdir(c"/tmp/isolab-probe-dir".as_ptr(), 0o700);
                if rc == 0 {
                    libc::rmdir(c"/tmp/isolab-probe-dir".as_ptr());
                }
                raw(rc as i64)
            }
            _ => return None,
        }
    };
    Some(result)
}

/// keyctl(KEYCTL_GET_KEYRING_ID, session) through the 32-bit entry, `int
/// 0x80`, where its number is 288 (x86_64's is 250): a filter that checked
/// only x86_64 numbers would be walked around here. ENOSYS where the
/// kernel runs no 32-bit code (ia32_emulation off).
fn int80_keyctl() -> std::result::Result<i64, Errno> {
    #[cfg(target_arch = "x86_64")]
    {
        let ret: i64;
        // SAFETY: a syscall through the 32-bit gate with integer arguments
        // only; it clobbers nothing but the registers named.
        unsafe {
            std::arch::asm!(
                // rbx is LLVM's: swap the first argument in and out.
                "xchg {b}, rbx",
                "int 0x80",
                "xchg {b}, rbx",
                b = inout(reg) 0i64 => _,
                inlateout("rax") 288i64 => ret,
                in("rcx") -3i64,
                in("rdx") 0i64,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            );
        }
        if ret < 0 {
            Err(Errno::from_raw(-ret as i32))
        } else {
            Ok(ret)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Err(Errno::ENOSYS)
    }
}

fn close_if_open(r: std::result::Result<i64, Errno>) -> std::result::Result<i64, Errno> {
    if let Ok(fd) = r {
        // SAFETY: the fd was just opened by us.
        unsafe { libc::close(fd as i32) };
    }
    r
}

/// `probe cost`: nanoseconds per getppid(2), over a million calls: what
/// the filter adds to each syscall (run with and without one).
pub fn cost() -> String {
    const N: u32 = 1_000_000;
    let start = std::time::Instant::now();
    for _ in 0..N {
        // SAFETY: getppid(2) takes no arguments and can't fail.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(N);
    format!("cost: {ns:.0} ns per getppid(2)\n")
}

/// `probe`: one line per call, `NAME: ok` or `NAME: ERRNO`.
pub fn run(names: &[String]) -> i32 {
    if names.iter().any(|n| n == "cost") {
        crate::cli::out(&cost());
        return 0;
    }
    let names: Vec<String> = if names.iter().any(|n| n == "all") {
        CALLS.iter().map(|s| s.to_string()).collect()
    } else {
        names.to_vec()
    };
    let mut out = String::new();
    let mut unknown = false;
    for name in &names {
        if name == "keyring-label" {
            // Not a yes/no: the LSM label of the session keyring (step 9's
            // SELinux keycreate), or its errno.
            match keyring_label() {
                Ok(label) => out.push_str(&format!("{name}: {label}\n")),
                Err(errno) => out.push_str(&format!("{name}: {}\n", errno_name(errno))),
            }
            continue;
        }
        match attempt(name) {
            Some(Ok(_)) => out.push_str(&format!("{name}: ok\n")),
            Some(Err(errno)) => out.push_str(&format!("{name}: {}\n", errno_name(errno))),
            None => {
                unknown = true;
                out.push_str(&format!(
                    "{name}: unknown (one of: all {})\n",
                    CALLS.join(" ")
                ));
            }
        }
    }
    crate::cli::out(&out);
    i32::from(unknown) * 2
}

/// keyctl(KEYCTL_GET_SECURITY) of the session keyring: its LSM label
/// (empty without SELinux or Smack).
fn keyring_label() -> std::result::Result<String, Errno> {
    let mut buf = [0u8; 256];
    // SAFETY: a buffer of the length we pass; the kernel writes at most that.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            17, // KEYCTL_GET_SECURITY
            -3, // KEY_SPEC_SESSION_KEYRING
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    let text = &buf[..(rc as usize).min(buf.len())];
    Ok(String::from_utf8_lossy(text)
        .trim_end_matches('\0')
        .to_string())
}

/// `EPERM` for EPERM: the name only, as tests compare it.
pub fn errno_name(errno: Errno) -> String {
    format!("{errno:?}")
}
