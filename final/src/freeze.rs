//! `pause` and `resume`: the container's cgroup frozen and thawed, every
//! process in it stopped where it is (no signal it could catch or see).
//! cgroup v2 has `cgroup.freeze` in every cgroup; v1 a freezer hierarchy
//! with `freezer.state`. Both take a moment: the kernel reports when the
//! last task is frozen (`cgroup.events`' `frozen 1`, `FROZEN`).

use std::path::PathBuf;

use crate::cgroup::{Layout, Version};
use crate::error::{Error, Result};

/// Whether the cgroup `name` is frozen, in the interface [`set`] uses.
pub fn is_frozen(name: &str) -> bool {
    let Ok(layout) = Layout::detect() else {
        return false;
    };
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    match (layout.version(), &layout.v2, layout.v1_hierarchy("freezer")) {
        (Version::V2, Some(root), _) => read(root.join(name).join("cgroup.freeze")).trim() == "1",
        (_, _, Some(h)) => read(h.mount.join(name).join("freezer.state")).trim() == "FROZEN",
        _ => false,
    }
}

/// Freeze (`true`) or thaw the cgroup `name`, and wait (1 s at most) until
/// the kernel says it is done.
pub fn set(name: &str, frozen: bool) -> Result<()> {
    let layout = Layout::detect()?;
    let (file, value, done_file, done): (PathBuf, &str, PathBuf, &str) =
        match (layout.version(), &layout.v2, layout.v1_hierarchy("freezer")) {
            (Version::V2, Some(root), _) => {
                let dir = root.join(name);
                (
                    dir.join("cgroup.freeze"),
                    if frozen { "1" } else { "0" },
                    dir.join("cgroup.events"),
                    if frozen { "frozen 1" } else { "frozen 0" },
                )
            }
            (_, _, Some(h)) => {
                let dir = h.mount.join(name);
                let state = if frozen { "FROZEN" } else { "THAWED" };
                (
                    dir.join("freezer.state"),
                    state,
                    dir.join("freezer.state"),
                    state,
                )
            }
            _ => {
                return Err(Error::Request(
                "this host has no cgroup freezer (v2's cgroup.freeze or the v1 freezer hierarchy)"
                    .into(),
            ));
            }
        };
    // step 5's narrated cgroup write
    let dir = file.parent().unwrap_or(&file);
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    crate::cgroup::write(dir, &name, value)?;
    for _ in 0..100 {
        let text = std::fs::read_to_string(&done_file).unwrap_or_default();
        if text.lines().any(|l| l.trim() == done) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(Error::Request(format!(
        "{} did not say {done:?} within 1 s",
        done_file.display()
    )))
}
