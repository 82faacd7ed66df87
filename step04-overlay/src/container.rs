//! One container's place on the host: an id, its layers under
//! `<lib>/containers/<id>/`, and a runtime state dir `<run>/<id>/` holding
//! `state.json` (who runs it, since when).
//!
//! Everything is removed when the container ends, unless `--keep` asks to
//! keep the upper layer. If the runtime itself is SIGKILLed it can't clean
//! up; the next run (or `cleanup`) finds state dirs whose runtime is gone
//! and removes them.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::explain;
use crate::overlay::Layers;
use crate::state::State;

/// Marks a container directory kept with `--keep`, so no sweep removes it.
pub const KEPT: &str = "KEPT";

/// What `<run>/<id>/state.json` holds: enough to tell, later and from
/// another process, whether the runtime that made the container still
/// runs. Written whole, once (the state dir appears by rename(2)).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuntimeState {
    pub id: String,
    /// The runtime's PID, and its start time in clock ticks since boot
    /// (field 22 of /proc/PID/stat): together they name one process, even
    /// after the PID is reused.
    pub pid: i32,
    pub start_time: u64,
    /// Seconds since the epoch.
    pub created: u64,
}

impl RuntimeState {
    /// This process, as the runtime of container `id`.
    pub fn of_this_runtime(id: &str) -> RuntimeState {
        let pid = std::process::id() as i32;
        RuntimeState {
            id: id.to_string(),
            pid,
            start_time: start_time(pid).unwrap_or(0),
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }

    /// Read a container's state file; `None` if it is missing or unreadable.
    pub fn read(run_dir: &Path) -> Option<RuntimeState> {
        let text = std::fs::read_to_string(run_dir.join(STATE_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Is the runtime that wrote this still running?
    pub fn runtime_alive(&self) -> bool {
        start_time(self.pid) == Some(self.start_time)
    }
}

/// The state file's name in `<run>/<id>/`.
pub const STATE_FILE: &str = "state.json";

/// The record of an OCI runtime's container (`isolab create`), in the same
/// place: a sweep leaves such a directory alone.
pub const OCI_RECORD: &str = "oci.json";

/// A container's directories; removed on drop unless kept or disarmed.
#[derive(Debug)]
pub struct Container {
    pub id: String,
    /// `<lib>/containers/<id>`: upper, work, merged.
    pub dir: PathBuf,
    /// `<run>/<id>`: the runtime's PID, for stale-state detection.
    pub run_dir: PathBuf,
    pub layers: Layers,
    keep: bool,
    armed: bool,
}

/// 12 random hex digits, like a short docker id.
pub fn new_id() -> String {
    let mut bytes = [0u8; 6];
    // SAFETY: writes at most bytes.len() bytes into the buffer.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        // No entropy yet (early boot): time and PID are unique enough here.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        return format!("{:06x}{:06x}", std::process::id() & 0xffffff, t & 0xffffff);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ANCHOR: create
impl Container {
    /// Make a new container's directories.
    pub fn create(state: &State, keep: bool) -> Result<Container> {
        let id = new_id();
        let dir = state.lib.join("containers").join(&id);
        let run_dir = state.run.join(&id);
        // The state dir appears whole, pid file inside, or not at all: a
        // sweep running at the same moment must never see it half made.
        // Its name carries our PID, so a sweep can tell a dead runtime's
        // from one being made right now.
        let me = std::process::id() as i32;
        let tmp = state.run.join(format!(".{id}.{me}.tmp"));
        std::fs::create_dir_all(&tmp)
            .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
        let state_json =
            serde_json::to_string(&RuntimeState::of_this_runtime(&id)).unwrap_or_default() + "\n";
        let written = std::fs::write(tmp.join(STATE_FILE), state_json)
            .and_then(|()| std::fs::rename(&tmp, &run_dir));
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&tmp); // a full disk leaves nothing
            return Err(Error::io("writing the container's state", e));
        }
        let layers = Layers::under(&dir);
        let container = Container {
            id,
            dir,
            run_dir,
            layers,
            keep,
            armed: true,
        };
        container.layers.create()?;
        explain::note(&format!("container layers in {}", container.dir.display()));
        Ok(container)
    }
}
// ANCHOR_END: create

impl Container {
    /// Leave everything in place when this value is dropped: the container
    /// outlives this process (an OCI `create` exits, and `delete` removes
    /// it later, from another process).
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

// ANCHOR: drop
impl Drop for Container {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
        open_work_dir(&self.dir);
        if self.keep {
            let _ = std::fs::write(
                self.dir.join(KEPT),
                "kept with --keep: remove this directory when done\n",
            );
            let _ = std::fs::remove_dir_all(&self.layers.work);
            let _ = std::fs::remove_dir_all(&self.layers.merged);
            crate::cli::warn(&format!(
                "kept the container's upper layer: {}",
                self.layers.upper.display()
            ));
        } else {
            remove_layers(&self.dir);
        }
    }
}
// ANCHOR_END: drop

/// OverlayFS leaves `work/work` with mode 000. Root removes it anyway; a
/// rootless runtime (step 7), its owner, must open it up first.
fn open_work_dir(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(
        dir.join("work/work"),
        std::fs::Permissions::from_mode(0o700),
    );
}

/// Remove a container's layer directory. False, with a note that names the
/// fix, when something in it can't be removed: rootless, files the
/// container gave to ids of the user's subuid range belong to ids the user
/// is not, on the host.
pub fn remove_layers(dir: &Path) -> bool {
    open_work_dir(dir);
    let _ = std::fs::remove_dir_all(dir);
    if !dir.exists() {
        return true;
    }
    crate::cli::warn(&format!(
        "note: could not remove all of {}: files there belong to ids of your subuid range; remove it with `unshare --map-auto --map-root-user rm -rf {}` (util-linux 2.38+) or as root",
        dir.display(),
        dir.display()
    ));
    false
}

// ANCHOR: sweep
/// Remove the state of containers whose runtime is gone. Returns their ids.
pub fn sweep_stale(state: &State) -> Vec<String> {
    sweep_stale_with(state, |_| true)
}

/// [`sweep_stale`], where later steps add what else a dead container left
/// (step 5: its cgroup). `also(id)` runs for every provably dead container
/// before its state goes, and returns false when it could not finish: the
/// state then stays, so the next sweep tries again. Nothing is taken for
/// dead because it is old or empty: only a runtime that is gone (its PID
/// and start time no longer match) or, after a reboot, no state at all.
pub fn sweep_stale_with(state: &State, mut also: impl FnMut(&str) -> bool) -> Vec<String> {
    let mut removed = Vec::new();
    // Layers with no runtime state at all: /run is a tmpfs, so after a
    // reboot the state of containers that were running is gone while their
    // layers remain. (A new container makes its state dir before its
    // layers, and a kept one is marked, so neither is taken for stale.)
    if let Ok(layers) = std::fs::read_dir(state.lib.join("containers")) {
        for entry in layers.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if !state.run.join(&id).exists()
                && !entry.path().join(KEPT).exists()
                && also(&id)
                && remove_layers(&entry.path())
            {
                removed.push(id);
            }
        }
    }
    let Ok(entries) = std::fs::read_dir(&state.run) else {
        return removed;
    };
    for entry in entries.flatten() {
        let id = entry.file_name().to_string_lossy().into_owned();
        if let Some(rest) = id.strip_prefix('.') {
            // `.<id>.<pid>.tmp`: being created right now, unless that runtime
            // is gone (killed between mkdir and rename).
            let pid = rest.split('.').nth(1).and_then(|p| p.parse::<i32>().ok());
            if pid.is_some_and(|p| start_time(p).is_none()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
            continue;
        }
        // An OCI container (the final runtime's) outlives the `create` that
        // made it, by design: only its `delete` removes it.
        if entry.path().join(OCI_RECORD).exists() {
            continue;
        }
        // No readable state: a runtime that died before it could write it
        // is as dead as one whose PID is gone.
        let alive = RuntimeState::read(&entry.path()).is_some_and(|s| s.runtime_alive());
        if !alive && also(&id) {
            // The state goes even if some layers stay: those are swept (and
            // reported) as layers without state from now on.
            let layers_gone = remove_layers(&state.lib.join("containers").join(&id));
            let _ = std::fs::remove_dir_all(entry.path());
            if layers_gone {
                removed.push(id);
            }
        }
    }
    if !removed.is_empty() {
        explain::note(&format!("removed stale containers: {}", removed.join(" ")));
    }
    removed
}

/// When `pid` started, in clock ticks since boot (field 22 of
/// /proc/PID/stat). PID and start time together name one process: a PID
/// recycled by another process has another start time.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm (field 2) may contain spaces; count fields after its ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(19)?.parse().ok()
}
// ANCHOR_END: sweep

/// `<lib>/containers/<id>` for an id, for messages and tests.
pub fn dir_of(state: &State, id: &str) -> PathBuf {
    Path::new(&state.lib).join("containers").join(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_12_hex_digits_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn sweep_removes_dead_runtimes_only() {
        let root = std::env::temp_dir().join(format!("isolab-sweep-{}", std::process::id()));
        let state = State::new(Some(&root));
        let me = std::process::id() as i32;
        let start = start_time(me).unwrap();
        // "dead": our PID with another start time, as after PID reuse.
        for (id, start) in [("dead", start + 1), ("live", start)] {
            let record = RuntimeState {
                id: id.into(),
                pid: me,
                start_time: start,
                created: 0,
            };
            std::fs::create_dir_all(state.run.join(id)).unwrap();
            std::fs::write(
                state.run.join(id).join(STATE_FILE),
                serde_json::to_string(&record).unwrap(),
            )
            .unwrap();
            std::fs::create_dir_all(dir_of(&state, id).join("upper")).unwrap();
        }
        // Half-made state of a runtime that is gone, and of one that runs.
        std::fs::create_dir_all(state.run.join(".half.999999999.tmp")).unwrap();
        std::fs::create_dir_all(state.run.join(format!(".making.{me}.tmp"))).unwrap();
        let removed = sweep_stale(&state);
        let half_gone = !state.run.join(".half.999999999.tmp").exists()
            && state.run.join(format!(".making.{me}.tmp")).exists();
        assert!(half_gone, "half-made state of a dead runtime stays");
        let live_kept = dir_of(&state, "live").exists() && !dir_of(&state, "dead").exists();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(removed, vec!["dead".to_string()]);
        // After a reboot: layers without state go, kept ones stay.
        let root2 = std::env::temp_dir().join(format!("isolab-sweep2-{}", std::process::id()));
        let state2 = State::new(Some(&root2));
        std::fs::create_dir_all(dir_of(&state2, "orphan").join("upper")).unwrap();
        std::fs::create_dir_all(dir_of(&state2, "kept").join("upper")).unwrap();
        std::fs::write(dir_of(&state2, "kept").join(KEPT), "").unwrap();
        let removed2 = sweep_stale(&state2);
        let kept_stays = dir_of(&state2, "kept").exists();
        std::fs::remove_dir_all(&root2).unwrap();
        assert_eq!(removed2, vec!["orphan".to_string()]);
        assert!(kept_stays);
        assert!(live_kept);
    }
}
