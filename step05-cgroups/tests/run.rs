//! step05-cgroups on the real kernel (hybrid here: v1 controllers and a v2
//! hierarchy without them; pure v2 runs in the VM suite).

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use step05_cgroups::cgroup::{Layout, Version};
use step05_cgroups::testing::{
    Output, Running, TempDir, assert_one_line, exit_code, require_root, run, run_in,
};

const BIN: &str = env!("CARGO_BIN_EXE_step05-cgroups");

/// A number from the `stats:` line, after `label`.
fn stat(out: &Output, label: &str) -> f64 {
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("stats: "))
        .unwrap_or_else(|| panic!("no stats in {out:?}"));
    let rest = &line[line
        .find(label)
        .unwrap_or_else(|| panic!("no {label} in {line}"))
        + label.len()..];
    rest.trim_start()
        .split([' ', ','])
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{label} in {line}"))
}

/// Every `isolab-*` directory in every cgroup hierarchy of this machine.
fn isolab_cgroups() -> Vec<PathBuf> {
    let layout = Layout::detect().unwrap();
    let mut roots: Vec<PathBuf> = layout.v1.iter().map(|h| h.mount.clone()).collect();
    roots.extend(layout.v2.iter().cloned());
    roots
        .iter()
        .flat_map(|r| std::fs::read_dir(r).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("isolab-"))
        })
        .collect()
}

fn cgroups_named(name: &str) -> Vec<PathBuf> {
    isolab_cgroups()
        .into_iter()
        .filter(|p| p.ends_with(name))
        .collect()
}

#[test]
fn a_memory_hog_is_oom_killed_under_a_limit_and_fine_without() {
    require_root();
    let state = TempDir::new("s5-oom");
    let hog = "head -c 268435456 /dev/zero | tail > /dev/null";
    let out = run_in(
        BIN,
        &state,
        &["--memory", "32m", "--stats", "--", "sh", "-c", hog],
    );
    assert_eq!(out.code, 137, "{out:?}");
    assert!(
        out.stderr
            .contains("killed by the OOM killer: memory limit 32 MiB"),
        "{out:?}"
    );
    assert!(stat(&out, "oom kills") >= 1.0, "{out:?}");
    let out = run_in(BIN, &state, &["--stats", "--", "sh", "-c", hog]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(stat(&out, "oom kills"), 0.0);
    assert!(
        stat(&out, "memory peak") > 200.0,
        "the hog did not really allocate: {out:?}"
    );
}

#[test]
fn a_fork_bomb_hits_the_pids_limit() {
    require_root();
    let state = TempDir::new("s5-pids");
    let bomb = "i=0; while [ $i -lt 200 ]; do sleep 5 & i=$((i+1)); done; echo survived";
    let out = run_in(
        BIN,
        &state,
        &["--pids-limit", "20", "--stats", "--", "sh", "-c", bomb],
    );
    assert_ne!(out.code, 0, "{out:?}");
    // dash says "Cannot fork", busybox ash "can't fork": both are EAGAIN.
    assert!(
        out.stderr.contains("Cannot fork") || out.stderr.contains("can't fork"),
        "no EAGAIN inside: {out:?}"
    );
    assert!(!out.stdout.contains("survived"));
    assert!(stat(&out, "forks refused") >= 1.0, "{out:?}");
    // Without the limit the same loop runs to the end.
    let out = run_in(
        BIN,
        &state,
        &[
            "--",
            "sh",
            "-c",
            "i=0; while [ $i -lt 40 ]; do sleep 1 & i=$((i+1)); done; echo survived",
        ],
    );
    assert_eq!(out.stdout, "survived\n", "{out:?}");
}

#[test]
fn a_busy_loop_gets_a_fifth_of_a_cpu() {
    require_root();
    let state = TempDir::new("s5-cpu");
    let busy = ["timeout", "2", "sh", "-c", "while :; do :; done"];
    let mut args = vec!["--cpus", "0.2", "--stats", "--"];
    args.extend_from_slice(&busy);
    // The quota is a share of wall time: 0.2 s of CPU per second the
    // container runs. Under the VM suite's emulation a run's 2 s stretch
    // (its `timeout` counts from a later start than ours), so the bound
    // is the share of the time measured here, with room for the clock.
    let start = std::time::Instant::now();
    let out = run_in(BIN, &state, &args);
    let wall = start.elapsed().as_secs_f64();
    let cpu = stat(&out, "cpu");
    assert!(
        cpu >= 0.2 && cpu <= 0.3 * wall,
        "limited cpu {cpu} s in {wall:.2} s: {out:?}"
    );
    assert!(stat(&out, "throttled") > 0.0, "{out:?}");
    let mut args = vec!["--stats", "--"];
    args.extend_from_slice(&busy);
    let out = run_in(BIN, &state, &args);
    let cpu = stat(&out, "cpu");
    assert!(cpu >= 1.2, "unlimited cpu {cpu} s: {out:?}");
}

#[test]
fn inside_the_cgroup_is_root_and_the_limits_are_read_only() {
    require_root();
    let state = TempDir::new("s5-ns");
    // The same files under their v1 and v2 names.
    let (memory, pids) = match Layout::detect().unwrap().version() {
        Version::V2 => ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max"),
        _ => (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/pids/pids.max",
        ),
    };
    let script =
        format!("cat /proc/self/cgroup; cat {memory} {pids}; echo 100 > {pids} || echo refused");
    let out = run_in(
        BIN,
        &state,
        &[
            "--memory",
            "64m",
            "--pids-limit",
            "30",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    let cgroup_lines: Vec<&&str> = lines.iter().filter(|l| l.contains(':')).collect();
    assert!(!cgroup_lines.is_empty());
    assert!(cgroup_lines.iter().all(|l| l.ends_with(":/")), "{out:?}");
    assert!(
        lines.contains(&"67108864") && lines.contains(&"30"),
        "{out:?}"
    );
    assert_eq!(lines.last(), Some(&"refused"), "{out:?}");
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
}

#[test]
fn the_container_is_in_its_v2_cgroup_too_and_nothing_is_left() {
    require_root();
    let state = TempDir::new("s5-v2");
    let mut rt = Running::spawn(
        BIN,
        &[
            "run",
            "--state-dir",
            state.arg(),
            "--inspect",
            "--format",
            "json",
            "--explain",
            "--",
            "sh",
            "-c",
            "echo up; sleep 30",
        ],
    );
    let json = rt.wait_for_json();
    rt.wait_for_line("up");
    let init = json["container"]["pid"].as_i64().unwrap();
    let v2_line = json["container"]["cgroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .find(|l| l.starts_with("0::"))
        .expect("a v2 line");
    let name = v2_line.trim_start_matches("0::/").to_string();
    assert!(name.starts_with("isolab-"), "{v2_line}");
    // From the host: the v2 cgroup lists the container's init.
    let layout = Layout::detect().unwrap();
    let v2_dir = layout.v2.unwrap().join(&name);
    let procs = std::fs::read_to_string(v2_dir.join("cgroup.procs")).unwrap();
    assert!(procs.lines().any(|p| p == init.to_string()), "{procs}");
    rt.signal(Signal::SIGTERM);
    assert_eq!(rt.wait(), 143);
    assert!(
        rt.stderr().contains("cgroup.kill\", \"1\")"),
        "{}",
        rt.stderr()
    );
    assert_eq!(
        cgroups_named(&name),
        Vec::<PathBuf>::new(),
        "cgroups left after exit"
    );
}

#[test]
fn a_sigkilled_runtime_leaves_nothing_after_cleanup() {
    require_root();
    let state = TempDir::new("s5-kill");
    let mut rt = Running::spawn(
        BIN,
        &[
            "run",
            "--state-dir",
            state.arg(),
            "--memory",
            "64m",
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
    let line = json["container"]["cgroups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .find(|l| l.contains("/isolab-"))
        .unwrap()
        .to_string();
    let name = line.rsplit('/').next().unwrap().to_string();
    // One cgroup per hierarchy used: the v2 one and each v1 one.
    let layout = Layout::detect().unwrap();
    let expected = usize::from(layout.v2.is_some()) + layout.v1_used().len();
    assert_eq!(
        cgroups_named(&name).len(),
        expected,
        "{:?}",
        cgroups_named(&name)
    );
    rt.signal(Signal::SIGKILL);
    rt.wait();
    // The container died with its runtime; its cgroups are empty but still
    // there, until a sweep of the same state dir finds the runtime gone.
    let out = run(BIN, &["cleanup", "--state-dir", state.arg()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(cgroups_named(&name), Vec::<PathBuf>::new(), "{out:?}");
}

#[test]
fn bad_limits_are_one_line_errors_and_create_nothing() {
    require_root();
    let state = TempDir::new("s5-bad");
    let before = isolab_cgroups().len();
    for (flag, value, text) in [
        ("--memory", "abc", "not a size"),
        ("--memory", "1k", "too little memory"),
        ("--cpus", "-1", "more than 0"),
        ("--cpus", "0", "more than 0"),
        ("--pids-limit", "0", "would not even let"),
        ("--cpu-shares", "1", "from 2 to 262144"),
        ("--pids-limit", "1", "no room for the command"),
    ] {
        // Usage errors, found before anything is created: exit 2.
        let out = run_in(BIN, &state, &[flag, value, "--", "true"]);
        assert_eq!(out.code, 2, "{flag} {value}: {out:?}");
        assert_one_line(&out.stderr);
        assert!(out.stderr.contains(text), "{flag} {value}: {}", out.stderr);
    }
    assert!(
        !Path::new(&state.0.join("containers")).exists(),
        "a container dir was created"
    );
    assert!(isolab_cgroups().len() <= before, "a cgroup was created");
}

#[test]
fn the_callers_session_keyring_is_still_reachable() {
    require_root();
    let state = TempDir::new("s5-keys");
    // Not isolated yet: the container possesses the caller's session
    // keyring (step 6 joins a fresh one).
    let out = step05_cgroups::testing::run_with_session_key(BIN, &["--state-dir", state.arg()]);
    assert_eq!(out.stdout.trim(), "1", "{out:?}");
}

#[test]
fn a_sweep_spares_cgroups_it_cannot_prove_dead() {
    require_root();
    let layout = Layout::detect().unwrap();
    let top = layout
        .v2
        .clone()
        .or_else(|| layout.v1_used().first().map(|h| h.mount.clone()))
        .expect("a cgroup hierarchy");
    // Another runtime's cgroup (another state dir, or one being filled
    // right now): empty, and old enough for the age rule the sweep once had.
    struct Removed(PathBuf);
    impl Drop for Removed {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let foreign = Removed(top.join(format!("isolab-foreign{}", std::process::id())));
    std::fs::create_dir(&foreign.0).unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    let state = TempDir::new("s5-foreign");
    let out = run_in(BIN, &state, &["--", "true"]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = run(BIN, &["cleanup", "--state-dir", state.arg()]);
    assert!(
        foreign.0.exists(),
        "a cgroup that is not provably dead was removed: {out:?}"
    );
}

#[test]
fn cleanup_into_a_closed_pipe_is_no_panic() {
    require_root();
    let state = TempDir::new("s5-pipe");
    let (code, err) = step05_cgroups::testing::run_into_closed_pipe(
        BIN,
        &["cleanup", "--state-dir", state.arg()],
        false,
    );
    assert_eq!(code, 0, "{err}");
}

/// Start `run --pause --inspect --format json` with stdin a pipe the test
/// holds, and wait until it is paused. Returns the runtime, its stdin, the
/// stderr reader and the container's cgroup name.
fn start_paused(
    state: &TempDir,
) -> (
    std::process::Child,
    std::process::ChildStdin,
    std::thread::JoinHandle<String>,
    String,
) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--state-dir",
            state.arg(),
            "--pause",
            "--inspect",
            "--format",
            "json",
        ])
        .args(["--", "sh", "-c", "echo ran"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut line = String::new();
        while err.read_line(&mut line).unwrap_or(0) > 0 {
            all.push_str(&line);
            if line.contains("/isolab-") {
                let _ = tx.send(line.clone());
            }
            line.clear();
        }
        all
    });
    let cg_line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the inspector's cgroup line");
    let name = cg_line
        .split('/')
        .find(|p| p.starts_with("isolab-"))
        .unwrap()
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    std::thread::sleep(Duration::from_millis(300)); // now waiting for Enter
    (child, stdin, reader, name)
}

#[test]
fn pause_continues_on_a_line_from_a_script() {
    require_root();
    use std::io::Write;
    let state = TempDir::new("s5-pause-line");
    let (mut child, mut stdin, reader, _) = start_paused(&state);
    stdin.write_all(b"\n").unwrap();
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("press Enter"), "{err}");
}

#[test]
fn ctrl_c_while_paused_ends_the_container_and_cleans_up() {
    require_root();
    let state = TempDir::new("s5-pause-int");
    let (mut child, stdin, reader, name) = start_paused(&state);
    assert!(
        !cgroups_named(&name).is_empty(),
        "{name}: the cgroup exists while paused"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    let err = reader.join().unwrap();
    assert_eq!(exit_code(status), 130, "{err}");
    assert!(err.contains("interrupted by SIGINT"), "{err}");
    assert_eq!(cgroups_named(&name), Vec::<PathBuf>::new(), "{err}");
    let containers = state.0.join("containers");
    assert_eq!(
        std::fs::read_dir(&containers)
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "layers left: {err}"
    );
}

#[test]
fn namespaces_exit_codes_and_sigterm_as_in_steps_1_and_2() {
    require_root();
    step05_cgroups::testing::check_the_basics(BIN, &["uts", "pid", "mnt", "cgroup"]);
}
