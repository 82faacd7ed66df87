//! `step01-clone`: run a command in a new UTS namespace.

mod run;

/// This step's library under one name in every step, so that `diff` of two
/// steps' run.rs shows only what the step changed.
use step01_clone as isolab;

use clap::{Parser, Subcommand};
use step01_clone::cli::{self, Common, InspectArgs};
use step01_clone::uts::validate_hostname;

/// isolab step 1: clone(2) a child into a new UTS namespace, give it its
/// own hostname, and exec a command there.
#[derive(Debug, Parser)]
#[command(name = "step01-clone", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run CMD in a new UTS namespace
    #[command(after_help = "Example: sudo step01-clone run --explain -- /bin/sh -c hostname")]
    Run(RunArgs),
    /// Show a process next to another (default: PID 1), marking differences
    Inspect(InspectArgs),
}

/// `run`'s arguments: the shared flags plus what step 1 adds.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Hostname inside the container's UTS namespace
    #[arg(long, default_value = "step01", value_parser = validate_hostname)]
    pub hostname: String,

    #[command(flatten)]
    pub common: Common,
}

fn main() {
    let cli: Cli = cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Inspect(args) => cli::inspect_command(args),
    };
    cli::exit("step01-clone", result)
}
