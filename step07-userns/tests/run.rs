//! step07-userns on the real kernel: root inside, an unprivileged uid
//! outside; and the same runtime run by a normal user (rootless).

use std::path::{Path, PathBuf};
use std::process::Command;

use step07_userns::testing::{
    Output, PLANTED_FD, TempDir, assert_one_line, check_init_keeps_no_runtime_fds, exit_code,
    first_json, require_root, run_in,
};

const BIN: &str = env!("CARGO_BIN_EXE_step07-userns");

#[test]
fn root_inside_is_an_unprivileged_uid_outside() {
    require_root();
    let state = TempDir::new("s7-map");
    let out = run_in(
        BIN,
        &state,
        &[
            "--inspect",
            "--format",
            "json",
            "--",
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["0", "0 1000000 65536"], "{out:?}");
    let json = first_json(&out.stderr);
    assert_eq!(
        json["container"]["uid"]["real"], 1_000_000,
        "the host sees the mapped uid"
    );
    assert_eq!(json["namespaces"]["user"], "new");
    assert_eq!(json["container"]["uid_map"][0], "0 1000000 65536");
}

#[test]
fn the_image_looks_root_owned_and_writes_belong_to_the_mapped_uid() {
    require_root();
    let state = TempDir::new("s7-owner");
    let out = run_in(
        BIN,
        &state,
        &[
            "--keep",
            "--",
            "sh",
            "-c",
            "stat -c %u:%g /etc/passwd /bin/sh; echo x > /made-inside",
        ],
    );
    assert_eq!(out.stdout, "0:0\n0:0\n", "{out:?}");
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("kept the container's upper layer: "))
        .expect("kept");
    let upper = PathBuf::from(line.rsplit(": ").next().unwrap());
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(upper.join("made-inside")).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (1_000_000, 1_000_000),
        "owner on the host"
    );
}

#[test]
fn capabilities_stop_at_the_namespace() {
    require_root();
    let state = TempDir::new("s7-caps");
    let out = run_in(
        BIN,
        &state,
        &[
            "--cap-add",
            "SYS_ADMIN",
            "--",
            "sh",
            "-c",
            "mount -t tmpfs none /mnt && echo mounted",
        ],
    );
    assert_eq!(
        out.stdout, "mounted\n",
        "a tmpfs belongs to the namespace: {out:?}"
    );
    let out = run_in(
        BIN,
        &state,
        &["--cap-add", "SYS_TIME", "--", "date", "-s", "2001-01-01"],
    );
    // (busybox's date exits 0 after the refusal; coreutils' exits 1: the
    // kernel's answer is in the message either way.)
    assert!(
        out.stderr.contains("not permitted"),
        "the clock is the host's: {out:?}"
    );
    // CAP_MKNOD is in the default set, but devices belong to the host.
    let out = run_in(BIN, &state, &["--", "sh", "-c", "mknod /tmp/null c 1 3"]);
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
}

#[test]
fn maps_can_be_chosen() {
    require_root();
    let state = TempDir::new("s7-custom");
    let out = run_in(
        BIN,
        &state,
        &[
            "--uid-map",
            "0:2000000:1000",
            "--gid-map",
            "0:2000000:1000",
            "--",
            "cat",
            "/proc/self/uid_map",
            "/proc/self/gid_map",
        ],
    );
    let got: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(got, ["0 2000000 1000", "0 2000000 1000"], "{out:?}");
    let out = run_in(BIN, &state, &["--uid-map", "0:1", "--", "true"]);
    assert_eq!(out.code, 2);
    assert_one_line(&out.stderr);
}

/// A copy of the binary and a home that user 1000 can use, wherever this
/// checkout lives (its parent dirs may be closed to other users).
struct Rootless {
    dir: TempDir,
}

impl Rootless {
    /// The user's copy of the binary, with the user's environment; the
    /// caller switches to uid 1000 (e.g. with `plant_session_key`).
    fn command(&self) -> Command {
        let home = self.dir.0.join("home");
        let mut cmd = Command::new(self.dir.0.join("step07-userns"));
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("NO_COLOR", "1")
            .current_dir(Path::new("/"))
            .stdin(std::process::Stdio::null());
        cmd
    }

    fn new(name: &str) -> Rootless {
        let dir = TempDir::new(name);
        std::fs::copy(BIN, dir.0.join("step07-userns")).unwrap();
        std::fs::create_dir_all(dir.0.join("home/run")).unwrap();
        let ok = Command::new("chown")
            .args(["-R", "1000:1000", dir.arg()])
            .status()
            .unwrap();
        assert!(ok.success());
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
        Rootless { dir }
    }

    /// Run `sh -c script` as uid 1000, with the binary as `$ISOLAB`.
    fn sh(&self, script: &str) -> Output {
        let home = self.dir.0.join("home");
        let out = Command::new("setpriv")
            .args([
                "--reuid=1000",
                "--regid=1000",
                // A login user has supplementary groups: keep some.
                "--groups=1000,4242",
                "sh",
                "-c",
                script,
            ])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("NO_COLOR", "1")
            .env("ISOLAB", self.dir.0.join("step07-userns"))
            .current_dir(Path::new("/"))
            .output()
            .expect("setpriv (util-linux)");
        Output {
            code: exit_code(out.status),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[test]
fn a_normal_user_runs_a_container_without_sudo() {
    require_root();
    let user = Rootless::new("s7-rootless");
    let out = user.sh("\"$ISOLAB\" run --inspect --format json -- sh -c 'id -u; cat /proc/self/uid_map; touch /f; chown 5 /f'");
    assert_eq!(out.code, 1, "chown must fail: {out:?}");
    let lines: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["0", "0 1000 1"], "{out:?}");
    assert!(
        out.stderr.contains("Invalid argument"),
        "a single-id map has no uid 5: {out:?}"
    );
    let json = first_json(&out.stderr);
    assert_eq!(
        json["container"]["uid"]["real"], 1000,
        "the process belongs to the user on the host"
    );
    assert!(
        out.stderr.contains("no cgroup subtree is delegated"),
        "{out:?}"
    );
    // Its state is the user's, and gone after the run.
    let containers = user.dir.0.join("home/.local/share/isolab/containers");
    assert_eq!(
        std::fs::read_dir(&containers)
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}

#[test]
fn with_newuidmap_and_a_subuid_range_a_normal_user_maps_a_whole_range() {
    require_root();
    let user = Rootless::new("s7-subuid");
    // The user's ranges, seen only in a mount namespace of this test (the
    // machine's /etc/subuid stays as it is). newuidmap is set-uid root and
    // reads them from there.
    let ranges = user.dir.0.join("ranges");
    std::fs::write(&ranges, "1000:200000:65536\n").unwrap();
    let r = ranges.display();
    // By path: a busybox sh runs its own setpriv applet (no --reuid) first.
    let setpriv = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("setpriv"))
        .find(|p| std::fs::canonicalize(p).is_ok_and(|c| !c.to_string_lossy().contains("busybox")))
        .expect("setpriv (util-linux)");
    let setpriv = setpriv.display();
    let script = format!(
        "unshare -m sh -c 'mount --bind {r} /etc/subuid && mount --bind {r} /etc/subgid && \
         {setpriv} --reuid=1000 --regid=1000 --clear-groups \"$ISOLAB\" run -- sh -c \"cat /proc/self/uid_map; touch /f; chown 5:5 /f && stat -c %u:%g /f\"'"
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", user.dir.0.join("home"))
        .env("XDG_RUNTIME_DIR", user.dir.0.join("home/run"))
        .env("ISOLAB", user.dir.0.join("step07-userns"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        Command::new("newuidmap").arg("--help").output().is_ok(),
        "newuidmap is not installed: install the uidmap package (.ci/run does)"
    );
    let lines: Vec<String> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        ["0 1000 1", "1 200000 65536", "5:5"],
        "stdout {stdout:?} stderr {stderr:?}"
    );
}

#[test]
fn disabled_user_namespaces_are_named_with_their_fix() {
    require_root();
    let user = Rootless::new("s7-disabled");
    // A user namespace of our own whose limit we set to 0: this machine's
    // settings stay as they are.
    let out = user.sh("unshare -Ur sh -c 'echo 0 > /proc/sys/user/max_user_namespaces && \"$ISOLAB\" run -- true'");
    assert_eq!(out.code, 125, "{out:?}");
    let err: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.starts_with("note:"))
        .collect();
    assert_eq!(err.len(), 1, "{out:?}");
    assert!(
        err[0].contains("user.max_user_namespaces = 0") && err[0].contains("sysctl"),
        "{out:?}"
    );
}

#[test]
fn pid_1_is_closed_to_the_container_as_root_and_rootless() {
    require_root();
    let state = TempDir::new("s7-fds");
    let out = check_init_keeps_no_runtime_fds(BIN, &["--state-dir", state.arg()]);
    assert!(out.stdout.contains("FD0-BLOCKED"), "{out:?}");
    // Rootless, the uid switch inside maps to the same host uid, so it is
    // the explicit PR_SET_DUMPABLE that closes /proc/1 (and the close of
    // the inherited fds that empties it).
    let user = Rootless::new("s7-fds-rootless");
    std::fs::write(user.dir.0.join("home/marker"), "HOST-SECRET\n").unwrap();
    let out = user.sh(&format!(
        "exec {PLANTED_FD}<\"$HOME\"; \"$ISOLAB\" run -- sh -c 'test -e /proc/1/fd/0 && echo FD0-FOLLOWS || echo FD0-BLOCKED; cat /proc/1/fd/{PLANTED_FD}/marker'"
    ));
    assert!(!out.stdout.contains("HOST-SECRET"), "{out:?}");
    assert!(out.stdout.contains("FD0-BLOCKED"), "{out:?}");
}

#[test]
fn a_runtime_that_fails_before_sync_0_leaves_no_child() {
    require_root();
    let state = TempDir::new("s7-fail-early");
    // The kernel refuses this map when the runtime writes it, while the
    // child waits at sync 0. `run` fails if the child outlives the runtime
    // holding its stdout.
    let out = run_in(
        BIN,
        &state,
        &["--uid-map", "0:1000000:4294967295", "--", "id"],
    );
    assert_eq!(out.code, 125, "{out:?}");
    assert_one_line(&out.stderr);
}

/// Mount points under /sys inside a container, with their options, from
/// the `grep ' /sys' /proc/self/mountinfo` it printed.
fn sys_mounts(mountinfo: &str) -> Vec<(String, String)> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (point, opts) = (f.get(4)?, f.get(5)?);
            (*point == "/sys" || point.starts_with("/sys/"))
                .then(|| (point.to_string(), opts.to_string()))
        })
        .collect()
}

#[test]
fn every_mount_under_sys_is_read_only() {
    require_root();
    let state = TempDir::new("s7-sys");
    // A writable mount under the host's /sys, made in a mount namespace of
    // this test's own (the machine's /sys stays as it is).
    let script = format!(
        "mount -t tmpfs isolab-test /sys/kernel/mm && exec \"$ISOLAB\" run --state-dir {} -- \
         sh -c 'grep \" /sys\" /proc/self/mountinfo; touch /sys/kernel/mm/planted && echo WROTE'",
        state.arg()
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("ISOLAB", BIN)
        .output()
        .expect("unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mounts = sys_mounts(&stdout);
    assert!(
        mounts.iter().any(|(p, _)| p == "/sys/kernel/mm"),
        "the planted mount came along: {stdout} {stderr}"
    );
    for (point, opts) in &mounts {
        assert!(opts.split(',').any(|o| o == "ro"), "{point} is {opts}");
    }
    assert!(!stdout.contains("WROTE"), "{stdout} {stderr}");
}

#[test]
fn rootless_without_a_cgroup_sees_no_host_cgroup_tree() {
    require_root();
    let user = Rootless::new("s7-sys-rootless");
    let out = user.sh("\"$ISOLAB\" run -- sh -c 'ls -A /sys/fs/cgroup | wc -l; grep \" /sys\" /proc/self/mountinfo'");
    assert_eq!(out.stdout.lines().next(), Some("0"), "{out:?}");
    for (point, opts) in sys_mounts(&out.stdout) {
        assert!(opts.split(',').any(|o| o == "ro"), "{point} is {opts}");
    }
}

#[test]
fn the_callers_session_keyring_stays_behind() {
    require_root();
    let user = Rootless::new("s7-keys");
    let mut cmd = user.command();
    cmd.args(["run", "--cap-add", "SYS_ADMIN", "--", "sh", "-c"])
        .arg(step07_userns::testing::LIST_KEYS);
    step07_userns::testing::plant_session_key(&mut cmd, Some(1000));
    let out = step07_userns::testing::output_of(cmd);
    assert_eq!(out.stdout.trim(), "0", "{out:?}");
}

#[test]
fn map_mistakes_are_usage_errors_that_name_the_fix() {
    require_root();
    let state = TempDir::new("s7-map-mistakes");
    for (args, text) in [
        (&["--user", "70000"][..], "not mapped in the container"),
        (
            &["--uid-map", "1:1000000:100"][..],
            "leaves container root unmapped",
        ),
        (&["--user", "99999999999"][..], "out of range"),
    ] {
        let mut full = args.to_vec();
        full.extend_from_slice(&["--", "true"]);
        let out = run_in(BIN, &state, &full);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert_one_line(&out.stderr);
        assert!(out.stderr.contains(text), "{args:?}: {out:?}");
    }
    let user = Rootless::new("s7-rootless-map");
    let out = user.sh("\"$ISOLAB\" run --uid-map 0:1000:1 -- true");
    assert_eq!(
        out.code, 2,
        "rootless --uid-map is refused, not ignored: {out:?}"
    );
    assert!(out.stderr.contains("need root"), "{out:?}");
}

#[test]
fn a_normal_user_imports_a_rootfs_tarball() {
    require_root();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let user = Rootless::new("s7-import");
    // An image as root made it: a program, a private file, a device node.
    let tree = user.dir.0.join("tree");
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::create_dir_all(tree.join("dev")).unwrap();
    std::fs::write(tree.join("bin/tool"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(
        tree.join("bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(tree.join("etc/secret"), "x").unwrap();
    std::fs::set_permissions(
        tree.join("etc/secret"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    nix::sys::stat::mknod(
        &tree.join("dev/null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    let tarball = user.dir.0.join("image.tar");
    let ok = Command::new("tar")
        .args([
            "-C",
            tree.to_str().unwrap(),
            "-cf",
            tarball.to_str().unwrap(),
            ".",
        ])
        .status()
        .expect("tar");
    assert!(ok.success());
    std::fs::set_permissions(&tarball, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = user.sh(&format!(
        "\"$ISOLAB\" rootfs import {} img",
        tarball.display()
    ));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("left out 1 device node"), "{out:?}");
    let image = user.dir.0.join("home/.local/share/isolab/rootfs/img");
    let meta = std::fs::metadata(image.join("bin/tool")).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o755, "modes kept");
    assert_eq!(meta.uid(), 1000, "owned by the user, who is root inside");
    let meta = std::fs::metadata(image.join("etc/secret")).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600);
}

#[test]
fn rootless_cleanup_removes_what_a_killed_runtime_left() {
    require_root();
    let user = Rootless::new("s7-rootless-cleanup");
    // OverlayFS left work/work with mode 000: the sweep must open it first.
    let out = user.sh(
        "\"$ISOLAB\" run -- sleep 30 & pid=$!; \
         for i in $(seq 300); do [ -n \"$(ls -A \"$HOME/.local/share/isolab/containers\" 2>/dev/null)\" ] && break; sleep 0.1; done; \
         sleep 0.5; kill -9 $pid; wait $pid; \
         ls -A \"$HOME/.local/share/isolab/containers\" | wc -l; \
         \"$ISOLAB\" cleanup; ls -A \"$HOME/.local/share/isolab/containers\" | wc -l",
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert_eq!(
        lines[0].trim(),
        "1",
        "the killed runtime left its layers: {out:?}"
    );
    assert!(lines[1].starts_with("removed 1 stale"), "{out:?}");
    assert_eq!(lines[2].trim(), "0", "{out:?}");
}

#[test]
fn an_image_directory_can_be_replaced_inside_a_user_namespace() {
    require_root();
    let state = TempDir::new("s7-opaque");
    // Needs an opaque directory in the upper layer: userxattr.
    let script = "rm -rf /etc && mkdir /etc && echo new > /etc/f && cat /etc/f";
    let out = run_in(BIN, &state, &["--", "sh", "-c", script]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "new\n"), "{out:?}");
    let user = Rootless::new("s7-opaque-rootless");
    let out = user.sh(&format!("\"$ISOLAB\" run -- sh -c '{script}'"));
    assert_eq!((out.code, out.stdout.as_str()), (0, "new\n"), "{out:?}");
}

#[test]
fn namespaces_exit_codes_and_sigterm_as_in_steps_1_and_2() {
    require_root();
    step07_userns::testing::check_the_basics(BIN, &["uts", "pid", "mnt", "cgroup", "user"]);
}

#[test]
fn a_state_dir_container_root_cannot_enter_is_one_line() {
    require_root();
    // mktemp -d makes 0700 directories: container root (a high host uid,
    // no capability over host files) could not reach its layers.
    let state = TempDir::new("s7-private");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&state.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = run_in(BIN, &state, &["--", "true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert_one_line(&out.stderr);
    assert!(out.stderr.contains("chmod o+x"), "{out:?}");
    assert_eq!(
        std::fs::read_dir(state.0.join("containers"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "nothing left behind"
    );
}
