//! The `run` flags step 5 adds, in docker's spelling. Later steps flatten
//! this group into their own `run`.

use crate::error::Result;
use crate::limits::{self, Limits};

/// `--memory`, `--pids-limit`, `--cpus`, `--cpu-shares`, `--stats`.
/// Values are parsed by [`LimitArgs::limits`], not by clap, so that a bad
/// one is a runtime error (exit 125), like docker's.
#[derive(Debug, clap::Args)]
pub struct LimitArgs {
    /// Memory limit (k, m or g suffix); swap is limited to the same
    #[arg(long, value_name = "SIZE", allow_negative_numbers = true)]
    pub memory: Option<String>,

    /// Maximum number of processes and threads
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub pids_limit: Option<String>,

    /// CPU bandwidth, in CPUs (0.5 = half of one CPU)
    #[arg(long, value_name = "CPUS", allow_negative_numbers = true)]
    pub cpus: Option<String>,

    /// Relative CPU weight (2-262144, default 1024; cpu.weight on v2)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub cpu_shares: Option<String>,

    /// Print what the cgroup measured when the container ends
    #[arg(long)]
    pub stats: bool,
}

impl LimitArgs {
    /// The limits asked for, parsed and checked.
    pub fn limits(&self, with_init: bool) -> Result<Limits> {
        limits::from_flags(
            self.memory.as_deref(),
            self.pids_limit.as_deref(),
            self.cpus.as_deref(),
            self.cpu_shares.as_deref(),
            with_init,
        )
    }
}
