//! The `rootfs` subcommand: import a tarball as a named image, build the
//! default rootfs, list images. Every step from 3 on has it.

use std::path::PathBuf;

use clap::Subcommand;

use crate::error::{Error, Result};
use crate::state::State;
use crate::{import, rootfs};

#[derive(Debug, Subcommand)]
pub enum RootfsCommand {
    /// Unpack a rootfs tarball (docker export, Alpine minirootfs .tar.gz) as NAME
    Import {
        tarball: PathBuf,
        #[arg(value_parser = parse_image_name)]
        name: String,
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Build the default rootfs from the host now (normally done on first run)
    Build {
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Copy host programs, with the libraries their ELF files need, into a
    /// rootfs (a directory or an image NAME), at the same paths
    Add {
        #[arg(value_name = "DIR|NAME")]
        rootfs: String,
        #[arg(required = true, value_name = "PROGRAM")]
        programs: Vec<PathBuf>,
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// List imported root filesystems
    List {
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

/// clap's parser for an image NAME: letters, digits, '-', '_' and '.', not
/// starting with '.' (a name is a directory under `<lib>/rootfs`).
pub fn parse_image_name(name: &str) -> std::result::Result<String, String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "{name:?} is not a valid image name: use letters, digits, '-', '_' and '.'"
        ))
    }
}

/// Run a `rootfs` subcommand.
pub fn run(cmd: &RootfsCommand) -> Result<i32> {
    match cmd {
        RootfsCommand::Import {
            tarball,
            name,
            state_dir,
        } => {
            let state = State::new(state_dir.as_deref());
            let dest = state.images().join(name);
            let report = import::import(tarball, &dest)?;
            for refused in &report.refused {
                crate::cli::warn(&format!("refused: {refused}"));
            }
            if report.skipped_devices > 0 {
                crate::cli::warn(&format!(
                    "note: left out {} device node(s): only root may create them, and the container's /dev is made at run time",
                    report.skipped_devices
                ));
            }
            crate::cli::outln(&format!(
                "imported {} entries into {} ({} refused)",
                report.unpacked,
                dest.display(),
                report.refused.len()
            ));
            Ok(0)
        }
        RootfsCommand::Build { state_dir } => {
            crate::cli::outln(&format!(
                "{}",
                rootfs::default_rootfs(&State::new(state_dir.as_deref()))?.display()
            ));
            Ok(0)
        }
        RootfsCommand::Add {
            rootfs: target,
            programs,
            state_dir,
        } => {
            let dir = rootfs::choose(Some(target), &State::new(state_dir.as_deref()))?;
            for program in programs {
                let program = std::fs::canonicalize(program)
                    .map_err(|e| Error::io(format!("finding {}", program.display()), e))?;
                rootfs::copy_path(&program, &dir, 0)?;
                for needed in crate::elf::closure(&program).map_err(Error::Request)? {
                    rootfs::copy_path(&needed, &dir, 0)?;
                }
                crate::cli::outln(&format!("added {}", program.display()));
            }
            Ok(0)
        }
        RootfsCommand::List { state_dir } => {
            let images = State::new(state_dir.as_deref()).images();
            let mut names: Vec<String> = std::fs::read_dir(&images)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            names.retain(|n| !n.starts_with('.'));
            names.sort();
            for n in names {
                crate::cli::outln(&n);
            }
            Ok(0)
        }
    }
}
