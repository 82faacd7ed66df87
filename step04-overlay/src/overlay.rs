//! OverlayFS: the image stays read-only, each container writes to its own
//! layer.
//!
//! An overlay mount stacks directories: reads look in `upperdir` first,
//! then in the read-only `lowerdir` (the image). The first write to a
//! lower file copies it up into upperdir; deleting one leaves a "whiteout"
//! (a 0/0 character device) in upperdir. `workdir` is scratch space the
//! kernel needs on the same filesystem as upperdir, for atomic copy-up.
//! This is how docker's overlay2 driver shares one image between many
//! containers (Documentation/filesystems/overlayfs.rst).

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use crate::error::{Error, Result};
use crate::mount;

/// The three directories of one container's overlay.
#[derive(Debug, Clone)]
pub struct Layers {
    /// Where this container's writes land.
    pub upper: PathBuf,
    /// OverlayFS's scratch directory.
    pub work: PathBuf,
    /// The mount point of the merged view: the container's rootfs.
    pub merged: PathBuf,
}

impl Layers {
    /// The layout under a container's directory.
    pub fn under(dir: &Path) -> Layers {
        Layers {
            upper: dir.join("upper"),
            work: dir.join("work"),
            merged: dir.join("merged"),
        }
    }

    /// Create the three directories.
    pub fn create(&self) -> Result<()> {
        for d in [&self.upper, &self.work, &self.merged] {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
        }
        Ok(())
    }
}

// ANCHOR: options
/// The mount options string. Overlay splits options at `,` and lowerdir
/// at `:`, so paths containing either (or `\`) are refused.
pub fn options(image: &Path, layers: &Layers) -> Result<String> {
    let mut parts = Vec::new();
    for (key, path) in [
        ("lowerdir", image),
        ("upperdir", &layers.upper),
        ("workdir", &layers.work),
    ] {
        let text = path.to_string_lossy();
        if text.contains([',', ':', '\\']) {
            return Err(Error::Request(format!(
                "{} contains ',', ':' or '\\', which overlay mount options can't carry: move it",
                path.display()
            )));
        }
        parts.push(format!("{key}={text}"));
    }
    Ok(parts.join(","))
}
// ANCHOR_END: options

// ANCHOR: mount_overlay
/// Mount the overlay of `image` and the container's layers at `merged`.
/// Done inside the container's mount namespace, so the host never sees it
/// and it disappears with the namespace.
pub fn mount_overlay(image: &Path, layers: &Layers) -> Result<()> {
    let mut data = options(image, layers)?;
    if crate::pseudofs::in_user_namespace() {
        // Overlay keeps its own bookkeeping (an opaque directory that hides
        // the image's, a renamed directory's redirect) in trusted.overlay.*
        // xattrs, which only the initial namespace's root may set. Mounted
        // from a user namespace (step 7, Linux 5.11) it must use
        // user.overlay.* instead, or replacing an image directory fails
        // with EIO.
        data.push_str(",userxattr");
    }
    let merged = layers.merged.to_string_lossy();
    mount::mount_path(Some("overlay"), &merged, Some("overlay"), MsFlags::empty(), Some(&data)).map_err(|e| match e {
        Error::Syscall { call, errno, .. } => {
            let hint = if errno == nix::errno::Errno::ENODEV {
                "this kernel has no overlay filesystem loaded: run `modprobe overlay`"
            } else {
                "the upper dir's filesystem must support overlay upper layers (not overlayfs or NFS): try --state-dir on ext4, xfs or tmpfs"
            };
            Error::Syscall { call, errno, hint: Some(hint.into()) }
        }
        other => other,
    })
}
// ANCHOR_END: mount_overlay

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_string() {
        let layers = Layers::under(Path::new("/var/lib/isolab/containers/abc"));
        assert_eq!(
            options(Path::new("/img"), &layers).unwrap(),
            "lowerdir=/img,upperdir=/var/lib/isolab/containers/abc/upper,workdir=/var/lib/isolab/containers/abc/work"
        );
        assert!(options(Path::new("/a,b"), &layers).is_err());
        assert!(options(Path::new("/a:b"), &layers).is_err());
    }
}
