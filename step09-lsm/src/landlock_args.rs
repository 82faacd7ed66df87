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

/// `--landlock`, `--landlock-ro`, `--landlock-rw`, `--landlock-tcp-*`.
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

    /// Allow binding TCP PORT; with this or --landlock-tcp-connect, no
    /// other TCP port may be bound or connected to (Landlock ABI 4)
    #[arg(long, value_name = "PORT")]
    pub landlock_tcp_bind: Vec<u16>,

    /// Allow connecting to TCP PORT (see --landlock-tcp-bind)
    #[arg(long, value_name = "PORT")]
    pub landlock_tcp_connect: Vec<u16>,
}

impl LandlockArgs {
    /// The rules to restrict the command to, or `None` (unconfined).
    pub fn rules(&self) -> Option<Rules> {
        (self.landlock == Landlock::Default).then(|| {
            let mut rules = Rules::default_with(&self.landlock_ro, &self.landlock_rw);
            rules.tcp_bind = self.landlock_tcp_bind.clone();
            rules.tcp_connect = self.landlock_tcp_connect.clone();
            rules
        })
    }
}
