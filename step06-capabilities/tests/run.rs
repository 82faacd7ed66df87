//! step06-capabilities on the real kernel: what root inside may still do,
//! read back from the container's own /proc/self/status.

use step06_capabilities::testing::{
    Output, TempDir, assert_one_line, check_init_keeps_no_runtime_fds, probe_image, require_root,
    run, run_in,
};

const BIN: &str = env!("CARGO_BIN_EXE_step06-capabilities");
const DOCKER_DEFAULT: &str = "00000000a80425fb";

/// `CapEff` and friends from a container's /proc/self/status.
fn caps(out: &Output, key: &str) -> String {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {out:?}"))
        .trim()
        .to_string()
}

const STATUS: [&str; 4] = ["--", "grep", "-E", "^(Cap|NoNewPrivs|Uid|Gid|Groups)"];

fn status(state: &TempDir, flags: &[&str]) -> Output {
    let mut args = flags.to_vec();
    args.extend_from_slice(&STATUS);
    args.push("/proc/self/status");
    let out = run_in(BIN, state, &args);
    assert_eq!(out.code, 0, "{out:?}");
    out
}

#[test]
fn root_keeps_exactly_dockers_default_set() {
    require_root();
    let state = TempDir::new("s6-default");
    let out = status(&state, &[]);
    for key in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(caps(&out, key), DOCKER_DEFAULT, "{key}");
    }
    assert_eq!(caps(&out, "CapInh"), "0000000000000000");
    assert_eq!(caps(&out, "CapAmb"), "0000000000000000");
    assert_eq!(caps(&out, "NoNewPrivs"), "1");
}

#[test]
fn mount_needs_cap_sys_admin() {
    require_root();
    let state = TempDir::new("s6-mount");
    let out = run_in(BIN, &state, &["--", "mount", "-t", "tmpfs", "none", "/mnt"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.to_lowercase().contains("permission denied"),
        "EPERM expected: {out:?}"
    );
    let out = run_in(
        BIN,
        &state,
        &[
            "--cap-add",
            "sys_admin",
            "--",
            "sh",
            "-c",
            "mount -t tmpfs none /mnt && grep -c ' /mnt ' /proc/self/mountinfo",
        ],
    );
    assert_eq!(out.stdout.trim(), "1", "{out:?}");
}

#[test]
fn cap_drop_all_empties_the_bounding_set() {
    require_root();
    let state = TempDir::new("s6-drop");
    let out = status(&state, &["--cap-drop", "ALL"]);
    for key in ["CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"] {
        assert_eq!(caps(&out, key), "0000000000000000", "{key}");
    }
    let out = status(
        &state,
        &["--cap-drop", "ALL", "--cap-add", "CAP_NET_BIND_SERVICE"],
    );
    assert_eq!(caps(&out, "CapBnd"), "0000000000000400");
}

#[test]
fn a_user_runs_without_groups_or_effective_caps() {
    require_root();
    let state = TempDir::new("s6-user");
    let out = status(&state, &["--user", "1000:1000"]);
    assert!(
        out.stdout.contains("Uid:\t1000\t1000\t1000\t1000"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("Gid:\t1000\t1000\t1000\t1000"),
        "{out:?}"
    );
    assert_eq!(caps(&out, "Groups"), "");
    assert_eq!(caps(&out, "CapEff"), "0000000000000000");
    assert_eq!(caps(&out, "CapPrm"), "0000000000000000");
    assert_eq!(caps(&out, "CapBnd"), DOCKER_DEFAULT);
    // An added capability reaches a non-root user as an ambient one.
    let out = status(&state, &["--user", "1000", "--cap-add", "NET_BIND_SERVICE"]);
    assert_eq!(caps(&out, "CapAmb"), "0000000000000400");
    assert_eq!(caps(&out, "CapEff"), "0000000000000400");
}

#[test]
fn a_setuid_root_helper_gains_root_only_without_no_new_privs() {
    require_root();
    let state = TempDir::new("s6-suid");
    // The runtime itself, added to the default image and made set-uid
    // root: a helper that is no busybox applet (busybox drops set-uid for
    // applets like `id`), whose `caps` prints the effective uid.
    let image = probe_image(BIN, &state);
    let helper = state
        .0
        .join("rootfs")
        .join(&image)
        .join(BIN.trim_start_matches('/'));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let euid = |flags: &[&str]| {
        let mut args = vec!["--rootfs", image.as_str(), "--user", "1000"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", BIN, "caps"]);
        let out = run_in(BIN, &state, &args);
        out.stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix("euid="))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no euid= in {out:?}"))
    };
    assert_eq!(euid(&[]), "1000", "no_new_privs must ignore set-uid");
    assert_eq!(
        euid(&["--allow-new-privs"]),
        "0",
        "without no_new_privs set-uid works"
    );
}

#[test]
fn unknown_capabilities_list_the_valid_names() {
    require_root();
    let state = TempDir::new("s6-bad");
    let out = run_in(BIN, &state, &["--cap-add", "SYS_ADMN", "--", "true"]);
    assert_eq!(out.code, 2, "a usage error: {out:?}");
    assert_one_line(&out.stderr);
    assert!(
        out.stderr.contains("unknown capability \"SYS_ADMN\"") && out.stderr.contains("SYS_ADMIN"),
        "{}",
        out.stderr
    );
    let out = run_in(BIN, &state, &["--user", "alice", "--", "true"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_one_line(&out.stderr);
}

#[test]
fn the_kernel_state_is_read_back() {
    require_root();
    let state = TempDir::new("s6-verify");
    let out = run_in(
        BIN,
        &state,
        &["--explain", "--cap-drop", "NET_RAW", "--", "true"],
    );
    assert!(
        out.stderr.contains("CapBnd=00000000a80405fb") && out.stderr.contains("as planned"),
        "{}",
        out.stderr
    );
}

#[test]
fn caps_prints_what_capsh_prints() {
    require_root();
    let Ok(capsh) = std::process::Command::new("capsh").arg("--print").output() else {
        panic!("capsh is not installed: install libcap2-bin (.ci/run does)");
    };
    let capsh = String::from_utf8_lossy(&capsh.stdout).into_owned();
    let ours = run(BIN, &["caps"]).stdout;
    let line = |text: &str, key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .map(str::to_string)
    };
    assert_eq!(
        line(&ours, "Bounding set ="),
        line(&capsh, "Bounding set ="),
        "ours:\n{ours}\ncapsh:\n{capsh}"
    );
    assert_eq!(line(&ours, "Ambient set ="), line(&capsh, "Ambient set ="));
}

#[test]
fn pid_1_is_closed_to_the_container() {
    require_root();
    let state = TempDir::new("s6-fds");
    let out = check_init_keeps_no_runtime_fds(BIN, &["--state-dir", state.arg()]);
    // The init is non-dumpable and CAP_SYS_PTRACE is gone: root inside may
    // list its fd numbers (the directory is root's) but not follow them.
    assert!(out.stdout.contains("FD0-BLOCKED"), "{out:?}");
}

#[test]
fn the_callers_session_keyring_stays_behind() {
    require_root();
    let state = TempDir::new("s6-keys");
    let out = step06_capabilities::testing::run_with_session_key(
        BIN,
        &["--state-dir", state.arg(), "--cap-add", "SYS_ADMIN"],
    );
    assert_eq!(out.stdout.trim(), "0", "{out:?}");
}

#[test]
fn namespaces_exit_codes_and_sigterm_as_in_steps_1_and_2() {
    require_root();
    step06_capabilities::testing::check_the_basics(BIN, &["uts", "pid", "mnt", "cgroup"]);
}
