//! `step09-lsm`: step 8 plus a Landlock ruleset.

mod run;

/// This step's library under one name in every step, so that `diff` of two
/// steps' run.rs shows only what the step changed.
use step09_lsm as isolab;

use clap::{Parser, Subcommand};
use step09_lsm::cli::{self, Common};
use step09_lsm::filter_tools::Tools;
use step09_lsm::image_args::ImageArgs;
use step09_lsm::landlock_args::LandlockArgs;
use step09_lsm::layer_args::LayerArgs;
use step09_lsm::limit_args::LimitArgs;
use step09_lsm::map_args::MapArgs;
use step09_lsm::privilege_args::PrivilegeArgs;
use step09_lsm::seccomp_args::SeccompArgs;
use step09_lsm::security_opt::SecurityOpts;
use step09_lsm::uts::validate_hostname;

/// isolab step 9: step 8 plus mandatory access control. The command
/// restricts itself with a Landlock ruleset (read everywhere, write only
/// where containers write) before its seccomp filter goes on.
#[derive(Debug, Parser)]
#[command(name = "step09-lsm", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run CMD in a user namespace and the namespaces it owns
    #[command(
        after_help = "Example: step09-lsm run -- sh -c 'touch /etc/x; touch /tmp/x && echo ok'"
    )]
    Run(Box<RunArgs>),
    #[command(flatten)]
    Tools(Tools),
}

/// `run`'s arguments: the shared flags, then each step's group.
#[derive(Debug, clap::Args)]
#[command(mut_arg("security_opt", |a| a.help(SECURITY_OPT_HELP)))]
pub struct RunArgs {
    /// Hostname inside the container's UTS namespace
    #[arg(long, default_value = "step09", value_parser = validate_hostname)]
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
    pub lsm: LandlockArgs,

    #[command(flatten)]
    pub common: Common,
}

/// Step 8's flag, with the keys this step adds.
const SECURITY_OPT_HELP: &str = "A security module's setting, as docker's: \
seccomp=default|unconfined|PATH; landlock=default|unconfined (the ruleset); \
apparmor=PROFILE|unconfined (default: isolab-default where AppArmor is active); \
label=user:U|role:R|type:T|level:L|disable (SELinux; no label unless given)";

fn main() {
    let cli: Cli = cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Tools(tools) => tools.run(),
    };
    cli::exit("step09-lsm", result)
}
