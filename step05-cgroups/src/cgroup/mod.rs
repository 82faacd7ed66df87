//! Control groups: put the container's processes in a group of their own
//! and let the kernel limit and account what the group uses.
//!
//! cgroupfs is a filesystem: a cgroup is a directory, `mkdir` creates one,
//! writing a PID to its `cgroup.procs` moves that process in, and the
//! controllers' files (`memory.max`, `pids.max`, …) set the limits. There
//! are two versions of the interface, and machines have one or both:
//!
//! - **v2** (most laptops now): one hierarchy, mounted at /sys/fs/cgroup,
//!   controllers enabled for children through `cgroup.subtree_control`.
//! - **v1** (older machines, WSL2): one hierarchy per controller, mounted at
//!   /sys/fs/cgroup/<controller>.
//! - **hybrid**: v1 controllers plus a v2 hierarchy without them (here at
//!   /sys/fs/cgroup/unified). We limit through v1, and also join the v2
//!   hierarchy, whose `cgroup.kill` ends every process of the group at once.
//!
//! Each container's cgroup is `isolab-<id>` at the top of each hierarchy we
//! use (as docker's cgroupfs driver puts `docker/<id>` there).

pub mod v1;
pub mod v2;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::explain;
use crate::limits::Limits;

/// Which interface the machine offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
    Hybrid,
}

/// One v1 hierarchy: where it is mounted and its mount options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount: PathBuf,
    /// Controllers (and `name=…`) from the mount's super options.
    pub options: Vec<String>,
}

/// The cgroup mounts of this machine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    pub v1: Vec<Hierarchy>,
    pub v2: Option<PathBuf>,
}

/// The v1 controllers we create a cgroup in: the three we limit with,
/// cpuacct for CPU time, freezer to stop a group before killing it.
pub const V1_CONTROLLERS: [&str; 5] = ["memory", "pids", "cpu", "cpuacct", "freezer"];

impl Layout {
    /// Read the cgroup mounts from /proc/self/mountinfo.
    pub fn detect() -> Result<Layout> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| Error::io("reading /proc/self/mountinfo", e))?;
        let layout = Layout::parse(&text);
        if layout.v1.is_empty() && layout.v2.is_none() {
            return Err(Error::Unsupported(
                "no cgroup filesystem is mounted: mount cgroup2 at /sys/fs/cgroup (or run without resource limits in an earlier step; under `ip netns exec`, which mounts a /sys of its own without cgroups, use `nsenter --net=/run/netns/NAME` instead)".into(),
            ));
        }
        Ok(layout)
    }

    // ANCHOR: parse
    /// Parse mountinfo text (fields: see proc(5)).
    pub fn parse(mountinfo: &str) -> Layout {
        let mut layout = Layout::default();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mount = left.split_whitespace().nth(4).unwrap_or("");
            let mut r = right.split_whitespace();
            let (fstype, _source, superopts) = (r.next(), r.next(), r.next().unwrap_or(""));
            match fstype {
                Some("cgroup2") if layout.v2.is_none() => layout.v2 = Some(PathBuf::from(mount)),
                Some("cgroup") => layout.v1.push(Hierarchy {
                    mount: PathBuf::from(mount),
                    options: superopts
                        .split(',')
                        .filter(|o| {
                            !matches!(*o, "rw" | "ro")
                                && !o.starts_with("release_agent")
                                && *o != "clone_children"
                                && *o != "noprefix"
                        })
                        .map(str::to_string)
                        .collect(),
                }),
                _ => {}
            }
        }
        layout
    }
    // ANCHOR_END: parse

    // ANCHOR: version
    /// v1, v2, or both.
    pub fn version(&self) -> Version {
        match (self.v1.is_empty(), self.v2.is_some()) {
            (true, _) => Version::V2,
            (false, true) => Version::Hybrid,
            (false, false) => Version::V1,
        }
    }
    // ANCHOR_END: version

    /// The v1 hierarchy holding `controller`.
    pub fn v1_hierarchy(&self, controller: &str) -> Option<&Hierarchy> {
        self.v1
            .iter()
            .find(|h| h.options.iter().any(|o| o == controller))
    }

    /// The v1 hierarchies we use, each once (cpu and cpuacct may share one).
    pub fn v1_used(&self) -> Vec<&Hierarchy> {
        let mut used: Vec<&Hierarchy> = Vec::new();
        for c in V1_CONTROLLERS {
            if let Some(h) = self.v1_hierarchy(c)
                && !used.contains(&h)
            {
                used.push(h);
            }
        }
        used
    }
}

/// What the cgroup measured, read when the container ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub memory_peak: Option<u64>,
    pub cpu_usec: Option<u64>,
    pub nr_throttled: Option<u64>,
    pub oom_kills: Option<u64>,
    pub pids_peak: Option<u64>,
    /// How often a fork failed on pids.max (`max` in pids.events).
    pub pids_max_hits: Option<u64>,
}

impl Stats {
    // ANCHOR: stats_line
    /// One line for `--stats`.
    pub fn line(&self) -> String {
        let or_na = |v: Option<String>| v.unwrap_or_else(|| "n/a".into());
        format!(
            "memory peak {}, cpu {}, throttled {}, oom kills {}, pids peak {}, forks refused {}",
            or_na(
                self.memory_peak
                    .map(|b| format!("{:.1} MiB", b as f64 / 1048576.0))
            ),
            or_na(self.cpu_usec.map(|u| format!("{:.2} s", u as f64 / 1e6))),
            or_na(self.nr_throttled.map(|n| format!("{n} periods"))),
            or_na(self.oom_kills.map(|n| n.to_string())),
            or_na(self.pids_peak.map(|n| n.to_string())),
            or_na(self.pids_max_hits.map(|n| n.to_string())),
        )
    }
    // ANCHOR_END: stats_line
}

/// A container's cgroup, in every hierarchy it uses. Dropping it kills what
/// is left inside, waits until it is empty and removes the directories.
#[derive(Debug)]
pub struct Cgroup {
    pub name: String,
    pub version: Version,
    /// The v2 cgroup (pure v2, or the hybrid unified hierarchy).
    pub v2: Option<PathBuf>,
    /// The v1 cgroups, one per hierarchy used, with the hierarchy's options.
    pub v1: Vec<(Hierarchy, PathBuf)>,
    /// Killed and removed on drop unless disarmed.
    armed: bool,
}

/// The name of a container's cgroup.
pub fn name_for(id: &str) -> String {
    format!("isolab-{id}")
}

/// Write `value` to a cgroup file, narrated.
pub fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(|e| {
        let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0));
        Error::syscall(
            format!("write({:?}, {value:?})", path.display().to_string()),
            errno,
        )
    })?;
    explain::syscall(
        &format!("write({:?}, {value:?})", path.display().to_string()),
        value.len(),
    );
    Ok(())
}

/// Read a cgroup file, trimmed; `None` when it doesn't exist.
pub fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The value of `key` in a flat-keyed file (`memory.events`, `cpu.stat`).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

impl Cgroup {
    // ANCHOR: create
    /// Create the container's cgroup and apply `limits`.
    pub fn create(layout: &Layout, id: &str, limits: &Limits) -> Result<Cgroup> {
        Cgroup::create_at(layout, &name_for(id), limits)
    }

    /// [`Cgroup::create`] at `name`, a path below each hierarchy's root
    /// (`isolab-ID`, or an engine's `docker/ID`): missing parents are made
    /// (and stay, as a runtime's parents are shared), only the last one is
    /// the container's.
    pub fn create_at(layout: &Layout, name: &str, limits: &Limits) -> Result<Cgroup> {
        let name = name.trim_matches('/').to_string();
        if name.is_empty()
            || name
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(Error::Request(format!(
                "cgroup path {name:?}: names separated by single slashes, no . or .."
            )));
        }
        let version = layout.version();
        explain::note(&format!(
            "cgroup layout: {}",
            match version {
                Version::V2 => "v2".to_string(),
                Version::V1 => "v1".to_string(),
                Version::Hybrid => format!(
                    "hybrid: limits through v1, membership and cgroup.kill through v2 at {}",
                    layout
                        .v2
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
            }
        ));
        let mut cg = Cgroup {
            name: name.clone(),
            version,
            v2: None,
            v1: Vec::new(),
            armed: true,
        };
        // From here on, a failure drops `cg`, which removes what was made.
        if let Some(root) = &layout.v2 {
            if let Some((parents, _)) = name.rsplit_once('/') {
                make_parent(&root.join(parents))?;
            }
            if version == Version::V2 {
                enable_down_to(root, &name, limits)?;
            }
            cg.v2 = Some(mkdir(&root.join(&name))?);
        }
        for h in layout.v1_used() {
            let dir = h.mount.join(&name);
            if let Some(up) = dir.parent() {
                make_parent(up)?;
            }
            let dir = mkdir(&dir)?;
            cg.v1.push((h.clone(), dir));
        }
        cg.apply(limits)?;
        Ok(cg)
    }
    // ANCHOR_END: create

    /// Write `limits` into the cgroup's files (at creation, or to change
    /// a running container's: the OCI runtime's `update`).
    pub fn apply(&self, limits: &Limits) -> Result<()> {
        match self.version {
            Version::V2 => v2::apply(
                self.v2.as_deref().unwrap_or(Path::new("/nonexistent")),
                limits,
            ),
            Version::V1 | Version::Hybrid => v1::apply(&self.v1_dirs(), limits),
        }
    }

    /// The existing cgroup at `name` (see [`Cgroup::create_at`]), in every
    /// hierarchy that has it; dropping it leaves it alone.
    pub fn open(layout: &Layout, name: &str) -> Cgroup {
        let name = name.trim_matches('/').to_string();
        let mut cg = Cgroup::none(layout);
        cg.armed = false;
        cg.v2 = layout
            .v2
            .as_ref()
            .map(|root| root.join(&name))
            .filter(|d| d.is_dir());
        cg.v1 = layout
            .v1
            .iter()
            .map(|h| (h.clone(), h.mount.join(&name)))
            .filter(|(_, d)| d.is_dir())
            .collect();
        cg.name = name;
        cg
    }

    /// [`Cgroup::create`], or for a normal user without a writable cgroup
    /// subtree (rootless, step 7): no cgroup, with a one-line notice, or an
    /// error if limits were asked for (they can't be applied).
    pub fn create_or_skip(layout: &Layout, id: &str, limits: &Limits) -> Result<Cgroup> {
        Cgroup::create_at_or_skip(layout, &name_for(id), limits)
    }

    /// [`Cgroup::create_or_skip`] at `name` (see [`Cgroup::create_at`]).
    pub fn create_at_or_skip(layout: &Layout, name: &str, limits: &Limits) -> Result<Cgroup> {
        use nix::errno::Errno;
        match Cgroup::create_at(layout, name, limits) {
            Err(Error::Syscall {
                errno: Errno::EACCES | Errno::EPERM | Errno::EROFS,
                ..
            }) if !crate::pseudofs::real_root() => {
                if limits.any() {
                    return Err(Error::Request(
                        "resource limits need a cgroup subtree you may write: run with sudo, or from a delegated one (systemd-run --user --scope -p Delegate=yes ...)".into(),
                    ));
                }
                crate::cli::warn(
                    "note: no cgroup subtree is delegated to you: running without a cgroup (no limits, no accounting)",
                );
                Ok(Cgroup::none(layout))
            }
            other => other,
        }
    }

    /// No cgroup at all: a rootless container where no cgroup subtree is
    /// delegated to the user (step 7). Every operation is a no-op.
    pub fn none(layout: &Layout) -> Cgroup {
        Cgroup {
            name: String::new(),
            version: layout.version(),
            v2: None,
            v1: Vec::new(),
            armed: true,
        }
    }

    /// The v1 cgroup of `controller`, if we use one.
    pub fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.v1
            .iter()
            .find(|(h, _)| h.options.iter().any(|o| o == controller))
            .map(|(_, d)| d.as_path())
    }

    fn v1_dirs(&self) -> v1::Dirs {
        v1::Dirs {
            memory: self.v1_dir("memory").map(Path::to_path_buf),
            pids: self.v1_dir("pids").map(Path::to_path_buf),
            cpu: self.v1_dir("cpu").map(Path::to_path_buf),
            cpuacct: self.v1_dir("cpuacct").map(Path::to_path_buf),
            freezer: self.v1_dir("freezer").map(Path::to_path_buf),
        }
    }

    /// Every directory of this cgroup, v2 first.
    pub fn all_dirs(&self) -> Vec<&Path> {
        self.v2
            .iter()
            .map(PathBuf::as_path)
            .chain(self.v1.iter().map(|(_, d)| d.as_path()))
            .collect()
    }

    // ANCHOR: join
    /// Move `pid` into the cgroup, in every hierarchy. Children it forks
    /// later are born inside.
    pub fn join(&self, pid: i32) -> Result<()> {
        for dir in self.all_dirs() {
            write(dir, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }
    // ANCHOR_END: join

    // ANCHOR: join_self
    /// In the container's process: move the calling thread into the v1
    /// hierarchies by writing `0` ("myself") to each one's `tasks`. A PID
    /// written to `cgroup.procs` takes the kernel's global
    /// cgroup_threadgroup_rwsem for writing, which waits for an RCU grace
    /// period: milliseconds, the largest single cost of a start on v1. A
    /// thread that moves itself can't exit or exec meanwhile, so the kernel
    /// skips that lock; and in a single-threaded process the thread is the
    /// process. (v2 has no such path between cgroups: there the runtime
    /// clones the child straight in, see clone3's CLONE_INTO_CGROUP.)
    pub fn join_self_v1(&self) -> Result<()> {
        for (_, dir) in &self.v1 {
            write(dir, "tasks", "0")?;
        }
        Ok(())
    }
    // ANCHOR_END: join_self

    /// Move `pid` into the v2 cgroup only (the v1 part joined itself).
    pub fn join_v2(&self, pid: i32) -> Result<()> {
        if let Some(dir) = &self.v2 {
            write(dir, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// What the cgroup measured.
    pub fn stats(&self) -> Stats {
        match self.version {
            Version::V2 => self.v2.as_deref().map(v2::stats).unwrap_or_default(),
            _ => v1::stats(&self.v1_dirs()),
        }
    }

    // ANCHOR: kill_all
    /// Kill every process left in the cgroup and wait until it is empty.
    pub fn kill_all(&self) {
        // cgroup.kill (v2, Linux 5.14): SIGKILL to the whole group at once,
        // including processes forked while we look. Hybrid machines have it
        // in their v2 hierarchy too.
        let killed = self.v2.as_deref().is_some_and(|dir| {
            dir.join("cgroup.kill").exists() && write(dir, "cgroup.kill", "1").is_ok()
        });
        if !killed {
            v1::freeze_and_kill(&self.v1_dirs(), &self.all_dirs());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.all_dirs().iter().any(|d| !procs(d).is_empty()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // ANCHOR_END: kill_all

    // ANCHOR: remove
    /// Remove the directories (they must be empty of processes).
    fn remove(&self) {
        for dir in self.all_dirs() {
            for _ in 0..100 {
                match std::fs::remove_dir(dir) {
                    Ok(()) => {
                        explain::syscall(&format!("rmdir({:?})", dir.display().to_string()), 0);
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    // EBUSY: the last task is still being torn down.
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
    }
    // ANCHOR_END: remove
}

impl Cgroup {
    /// Leave the cgroup and its processes alone when this value is
    /// dropped: the container outlives this process (OCI `create`).
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

// ANCHOR: drop
impl Drop for Cgroup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.kill_all();
        self.remove();
    }
}
// ANCHOR_END: drop

/// PIDs in a cgroup.
pub fn procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Enable what `limits` needs for the v2 cgroup `name`: each level, from
/// the root down to its parent, enables the controllers for the level
/// below it.
pub fn enable_down_to(root: &Path, name: &str, limits: &Limits) -> Result<()> {
    let mut dir = root.to_path_buf();
    for part in name.split('/') {
        v2::enable_controllers(&dir, limits)?;
        dir.push(part);
    }
    Ok(())
}

/// A parent of a cgroup, made if missing (and then kept: another
/// container's may share it).
fn make_parent(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::io(format!("creating {}", path.display()), e))
}

fn mkdir(path: &Path) -> Result<PathBuf> {
    match std::fs::create_dir(path) {
        Ok(()) => {
            explain::syscall(&format!("mkdir({:?})", path.display().to_string()), 0);
            Ok(path.to_path_buf())
        }
        Err(e) => Err(Error::syscall(
            format!("mkdir({:?})", path.display().to_string()),
            nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn detects_hybrid() {
        let l = Layout::parse(HYBRID);
        assert_eq!(l.version(), Version::Hybrid);
        assert_eq!(l.v2, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(
            l.v1_hierarchy("memory").unwrap().mount,
            PathBuf::from("/sys/fs/cgroup/memory")
        );
        assert!(l.v1_hierarchy("freezer").is_none());
        assert_eq!(l.v1_used().len(), 4);
    }

    #[test]
    fn detects_pure_v2_and_v1() {
        let v2 = Layout::parse(
            "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
        );
        assert_eq!(v2.version(), Version::V2);
        let v1 = Layout::parse(
            "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n",
        );
        assert_eq!(v1.version(), Version::V1);
        // cpu and cpuacct share one hierarchy: used once.
        assert_eq!(v1.v1_used().len(), 1);
        assert_eq!(v1.v1[0].options, vec!["cpu", "cpuacct"]);
    }

    #[test]
    fn keyed_files() {
        let events = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n";
        assert_eq!(keyed(events, "oom_kill"), Some(1));
        assert_eq!(keyed(events, "max"), Some(12));
        assert_eq!(keyed(events, "nope"), None);
    }

    #[test]
    fn stats_line() {
        let s = Stats {
            memory_peak: Some(33554432),
            cpu_usec: Some(410_000),
            oom_kills: Some(1),
            ..Stats::default()
        };
        assert_eq!(
            s.line(),
            "memory peak 32.0 MiB, cpu 0.41 s, throttled n/a, oom kills 1, pids peak n/a, forks refused n/a"
        );
    }
}
