//! The `run` flags step 9 adds: the Landlock ruleset.

use std::path::PathBuf;

use crate::ruleset::Rules;

/// Whether the container gets the default ruleset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Landlock {
    /// Read everywhere, write only where containers write
    Default,
    /// No Landlock ruleset
    Unconfined,
}

/// `--landlock`, `--landlock-ro`, `--landlock-rw`.
#[derive(Debug, clap::Args)]
pub struct LandlockArgs {
    /// The Landlock ruleset of the container
    #[arg(long, value_enum, default_value_t = Landlock::Default)]
    pub landlock: Landlock,

    /// Also allow reading PATH (inside the container)
    #[arg(long, value_name = "PATH")]
    pub landlock_ro: Vec<PathBuf>,

    /// Also allow writing beneath PATH (inside the container)
    #[arg(long, value_name = "PATH")]
    pub landlock_rw: Vec<PathBuf>,
}

impl LandlockArgs {
    /// The rules to restrict the command to, or `None` (unconfined).
    pub fn rules(&self) -> Option<Rules> {
        (self.landlock == Landlock::Default)
            .then(|| Rules::default_with(&self.landlock_ro, &self.landlock_rw))
    }
}
