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
