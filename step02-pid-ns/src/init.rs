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

use nix::unistd::{ForkResult, fork};

use crate::error::{Error, Result};
use crate::explain::{self, Role};
use crate::sync::Channel;
use crate::{exec, signals};

/// Run `command` as PID 1's child and supervise it until it exits. Returns
/// the exit status for the runtime (128+N if the command died of signal N).
// ANCHOR: init
pub fn run(command: &[String], chan: &mut Channel) -> Result<i32> {
    // Block first: a signal that arrives between fork and the loop below
    // waits for us instead of being lost.
    signals::block()?;
    // SAFETY: the process is single-threaded, so the forked copy holds no
    // lock another thread owned.
    let fork = unsafe { fork() }.map_err(|e| Error::syscall("fork()", e))?;
    let command_pid = match fork {
        ForkResult::Child => {
            explain::set_role(Role::Command);
            // Narrated here, not in the init: the init's next words come only
            // after the command ran, so the narration keeps a fixed order.
            explain::syscall("fork()", "0 (in the new process: PID 2 here)");
            // exec resets the signal mask; if it fails, tell the runtime.
            let err = exec::execvp(command);
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
