//! Landlock: a process restricts its own access to files, by path.
//!
//! seccomp (step 8) sees syscall numbers and integer arguments, never a
//! path; capabilities and namespaces decide *whether* root may write a file,
//! not *which* files. Landlock (Linux 5.13) is the LSM an unprivileged
//! process can use on itself: it creates a ruleset of the access rights it
//! will handle, adds rules ("beneath this directory, these rights"), and
//! restricts itself; from then on, for it and everything it forks and
//! execs, a handled right is granted only beneath a rule that grants it.
//! Rules can only be added, never removed, so the container can't undo it,
//! whatever capabilities it holds.
//!
//! Each kernel supports an ABI version; newer ones handle more rights
//! (V2 Refer, V3 Truncate, V5 IoctlDev). The ruleset asks for what this
//! kernel can do and says what it could not enforce.

use std::path::PathBuf;

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, path_beneath_rules,
};

use crate::error::{Error, Result};
use crate::explain;

/// The newest ABI this code knows how to ask for.
const ABI_WANTED: ABI = ABI::V5;

// ANCHOR: writable
/// Where a container normally writes, so where the default ruleset lets it
/// write: scratch space (/tmp, /var/tmp, /dev/shm), run-time state (/run),
/// the home directories, and /var (logs, caches, package databases). The
/// image's programs and libraries (/usr, /bin, /lib, /etc…) stay read-only
/// even for root, and so do /proc and /sys.
pub const WRITABLE: [&str; 7] = [
    "/tmp", "/var", "/run", "/home", "/root", "/dev/shm", "/dev/pts",
];

/// /dev's devices may be written and their ioctls used (/dev/null, the
/// tty), but nothing may be created there: no rule grants MakeChar or
/// MakeBlock.
pub const DEVICES: &str = "/dev";
// ANCHOR_END: writable

/// The rules of one container: read-only and writable path lists.
#[derive(Debug, Clone)]
pub struct Rules {
    pub read_only: Vec<PathBuf>,
    pub writable: Vec<PathBuf>,
}

impl Rules {
    /// The default ruleset plus the user's `--landlock-ro`/`--landlock-rw`.
    pub fn default_with(ro: &[PathBuf], rw: &[PathBuf]) -> Rules {
        let mut read_only = vec![PathBuf::from("/")];
        read_only.extend(ro.iter().cloned());
        let mut writable: Vec<PathBuf> = WRITABLE.iter().map(PathBuf::from).collect();
        writable.extend(rw.iter().cloned());
        Rules {
            read_only,
            writable,
        }
    }
}

// ANCHOR: restrict
/// Restrict this process (and everything it execs) to `rules`: read and
/// execute everywhere beneath the read-only paths, everything beneath the
/// writable ones, nothing else of what the ABI handles. Paths are resolved
/// now, in the container's root. Returns the status line for the narrator.
pub fn restrict(rules: &Rules) -> Result<String> {
    // A rule for a path that is not there would be left out silently.
    for path in rules.read_only.iter().chain(&rules.writable) {
        if std::fs::symlink_metadata(path).is_err() && !is_default(path) {
            return Err(Error::Request(format!(
                "landlock: {} does not exist in the container: give a path of its image",
                path.display()
            )));
        }
    }
    let fail = |e: landlock::RulesetError| Error::Request(format!("landlock: {e}"));
    let read = AccessFs::from_read(ABI_WANTED);
    let all = AccessFs::from_all(ABI_WANTED);
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .map_err(fail)?
        .create()
        .map_err(fail)?
        .add_rules(path_beneath_rules(&rules.read_only, read))
        .map_err(fail)?
        .add_rules(path_beneath_rules(&rules.writable, all))
        .map_err(fail)?
        .add_rules(path_beneath_rules(
            [DEVICES],
            read | AccessFs::WriteFile | AccessFs::IoctlDev,
        ))
        .map_err(fail)?
        // no_new_privs is step 6's business: set (or not) before this.
        .no_new_privs(false)
        .restrict_self()
        .map_err(|e| {
            Error::Request(format!(
                "landlock_restrict_self failed: {e}: it needs no_new_privs or CAP_SYS_ADMIN"
            ))
        })?;
    let line = match status.ruleset {
        RulesetStatus::FullyEnforced => "fully enforced".to_string(),
        RulesetStatus::PartiallyEnforced => format!(
            "partly enforced: this kernel's Landlock ABI lacks some rights of ABI {}",
            ABI_WANTED as i32
        ),
        RulesetStatus::NotEnforced => {
            "not enforced: this kernel has no Landlock (Linux 5.13+, lsm=landlock)".to_string()
        }
    };
    explain::syscall(
        &format!(
            "landlock_restrict_self(ruleset: read {:?}, write {:?})",
            rules.read_only, rules.writable
        ),
        0,
    );
    Ok(line)
}
// ANCHOR_END: restrict

/// One of the default paths (an image may lack /home or /var: fine).
fn is_default(path: &std::path::Path) -> bool {
    WRITABLE.iter().any(|w| path == std::path::Path::new(w))
}

/// This kernel's Landlock ABI version (0: none).
pub fn kernel_abi() -> i32 {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION with a NULL attr and size 0
    // only asks for the version.
    let v = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0usize, 0usize, 1u32) };
    v.max(0) as i32
}
