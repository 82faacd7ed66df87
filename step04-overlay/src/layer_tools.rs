//! Step 3's subcommands plus `cleanup`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::error::Result;

/// Step 3's tools and `cleanup`.
#[derive(Debug, Subcommand)]
pub enum Tools {
    #[command(flatten)]
    Base(step03_mount_pivot::image_tools::Tools),
    /// Remove what runtimes that were killed left behind (layers and state;
    /// from step 5 on also cgroups)
    Cleanup {
        /// Keep images and state under DIR instead of /var/lib/isolab and /run/isolab
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

impl Tools {
    /// Run the subcommand; its exit status.
    pub fn run(&self) -> Result<i32> {
        match self {
            Tools::Base(tools) => tools.run(),
            // Step 5 and later run their own cleanup (with cgroups) instead.
            Tools::Cleanup { state_dir } => crate::cleanup::run(state_dir.as_deref()),
        }
    }
}
