//! The `run` flag step 4 adds. Later steps flatten it into their own `run`.

/// `--keep`.
#[derive(Debug, clap::Args)]
pub struct LayerArgs {
    /// Keep the container's upper layer (its writes) after it exits, and
    /// print where it is
    #[arg(long)]
    pub keep: bool,
}
