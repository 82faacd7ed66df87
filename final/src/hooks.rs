//! config.json's hooks: programs the runtime runs at fixed points of the
//! lifecycle, with the container's state on their stdin. Engines hang
//! their work there: docker's networking joins the container's network
//! namespace from a hook (libnetwork's `setkey`), NVIDIA's toolkit adds
//! devices from one.
//!
//! | hook | when | where |
//! |---|---|---|
//! | `prestart` (deprecated), `createRuntime` | during `create`, namespaces and mounts made, before pivot_root | the runtime's namespaces |
//! | `createContainer` | right after them | the container's mount namespace, before pivot_root |
//! | `startContainer` | during `start`, before the command's execve | inside the container |
//! | `poststart` | after `start` released the command | the runtime's namespaces |
//! | `poststop` | during `delete` | the runtime's namespaces |
//!
//! The first four failing fail their operation; `poststart` and `poststop`
//! only warn (runtime spec, config.md "POSIX-platform Hooks").

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::explain;

/// One hook of config.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub path: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    /// Seconds; none: no limit.
    #[serde(default)]
    pub timeout: Option<u64>,
}

/// Every hook list of config.json, in the spec's names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hooks {
    #[serde(default)]
    pub prestart: Vec<Hook>,
    #[serde(default)]
    pub create_runtime: Vec<Hook>,
    #[serde(default)]
    pub create_container: Vec<Hook>,
    #[serde(default)]
    pub start_container: Vec<Hook>,
    #[serde(default)]
    pub poststart: Vec<Hook>,
    #[serde(default)]
    pub poststop: Vec<Hook>,
}

/// The hook kinds, as config.json names them.
pub const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

// ANCHOR: run_all
/// Run `hooks` in order, each with `state` (JSON) on its stdin; the first
/// failure stops them and is the error.
pub fn run_all(kind: &str, hooks: &[Hook], state: &str) -> Result<()> {
    for hook in hooks {
        run(kind, hook, state)?;
    }
    Ok(())
}

/// [`run_all`] for the hooks that only warn: every one runs.
pub fn run_all_warning(kind: &str, hooks: &[Hook], state: &str) {
    for hook in hooks {
        if let Err(e) = run(kind, hook, state) {
            crate::cli::warn(&format!("isolab: warning: {e}"));
        }
    }
}

fn run(kind: &str, hook: &Hook, state: &str) -> Result<()> {
    let fail = |why: String| Error::Request(format!("{kind} hook {}: {why}", hook.path));
    let mut cmd = Command::new(&hook.path);
    if let Some((arg0, rest)) = hook.args.split_first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, arg0);
        cmd.args(rest);
    }
    cmd.env_clear();
    for kv in &hook.env {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    // Only stdio reaches a hook: not the engine's preserved fds, nor any
    // other the runtime holds (a hook runs on the host, and some in the
    // container's namespaces; CVE-2024-21626 was a leaked directory fd).
    // SAFETY: close_range(2) in the child before exec only changes flags
    // of the child's fds; it is async-signal-safe.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, crate::exec::cloexec_above_stderr);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    explain::note(&format!("{kind} hook: {} {:?}", hook.path, hook.args));
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state.as_bytes());
    }
    let limit = hook.timeout.map(Duration::from_secs);
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| fail(e.to_string()))? {
            return if status.success() {
                Ok(())
            } else {
                Err(fail(format!("exited with {status}")))
            };
        }
        if limit.is_some_and(|l| started.elapsed() > l) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!(
                "still running after its timeout of {} s: killed",
                hook.timeout.unwrap_or(0)
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
// ANCHOR_END: run_all

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(script: &str, timeout: Option<u64>) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            env: vec!["GREETING=hi".into()],
            timeout,
        }
    }

    #[test]
    fn a_hook_reads_the_state_and_its_env_and_fails_by_status() {
        let out = std::env::temp_dir().join(format!("isolab-hook-{}", std::process::id()));
        let script = format!("read -r line; echo \"$GREETING $line\" > {}", out.display());
        run_all("poststart", &[hook(&script, None)], "{\"id\":\"x\"}\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "hi {\"id\":\"x\"}\n"
        );
        std::fs::remove_file(&out).unwrap();
        let err = run_all("createRuntime", &[hook("exit 3", None)], "").unwrap_err();
        assert!(
            err.to_string()
                .contains("createRuntime hook /bin/sh: exited with exit status: 3"),
            "{err}"
        );
        let err = run_all("createRuntime", &[hook("sleep 5", Some(0))], "").unwrap_err();
        assert!(err.to_string().contains("timeout"), "{err}");
    }
}
