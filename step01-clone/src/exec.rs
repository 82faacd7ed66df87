//! execve(2): replace the runtime's code in the child with the user's command.
//!
//! What survives exec is what the command inherits, so this is where the
//! runtime tidies up what it changed for itself: the signal mask, ignored
//! signals, and open file descriptors.

use std::ffi::CString;

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal};

use crate::error::{EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_RUNTIME, Error, Result};
use crate::explain;

/// Exec `argv` (searching PATH like a shell). Returns only on failure: the
/// error carries docker's exit code for it, 127 not found, 126 not executable.
pub fn execvp(argv: &[String]) -> Error {
    match try_execvp(argv) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn try_execvp(argv: &[String]) -> Result<std::convert::Infallible> {
    let cargs: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Exec("command contains a NUL byte".into(), EXIT_RUNTIME))?;
    let Some(program) = cargs.first() else {
        return Err(Error::Exec("no command given".into(), EXIT_RUNTIME));
    };

    prepare_inheritance()?;
    // No "= result": on success execvp does not return to say so.
    explain::call(&format!(
        "execvp({}, {})",
        explain::quoted(&argv[0]),
        explain::argv(argv)
    ));
    // Rust sets SIGPIPE to "ignore" in every program it starts, and an
    // ignored signal stays ignored after exec: without this, `yes | head`
    // inside the container would never stop `yes` with SIGPIPE. Last, after
    // our own narration: with the default action, a narration line written
    // to a closed pipe (`--explain 2>&1 | head -1`) would kill us here.
    // SAFETY: restoring the default disposition installs no Rust handler.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }
        .map_err(|e| Error::syscall("signal(SIGPIPE, SIG_DFL)", e))?;
    let errno = nix::unistd::execvp(program, &cargs).unwrap_err();
    Err(exec_error(&argv[0], errno))
}

// ANCHOR: inheritance
/// Leave the command a clean process: the kernel keeps the signal mask, the
/// ignored signals and every fd without O_CLOEXEC across execve(2).
fn prepare_inheritance() -> Result<()> {
    // The runtime blocks the signals it forwards; the command must not
    // start with them blocked.
    SigSet::empty()
        .thread_swap_mask(SigmaskHow::SIG_SETMASK)
        .map_err(|e| Error::syscall("sigprocmask(SIG_SETMASK, [])", e))?;
    // Mark every fd above stderr close-on-exec, whatever opened it: a
    // leaked host fd (a directory, a socket) is a way out of the container
    // (runc's CVE-2024-21626). The sync socket is closed by this too, which
    // is what tells the runtime that exec succeeded.
    // SAFETY: close_range only changes fd flags of this process.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc != 0 {
        return Err(Error::syscall(
            "close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)",
            Errno::last(),
        ));
    }
    explain::syscall("close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)", 0);
    Ok(())
}
// ANCHOR_END: inheritance

/// The one-line message and exit code for a failed exec.
pub fn exec_error(program: &str, errno: Errno) -> Error {
    match errno {
        Errno::ENOENT => Error::Exec(
            format!(
                "{program}: command not found (execvp: ENOENT): check the name and PATH inside the container"
            ),
            EXIT_NOT_FOUND,
        ),
        Errno::EPERM => Error::Exec(
            format!(
                "{program}: not permitted to execute (execvp: EPERM): it needs privileges the container may not have (file capabilities beyond its bounding set?)"
            ),
            EXIT_NOT_EXECUTABLE,
        ),
        Errno::EACCES | Errno::ENOEXEC | Errno::EISDIR => Error::Exec(
            format!("{program}: not executable (execvp: {errno}): check its mode and format"),
            EXIT_NOT_EXECUTABLE,
        ),
        _ => Error::Exec(
            format!("{program}: execvp failed: {errno}"),
            EXIT_NOT_EXECUTABLE,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_error_codes() {
        assert_eq!(exec_error("nope", Errno::ENOENT).exit_code(), 127);
        assert_eq!(exec_error("/etc", Errno::EACCES).exit_code(), 126);
        assert!(
            exec_error("nope", Errno::ENOENT)
                .to_string()
                .contains("not found")
        );
    }
}
