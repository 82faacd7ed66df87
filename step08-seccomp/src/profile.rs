//! The default profile: which syscalls a container may make.
//!
//! Capabilities (step 6) and namespaces still leave whole kernel interfaces
//! reachable: keyrings, BPF, perf events, userfaultfd, io_uring, new user
//! namespaces (which give back every capability inside them, step 7). The
//! profile closes them the way docker's default does in spirit: deny by
//! default (EPERM), allow a list of ordinary calls, and let a few through
//! only when the container holds the capability that makes them safe to
//! ask for. The list is ours, grouped with the reason for what is left out;
//! libseccomp turns it into BPF for this machine's architectures.

use std::collections::BTreeSet;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};

use crate::error::{Error, Result};
use crate::explain;

// ANCHOR: allowed
/// Calls any process needs, granted to every container: files and
/// directories, memory, processes and threads, signals, time (reading it),
/// I/O multiplexing, sockets (with the family check below), ids, and the
/// process's own resource settings. A name this architecture does not have
/// is skipped.
pub const ALLOWED: &[&str] = &[
    // files, directories, descriptors
    "access",
    "faccessat",
    "faccessat2",
    "chdir",
    "fchdir",
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "fchownat",
    "lchown",
    "close",
    "close_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "flock",
    "fadvise64",
    "fallocate",
    "fdatasync",
    "fsync",
    "sync",
    "syncfs",
    "sync_file_range",
    "ftruncate",
    "truncate",
    "getcwd",
    "getdents",
    "getdents64",
    "link",
    "linkat",
    "lseek",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "open",
    "openat",
    "openat2",
    "read",
    "readv",
    "pread64",
    "preadv",
    "preadv2",
    "write",
    "writev",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "readlink",
    "readlinkat",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "symlink",
    "symlinkat",
    "umask",
    "unlink",
    "unlinkat",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "copy_file_range",
    "sendfile",
    "splice",
    "tee",
    "vmsplice",
    "pipe",
    "pipe2",
    "memfd_create",
    "ioctl",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    "eventfd",
    "eventfd2",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    // memory
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "mprotect",
    "madvise",
    "mincore",
    "mlock",
    "mlock2",
    "munlock",
    "mlockall",
    "munlockall",
    "msync",
    "membarrier",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "remap_file_pages",
    // processes, threads, scheduling
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "kill",
    "tkill",
    "tgkill",
    "getpid",
    "getppid",
    "gettid",
    "getpgid",
    "setpgid",
    "getpgrp",
    "getsid",
    "setsid",
    "set_tid_address",
    "set_robust_list",
    "get_robust_list",
    "futex",
    "futex_waitv",
    "rseq",
    "arch_prctl",
    "prctl",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_getparam",
    "sched_setparam",
    "sched_getscheduler",
    "sched_setscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "sched_getattr",
    "sched_setattr",
    "getpriority",
    "setpriority",
    "capget",
    "capset",
    "pidfd_open",
    "pidfd_send_signal",
    "pidfd_getfd",
    "process_mrelease",
    "ptrace",
    "restart_syscall",
    // a program sandboxing itself further (seccomp filters stack; Landlock,
    // step 9, only ever takes rights away)
    "seccomp",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    // signals
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigpending",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "sigaltstack",
    "pause",
    "alarm",
    // time (reading it, and timers; setting the clock is the host's)
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "gettimeofday",
    "time",
    "nanosleep",
    "times",
    "getitimer",
    "setitimer",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    // waiting on many things
    "select",
    "pselect6",
    "poll",
    "ppoll",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    // sockets (socket(2) itself is checked by family, below)
    "socketpair",
    "bind",
    "connect",
    "listen",
    "accept",
    "accept4",
    "getsockname",
    "getpeername",
    "getsockopt",
    "setsockopt",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    // ids and the process's own limits
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "setfsuid",
    "setfsgid",
    "getrlimit",
    "setrlimit",
    "prlimit64",
    "getrusage",
    "uname",
    "sysinfo",
    "getrandom",
    "get_mempolicy",
    "set_mempolicy",
    "mbind",
    "sethostname",
    "setdomainname",
    // System V and POSIX IPC (the IPC namespace's, in `final`)
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    // asynchronous I/O (not io_uring: see below)
    "io_setup",
    "io_destroy",
    "io_submit",
    "io_cancel",
    "io_getevents",
    "io_pgetevents",
];
// ANCHOR_END: allowed

// ANCHOR: with_caps
/// Calls allowed only with a capability the container holds (`--cap-add`):
/// without it the kernel would refuse most of them anyway, but each is a
/// large interface, and refusing it in the filter keeps even a kernel bug
/// behind it out of reach.
pub const WITH_CAPABILITY: &[(u32, &[&str])] = &[
    // CAP_SYS_ADMIN: mounts and namespaces are how a container is built;
    // from inside, they are how one is taken apart.
    (
        CAP_SYS_ADMIN,
        &[
            "mount",
            "umount2",
            "pivot_root",
            "setns",
            "unshare",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "open_tree",
            "move_mount",
            "mount_setattr",
            "quotactl",
            "fanotify_init",
        ],
    ),
    // CAP_BPF / CAP_PERFMON (or CAP_SYS_ADMIN before 5.8): programs and
    // counters in the kernel, a steady source of exploits and leaks.
    (CAP_BPF, &["bpf"]),
    (CAP_PERFMON, &["perf_event_open"]),
    // CAP_SYS_BOOT: reboot(2) and loading another kernel.
    (CAP_SYS_BOOT, &["reboot", "kexec_load", "kexec_file_load"]),
    // CAP_SYS_MODULE: kernel modules.
    (
        CAP_SYS_MODULE,
        &["init_module", "finit_module", "delete_module"],
    ),
    // CAP_SYS_TIME: the clock is not namespaced (only offsets, in `final`).
    (
        CAP_SYS_TIME,
        &[
            "settimeofday",
            "clock_settime",
            "clock_adjtime",
            "adjtimex",
            "stime",
        ],
    ),
    // CAP_SYSLOG: the kernel log.
    (CAP_SYSLOG, &["syslog"]),
    // CAP_SYS_PACCT: process accounting to a file.
    (CAP_SYS_PACCT, &["acct"]),
    // CAP_DAC_READ_SEARCH: open_by_handle_at reaches files by inode handle,
    // past any mount (the "shocker" escape from docker 0.x).
    (
        CAP_DAC_READ_SEARCH,
        &["open_by_handle_at", "name_to_handle_at"],
    ),
    // CAP_SYS_CHROOT: chroot(2) (in docker's default set, so usually on).
    (CAP_SYS_CHROOT, &["chroot"]),
    // CAP_SYS_RAWIO: I/O ports.
    (CAP_SYS_RAWIO, &["iopl", "ioperm"]),
    // CAP_SYS_ADMIN again: swap.
    (CAP_SYS_ADMIN, &["swapon", "swapoff"]),
];
// ANCHOR_END: with_caps

/// Left out for everyone, and why (not needed by the filter, which denies
/// all it does not allow; kept for the book, and a unit test checks that
/// none of these slipped into the lists above):
pub const DENIED_ALWAYS: &[(&str, &str)] = &[
    ("keyctl add_key request_key", "keyrings are not namespaced"),
    (
        "userfaultfd",
        "stalls kernel page faults: widens races in kernel exploits",
    ),
    (
        "io_uring_setup io_uring_enter io_uring_register",
        "a second syscall interface, past this filter's view of its operations",
    ),
    (
        "clone3",
        "its flags are in memory the filter can't read: ENOSYS, so libc falls back to clone(2)",
    ),
    (
        "vm86 vm86old uselib lookup_dcookie nfsservctl _sysctl sysfs ustat",
        "obsolete, or only an attack surface",
    ),
];

pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_SYS_MODULE: u32 = 16;
pub const CAP_SYS_RAWIO: u32 = 17;
pub const CAP_SYS_CHROOT: u32 = 18;
pub const CAP_SYS_PACCT: u32 = 20;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_BOOT: u32 = 22;
pub const CAP_SYS_TIME: u32 = 25;
pub const CAP_SYSLOG: u32 = 34;
pub const CAP_PERFMON: u32 = 38;
pub const CAP_BPF: u32 = 39;

/// Every CLONE_NEW* flag clone(2) takes: a container without
/// CAP_SYS_ADMIN may fork and make threads, not namespaces (a new user
/// namespace would give it every capability again, inside).
pub const CLONE_NS_MASK: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;

/// personality(2) values allowed: PER_LINUX (0), PER_LINUX32 (0x8),
/// UNAME26 (0x20000) and both (0x20008), which programs ask for, plus the
/// query 0xffffffff. Others (ADDR_NO_RANDOMIZE) switch off protections.
pub const PERSONALITIES: [u64; 5] = [0x0, 0x0008, 0x20000, 0x20008, 0xffff_ffff];

/// Socket families refused: AF_ALG (kernel crypto, 38) and AF_VSOCK (talk
/// to the hypervisor, 40); AF_NFC (39) between them stays allowed.
pub const AF_ALG: u64 = 38;
pub const AF_VSOCK: u64 = 40;

fn rule(
    ctx: &mut ScmpFilterContext,
    action: ScmpAction,
    name: &str,
    args: &[ScmpArgCompare],
) -> Result<bool> {
    let Ok(syscall) = ScmpSyscall::from_name(name) else {
        return Ok(false); // not on this architecture
    };
    let added = if args.is_empty() {
        ctx.add_rule(action, syscall)
    } else {
        ctx.add_rule_conditional(action, syscall, args)
    };
    added.map_err(|e| Error::Request(format!("seccomp rule for {name}: {e}")))?;
    Ok(true)
}

/// Everything the default profile is made of, as text: part of the key
/// under which its compiled form is cached, so a change to the lists (or to
/// libseccomp) compiles afresh.
pub fn fingerprint() -> String {
    format!(
        "{ALLOWED:?} {WITH_CAPABILITY:?} {CLONE_NS_MASK} {PERSONALITIES:?} {AF_ALG} {AF_VSOCK} tree libseccomp {:?}",
        libseccomp::ScmpVersion::current()
            .map(|v| (v.major, v.minor, v.micro))
            .ok()
    )
}

// ANCHOR: build
/// The default profile for a container holding `caps` (its bounding set),
/// refusing with a notification when `notify`, as libseccomp's context (native architecture, plus x86's 32-bit and x32
/// entries on x86_64, each with its own numbers).
pub fn default_profile(caps: &BTreeSet<u32>, notify: bool) -> Result<ScmpFilterContext> {
    let fail = |e: libseccomp::error::SeccompError| Error::Request(format!("libseccomp: {e}"));
    // Refusals are EPERM, or with --explain a notification to the runtime,
    // which names the call and answers EPERM (see `notify`).
    let refuse = if notify {
        ScmpAction::Notify
    } else {
        ScmpAction::Errno(libc::EPERM)
    };
    let mut ctx = ScmpFilterContext::new(refuse).map_err(fail)?;
    // A call made through another architecture's entry (a 32-bit `int
    // 0x80` on x86_64) that none of ours matches: kill, don't guess.
    ctx.set_act_badarch(ScmpAction::KillProcess).map_err(fail)?;
    // A binary tree of syscall numbers instead of a list: each call then
    // runs through a few dozen instructions, not hundreds (libseccomp 2.5).
    let _ = ctx.set_ctl_optimize(2);
    if cfg!(target_arch = "x86_64") {
        ctx.add_arch(ScmpArch::X86).map_err(fail)?;
        ctx.add_arch(ScmpArch::X32).map_err(fail)?;
    }
    let mut skipped = 0;
    for name in ALLOWED {
        skipped += usize::from(!rule(&mut ctx, ScmpAction::Allow, name, &[])?);
    }
    for (cap, names) in WITH_CAPABILITY {
        if caps.contains(cap) {
            for name in *names {
                skipped += usize::from(!rule(&mut ctx, ScmpAction::Allow, name, &[])?);
            }
        }
    }
    let admin = caps.contains(&CAP_SYS_ADMIN);
    // clone(2): threads and processes, but new namespaces only for admin.
    let no_ns = ScmpArgCompare::new(0, ScmpCompareOp::MaskedEqual(CLONE_NS_MASK), 0);
    rule(
        &mut ctx,
        ScmpAction::Allow,
        "clone",
        if admin {
            &[]
        } else {
            std::slice::from_ref(&no_ns)
        },
    )?;
    rule(&mut ctx, ScmpAction::Errno(libc::ENOSYS), "clone3", &[])?;
    for p in PERSONALITIES {
        rule(
            &mut ctx,
            ScmpAction::Allow,
            "personality",
            &[ScmpArgCompare::new(0, ScmpCompareOp::Equal, p)],
        )?;
    }
    for cmp in [
        ScmpArgCompare::new(0, ScmpCompareOp::Less, AF_ALG),
        ScmpArgCompare::new(0, ScmpCompareOp::Equal, AF_ALG + 1),
        ScmpArgCompare::new(0, ScmpCompareOp::Greater, AF_VSOCK),
    ] {
        rule(&mut ctx, ScmpAction::Allow, "socket", &[cmp])?;
    }
    explain::note(&format!(
        "seccomp profile: default, deny by default (EPERM); {} names not on this architecture skipped",
        skipped
    ));
    Ok(ctx)
}
// ANCHOR_END: build

/// The BPF program libseccomp makes of `ctx`, read back through a memfd
/// (libseccomp 2.5 exports to an fd only), ready for `bpf::install` in the
/// child: the compile happens once, in the runtime.
pub fn compile(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>> {
    use std::io::{Read, Seek};
    let fd =
        nix::sys::memfd::memfd_create(c"isolab-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| Error::syscall("memfd_create(\"isolab-seccomp\")", e))?;
    let mut file = std::fs::File::from(fd);
    ctx.export_bpf(&file)
        .map_err(|e| Error::Request(format!("libseccomp: exporting the filter: {e}")))?;
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| Error::io("reading the compiled filter back", e))?;
    Ok(crate::bpf::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_compiles_and_depends_on_caps() {
        let plain = compile(&default_profile(&BTreeSet::new(), false).unwrap()).unwrap();
        let admin =
            compile(&default_profile(&BTreeSet::from([CAP_SYS_ADMIN]), false).unwrap()).unwrap();
        assert!(plain.len() > 100, "{}", plain.len());
        assert_ne!(
            plain.len(),
            admin.len(),
            "CAP_SYS_ADMIN changes the program"
        );
    }

    #[test]
    fn what_is_denied_always_is_allowed_nowhere() {
        for (names, _) in DENIED_ALWAYS {
            for name in names.split_whitespace() {
                assert!(!ALLOWED.contains(&name), "{name}");
                assert!(
                    !WITH_CAPABILITY.iter().any(|(_, n)| n.contains(&name)),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn no_name_is_listed_twice() {
        let mut all: Vec<&str> = ALLOWED.to_vec();
        all.extend(WITH_CAPABILITY.iter().flat_map(|(_, n)| n.iter().copied()));
        let unique: BTreeSet<&str> = all.iter().copied().collect();
        assert_eq!(unique.len(), all.len());
    }
}
