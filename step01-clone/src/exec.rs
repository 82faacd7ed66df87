//! execve(2): replace the runtime's code in the child with the user's command.
//!
//! What survives exec is what the command inherits, so this is where the
//! runtime tidies up what it changed for itself: the signal mask, ignored
//! signals, and open file descriptors.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal};

use crate::error::{EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_RUNTIME, Error, Result};
use crate::explain;

/// Exec `argv`, searching PATH for a bare name like a shell does. Returns
/// only on failure: the error carries docker's exit code for it, 127 not
/// found, 126 not executable.
pub fn execvp(argv: &[String]) -> Error {
    execvp_then(argv, &mut || Ok(()))
}

// ANCHOR: before_exec
/// What a step runs in the child as the last thing before execve(2), after
/// the runtime's own tidying (fds, signal mask); only the narration of the
/// execve, the SIGPIPE reset and the execve itself follow. Step 8
/// installs its seccomp filter here, so the filter need not allow the
/// runtime's own calls, and Landlock goes just before it. A trap for that
/// step: without no_new_privs, installing a filter needs CAP_SYS_ADMIN,
/// which step 6 has dropped by then; no_new_privs is what makes it legal.
pub type BeforeExec<'a> = &'a mut dyn FnMut() -> Result<()>;
// ANCHOR_END: before_exec

/// [`execvp`], with `before` run right before execve(2).
pub fn execvp_then(argv: &[String], before: BeforeExec<'_>) -> Error {
    match try_execvp(argv, before) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn try_execvp(argv: &[String], before: BeforeExec<'_>) -> Result<std::convert::Infallible> {
    let cargs: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::exec("command contains a NUL byte", EXIT_RUNTIME))?;
    if cargs.is_empty() {
        return Err(Error::exec("no command given", EXIT_RUNTIME));
    }
    let path = search_path(&argv[0])?;
    let cpath = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::exec("command contains a NUL byte", EXIT_RUNTIME))?;

    prepare_inheritance()?;
    before()?;
    // No "= result": on success execve does not return to say so.
    explain::call(&format!(
        "execve({}, {})",
        explain::quoted(&path.display().to_string()),
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
    // execv, not glibc's execvp: on ENOEXEC execvp runs the file with
    // /bin/sh, so a binary for another architecture would come out as shell
    // errors and "not found". The kernel's answer is the honest one.
    let errno = nix::unistd::execv(&cpath, &cargs).unwrap_err();
    Err(exec_error(&argv[0], &path, errno))
}

/// Where `name` is: itself when it has a `/`, else the first executable
/// file of that name in a directory of PATH (this process's, which from
/// step 3 on is the container's). Not found is 127, found but not
/// executable 126, as a shell says.
pub fn search_path(name: &str) -> Result<PathBuf> {
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    let mut not_executable = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(name);
        match nix::unistd::access(&candidate, nix::unistd::AccessFlags::X_OK) {
            Ok(()) if candidate.is_file() => return Ok(candidate),
            Ok(()) => {}
            Err(Errno::EACCES) if candidate.is_file() => not_executable = Some(candidate),
            Err(_) => {}
        }
    }
    match not_executable {
        Some(p) => Err(exec_error(name, &p, Errno::EACCES)),
        None => Err(Error::exec(
            format!(
                "{name}: command not found in any directory of PATH: check the name, or give its full path"
            ),
            EXIT_NOT_FOUND,
        )),
    }
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
    cloexec_above_stderr()
        .map_err(|_| Error::syscall("close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)", Errno::last()))?;
    explain::syscall("close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)", 0);
    Ok(())
}

/// close_range(3, ~0U, CLOSE_RANGE_CLOEXEC): every fd above stderr closes
/// at the next execve(2). One system call, async-signal-safe, so it also
/// serves between fork and exec (the runtime's hooks).
pub fn cloexec_above_stderr() -> std::io::Result<()> {
    // SAFETY: close_range only changes fd flags of this process.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}
// ANCHOR_END: inheritance

/// The one-line message and exit code for a failed exec of `path` (what
/// `program` resolved to).
pub fn exec_error(program: &str, path: &Path, errno: Errno) -> Error {
    let shown = path.display();
    match errno {
        // The file is there, so what is missing is what it names: a
        // script's interpreter, or an ELF program's dynamic loader.
        Errno::ENOENT if path.is_file() => Error::exec(
            match interpreter(path) {
                Some(interp) => format!(
                    "{shown}: its interpreter {interp} (from the #! line) is not in the container (execve: ENOENT)"
                ),
                None => format!(
                    "{shown}: exists, but the dynamic loader it names (its ELF PT_INTERP) is not in the container (execve: ENOENT): is it built for this image?"
                ),
            },
            EXIT_NOT_FOUND,
        ),
        Errno::ENOENT => Error::exec(
            format!(
                "{program}: command not found (execve: ENOENT): check the name and PATH inside the container"
            ),
            EXIT_NOT_FOUND,
        ),
        Errno::ENOEXEC => Error::exec(
            format!(
                "{shown}: exec format error (execve: ENOEXEC): not a program for this machine's architecture, nor a script starting with #!"
            ),
            EXIT_NOT_EXECUTABLE,
        ),
        Errno::EPERM => Error::exec(
            format!(
                "{program}: not permitted to execute (execve: EPERM): it needs privileges the container may not have (file capabilities beyond its bounding set?)"
            ),
            EXIT_NOT_EXECUTABLE,
        ),
        Errno::EACCES | Errno::EISDIR => Error::exec(
            format!(
                "{shown}: not executable (execve: {errno}): check its mode, and that it is a file"
            ),
            EXIT_NOT_EXECUTABLE,
        ),
        _ => Error::exec(
            format!("{shown}: execve failed: {errno}"),
            EXIT_NOT_EXECUTABLE,
        ),
    }
}

/// The interpreter a `#!` line names, if `path` starts with one.
fn interpreter(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = String::from_utf8_lossy(line.split(|&b| b == b'\n').next()?).into_owned();
    line.split_whitespace().next().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_error_codes() {
        let nope = Path::new("/no/such/file");
        assert_eq!(exec_error("nope", nope, Errno::ENOENT).exit_code(), 127);
        assert_eq!(
            exec_error("/etc", Path::new("/etc"), Errno::EACCES).exit_code(),
            126
        );
        assert_eq!(exec_error("x", nope, Errno::ENOEXEC).exit_code(), 126);
        assert!(
            exec_error("nope", nope, Errno::ENOENT)
                .to_string()
                .contains("not found")
        );
    }

    #[test]
    fn a_missing_interpreter_is_named() {
        let dir = std::env::temp_dir().join(format!("isolab-interp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("s");
        std::fs::write(&script, "#!/no/such/python3 -u\nprint(1)\n").unwrap();
        let e = exec_error("s", &script, Errno::ENOENT);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(e.to_string().contains("/no/such/python3"), "{e}");
        assert_eq!(e.exit_code(), 127);
    }

    #[test]
    fn path_search_finds_or_says_why_not() {
        let sh = search_path("sh").unwrap();
        assert!(sh.ends_with("sh"), "{sh:?}");
        assert_eq!(search_path("/x/y").unwrap(), PathBuf::from("/x/y"));
        let e = search_path("no-such-command-isolab").unwrap_err();
        assert_eq!(e.exit_code(), 127);
    }
}
