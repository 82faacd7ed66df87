//! step01-clone on the real kernel: a new UTS namespace and nothing else.
//! Needs root (cargo's runner, .cargo/as-root, takes care of it).

use nix::sys::signal::Signal;
use step01_clone::testing::{
    Running, TempDir, assert_one_line, check_exit_codes, check_namespaces,
    check_sigterm_reaches_the_command, host_hostname, require_root, run, run_into_closed_pipe,
};

const BIN: &str = env!("CARGO_BIN_EXE_step01-clone");

#[test]
fn hostname_inside_is_set_and_host_keeps_its_own() {
    require_root();
    let before = host_hostname();
    let out = run(BIN, &["run", "--hostname", "isolab-test", "--", "hostname"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.trim(), "isolab-test");
    assert_ne!(before, "isolab-test");
    assert_eq!(host_hostname(), before, "the host's hostname changed");
}

#[test]
fn default_hostname_is_step01() {
    require_root();
    let out = run(BIN, &["run", "--", "cat", "/proc/sys/kernel/hostname"]);
    assert_eq!(out.stdout.trim(), "step01", "{out:?}");
}

#[test]
fn only_uts_is_new_and_host_proc_agrees() {
    require_root();
    let (_rt, json) = check_namespaces(BIN, &["uts"]);
    assert_eq!(json["differs"], serde_json::json!(["ns.uts"]));
}

#[test]
fn exit_codes_propagate() {
    require_root();
    check_exit_codes(
        BIN,
        &[
            (&["true"], 0),
            (&["sh", "-c", "exit 3"], 3),
            (&["/no/such/command"], 127),
            (&["/etc"], 126),
            (&["sh", "-c", "kill -KILL $$"], 137),
        ],
    );
}

#[test]
fn exec_failures_say_why_in_one_line() {
    require_root();
    let out = run(BIN, &["run", "--", "/no/such/command"]);
    assert_one_line(&out.stderr);
    assert!(out.stderr.contains("command not found"), "{}", out.stderr);
    let out = run(BIN, &["run", "--", "/etc"]);
    assert_one_line(&out.stderr);
    assert!(out.stderr.contains("not executable"), "{}", out.stderr);
}

#[test]
fn sigterm_to_the_runtime_reaches_the_command() {
    require_root();
    check_sigterm_reaches_the_command(BIN);
}

#[test]
fn killing_the_runtime_kills_the_container() {
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
    let pid = rt.wait_for_json()["container"]["pid"].as_i64().unwrap() as i32;
    rt.wait_for_line("up");
    rt.signal(Signal::SIGKILL);
    rt.wait();
    // PR_SET_PDEATHSIG: the container gets SIGKILL when the runtime dies.
    for _ in 0..200 {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("container process {pid} outlived its runtime");
}

#[test]
fn bad_input_is_one_line_with_the_documented_code() {
    require_root();
    let cases: [(&[&str], i32, &str); 4] = [
        (&["run", "--bogus", "--", "true"], 2, "unexpected argument"),
        (&["run"], 2, "<CMD>"),
        (
            &["run", "--hostname", "no spaces", "--", "true"],
            2,
            "not a valid hostname",
        ),
        (&["inspect", "2147483647"], 1, "no such process"),
    ];
    for (args, code, text) in cases {
        let out = run(BIN, args);
        assert_eq!(out.code, code, "{args:?}: {out:?}");
        assert_one_line(&out.stderr);
        assert!(out.stderr.contains(text), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[test]
fn without_root_it_names_the_capability_and_sudo() {
    require_root();
    use std::os::unix::process::CommandExt;
    let out = std::process::Command::new(BIN)
        .args(["run", "--", "true"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert_one_line(&stderr);
    assert!(
        stderr.contains("EPERM") && stderr.contains("CAP_SYS_ADMIN") && stderr.contains("sudo"),
        "{stderr}"
    );
}

#[test]
fn explain_narrates_the_syscalls_on_stderr_only() {
    require_root();
    let out = run(
        BIN,
        &[
            "run",
            "--explain",
            "--hostname",
            "narrated",
            "--",
            "echo",
            "clean",
        ],
    );
    assert_eq!(
        out.stdout, "clean\n",
        "the command's stdout must stay clean"
    );
    for want in [
        "clone(CLONE_NEWUTS|SIGCHLD) = ",
        "sethostname(\"narrated\") = 0",
        "/echo\", [\"echo\", \"clean\"])",
        "sync 3",
    ] {
        assert!(
            out.stderr.contains(want),
            "missing {want:?} in:\n{}",
            out.stderr
        );
    }
}

#[test]
fn inspect_subcommand_compares_two_processes() {
    require_root();
    let me = std::process::id().to_string();
    let out = run(BIN, &["inspect", &me, "--vs", &me, "--format", "json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["differs"], serde_json::json!([]));
    let table = run(BIN, &["inspect", &me]);
    assert!(table.stdout.contains("CapEff"), "{}", table.stdout);
    assert!(
        !table.stdout.contains('\x1b'),
        "NO_COLOR and a pipe mean plain text"
    );
}

#[test]
fn a_closed_pipe_is_no_panic() {
    require_root();
    // `inspect 1 | head -0`: the rest of the output is not wanted.
    let (code, err) = run_into_closed_pipe(BIN, &["inspect", "1"], false);
    assert_eq!(code, 0, "{err}");
    // `run --explain ... 2>&1 | head -1`: narration can't be written, the
    // command still runs and its status comes back.
    let dir = TempDir::new("s1-pipe");
    let marker = dir.0.join("ran");
    let script = format!("echo ran > {}; exit 3", marker.display());
    let (code, out) =
        run_into_closed_pipe(BIN, &["run", "--explain", "--", "sh", "-c", &script], true);
    assert_eq!(code, 3, "{out}");
    assert!(marker.exists(), "the command never ran");
}

#[test]
fn exec_failures_say_what_is_wrong() {
    require_root();
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("s1-exec");
    let exe = |name: &str, bytes: &[u8]| {
        let p = dir.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p.display().to_string()
    };
    // A program for another architecture (an ELF header of an aarch64
    // binary would do; any bytes the kernel can't load are the same case):
    // no "not found" from a shell that tried to run it as a script.
    let foreign = exe("foreign", b"\x7fELF\x02\x01\x01\0garbage-not-a-program");
    let out = run(BIN, &["run", "--", &foreign]);
    assert_eq!(out.code, 126, "{out:?}");
    assert!(out.stderr.contains("exec format error"), "{out:?}");
    assert_one_line(&out.stderr);
    let script = exe("script", b"#!/no/such/interpreter\necho hi\n");
    let out = run(BIN, &["run", "--", &script]);
    assert_eq!(out.code, 127, "{out:?}");
    assert!(out.stderr.contains("/no/such/interpreter"), "{out:?}");
    assert_one_line(&out.stderr);
}

#[test]
fn inspect_to_a_file_keeps_the_commands_stderr_out() {
    require_root();
    let dir = TempDir::new("s1-inspect-to");
    let file = dir.0.join("inspect.json");
    let out = run(
        BIN,
        &[
            "run",
            "--inspect-to",
            file.to_str().unwrap(),
            "--format",
            "json",
            "--",
            "sh",
            "-c",
            "echo '{not json' >&2",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stderr, "{not json\n", "only the command's stderr");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(json["namespaces"]["uts"], "new");
}
