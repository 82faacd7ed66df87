//! Where isolab keeps things on the host.
//!
//! As root: images (root filesystems) and container layers under
//! /var/lib/isolab, runtime state under /run/isolab (a tmpfs, so a reboot
//! clears it). `--state-dir DIR` puts both under DIR instead (tests use a
//! temporary one). Rootless users get their own dirs in step07.

use std::path::PathBuf;

/// The two roots of isolab's on-host state.
#[derive(Debug, Clone)]
pub struct State {
    /// Images and container layers: /var/lib/isolab.
    pub lib: PathBuf,
    /// Runtime state of running containers: /run/isolab.
    pub run: PathBuf,
}

impl State {
    /// The default dirs, or both under `dir` when given.
    pub fn new(dir: Option<&std::path::Path>) -> State {
        match dir {
            Some(d) => State {
                lib: d.to_path_buf(),
                run: d.join("run"),
            },
            None => State {
                lib: PathBuf::from("/var/lib/isolab"),
                run: PathBuf::from("/run/isolab"),
            },
        }
    }

    /// Where root filesystems ("images") live: `<lib>/rootfs/<name>`.
    pub fn images(&self) -> PathBuf {
        self.lib.join("rootfs")
    }
}
