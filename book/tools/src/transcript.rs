//! Transcripts: terminal sessions recorded from the real binaries.
//!
//! A transcript is a `.console` file under `book/transcripts/`: lines that
//! start with `$ ` are commands, the lines after each are its output (stdout
//! and stderr together, as a terminal shows them). Recording runs every
//! command with bash, as root, with the step binaries first on PATH and
//! NO_COLOR set, and writes the redacted output back. Checking does the same
//! and compares: any difference is drift, and fails the test.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::redact::Redactor;

/// How long one command may run before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The commands of a transcript, in order.
pub fn commands(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("$ "))
        .map(str::to_string)
        .collect()
}

/// Run one command line with bash, in the workspace root; stdout and
/// stderr in one stream.
pub fn run(command: &str, bin_dir: &Path) -> Result<String, String> {
    let path = format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        bin_dir.display()
    );
    // `exec 2>&1` sends stderr down the same pipe, so lines keep the order
    // in which they were written, as on a terminal.
    let mut cmd = Command::new("bash");
    // No supplementary groups, whoever started us: under sudo root has
    // group 0, in CI none, and the inspector shows them.
    // SAFETY: setgroups(2) only, in the forked child before exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            if libc::setgroups(0, std::ptr::null()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .arg("-c")
        .arg(format!("exec 2>&1\n{command}"))
        .env_clear()
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8")
        .env("HOME", "/root")
        .current_dir(crate::book_dir().parent().unwrap_or(Path::new("/")))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawning bash: {e}"))?;
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let started = Instant::now();
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("`{command}` still running after {TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = reader
        .join()
        .map_err(|_| "reader thread panicked".to_string())?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Run every command of `text` and build the transcript, redacted.
pub fn render(text: &str, bin_dir: &Path) -> Result<String, String> {
    let mut redactor = Redactor::for_this_host();
    let mut out = String::new();
    for command in commands(text) {
        out.push_str(&format!("$ {command}\n"));
        let output = run(&command, bin_dir)?;
        out.push_str(&redactor.text(&output));
        if !output.is_empty() && !output.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Where the step binaries are: beside this program (`target/<profile>/`),
/// or one folder up for a test binary (`target/<profile>/deps/`).
pub fn bin_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    for step in ["step01-clone", "step02-pid-ns"] {
        if !dir.join(step).exists() {
            return Err(format!(
                "{step} is not built in {}: run `cargo build --workspace` first",
                dir.display()
            ));
        }
    }
    Ok(dir)
}

/// Every transcript of the book recorded on the host (not those of the
/// VM guest, see [`vm`]).
pub fn all() -> Vec<PathBuf> {
    let vm = vm_dir();
    crate::files_with_suffix(&crate::book_dir().join("transcripts"), ".console")
        .into_iter()
        .filter(|p| !p.starts_with(&vm))
        .collect()
}

/// Transcripts of the CI's VM guest (AppArmor, SELinux: LSMs this host may
/// not run): `.ci/vm/run` renders them there with `transcripts render`
/// and compares, or, with ISOLAB_VM_RECORD=1, stores them.
pub fn vm() -> Vec<PathBuf> {
    crate::files_with_suffix(&vm_dir(), ".console")
}

fn vm_dir() -> PathBuf {
    crate::book_dir().join("transcripts/vm")
}

/// Re-run one transcript and compare; the first differing line on drift.
pub fn check(path: &Path, bin_dir: &Path) -> Result<(), String> {
    let stored = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let fresh = render(&stored, bin_dir)?;
    if fresh == stored {
        return Ok(());
    }
    let (stored_lines, fresh_lines): (Vec<&str>, Vec<&str>) =
        (stored.lines().collect(), fresh.lines().collect());
    let n = stored_lines
        .iter()
        .zip(&fresh_lines)
        .position(|(a, b)| a != b)
        .unwrap_or(stored_lines.len().min(fresh_lines.len()));
    Err(format!(
        "{} drifted at line {}:\n  stored: {:?}\n  now:    {:?}\nre-record with: cargo run -p isolab-book --bin transcripts -- record",
        path.display(),
        n + 1,
        stored_lines.get(n).unwrap_or(&"<end>"),
        fresh_lines.get(n).unwrap_or(&"<end>"),
    ))
}

/// On a machine whose [`Profile`](crate::profile::Profile) differs from
/// the recording one: re-run one transcript and fail only on what is wrong
/// anywhere (a command that hangs, a panic).
pub fn check_runs(path: &Path, bin_dir: &Path) -> Result<(), String> {
    let stored = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let fresh = render(&stored, bin_dir).map_err(|e| format!("{}: {e}", path.display()))?;
    match fresh.lines().find(|l| l.contains("panicked at")) {
        Some(line) => Err(format!("{}: a binary panicked: {line}", path.display())),
        None => Ok(()),
    }
}

/// Check every transcript: exactly on a machine like the recording one,
/// by [`check_runs`] elsewhere. Returns the problems, and the profile
/// differences that made the check a lenient one (empty when exact).
pub fn check_all(files: &[PathBuf], bin_dir: &Path) -> (Vec<String>, Vec<String>) {
    let here = crate::profile::Profile::this_host();
    let differences = crate::profile::Profile::stored()
        .map(|stored| here.differences(&stored))
        .unwrap_or_default();
    let problems = files
        .iter()
        .filter_map(|f| {
            if differences.is_empty() {
                check(f, bin_dir).err()
            } else {
                check_runs(f, bin_dir).err()
            }
        })
        .collect();
    (problems, differences)
}

/// Re-run one transcript and write the result back.
pub fn record(path: &Path, bin_dir: &Path) -> Result<(), String> {
    let stored = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let fresh = render(&stored, bin_dir)?;
    std::fs::write(path, fresh).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_dollar_lines() {
        let text = "$ echo a\na\n$ echo b; echo c\nb\nc\n";
        assert_eq!(commands(text), vec!["echo a", "echo b; echo c"]);
    }

    #[test]
    fn render_merges_stderr_in_order() {
        let out = render(
            "$ echo out; echo err >&2; echo out2\n",
            Path::new("/nonexistent"),
        )
        .unwrap();
        assert_eq!(out, "$ echo out; echo err >&2; echo out2\nout\nerr\nout2\n");
    }
}
