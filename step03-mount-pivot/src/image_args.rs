//! The `run` flags step 3 adds: which root filesystem, the container's
//! environment, and where isolab keeps its state. Later steps flatten this group into their own `run`.

use std::path::PathBuf;

use crate::state::State;

/// `--rootfs`, `-e` and `--state-dir`.
#[derive(Debug, clap::Args)]
pub struct ImageArgs {
    /// The root filesystem (an image): a directory, or the NAME of an
    /// imported one (default: a small rootfs built from the host on first use)
    #[arg(long, value_name = "DIR|NAME")]
    pub rootfs: Option<String>,

    /// Set an environment variable in the container (KEY=VALUE, or KEY to
    /// pass yours); the container gets none of the caller's otherwise
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = crate::environ::parse_entry)]
    pub env: Vec<String>,

    /// Keep images and state under DIR instead of /var/lib/isolab and /run/isolab
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl ImageArgs {
    /// The state dirs these flags select.
    pub fn state(&self) -> State {
        State::new(self.state_dir.as_deref())
    }
}
