//! `step08-seccomp`: step 7 under a seccomp filter.

mod run;

/// This step's library under one name in every step, so that `diff` of two
/// steps' run.rs shows only what the step changed.
use step08_seccomp as isolab;

use clap::{Parser, Subcommand};
use step08_seccomp::cli::{self, Common};
use step08_seccomp::filter_tools::Tools;
use step08_seccomp::image_args::ImageArgs;
use step08_seccomp::layer_args::LayerArgs;
use step08_seccomp::limit_args::LimitArgs;
use step08_seccomp::map_args::MapArgs;
use step08_seccomp::privilege_args::PrivilegeArgs;
use step08_seccomp::seccomp_args::SeccompArgs;
use step08_seccomp::security_opt::SecurityOpts;
use step08_seccomp::uts::validate_hostname;

/// isolab step 8: step 7 under a seccomp filter. The command runs with a
/// default profile that refuses the syscalls capabilities and namespaces
/// leave open (keyrings, BPF, io_uring, new namespaces without
/// CAP_SYS_ADMIN, ...); `demo` shows seccomp's two modes, `probe` what a
/// container can still reach.
#[derive(Debug, Parser)]
#[command(name = "step08-seccomp", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run CMD in a user namespace and the namespaces it owns
    #[command(
        after_help = "Example: step08-seccomp run -- sh -c 'cat /proc/self/status | grep Seccomp'"
    )]
    Run(Box<RunArgs>),
    #[command(flatten)]
    Tools(Tools),
}

/// `run`'s arguments: the shared flags, then each step's group.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Hostname inside the container's UTS namespace
    #[arg(long, default_value = "step08", value_parser = validate_hostname)]
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
    pub security: SecurityOpts,

    #[command(flatten)]
    pub seccomp: SeccompArgs,

    #[command(flatten)]
    pub common: Common,
}

fn main() {
    let cli: Cli = cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Tools(tools) => tools.run(),
    };
    cli::exit("step08-seccomp", result)
}
