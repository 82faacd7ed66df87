//! step02-pid-ns on the real kernel: a PID namespace with an init at PID 1.
//! Needs root (cargo's runner, .cargo/as-root, takes care of it).

use std::time::Duration;

use nix::sys::signal::Signal;
use step02_pid_ns::testing::{
    Running, check_exit_codes, check_namespaces, check_sigterm_reaches_the_command,
    processes_in_pid_ns, require_root, run,
};

const BIN: &str = env!("CARGO_BIN_EXE_step02-pid-ns");

#[test]
fn the_command_is_pid_2_under_init_and_pid_1_without() {
    require_root();
    let out = run(BIN, &["run", "--", "sh", "-c", "echo $$"]);
    assert_eq!(out.stdout.trim(), "2", "{out:?}");
    let out = run(BIN, &["run", "--no-init", "--", "sh", "-c", "echo $$"]);
    assert_eq!(out.stdout.trim(), "1", "{out:?}");
}

#[test]
fn uts_and_pid_are_new_nspid_has_two_levels() {
    require_root();
    let (_rt, json) = check_namespaces(BIN, &["uts", "pid"]);
    let init = json["container"]["pid"].as_i64().unwrap() as i32;
    assert_eq!(json["container"]["nspid"], serde_json::json!([init, 1]));
    // From the host's /proc: the init's NSpid line has two entries.
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
    assert_eq!(nspid.split_whitespace().count(), 3, "{nspid}");
    assert!(nspid.trim_end().ends_with("\t1"), "{nspid}");
}

#[test]
fn ps_inside_still_sees_host_processes() {
    require_root();
    // Not isolated yet: /proc is the host's, so the container can read the
    // test process's own entry. Step 3 mounts a /proc of its own.
    let me = std::process::id();
    let out = run(BIN, &["run", "--", "cat", &format!("/proc/{me}/comm")]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.trim().is_empty());
}

/// Start a container whose command leaves an orphan (a `sleep 0.2` whose
/// parent shell exited), then keeps running for `keep` seconds. Returns the
/// running runtime and the container's PID namespace inode.
fn orphan_maker(extra: &[&str], keep: &str) -> (Running, u64) {
    let script = format!("sh -c 'sleep 0.2 &'; echo up; exec sleep {keep}");
    let mut args = vec!["run", "--inspect", "--format", "json"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", &script]);
    let mut rt = Running::spawn(BIN, &args);
    let json = rt.wait_for_json();
    rt.wait_for_line("up");
    let pid_ns = json["container"]["namespaces"]["pid"].as_u64().unwrap();
    (rt, pid_ns)
}

#[test]
fn init_reaps_orphans() {
    require_root();
    let (mut rt, pid_ns) = orphan_maker(&[], "2");
    std::thread::sleep(Duration::from_millis(800));
    let procs = processes_in_pid_ns(pid_ns);
    assert!(!procs.is_empty(), "container processes not found");
    let zombies: Vec<_> = procs.iter().filter(|(_, s)| *s == 'Z').collect();
    assert!(
        zombies.is_empty(),
        "zombies under init: {zombies:?} of {procs:?}"
    );
    assert_eq!(rt.wait(), 0);
    assert!(
        processes_in_pid_ns(pid_ns).is_empty(),
        "processes left after exit"
    );
}

#[test]
fn without_init_the_orphan_stays_a_zombie() {
    require_root();
    // The control for init_reaps_orphans: `sleep` as PID 1 never waits.
    let (mut rt, pid_ns) = orphan_maker(&["--no-init"], "30");
    std::thread::sleep(Duration::from_millis(800));
    let zombies: Vec<_> = processes_in_pid_ns(pid_ns)
        .into_iter()
        .filter(|(_, s)| *s == 'Z')
        .collect();
    assert_eq!(zombies.len(), 1, "expected the orphan as a zombie");
    rt.signal(Signal::SIGKILL);
    rt.wait();
}

#[test]
fn sigterm_to_the_runtime_reaches_the_command_through_init() {
    require_root();
    check_sigterm_reaches_the_command(BIN);
}

#[test]
fn exit_codes_propagate_through_init() {
    require_root();
    check_exit_codes(
        BIN,
        &[
            (&["true"], 0),
            (&["sh", "-c", "exit 3"], 3),
            (&["/no/such/command"], 127),
            (&["sh", "-c", "kill -KILL $$"], 137),
        ],
    );
}

#[test]
fn killing_the_runtime_empties_the_namespace() {
    require_root();
    let (mut rt, pid_ns) = orphan_maker(&[], "30");
    rt.signal(Signal::SIGKILL);
    rt.wait();
    for _ in 0..200 {
        if processes_in_pid_ns(pid_ns).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "processes outlived the runtime: {:?}",
        processes_in_pid_ns(pid_ns)
    );
}

#[test]
fn narration_can_go_to_a_json_log_and_the_init_keeps_it() {
    require_root();
    let dir = step02_pid_ns::testing::TempDir::new("s2-log");
    let log = dir.0.join("narration.jsonl");
    let out = run(
        BIN,
        &[
            "run",
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "--",
            "true",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stderr, "", "nothing narrated on stderr");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let said = |role: &str, text: &str| {
        lines
            .iter()
            .any(|l| l["role"] == role && l["msg"].as_str().unwrap_or("").contains(text))
    };
    assert!(said("runtime", "clone("), "{lines:?}");
    // The init closed the runtime's fds, but not the log's.
    assert!(said("init", "sethostname"), "{lines:?}");
    assert!(said("command", "execve("), "{lines:?}");
}
