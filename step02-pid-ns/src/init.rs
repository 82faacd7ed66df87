//! PID 1 of a new PID namespace: the init.
//!
//! The first task in a PID namespace has two duties the kernel gives no one
//! else, and a plain command (a shell, a web server) is rarely written for
//! them:
//!
//! - **Reaping.** When a task dies, its parent must wait(2) for it or it
//!   stays a zombie. Orphans are re-parented to PID 1 of their namespace, so
//!   PID 1 must wait for children it never started.
//! - **Signals.** The kernel protects PID 1: a signal with no handler
//!   installed is dropped, even SIGTERM, even from inside the namespace
//!   (SIGKILL from an ancestor namespace still kills it). So `kill` to a
//!   command running as PID 1 often does nothing.
//!
//! When PID 1 exits, the kernel SIGKILLs every other task in the namespace.
//!
//! This init does what tini (docker's `--init`) does: fork the command, pass
//! signals on to it, reap every child, exit with the command's status.
//! It blocks the signals it forwards and takes them with sigwait, and a
//! blocked signal is never dropped, so the PID-1 protection doesn't apply.

use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::unistd::{ForkResult, fork};

use crate::error::{Error, Result};
use crate::exec::BeforeExec;
use crate::explain::{self, Role};
use crate::sync::ChildEnd;
use crate::{exec, signals};

// ANCHOR: close_inherited
/// Close every file descriptor the child inherited from the runtime, except
/// stdio, its own end of the sync channel, the narration's `--log` file and
/// `keep`.
///
/// clone(2) copies the runtime's whole fd table, and this process never
/// execs, so close-on-exec never fires for it: every directory, socket or
/// file the runtime had open stays open in PID 1, reachable from inside as
/// /proc/1/fd/N, and a directory fd leads out of any root with `..` (the
/// class of runc's CVE-2024-21626). It also holds the runtime's end of the
/// sync channel, so without this the child would never see EOF when the
/// runtime dies before sync 0, and would wait forever.
pub fn close_inherited_fds(chan: &ChildEnd, keep: &[RawFd]) -> Result<()> {
    let mut keep: Vec<RawFd> = keep
        .iter()
        .copied()
        .chain(chan.raw_fd())
        .chain(crate::explain::log_fd()) // --log's file
        .collect();
    keep.sort_unstable();
    let mut from: u32 = 3;
    for fd in keep.into_iter().filter(|&fd| fd >= 3) {
        if (fd as u32) > from {
            close_range(from, fd as u32 - 1)?;
        }
        from = fd as u32 + 1;
    }
    close_range(from, u32::MAX)
}
// ANCHOR_END: close_inherited

fn close_range(first: u32, last: u32) -> Result<()> {
    // SAFETY: close_range closes fds of this process only; no Rust object
    // we still use owns one of them (the channel's fd is skipped).
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    let shown = if last == u32::MAX {
        format!("close_range({first}, ~0U, 0)")
    } else {
        format!("close_range({first}, {last}, 0)")
    };
    if rc != 0 {
        return Err(Error::syscall(shown, Errno::last()));
    }
    explain::syscall(&shown, 0);
    Ok(())
}

/// Run `command` as PID 1's child and supervise it until it exits. Returns
/// the exit status for the runtime (128+N if the command died of signal N).
// ANCHOR: init
pub fn run(command: &[String], chan: &mut ChildEnd) -> Result<i32> {
    run_then(command, chan, &mut || Ok(()))
}

/// [`run`], with `before` run in the command's process right before its
/// execve(2) (see [`exec::BeforeExec`]).
pub fn run_then(command: &[String], chan: &mut ChildEnd, before: BeforeExec<'_>) -> Result<i32> {
    // Block first: a signal that arrives between fork and the loop below
    // waits for us instead of being lost.
    signals::block()?;
    crate::clone::debug_assert_single_threaded();
    // SAFETY: the process is single-threaded (checked above in debug
    // builds), so the forked copy holds no lock another thread owned.
    let fork = unsafe { fork() }.map_err(|e| Error::syscall("fork()", e))?;
    let command_pid = match fork {
        ForkResult::Child => {
            explain::set_role(Role::Command);
            // Narrated here, not in the init: the init's next words come only
            // after the command ran, so the narration keeps a fixed order.
            explain::syscall("fork()", "0 (in the new process: PID 2 here)");
            // exec resets the signal mask; if it fails, tell the runtime.
            let err = exec::execvp_then(command, before);
            chan.fail(err.exit_code(), &err.to_string());
            // SAFETY: _exit skips atexit handlers and buffers that belong to
            // the init's copy of the process.
            unsafe { libc::_exit(err.exit_code()) }
        }
        ForkResult::Parent { child } => child,
    };
    // Our copy of the channel must close, or the runtime would never see
    // the EOF that means "the command's execve succeeded" (sync 3).
    chan.close();

    let status = signals::supervise(command_pid, |orphan, status| {
        explain::note(&format!(
            "reaped orphan {orphan} ({})",
            signals::describe(status)
        ));
    })?;
    explain::note(&format!(
        "command {}; init exits and the kernel kills what is left in the namespace",
        signals::describe(status)
    ));
    Ok(signals::exit_code(status))
}
// ANCHOR_END: init
