//! `step07-userns`: run a command in a user namespace, as root or rootless.

mod run;

/// This step's library under one name in every step, so that `diff` of two
/// steps' run.rs shows only what the step changed.
use step07_userns as isolab;

use clap::{Parser, Subcommand};
use step07_userns::cli::{self, Common};
use step07_userns::image_args::ImageArgs;
use step07_userns::layer_args::LayerArgs;
use step07_userns::limit_args::LimitArgs;
use step07_userns::map_args::MapArgs;
use step07_userns::privilege_args::PrivilegeArgs;
use step07_userns::privilege_tools::Tools;
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
    #[command(flatten)]
    Tools(Tools),
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
        Command::Tools(tools) => tools.run(),
    };
    cli::exit("step07-userns", result)
}
