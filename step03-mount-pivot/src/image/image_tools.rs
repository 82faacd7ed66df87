//! The subcommands besides `run` that step 3 has; later steps flatten this
//! enum into their own and add theirs.

use std::path::PathBuf;

use clap::Subcommand;

use crate::cli::{self, InspectArgs};
use crate::error::Result;
use crate::rootfs_cmd::{self, RootfsCommand};

/// `inspect`, `rootfs`, `chroot-escape`.
#[derive(Debug, Subcommand)]
pub enum Tools {
    /// Show a process next to another (default: PID 1), marking differences
    Inspect(InspectArgs),
    /// Manage root filesystems ("images")
    #[command(subcommand)]
    Rootfs(RootfsCommand),
    /// Demo for the book: chroot into DIR, then try the classic chroot escape
    ChrootEscape {
        /// The directory to jail this process in
        dir: PathBuf,
    },
}

impl Tools {
    /// Run the subcommand; its exit status.
    pub fn run(&self) -> Result<i32> {
        match self {
            Tools::Inspect(args) => cli::inspect_command(args),
            Tools::Rootfs(cmd) => rootfs_cmd::run(cmd),
            Tools::ChrootEscape { dir } => crate::chroot_escape::attempt(dir).map(|_| 0),
        }
    }
}
