//! cgroup v1: one hierarchy per controller, one file per knob.
//!
//! | what | v1 file | v2 file |
//! |---|---|---|
//! | memory limit | memory.limit_in_bytes | memory.max |
//! | memory + swap | memory.memsw.limit_in_bytes | memory.swap.max (swap alone) |
//! | peak memory | memory.max_usage_in_bytes | memory.peak |
//! | OOM kills | memory.oom_control `oom_kill` | memory.events `oom_kill` |
//! | task limit | pids.max | pids.max |
//! | CPU quota | cpu.cfs_quota_us + cpu.cfs_period_us | cpu.max "quota period" |
//! | CPU weight | cpu.shares (2..262144) | cpu.weight (1..10000) |
//! | CPU time | cpuacct.usage (ns) | cpu.stat `usage_usec` |
//! | throttling | cpu.stat `nr_throttled` | cpu.stat `nr_throttled` |
//! | freeze | freezer.state FROZEN | cgroup.freeze 1 |
//! | kill all | (freeze, kill each, thaw) | cgroup.kill 1 |

use std::path::{Path, PathBuf};

use super::{Stats, keyed, read, write};
use crate::error::Result;
use crate::limits::{CPU_PERIOD_US, Limits};

/// The container's cgroup in each v1 controller's hierarchy.
#[derive(Debug, Clone, Default)]
pub struct Dirs {
    pub memory: Option<PathBuf>,
    pub pids: Option<PathBuf>,
    pub cpu: Option<PathBuf>,
    pub cpuacct: Option<PathBuf>,
    pub freezer: Option<PathBuf>,
}

fn need<'a>(dir: &'a Option<PathBuf>, controller: &str) -> Result<&'a Path> {
    dir.as_deref().ok_or_else(|| {
        crate::error::Error::Unsupported(format!(
            "the {controller} controller is not mounted on this machine: drop that limit"
        ))
    })
}

// ANCHOR: apply
/// Write the limits into the v1 files.
pub fn apply(dirs: &Dirs, limits: &Limits) -> Result<()> {
    if let Some(bytes) = limits.memory {
        let dir = need(&dirs.memory, "memory")?;
        // memory+swap: equal to the memory limit means no swap, so the
        // limit is real. Only a kernel with swap accounting has the file.
        let memsw =
            dir.join("memory.memsw.limit_in_bytes")
                .exists()
                .then(|| match limits.memory_swap {
                    Some(u64::MAX) => "-1".to_string(),
                    Some(total) => total.to_string(),
                    None => bytes.to_string(),
                });
        // The kernel keeps memory+swap at or above memory at every write:
        // memory first, unless the new memory+swap is at or above the
        // memory limit now (raising both, as `update` may).
        let now = std::fs::read_to_string(dir.join("memory.limit_in_bytes"))
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok());
        let memsw_first = memsw
            .as_deref()
            .is_some_and(|m| m == "-1" || m.parse::<u64>().ok() >= now);
        if memsw_first && let Some(m) = &memsw {
            write(dir, "memory.memsw.limit_in_bytes", m)?;
        }
        write(dir, "memory.limit_in_bytes", &bytes.to_string())?;
        if !memsw_first && let Some(m) = &memsw {
            write(dir, "memory.memsw.limit_in_bytes", m)?;
        }
    }
    if let Some(n) = limits.pids {
        write(need(&dirs.pids, "pids")?, "pids.max", &n.to_string())?;
    }
    if let Some(quota) = limits.cpu_quota_us {
        let dir = need(&dirs.cpu, "cpu")?;
        write(dir, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
        write(dir, "cpu.cfs_quota_us", &quota.to_string())?;
    }
    if let Some(shares) = limits.cpu_shares {
        write(need(&dirs.cpu, "cpu")?, "cpu.shares", &shares.to_string())?;
    }
    Ok(())
}
// ANCHOR_END: apply

// ANCHOR: stats
/// Read the v1 counters.
pub fn stats(dirs: &Dirs) -> Stats {
    let mem = dirs.memory.as_deref();
    Stats {
        memory_peak: mem
            .and_then(|d| read(d, "memory.max_usage_in_bytes"))
            .and_then(|v| v.parse().ok()),
        cpu_usec: dirs
            .cpuacct
            .as_deref()
            .and_then(|d| read(d, "cpuacct.usage"))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|ns| ns / 1000),
        nr_throttled: dirs
            .cpu
            .as_deref()
            .and_then(|d| read(d, "cpu.stat"))
            .and_then(|t| keyed(&t, "nr_throttled")),
        oom_kills: mem
            .and_then(|d| read(d, "memory.oom_control"))
            .and_then(|t| keyed(&t, "oom_kill")),
        // pids.peak came to v1 later than to v2 (absent on older kernels).
        pids_peak: dirs
            .pids
            .as_deref()
            .and_then(|d| read(d, "pids.peak"))
            .and_then(|v| v.parse().ok()),
        pids_max_hits: dirs
            .pids
            .as_deref()
            .and_then(|d| read(d, "pids.events"))
            .and_then(|t| keyed(&t, "max")),
    }
}
// ANCHOR_END: stats

// ANCHOR: freeze_and_kill
/// v1 has no cgroup.kill: freeze the group so nothing can fork, SIGKILL
/// every task, thaw so the signals are delivered.
pub fn freeze_and_kill(dirs: &Dirs, all: &[&Path]) {
    // An empty group (the usual end: the command exited, and with it every
    // task of its PID namespace) needs no freezing, and freezing is not
    // free: the first frozen cgroup flips a static key, which patches the
    // kernel's code on every CPU (about a millisecond, for nothing).
    if all.iter().all(|d| super::procs(d).is_empty()) {
        return;
    }
    let freezer = dirs.freezer.as_deref();
    if let Some(f) = freezer {
        let _ = write(f, "freezer.state", "FROZEN");
    }
    for dir in all {
        for pid in super::procs(dir) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    if let Some(f) = freezer {
        let _ = write(f, "freezer.state", "THAWED");
    }
}
// ANCHOR_END: freeze_and_kill

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("isolab-v1-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_the_v1_files() {
        let d = temp("apply");
        std::fs::write(d.join("memory.memsw.limit_in_bytes"), "").unwrap();
        let dirs = Dirs {
            memory: Some(d.clone()),
            pids: Some(d.clone()),
            cpu: Some(d.clone()),
            ..Dirs::default()
        };
        let mut limits = Limits {
            memory: Some(32 << 20),
            memory_swap: None,
            pids: Some(20),
            cpu_quota_us: Some(20_000),
            cpu_shares: Some(512),
        };
        apply(&dirs, &limits).unwrap();
        let r = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        assert_eq!(r("memory.limit_in_bytes"), "33554432");
        assert_eq!(r("memory.memsw.limit_in_bytes"), "33554432");
        // An engine's memory+swap total is written as it is (v1's meaning).
        limits.memory_swap = Some(64 << 20);
        apply(&dirs, &limits).unwrap();
        assert_eq!(r("memory.memsw.limit_in_bytes"), "67108864");
        limits.memory_swap = Some(u64::MAX);
        apply(&dirs, &limits).unwrap();
        assert_eq!(r("memory.memsw.limit_in_bytes"), "-1");
        assert_eq!(r("pids.max"), "20");
        assert_eq!(r("cpu.cfs_period_us"), "100000");
        assert_eq!(r("cpu.cfs_quota_us"), "20000");
        assert_eq!(r("cpu.shares"), "512");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_controller_is_a_clear_error() {
        let limits = Limits {
            pids: Some(5),
            ..Limits::default()
        };
        let err = apply(&Dirs::default(), &limits).unwrap_err().to_string();
        assert!(err.contains("pids controller"), "{err}");
    }

    #[test]
    fn reads_the_v1_counters() {
        let d = temp("stats");
        std::fs::write(d.join("memory.max_usage_in_bytes"), "1048576\n").unwrap();
        std::fs::write(
            d.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        std::fs::write(d.join("cpuacct.usage"), "410000000\n").unwrap();
        std::fs::write(
            d.join("cpu.stat"),
            "nr_periods 20\nnr_throttled 18\nthrottled_time 1\n",
        )
        .unwrap();
        let dirs = Dirs {
            memory: Some(d.clone()),
            cpu: Some(d.clone()),
            cpuacct: Some(d.clone()),
            ..Dirs::default()
        };
        let s = stats(&dirs);
        std::fs::remove_dir_all(&d).unwrap();
        assert_eq!(
            s,
            Stats {
                memory_peak: Some(1 << 20),
                cpu_usec: Some(410_000),
                nr_throttled: Some(18),
                oom_kills: Some(2),
                pids_peak: None,
                pids_max_hits: None
            }
        );
    }
}
