//! AppArmor: the host's administrator confines a program by path.
//!
//! Landlock is a process fencing itself in; AppArmor is policy loaded into
//! the kernel by root (`apparmor_parser`), which then mediates every file
//! open, mount, signal and ptrace of the processes it labels. Ubuntu,
//! Debian and SUSE turn it on; docker runs each container in its
//! `docker-default` profile. This step runs its containers in
//! `isolab-default` (the text is `profiles/isolab-default`), or in a
//! profile the user loaded, or in none.
//!
//! A process does not pick its label for itself right away: writing
//! `exec NAME` to /proc/thread-self/attr/apparmor/exec asks for NAME at
//! the next execve(2). The init writes it; its fork of the command keeps
//! the request and the command's execve applies it, so the init (the
//! runtime's code) stays unconfined and everything the image runs is
//! confined from its first instruction.

use std::io::Write;

use crate::error::{Error, Result};
use crate::explain;
use crate::security_opt::Key;
use crate::state::State;

/// `--security-opt apparmor=`.
pub const APPARMOR: Key = Key {
    name: "apparmor",
    usage: "apparmor=PROFILE|unconfined",
};

/// The profile's name, and its text as loaded.
pub const DEFAULT: &str = "isolab-default";
pub const PROFILE: &str = include_str!("../profiles/isolab-default");

/// Where the kernel lists the loaded profiles, one `NAME (MODE)` a line.
const PROFILES: &str = "/sys/kernel/security/apparmor/profiles";

/// Whether AppArmor is the kernel's active LSM (compiled in is not enough:
/// the boot's `lsm=` or `security=` may have left it out).
pub fn active() -> bool {
    let enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    // securityfs lists the active LSMs; it may not be mounted.
    let listed = std::fs::read_to_string("/sys/kernel/security/lsm")
        .map(|s| s.split(',').any(|l| l.trim() == "apparmor"))
        .unwrap_or(true);
    enabled && listed
}

// ANCHOR: prepare
/// Runtime side, before the clone: the profile the command is to run in
/// (`None`: unconfined), loading isolab-default if it is missing or older
/// than this program's text. `value` is `--security-opt apparmor=`'s.
pub fn prepare(value: Option<&str>, state: &State) -> Result<Option<String>> {
    if let Some(name) = value {
        check_name(name)?;
    }
    match value {
        Some("unconfined") => Ok(None),
        None if !active() => {
            explain::note("apparmor: not active on this host, so no profile");
            Ok(None)
        }
        Some(name) if !active() => Err(Error::Request(format!(
            "apparmor={name}: AppArmor is not active on this host (/sys/module/apparmor/parameters/enabled): use apparmor=unconfined, or boot with apparmor=1"
        ))),
        // Rootless, with the profile not loaded yet: only root can load
        // it. Asked for by name, that is an error; by default, a note.
        None if loaded(DEFAULT).is_none() && !crate::pseudofs::real_root() => {
            crate::cli::warn(&format!(
                "note: apparmor: {DEFAULT} is not loaded and only root can load it: running without it (run step09-lsm once as root to load it)"
            ));
            Ok(None)
        }
        None | Some(DEFAULT) => {
            load_default(state)?;
            Ok(Some(DEFAULT.to_string()))
        }
        Some(name) if loaded(name).is_some() => Ok(Some(name.to_string())),
        Some(name) => Err(Error::Request(format!(
            "apparmor profile {name} is not loaded: load it with apparmor_parser -r FILE (see {PROFILES})"
        ))),
    }
}
// ANCHOR_END: prepare

/// A name the kernel would take after `exec `: printable, no spaces.
fn check_name(name: &str) -> Result<()> {
    if name.chars().all(|c| c.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(Error::BadFlag(format!(
            "--security-opt apparmor={name:?}: a profile name has no spaces or control characters"
        )))
    }
}

/// The mode `name` is loaded in (`enforce`, `complain`), if it is loaded.
pub fn loaded(name: &str) -> Option<String> {
    let list = std::fs::read_to_string(PROFILES).ok()?;
    list.lines().find_map(|line| {
        let (n, mode) = line.rsplit_once(" (")?;
        (n == name).then(|| mode.trim_end_matches(')').to_string())
    })
}

// ANCHOR: load
/// Load isolab-default with `apparmor_parser -r` unless the kernel already
/// has this text of it: a stamp under `<lib>/apparmor` records the hash of
/// the text last loaded, and a reboot empties the kernel's list. Most
/// starts only read the list (apparmor_parser takes ~50 ms).
fn load_default(state: &State) -> Result<()> {
    let stamp = state.lib.join("apparmor").join(format!("{DEFAULT}.loaded"));
    let hash = format!("{:016x}", crate::cache::key(&[PROFILE]));
    // Rootless, a loaded profile is used as it is: only root could
    // replace it, and the stamp is root's.
    let current = std::fs::read_to_string(&stamp).is_ok_and(|s| s == hash);
    if loaded(DEFAULT).is_some() && (current || !crate::pseudofs::real_root()) {
        explain::note(&format!(
            "apparmor: {DEFAULT} is loaded (stamp {})",
            stamp.display()
        ));
        return Ok(());
    }
    if !crate::pseudofs::real_root() {
        return Err(Error::Request(format!(
            "apparmor: {DEFAULT} is not loaded and only root can load it: run step09-lsm once as root, or use --security-opt apparmor=unconfined"
        )));
    }
    explain::syscall(&format!("apparmor_parser -r  # {DEFAULT}, from stdin"), 0);
    let mut parser = std::process::Command::new("apparmor_parser")
        .arg("-r")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::Request(format!(
                "apparmor: can't run apparmor_parser ({e}): install the apparmor package, or use --security-opt apparmor=unconfined"
            ))
        })?;
    if let Some(mut stdin) = parser.stdin.take() {
        let _ = stdin.write_all(PROFILE.as_bytes()); // dropped: EOF
    }
    let out = parser
        .wait_with_output()
        .map_err(|e| Error::io("waiting for apparmor_parser", e))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Request(format!(
            "apparmor_parser refused {DEFAULT}: {}",
            why.lines().next().unwrap_or("no reason given")
        )));
    }
    // Best effort: without the stamp the next start loads it again.
    if let Some(dir) = stamp.parent() {
        let _ = std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&stamp, &hash));
    }
    Ok(())
}
// ANCHOR_END: load

// ANCHOR: exec_into
/// Container side, in the init: ask for `profile` at the next execve(2).
/// Kernels since 5.8 have AppArmor's own attr directory (it can share
/// /proc/PID/attr with other LSMs); older ones only the common file.
pub fn exec_into(profile: &str) -> Result<()> {
    let request = format!("exec {profile}");
    // through a checked /proc, crossing no mount (see proc_handle.rs)
    let proc = crate::proc_handle::ProcHandle::open()?;
    for file in ["thread-self/attr/apparmor/exec", "thread-self/attr/exec"] {
        let mut f = match proc.open_write(file) {
            Ok(f) => f,
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(_) => return proc.write(file, &request), // its error says why
        };
        explain::syscall(&format!("write(/proc/{file}, {request:?})"), 0);
        return f
            .write_all(request.as_bytes())
            .map_err(|e| Error::io(format!("asking AppArmor for {profile} (/proc/{file})"), e));
    }
    Err(Error::Request(
        "apparmor: this kernel's /proc has no attr/exec for the profile".into(),
    ))
}
// ANCHOR_END: exec_into

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_is_named_as_the_code_expects_and_has_no_include() {
        assert!(
            PROFILE.contains(&format!("profile {DEFAULT} ")),
            "{PROFILE}"
        );
        // nothing from /etc/apparmor.d, which a host may not have
        let rules = PROFILE
            .lines()
            .filter(|l| !l.trim_start().starts_with("# "));
        assert!(rules.clone().all(|l| !l.contains("include")), "{PROFILE}");
        assert!(rules.clone().all(|l| !l.contains("@{")), "no variables");
        // the peers its signal and ptrace rules name
        assert!(PROFILE.contains(&format!("peer={DEFAULT},")));
    }

    #[test]
    fn profile_names_with_spaces_are_refused() {
        assert!(check_name("isolab-default").is_ok());
        assert!(check_name("my/profile").is_ok());
        for bad in ["a b", "a\nb", "tab\there"] {
            assert!(matches!(check_name(bad), Err(Error::BadFlag(_))), "{bad:?}");
        }
    }
}
