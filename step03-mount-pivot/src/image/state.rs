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
    // ANCHOR: dirs
    /// The default dirs, or both under `dir` when given. A normal user
    /// (rootless, step 7) gets `~/.local/share/isolab` and
    /// `$XDG_RUNTIME_DIR/isolab` (or a per-user dir in /tmp).
    pub fn new(dir: Option<&std::path::Path>) -> State {
        if let Some(d) = dir {
            return State {
                lib: d.to_path_buf(),
                run: d.join("run"),
            };
        }
        if crate::pseudofs::real_root() {
            return State {
                lib: PathBuf::from("/var/lib/isolab"),
                run: PathBuf::from("/run/isolab"),
            };
        }
        let uid = nix::unistd::geteuid();
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let run = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(format!("/tmp/isolab-{uid}")));
        State {
            lib: home.join(".local/share/isolab"),
            run: run.join("isolab"),
        }
    }
    // ANCHOR_END: dirs

    /// Where root filesystems ("images") live: `<lib>/rootfs/<name>`.
    pub fn images(&self) -> PathBuf {
        self.lib.join("rootfs")
    }
}
