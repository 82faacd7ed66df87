//! Faults of the machine, not of the user: a full disk, a missing image,
//! no pids left, a host without cgroups. Each ends in one line that says
//! what failed and the fix (inside the container: the command's own
//! error), and leaves nothing behind: no state, bundle, mount or cgroup.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{BIN, assert_clean, cgroup_exists, default_image};
use step01_clone::testing::{TempDir, assert_one_line, require_root};

/// `isolab --root ROOT run --name NAME ARGS`.
fn run(dir: &TempDir, root: &Path, name: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("--root")
        .arg(root)
        .args(["run", "--name", name])
        .args(args);
    common::captured(dir, &mut cmd)
}

/// The one line of `err` (step 1's kit asserts it is one).
fn one_line(err: &str) -> &str {
    assert_one_line(err);
    err.trim_end()
}

/// A small tmpfs of the test's own, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn new(dir: &TempDir, size: &str) -> SmallDisk {
        let path = dir.0.join("small");
        std::fs::create_dir_all(&path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "isolab-test"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(ok.success(), "mount tmpfs");
        SmallDisk(path)
    }

    fn free_fraction(&self) -> f64 {
        let s = nix::sys::statvfs::statvfs(&self.0).unwrap();
        s.blocks_available() as f64 / s.blocks() as f64
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// The container's layer fills its disk (the images' disk, here a small
/// tmpfs given as --state-dir): the command meets ENOSPC and says so, the
/// layer goes with the container. A disk already full stops
/// `run` itself, in one line that names the fix.
#[test]
fn a_full_disk_ends_in_one_line_and_leaves_nothing() {
    require_root();
    let dir = TempDir::new("fault-full");
    let image = default_image(&dir);
    let image = image.to_str().unwrap();
    let disk = SmallDisk::new(&dir, "4m");
    let root = disk.0.join("root");
    // The layer lives with the images (--state-dir), not under the root.
    let lib = disk.0.join("lib");
    let lib = lib.to_str().unwrap();
    // 64 MB at most, should the layer ever land on another disk.
    let script = "head -c 64000000 /dev/zero > /fill; echo wrote=$?; exit 3";
    let (code, out, err) = run(
        &dir,
        &root,
        "fault-full-a",
        &[
            "--state-dir",
            lib,
            "--rootfs",
            image,
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("wrote=1"), "{out}");
    assert!(err.contains("No space left"), "{err}");
    assert_clean(&root);
    let layers = std::fs::read_dir(disk.0.join("lib/layers")).map_or(0, |d| d.count());
    assert_eq!(layers, 0, "a layer is left under {lib}/layers");
    assert!(!cgroup_exists("fault-full-a"));
    assert!(disk.free_fraction() > 0.9, "the layer's files stayed");

    // Fill the disk, then start.
    let filler = disk.0.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 1 << 16];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    let (code, _, err) = run(
        &dir,
        &root,
        "fault-full-b",
        &["--state-dir", lib, "--rootfs", image, "--", "true"],
    );
    assert_eq!(code, 1, "{err}");
    let line = one_line(&err);
    assert!(
        line.contains("No space left") && line.contains("free space"),
        "{line}"
    );
    assert_clean(&root);
    assert!(!cgroup_exists("fault-full-b"));
}

/// An image that is not there: from the front end's --rootfs and from a
/// bundle's root.path, one line naming it.
#[test]
fn a_missing_image_is_one_line() {
    require_root();
    let dir = TempDir::new("fault-image");
    let root = dir.0.join("root");
    let missing = dir.0.join("no-such-image");
    let (code, _, err) = run(
        &dir,
        &root,
        "fault-image-a",
        &["--rootfs", missing.to_str().unwrap(), "--", "true"],
    );
    assert_ne!(code, 0);
    let line = one_line(&err);
    assert!(
        line.contains("no-such-image") && line.contains("does not exist"),
        "{line}"
    );
    assert_clean(&root);

    let bundle = common::bundle(&dir, "true", |spec| {
        spec["root"]["path"] = serde_json::json!(missing)
    });
    let (code, _, err) = common::isolab(
        &dir,
        &[
            "--root",
            root.to_str().unwrap(),
            "run",
            "--bundle",
            bundle.to_str().unwrap(),
            "fault-image-b",
        ],
    );
    assert_ne!(code, 0);
    assert!(one_line(&err).contains("no-such-image"), "{err}");
    assert_clean(&root);
    assert!(!cgroup_exists("fault-image-b"));
}

/// No pids left: the command's fork fails and it says so (the shell's own
/// words), the container ends at once; an init with no room for its
/// command says which limit, in one line.
#[test]
fn exhausted_pids_end_the_command_in_one_line() {
    require_root();
    let dir = TempDir::new("fault-pids");
    let image = default_image(&dir);
    let image = image.to_str().unwrap();
    let root = dir.0.join("root");
    let start = std::time::Instant::now();
    let script = "for i in 1 2 3 4 5 6; do sleep 5 & done; wait";
    let (code, out, err) = run(
        &dir,
        &root,
        "fault-pids-a",
        &[
            "--rootfs",
            image,
            "--pids-limit",
            "4",
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.to_lowercase().contains("fork"), "{err}");
    assert!(
        start.elapsed().as_secs() < 4,
        "the sleeps outlived their shell"
    );
    assert_clean(&root);
    assert!(!cgroup_exists("fault-pids-a"));

    let (code, _, err) = run(
        &dir,
        &root,
        "fault-pids-b",
        &[
            "--rootfs",
            image,
            "--pids-limit",
            "1",
            "--init",
            "--",
            "true",
        ],
    );
    assert_eq!(code, 125, "{err}");
    assert!(one_line(&err).contains("raise --pids-limit"), "{err}");
    assert_clean(&root);
    assert!(!cgroup_exists("fault-pids-b"));
}

/// A host with no cgroup file system (a private mount namespace with
/// /sys/fs/cgroup unmounted), and one whose cgroup v2 tree lacks the pids
/// controller (this hybrid host's, mounted alone there): one line each.
#[test]
fn a_host_without_cgroups_is_one_line() {
    require_root();
    let dir = TempDir::new("fault-cgroups");
    let image = default_image(&dir);
    let root = dir.0.join("root");
    let in_private_ns = |setup: &str, name: &str| {
        let script = format!(
            "mount --make-rprivate / && umount -R -l /sys/fs/cgroup && {setup} exec \"$0\" --root \"$1\" run --name {name} --rootfs \"$2\" --pids-limit 10 -- true"
        );
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "sh", "-c", &script, BIN])
            .arg(&root)
            .arg(&image);
        common::captured(&dir, &mut cmd)
    };
    let (code, _, err) = in_private_ns("", "fault-cg-a");
    assert_eq!(code, 1, "{err}");
    assert!(
        one_line(&err).contains("no cgroup filesystem is mounted: mount cgroup2"),
        "{err}"
    );
    assert_clean(&root);

    let (code, out, err) = in_private_ns(
        "mount -t cgroup2 none /sys/fs/cgroup && if grep -qw pids /sys/fs/cgroup/cgroup.controllers; then echo has-pids; exit 0; fi &&",
        "fault-cg-b",
    );
    if out.contains("has-pids") {
        eprintln!(
            "NOTE: this host's cgroup v2 tree has the pids controller: its absence not tried"
        );
    } else {
        assert_eq!(code, 1, "{err}");
        assert!(
            one_line(&err).contains("pids controller is not available"),
            "{err}"
        );
    }
    assert_clean(&root);
    assert!(!cgroup_exists("fault-cg-b"));
}
