//! `step02-pid-ns`: run a command in new UTS and PID namespaces, under an init.

mod run;

/// This step's library under one name in every step, so that `diff` of two
/// steps' run.rs shows only what the step changed.
use step02_pid_ns as isolab;

use clap::{Parser, Subcommand};
use step02_pid_ns::cli::{self, Common, InspectArgs};
use step02_pid_ns::uts::validate_hostname;

/// isolab step 2: step 1 plus a new PID namespace. The child is PID 1 there:
/// a small init that runs CMD as PID 2, forwards signals to it and reaps
/// every zombie.
#[derive(Debug, Parser)]
#[command(name = "step02-pid-ns", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run CMD in new UTS and PID namespaces
    #[command(after_help = "Example: sudo step02-pid-ns run --inspect -- /bin/sh -c 'echo $$'")]
    Run(RunArgs),
    /// Show a process next to another (default: PID 1), marking differences
    Inspect(InspectArgs),
}

/// `run`'s arguments: the shared flags plus what steps 1 and 2 add.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Hostname inside the container's UTS namespace
    #[arg(long, default_value = "step02", value_parser = validate_hostname)]
    pub hostname: String,

    /// Exec CMD as PID 1 itself, with no init: see what PID 1 must do
    /// (zombies pile up, SIGTERM without a handler is ignored)
    #[arg(long)]
    pub no_init: bool,

    #[command(flatten)]
    pub common: Common,
}

fn main() {
    let cli: Cli = cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Inspect(args) => cli::inspect_command(args),
    };
    cli::exit("step02-pid-ns", result)
}
