//! `step06-capabilities`: run a command with only the capabilities it needs.

mod run;

/// This step's library under one name in every step, so that `diff` of two
/// steps' run.rs shows only what the step changed.
use step06_capabilities as isolab;

use clap::{Parser, Subcommand};
use step06_capabilities::cli::{self, Common};
use step06_capabilities::image_args::ImageArgs;
use step06_capabilities::layer_args::LayerArgs;
use step06_capabilities::limit_args::LimitArgs;
use step06_capabilities::privilege_args::PrivilegeArgs;
use step06_capabilities::privilege_tools::Tools;
use step06_capabilities::uts::validate_hostname;

/// isolab step 6: step 5 plus capabilities. Root in the container keeps
/// docker's 14 default capabilities, no_new_privs stops set-uid programs
/// from raising privileges, and --user runs the command as another user.
#[derive(Debug, Parser)]
#[command(name = "step06-capabilities", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run CMD in new namespaces and a cgroup, with reduced capabilities
    #[command(
        after_help = "Example: sudo step06-capabilities run --cap-drop ALL --cap-add NET_BIND_SERVICE --user 1000 -- /bin/sh"
    )]
    Run(Box<RunArgs>),
    #[command(flatten)]
    Tools(Tools),
}

/// `run`'s arguments: the shared flags, then each step's group.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Hostname inside the container's UTS namespace
    #[arg(long, default_value = "step06", value_parser = validate_hostname)]
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
    pub common: Common,
}

fn main() {
    let cli: Cli = cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Tools(tools) => tools.run(),
    };
    cli::exit("step06-capabilities", result)
}
