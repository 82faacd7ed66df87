//! clone(2): make a new task, optionally in new namespaces.
//!
//! fork(2) copies a task; clone(2) is the same call with a say over what the
//! copy shares. Every `CLONE_NEW*` flag gives the child a fresh namespace of
//! that type instead of its parent's, at the moment it is born. This is the
//! one call every later step grows, by adding flags.

use nix::sched::CloneFlags;
use nix::unistd::Pid;

use crate::error::{Result, SyscallResult};
use crate::explain;

/// The child runs on its own stack. It is a copy of the parent's memory
/// (no CLONE_VM), so this buffer only has to outlive the clone call; 8 MiB
/// like a thread's default stack, and untouched pages cost nothing.
const STACK_SIZE: usize = 8 * 1024 * 1024;

// ANCHOR: clone
/// Clone a child into the namespaces named by `flags` and run `child` in it.
/// The child exits with the value `child` returns. The exit signal is
/// SIGCHLD, so the parent can wait for it like for a forked child.
pub fn clone(flags: CloneFlags, child: impl FnMut() -> isize) -> Result<Pid> {
    if flags.bits() & libc::CLONE_NEWTIME != 0 {
        // 0x80 is inside clone(2)'s exit-signal byte: the kernel would read
        // it as a signal number (nix's CloneFlags has no name for it, for
        // that reason; from_bits_retain could still carry it here). unshare(CLONE_NEWTIME) in the child, before
        // it forks, gives its children the new time namespace.
        return Err(crate::error::Error::Request(
            "CLONE_NEWTIME can't be passed to clone(2): unshare it in the child before forking"
                .into(),
        ));
    }
    debug_assert_single_threaded();
    let mut stack = vec![0u8; STACK_SIZE];
    let shown = explain::clone_flags(flags.bits() | libc::SIGCHLD);
    // SAFETY: the runtime is single-threaded when it clones (no locks can be
    // held by another thread in the copy), and without CLONE_VM the child
    // writes only to its own copy of memory, including this stack.
    let pid = unsafe { nix::sched::clone(Box::new(child), &mut stack, flags, Some(libc::SIGCHLD)) }
        .or_syscall(|| format!("clone({shown})"))?;
    explain::syscall(&format!("clone({shown})"), pid);
    Ok(pid)
}
// ANCHOR_END: clone

/// The SAFETY comments around clone(2) and fork(2) rest on this process
/// having one thread: a copy made while another thread held a lock (the
/// allocator's, stdout's) would hold it for ever. Checked in debug builds
/// (the tests), from /proc/self/status.
// ANCHOR: clone3
/// clone3(2), the newer form of the call (Linux 5.3), for what clone(2)
/// can't say: `cgroup`, a directory of the v2 hierarchy, has the kernel
/// create the child inside that cgroup (CLONE_INTO_CGROUP, Linux 5.7).
/// Without a stack the child continues, like a forked one, on a copy of
/// this one's, runs `child` and exits with its value. An old kernel, or a
/// seccomp filter that hides clone3, answers ENOSYS or EINVAL: the caller
/// falls back to [`clone`].
pub fn clone3(
    flags: CloneFlags,
    cgroup: std::os::fd::BorrowedFd<'_>,
    child: impl FnOnce() -> isize,
) -> std::result::Result<Pid, nix::errno::Errno> {
    use std::os::fd::AsRawFd;
    debug_assert_single_threaded();
    /// struct clone_args, as far as CLONE_INTO_CGROUP's field (its
    /// version 2, CLONE_ARGS_SIZE_VER2: 88 bytes).
    #[repr(C)]
    #[derive(Default)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = CloneArgs {
        flags: flags.bits() as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    let shown = format!(
        "clone3({{{}|CLONE_INTO_CGROUP, cgroup={}}})",
        explain::clone_flags(flags.bits()),
        cgroup.as_raw_fd()
    );
    // SAFETY: single-threaded (asserted above in debug builds); without
    // CLONE_VM or a stack the child is a forked copy that runs `child` on
    // its own copy of this stack and leaves through _exit, never returning
    // into the parent's frames.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        0 => {
            let code = child();
            // SAFETY: the child's end: no unwinding into the parent's code.
            unsafe { libc::_exit(code as i32) }
        }
        -1 => Err(nix::errno::Errno::last()),
        pid => {
            explain::syscall(&shown, pid);
            Ok(Pid::from_raw(pid as i32))
        }
    }
}
// ANCHOR_END: clone3

pub fn debug_assert_single_threaded() {
    if cfg!(debug_assertions) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let threads = crate::inspect::status_field(&status, "Threads").unwrap_or("1");
        assert_eq!(
            threads.trim(),
            "1",
            "clone/fork from a multithreaded process: the runtime must stay single-threaded"
        );
    }
}
