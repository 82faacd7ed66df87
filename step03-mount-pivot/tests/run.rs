//! step03-mount-pivot on the real kernel: its own root, /proc, /dev, and
//! nothing of the host's filesystem left reachable.

use std::path::Path;

use nix::sys::signal::Signal;
use step03_mount_pivot::testing::{
    Running, TempDir, assert_one_line, check_init_keeps_no_runtime_fds, host_mountinfo,
    require_root, run, run_in,
};

const BIN: &str = env!("CARGO_BIN_EXE_step03-mount-pivot");

/// `run --state-dir TMP ARGS...`
#[test]
fn ps_shows_only_the_container_and_pid_1_is_init() {
    require_root();
    let state = TempDir::new("s3-ps");
    let out = run_in(
        BIN,
        &state,
        &["--", "sh", "-c", "ps -e -o pid=,comm=; cat /proc/1/comm"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        ["1 step03-init", "2 sh", "3 ps", "step03-init"],
        "{out:?}"
    );
}

#[test]
fn host_mount_table_is_unchanged_also_after_sigkill() {
    require_root();
    let state = TempDir::new("s3-mounts");
    // Build the default rootfs first: it is files, not mounts, but keep
    // the comparison about the run alone.
    assert_eq!(run_in(BIN, &state, &["--", "true"]).code, 0);
    let before = host_mountinfo();
    assert_eq!(run_in(BIN, &state, &["--", "true"]).code, 0);
    assert_eq!(
        host_mountinfo(),
        before,
        "a normal run changed the host's mounts"
    );
    assert_eq!(
        run_in(BIN, &state, &["--", "sh", "-c", "kill -KILL $$"]).code,
        137
    );
    assert_eq!(
        host_mountinfo(),
        before,
        "a SIGKILLed command changed the host's mounts"
    );
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
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        host_mountinfo(),
        before,
        "a SIGKILLed runtime changed the host's mounts"
    );
}

#[test]
fn the_old_root_is_gone() {
    require_root();
    let state = TempDir::new("s3-oldroot");
    let marker = format!("isolab-host-marker-{}", std::process::id());
    let marker_path = std::env::temp_dir().join(&marker);
    std::fs::write(&marker_path, "host").unwrap();
    let script = format!(
        "find / -path /proc -prune -o -path /sys -prune -o -name {marker} -print; \
         grep -cE '^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / ' /proc/self/mountinfo; ls /proc/1/root/ | wc -l"
    );
    let out = run_in(BIN, &state, &["--", "sh", "-c", &script]);
    std::fs::remove_file(&marker_path).unwrap();
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        !out.stdout.contains(&marker),
        "host file reachable: {out:?}"
    );
    // Exactly one mount at "/" (the rootfs), the host's root detached.
    assert_eq!(lines[0], "1", "{out:?}");
}

#[test]
fn masked_paths_read_empty_and_readonly_paths_refuse_writes() {
    require_root();
    let state = TempDir::new("s3-masked");
    let script = "for f in /proc/keys /proc/timer_list /proc/interrupts; do [ -e $f ] && echo $f $(wc -c < $f); done; \
                  ls /sys/firmware | wc -l; \
                  echo x > /proc/sys/kernel/hostname && echo WROTE-SYS; \
                  echo h > /proc/sysrq-trigger && echo WROTE-SYSRQ; true";
    let out = run_in(BIN, &state, &["--", "sh", "-c", script]);
    assert_eq!(out.code, 0, "{out:?}");
    for line in out.stdout.lines().filter(|l| l.starts_with("/proc/")) {
        assert!(line.ends_with(" 0"), "masked path not empty: {line}");
    }
    assert!(
        out.stdout.lines().any(|l| l.starts_with("/proc/")),
        "no masked file checked: {out:?}"
    );
    assert!(
        out.stdout.contains("\n0\n"),
        "/sys/firmware not empty: {out:?}"
    );
    assert!(!out.stdout.contains("WROTE"), "{out:?}");
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
}

#[test]
fn dev_has_only_the_default_devices() {
    require_root();
    let state = TempDir::new("s3-dev");
    let out = run_in(
        BIN,
        &state,
        &[
            "--",
            "sh",
            "-c",
            "ls /dev; echo data > /dev/null && head -c 4 /dev/zero | wc -c",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let names: Vec<&str> = out.stdout.lines().collect();
    for want in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "fd", "stdin",
    ] {
        assert!(names.contains(&want), "missing /dev/{want}: {names:?}");
    }
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("vd") || n.starts_with("sd")),
        "host disks visible: {names:?}"
    );
    assert_eq!(names.last(), Some(&"4"));
}

#[test]
fn step3s_rootfs_is_built_once_reused_and_rebuilt_when_incomplete() {
    require_root();
    let state = TempDir::new("s3-cache");
    let out = run_in(BIN, &state, &["--", "true"]);
    assert_eq!(out.code, 0, "{out:?}");
    let dir = state.0.join("rootfs/step03");
    assert!(dir.join(".isolab-complete").exists());
    // Reused: a file we add survives the next run.
    std::fs::write(dir.join("etc/reuse-check"), "x").unwrap();
    assert_eq!(
        run_in(BIN, &state, &["--", "cat", "/etc/reuse-check"]).stdout,
        "x"
    );
    // Incomplete (no marker): rebuilt, so our file is gone.
    std::fs::remove_file(dir.join(".isolab-complete")).unwrap();
    let out = run_in(
        BIN,
        &state,
        &[
            "--",
            "sh",
            "-c",
            "ls /etc/reuse-check 2>/dev/null; echo done",
        ],
    );
    assert_eq!(out.stdout, "done\n", "{out:?}");
    assert!(dir.join(".isolab-complete").exists());
}

#[test]
fn writes_stay_in_step3s_image_never_the_default_one() {
    require_root();
    let state = TempDir::new("s3-writes");
    let default = run(BIN, &["rootfs", "build", "--state-dir", state.arg()]);
    let default = Path::new(default.stdout.trim()).to_path_buf();
    let out = run_in(BIN, &state, &["--", "sh", "-c", "echo planted > /etc/motd"]);
    assert_eq!(out.code, 0, "{out:?}");
    // Not isolated yet: the next step-3 container sees it...
    let out = run_in(BIN, &state, &["--", "cat", "/etc/motd"]);
    assert_eq!(out.stdout, "planted\n", "{out:?}");
    // ...but the image steps 4 and later start from is untouched.
    assert!(default.join("etc/passwd").exists());
    assert!(
        !default.join("etc/motd").exists(),
        "step 3 wrote into the default image"
    );
}

/// A rootfs made from the default one, with `name` replaced by a symlink.
fn rootfs_with_symlink(state: &TempDir, name: &str, target: &str) -> String {
    let out = run(BIN, &["rootfs", "build", "--state-dir", state.arg()]);
    let src = out.stdout.trim().to_string();
    let dst = state.0.join("evil");
    let ok = std::process::Command::new("cp")
        .args(["-a", &src, dst.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::remove_dir_all(dst.join(name)).unwrap();
    std::os::unix::fs::symlink(target, dst.join(name)).unwrap();
    dst.to_str().unwrap().to_string()
}

#[test]
fn a_symlinked_proc_or_dev_never_mounts_onto_the_host() {
    require_root();
    for (name, target) in [("proc", "/etc"), ("dev", "../../../../../../tmp")] {
        let state = TempDir::new(&format!("s3-symlink-{name}"));
        let evil = rootfs_with_symlink(&state, name, target);
        let before = host_mountinfo();
        let out = run_in(BIN, &state, &["--rootfs", &evil, "--", "true"]);
        assert_eq!(out.code, 125, "{name}: {out:?}");
        assert_one_line(&out.stderr);
        assert!(out.stderr.contains("symlink"), "{name}: {}", out.stderr);
        assert_eq!(host_mountinfo(), before);
    }
}

#[test]
fn bad_rootfs_and_missing_commands_are_one_line_errors() {
    require_root();
    let state = TempDir::new("s3-bad");
    let file = state.0.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let empty = state.0.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let cases: [(&[&str], i32, &str); 4] = [
        (
            &["--rootfs", "/no/such/dir", "--", "true"],
            125,
            "does not exist",
        ),
        (
            &["--rootfs", file.to_str().unwrap(), "--", "true"],
            125,
            "not a directory",
        ),
        (
            &["--rootfs", empty.to_str().unwrap(), "--", "/bin/sh"],
            127,
            "not found",
        ),
        (&["--", "no-such-command"], 127, "not found"),
    ];
    for (args, code, text) in cases {
        let out = run_in(BIN, &state, args);
        assert_eq!(out.code, code, "{args:?}: {out:?}");
        assert_one_line(&out.stderr);
        assert!(out.stderr.contains(text), "{args:?}: {}", out.stderr);
    }
}

/// A tar member with a raw name, bypassing the tar crate's own checks (we
/// want exactly the malicious archives it would refuse to build).
fn raw_entry(
    builder: &mut tar::Builder<Vec<u8>>,
    name: &str,
    kind: tar::EntryType,
    link: &str,
    data: &[u8],
) {
    let mut header = tar::Header::new_old();
    {
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(data.len() as u64);
    header.set_cksum();
    builder.append(&header, data).unwrap();
}

#[test]
fn import_refuses_entries_that_leave_the_target() {
    require_root();
    let state = TempDir::new("s3-import");
    let mut b = tar::Builder::new(Vec::new());
    raw_entry(&mut b, "etc/", tar::EntryType::Directory, "", b"");
    raw_entry(
        &mut b,
        "etc/hostname",
        tar::EntryType::Regular,
        "",
        b"imported\n",
    );
    raw_entry(
        &mut b,
        "../escaped-dotdot",
        tar::EntryType::Regular,
        "",
        b"x",
    );
    raw_entry(
        &mut b,
        "/tmp/escaped-absolute",
        tar::EntryType::Regular,
        "",
        b"x",
    );
    raw_entry(
        &mut b,
        "etc/out",
        tar::EntryType::Symlink,
        "../../../../tmp",
        b"",
    );
    raw_entry(
        &mut b,
        "bin/sh",
        tar::EntryType::Symlink,
        "/bin/busybox",
        b"",
    );
    let tarball = state.0.join("evil.tar");
    std::fs::write(&tarball, b.into_inner().unwrap()).unwrap();

    let out = run(
        BIN,
        &[
            "rootfs",
            "import",
            tarball.to_str().unwrap(),
            "evil",
            "--state-dir",
            state.arg(),
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let refused: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("refused:"))
        .collect();
    assert_eq!(refused.len(), 3, "{out:?}");
    assert!(out.stderr.contains("../escaped-dotdot: path contains '..'"));
    assert!(out.stderr.contains("/tmp/escaped-absolute: absolute path"));
    assert!(out.stderr.contains("etc/out: symlink"));
    let image = state.0.join("rootfs/evil");
    assert_eq!(
        std::fs::read_to_string(image.join("etc/hostname")).unwrap(),
        "imported\n"
    );
    assert!(
        std::fs::symlink_metadata(image.join("bin/sh"))
            .unwrap()
            .is_symlink()
    );
    assert!(!state.0.join("rootfs/escaped-dotdot").exists());
    assert!(!Path::new("/tmp/escaped-absolute").exists());
    assert!(!image.join("etc/out").exists());
}

#[test]
fn pid_1_keeps_none_of_the_runtimes_fds() {
    require_root();
    let state = TempDir::new("s3-fds");
    let out = check_init_keeps_no_runtime_fds(BIN, &["--state-dir", state.arg()]);
    // Root here still has CAP_SYS_PTRACE, so it may list PID 1's fds: the
    // list must hold nothing of the runtime's (checked above), stdio only.
    assert!(
        out.stdout.lines().any(|l| l.trim() == "0") && out.stdout.contains("FD0-FOLLOWS"),
        "ls /proc/1/fd ran: {out:?}"
    );
}

#[test]
fn the_container_gets_its_own_environment() {
    require_root();
    let state = TempDir::new("s3-env");
    let mut cmd = std::process::Command::new(BIN);
    cmd.args([
        "run",
        "--state-dir",
        state.arg(),
        "-e",
        "A=1",
        "-e",
        "PASSED",
        "-e",
        "A=2",
    ])
    .args(["-e", "NOT_SET_ANYWHERE", "--", "env"])
    .env("ISOLAB_HOST_SECRET", "x")
    .env("PASSED", "from-caller")
    .env_remove("NOT_SET_ANYWHERE")
    // The caller's PATH names nothing inside: the command is still
    // found, through the container's own PATH.
    .env("PATH", "/nonexistent")
    .stdin(std::process::Stdio::null());
    let out = step03_mount_pivot::testing::output_of(cmd);
    assert_eq!(out.code, 0, "{out:?}");
    let mut got: Vec<&str> = out.stdout.lines().collect();
    got.sort();
    assert_eq!(
        got,
        [
            "A=2",
            "HOME=/root",
            "HOSTNAME=step03",
            "PASSED=from-caller",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ],
        "{out:?}"
    );
    let out = run_in(BIN, &state, &["-e", "=1", "--", "true"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_one_line(&out.stderr);
}

#[test]
fn namespaces_exit_codes_and_sigterm_as_in_steps_1_and_2() {
    require_root();
    step03_mount_pivot::testing::check_the_basics(BIN, &["uts", "pid", "mnt"]);
}
