//! The narrator behind `--explain`: one line per kernel-facing action, as it
//! happens, naming the syscall, its arguments and its result.
//!
//! Lines go to stderr so the command's own stdout stays clean. Each line says
//! which process made the call (`runtime`, `child`, `init`, …), because after
//! clone(2) the story is told by two processes at once.
//!
//! The state is process-global on purpose: the child is a copy of the
//! runtime made by clone(2), so it inherits whether narration is on.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

use colored::Colorize;

static ENABLED: AtomicBool = AtomicBool::new(false);
static ROLE: AtomicUsize = AtomicUsize::new(0);

/// Which process is speaking. Kept as an index so a cloned child can switch
/// it without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The runtime on the host, before and after the container.
    Runtime = 0,
    /// The cloned child, until it execs the command.
    Child = 1,
    /// PID 1 of a new PID namespace (step02 on).
    Init = 2,
    /// The process that will exec the user's command (step02 on).
    Command = 3,
}

const ROLE_NAMES: [&str; 4] = ["runtime", "child", "init", "command"];

/// Turn narration on or off for this process and every process it clones.
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Is `--explain` on?
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Set who is speaking, right after a clone or fork.
pub fn set_role(role: Role) {
    ROLE.store(role as usize, Ordering::Relaxed);
}

/// Narrate a syscall and its result: `sethostname("step01") = 0`.
pub fn syscall(call: &str, result: impl std::fmt::Display) {
    if enabled() {
        emit(&format!("{call} = {result}"));
    }
}

/// Narrate a call whose result can't be shown (execve succeeds by not
/// returning).
pub fn call(call: &str) {
    if enabled() {
        emit(call);
    }
}

/// Narrate something that is not a single syscall (a decision, a wait).
pub fn note(text: &str) {
    if enabled() {
        emit(&format!("# {text}"));
    }
}

/// While set, this process's narration waits in [`HELD`] instead of being
/// written: the child holds its lines until sync 0, so what it does before
/// (closing the runtime's fds) can't print ahead of the runtime's own
/// narration of the clone.
static HOLD: AtomicBool = AtomicBool::new(false);
static HELD: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// Child, first thing: hold narration until [`release`].
pub fn hold() {
    HOLD.store(true, Ordering::Relaxed);
}

/// Child, at sync 0: write what was held, and narrate directly from now on.
pub fn release() {
    HOLD.store(false, Ordering::Relaxed);
    let held = std::mem::take(&mut *HELD.lock().unwrap_or_else(|e| e.into_inner()));
    if !held.is_empty() {
        write_out(&held);
    }
}

/// Where narration goes: an fd (2, stderr, unless [`log_to`] chose a
/// file), shared by the runtime and every process it clones.
static SINK: AtomicI32 = AtomicI32::new(2);
static JSON: AtomicBool = AtomicBool::new(false);

/// Narrate into `file` instead of stderr (`--log`), as text or as one JSON
/// object per line (`--log-format json`, for tools, like runc's). The fd
/// stays open for the life of the process and its clones (the init keeps
/// it, see `init::close_inherited_fds`); it is close-on-exec, so the
/// command never inherits it.
pub fn log_to(file: std::fs::File, json: bool) {
    use std::os::fd::IntoRawFd;
    SINK.store(file.into_raw_fd(), Ordering::Relaxed);
    JSON.store(json, Ordering::Relaxed);
}

/// The narration's fd when it is not stderr, for code that closes fds.
pub fn log_fd() -> Option<std::os::fd::RawFd> {
    Some(SINK.load(Ordering::Relaxed)).filter(|&fd| fd != 2)
}

fn emit(line: &str) {
    let role = ROLE_NAMES[ROLE.load(Ordering::Relaxed).min(ROLE_NAMES.len() - 1)];
    let text = if JSON.load(Ordering::Relaxed) {
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        format!(
            "{}\n",
            serde_json::json!({ "time": time, "pid": std::process::id(), "role": role, "msg": line })
        )
    } else {
        let prefix = format!("[{role:>7}]");
        if log_fd().is_none() && use_color(&std::io::stderr()) {
            format!("{} {}\n", prefix.dimmed(), line.cyan())
        } else {
            format!("{prefix} {line}\n")
        }
    };
    if HOLD.load(Ordering::Relaxed) {
        HELD.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_str(&text);
        return;
    }
    write_out(&text);
}

/// One write per call, so lines from the runtime and the child don't mix
/// mid-line when both narrate at once.
fn write_out(text: &str) {
    let fd = SINK.load(Ordering::Relaxed);
    // SAFETY: the fd is stderr or the log file, open for the life of the
    // process; ManuallyDrop keeps this borrowed File from closing it.
    let mut out = std::mem::ManuallyDrop::new(unsafe {
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd)
    });
    let _ = out.write_all(text.as_bytes());
}

/// Color only on a terminal, and never when NO_COLOR is set (no-color.org).
pub fn use_color(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The CLONE_NEW* flags clone(2) takes, by name, in the kernel's spelling.
/// CLONE_NEWTIME (0x80) is not one of them: it lies in clone(2)'s low
/// byte, the exit signal, so only unshare(2), setns(2) and clone3(2) take
/// it (see [`unshare_flags`]).
const CLONE_FLAG_NAMES: [(libc::c_int, &str); 7] = [
    (libc::CLONE_NEWNS, "CLONE_NEWNS"),
    (libc::CLONE_NEWCGROUP, "CLONE_NEWCGROUP"),
    (libc::CLONE_NEWUTS, "CLONE_NEWUTS"),
    (libc::CLONE_NEWIPC, "CLONE_NEWIPC"),
    (libc::CLONE_NEWUSER, "CLONE_NEWUSER"),
    (libc::CLONE_NEWPID, "CLONE_NEWPID"),
    (libc::CLONE_NEWNET, "CLONE_NEWNET"),
];

/// Format clone(2) flags as the man page writes them:
/// `CLONE_NEWUTS|CLONE_NEWPID|SIGCHLD`. The low byte is the exit signal.
pub fn clone_flags(flags: libc::c_int) -> String {
    names(flags & !0xff, &CLONE_FLAG_NAMES, flags & 0xff)
}

/// Format unshare(2) flags, which have no signal byte:
/// `CLONE_NEWNET|CLONE_NEWTIME`.
pub fn unshare_flags(flags: libc::c_int) -> String {
    let mut with_time = CLONE_FLAG_NAMES.to_vec();
    with_time.push((libc::CLONE_NEWTIME, "CLONE_NEWTIME"));
    names(flags, &with_time, 0)
}

fn names(flags: libc::c_int, known: &[(libc::c_int, &str)], signal: libc::c_int) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut rest = flags;
    for &(bit, name) in known {
        if rest & bit != 0 {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if signal != 0 {
        parts.push(signal_name(signal));
    }
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}

/// `SIGTERM` for 15; a number when the signal has no name we know.
pub fn signal_name(signal: libc::c_int) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| signal.to_string())
}

/// A string argument as strace shows it: quoted, with escapes.
pub fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// An argv as strace shows it: `["sh", "-c", "echo hi"]`.
pub fn argv(args: &[String]) -> String {
    let inner: Vec<String> = args.iter().map(|a| quoted(a)).collect();
    format!("[{}]", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_flags_in_man_page_order() {
        let flags = libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::SIGCHLD;
        assert_eq!(clone_flags(flags), "CLONE_NEWUTS|CLONE_NEWPID|SIGCHLD");
    }

    #[test]
    fn clone_flags_all_seven_namespaces_clone_takes() {
        let all = CLONE_FLAG_NAMES.iter().fold(0, |acc, (bit, _)| acc | bit);
        let text = clone_flags(all | libc::SIGCHLD);
        assert_eq!(text.split('|').count(), 8, "{text}");
        assert!(text.ends_with("|SIGCHLD") && !text.contains("0x"), "{text}");
        // 0x80 in clone(2)'s flags is an exit signal, not CLONE_NEWTIME.
        assert!(!text.contains("NEWTIME"), "{text}");
    }

    #[test]
    fn unshare_flags_name_the_time_namespace() {
        assert_eq!(
            unshare_flags(libc::CLONE_NEWTIME | libc::CLONE_NEWNET),
            "CLONE_NEWNET|CLONE_NEWTIME"
        );
    }

    #[test]
    fn unknown_bits_are_shown_in_hex() {
        assert_eq!(clone_flags(libc::CLONE_VM | libc::SIGCHLD), "0x100|SIGCHLD");
        assert_eq!(clone_flags(0), "0");
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
        assert_eq!(signal_name(200), "200");
    }

    #[test]
    fn argv_is_quoted_like_strace() {
        let args = vec!["sh".to_string(), "-c".into(), "echo \"hi\"".into()];
        assert_eq!(argv(&args), r#"["sh", "-c", "echo \"hi\""]"#);
    }
}
