//! The `run` flags step 7 adds.

use crate::userns::{self, IdMap};

/// `--uid-map`, `--gid-map`.
#[derive(Debug, clap::Args)]
pub struct MapArgs {
    /// Map container ids INSIDE..INSIDE+COUNT to host OUTSIDE.. (as root;
    /// default: /etc/subuid's isolab entry, else 0:1000000:65536)
    #[arg(long, value_name = "INSIDE:OUTSIDE:COUNT", value_parser = userns::parse_map)]
    pub uid_map: Option<IdMap>,

    /// The same for group ids (default: /etc/subgid, else 0:1000000:65536)
    #[arg(long, value_name = "INSIDE:OUTSIDE:COUNT", value_parser = userns::parse_map)]
    pub gid_map: Option<IdMap>,
}
