//! Resource limits as the user writes them (docker's spelling), parsed and
//! checked before anything is created.

use crate::error::{Error, Result};

/// The smallest memory limit we accept. Below it even the runtime's init
/// and a shell can't start (docker refuses under 6 MiB too).
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// The CFS period we use for `--cpus`: 100 ms, the kernel's default.
pub const CPU_PERIOD_US: u64 = 100_000;

/// The limits asked for; `None` means unlimited.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// Bytes of memory; unless [`Limits::memory_swap`] says otherwise,
    /// memory plus swap is limited to the same, so no swap is used.
    pub memory: Option<u64>,
    /// Bytes of memory plus swap (the OCI spec's `memory.swap`, which
    /// engines set: podman's `--memory 64m` asks for 128m); `u64::MAX` is
    /// unlimited. Only read with `memory` set. The steps' flags leave it
    /// `None`: no swap.
    pub memory_swap: Option<u64>,
    /// Maximum number of tasks (processes and threads).
    pub pids: Option<u64>,
    /// CPU bandwidth: microseconds per [`CPU_PERIOD_US`].
    pub cpu_quota_us: Option<u64>,
    /// Relative CPU weight, in cgroup v1 shares (2..=262144, default 1024).
    pub cpu_shares: Option<u64>,
}

impl Limits {
    /// Is any limit set?
    pub fn any(&self) -> bool {
        *self != Limits::default()
    }
}

/// `32m`, `1g`, `512k`, `1048576` (bytes; suffixes are powers of 1024).
pub fn parse_memory(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (digits, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: u64 = digits.parse().map_err(|_| {
        format!("{text:?} is not a size: use a number with an optional k, m or g suffix (32m)")
    })?;
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if bytes < MIN_MEMORY {
        return Err(format!(
            "{text} is too little memory for a container to start (the runtime's init and a shell need more): use at least 6m"
        ));
    }
    Ok(bytes)
}

// ANCHOR: parse_cpus
/// `--cpus 0.5`: a positive fraction of CPUs, at most the machine's count.
pub fn parse_cpus(text: &str) -> std::result::Result<u64, String> {
    let cpus: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of CPUs (0.5, 1, 2.5)"))?;
    if !cpus.is_finite() || cpus <= 0.0 {
        return Err(format!("--cpus must be more than 0, got {text}"));
    }
    let online = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    if cpus > online {
        return Err(format!(
            "--cpus {text} is more than this machine's {online} CPUs"
        ));
    }
    let quota = (cpus * CPU_PERIOD_US as f64).round() as u64;
    // The kernel refuses quotas under 1 ms.
    Ok(quota.max(1000))
}
// ANCHOR_END: parse_cpus

/// `--pids-limit N`: at least 1.
pub fn parse_pids(text: &str) -> std::result::Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("--pids-limit 0 would not even let the container start: use 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number of processes")),
    }
}

/// `--cpu-shares N`: 2..=262144, as cgroup v1 defines them.
pub fn parse_shares(text: &str) -> std::result::Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if (2..=262_144).contains(&n) => Ok(n),
        _ => Err(format!(
            "--cpu-shares must be a whole number from 2 to 262144, got {text:?}"
        )),
    }
}

// ANCHOR: shares_to_weight
/// cgroup v2's cpu.weight (1..=10000) for v1 shares (2..=262144): the
/// linear mapping runc and crun use, ends to ends (1024 shares is 39).
pub fn shares_to_weight(shares: u64) -> u64 {
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}
// ANCHOR_END: shares_to_weight

/// The limits from the flags as clap parsed them (`None` when absent),
/// [`check`]ed together.
pub fn from_flags(
    memory: Option<u64>,
    pids: Option<u64>,
    cpu_quota_us: Option<u64>,
    cpu_shares: Option<u64>,
    with_init: bool,
) -> Result<Limits> {
    let limits = Limits {
        memory,
        memory_swap: None,
        pids,
        cpu_quota_us,
        cpu_shares,
    };
    check(&limits, with_init)?;
    Ok(limits)
}

// ANCHOR: report
/// After the container ended: name an OOM kill, and print the cgroup's
/// numbers with `--stats` (and `--explain`).
pub fn report(stats: &crate::cgroup::Stats, limits: &Limits, exit_code: i32, show: bool) {
    if exit_code == 128 + libc::SIGKILL && stats.oom_kills.unwrap_or(0) > 0 {
        let limit = limits
            .memory
            .map(|b| format!(": memory limit {} MiB", b >> 20))
            .unwrap_or_default();
        crate::cli::warn(&format!(
            "the container was killed by the OOM killer{limit}"
        ));
    }
    if show || crate::explain::enabled() {
        crate::cli::warn(&format!("stats: {}", stats.line()));
    }
}
// ANCHOR_END: report

/// Checks that need two flags at once.
pub fn check(limits: &Limits, with_init: bool) -> Result<()> {
    if limits.pids == Some(1) && with_init {
        return Err(Error::BadFlag(
            "--pids-limit 1 leaves no room for the command next to the init: use 2 or more, or --no-init".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("32m"), Ok(32 << 20));
        assert_eq!(parse_memory("1G"), Ok(1 << 30));
        assert_eq!(parse_memory("8192k"), Ok(8 << 20));
        assert_eq!(parse_memory("64mb"), Ok(64 << 20));
        assert_eq!(parse_memory("10485760"), Ok(10 << 20));
        assert!(parse_memory("abc").unwrap_err().contains("not a size"));
        assert!(parse_memory("1m").unwrap_err().contains("too little"));
        assert!(parse_memory("0").is_err());
        assert!(parse_memory("99999999999999g").is_err());
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("0.2"), Ok(20_000));
        assert_eq!(parse_cpus("1"), Ok(100_000));
        assert!(parse_cpus("-1").is_err());
        assert!(parse_cpus("0").is_err());
        assert!(parse_cpus("nan").is_err());
        assert!(parse_cpus("x").is_err());
        assert!(
            parse_cpus("100000")
                .unwrap_err()
                .contains("more than this machine")
        );
        assert_eq!(parse_cpus("0.001"), Ok(1000));
    }

    #[test]
    fn pids_and_shares() {
        assert_eq!(parse_pids("20"), Ok(20));
        assert!(parse_pids("0").is_err());
        assert!(parse_pids("-3").is_err());
        assert_eq!(parse_shares("1024"), Ok(1024));
        assert!(parse_shares("1").is_err());
        assert!(parse_shares("262145").is_err());
    }

    #[test]
    fn weights_match_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1024), 39);
    }

    #[test]
    fn pids_one_needs_no_init() {
        let l = Limits {
            pids: Some(1),
            ..Limits::default()
        };
        assert!(check(&l, true).is_err());
        assert!(check(&l, false).is_ok());
    }
}
