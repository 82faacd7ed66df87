//! The `run` flags step 5 adds, in docker's spelling. Later steps flatten
//! this group into their own `run`.

use crate::error::Result;
use crate::limits::{self, Limits};

/// `--memory`, `--pids-limit`, `--cpus`, `--cpu-shares`, `--stats`.
/// clap parses each value with the parsers of [`limits`], so a bad one is a
/// usage error (exit 2) before anything is created.
#[derive(Debug, clap::Args)]
pub struct LimitArgs {
    /// Memory limit (k, m or g suffix); swap is limited to the same
    #[arg(long, value_name = "SIZE", allow_negative_numbers = true, value_parser = limits::parse_memory)]
    pub memory: Option<u64>,

    /// Maximum number of processes and threads
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = limits::parse_pids)]
    pub pids_limit: Option<u64>,

    /// CPU bandwidth, in CPUs (0.5 = half of one CPU)
    // Parsed into the CFS quota in microseconds per 100 ms period.
    #[arg(long, value_name = "CPUS", allow_negative_numbers = true, value_parser = limits::parse_cpus)]
    pub cpus: Option<u64>,

    /// Relative CPU weight (2-262144, default 1024; cpu.weight on v2)
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = limits::parse_shares)]
    pub cpu_shares: Option<u64>,

    /// Print what the cgroup measured when the container ends
    #[arg(long)]
    pub stats: bool,
}

impl LimitArgs {
    /// The limits asked for, parsed and checked.
    pub fn limits(&self, with_init: bool) -> Result<Limits> {
        limits::from_flags(
            self.memory,
            self.pids_limit,
            self.cpus,
            self.cpu_shares,
            with_init,
        )
    }
}
