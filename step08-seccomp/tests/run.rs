//! step08-seccomp on the real kernel: the calls capabilities and
//! namespaces leave open are refused by the filter, from inside, and the
//! host's /proc shows the filter on the command.

use std::collections::BTreeMap;
use std::path::Path;

use step08_seccomp::testing::{
    Running, TempDir, assert_one_line, check_the_basics, require_root, run, run_in,
};

const BIN: &str = env!("CARGO_BIN_EXE_step08-seccomp");

/// An image with this binary in it (at its host path), so containers can
/// run `probe`: the default image plus the binary and its libraries.
fn probe_image(state: &TempDir) -> String {
    let built = run(BIN, &["rootfs", "build", "--state-dir", state.arg()]);
    assert_eq!(built.code, 0, "{built:?}");
    let image = state.0.join("rootfs/probe");
    let ok = std::process::Command::new("cp")
        .args(["-a", built.stdout.trim(), image.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(ok.success());
    let added = run(
        BIN,
        &["rootfs", "add", "--state-dir", state.arg(), "probe", BIN],
    );
    assert_eq!(added.code, 0, "{added:?}");
    "probe".into()
}

/// `probe all` inside a container run with `flags`: call -> result.
fn probe(state: &TempDir, flags: &[&str]) -> BTreeMap<String, String> {
    let image = probe_image(state);
    let mut args = vec!["--rootfs", image.as_str()];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--", BIN, "probe", "all"]);
    let out = run_in(BIN, state, &args);
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_default_profile_refuses_what_step_7_left_open() {
    require_root();
    let state = TempDir::new("s8-probe");
    let filtered = probe(&state, &[]);
    for call in [
        "unshare-user",
        "clone-newuser",
        "keyctl",
        "add_key",
        "bpf",
        "perf_event_open",
        "io_uring_setup",
        "personality-addr-no-randomize",
        "socket-af-alg",
        "socket-af-vsock",
    ] {
        assert_eq!(filtered[call], "EPERM", "{call}: {filtered:?}");
    }
    assert_eq!(filtered["clone3"], "ENOSYS", "libc falls back to clone(2)");
    assert_eq!(filtered["mkdir"], "ok", "ordinary work goes on");
    // The same container without a filter (step 7's exposure): the kernel
    // lets these through, or answers something else than EPERM.
    let open = probe(&state, &["--security-opt", "seccomp=unconfined"]);
    for call in [
        "unshare-user",
        "keyctl",
        "add_key",
        "personality-addr-no-randomize",
    ] {
        assert_eq!(open[call], "ok", "{call} without a filter: {open:?}");
    }
    for call in ["perf_event_open", "io_uring_setup", "clone3"] {
        assert_ne!(open[call], "EPERM", "{call} without a filter: {open:?}");
        assert_ne!(open[call], "ENOSYS", "{call} without a filter: {open:?}");
    }
}

#[test]
fn cap_sys_admin_opens_what_depends_on_it() {
    require_root();
    let state = TempDir::new("s8-admin");
    let with_admin = probe(&state, &["--cap-add", "SYS_ADMIN"]);
    assert_eq!(with_admin["unshare-user"], "ok", "{with_admin:?}");
    assert_eq!(
        with_admin["keyctl"], "EPERM",
        "keyrings stay closed: {with_admin:?}"
    );
}

#[test]
fn the_host_sees_the_filter_on_the_command_not_on_the_init() {
    require_root();
    let mut rt = Running::spawn(
        BIN,
        &[
            "run",
            "--inspect",
            "--format",
            "json",
            "--",
            "sh",
            "-c",
            "echo up; sleep 30",
        ],
    );
    let json = rt.wait_for_json();
    rt.wait_for_line("up");
    let init = json["container"]["pid"].as_i64().unwrap();
    let children = std::fs::read_to_string(format!("/proc/{init}/task/{init}/children")).unwrap();
    let command: i64 = children.split_whitespace().next().unwrap().parse().unwrap();
    let field = |pid: i64, key: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{key}:"))
                    .map(|v| v.trim().to_string())
            })
            .unwrap()
    };
    assert_eq!(field(command, "Seccomp"), "2", "filter mode on the command");
    assert_eq!(field(command, "Seccomp_filters"), "1");
    assert_eq!(
        field(init, "Seccomp"),
        "0",
        "the init itself is not filtered"
    );
}

#[test]
fn strict_mode_kills_on_the_second_syscall() {
    require_root();
    let out = run(BIN, &["demo", "strict"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("in strict mode now"), "{out:?}");
    assert!(!out.stderr.contains("did not hold"), "{out:?}");
    assert_eq!(
        out.stdout, "parent: the child killed by SIGKILL\n",
        "{out:?}"
    );
}

#[test]
fn the_filter_built_by_hand_refuses_mkdir_only() {
    require_root();
    let dir = TempDir::new("s8-by-hand");
    let target = dir.0.join("new");
    let out = run(
        BIN,
        &["demo", "filter", "--", "mkdir", target.to_str().unwrap()],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
    assert!(!Path::new(&target).exists());
    let out = run(BIN, &["demo", "filter", "--", "ls", dir.arg()]);
    assert_eq!(out.code, 0, "everything else is allowed: {out:?}");
}

#[test]
fn bad_seccomp_options_are_one_line() {
    require_root();
    let state = TempDir::new("s8-bad");
    for (args, code, text) in [
        (&["--security-opt", "apparmor=x"][..], 2, "seccomp=default"),
        (
            &["--security-opt", "seccomp=/no/such.json"][..],
            125,
            "not supported yet",
        ),
        (&["--allow-new-privs"][..], 2, "don't go together"),
    ] {
        let mut full = args.to_vec();
        full.extend_from_slice(&["--", "true"]);
        let out = run_in(BIN, &state, &full);
        assert_eq!(out.code, code, "{args:?}: {out:?}");
        assert_one_line(&out.stderr);
        assert!(out.stderr.contains(text), "{args:?}: {out:?}");
    }
    assert_eq!(
        std::fs::read_dir(state.0.join("containers"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "nothing left behind"
    );
}

#[test]
fn namespaces_exit_codes_and_sigterm_as_in_steps_1_and_2() {
    require_root();
    check_the_basics(BIN, &["uts", "pid", "mnt", "cgroup", "user"]);
}
