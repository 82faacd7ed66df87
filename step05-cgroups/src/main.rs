//! `step05-cgroups`: run a command with memory, process and CPU limits.

mod run;

/// This step's library under one name in every step, so that `diff` of two
/// steps' run.rs shows only what the step changed.
use step05_cgroups as isolab;

use clap::{Parser, Subcommand};
use step05_cgroups::cli::{self, Common};
use step05_cgroups::image_args::ImageArgs;
use step05_cgroups::layer_args::LayerArgs;
use step05_cgroups::layer_tools::Tools;
use step05_cgroups::limit_args::LimitArgs;
use step05_cgroups::uts::validate_hostname;

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
    #[command(flatten)]
    Tools(Tools),
}

/// `run`'s arguments: the shared flags, then each step's group.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Hostname inside the container's UTS namespace
    #[arg(long, default_value = "step05", value_parser = validate_hostname)]
    pub hostname: String,

    /// Exec CMD as PID 1 itself, with no init
    #[arg(long)]
    pub no_init: bool,

    #[command(flatten)]
    pub image: ImageArgs,

    #[command(flatten)]
    pub layers: LayerArgs,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub common: Common,
}

fn main() {
    let cli: Cli = cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        // Step 5's cleanup also sweeps cgroups.
        Command::Tools(Tools::Cleanup { state_dir }) => {
            step05_cgroups::cgroup_sweep::cleanup(state_dir.as_deref())
        }
        Command::Tools(tools) => tools.run(),
    };
    cli::exit("step05-cgroups", result)
}
