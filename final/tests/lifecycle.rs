//! `isolab` driven as an engine drives runc: create, state, start, kill,
//! state, delete, and `run`, checked from inside the container (files it
//! writes to a bound directory) and from the host's /proc.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use step01_clone::testing::{TempDir, assert_one_line, require_root};

mod common;
use common::*;

#[test]
fn create_start_kill_delete_as_an_engine_does() {
    require_root();
    be_subreaper();
    let dir = TempDir::new("oci-life");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let b = bundle(
        &dir,
        "hostname > /out/hostname; grep -E '^(Cap|NoNewPrivs)' /proc/self/status > /out/status; \
         grep 'open files' /proc/self/limits > /out/limits; cat /sys/class/net/lo/flags > /out/lo; \
         (touch /planted 2>/dev/null && echo yes || echo no) > /out/rootfs-writable; echo done > /out/done; sleep 60",
        |_| {},
    );
    let pid_file = dir.0.join("pid");
    let id = "life1";
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            id,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let s = state(&dir, root, id);
    assert_eq!(s["status"], "created", "{s}");
    assert_eq!(s["ociVersion"], isolab::oci_state::OCI_VERSION);
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(
        s["pid"], pid,
        "the PID file names the process state reports"
    );
    // Created, not started: nothing of the command has run.
    assert!(!dir.0.join("out/done").exists());
    // Its namespaces, from the host's /proc: all new but user and time.
    for ns in ["pid", "mnt", "uts", "ipc", "net", "cgroup"] {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        let ours = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        assert_ne!(theirs, ours, "{ns}");
    }

    let (code, _, err) = isolab(&dir, &["--root", root, "start", id]);
    assert_eq!(code, 0, "{err}");
    wait_for(&dir.0.join("out/done"));
    assert_eq!(state(&dir, root, id)["status"], "running");
    let read = |name: &str| std::fs::read_to_string(dir.0.join("out").join(name)).unwrap();
    assert_eq!(read("hostname"), "isolab\n");
    // The three capabilities of runc's default, in every set config.json
    // names; no inheritable or ambient ones.
    let status = read("status");
    for (key, mask) in [
        ("CapInh", "0000000000000000"),
        ("CapPrm", "0000000020000420"),
        ("CapEff", "0000000020000420"),
        ("CapBnd", "0000000020000420"),
        ("CapAmb", "0000000000000000"),
        ("NoNewPrivs", "1"),
    ] {
        assert!(
            status.contains(&format!("{key}:\t{mask}")),
            "{key} {mask}:\n{status}"
        );
    }
    assert!(
        read("limits")
            .split_whitespace()
            .filter(|w| *w == "1024")
            .count()
            == 2,
        "{}",
        read("limits")
    );
    assert_eq!(
        read("lo").trim(),
        "0x9",
        "loopback up in the new network namespace"
    );
    assert_eq!(read("rootfs-writable"), "no\n", "root.readonly");

    let (code, _, err) = isolab(&dir, &["--root", root, "kill", id, "KILL"]);
    assert_eq!(code, 0, "{err}");
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None); // as a shim reaps
    assert_eq!(state(&dir, root, id)["status"], "stopped");
    let (code, _, err) = isolab(&dir, &["--root", root, "kill", id]);
    assert_eq!((code, err.trim()), (1, "isolab: container not running"));

    let (code, _, err) = isolab(&dir, &["--root", root, "delete", id]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = isolab(&dir, &["--root", root, "state", id]);
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!Path::new(root).join(id).exists());
    assert!(!cgroup_exists(id), "delete removed the cgroup");
}

#[test]
fn run_waits_and_exits_with_the_status_and_leaves_nothing() {
    require_root();
    let dir = TempDir::new("oci-run");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let b = bundle(&dir, "echo $$ > /out/pid; exit 3", |_| {});
    let (code, _, err) = isolab(
        &dir,
        &["--root", root, "run", "--bundle", b.to_str().unwrap(), "r1"],
    );
    assert_eq!(code, 3, "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.0.join("out/pid")).unwrap(),
        "1\n",
        "PID 1 of its namespace"
    );
    assert!(!Path::new(root).join("r1").exists());
    assert!(!cgroup_exists("r1"));
}

#[test]
fn a_running_container_is_deleted_only_with_force() {
    require_root();
    be_subreaper();
    let dir = TempDir::new("oci-force");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let b = bundle(&dir, "echo up > /out/up; sleep 60", |_| {});
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "run",
            "--detach",
            "--bundle",
            b.to_str().unwrap(),
            "f1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    wait_for(&dir.0.join("out/up"));
    let pid = state(&dir, root, "f1")["pid"].as_i64().unwrap() as i32;
    let (code, _, err) = isolab(&dir, &["--root", root, "delete", "f1"]);
    assert_eq!(code, 1);
    assert_one_line(&err);
    assert!(
        err.contains("not stopped") && err.contains("--force"),
        "{err}"
    );
    let (code, _, err) = isolab(&dir, &["--root", root, "delete", "--force", "f1"]);
    assert_eq!(code, 0, "{err}");
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    assert!(!Path::new(&format!("/proc/{pid}/ns")).exists() || !isolab::oci_state::alive(pid, 0));
    assert!(!Path::new(root).join("f1").exists());
    assert!(!cgroup_exists("f1"));
}

#[test]
fn bad_bundles_and_ids_are_one_line() {
    require_root();
    let dir = TempDir::new("oci-bad");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let good = bundle(&dir, "true", |_| {});
    let good = good.to_str().unwrap();
    let make = |name: &str, text: &str| {
        let b = dir.0.join(name);
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("config.json"), text).unwrap();
        b.to_str().unwrap().to_string()
    };
    let spec = std::fs::read_to_string(Path::new(good).join("config.json")).unwrap();
    let mut unsupported: Value = serde_json::from_str(&spec).unwrap();
    unsupported["linux"]["intelRdt"] = json!({"closID": "x"});
    let mut no_root: Value = serde_json::from_str(&spec).unwrap();
    no_root["root"]["path"] = json!("/no/such/rootfs");
    let (b_json, b_unsupported, b_root) = (
        make("b-json", "{not json"),
        make("b-unsupported", &unsupported.to_string()),
        make("b-root", &no_root.to_string()),
    );
    let cases = [
        (
            vec!["create", "--bundle", "/no/such/bundle", "x1"],
            1,
            "/no/such/bundle".to_string(),
        ),
        (
            vec!["create", "--bundle", &b_json, "x2"],
            1,
            "not JSON".into(),
        ),
        (
            vec!["create", "--bundle", &b_unsupported, "x3"],
            1,
            "linux.intelRdt: not supported".into(),
        ),
        (
            vec!["create", "--bundle", &b_root, "x4"],
            1,
            "root.path".into(),
        ),
        (
            vec!["state", "nosuch"],
            1,
            "container nosuch does not exist".into(),
        ),
        (vec!["kill", "nosuch"], 1, "does not exist".into()),
        (vec!["delete", "nosuch"], 1, "does not exist".into()),
        (
            vec!["kill", "nosuch", "SIGNOPE"],
            2,
            "no such signal".into(),
        ),
        (vec!["state", "../etc"], 2, "invalid container ID".into()),
    ];
    for (args, want, text) in cases {
        let mut full = vec!["--root", root];
        full.extend(args.iter().copied());
        let (code, _, err) = isolab(&dir, &full);
        assert_eq!(code, want, "{args:?}: {err}");
        assert_one_line(&err);
        assert!(err.contains(&text), "{args:?}: {err}");
    }
    // Nothing of the failed creates is left.
    assert_eq!(std::fs::read_dir(root).map(|d| d.count()).unwrap_or(0), 0);
    // A shim's cleanup deletes with --force what is already gone: that is
    // success, silently, as with runc (containerd logs a warning otherwise).
    let (code, _, err) = isolab(&dir, &["--root", root, "delete", "--force", "nosuch"]);
    assert_eq!((code, err.as_str()), (0, ""));
    // A duplicate ID.
    be_subreaper();
    let (code, _, err) = isolab(&dir, &["--root", root, "create", "--bundle", good, "dup"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = isolab(&dir, &["--root", root, "create", "--bundle", good, "dup"]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = isolab(&dir, &["--root", root, "delete", "dup"]);
    assert_eq!(code, 0, "a created container may be deleted: {err}");
    assert!(!cgroup_exists("dup"));
}

#[test]
fn spec_writes_a_config_this_runtime_accepts() {
    let dir = TempDir::new("oci-spec");
    let (code, _, err) = isolab(&dir, &["spec", "--bundle", dir.arg()]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(dir.0.join("config.json")).unwrap();
    let spec: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(spec["process"]["args"], json!(["sh"]));
    assert!(isolab::bundle::unsupported(&spec).is_empty());
    let (code, _, err) = isolab(&dir, &["spec", "--bundle", dir.arg()]);
    assert_eq!(code, 1);
    assert!(err.contains("exists"), "{err}");
    // `features` says what the runtime applies, as JSON.
    let (code, out, err) = isolab(&dir, &["features"]);
    assert_eq!(code, 0, "{err}");
    let features: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(features["ociVersionMax"], isolab::oci_state::OCI_VERSION);
    assert_eq!(features["linux"]["seccomp"]["enabled"], true);
    // spec's own --rootless, beside the global --rootless VALUE
    let rootless = dir.0.join("rootless");
    std::fs::create_dir_all(&rootless).unwrap();
    let (code, _, err) = isolab(
        &dir,
        &["spec", "--rootless", "--bundle", rootless.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(rootless.join("config.json")).unwrap();
    assert!(text.contains("\"user\""), "{text}");
    let (code, _, err) = isolab(&dir, &["--rootless", "maybe", "list"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn config_seccomp_oom_score_and_labels() {
    require_root();
    let dir = TempDir::new("oci-sec");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let script = "grep '^Seccomp:' /proc/self/status > /out/seccomp; cat /proc/self/oom_score_adj > /out/oom; \
                  cat /proc/self/attr/current > /out/label 2>/dev/null; \
                  mkdir /dev/shm/x 2>/out/err; echo $? > /out/rc";
    let filter = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
    });
    let read = |name: &str| std::fs::read_to_string(dir.0.join("out").join(name)).unwrap();
    for with_filter in [true, false] {
        let b = bundle(&dir, script, |spec| {
            spec["process"]["oomScoreAdj"] = json!(500);
            if with_filter {
                spec["linux"]["seccomp"] = filter.clone();
            }
        });
        let (code, _, err) = isolab(
            &dir,
            &[
                "--root",
                root,
                "run",
                "--bundle",
                b.to_str().unwrap(),
                "sec",
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(read("oom"), "500\n");
        if with_filter {
            assert_eq!(read("seccomp"), "Seccomp:\t2\n");
            assert_eq!(read("rc"), "1\n", "{}", read("err"));
            assert!(
                read("err").contains("Operation not permitted"),
                "{}",
                read("err")
            );
        } else {
            assert_eq!(read("seccomp"), "Seccomp:\t0\n");
            assert_eq!(read("rc"), "0\n", "the same mkdir works without it");
        }
    }
    // An AppArmor profile: applied where AppArmor is active, else an error.
    let b = bundle(&dir, script, |spec| {
        spec["process"]["apparmorProfile"] = json!("isolab-default");
    });
    let (code, _, err) = isolab(
        &dir,
        &["--root", root, "run", "--bundle", b.to_str().unwrap(), "aa"],
    );
    if isolab::apparmor::active() {
        assert_eq!(code, 0, "{err}");
        assert_eq!(read("label"), "isolab-default (enforce)\n");
    } else {
        assert_eq!(code, 1);
        assert_one_line(&err);
        assert!(err.contains("AppArmor is not active"), "{err}");
    }
    if !isolab::selinux::enabled() {
        let b = bundle(&dir, "true", |spec| {
            spec["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
        });
        let (code, _, err) = isolab(
            &dir,
            &[
                "--root",
                root,
                "create",
                "--bundle",
                b.to_str().unwrap(),
                "se",
            ],
        );
        assert_eq!(code, 1);
        assert!(err.contains("SELinux is not enabled"), "{err}");
    }
    assert_eq!(std::fs::read_dir(root).map(|d| d.count()).unwrap_or(0), 0);
}

#[test]
fn pause_freezes_every_process_and_resume_thaws_them() {
    require_root();
    be_subreaper();
    let dir = TempDir::new("oci-pause");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    // A child of the command ticks too: the freezer stops the whole cgroup.
    let b = bundle(
        &dir,
        "(while :; do echo x >> /out/ticks; sleep 0.02; done) & echo up > /out/up; wait",
        |_| {},
    );
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "run",
            "--detach",
            "--bundle",
            b.to_str().unwrap(),
            "p1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    wait_for(&dir.0.join("out/up"));
    let pid = state(&dir, root, "p1")["pid"].as_i64().unwrap();
    let (code, out, err) = isolab(&dir, &["--root", root, "ps", "--format", "json", "p1"]);
    assert_eq!(code, 0, "{err}");
    let pids: Vec<i64> = serde_json::from_str(&out).unwrap();
    // sh and its ticking subshell (and, now and then, a sleep)
    assert!(pids.contains(&pid) && pids.len() >= 2, "{pids:?}");
    let ticks = || {
        std::fs::read_to_string(dir.0.join("out/ticks"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let (code, _, err) = isolab(&dir, &["--root", root, "pause", "p1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(state(&dir, root, "p1")["status"], "paused");
    let frozen_at = ticks();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(ticks(), frozen_at, "nothing ran while paused");
    let (code, _, err) = isolab(&dir, &["--root", root, "pause", "p1"]);
    assert_eq!(code, 1, "a paused container can't be paused: {err}");
    let (code, _, err) = isolab(&dir, &["--root", root, "resume", "p1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(state(&dir, root, "p1")["status"], "running");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(ticks() > frozen_at, "it runs again");
    let (code, _, err) = isolab(&dir, &["--root", root, "delete", "--force", "p1"]);
    assert_eq!(code, 0, "{err}");
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
    assert!(!cgroup_exists("p1"));
}

#[test]
fn hooks_run_where_and_when_the_spec_says() {
    require_root();
    be_subreaper();
    let dir = TempDir::new("oci-hooks");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let out = dir.0.join("out");
    let o = out.display().to_string();
    let sh = |script: String| json!({"path": "/bin/sh", "args": ["sh", "-c", script]});
    let b = bundle(&dir, "echo ran > /out/ran; sleep 60", |spec| {
        spec["hooks"] = json!({
            "createRuntime": [sh(format!("cat > {o}/createRuntime.json; readlink /proc/self/ns/mnt > {o}/cr-mnt"))],
            "createContainer": [sh(format!("readlink /proc/self/ns/mnt > {o}/cc-mnt"))],
            // after pivot_root: a path of the container, /out is its bind
            "startContainer": [sh("test -e /out/ran || echo before-the-command > /out/start-hook".into())],
            "poststart": [sh(format!("cat > {o}/poststart.json"))],
            "poststop": [sh(format!("cat > {o}/poststop.json"))]
        });
    });
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "h1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let pid = state(&dir, root, "h1")["pid"].as_i64().unwrap();
    let json = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(out.join(name)).unwrap()).unwrap()
    };
    let cr = json("createRuntime.json");
    assert_eq!(
        (cr["id"].as_str(), cr["status"].as_str(), cr["pid"].as_i64()),
        (Some("h1"), Some("creating"), Some(pid))
    );
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    assert_eq!(
        read("cr-mnt").trim(),
        host_mnt.to_str().unwrap(),
        "createRuntime: the runtime's namespace"
    );
    assert_ne!(
        read("cc-mnt").trim(),
        host_mnt.to_str().unwrap(),
        "createContainer: the container's"
    );
    assert!(
        !out.join("start-hook").exists(),
        "startContainer waits for start"
    );
    let (code, _, err) = isolab(&dir, &["--root", root, "start", "h1"]);
    assert_eq!(code, 0, "{err}");
    wait_for(&out.join("ran"));
    assert_eq!(read("start-hook"), "before-the-command\n");
    assert_eq!(json("poststart.json")["status"], "running");
    let (code, _, err) = isolab(&dir, &["--root", root, "delete", "--force", "h1"]);
    assert_eq!(code, 0, "{err}");
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
    assert_eq!(json("poststop.json")["status"], "stopped");

    // A failing createRuntime hook fails create, and nothing is left.
    let b = bundle(&dir, "true", |spec| {
        spec["hooks"] = json!({"createRuntime": [sh("exit 7".into())]});
    });
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "h2",
        ],
    );
    assert_eq!(code, 1);
    assert_one_line(&err);
    assert!(
        err.contains("createRuntime hook /bin/sh: exited with exit status: 7"),
        "{err}"
    );
    assert!(!Path::new(root).join("h2").exists());
    assert!(!cgroup_exists("h2"));
}

#[test]
fn exec_joins_the_running_container() {
    require_root();
    be_subreaper();
    let dir = TempDir::new("oci-exec");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let b = bundle(&dir, "echo up > /out/up; sleep 60", |_| {});
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "run",
            "--detach",
            "--bundle",
            b.to_str().unwrap(),
            "e1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    wait_for(&dir.0.join("out/up"));
    let init = state(&dir, root, "e1")["pid"].as_i64().unwrap() as i32;
    // In the container's namespaces and with its privileges: PID 2 of its
    // PID namespace, its hostname, its capabilities; and its exit status.
    let (code, out, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "exec",
            "e1",
            "sh",
            "-c",
            "echo $$; hostname; grep CapEff /proc/self/status; readlink /proc/self/ns/mnt; exit 5",
        ],
    );
    assert_eq!(code, 5, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "1", "not the container's init: {out}");
    assert!(
        lines[0].parse::<u32>().unwrap() < 100,
        "a PID of the container's namespace: {out}"
    );
    assert_eq!(lines[1], "isolab");
    assert_eq!(lines[2], "CapEff:\t0000000020000420");
    let theirs = std::fs::read_link(format!("/proc/{init}/ns/mnt")).unwrap();
    assert_eq!(lines[3], theirs.to_str().unwrap());
    // --env and --user on top of the container's process.
    let (code, out, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "exec",
            "--env",
            "X=1",
            "--user",
            "1000",
            "e1",
            "sh",
            "-c",
            "echo $X $(id -u)",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "1 1000\n"), "{err}");
    // Detached, with a PID file: a process of the container's cgroup.
    let pid_file = dir.0.join("exec.pid");
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "e1",
            "sleep",
            "30",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let pid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let (_, out, _) = isolab(&dir, &["--root", root, "ps", "--format", "json", "e1"]);
    let pids: Vec<i64> = serde_json::from_str(&out).unwrap();
    assert!(pids.contains(&pid), "{pid} in {pids:?}");
    // A command the image lacks: 127, in one line.
    let (code, _, err) = isolab(&dir, &["--root", root, "exec", "e1", "no-such-command"]);
    assert_eq!(code, 127);
    assert_one_line(&err);
    let (code, _, err) = isolab(&dir, &["--root", root, "delete", "--force", "e1"]);
    assert_eq!(code, 0, "{err}");
    // The detached process died with the cgroup; reap both, as a shim
    // does, the exec'd one first: a dying PID 1 waits until every process
    // of its namespace is reaped, this one included.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(init), None);
    let (code, _, err) = isolab(&dir, &["--root", root, "exec", "e1", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!cgroup_exists("e1"));
}

#[test]
fn namespaces_named_by_path_are_joined() {
    require_root();
    // A holder of its own network, UTS and PID namespaces, as a pod's
    // pause container is: `unshare --fork` makes sleep PID 1 of the new one.
    let mut holder = Command::new("unshare")
        .args(["--net", "--uts", "--pid", "--fork", "sleep", "30"])
        .spawn()
        .expect("unshare (util-linux)");
    let sleeper = (0..200)
        .find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            let text =
                std::fs::read_to_string(format!("/proc/{}/task/{0}/children", holder.id())).ok()?;
            text.split_whitespace().next()?.parse::<i32>().ok()
        })
        .expect("unshare's child");
    let dir = TempDir::new("oci-join");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let ns = |kind: &str| format!("/proc/{sleeper}/ns/{kind}");
    let b = bundle(
        &dir,
        "echo $$ > /out/pid; readlink /proc/self/ns/net > /out/net; readlink /proc/self/ns/uts > /out/uts",
        |spec| {
            spec["linux"]["namespaces"] = json!([
                {"type": "pid", "path": ns("pid")},
                {"type": "network", "path": ns("net")},
                {"type": "uts", "path": ns("uts")},
                {"type": "ipc"}, {"type": "mount"}, {"type": "cgroup"}
            ]);
        },
    );
    let (code, _, err) = isolab(
        &dir,
        &["--root", root, "run", "--bundle", b.to_str().unwrap(), "j1"],
    );
    let target = |kind: &str| std::fs::read_link(ns(kind)).unwrap().display().to_string();
    let (net, uts) = (target("net"), target("uts"));
    // The holder's PID 1 first (unshare need not take it along), by PID.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sleeper),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(code, 0, "{err}");
    let read = |name: &str| std::fs::read_to_string(dir.0.join("out").join(name)).unwrap();
    assert_eq!(
        read("pid"),
        "2\n",
        "PID 2 in the holder's PID namespace, where sleep is 1"
    );
    assert_eq!(read("net").trim(), net);
    assert_eq!(read("uts").trim(), uts);
    assert_ne!(
        read("net").trim(),
        std::fs::read_link("/proc/self/ns/net")
            .unwrap()
            .to_str()
            .unwrap(),
        "not the host's"
    );
    // A mount namespace can't be joined; a missing path is one line.
    let b = bundle(&dir, "true", |spec| {
        spec["linux"]["namespaces"][0] = json!({"type": "pid", "path": "/no/such/ns"});
    });
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "j2",
        ],
    );
    assert_eq!(code, 1);
    assert_one_line(&err);
    assert!(err.contains("/no/such/ns"), "{err}");
    assert!(!Path::new(root).join("j2").exists());
}

#[test]
fn a_new_user_namespace_maps_container_root_to_a_host_id() {
    require_root();
    let dir = TempDir::new("oci-userns");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    // `spec --rootless`'s config, for host id 100000: container root is
    // that id on the host, with /sys bound from the host, read-only all
    // the way down.
    let b = bundle(
        &dir,
        "cat /proc/self/uid_map > /out/uid_map; id -u > /out/id; grep CapEff /proc/self/status > /out/caps; \
         (touch /sys/fs/cgroup/x 2>/dev/null || touch /sys/kernel/x 2>/dev/null) && echo yes > /out/sys || echo no > /out/sys",
        |spec| {
            let rootless = isolab::default_spec::default_spec(Some((100_000, 100_000)));
            spec["linux"]["namespaces"] = rootless["linux"]["namespaces"].clone();
            spec["linux"]["uidMappings"] = rootless["linux"]["uidMappings"].clone();
            spec["linux"]["gidMappings"] = rootless["linux"]["gidMappings"].clone();
            spec["mounts"][5] = rootless["mounts"][5].clone();
            spec["mounts"][2] = rootless["mounts"][2].clone();
            // The image belongs to host root: container root (host id
            // 100000) can't make a mount point in it, so /out is made here.
            let image = PathBuf::from(spec["root"]["path"].as_str().unwrap());
            std::fs::create_dir_all(image.join("out")).unwrap();
        },
    );
    // Container root, host id 100000, writes the bound directory.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.0.join("out"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, _, err) = isolab(
        &dir,
        &["--root", root, "run", "--bundle", b.to_str().unwrap(), "u1"],
    );
    assert_eq!(code, 0, "{err}");
    let read = |name: &str| std::fs::read_to_string(dir.0.join("out").join(name)).unwrap();
    let map: Vec<String> = read("uid_map")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(map, ["0", "100000", "1"]);
    assert_eq!(read("id"), "0\n");
    assert_eq!(read("caps"), "CapEff:\t0000000020000420\n");
    assert_eq!(
        read("sys"),
        "no\n",
        "the host's /sys, read-only, submounts too"
    );
    // Mappings without a user namespace: an error by path.
    let b = bundle(&dir, "true", |spec| {
        spec["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1}]);
    });
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "u2",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("linux.uidMappings"), "{err}");
}

#[test]
fn a_terminal_goes_to_the_engine_through_the_console_socket() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    require_root();
    be_subreaper();
    let dir = TempDir::new("oci-tty");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let sock = dir.0.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let b = bundle(
        &dir,
        "readlink /proc/self/fd/0; readlink /proc/self/fd/1; echo pid $$; echo done",
        |spec| {
            spec["process"]["terminal"] = json!(true);
            spec["process"]["consoleSize"] = json!({"height": 30, "width": 100});
        },
    );
    let b = b.to_str().unwrap();
    // Either without the other is refused, in one line.
    let (code, _, err) = isolab(&dir, &["--root", root, "create", "--bundle", b, "tty0"]);
    assert_eq!(code, 1, "{err}");
    assert_one_line(&err);
    assert!(err.contains("needs --console-socket"), "{err}");
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "create",
            "--bundle",
            b,
            "--console-socket",
            sock.to_str().unwrap(),
            "tty1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    // The engine's side: the pty master, its size as config.json gave it.
    let master = isolab::console::receive(&listener).unwrap();
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize to the pointer.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    assert_eq!(rc, 0);
    assert_eq!((ws.ws_row, ws.ws_col), (30, 100));
    let pid = state(&dir, root, "tty1")["pid"].as_i64().unwrap() as i32;
    let (code, _, err) = isolab(&dir, &["--root", root, "start", "tty1"]);
    assert_eq!(code, 0, "{err}");
    // Read until the slave side is gone (EIO) or "done" is seen.
    let mut file = std::fs::File::from(master);
    let mut text = String::new();
    let mut buf = [0u8; 1024];
    while !text.contains("done") {
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    // a pty turns \n into \r\n
    assert_eq!(
        text, "/dev/pts/0\r\n/dev/pts/0\r\npid 1\r\ndone\r\n",
        "stdio is the container's first pty"
    );
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    let (code, _, err) = isolab(&dir, &["--root", root, "delete", "tty1"]);
    assert_eq!(code, 0, "{err}");

    // exec --tty into a running container without a terminal of its own.
    let b = bundle(&dir, "sleep 60", |_| {});
    let b = b.to_str().unwrap();
    let (code, _, err) = isolab(&dir, &["--root", root, "run", "-d", "--bundle", b, "tty2"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "exec",
            "--tty",
            "--console-socket",
            sock.to_str().unwrap(),
            "tty2",
            "sh",
            "-c",
            "readlink /proc/self/fd/2; echo done",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let mut file = std::fs::File::from(isolab::console::receive(&listener).unwrap());
    let mut text = String::new();
    while !text.contains("done") {
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert_eq!(text, "/dev/pts/0\r\ndone\r\n");
    let (code, _, err) = isolab(&dir, &["--root", root, "exec", "--tty", "tty2", "true"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs --console-socket"), "{err}");
    let (code, _, err) = isolab(&dir, &["--root", root, "delete", "--force", "tty2"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn preserve_fds_passes_the_engines_fds_and_only_those() {
    use std::os::unix::process::CommandExt;
    require_root();
    let dir = TempDir::new("oci-fds");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let passed = dir.0.join("passed");
    std::fs::write(&passed, "from the engine\n").unwrap();
    let b = bundle(
        &dir,
        "cat <&3; ls /proc/self/fd | tr '\\n' ' '; echo",
        |_| {},
    );
    let run = |extra: &[&str], id: &str| {
        let file = std::fs::File::open(&passed).unwrap();
        let out = dir.0.join(format!("{id}.out"));
        let mut cmd = Command::new(BIN);
        cmd.args(["--root", root, "run", "--bundle", b.to_str().unwrap()])
            .args(extra)
            .arg(id)
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(dir.0.join(format!("{id}.err"))).unwrap());
        let raw = std::os::fd::AsRawFd::as_raw_fd(&file);
        // SAFETY: dup2 in the child before exec; async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                // dup2 onto itself would keep FD_CLOEXEC
                let rc = if raw == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0)
                } else {
                    libc::dup2(raw, 3)
                };
                if rc < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let status = cmd.status().unwrap();
        (
            status.code().unwrap_or(-1),
            std::fs::read_to_string(out).unwrap(),
            std::fs::read_to_string(dir.0.join(format!("{id}.err"))).unwrap(),
        )
    };
    let (code, out, err) = run(&["--preserve-fds", "1"], "fds1");
    assert_eq!(code, 0, "{err}");
    // fd 3 is the engine's file; besides it only stdio (and ls's own dir)
    assert_eq!(out, "from the engine\n0 1 2 3 4 \n", "{err}");
    // Without the flag the container gets no fd 3.
    let (code, out, _) = run(&[], "fds0");
    assert_eq!(code, 0);
    assert_eq!(out, "0 1 2 3 \n");
    // More than the engine passed is refused before anything is opened.
    let (code, _, err) = run(&["--preserve-fds", "3"], "fds3");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("fd 4 is not open"), "{err}");
}

#[test]
fn a_normal_user_runs_and_execs_into_a_rootless_container() {
    require_root();
    be_subreaper();
    let dir = TempDir::new("oci-rootless");
    // The user's copy of the binary, state root and output directory, in
    // a directory uid 1000 can reach wherever this checkout lives.
    let bin = dir.0.join("isolab");
    std::fs::copy(BIN, &bin).unwrap();
    let b = bundle(
        &dir,
        "(cat /proc/self/uid_map; id -u; cat /proc/self/setgroups) > /mnt/info; echo ready > /mnt/ready; sleep 60",
        |spec| {
            let rootless = isolab::default_spec::default_spec(Some((1000, 1000)));
            spec["linux"] = rootless["linux"].clone();
            let mounts = spec["mounts"].as_array_mut().unwrap();
            mounts[..7].clone_from_slice(&rootless["mounts"].as_array().unwrap()[..7]);
            // the image's own /mnt: the user may not make a mount point
            mounts[7]["destination"] = json!("/mnt");
        },
    );
    let user_root = dir.0.join("user-root");
    std::fs::create_dir_all(&user_root).unwrap();
    let ok = Command::new("chown")
        .args(["-R", "1000:1000"])
        .arg(&user_root)
        .arg(dir.0.join("out"))
        .status()
        .unwrap();
    assert!(ok.success());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_user = |args: &[&str]| {
        let out = Command::new("setpriv")
            .args(["--reuid=1000", "--regid=1000", "--clear-groups"])
            .arg(&bin)
            .arg("--root")
            .arg(&user_root)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(std::process::Stdio::null())
            // files, not pipes: a detached container keeps them open
            .stdout(std::fs::File::create(dir.0.join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.0.join("stderr")).unwrap())
            .status()
            .expect("setpriv (util-linux)");
        (
            out.code().unwrap_or(-1),
            std::fs::read_to_string(dir.0.join("stdout")).unwrap_or_default(),
            std::fs::read_to_string(dir.0.join("stderr")).unwrap_or_default(),
        )
    };
    // If an assertion fails, the container still goes (root may delete it).
    struct Gone<'a>(&'a Path);
    impl Drop for Gone<'_> {
        fn drop(&mut self) {
            let _ = Command::new(BIN)
                .arg("--root")
                .arg(self.0)
                .args(["delete", "--force", "rl"])
                .status();
        }
    }
    let _gone = Gone(&user_root);
    let (code, _, err) = as_user(&["run", "-d", "--bundle", b.to_str().unwrap(), "rl"]);
    assert_eq!(code, 0, "{err}");
    wait_for(&dir.0.join("out/ready"));
    let info = std::fs::read_to_string(dir.0.join("out/info")).unwrap();
    let info: Vec<String> = info
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    // container root is the user; a single-id map denies setgroups
    assert_eq!(info, ["0 1000 1", "0", "deny"]);
    let state: Value = serde_json::from_str(&as_user(&["state", "rl"]).1).unwrap();
    assert_eq!(state["status"], "running", "{state}");
    let pid = state["pid"].as_i64().unwrap();
    // From the host: its uid is the user's, its user namespace its own.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains("Uid:\t1000\t1000\t1000\t1000"), "{status}");
    assert_ne!(
        std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap(),
        std::fs::read_link("/proc/self/ns/user").unwrap()
    );
    // exec joins the user namespace first, then the others.
    let (code, out, err) = as_user(&["exec", "rl", "sh", "-c", "id -u; hostname"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "0\nisolab\n");
    let (code, _, err) = as_user(&["delete", "--force", "rl"]);
    assert_eq!(code, 0, "{err}");
    assert!(!user_root.join("rl").exists());
}

#[test]
fn run_dash_dash_cmd_runs_the_default_image_and_leaves_nothing() {
    require_root();
    let dir = TempDir::new("oci-runcmd");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let (code, out, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "run",
            "--",
            "sh",
            "-c",
            "echo $$; hostname; exit 7",
        ],
    );
    // PID 1, and docker's hostname: the ID's first 12 letters
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!((code, lines[0]), (7, "1"), "{err}");
    assert!(
        lines[1].starts_with("run-") && lines[1].len() == 12,
        "{out}"
    );
    assert_eq!(
        std::fs::read_dir(root).unwrap().count(),
        0,
        "no state, no bundle left"
    );
    for args in [vec!["run", "x", "--", "true"], vec!["run"]] {
        let mut full = vec!["--root", root];
        full.extend(args);
        let (code, _, err) = isolab(&dir, &full);
        assert_eq!(code, 2, "{err}");
        assert_one_line(&err);
    }
}

#[test]
fn a_foreground_exec_passes_signals_on_to_its_process() {
    require_root();
    be_subreaper();
    let dir = TempDir::new("oci-execsig");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let b = bundle(&dir, "sleep 60", |_| {});
    let _gone = DeleteOnDrop { root, id: "sig" };
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "run",
            "-d",
            "--bundle",
            b.to_str().unwrap(),
            "sig",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let out = dir.0.join("exec.out");
    let mut exec = Command::new(BIN)
        .args(["--root", root, "exec", "sig", "sh", "-c"])
        .arg("trap 'echo got TERM; exit 3' TERM; echo ready > /out/ready; sleep 30 & wait")
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .spawn()
        .unwrap();
    wait_for(&dir.0.join("out/ready"));
    // as an engine stops an exec'd process: a signal to the runtime's PID
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(exec.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = exec.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(3),
        "the process's own exit, after its trap"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "got TERM\n");
    let (code, _, err) = isolab(&dir, &["--root", root, "delete", "--force", "sig"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_user_namespace_named_by_path_owns_the_new_ones() {
    require_root();
    be_subreaper();
    let dir = TempDir::new("oci-joinuser");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // no /out: container root (host 100000) may not make it in the image
    let without_out = |spec: &mut Value| {
        spec["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/out");
    };
    // A pod's first container makes the user namespace...
    let a = bundle(&dir, "sleep 60", |spec| {
        without_out(spec);
        spec["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        spec["linux"]["uidMappings"] = map.clone();
        spec["linux"]["gidMappings"] = map.clone();
    });
    let _gone = DeleteOnDrop { root, id: "pod-a" };
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root,
            "run",
            "-d",
            "--bundle",
            a.to_str().unwrap(),
            "pod-a",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let pid = state(&dir, root, "pod-a")["pid"].as_i64().unwrap();
    // ...the second joins it by path, with namespaces of its own that the
    // joined one owns: its root may set its hostname.
    let userns = format!("/proc/{pid}/ns/user");
    let (code, out, err) = run_script(
        &dir,
        "pod-b",
        "id -u; hostname; cat /proc/self/uid_map; readlink /proc/self/ns/user",
        |spec| {
            without_out(spec);
            spec["hostname"] = json!("pod-b");
            spec["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user", "path": userns}));
        },
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let theirs = std::fs::read_link(&userns).unwrap();
    assert_eq!(
        lines,
        ["0", "pod-b", "0 100000 65536", theirs.to_str().unwrap()]
    );
}

#[test]
fn a_mount_namespace_named_by_path_is_used_as_it_is() {
    require_root();
    let dir = TempDir::new("oci-joinmnt");
    // A holder with a mount namespace of its own and a tmpfs in it that
    // the host does not see, on a directory of the test's own.
    let place = dir.0.join("holder-mnt");
    std::fs::create_dir_all(&place).unwrap();
    let holder = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--fork", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs none {0} && echo from-the-holder > {0}/f && exec sleep 30",
            place.display()
        ))
        .spawn()
        .expect("unshare (util-linux)");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let holder = Kill(holder);
    let pid = holder.0.id();
    let seen = format!("/proc/{pid}/root{}/f", place.display());
    for _ in 0..500 {
        if std::path::Path::new(&seen).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        std::path::Path::new(&seen).exists(),
        "the holder never mounted its tmpfs"
    );
    let mnt = format!("/proc/{pid}/ns/mnt");
    let joined = |spec: &mut Value| {
        spec["mounts"] = json!([]);
        spec["linux"]["maskedPaths"] = json!([]);
        spec["linux"]["readonlyPaths"] = json!([]);
        spec["root"]["readonly"] = json!(false);
        for ns in spec["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "mount" {
                ns["path"] = json!(mnt);
            }
        }
    };
    let (code, out, err) = run_script(
        &dir,
        "joinmnt",
        &format!(
            "cat {}/f; echo $$; readlink /proc/self/ns/mnt",
            place.display()
        ),
        joined,
    );
    assert_eq!(code, 0, "{err}");
    let theirs = std::fs::read_link(&mnt).unwrap();
    assert_eq!(
        out,
        format!("from-the-holder\n1\n{}\n", theirs.display()),
        "the holder's file system, in a PID namespace of its own"
    );
    assert!(
        !std::path::Path::new("/mnt/f").exists(),
        "the host never saw it"
    );
    // What would change it is refused by path.
    let (code, _, err) = run_script(&dir, "joinmnt2", "true", |spec| {
        joined(spec);
        spec["mounts"] = json!([{"destination": "/x", "type": "tmpfs", "source": "tmpfs"}]);
    });
    assert_eq!(code, 1);
    assert!(
        err.contains("config.json: mounts: a joined mount namespace is used as it is"),
        "{err}"
    );
}
