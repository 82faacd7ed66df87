//! `attack`: what a hostile container tries, one attack at a time, each
//! printed as one line: `NAME ESCAPED what it reached` or `NAME BLOCKED
//! what stopped it`. The escape-matrix recorder (book/tools/src/escapes)
//! runs it inside every step and prints the book's appendix from the
//! answers.
//!
//!   attack [KEY=VALUE...] all | NAME...   run attacks, each in a child
//!   attack list                            the attacks' names and what they try
//!   attack victim DIR                      the host's victim: cwd and an fd in DIR
//!   attack euid                            print the effective uid (set-uid test)
//!
//! The KEY=VALUE pairs tell it what the host looks like (the recorder
//! knows; the container can't): `ns=uts:INODE,net:INODE,...`, `victim=PID`,
//! `secret=DIR` (a host directory holding the secret), `handle=TYPE:HEX`, `image=PATH`, `sysv=KEY`, `abstract=NAME`,
//! `key=NAME`, `disk=MAJOR:MINOR`.
//!
//! Safety: no attack harms the machine when it succeeds. Files are opened
//! but never written (sysrq-trigger, core_pattern, release_agent), calls
//! are made with arguments the kernel rejects only after its permission
//! check (EPERM says blocked, EINVAL says through), mounts are made
//! detached and never attached, a signal is signal 0, a trace is a seize
//! that ends with the tracer, and what is written lives in a scratch file
//! this program removes. Compiled static by `rustc` alone, std only.

mod filesystem;
mod host;
mod kernel;
mod resources;
mod sys;

use std::ffi::c_int;

/// What one attack found.
#[derive(Debug)]
pub enum Verdict {
    Escaped(String),
    Blocked(String),
}

/// What the host looks like, from the recorder's arguments.
#[derive(Debug, Default)]
pub struct Host {
    ns: Vec<(String, u64)>,
    pub victim: Option<i32>,
    pub secret: Option<String>,
    pub handle: Option<(i32, Vec<u8>)>,
    pub image: Option<String>,
    pub sysv: Option<i32>,
    pub abstract_name: Option<String>,
    pub key: Option<String>,
    pub disk: Option<(u32, u32)>,
}

impl Host {
    /// Is this process in the host's namespace `kind`?
    pub fn same_ns(&self, kind: &str) -> bool {
        let host = self.ns.iter().find(|(k, _)| k == kind).map(|(_, i)| *i);
        host.is_some() && host == sys::ns_inode(kind)
    }
}

/// The file the recorder leaves in a host directory: reading it from
/// inside is the proof of a way out.
pub const SECRET_NAME: &str = "isolab-secret";
pub const SECRET: &str = "isolab-host-secret";

type Attack = fn(&Host) -> Verdict;

/// Every attack, in the matrix's order: name, what it tries, the code.
pub const ATTACKS: &[(&str, &str, Attack)] = &[
    (
        "chroot",
        "chroot out of the root (chroot, chdir .. x64, chroot .)",
        filesystem::chroot,
    ),
    (
        "mount-proc",
        "mount a fresh proc (no masks) and open sysrq-trigger",
        filesystem::mount_proc,
    ),
    (
        "mount-sysfs",
        "mount a fresh sysfs",
        filesystem::mount_sysfs,
    ),
    ("mount-tmpfs", "mount a tmpfs", filesystem::mount_tmpfs),
    (
        "mknod-disk",
        "make a node for the host's disk and read a sector",
        filesystem::mknod_disk,
    ),
    (
        "proc-sys",
        "open /proc/sys/kernel/core_pattern for writing",
        filesystem::proc_sys,
    ),
    (
        "sys-write",
        "open a /sys/kernel or /sys/power file for writing",
        filesystem::sys_write,
    ),
    (
        "sysrq-trigger",
        "open /proc/sysrq-trigger for writing",
        filesystem::sysrq_trigger,
    ),
    (
        "kcore",
        "open /proc/kcore (the kernel's memory)",
        filesystem::kcore,
    ),
    (
        "kmsg",
        "open /proc/kmsg (the kernel's log)",
        filesystem::kmsg,
    ),
    (
        "dev-mem",
        "open /dev/mem (physical memory)",
        filesystem::dev_mem,
    ),
    (
        "shocker",
        "open_by_handle_at a host directory (Shocker, 2014)",
        filesystem::shocker,
    ),
    (
        "image-write",
        "write a file of the image",
        filesystem::image_write,
    ),
    (
        "setuid",
        "gain euid 0 from a set-uid root copy as uid 65534",
        filesystem::setuid,
    ),
    (
        "kill-host",
        "signal a host process (signal 0)",
        host::kill_host,
    ),
    (
        "ptrace-host",
        "ptrace a host process (PTRACE_SEIZE)",
        host::ptrace_host,
    ),
    (
        "setns-host",
        "setns into a host process's namespaces",
        host::setns_host,
    ),
    (
        "proc-fd",
        "read a host file through /proc/PID/cwd, root or fd",
        host::proc_fd,
    ),
    (
        "leaked-fd",
        "read a host file through an inherited fd",
        host::leaked_fd,
    ),
    (
        "runtime-exe",
        "open another process's binary via /proc/PID/exe",
        host::runtime_exe,
    ),
    (
        "release-agent",
        "open a v1 cgroup release_agent for writing",
        host::release_agent,
    ),
    (
        "cgroup-escape",
        "open the root cgroup's cgroup.procs for writing",
        host::cgroup_escape,
    ),
    (
        "keyring",
        "find a key the host put in root's keyrings",
        host::keyring,
    ),
    (
        "sysv-ipc",
        "find the host's SysV shared memory segment",
        host::sysv_ipc,
    ),
    (
        "abstract-socket",
        "connect to the host's abstract unix socket",
        host::abstract_socket,
    ),
    (
        "net-host",
        "change a host link (lo's flags, set to themselves)",
        host::net_host,
    ),
    (
        "raw-socket",
        "open a packet socket on the host's links",
        host::raw_socket,
    ),
    (
        "sethostname",
        "set the host's hostname (to itself)",
        host::sethostname,
    ),
    (
        "userns-caps",
        "regain capabilities in a new user namespace and mount",
        kernel::userns_caps,
    ),
    ("bpf", "load a BPF tracing program", kernel::bpf),
    (
        "perf-event",
        "count events of every process on CPU 0",
        kernel::perf_event,
    ),
    (
        "userfaultfd",
        "userfaultfd without user-mode-only",
        kernel::userfaultfd,
    ),
    ("io-uring", "set up an io_uring", kernel::io_uring),
    (
        "kexec-load",
        "kexec_load (1000 segments: EINVAL past the check)",
        kernel::kexec_load,
    ),
    (
        "init-module",
        "init_module (empty image: ENOEXEC past the check)",
        kernel::init_module,
    ),
    (
        "reboot",
        "reboot (wrong magic: EINVAL past the check)",
        kernel::reboot,
    ),
    (
        "settime",
        "settimeofday (bad zone: EINVAL past the check)",
        kernel::settime,
    ),
    (
        "swapoff",
        "swapoff (no such file: ENOENT past the check)",
        kernel::swapoff,
    ),
    (
        "syslog",
        "read the kernel log's size (syslog)",
        kernel::syslog,
    ),
    ("fork-bomb", "start 1000 processes", resources::fork_bomb),
    (
        "memory-hog",
        "touch 512 MiB of memory",
        resources::memory_hog,
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (pairs, words): (Vec<&String>, Vec<&String>) = args.iter().partition(|a| a.contains('='));
    match words.first().map(|w| w.as_str()) {
        Some("list") => {
            for (name, what, _) in ATTACKS {
                println!("{name}\t{what}");
            }
        }
        Some("victim") if words.len() == 2 => host::victim(words[1]),
        Some("euid") => {
            // SAFETY: geteuid has no arguments and can't fail.
            println!("{}", unsafe { sys::geteuid() });
        }
        Some(_) => {
            let host = match parse(&pairs) {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("attack: {e}");
                    std::process::exit(2);
                }
            };
            let all = words.iter().any(|w| *w == "all");
            for (name, _, attack) in ATTACKS {
                if all || words.iter().any(|w| w == name) {
                    println!("{}", run(name, *attack, &host));
                }
            }
        }
        None => {
            eprintln!("usage: attack [KEY=VALUE...] all|NAME... | list | victim DIR | euid");
            std::process::exit(2);
        }
    }
}

fn parse(pairs: &[&String]) -> Result<Host, String> {
    let mut h = Host::default();
    for pair in pairs {
        let (k, v) = pair.split_once('=').unwrap_or_default();
        let bad = || format!("bad {k}= value: {v}");
        match k {
            "ns" => {
                for item in v.split(',') {
                    let (kind, ino) = item.split_once(':').ok_or_else(bad)?;
                    h.ns.push((kind.to_string(), ino.parse().map_err(|_| bad())?));
                }
            }
            "victim" => h.victim = Some(v.parse().map_err(|_| bad())?),
            "handle" => {
                let (t, hex) = v.split_once(':').ok_or_else(bad)?;
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
                    .collect::<Result<Vec<u8>, _>>()
                    .map_err(|_| bad())?;
                h.handle = Some((t.parse().map_err(|_| bad())?, bytes));
            }
            "secret" => h.secret = Some(v.to_string()),
            "image" => h.image = Some(v.to_string()),
            "sysv" => h.sysv = Some(v.parse().map_err(|_| bad())?),
            "abstract" => h.abstract_name = Some(v.to_string()),
            "key" => h.key = Some(v.to_string()),
            "disk" => {
                let (a, b) = v.split_once(':').ok_or_else(bad)?;
                h.disk = Some((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?));
            }
            _ => return Err(format!("unknown {k}=")),
        }
    }
    Ok(h)
}

/// Run one attack in a child of its own (an attack may change its
/// process: chroot, setns, a new user namespace; or be killed: the
/// memory hog), with 20 seconds to answer: its line.
fn run(name: &str, attack: Attack, host: &Host) -> String {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe fills the two-int array.
    if unsafe { sys::pipe(fds.as_mut_ptr()) } != 0 {
        return format!("{name} BLOCKED pipe: {}", sys::last());
    }
    // SAFETY: this program is single-threaded; the child only runs the
    // attack, writes its line and leaves with _exit.
    let pid = unsafe { sys::fork() };
    if pid == 0 {
        sys::close_fd(fds[0]);
        // SAFETY: alarm has no memory arguments.
        unsafe { sys::alarm(20) };
        let line = match attack(host) {
            Verdict::Escaped(what) => format!("{name} ESCAPED {what}"),
            Verdict::Blocked(why) => format!("{name} BLOCKED {why}"),
        };
        let mut out = std::fs::File::from(owned(fds[1]));
        let _ = std::io::Write::write_all(&mut out, line.as_bytes());
        // SAFETY: leaving the child without running the parent's at-exit work.
        unsafe { sys::_exit(0) };
    }
    sys::close_fd(fds[1]);
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: reading into a live buffer of its size.
        let n = unsafe { sys::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        text.extend_from_slice(&buf[..n as usize]);
    }
    sys::close_fd(fds[0]);
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { sys::waitpid(pid, &mut status, 0) };
    if text.is_empty() {
        let signal = status & 0x7f;
        return match signal {
            9 => format!("{name} BLOCKED killed by SIGKILL (the OOM killer of its memory limit)"),
            14 => format!("{name} BLOCKED no answer in 20 s"),
            0 => format!(
                "{name} BLOCKED exited {} without an answer",
                (status >> 8) & 0xff
            ),
            s => format!("{name} BLOCKED killed by signal {s}"),
        };
    }
    String::from_utf8_lossy(&text).trim().to_string()
}

pub fn owned(fd: c_int) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: fd is the pipe's write end, owned by this child alone.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

/// Read the secret through `dirfd` (a directory): true when it is the
/// host's.
pub fn reads_secret(dirfd: c_int) -> bool {
    let Ok(fd) = sys::open_at(dirfd, SECRET_NAME, sys::O_RDONLY) else {
        return false;
    };
    let mut f = std::fs::File::from(owned(fd));
    let mut s = String::new();
    let _ = std::io::Read::read_to_string(&mut f, &mut s);
    s.starts_with(SECRET)
}

/// A directory this process may write to, for a scratch file: /tmp, else /.
pub fn scratch() -> Option<String> {
    // SAFETY: getpid has no arguments.
    let pid = unsafe { sys::getpid() };
    for dir in ["/tmp", "/var/tmp", "/"] {
        let probe = format!("{}/isolab-attack-{pid}", dir.trim_end_matches('/'));
        if std::fs::write(&probe, b"").is_ok() {
            let _ = std::fs::remove_file(&probe);
            return Some(probe);
        }
    }
    None
}
