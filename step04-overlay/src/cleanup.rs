//! The `cleanup` subcommand: remove what runtimes that were killed left.

use std::path::Path;

use crate::container;
use crate::error::Result;
use crate::state::State;

/// Sweep stale containers and say what was removed.
pub fn run(state_dir: Option<&Path>) -> Result<i32> {
    report(
        container::sweep_stale(&State::new(state_dir)),
        "container(s)",
    )
}

/// Print one line about what a sweep removed (`what`: what it looked for).
pub fn report(removed: Vec<String>, what: &str) -> Result<i32> {
    let list = if removed.is_empty() {
        String::new()
    } else {
        format!(": {}", removed.join(" "))
    };
    crate::cli::outln(&format!("removed {} stale {what}{list}", removed.len()));
    Ok(0)
}
