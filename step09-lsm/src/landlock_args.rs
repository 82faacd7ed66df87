//! The `run` flags step 9 adds for Landlock (the ruleset itself is
//! `--security-opt landlock=default|unconfined`).

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::ruleset::Rules;
use crate::security_opt::Key;

/// `--security-opt landlock=`.
pub const LANDLOCK: Key = Key {
    name: "landlock",
    usage: "landlock=default|unconfined",
};

/// `--landlock-ro`, `--landlock-rw`, `--landlock-tcp-*`.
#[derive(Debug, clap::Args)]
pub struct LandlockArgs {
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
    /// The rules to restrict the command to, or `None` for
    /// landlock=unconfined; `value` is `--security-opt landlock=`'s.
    pub fn rules(&self, value: Option<&str>) -> Result<Option<Rules>> {
        match value {
            None | Some("default") => {
                let mut rules = Rules::default_with(&self.landlock_ro, &self.landlock_rw);
                rules.tcp_bind = self.landlock_tcp_bind.clone();
                rules.tcp_connect = self.landlock_tcp_connect.clone();
                Ok(Some(rules))
            }
            Some("unconfined") => Ok(None),
            Some(other) => Err(Error::BadFlag(format!(
                "--security-opt landlock={other}: use {}",
                LANDLOCK.usage
            ))),
        }
    }
}
