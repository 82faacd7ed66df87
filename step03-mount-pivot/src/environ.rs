//! The container's environment: its own, not the caller's.
//!
//! execve(2) passes an environment like it passes arguments, and a runtime
//! that execs the command with its own environ(7) hands the container
//! everything the caller had: tokens, SSH agent sockets, proxy settings,
//! and a PATH that names the host's directories. From step 3 on the
//! command runs in a root filesystem of its own, so it gets what docker
//! gives a container: a default PATH, HOSTNAME, HOME, TERM when there is a
//! terminal, and what the user passes with `-e`.
//!
//! The child replaces its process environment just before sync 1, so the
//! PATH that execvp(3) searches is the container's too.

use std::io::IsTerminal;

use crate::error::Result;
use crate::explain;

/// docker's default PATH for a Linux container.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// ANCHOR: for_container
/// The environment for the container's command, as `KEY=VALUE` strings:
/// the defaults, then `user` (`-e` flags) in order, a later one winning.
/// `uid` is who runs the command (HOME is /root for root, / otherwise).
pub fn for_container(user: &[String], hostname: &str, uid: u32) -> Vec<String> {
    let home = if uid == 0 { "/root" } else { "/" };
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
        format!("HOME={home}"),
    ];
    if std::io::stdin().is_terminal() {
        let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".into());
        env.push(format!("TERM={term}"));
    }
    for entry in user {
        // `-e KEY` passes the caller's value, or nothing if it has none.
        let entry = match entry.split_once('=') {
            Some(_) => entry.clone(),
            None => match std::env::var(entry) {
                Ok(value) => format!("{entry}={value}"),
                Err(_) => continue,
            },
        };
        let key = entry.split('=').next().unwrap_or_default().to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(entry);
    }
    env
}
// ANCHOR_END: for_container

/// clap's parser for `-e`: `KEY=VALUE`, or `KEY` alone to pass the
/// caller's value of KEY (docker's rule; left out when the caller has none).
pub fn parse_entry(arg: &str) -> std::result::Result<String, String> {
    let key = arg.split('=').next().unwrap_or_default();
    if key.is_empty() || arg.contains('\0') {
        return Err(format!(
            "{arg:?} is not an environment entry: use KEY=VALUE, or KEY to pass your value"
        ));
    }
    Ok(arg.to_string())
}

// ANCHOR: replace
/// Child: make `env` this process's whole environment (the command
/// inherits it through execvp(3), which also searches its PATH).
pub fn replace(env: &[String]) -> Result<()> {
    let old: Vec<std::ffi::OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    for key in old {
        // SAFETY: the child is single-threaded (a clone of a single-threaded
        // runtime), so nothing else reads the environment meanwhile.
        unsafe { std::env::remove_var(key) };
    }
    for entry in env {
        if let Some((key, value)) = entry.split_once('=') {
            // SAFETY: as above.
            unsafe { std::env::set_var(key, value) };
        }
    }
    explain::note(&format!(
        "environment: {} (none of the caller's)",
        env.iter()
            .filter_map(|e| e.split_once('=').map(|(k, _)| k))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    Ok(())
}
// ANCHOR_END: replace

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_user_entries_later_wins() {
        let env = for_container(&["A=1".into(), "HOME=/tmp".into(), "A=2".into()], "box", 0);
        assert!(env.contains(&format!("PATH={DEFAULT_PATH}")));
        assert!(env.contains(&"HOSTNAME=box".to_string()));
        assert!(env.contains(&"HOME=/tmp".to_string()));
        assert!(!env.contains(&"HOME=/root".to_string()));
        assert_eq!(env.iter().filter(|e| e.starts_with("A=")).count(), 1);
        assert!(env.contains(&"A=2".to_string()));
        assert!(for_container(&[], "x", 1000).contains(&"HOME=/".to_string()));
    }

    #[test]
    fn entries_are_checked() {
        assert_eq!(parse_entry("X=1=2").unwrap(), "X=1=2");
        assert!(parse_entry("=1").is_err());
        assert!(parse_entry("").is_err());
    }
}
