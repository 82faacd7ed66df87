//! cgroup v2: one hierarchy; a controller works in a cgroup only when its
//! parent lists it in `cgroup.subtree_control`. (See v1.rs for the table
//! of v1 files and their v2 counterparts.)

use std::path::Path;

use super::{Stats, keyed, read, write};
use crate::error::{Error, Result};
use crate::explain;
use crate::limits::{CPU_PERIOD_US, Limits, shares_to_weight};

/// The controllers `limits` needs.
pub fn needed(limits: &Limits) -> Vec<&'static str> {
    let mut c = Vec::new();
    if limits.memory.is_some() {
        c.push("memory");
    }
    if limits.pids.is_some() {
        c.push("pids");
    }
    if limits.cpu_quota_us.is_some() || limits.cpu_shares.is_some() {
        c.push("cpu");
    }
    c
}

// ANCHOR: enable_controllers
/// Make sure the root's `cgroup.subtree_control` enables what we need for
/// our cgroup, which is a child of the root. systemd machines have them all
/// enabled already; we only add what is missing, and say so.
pub fn enable_controllers(root: &Path, limits: &Limits) -> Result<()> {
    let available = read(root, "cgroup.controllers").unwrap_or_default();
    let enabled = read(root, "cgroup.subtree_control").unwrap_or_default();
    for c in needed(limits) {
        if !available.split_whitespace().any(|a| a == c) {
            return Err(Error::Unsupported(format!(
                "the {c} controller is not available in this machine's cgroup v2 hierarchy: drop that limit"
            )));
        }
        if !enabled.split_whitespace().any(|e| e == c) {
            explain::note(&format!(
                "enabling the {c} controller for the root's children"
            ));
            write(root, "cgroup.subtree_control", &format!("+{c}"))?;
        }
    }
    Ok(())
}
// ANCHOR_END: enable_controllers

// ANCHOR: apply
/// Write the limits into the v2 files.
pub fn apply(dir: &Path, limits: &Limits) -> Result<()> {
    if let Some(bytes) = limits.memory {
        write(dir, "memory.max", &bytes.to_string())?;
        // v2 limits swap on its own, not memory plus swap as v1 does:
        // none unless asked, so the memory limit is real.
        if dir.join("memory.swap.max").exists() {
            let swap = match limits.memory_swap {
                Some(u64::MAX) => "max".to_string(),
                Some(total) => total.saturating_sub(bytes).to_string(),
                None => "0".to_string(),
            };
            write(dir, "memory.swap.max", &swap)?;
        }
    }
    if let Some(n) = limits.pids {
        write(dir, "pids.max", &n.to_string())?;
    }
    if let Some(quota) = limits.cpu_quota_us {
        write(dir, "cpu.max", &format!("{quota} {CPU_PERIOD_US}"))?;
    }
    if let Some(shares) = limits.cpu_shares {
        write(dir, "cpu.weight", &shares_to_weight(shares).to_string())?;
    }
    Ok(())
}
// ANCHOR_END: apply

// ANCHOR: stats
/// Read the v2 counters.
pub fn stats(dir: &Path) -> Stats {
    let cpu = read(dir, "cpu.stat").unwrap_or_default();
    Stats {
        memory_peak: read(dir, "memory.peak").and_then(|v| v.parse().ok()),
        cpu_usec: keyed(&cpu, "usage_usec"),
        nr_throttled: keyed(&cpu, "nr_throttled"),
        oom_kills: read(dir, "memory.events").and_then(|t| keyed(&t, "oom_kill")),
        pids_peak: read(dir, "pids.peak").and_then(|v| v.parse().ok()),
        pids_max_hits: read(dir, "pids.events").and_then(|t| keyed(&t, "max")),
    }
}
// ANCHOR_END: stats

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_v2_files() {
        let d = std::env::temp_dir().join(format!("isolab-v2-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("memory.swap.max"), "").unwrap();
        let mut limits = Limits {
            memory: Some(32 << 20),
            memory_swap: None,
            pids: Some(20),
            cpu_quota_us: Some(20_000),
            cpu_shares: Some(1024),
        };
        apply(&d, &limits).unwrap();
        let r = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        let got = (
            r("memory.max"),
            r("memory.swap.max"),
            r("pids.max"),
            r("cpu.max"),
            r("cpu.weight"),
        );
        // An engine's memory+swap total: v2 wants the swap part alone.
        limits.memory_swap = Some(64 << 20);
        apply(&d, &limits).unwrap();
        let swap = r("memory.swap.max");
        limits.memory_swap = Some(u64::MAX);
        apply(&d, &limits).unwrap();
        assert_eq!(
            (swap.as_str(), r("memory.swap.max").as_str()),
            ("33554432", "max")
        );
        std::fs::write(
            d.join("cpu.stat"),
            "usage_usec 410000\nuser_usec 1\nnr_throttled 18\n",
        )
        .unwrap();
        std::fs::write(d.join("memory.events"), "oom 1\noom_kill 1\n").unwrap();
        std::fs::write(d.join("memory.peak"), "1048576\n").unwrap();
        let s = stats(&d);
        std::fs::remove_dir_all(&d).unwrap();
        assert_eq!(
            got,
            (
                "33554432".into(),
                "0".into(),
                "20".into(),
                "20000 100000".into(),
                "39".into()
            )
        );
        assert_eq!(
            s,
            Stats {
                memory_peak: Some(1 << 20),
                cpu_usec: Some(410_000),
                nr_throttled: Some(18),
                oom_kills: Some(1),
                pids_peak: None,
                pids_max_hits: None
            }
        );
    }

    #[test]
    fn needed_controllers() {
        assert_eq!(needed(&Limits::default()), Vec::<&str>::new());
        let l = Limits {
            memory: Some(1),
            cpu_shares: Some(2),
            ..Limits::default()
        };
        assert_eq!(needed(&l), vec!["memory", "cpu"]);
    }
}
