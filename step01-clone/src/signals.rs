//! Waiting for a child while passing signals on to it.
//!
//! The runtime stands between the user and the container: `kill <runtime>`
//! or Ctrl-C must reach the command, and the runtime must notice when the
//! command exits. Both are signals (SIGCHLD is one), so we block them and
//! take them one at a time with sigwait(2): no handlers, no races, no threads.
//! Step02's PID-1 init runs the same loop inside the container, where it
//! also reaps orphans.

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::explain;

/// The signals a supervisor passes on to the command (docker forwards the
/// same ones with `--sig-proxy`).
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// The forwarded signals and SIGCHLD: what [`block`] blocks.
pub fn watched() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Block the forwarded signals and SIGCHLD, so they wait for sigwait(2)
/// instead of running their default action (which for SIGTERM would kill
/// the runtime and leave the container running).
pub fn block() -> Result<()> {
    watched()
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .map_err(|e| Error::syscall("sigprocmask(SIG_BLOCK, …)", e))?;
    explain::syscall(
        "sigprocmask(SIG_BLOCK, [INT TERM HUP QUIT USR1 USR2 CHLD])",
        0,
    );
    Ok(())
}

// ANCHOR: supervise
/// Wait until `main` exits, forwarding signals to it. Any other child that
/// exits meanwhile is reaped too (`on_orphan` is told), which is what keeps
/// zombies from piling up under a PID 1. Call [`block`] first.
pub fn supervise(main: Pid, mut on_orphan: impl FnMut(Pid, WaitStatus)) -> Result<WaitStatus> {
    let set = watched();
    loop {
        // Reap first: SIGCHLD may have arrived before we started to wait, and
        // one SIGCHLD can stand for several exits (signals don't queue).
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(status) => {
                    let pid = status.pid().unwrap_or(Pid::from_raw(0));
                    explain::syscall(
                        "wait4(-1, WNOHANG)",
                        format!("{pid} ({})", describe(status)),
                    );
                    if pid == main {
                        return Ok(status);
                    }
                    on_orphan(pid, status);
                }
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::syscall("wait4(-1, WNOHANG)", e)),
            }
        }
        let signal = set.wait().map_err(|e| Error::syscall("sigwait", e))?;
        if signal == Signal::SIGCHLD {
            continue;
        }
        // ESRCH: the command exited between the signal and now; the next
        // round reaps it.
        let result = kill(main, signal);
        explain::syscall(
            &format!("kill({main}, {signal})"),
            match result {
                Ok(()) => "0".to_string(),
                Err(e) => format!("-1 {e}"),
            },
        );
    }
}
// ANCHOR_END: supervise

/// "exited 3" or "killed by SIGKILL": how a wait status reads in the narration.
pub fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited {code}"),
        WaitStatus::Signaled(_, sig, core) => {
            format!("killed by {sig}{}", if core { ", core dumped" } else { "" })
        }
        other => format!("{other:?}"),
    }
}

// ANCHOR: exit_code
/// The shell's convention for a wait status: the exit code, or 128+N when
/// the process died of signal N.
pub fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => crate::error::EXIT_RUNTIME,
    }
}
// ANCHOR_END: exit_code

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        let pid = Pid::from_raw(7);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 3)), 3);
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            137
        );
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGTERM, false)),
            143
        );
        assert_eq!(
            describe(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            "killed by SIGKILL"
        );
    }
}
