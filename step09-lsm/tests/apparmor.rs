//! step09-lsm under AppArmor: the command runs in isolab-default, which
//! denies by path what steps 1–8 let root in the container reach. These
//! tests need AppArmor active (Ubuntu, Debian; the CI's VM guest boots
//! with it); elsewhere they say so and pass, unless
//! ISOLAB_REQUIRE_APPARMOR is set (the VM suite sets it).

use step09_lsm::apparmor::{self, DEFAULT};
use step09_lsm::testing::{Running, TempDir, require_root, run, run_in};

const BIN: &str = env!("CARGO_BIN_EXE_step09-lsm");

/// Whether to run: AppArmor active here, or a failure when demanded.
fn apparmor_here() -> bool {
    require_root();
    if apparmor::active() {
        return true;
    }
    assert!(
        std::env::var_os("ISOLAB_REQUIRE_APPARMOR").is_none(),
        "ISOLAB_REQUIRE_APPARMOR is set but AppArmor is not active"
    );
    eprintln!("NOTE: AppArmor is not active on this host: not tested here");
    false
}

/// What the attacks below need to reach AppArmor at all: root with
/// CAP_SYS_ADMIN, no seccomp filter or Landlock ruleset in the way, and
/// container root mapped to host root (as in docker without userns-remap),
/// so that file permissions let it open what the profile denies.
const LAID_BARE: [&str; 10] = [
    "--cap-add",
    "SYS_ADMIN",
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "landlock=unconfined",
    "--uid-map",
    "0:0:65536",
    "--gid-map",
    "0:0:65536",
];

/// Each attack prints its name when it works. The umounts and the remount
/// take away the read-only binds of steps 3 and 7, which would answer
/// before AppArmor does (the profile allows umount, as docker's does; it
/// denies the remount); opening for write with `true >>` writes
/// nothing, even where the open succeeds.
const ATTACKS: &str = "umount /proc/sysrq-trigger /proc/sys 2>/dev/null; \
    mount -o remount,bind,rw /sys 2>/dev/null && echo REMOUNT; \
    mkdir -p /tmp/m; mount -t tmpfs t /tmp/m 2>/dev/null && echo MOUNT; \
    (true >> /proc/sysrq-trigger) 2>/dev/null && echo SYSRQ; \
    (true >> /proc/sys/vm/swappiness) 2>/dev/null && echo PROC_SYS_VM; \
    cat /proc/kcore >/dev/null 2>&1 && echo KCORE; \
    cat /sys/kernel/security/lsm >/dev/null 2>&1 && echo SECURITYFS; \
    (true >> /sys/kernel/mm/transparent_hugepage/enabled) 2>/dev/null && echo SYS_WRITE; \
    echo x > /tmp/x && echo TMP; \
    echo renamed > /proc/self/comm && echo OWN_PROC; \
    cat /proc/self/attr/current";

/// The kernel log, a line each (audit records go there when no audit
/// daemon runs).
fn kernel_log() -> Vec<String> {
    let out = std::process::Command::new("dmesg").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn attacks(state: &TempDir, profile: &str) -> step09_lsm::testing::Output {
    let mut args = LAID_BARE.to_vec();
    let opt = format!("apparmor={profile}");
    args.extend_from_slice(&["--security-opt", &opt, "--", "sh", "-c", ATTACKS]);
    run_in(BIN, state, &args)
}

#[test]
fn isolab_default_denies_what_root_with_sys_admin_could_reach() {
    if !apparmor_here() {
        return;
    }
    let state = TempDir::new("s9-aa");
    let seen = kernel_log().len();
    let out = attacks(&state, DEFAULT);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout,
        format!("TMP\nOWN_PROC\n{DEFAULT} (enforce)\n"),
        "only /tmp and the process's own /proc/PID: {out:?}"
    );
    assert_eq!(apparmor::loaded(DEFAULT).as_deref(), Some("enforce"));
    // Each refusal is audited: the kernel log names the rule's path.
    let log = kernel_log().split_off(seen).join("\n");
    for name in [
        "/proc/sysrq-trigger",
        "/proc/kcore",
        "/sys/kernel/security/lsm",
    ] {
        assert!(
            log.contains(&format!("profile=\"{DEFAULT}\" name=\"{name}\"")),
            "no apparmor=\"DENIED\" line for {name}:\n{log}"
        );
    }
    // The same container without the profile: each denial above was
    // AppArmor's, not the file permissions' or a mount's.
    let out = attacks(&state, "unconfined");
    for reached in [
        "REMOUNT",
        "SYS_WRITE",
        "MOUNT",
        "SYSRQ",
        "PROC_SYS_VM",
        "KCORE",
        "SECURITYFS",
        "TMP",
        "OWN_PROC",
        "unconfined",
    ] {
        assert!(out.stdout.contains(reached), "{reached}: {out:?}");
    }
}

#[test]
fn the_profile_is_loaded_when_missing_and_the_inspector_shows_it() {
    if !apparmor_here() {
        return;
    }
    let state = TempDir::new("s9-aa-load");
    // Unload it (a reboot does the same): the next run loads it again.
    let file = state.0.join("isolab-default");
    std::fs::write(&file, apparmor::PROFILE).unwrap();
    let removed = std::process::Command::new("apparmor_parser")
        .arg("-R")
        .arg(&file)
        .stderr(std::process::Stdio::null()) // a host with no parser.conf warns
        .status()
        .unwrap();
    assert!(removed.success());
    assert_eq!(apparmor::loaded(DEFAULT), None);

    let mut ctr = Running::spawn(
        BIN,
        &[
            "run",
            "--state-dir",
            state.arg(),
            "--",
            "sh",
            "-c",
            "echo ready; sleep 30",
        ],
    );
    ctr.wait_for_line("ready");
    assert_eq!(apparmor::loaded(DEFAULT).as_deref(), Some("enforce"));
    // The runtime's child is the init (unconfined: the runtime's code), its
    // child the command, confined since its execve.
    let child_of = |pid: i32| -> i32 {
        let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
        text.split_whitespace().next().unwrap().parse().unwrap()
    };
    let init = child_of(ctr.pid());
    let command = child_of(init);
    let me = std::process::id().to_string();
    let out = run(
        BIN,
        &[
            "inspect",
            &command.to_string(),
            "--vs",
            &me,
            "--format",
            "json",
        ],
    );
    let json = step09_lsm::testing::first_json(&out.stdout);
    assert_eq!(
        json["container"]["lsm_label"],
        format!("{DEFAULT} (enforce)"),
        "{json}"
    );
    assert_eq!(json["container"]["comm"], "sleep");
    let init_label = std::fs::read_to_string(format!("/proc/{init}/attr/current")).unwrap();
    assert_eq!(init_label.trim_end(), "unconfined");
}

#[test]
fn a_profile_that_is_not_loaded_is_one_line() {
    if !apparmor_here() {
        return;
    }
    let state = TempDir::new("s9-aa-bad");
    let out = run_in(
        BIN,
        &state,
        &["--security-opt", "apparmor=isolab-no-such", "--", "true"],
    );
    assert_eq!(out.code, 125, "{out:?}");
    step09_lsm::testing::assert_one_line(&out.stderr);
    assert!(out.stderr.contains("apparmor_parser -r"), "{out:?}");
}
