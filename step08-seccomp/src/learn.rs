//! Learn mode: `--seccomp-learn OUT.json -- CMD` writes the smallest OCI
//! profile under which CMD, doing what it did this time, still works.
//!
//! The filter notifies the runtime of every syscall (except the few the
//! command's process makes to hand over the listener and to exec, which it
//! allows and the profile gets anyway); the runtime writes each name down
//! and lets the call run. At the end it writes an OCI `linux.seccomp`
//! object: deny by default, allow what was seen. Its limit is its method:
//! what the command did not do this time (an error path, a rare option) is
//! not in the profile, and is refused later.

use std::collections::BTreeSet;
use std::path::Path;

use libseccomp::{ScmpAction, ScmpFilterContext, ScmpSyscall};

use crate::error::{Error, Result};
use crate::explain;

/// Allowed without asking while learning, and always in the result: the
/// calls between installing the filter and execve (sending the listener,
/// narrating, resetting SIGPIPE) and execve itself.
pub const ALWAYS: [&str; 5] = ["sendmsg", "write", "rt_sigaction", "execve", "exit_group"];

// ANCHOR: learning_filter
/// The filter that asks the runtime about every other call.
pub fn learning_filter() -> Result<ScmpFilterContext> {
    let fail = |e: libseccomp::error::SeccompError| Error::Request(format!("libseccomp: {e}"));
    let mut ctx = ScmpFilterContext::new(ScmpAction::Notify).map_err(fail)?;
    for name in ALWAYS {
        if let Ok(syscall) = ScmpSyscall::from_name(name) {
            ctx.add_rule(ScmpAction::Allow, syscall).map_err(fail)?;
        }
    }
    Ok(ctx)
}
// ANCHOR_END: learning_filter

/// Write the learned profile: an OCI `linux.seccomp` object.
pub fn write_profile(out: &Path, seen: &BTreeSet<String>) -> Result<()> {
    let mut names: BTreeSet<String> = seen.clone();
    names.extend(ALWAYS.iter().map(|s| s.to_string()));
    let arch = if cfg!(target_arch = "x86_64") {
        "SCMP_ARCH_X86_64"
    } else {
        "SCMP_ARCH_AARCH64"
    };
    let json = serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::EPERM,
        "architectures": [arch],
        "syscalls": [{ "names": names, "action": "SCMP_ACT_ALLOW" }],
    });
    let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
    std::fs::write(out, text).map_err(|e| Error::io(format!("writing {}", out.display()), e))?;
    explain::note(&format!(
        "learned {} syscalls into {}",
        names.len(),
        out.display()
    ));
    crate::cli::warn(&format!(
        "seccomp-learn: {} syscalls written to {}",
        names.len(),
        out.display()
    ));
    Ok(())
}
