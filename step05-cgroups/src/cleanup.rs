//! The `cleanup` subcommand from step 5 on: stale containers (step 4) and
//! their cgroups.

use std::path::Path;

use crate::cgroup::{self, Layout};
use crate::container;
use crate::error::Result;
use crate::state::State;

/// Sweep stale containers, with their cgroups, and say what was removed.
pub fn run(state_dir: Option<&Path>) -> Result<i32> {
    let state = State::new(state_dir);
    let removed = match Layout::detect() {
        Ok(layout) => container::sweep_stale_with(&state, |id| cgroup::remove_stale(&layout, id)),
        Err(_) => container::sweep_stale(&state),
    };
    step04_overlay::cleanup::report(removed, "container(s) with their cgroups")
}
