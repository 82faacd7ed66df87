//! A container's state as the OCI runtime spec defines it, and how a
//! runtime that is not the container's parent tells it.
//!
//! `create` exits while the container's process waits; `start`, `state`,
//! `kill` and `delete` come later, from other processes, and nobody reaps
//! that process for us (an engine's shim does, or the host's init). So the
//! status is worked out each time from what the kernel shows:
//!
//! - the process is gone, a zombie, or its PID now names another process
//!   (another start time in /proc/PID/stat): **stopped**;
//! - it is alive and the start FIFO is still there: **created** (waiting
//!   in open(2) of the FIFO for `start`);
//! - it is alive and the FIFO is gone: **running**, or **paused** when its
//!   cgroup is frozen.
//!
//! The record lives in `<root>/<id>/oci.json`, written whole with rename(2).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The runtime spec version isolab implements.
pub const OCI_VERSION: &str = "1.2.0";

/// The record's file name in the container's state directory (the steps'
/// sweep knows it, and leaves such a directory alone).
pub const STATE_FILE: &str = crate::container::OCI_RECORD;
/// The start FIFO's name there.
pub const FIFO: &str = "exec.fifo";

/// The four statuses of the runtime spec, and paused (runc's addition,
/// which engines expect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        };
        f.pad(s) // honours widths: `list`'s columns
    }
}

// ANCHOR: record
/// What `create` writes, and what `state` prints (the fields with a
/// `serde(skip)` are ours, kept in the file but not printed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    /// The container's process on the host; 0 once stopped.
    pub pid: i32,
    /// Absolute path of the bundle.
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339, UTC.
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The process's start time (clock ticks since boot): with `pid`, it
    /// names the process even after the PID is reused.
    #[serde(default)]
    pub start_time: u64,
    /// The cgroup the runtime made, removed by `delete`.
    #[serde(default)]
    pub cgroup: Option<String>,
    /// While `creating`: the `create` process (PID, start time). If it died
    /// half way, the container is as good as stopped.
    #[serde(default)]
    pub creator: Option<(i32, u64)>,
    /// config.json's hooks: `start` runs poststart, `delete` poststop.
    #[serde(default)]
    pub hooks: crate::hooks::Hooks,
}
// ANCHOR_END: record

/// What `state` prints: the spec's fields only.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Printed<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub status: Status,
    pub pid: i32,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: &'a str,
    pub annotations: &'a BTreeMap<String, String>,
}

impl Record {
    /// The record with `status` as the kernel shows it now.
    pub fn refreshed(mut self, dir: &Path) -> Record {
        if self.status == Status::Creating {
            // Until `create` writes the process: creating while it runs.
            if !self.creator.is_some_and(|(pid, start)| alive(pid, start)) {
                self.status = Status::Stopped;
                self.pid = 0;
            }
            return self;
        }
        self.status = status_of(self.pid, self.start_time, dir, self.cgroup.as_deref());
        if self.status == Status::Stopped {
            self.pid = 0;
        }
        self
    }

    /// The state as hooks get it on stdin, and `state` prints it.
    pub fn json(&self) -> String {
        serde_json::to_string(&self.printed()).unwrap_or_default()
    }

    /// The spec's view of it, for `state` and `list`.
    pub fn printed(&self) -> Printed<'_> {
        Printed {
            oci_version: &self.oci_version,
            id: &self.id,
            status: self.status,
            pid: self.pid,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: &self.owner,
            annotations: &self.annotations,
        }
    }

    /// Read `<dir>/oci.json`.
    pub fn read(dir: &Path) -> Result<Record> {
        let text = std::fs::read_to_string(dir.join(STATE_FILE))
            .map_err(|e| Error::io(format!("reading {}", dir.join(STATE_FILE).display()), e))?;
        serde_json::from_str(&text).map_err(|e| {
            Error::Protocol(format!(
                "{}: not a state record: {e}",
                dir.join(STATE_FILE).display()
            ))
        })
    }

    /// Write it whole: a reader sees the old record or the new one.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join(format!(".{STATE_FILE}.{}", std::process::id()));
        let text = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, dir.join(STATE_FILE)))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                Error::io(format!("writing {}", dir.join(STATE_FILE).display()), e)
            })
    }
}

// ANCHOR: status_of
/// The status of the process `pid` that started at `start_time`, for a
/// container whose state directory is `dir`.
pub fn status_of(pid: i32, start_time: u64, dir: &Path, cgroup: Option<&str>) -> Status {
    if pid <= 0 || !alive(pid, start_time) {
        return Status::Stopped;
    }
    if dir.join(FIFO).exists() {
        return Status::Created;
    }
    if cgroup.is_some_and(crate::freeze::is_frozen) {
        return Status::Paused;
    }
    Status::Running
}
// ANCHOR_END: status_of

/// Alive and still the same process: not gone, not a zombie, same start.
pub fn alive(pid: i32, start_time: u64) -> bool {
    crate::container::start_time(pid) == Some(start_time) && !exited(pid)
}

/// A zombie (or a task being reaped): gone, but for its exit status.
fn exited(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // the state is the field right after comm's ')'
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    matches!(state, None | Some("Z") | Some("X"))
}

/// Now, as RFC 3339 in UTC with nanoseconds (as runc prints `created`).
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

/// `secs` since the epoch as RFC 3339 UTC (civil date from days, after
/// Howard Hinnant's public-domain algorithm).
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_796_000_000, 0), "2026-11-30T00:53:20.000000000Z");
    }

    #[test]
    fn a_process_is_alive_only_with_its_own_start_time() {
        let me = std::process::id() as i32;
        let start = crate::container::start_time(me).unwrap();
        assert!(alive(me, start));
        assert!(!alive(me, start + 1), "a reused PID");
        assert!(!alive(i32::MAX, start), "no such process");
    }

    #[test]
    fn status_follows_the_process_and_the_fifo() {
        let dir = std::env::temp_dir().join(format!("isolab-oci-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let me = std::process::id() as i32;
        let start = crate::container::start_time(me).unwrap();
        std::fs::write(dir.join(FIFO), "").unwrap();
        assert_eq!(status_of(me, start, &dir, None), Status::Created);
        std::fs::remove_file(dir.join(FIFO)).unwrap();
        assert_eq!(status_of(me, start, &dir, None), Status::Running);
        assert_eq!(status_of(me, start + 1, &dir, None), Status::Stopped);
        let record = Record {
            oci_version: OCI_VERSION.into(),
            id: "x".into(),
            status: Status::Creating,
            pid: me,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: now_rfc3339(),
            owner: String::new(),
            annotations: BTreeMap::new(),
            start_time: start + 1,
            cgroup: None,
            creator: None,
            hooks: Default::default(),
        };
        record.write(&dir).unwrap();
        let back = Record::read(&dir).unwrap().refreshed(&dir);
        assert_eq!((back.status, back.pid), (Status::Stopped, 0));
        let creating = Record {
            status: Status::Creating,
            creator: Some((me, start)),
            ..back.clone()
        };
        assert_eq!(creating.clone().refreshed(&dir).status, Status::Creating);
        let orphan = Record {
            creator: Some((me, start + 1)),
            ..creating
        };
        assert_eq!(
            orphan.refreshed(&dir).status,
            Status::Stopped,
            "create died"
        );
        let printed = serde_json::to_value(back.printed()).unwrap();
        assert_eq!(printed["ociVersion"], OCI_VERSION);
        assert!(printed.get("startTime").is_none(), "ours, not printed");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
