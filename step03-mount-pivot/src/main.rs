//! `step03-mount-pivot`: run a command in its own root filesystem.

mod run;

/// This step's library under one name in every step, so that `diff` of two
/// steps' run.rs shows only what the step changed.
use step03_mount_pivot as isolab;

use clap::{Parser, Subcommand};
use step03_mount_pivot::cli::{self, Common};
use step03_mount_pivot::image_args::ImageArgs;
use step03_mount_pivot::image_tools::Tools;
use step03_mount_pivot::uts::validate_hostname;

/// isolab step 3: step 2 plus a mount namespace. The container gets its
/// own root filesystem through pivot_root, a fresh /proc (so `ps` shows
/// only the container), read-only /sys, a minimal /dev, and docker's masked
/// and read-only paths.
#[derive(Debug, Parser)]
#[command(name = "step03-mount-pivot", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run CMD in new UTS, PID and mount namespaces, in a root filesystem
    #[command(after_help = "Example: sudo step03-mount-pivot run -- /bin/sh -c 'ps; ls /'")]
    Run(RunArgs),
    #[command(flatten)]
    Tools(Tools),
}

/// `run`'s arguments: the shared flags, then each step's group.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Hostname inside the container's UTS namespace
    #[arg(long, default_value = "step03", value_parser = validate_hostname)]
    pub hostname: String,

    /// Exec CMD as PID 1 itself, with no init
    #[arg(long)]
    pub no_init: bool,

    #[command(flatten)]
    pub image: ImageArgs,

    #[command(flatten)]
    pub common: Common,
}

fn main() {
    let cli: Cli = cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Tools(tools) => tools.run(),
    };
    cli::exit("step03-mount-pivot", result)
}
