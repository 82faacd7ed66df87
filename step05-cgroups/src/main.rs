//! `step05-cgroups`: run a command with memory, process and CPU limits.

mod run;

/// This step's library under one name in every step, so that `diff` of two
/// steps' run.rs shows only what the step changed.
use step05_cgroups as isolab;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use step05_cgroups::cli::{self, Common, InspectArgs};
use step05_cgroups::rootfs_cmd::{self, RootfsCommand};
use step05_cgroups::state::State;
use step05_cgroups::uts::validate_hostname;
use step05_cgroups::{cgroup, container};

/// isolab step 5: step 4 plus cgroups. The container runs in a cgroup of
/// its own (v2, v1 or hybrid, detected), with docker-style limits, and in a
/// cgroup namespace that shows that cgroup as `/`.
#[derive(Debug, Parser)]
#[command(name = "step05-cgroups", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run CMD in new namespaces and a cgroup with the given limits
    #[command(
        after_help = "Example: sudo step05-cgroups run --memory 32m --pids-limit 20 --stats -- /bin/sh"
    )]
    Run(Box<RunArgs>),
    /// Show a process next to another (default: PID 1), marking differences
    Inspect(InspectArgs),
    /// Manage root filesystems ("images")
    #[command(subcommand)]
    Rootfs(RootfsCommand),
    /// Remove layers, state and cgroups left by runtimes that were killed
    Cleanup {
        /// Keep images and state under DIR instead of /var/lib/isolab and /run/isolab
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

/// `run`'s arguments: the shared flags plus what steps 1 to 3 add.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Hostname inside the container's UTS namespace
    #[arg(long, default_value = "step05", value_parser = validate_hostname)]
    pub hostname: String,

    /// Exec CMD as PID 1 itself, with no init
    #[arg(long)]
    pub no_init: bool,

    /// The image (overlay lowerdir): a directory, or the NAME of an
    /// imported one (default: a small rootfs built from the host)
    #[arg(long, value_name = "DIR|NAME")]
    pub rootfs: Option<String>,

    /// Keep images and state under DIR instead of /var/lib/isolab and /run/isolab
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Keep the container's upper layer (its writes) after it exits, and
    /// print where it is
    #[arg(long)]
    pub keep: bool,

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

    #[command(flatten)]
    pub common: Common,
}

impl RunArgs {
    /// The limits asked for, parsed and checked (a bad value is exit 125).
    pub fn limits(&self) -> step05_cgroups::Result<step05_cgroups::limits::Limits> {
        step05_cgroups::limits::from_flags(
            self.memory.as_deref(),
            self.pids_limit.as_deref(),
            self.cpus.as_deref(),
            self.cpu_shares.as_deref(),
            !self.no_init,
        )
    }
}

fn main() {
    let cli: Cli = cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Inspect(args) => cli::inspect_command(args),
        Command::Rootfs(cmd) => rootfs_cmd::run(cmd),
        Command::Cleanup { state_dir } => {
            let mut removed = container::sweep_stale(&State::new(state_dir.as_deref()));
            if let Ok(layout) = cgroup::Layout::detect() {
                removed.extend(
                    cgroup::sweep_stale(&layout)
                        .iter()
                        .map(|p| p.display().to_string()),
                );
            }
            println!(
                "removed {} stale container(s){}",
                removed.len(),
                if removed.is_empty() {
                    String::new()
                } else {
                    format!(": {}", removed.join(" "))
                }
            );
            Ok(0)
        }
    };
    cli::exit("step05-cgroups", result)
}
