//! step04-overlay on the real kernel: the image never changes, containers
//! don't see each other's writes, and nothing is left after they end.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use step04_overlay::testing::{Running, TempDir, host_mountinfo, require_root, run, run_in};

const BIN: &str = env!("CARGO_BIN_EXE_step04-overlay");

fn image(state: &TempDir) -> PathBuf {
    let out = run(BIN, &["rootfs", "build", "--state-dir", state.arg()]);
    assert_eq!(out.code, 0, "{out:?}");
    PathBuf::from(out.stdout.trim())
}

/// Entries of a directory, sorted (empty if it doesn't exist).
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn writes_never_reach_the_image_and_nothing_is_left() {
    require_root();
    let state = TempDir::new("s4-writes");
    let image = image(&state);
    let before = host_mountinfo();
    let out = run_in(
        BIN,
        &state,
        &[
            "--",
            "sh",
            "-c",
            "echo inside > /written; rm /bin/ls; cat /written; ls /bin/ls",
        ],
    );
    assert_eq!(out.stdout, "inside\n", "{out:?}");
    assert!(
        !image.join("written").exists(),
        "the write reached the image"
    );
    assert!(
        image.join("usr/bin/ls").exists() || image.join("bin/ls").exists(),
        "the delete reached the image"
    );
    assert!(
        !Path::new("/written").exists(),
        "the write reached the host"
    );
    assert_eq!(
        entries(&state.0.join("containers")),
        Vec::<String>::new(),
        "layers left behind"
    );
    assert_eq!(
        entries(&state.0.join("run")),
        Vec::<String>::new(),
        "state left behind"
    );
    assert_eq!(host_mountinfo(), before, "mounts left behind");
}

#[test]
fn two_containers_from_one_image_do_not_see_each_other() {
    require_root();
    let state = TempDir::new("s4-two");
    image(&state);
    let script = |mine: &str, theirs: &str| {
        format!(
            "echo {mine} > /{mine}; echo ready; sleep 1; \
             if [ -e /{theirs} ]; then echo SAW-{theirs}; else echo alone; fi"
        )
    };
    let sa = script("file-a", "file-b");
    let sb = script("file-b", "file-a");
    let mut a = Running::spawn(
        BIN,
        &["run", "--state-dir", state.arg(), "--", "sh", "-c", &sa],
    );
    let mut b = Running::spawn(
        BIN,
        &["run", "--state-dir", state.arg(), "--", "sh", "-c", &sb],
    );
    a.wait_for_line("ready");
    b.wait_for_line("ready");
    // Both are running now: two upper layers over one image.
    assert_eq!(entries(&state.0.join("containers")).len(), 2);
    a.wait_for_line("alone");
    b.wait_for_line("alone");
    assert_eq!(a.wait(), 0);
    assert_eq!(b.wait(), 0);
    assert_eq!(entries(&state.0.join("containers")), Vec::<String>::new());
}

#[test]
fn keep_leaves_the_upper_layer_with_the_writes_and_a_whiteout() {
    require_root();
    let state = TempDir::new("s4-keep");
    image(&state);
    let out = run_in(
        BIN,
        &state,
        &[
            "--keep",
            "--",
            "sh",
            "-c",
            "echo kept > /kept-file; rm /bin/ls",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("kept the container's upper layer: "))
        .expect("path printed");
    let upper = PathBuf::from(line.rsplit(": ").next().unwrap());
    assert_eq!(
        std::fs::read_to_string(upper.join("kept-file")).unwrap(),
        "kept\n"
    );
    // A deleted lower file is a whiteout: a character device 0/0.
    // /bin/ls is usr/bin/ls on a merged-/usr rootfs, bin/ls on busybox's.
    let whiteout = std::fs::symlink_metadata(upper.join("usr/bin/ls"))
        .or_else(|_| std::fs::symlink_metadata(upper.join("bin/ls")))
        .unwrap();
    assert!(whiteout.file_type().is_char_device(), "{whiteout:?}");
    // Only the upper dir is kept; runtime state is gone.
    assert_eq!(
        entries(upper.parent().unwrap()),
        vec!["KEPT".to_string(), "upper".to_string()]
    );
    assert_eq!(entries(&state.0.join("run")), Vec::<String>::new());
}

#[test]
fn a_killed_runtimes_layers_are_swept_by_the_next_run() {
    require_root();
    let state = TempDir::new("s4-stale");
    image(&state);
    let before = host_mountinfo();
    let mut rt = Running::spawn(
        BIN,
        &[
            "run",
            "--state-dir",
            state.arg(),
            "--",
            "sh",
            "-c",
            "echo up; sleep 30",
        ],
    );
    rt.wait_for_line("up");
    rt.signal(Signal::SIGKILL);
    rt.wait();
    assert_eq!(
        entries(&state.0.join("containers")).len(),
        1,
        "SIGKILL leaves layers (nobody to clean)"
    );
    assert_eq!(
        host_mountinfo(),
        before,
        "but no mount: it lived in the container's namespace"
    );
    let out = run(BIN, &["cleanup", "--state-dir", state.arg()]);
    assert!(
        out.stdout.starts_with("removed 1 stale container"),
        "{out:?}"
    );
    assert_eq!(entries(&state.0.join("containers")), Vec::<String>::new());
    assert_eq!(entries(&state.0.join("run")), Vec::<String>::new());
}

#[test]
fn the_image_is_read_only_from_inside_only_through_the_overlay() {
    require_root();
    let state = TempDir::new("s4-mount");
    image(&state);
    let out = run_in(
        BIN,
        &state,
        &[
            "--",
            "sh",
            "-c",
            "grep -c ' / / .* - overlay ' /proc/self/mountinfo",
        ],
    );
    assert_eq!(out.stdout.trim(), "1", "root is not the overlay: {out:?}");
}

#[test]
fn a_full_disk_at_start_leaves_no_half_made_state() {
    require_root();
    let images = TempDir::new("s4-full-image");
    let built = run(BIN, &["rootfs", "build", "--state-dir", images.arg()]);
    assert_eq!(built.code, 0, "{built:?}");
    let full = TempDir::new("s4-full");
    // A 64 KiB tmpfs over the state dir, filled up, in a mount namespace of
    // this test's own (gone when the shell exits).
    let script = r#"mount -t tmpfs -o size=64k isolab-full "$S" && mkdir "$S/run" &&
        { head -c 1048576 /dev/zero > "$S/fill"; "$ISOLAB" run --state-dir "$S" --rootfs "$IMG" -- true;
          echo "rc=$?"; ls -A "$S/run"; }"#;
    let out = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .env("ISOLAB", BIN)
        .env("S", full.arg())
        .env("IMG", built.stdout.trim())
        .output()
        .expect("unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stdout.trim(),
        "rc=125",
        "stdout {stdout:?} stderr {stderr:?}"
    );
    assert!(stderr.contains("No space left"), "{stderr}");
}

#[test]
fn namespaces_exit_codes_and_sigterm_as_in_steps_1_and_2() {
    require_root();
    step04_overlay::testing::check_the_basics(BIN, &["uts", "pid", "mnt"]);
}
