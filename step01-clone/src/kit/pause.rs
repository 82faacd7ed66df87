//! `--pause`: stop before exec so a second terminal can look at the container.
//!
//! The runtime waits for a line on stdin (Enter on a terminal; a script can
//! pipe one in, and EOF continues too), or for a signal: the forwarded
//! signals are blocked by then, so Ctrl-C or SIGTERM while paused arrives
//! here as an event, and the runtime ends the container and cleans up
//! instead of dying with its cgroups and layers left behind.

use std::io::{BufRead, Write};
use std::os::fd::AsFd;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use crate::error::{Error, Result};

/// The commands an instructor pastes into a second terminal. Steps pass
/// `extra` lines for what they add (step02: look at the PID namespace).
pub fn hints(pid: Pid, extra: &[String]) -> Vec<String> {
    let mut lines = vec![
        format!("{}ls -l /proc/{pid}/ns", sudo()),
        format!("grep -E 'NSpid|Cap|NoNewPrivs|Seccomp' /proc/{pid}/status"),
        nsenter(pid, "-u hostname"),
    ];
    lines.extend(extra.iter().cloned());
    lines.push(format!("{}{} inspect {pid}", sudo(), this_program()));
    lines
}

/// This binary's path, as a second terminal can run it.
pub fn this_program() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "isolab".into())
}

/// "sudo " when the runtime runs as root: the second terminal is most
/// likely a normal user's. Rootless, the container is the user's own.
pub fn sudo() -> &'static str {
    if nix::unistd::geteuid().is_root() {
        "sudo "
    } else {
        ""
    }
}

/// An nsenter line into `pid`'s namespaces running `what`. Rootless, the
/// user enters the container's user namespace first (the one that owns
/// the others) and keeps their own ids, which are root there.
pub fn nsenter(pid: Pid, what: &str) -> String {
    if nix::unistd::geteuid().is_root() {
        format!("sudo nsenter -t {pid} {what}")
    } else {
        format!("nsenter -t {pid} -U --preserve-credentials {what}")
    }
}

/// Print where the container is and wait for Enter (EOF also continues).
/// A forwarded signal instead ends the wait with [`Error::Interrupted`].
/// Call `signals::block` first.
pub fn pause(pid: Pid, extra: &[String]) -> Result<()> {
    let mut err = std::io::stderr().lock();
    let mut text = format!(
        "\npaused before exec: the container's first process is host PID {pid}\n\
         in a second terminal, try:\n"
    );
    for line in hints(pid, extra) {
        text.push_str(&format!("    {line}\n"));
    }
    text.push_str("press Enter to continue ");
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
    wait_for_line_or_signal()
}

fn wait_for_line_or_signal() -> Result<()> {
    let signals = SignalFd::with_flags(&crate::signals::watched(), SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::syscall("signalfd", e))?;
    let stdin = std::io::stdin();
    loop {
        let mut fds = [
            PollFd::new(stdin.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::syscall("poll", e)),
            Ok(_) => {}
        }
        let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
        if ready(&fds[1])
            && let Ok(Some(info)) = signals.read_signal()
        {
            let signal = nix::sys::signal::Signal::try_from(info.ssi_signo as i32)
                .unwrap_or(nix::sys::signal::Signal::SIGTERM);
            if signal != nix::sys::signal::Signal::SIGCHLD {
                return Err(Error::Interrupted(signal));
            }
            // SIGCHLD: the child died while paused; go on, and the next
            // sync point reports it.
            return Ok(());
        }
        if ready(&fds[0]) {
            let mut line = String::new();
            stdin
                .lock()
                .read_line(&mut line)
                .map_err(|e| Error::io("reading Enter from stdin", e))?;
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_pid() {
        let h = hints(Pid::from_raw(4711), &["extra 4711".into()]);
        assert!(h.len() >= 4 && h.len() <= 6, "{h:?}");
        assert!(h.iter().all(|l| l.contains("4711")), "{h:?}");
        assert!(h.iter().any(|l| l.contains("nsenter -t 4711 ")));
    }
}
