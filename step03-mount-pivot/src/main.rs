//! `step03-mount-pivot`: run a command in its own root filesystem.

mod run;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use step03_mount_pivot::cli::{self, Common, InspectArgs};
use step03_mount_pivot::state::State;
use step03_mount_pivot::uts::validate_hostname;
use step03_mount_pivot::{Error, Result, import, rootfs};

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
    /// Show a process next to another (default: PID 1), marking differences
    Inspect(InspectArgs),
    /// Manage root filesystems ("images")
    #[command(subcommand)]
    Rootfs(RootfsCommand),
}

#[derive(Debug, Subcommand)]
enum RootfsCommand {
    /// Unpack a rootfs tarball (docker export, Alpine minirootfs .tar.gz) as NAME
    Import {
        tarball: PathBuf,
        name: String,
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Build the default rootfs from the host now (normally done on first run)
    Build {
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// List imported root filesystems
    List {
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

/// `run`'s arguments: the shared flags plus what steps 1 to 3 add.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Hostname inside the container's UTS namespace
    #[arg(long, default_value = "step03", value_parser = validate_hostname)]
    pub hostname: String,

    /// Exec CMD as PID 1 itself, with no init
    #[arg(long)]
    pub no_init: bool,

    /// Root filesystem: a directory, or the NAME of an imported one
    /// (default: a small rootfs built from the host on first use)
    #[arg(long, value_name = "DIR|NAME")]
    pub rootfs: Option<String>,

    /// Keep images and state under DIR instead of /var/lib/isolab and /run/isolab
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    #[command(flatten)]
    pub common: Common,
}

fn rootfs_command(cmd: &RootfsCommand) -> Result<i32> {
    match cmd {
        RootfsCommand::Import {
            tarball,
            name,
            state_dir,
        } => {
            if name.contains('/') || name.starts_with('.') || name.is_empty() {
                return Err(Error::Usage(format!(
                    "{name:?} is not a valid image name: use letters, digits, '-' and '_'"
                )));
            }
            let state = State::new(state_dir.as_deref());
            let dest = state.images().join(name);
            let report = import::import(tarball, &dest)?;
            for refused in &report.refused {
                eprintln!("refused: {refused}");
            }
            println!(
                "imported {} entries into {} ({} refused)",
                report.unpacked,
                dest.display(),
                report.refused.len()
            );
            Ok(0)
        }
        RootfsCommand::Build { state_dir } => {
            println!(
                "{}",
                rootfs::default_rootfs(&State::new(state_dir.as_deref()))?.display()
            );
            Ok(0)
        }
        RootfsCommand::List { state_dir } => {
            let images = State::new(state_dir.as_deref()).images();
            let mut names: Vec<String> = std::fs::read_dir(&images)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            names.retain(|n| !n.starts_with('.'));
            names.sort();
            for n in names {
                println!("{n}");
            }
            Ok(0)
        }
    }
}

fn main() {
    let cli: Cli = cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Inspect(args) => cli::inspect_command(args),
        Command::Rootfs(cmd) => rootfs_command(cmd),
    };
    cli::exit("step03-mount-pivot", result)
}
