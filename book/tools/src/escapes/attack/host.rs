//! Attacks on what the container shares with the host: its processes,
//! namespaces, cgroups, keys, IPC, network and hostname.

use std::os::unix::fs::MetadataExt;

use crate::sys::{self, O_DIRECTORY, O_RDONLY, O_WRONLY};
use crate::{Host, Verdict, reads_secret};
use Verdict::{Blocked, Escaped};

/// The host's victim (`attack victim DIR`): a process of the recorder
/// whose working directory and one open fd are the secret's directory.
pub fn victim(dir: &str) -> ! {
    let d = sys::cstr(dir);
    // SAFETY: a valid C string.
    unsafe { sys::chdir(d.as_ptr()) };
    let _held = std::fs::File::open(dir);
    loop {
        // SAFETY: pause waits for a signal; the recorder kills this process.
        unsafe { sys::pause() };
    }
}

/// Is PID (as this process sees PIDs) the recorder's victim?
fn is_victim(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| c.split(|b| *b == 0).any(|w| w == b"victim"))
        .unwrap_or(false)
}

fn victim_pid(host: &Host) -> Result<i32, Verdict> {
    host.victim.ok_or_else(|| Blocked("no victim named".into()))
}

pub fn kill_host(host: &Host) -> Verdict {
    let pid = match victim_pid(host) {
        Ok(p) => p,
        Err(v) => return v,
    };
    // SAFETY: signal 0 checks existence and permission, delivers nothing.
    if unsafe { sys::kill(pid, 0) } != 0 {
        return Blocked(format!("kill(its PID, 0): {}", sys::last()));
    }
    if is_victim(pid) {
        Escaped("may signal a host process (signal 0)".into())
    } else {
        Blocked("its PID here is another process (a PID namespace of its own)".into())
    }
}

pub fn ptrace_host(host: &Host) -> Verdict {
    let pid = match victim_pid(host) {
        Ok(p) => p,
        Err(v) => return v,
    };
    if !is_victim(pid) {
        return Blocked("the host's process is not in its /proc".into());
    }
    // PTRACE_SEIZE: traced without being stopped; the trace ends when this
    // child exits.
    match sys::raw(sys::nr::PTRACE, [0x4206, pid as usize, 0, 0, 0, 0]) {
        Ok(_) => Escaped("ptrace-seized a host process".into()),
        Err(e) => Blocked(format!("PTRACE_SEIZE: {}", sys::errno_name(e))),
    }
}

pub fn setns_host(host: &Host) -> Verdict {
    let pid = match victim_pid(host) {
        Ok(p) => p,
        Err(v) => return v,
    };
    if !is_victim(pid) {
        return Blocked("the host's processes are not in its /proc".into());
    }
    let mut joined = Vec::new();
    let mut refused = None;
    for kind in ["mnt", "pid", "net", "ipc", "uts", "cgroup", "user"] {
        if host.same_ns(kind) {
            continue;
        }
        match sys::open_at(-100, &format!("/proc/{pid}/ns/{kind}"), O_RDONLY) {
            Ok(fd) => {
                // SAFETY: fd is a namespace fd; 0 accepts any type.
                if unsafe { sys::setns(fd, 0) } == 0 {
                    joined.push(kind);
                } else {
                    refused.get_or_insert(format!("setns({kind}): {}", sys::last()));
                }
                sys::close_fd(fd);
            }
            Err(e) => {
                refused.get_or_insert(format!("open ns/{kind}: {}", sys::errno_name(e)));
            }
        }
    }
    match (joined.is_empty(), refused) {
        (false, _) => Escaped(format!("joined the host's {} namespace", joined.join(", "))),
        (true, Some(why)) => Blocked(why),
        (true, None) => Blocked("no namespace of its own to leave".into()),
    }
}

/// PIDs in this process's /proc, other than its own.
fn pids() -> Vec<i32> {
    // SAFETY: getpid has no arguments.
    let me = unsafe { sys::getpid() };
    let mut out: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|p| *p != me)
        .collect();
    out.sort();
    out
}

/// `link` with its PID written as PID (the matrix must not depend on it).
fn generic(link: &str, pid: i32) -> String {
    link.replacen(&format!("/proc/{pid}/"), "/proc/PID/", 1)
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Another process's cwd, root or directory fds, as magic links in
/// /proc: the way out when an init keeps the runtime's fds or its host
/// working directory and can be inspected.
pub fn proc_fd(host: &Host) -> Verdict {
    let mut last = "no other process shows a host directory".to_string();
    for pid in pids() {
        let mut links = vec![format!("/proc/{pid}/cwd")];
        if let Some(dir) = &host.secret {
            links.push(format!("/proc/{pid}/root{dir}"));
        }
        for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            links.push(fd.path().display().to_string());
        }
        for link in links {
            match sys::open_at(-100, &link, O_RDONLY | O_DIRECTORY) {
                Ok(fd) => {
                    let ok = reads_secret(fd);
                    sys::close_fd(fd);
                    if ok {
                        return Escaped(format!(
                            "read the host's secret through {} ({})",
                            generic(&link, pid),
                            comm(pid)
                        ));
                    }
                }
                Err(e) if e == 1 || e == 13 => {
                    last = format!("{}: {}", generic(&link, pid), sys::errno_name(e))
                }
                Err(_) => {}
            }
        }
    }
    Blocked(last)
}

/// An fd the runtime's caller held open and the runtime did not close.
pub fn leaked_fd(_: &Host) -> Verdict {
    for fd in 3..1024 {
        if reads_secret(fd) {
            return Escaped(format!(
                "fd {fd}, inherited, is the host's secret directory"
            ));
        }
    }
    Blocked("no inherited fd leads to the host".into())
}

/// The runtime's binary through /proc/PID/exe of a process it left in the
/// container (CVE-2019-5736 starts here; the file is only opened).
pub fn runtime_exe(_: &Host) -> Verdict {
    let own = std::fs::metadata("/proc/self/exe")
        .map(|m| (m.dev(), m.ino()))
        .ok();
    let mut last = "no other process's binary".to_string();
    for pid in pids() {
        let link = format!("/proc/{pid}/exe");
        match std::fs::File::open(&link) {
            Ok(f) => {
                let id = f.metadata().map(|m| (m.dev(), m.ino())).ok();
                if id.is_some() && id != own {
                    return Escaped(format!(
                        "opened the binary of {} through /proc/PID/exe",
                        comm(pid)
                    ));
                }
            }
            Err(e) => {
                let e = e.raw_os_error().unwrap_or(0);
                if e == 1 || e == 13 {
                    last = format!("/proc/PID/exe of {}: {}", comm(pid), sys::errno_name(e));
                }
            }
        }
    }
    Blocked(last)
}

/// CVE-2022-0492's path: a v1 hierarchy's release_agent is run by the
/// kernel, as root on the host, when a cgroup empties. Only opened.
pub fn release_agent(_: &Host) -> Verdict {
    for dir in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = dir.path().join("release_agent");
        if let Ok(fd) = sys::open_at(-100, &path.display().to_string(), O_WRONLY) {
            sys::close_fd(fd);
            return Escaped(format!("{} opens for writing", path.display()));
        }
    }
    // Mount a v1 hierarchy the host has (a controller alone in its
    // hierarchy) as a detached mount, and try its release_agent.
    let Some(controller) = lone_v1_controller() else {
        return Blocked("no v1 hierarchy on this host, and no release_agent visible".into());
    };
    match sys::detached_mount("cgroup", &[(controller.as_str(), None)]) {
        Ok(mnt) => {
            let w = sys::open_at(mnt, "release_agent", O_WRONLY);
            sys::close_fd(mnt);
            match w {
                Ok(fd) => {
                    sys::close_fd(fd);
                    Escaped(format!(
                        "mounted the v1 {controller} hierarchy; its release_agent opens for writing"
                    ))
                }
                Err(e) => Blocked(format!(
                    "release_agent of a new {controller} mount: {}",
                    sys::errno_name(e)
                )),
            }
        }
        Err(e) => Blocked(e),
    }
}

/// A v1 controller that has a hierarchy of its own on this host.
fn lone_v1_controller() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cgroups").ok()?;
    let rows: Vec<(String, u32)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((f.first()?.to_string(), f.get(1)?.parse().ok()?))
        })
        .collect();
    let lone = |h: u32| h > 0 && rows.iter().filter(|(_, x)| *x == h).count() == 1;
    ["pids", "memory", "devices", "freezer"]
        .iter()
        .find_map(|want| rows.iter().find(|(n, h)| n == want && lone(*h)))
        .or_else(|| rows.iter().find(|(_, h)| lone(*h)))
        .map(|(n, _)| n.clone())
}

/// The root of the cgroup v2 tree: a process that can write its
/// cgroup.procs leaves every limit. In a cgroup namespace a new cgroup2
/// mount's root is the container's own cgroup (it has cgroup.type, which
/// the real root lacks).
pub fn cgroup_escape(_: &Host) -> Verdict {
    let mnt = match sys::detached_mount("cgroup2", &[]) {
        Ok(m) => m,
        Err(e) => {
            for dir in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                if std::path::Path::new(&format!("{dir}/cgroup.procs")).exists()
                    && !std::path::Path::new(&format!("{dir}/cgroup.type")).exists()
                    && let Ok(fd) = sys::open_at(-100, &format!("{dir}/cgroup.procs"), O_WRONLY)
                {
                    sys::close_fd(fd);
                    return Escaped(format!("{dir}/cgroup.procs (the root's) opens for writing"));
                }
            }
            return Blocked(e);
        }
    };
    let own_cgroup = sys::open_at(mnt, "cgroup.type", O_RDONLY);
    let result = match own_cgroup {
        Ok(fd) => {
            sys::close_fd(fd);
            Blocked("a new cgroup2 mount's root is its own cgroup (a cgroup namespace)".into())
        }
        Err(_) => match sys::open_at(mnt, "cgroup.procs", O_WRONLY) {
            Ok(fd) => {
                sys::close_fd(fd);
                Escaped("the host's root cgroup.procs opens for writing (every limit left)".into())
            }
            Err(e) => Blocked(format!("root cgroup.procs: {}", sys::errno_name(e))),
        },
    };
    sys::close_fd(mnt);
    result
}

/// Keyrings are not namespaced but per user (and user namespace): root's
/// user keyring is shared by every root process of the host's user
/// namespace, and a session keyring is inherited.
pub fn keyring(host: &Host) -> Verdict {
    let Some(name) = &host.key else {
        return Blocked("no key named".into());
    };
    let kind = sys::cstr("user");
    let desc = sys::cstr(name);
    let mut last = String::new();
    for (ring, label) in [(-4i64, "user"), (-3i64, "session")] {
        // KEYCTL_SEARCH (10).
        match sys::raw(
            sys::nr::KEYCTL,
            [
                10,
                ring as usize,
                kind.as_ptr() as usize,
                desc.as_ptr() as usize,
                0,
                0,
            ],
        ) {
            Ok(_) => return Escaped(format!("found the host's key in its {label} keyring")),
            Err(e) => last = format!("keyctl(SEARCH): {}", sys::errno_name(e)),
        }
    }
    Blocked(last)
}

pub fn sysv_ipc(host: &Host) -> Verdict {
    let Some(key) = host.sysv else {
        return Blocked("no key given".into());
    };
    // SAFETY: shmget with size 0 looks up an existing segment.
    let id = unsafe { sys::shmget(key, 0, 0) };
    if id >= 0 {
        Escaped("found the host's shared memory segment".into())
    } else {
        Blocked(format!(
            "shmget: {} (an IPC namespace of its own)",
            sys::last()
        ))
    }
}

pub fn abstract_socket(host: &Host) -> Verdict {
    let Some(name) = &host.abstract_name else {
        return Blocked("no socket named".into());
    };
    // struct sockaddr_un: sa_family, then a NUL and the abstract name.
    let mut addr = vec![1u8, 0, 0];
    addr.extend_from_slice(name.as_bytes());
    // SAFETY: plain socket calls on a buffer of the length given.
    let rc = unsafe {
        let fd = sys::socket(1, 1 | sys::O_CLOEXEC, 0);
        let rc = sys::connect(fd, addr.as_ptr().cast(), addr.len() as u32);
        sys::close(fd);
        rc
    };
    if rc == 0 {
        Escaped("connected to the host's abstract socket".into())
    } else {
        Blocked(format!(
            "connect to the host's abstract name: {}",
            sys::last()
        ))
    }
}

pub fn net_host(host: &Host) -> Verdict {
    if !host.same_ns("net") {
        return Blocked("a network namespace of its own".into());
    }
    let mut ifr = [0u8; 40];
    ifr[..2].copy_from_slice(b"lo");
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS on a 40-byte struct ifreq.
    let rc = unsafe {
        let fd = sys::socket(2, 2 | sys::O_CLOEXEC, 0);
        let got = sys::ioctl(fd, 0x8913, ifr.as_mut_ptr());
        let set = if got == 0 {
            sys::ioctl(fd, 0x8914, ifr.as_mut_ptr())
        } else {
            got
        };
        let e = sys::errno();
        sys::close(fd);
        if set == 0 { 0 } else { e }
    };
    if rc == 0 {
        Escaped("may change the host's links (set lo's flags to what they were)".into())
    } else {
        Blocked(format!("SIOCSIFFLAGS: {}", sys::errno_name(rc)))
    }
}

pub fn raw_socket(host: &Host) -> Verdict {
    if !host.same_ns("net") {
        return Blocked("a network namespace of its own".into());
    }
    // AF_PACKET, SOCK_RAW, ETH_P_ALL in network byte order.
    // SAFETY: socket has no memory arguments.
    let fd = unsafe { sys::socket(17, 3 | sys::O_CLOEXEC, 0x0300) };
    if fd >= 0 {
        sys::close_fd(fd);
        Escaped(
            "opened a packet socket that sees every frame of the host's links (none read)".into(),
        )
    } else {
        Blocked(format!("socket(AF_PACKET): {}", sys::last()))
    }
}

pub fn sethostname(host: &Host) -> Verdict {
    if !host.same_ns("uts") {
        return Blocked("a UTS namespace of its own".into());
    }
    let mut name = [0u8; 65];
    // SAFETY: a buffer of the length given; the same name is set back.
    let rc = unsafe {
        sys::gethostname(name.as_mut_ptr().cast(), 64);
        let len = name.iter().position(|b| *b == 0).unwrap_or(64);
        sys::sethostname(name.as_ptr().cast(), len)
    };
    if rc == 0 {
        Escaped("may set the host's hostname (set it to itself)".into())
    } else {
        Blocked(format!("sethostname: {}", sys::last()))
    }
}
