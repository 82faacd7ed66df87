//! `step04-overlay`: run a command on an overlay of a read-only image.

mod run;

/// This step's library under one name in every step, so that `diff` of two
/// steps' run.rs shows only what the step changed.
use step04_overlay as isolab;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use step04_overlay::cli::{self, Common, InspectArgs};
use step04_overlay::container;
use step04_overlay::rootfs_cmd::{self, RootfsCommand};
use step04_overlay::state::State;
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
    /// Show a process next to another (default: PID 1), marking differences
    Inspect(InspectArgs),
    /// Manage root filesystems ("images")
    #[command(subcommand)]
    Rootfs(RootfsCommand),
    /// Remove layers and state left by runtimes that were killed
    Cleanup {
        /// Keep images and state under DIR instead of /var/lib/isolab and /run/isolab
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

/// `run`'s arguments: the shared flags plus what steps 1 to 3 add.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Hostname inside the container's UTS namespace
    #[arg(long, default_value = "step04", value_parser = validate_hostname)]
    pub hostname: String,

    /// Exec CMD as PID 1 itself, with no init
    #[arg(long)]
    pub no_init: bool,

    /// The image (overlay lowerdir): a directory, or the NAME of an
    /// imported one (default: a small rootfs built from the host)
    #[arg(long, value_name = "DIR|NAME")]
    pub rootfs: Option<String>,

    /// Keep images and state under DIR instead of /var/lib/isolab and /run/isolab
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Keep the container's upper layer (its writes) after it exits, and
    /// print where it is
    #[arg(long)]
    pub keep: bool,

    #[command(flatten)]
    pub common: Common,
}

fn main() {
    let cli: Cli = cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Inspect(args) => cli::inspect_command(args),
        Command::Rootfs(cmd) => rootfs_cmd::run(cmd),
        Command::Cleanup { state_dir } => {
            let removed = container::sweep_stale(&State::new(state_dir.as_deref()));
            println!(
                "removed {} stale container(s){}",
                removed.len(),
                if removed.is_empty() {
                    String::new()
                } else {
                    format!(": {}", removed.join(" "))
                }
            );
            Ok(0)
        }
    };
    cli::exit("step04-overlay", result)
}
