//! The /proc inspector: what the kernel keeps about a process, read back.
//!
//! Every task has a `struct task_struct`; its credentials (`struct cred`),
//! namespaces (`struct nsproxy`), cgroups and root directory are what a
//! container changes. /proc/PID exposes each of them as text. A [`Snapshot`]
//! reads them all for one PID; [`compare`] sets two side by side and marks
//! what differs, which is the whole lesson of every step in one table.
//!
//! Written once in step01 and used unchanged by every later step: the
//! steps only change what it finds.

pub mod capability;
pub mod ns;
pub mod render;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use capability::CapSet;

/// The four uids (or gids) of struct cred: real, effective, saved, filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ids {
    pub real: u32,
    pub effective: u32,
    pub saved: u32,
    pub fs: u32,
}

/// The five capability sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapSets {
    pub inheritable: CapSet,
    pub permitted: CapSet,
    pub effective: CapSet,
    pub bounding: CapSet,
    pub ambient: CapSet,
}

/// Seccomp state from /proc/PID/status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seccomp {
    /// `disabled`, `strict` or `filter`.
    pub mode: String,
    /// Number of attached BPF filters (`Seccomp_filters`).
    pub filters: u32,
}

/// The mount at `/` as this process sees it (from /proc/PID/mountinfo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootMount {
    pub mount_id: i32,
    pub source: String,
    pub fstype: String,
    /// The path inside the source filesystem that is mounted at `/`.
    pub root: String,
}

// ANCHOR: snapshot
/// Everything the inspector reads about one process. Field names are
/// stable: tests and the book parse them from `--format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub pid: i32,
    pub comm: String,
    /// The PID in each PID namespace, outermost first (`NSpid`).
    pub nspid: Vec<i32>,
    pub ppid: i32,
    pub uid: Ids,
    pub gid: Ids,
    pub groups: Vec<u32>,
    pub capabilities: CapSets,
    pub no_new_privs: bool,
    pub seccomp: Seccomp,
    /// Inode of each of the eight /proc/PID/ns links, by type.
    pub namespaces: BTreeMap<String, u64>,
    /// /proc/PID/cgroup, one line per hierarchy.
    pub cgroups: Vec<String>,
    pub uid_map: Vec<String>,
    pub gid_map: Vec<String>,
    pub root_mount: Option<RootMount>,
    /// The LSM's label for the process, where one is active and readable.
    pub lsm_label: Option<String>,
}
// ANCHOR_END: snapshot

impl Snapshot {
    /// Read every field for `pid` from /proc.
    pub fn read(pid: i32) -> Result<Snapshot> {
        let dir = PathBuf::from(format!("/proc/{pid}"));
        let missing = |e: procfs::ProcError| match e {
            procfs::ProcError::NotFound(_) => Error::Proc(format!(
                "no such process: {pid} (/proc/{pid} does not exist)"
            )),
            procfs::ProcError::PermissionDenied(_) => Error::Proc(format!(
                "can't read /proc/{pid}: permission denied: run with sudo to inspect other users' processes"
            )),
            other => Error::Proc(format!("reading /proc/{pid}: {other}")),
        };
        let process = procfs::process::Process::new(pid).map_err(missing)?;
        let status = process.status().map_err(missing)?;
        let raw_status = read_text(&dir.join("status"))?;

        let mut namespaces = BTreeMap::new();
        for kind in ns::TYPES {
            // A kernel without time namespaces (before 5.6) has no link.
            if let Ok(ino) = ns::inode(&dir, kind) {
                namespaces.insert(kind.to_string(), ino);
            }
        }

        let cgroups = read_text(&dir.join("cgroup"))?
            .lines()
            .map(str::to_string)
            .collect();

        let root_mount = process.mountinfo().ok().and_then(|infos| {
            infos
                .into_iter()
                .rfind(|m| m.mount_point == Path::new("/"))
                .map(|m| RootMount {
                    mount_id: m.mnt_id,
                    source: m.mount_source.unwrap_or_default(),
                    fstype: m.fs_type,
                    root: m.root,
                })
        });

        let ids = |r, e, s, f| Ids {
            real: r,
            effective: e,
            saved: s,
            fs: f,
        };
        Ok(Snapshot {
            pid,
            comm: status.name.clone(),
            nspid: status.nspid.clone().unwrap_or_else(|| vec![pid]),
            ppid: status.ppid,
            uid: ids(status.ruid, status.euid, status.suid, status.fuid),
            gid: ids(status.rgid, status.egid, status.sgid, status.fgid),
            groups: status.groups.clone(),
            capabilities: CapSets {
                inheritable: CapSet::from_mask(status.capinh),
                permitted: CapSet::from_mask(status.capprm),
                effective: CapSet::from_mask(status.capeff),
                bounding: CapSet::from_mask(status.capbnd.unwrap_or(0)),
                ambient: CapSet::from_mask(status.capamb.unwrap_or(0)),
            },
            no_new_privs: status.nonewprivs.unwrap_or(0) != 0,
            seccomp: Seccomp {
                mode: seccomp_mode(status.seccomp.unwrap_or(0)).to_string(),
                filters: status_field(&raw_status, "Seccomp_filters")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            },
            namespaces,
            cgroups,
            uid_map: read_lines(&dir.join("uid_map")),
            gid_map: read_lines(&dir.join("gid_map")),
            root_mount,
            lsm_label: lsm_label(&dir),
        })
    }
}

/// The value of one `Key:\tvalue` line of /proc/PID/status.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k == key).then(|| v.trim())
    })
}

/// Seccomp modes as numbered in linux/seccomp.h.
pub fn seccomp_mode(mode: u32) -> &'static str {
    match mode {
        0 => "disabled",
        1 => "strict",
        2 => "filter",
        _ => "unknown",
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Proc(format!("reading {}: {e}", path.display())))
}

/// uid_map and gid_map, with the kernel's column padding folded away.
fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The LSM label: AppArmor's own file first (it shares attr/current with
/// SELinux on stacked kernels), then the generic one. No active LSM gives an
/// error or an empty file; both read as "none".
fn lsm_label(dir: &Path) -> Option<String> {
    ["attr/apparmor/current", "attr/current"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .map(|s| s.trim_end_matches(['\0', '\n']).to_string())
        .find(|s| !s.is_empty())
}

/// A container process and a host process, side by side.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub container: Snapshot,
    pub host: Snapshot,
    /// For each namespace type: `new` when the container has its own,
    /// `host` when it shares the host process's, `unknown` when the host
    /// process's link could not be read.
    pub namespaces: BTreeMap<String, String>,
    /// Keys of the rows that differ (see [`render::rows`]).
    pub differs: Vec<String>,
}

/// Read both processes and compare them.
pub fn compare(container: i32, host: i32) -> Result<Comparison> {
    let container = Snapshot::read(container)?;
    let host = Snapshot::read(host)?;
    Ok(Comparison::new(container, host))
}

impl Comparison {
    /// Compare two snapshots already read.
    pub fn new(container: Snapshot, host: Snapshot) -> Self {
        let namespaces = container
            .namespaces
            .iter()
            .map(|(kind, ino)| {
                let state = match host.namespaces.get(kind) {
                    Some(h) if h == ino => "host",
                    Some(_) => "new",
                    None => "unknown",
                };
                (kind.clone(), state.to_string())
            })
            .collect();
        let differs = render::rows(&container, &host)
            .into_iter()
            .filter(|r| r.differs)
            .map(|r| r.key)
            .collect();
        Comparison {
            container,
            host,
            namespaces,
            differs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields() {
        let text = "Name:\tbash\nSeccomp:\t2\nSeccomp_filters:\t1\n";
        assert_eq!(status_field(text, "Seccomp_filters"), Some("1"));
        assert_eq!(status_field(text, "Seccomp"), Some("2"));
        assert_eq!(status_field(text, "Missing"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id() as i32;
        let snap = Snapshot::read(me).unwrap();
        assert_eq!(snap.pid, me);
        assert_eq!(*snap.nspid.first().unwrap(), me);
        assert!(snap.namespaces.contains_key("uts"));
        assert!(!snap.uid_map.is_empty());
        let cmp = Comparison::new(snap.clone(), snap);
        assert!(cmp.differs.is_empty(), "{:?}", cmp.differs);
        assert!(cmp.namespaces.values().all(|v| v == "host"));
    }

    #[test]
    fn missing_pid_is_one_line() {
        let err = Snapshot::read(i32::MAX).unwrap_err().to_string();
        assert!(err.contains("no such process"), "{err}");
        assert!(!err.contains('\n'));
    }
}
