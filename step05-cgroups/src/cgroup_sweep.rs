//! What killed runtimes left in the cgroup hierarchies, swept: step 5's
//! addition to step 4's sweep of stale containers (`container::
//! sweep_stale_with`), and the `cleanup` subcommand from step 5 on.

use std::path::{Path, PathBuf};

use crate::cgroup::{Cgroup, Hierarchy, Layout, name_for};
use crate::container;
use crate::error::Result;
use crate::explain;
use crate::state::State;

// ANCHOR: sweep
/// Remove the cgroup of container `id`, whose runtime is known to be gone
/// (the container sweep found it dead): kill what is left in it, then
/// remove it. True when nothing of it remains. Called for each dead
/// container by `container::sweep_stale_with`, so a cgroup is only ever
/// removed for a container of the same state dir that is provably dead:
/// never another runtime's, however old or empty it looks.
pub fn remove_stale(layout: &Layout, id: &str) -> bool {
    remove_named(layout, &name_for(id))
}

/// [`remove_stale`] of the cgroup at `name` below each hierarchy's root
/// (an OCI container's cgroupsPath); its parents stay.
pub fn remove_named(layout: &Layout, name: &str) -> bool {
    let name = name.trim_matches('/').to_string();
    if name.is_empty() {
        return true;
    }
    let mut roots: Vec<(Option<Hierarchy>, PathBuf)> = layout
        .v1
        .iter()
        .map(|h| (Some(h.clone()), h.mount.join(&name)))
        .collect();
    roots.extend(layout.v2.iter().map(|r| (None, r.join(&name))));
    roots.retain(|(_, dir)| dir.is_dir());
    if roots.is_empty() {
        return true;
    }
    let mut cg = Cgroup::none(layout);
    cg.name = name;
    for (hierarchy, dir) in roots {
        match hierarchy {
            Some(h) => cg.v1.push((h, dir)),
            None => cg.v2 = Some(dir),
        }
    }
    explain::note(&format!("removing the stale cgroup {}", cg.name));
    let dirs: Vec<PathBuf> = cg.all_dirs().iter().map(|d| d.to_path_buf()).collect();
    drop(cg); // kills what is left and removes the directories
    dirs.iter().all(|d| !d.exists())
}
// ANCHOR_END: sweep

/// `cleanup`: sweep stale containers, with their cgroups, and say what
/// was removed.
pub fn cleanup(state_dir: Option<&Path>) -> Result<i32> {
    let state = State::new(state_dir);
    let removed = match Layout::detect() {
        Ok(layout) => container::sweep_stale_with(&state, |id| remove_stale(&layout, id)),
        Err(_) => container::sweep_stale(&state),
    };
    step04_overlay::cleanup::report(removed, "container(s) with their cgroups")
}
