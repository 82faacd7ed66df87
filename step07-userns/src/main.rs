//! `step07-userns`: run a command in a user namespace, as root or rootless.

mod run;

/// This step's library under one name in every step, so that `diff` of two
/// steps' run.rs shows only what the step changed.
use step07_userns as isolab;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use step07_userns::cli::{self, Common, InspectArgs};
use step07_userns::image_args::ImageArgs;
use step07_userns::layer_args::LayerArgs;
use step07_userns::limit_args::LimitArgs;
use step07_userns::map_args::MapArgs;
use step07_userns::privilege_args::PrivilegeArgs;
use step07_userns::rootfs_cmd::{self, RootfsCommand};
use step07_userns::uts::validate_hostname;

/// isolab step 7: step 6 in a user namespace. Root in the container is an
/// unprivileged uid on the host (1000000 by default), the image looks
/// root-owned inside through an idmapped mount, and a normal user can run
/// it without sudo (rootless).
#[derive(Debug, Parser)]
#[command(name = "step07-userns", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run CMD in a user namespace and the namespaces it owns
    #[command(
        after_help = "Example: step07-userns run -- id   (as root, or as a normal user: rootless)"
    )]
    Run(Box<RunArgs>),
    /// Show a process next to another (default: PID 1), marking differences
    Inspect(InspectArgs),
    /// Manage root filesystems ("images")
    #[command(subcommand)]
    Rootfs(RootfsCommand),
    /// Print a process's capabilities the way `capsh --print` does
    Caps {
        /// The process (default: this one)
        pid: Option<i32>,
    },
    /// Remove layers, state and cgroups left by runtimes that were killed
    Cleanup {
        /// Keep images and state under DIR instead of /var/lib/isolab and /run/isolab
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

/// `run`'s arguments: the shared flags, then each step's group.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Hostname inside the container's UTS namespace
    #[arg(long, default_value = "step07", value_parser = validate_hostname)]
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
    pub privileges: PrivilegeArgs,

    #[command(flatten)]
    pub maps: MapArgs,

    #[command(flatten)]
    pub common: Common,
}

fn main() {
    let cli: Cli = cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Inspect(args) => cli::inspect_command(args),
        Command::Rootfs(cmd) => rootfs_cmd::run(cmd),
        Command::Caps { pid } => {
            step07_userns::capsh::report(pid.unwrap_or(std::process::id() as i32)).map(|text| {
                print!("{text}");
                0
            })
        }
        Command::Cleanup { state_dir } => step07_userns::cleanup::run(state_dir.as_deref()),
    };
    cli::exit("step07-userns", result)
}
