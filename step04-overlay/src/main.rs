//! `step04-overlay`: run a command on an overlay of a read-only image.

mod run;

/// This step's library under one name in every step, so that `diff` of two
/// steps' run.rs shows only what the step changed.
use step04_overlay as isolab;

use clap::{Parser, Subcommand};
use step04_overlay::cli::{self, Common};
use step04_overlay::image_args::ImageArgs;
use step04_overlay::layer_args::LayerArgs;
use step04_overlay::layer_tools::Tools;
use step04_overlay::uts::validate_hostname;

/// isolab step 4: step 3 with OverlayFS. The rootfs is a read-only image;
/// each container writes to its own upper layer, removed when it ends
/// (kept with --keep).
#[derive(Debug, Parser)]
#[command(name = "step04-overlay", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run CMD in new UTS, PID and mount namespaces, on an overlay of an image
    #[command(
        after_help = "Example: sudo step04-overlay run --keep -- /bin/sh -c 'echo hi > /file'"
    )]
    Run(RunArgs),
    #[command(flatten)]
    Tools(Tools),
}

/// `run`'s arguments: the shared flags, then each step's group.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Hostname inside the container's UTS namespace
    #[arg(long, default_value = "step04", value_parser = validate_hostname)]
    pub hostname: String,

    /// Exec CMD as PID 1 itself, with no init
    #[arg(long)]
    pub no_init: bool,

    #[command(flatten)]
    pub image: ImageArgs,

    #[command(flatten)]
    pub layers: LayerArgs,

    #[command(flatten)]
    pub common: Common,
}

fn main() {
    let cli: Cli = cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Tools(tools) => tools.run(),
    };
    cli::exit("step04-overlay", result)
}
