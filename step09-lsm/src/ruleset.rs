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
//! (V2 Refer, V3 Truncate, V4 TCP, V5 IoctlDev, V6 scopes). The ruleset
//! asks for what this kernel can do; the runtime names what it can't
//! enforce in a note before the clone ([`report`]), and `--explain`
//! narrates how fully the command's ruleset was enforced.

use std::path::PathBuf;

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

use crate::error::{Error, Result};
use crate::explain;

/// The ABI whose file-system rights this code asks for.
const ABI_WANTED: ABI = ABI::V5;
/// TCP rules need ABI 4, scopes ABI 6.
const ABI_NET: ABI = ABI::V4;
const ABI_SCOPES: ABI = ABI::V6;

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

/// The rules of one container: read-only and writable path lists, and,
/// when any are given, the only TCP ports it may bind and connect to.
#[derive(Debug, Clone)]
pub struct Rules {
    pub read_only: Vec<PathBuf>,
    pub writable: Vec<PathBuf>,
    pub tcp_bind: Vec<u16>,
    pub tcp_connect: Vec<u16>,
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
            tcp_bind: Vec::new(),
            tcp_connect: Vec::new(),
        }
    }
}

// ANCHOR: restrict
/// Restrict this process (and everything it execs) to `rules`: read and
/// execute everywhere beneath the read-only paths, everything beneath the
/// writable ones, nothing else of what the ABI handles. Paths are resolved
/// now, in the container's root. Returns the status line for the narrator.
pub fn restrict(rules: &Rules) -> Result<String> {
    // Each path opened here, in the new root, without following symlinks.
    let read_only = open_all(&rules.read_only)?;
    let writable = open_all(&rules.writable)?;
    let fail = |e: landlock::RulesetError| Error::Request(format!("landlock: {e}"));
    let read = AccessFs::from_read(ABI_WANTED);
    let all = AccessFs::from_all(ABI_WANTED);
    let tcp = !rules.tcp_bind.is_empty() || !rules.tcp_connect.is_empty();
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .map_err(fail)?
        // ABI 6: no connecting to abstract UNIX sockets made outside the
        // container (the host's, while the network namespace is still
        // shared: D-Bus, X11), no signals to processes outside it.
        .scope(Scope::from_all(ABI_SCOPES))
        .map_err(fail)?;
    if tcp {
        // ABI 4: TCP bind and connect only to the ports given.
        ruleset = ruleset
            .handle_access(AccessNet::from_all(ABI_NET))
            .map_err(fail)?;
    }
    let mut created = ruleset.create().map_err(fail)?;
    for &port in &rules.tcp_bind {
        created = created
            .add_rule(NetPort::new(port, AccessNet::BindTcp))
            .map_err(fail)?;
    }
    for &port in &rules.tcp_connect {
        created = created
            .add_rule(NetPort::new(port, AccessNet::ConnectTcp))
            .map_err(fail)?;
    }
    let devices = open_all(&[PathBuf::from(DEVICES)])?;
    let status = created
        .add_rules(
            read_only
                .into_iter()
                .map(|fd| Ok(PathBeneath::new(fd, read))),
        )
        .map_err(fail)?
        .add_rules(writable.into_iter().map(|fd| Ok(PathBeneath::new(fd, all))))
        .map_err(fail)?
        .add_rules(devices.into_iter().map(|fd| {
            Ok(PathBeneath::new(
                fd,
                read | AccessFs::WriteFile | AccessFs::IoctlDev,
            ))
        }))
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
            "partly enforced: ABI {} of the {} wanted (see the runtime's line)",
            kernel_abi(),
            ABI_WANTED as i32
        ),
        RulesetStatus::NotEnforced => {
            "not enforced: this kernel has no Landlock (Linux 5.13+, lsm=landlock)".to_string()
        }
    };
    explain::syscall(
        &format!(
            "landlock_restrict_self(ruleset: read {:?}, write {:?}{}, scoped: abstract sockets, signals)",
            rules.read_only,
            rules.writable,
            if tcp {
                format!(
                    ", tcp bind {:?}, connect {:?}",
                    rules.tcp_bind, rules.tcp_connect
                )
            } else {
                String::new()
            }
        ),
        0,
    );
    Ok(line)
}
// ANCHOR_END: restrict

// ANCHOR: unenforced
/// The default ruleset's rights this kernel's Landlock ABI can't enforce,
/// each with the ABI (and Linux release) that brought it.
pub fn unenforced(abi: i32) -> Vec<&'static str> {
    [
        (
            2,
            "moves and links between directories (ABI 2, Linux 5.19; ABI 1 refuses them all)",
        ),
        (3, "truncate (ABI 3, Linux 6.2)"),
        (5, "device ioctls (ABI 5, Linux 6.10)"),
        (
            6,
            "the abstract-socket and signal scopes (ABI 6, Linux 6.12)",
        ),
    ]
    .into_iter()
    .filter(|&(since, _)| abi < since)
    .map(|(_, what)| what)
    .collect()
}

/// Runtime side, before the clone: refuse what the user asked for and
/// this kernel can't do.
pub fn check_kernel(rules: &Rules) -> Result<()> {
    let abi = kernel_abi();
    let tcp = !rules.tcp_bind.is_empty() || !rules.tcp_connect.is_empty();
    if tcp && abi < ABI_NET as i32 {
        return Err(Error::Request(format!(
            "landlock: --landlock-tcp-bind and --landlock-tcp-connect need Landlock ABI 4 (Linux 6.7); this kernel has ABI {abi}"
        )));
    }
    Ok(())
}

/// Say in one line (a note, not an error) what the default ruleset loses
/// on this kernel: once per boot and state directory, since it is the
/// same every run (`--explain` says it every time).
pub fn report(state: &crate::state::State) {
    let abi = kernel_abi();
    let missing = unenforced(abi);
    let line = if abi == 0 {
        "note: landlock: this kernel has no Landlock (Linux 5.13+ booted with lsm=...,landlock): containers run without the ruleset".to_string()
    } else if !missing.is_empty() {
        format!(
            "note: landlock: this kernel's ABI {abi} can't enforce {}: those stay allowed",
            missing.join("; ")
        )
    } else {
        return;
    };
    explain::note(line.trim_start_matches("note: "));
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let stamp = state.run.join("landlock-noted");
    let said = format!("{} {abi}", boot.trim());
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == said) {
        return;
    }
    crate::cli::warn(&line);
    let _ = std::fs::create_dir_all(&state.run).and_then(|_| std::fs::write(&stamp, said));
}
// ANCHOR_END: unenforced

// ANCHOR: open_all
/// Open each of `paths` for a rule. A rule is for the path itself, never
/// for where a symlink of the image points: an image whose /var is a link
/// to / would otherwise make its whole root writable. A default path that
/// is missing or a symlink is left out (with a note); one the user gave
/// is an error.
fn open_all(paths: &[PathBuf]) -> Result<Vec<std::os::fd::OwnedFd>> {
    let root = crate::resolve::Root::open(std::path::Path::new("/"))?;
    let mut fds = Vec::new();
    for path in paths {
        let shown = path.display();
        match root.open_without_symlinks(&path.to_string_lossy()) {
            Ok(fd) => fds.push(fd),
            Err(errno) if is_default(path) || path == std::path::Path::new(DEVICES) => {
                explain::note(&format!("landlock: {shown} left out ({errno})"));
            }
            Err(nix::errno::Errno::ENOENT) => {
                return Err(Error::Request(format!(
                    "landlock: {shown} does not exist in the container: give a path of its image"
                )));
            }
            Err(nix::errno::Errno::ELOOP) => {
                return Err(Error::Request(format!(
                    "landlock: {shown} is or passes through a symlink in the container: give the path it points to"
                )));
            }
            Err(errno) => {
                return Err(Error::Request(format!(
                    "landlock: opening {shown} for a rule failed: {errno}"
                )));
            }
        }
    }
    Ok(fds)
}
// ANCHOR_END: open_all

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_abi_lacks_what_later_ones_brought() {
        assert_eq!(unenforced(7), Vec::<&str>::new());
        assert_eq!(unenforced(6), Vec::<&str>::new());
        assert_eq!(unenforced(5).len(), 1);
        let debian12 = unenforced(2); // Linux 6.1
        assert_eq!(debian12.len(), 3, "{debian12:?}");
        assert!(debian12[0].starts_with("truncate"));
        assert_eq!(unenforced(1).len(), 4);
    }
}
