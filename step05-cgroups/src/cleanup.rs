//! The `cleanup` subcommand from step 5 on: stale containers (step 4) and
//! stale cgroups.

use std::path::Path;

use crate::cgroup::{self, Layout};
use crate::container;
use crate::error::Result;
use crate::state::State;

/// Sweep stale containers and cgroups and say what was removed.
pub fn run(state_dir: Option<&Path>) -> Result<i32> {
    let mut removed = container::sweep_stale(&State::new(state_dir));
    if let Ok(layout) = Layout::detect() {
        removed.extend(
            cgroup::sweep_stale(&layout)
                .iter()
                .map(|p| p.display().to_string()),
        );
    }
    step04_overlay::cleanup::report(removed, "container(s) and cgroup(s)")
}
