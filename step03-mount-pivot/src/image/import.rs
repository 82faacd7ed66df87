//! Importing a rootfs tarball (`docker export` output, Alpine's
//! minirootfs .tar.gz) as a named image.
//!
//! A tarball is untrusted input. An entry named `../../etc/cron.d/x` or
//! `/etc/passwd`, or one written through a symlink planted by an earlier
//! entry, would write outside the target ("tar slip"). We refuse entries
//! with absolute paths or `..`, symlinks whose relative target climbs out of
//! the rootfs, and hard links to names outside it; the tar crate's
//! `unpack_in` also refuses to write through a symlink that leads out.
//! Absolute symlinks (`bin/sh -> /bin/busybox`) are normal in images: they
//! resolve inside the container, and we never follow them while unpacking.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// What an import did.
#[derive(Debug, Default)]
pub struct Report {
    /// Entries unpacked.
    pub unpacked: usize,
    /// Entries refused, each with the reason.
    pub refused: Vec<String>,
    /// Device nodes left out (a normal user can't create them).
    pub skipped_devices: usize,
}

// ANCHOR: unsafe_path
/// Why an entry path is unsafe, if it is.
pub fn unsafe_path(path: &Path) -> Option<&'static str> {
    if path.is_absolute() {
        return Some("absolute path");
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Some("path contains '..'");
    }
    None
}
// ANCHOR_END: unsafe_path

/// Does a relative symlink at `entry` with target `target` point above the
/// rootfs's top?
pub fn link_escapes(entry: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    // Depth of the link's directory below the top, then walk the target.
    let mut depth: i64 = entry
        .parent()
        .map(|p| {
            p.components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .count() as i64
        })
        .unwrap_or(0);
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// Unpack `tarball` (plain or gzip) into `dest`, which must not exist yet.
/// The result lands atomically: unpacked next to it, then renamed.
pub fn import(tarball: &Path, dest: &Path) -> Result<Report> {
    if dest.exists() {
        return Err(Error::Request(format!(
            "{} already exists: remove it first or pick another name",
            dest.display()
        )));
    }
    let mut file = std::fs::File::open(tarball)
        .map_err(|e| Error::io(format!("opening {}", tarball.display()), e))?;
    let mut magic = [0u8; 2];
    let gz = file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    let file = std::fs::File::open(tarball)
        .map_err(|e| Error::io(format!("opening {}", tarball.display()), e))?;
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    let tmp = parent.join(format!(
        ".{}.tmp.{}",
        dest.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::create_dir_all(&tmp)
        .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
    let result = unpack(reader, &tmp);
    match result {
        Ok(report) => {
            std::fs::rename(&tmp, dest)
                .map_err(|e| Error::io(format!("renaming to {}", dest.display()), e))?;
            Ok(report)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

fn unpack(reader: impl Read, dest: &Path) -> Result<Report> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    // Owners as the archive says only as real root; a normal user (step 7,
    // rootless) can't give files away, and owns them all: their own uid
    // is root inside the container.
    let root = crate::pseudofs::real_root();
    archive.set_preserve_ownerships(root);
    archive.set_overwrite(true);
    let mut report = Report::default();
    let bad = |e: std::io::Error| Error::Request(format!("not a readable tar archive: {e}"));
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let path = PathBuf::from(shown.trim_start_matches("./"));
        if path.as_os_str().is_empty() {
            continue; // the archive's "./" itself
        }
        // ANCHOR: refuse
        if let Some(why) = unsafe_path(&path) {
            report.refused.push(format!("{shown}: {why}"));
            continue;
        }
        if let Ok(Some(target)) = entry.link_name() {
            let kind = entry.header().entry_type();
            if kind.is_symlink() && link_escapes(&path, &target) {
                report.refused.push(format!(
                    "{shown}: symlink to {} points out of the rootfs",
                    target.display()
                ));
                continue;
            }
            if kind.is_hard_link() && unsafe_path(&target).is_some() {
                report.refused.push(format!(
                    "{shown}: hard link to {} outside the rootfs",
                    target.display()
                ));
                continue;
            }
        }
        // ANCHOR_END: refuse
        let kind = entry.header().entry_type();
        if !root && (kind.is_character_special() || kind.is_block_special()) {
            // mknod(2) needs CAP_MKNOD; the runtime makes /dev itself.
            report.skipped_devices += 1;
            continue;
        }
        match entry.unpack_in(dest) {
            Ok(true) => report.unpacked += 1,
            Ok(false) => report.refused.push(format!("{shown}: outside the target")),
            Err(e) => {
                let cause = std::error::Error::source(&e)
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default();
                // Not a refusal of ours: the image would be incomplete.
                return Err(Error::Request(format!(
                    "could not unpack {shown}: {e}{cause}; nothing was imported"
                )));
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths() {
        assert_eq!(unsafe_path(Path::new("/etc/passwd")), Some("absolute path"));
        assert_eq!(
            unsafe_path(Path::new("a/../../x")),
            Some("path contains '..'")
        );
        assert_eq!(unsafe_path(Path::new("bin/sh")), None);
    }

    #[test]
    fn escaping_links() {
        assert!(link_escapes(
            Path::new("etc/x"),
            Path::new("../../etc/shadow")
        ));
        assert!(!link_escapes(
            Path::new("usr/bin/sh"),
            Path::new("../../bin/busybox")
        ));
        assert!(!link_escapes(
            Path::new("bin/sh"),
            Path::new("/bin/busybox")
        ));
        assert!(link_escapes(Path::new("x"), Path::new("..")));
    }
}
