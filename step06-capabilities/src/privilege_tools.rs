//! Step 5's subcommands plus `caps`.

use clap::Subcommand;

use crate::error::Result;

/// Step 5's tools and `caps`.
#[derive(Debug, Subcommand)]
pub enum Tools {
    #[command(flatten)]
    Base(step05_cgroups::layer_tools::Tools),
    /// Print a process's capabilities the way `capsh --print` does
    Caps {
        /// The process (default: this one)
        pid: Option<i32>,
    },
}

impl Tools {
    /// Run the subcommand; its exit status.
    pub fn run(&self) -> Result<i32> {
        match self {
            Tools::Base(step05_cgroups::layer_tools::Tools::Cleanup { state_dir }) => {
                crate::cgroup_sweep::cleanup(state_dir.as_deref())
            }
            Tools::Base(tools) => tools.run(),
            Tools::Caps { pid } => crate::capsh::report(pid.unwrap_or(std::process::id() as i32))
                .map(|text| {
                    crate::cli::out(&text);
                    0
                }),
        }
    }
}
