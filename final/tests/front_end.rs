//! `isolab run [FLAGS] -- CMD`, the docker-style front end: each flag
//! checked in the config it builds (--print-spec) and from inside the
//! container it runs, checked from the host; bad input is one line; and
//! nothing stays behind, also when the runtime is killed.

mod common;

use std::process::{Command, Stdio};

use common::{BIN, assert_clean, default_image, isolab, state, wait_for};
use serde_json::Value;
use step01_clone::testing::{TempDir, require_root};

/// `isolab --root DIR/root run ARGS -- CMD` in the foreground, with a
/// secret in its own environment that must not reach the container.
fn front(dir: &TempDir, args: &[&str]) -> (i32, String, String) {
    let root = dir.0.join("root");
    let mut cmd = Command::new(BIN);
    cmd.arg("--root")
        .arg(&root)
        .arg("run")
        .args(args)
        .env("HOST_SECRET", "leaked");
    common::captured(dir, &mut cmd)
}

// ANCHOR: print_spec
#[test]
fn print_spec_turns_each_flag_into_a_field() {
    let dir = TempDir::new("front-spec");
    let image = default_image(&dir);
    let vol = dir.0.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    let v = format!("{}:/data:ro", vol.display());
    let (code, out, err) = front(
        &dir,
        &[
            "--print-spec",
            "--rootfs",
            image.to_str().unwrap(),
            "-e",
            "A=1",
            "-w",
            "/tmp",
            "-v",
            &v,
            "--tmpfs",
            "/scratch:size=1m",
            "--pid",
            "host",
            "--ulimit",
            "nofile=100:200",
            "--memory",
            "64m",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "NET_BIND_SERVICE",
            "--time-offset",
            "boottime=86400",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--hostname",
            "web",
            "--",
            "sh",
            "-c",
            "echo hi",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let spec: Value = serde_json::from_str(&out).unwrap();
    let p = &spec["process"];
    assert_eq!(p["args"], serde_json::json!(["sh", "-c", "echo hi"]));
    let env = p["env"].to_string();
    assert!(env.contains("A=1") && env.contains("HOSTNAME=web"), "{env}");
    assert!(!env.contains("leaked"), "the caller's environment: {env}");
    assert_eq!(p["cwd"], "/tmp");
    assert_eq!(
        p["capabilities"]["bounding"],
        serde_json::json!(["CAP_NET_BIND_SERVICE"])
    );
    assert!(
        p["rlimits"].to_string().contains(r#""hard":200"#),
        "{}",
        p["rlimits"]
    );
    let mounts = spec["mounts"].to_string();
    assert!(
        mounts.contains(r#""destination":"/data""#) && mounts.contains(r#""ro""#),
        "{mounts}"
    );
    assert!(mounts.contains("size=1m"), "{mounts}");
    let ns = spec["linux"]["namespaces"].to_string();
    assert!(!ns.contains(r#""pid""#) && ns.contains(r#""time""#), "{ns}");
    assert_eq!(spec["linux"]["timeOffsets"]["boottime"]["secs"], 86400);
    assert_eq!(spec["linux"]["resources"]["memory"]["limit"], 64 << 20);
    assert_eq!(spec["linux"]["sysctl"]["net.ipv4.ip_forward"], "1");
    assert_eq!(spec["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(spec["hostname"], "web");
    // a writable layer of its own over the image, not the image itself
    assert_eq!(spec["root"]["readonly"], false);
    assert!(spec["root"]["path"].as_str().unwrap().ends_with("/merged"));
    assert_clean(&dir.0.join("root"));
}
// ANCHOR_END: print_spec

#[test]
fn the_flags_hold_inside_the_container() {
    require_root();
    let dir = TempDir::new("front-run");
    let image = default_image(&dir);
    let before: Vec<_> = std::fs::read_dir(&image)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let vol = dir.0.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("MARKER"), "from the host\n").unwrap();
    let v = format!("{}:/data:ro", vol.display());
    let script = "echo env=$A secret=${HOST_SECRET:-none}; pwd; hostname; cat /data/MARKER; \
        (echo x > /data/new) 2>/dev/null && echo vol-writable || echo vol-read-only; \
        grep -q ' /scratch tmpfs ' /proc/mounts && echo tmpfs; grep 'open files' /proc/self/limits; \
        grep -E '^(CapEff|Seccomp):' /proc/self/status; \
        touch /planted && echo root-writable; echo file=$FROM_FILE; cat /m/MARKER; \
        echo forward=$(cat /proc/sys/net/ipv4/ip_forward); \
        [ -c /dev/mynull ] && echo x > /dev/mynull && echo device-usable; exit 7";
    let env_file = dir.0.join("env");
    std::fs::write(&env_file, "# a comment\n\nFROM_FILE=yes\n").unwrap();
    let m = format!("type=bind,source={},target=/m,readonly", vol.display());
    let (code, out, err) = front(
        &dir,
        &[
            "--rootfs",
            image.to_str().unwrap(),
            "-e",
            "A=1",
            "-w",
            "/tmp",
            "-v",
            &v,
            "--tmpfs",
            "/scratch",
            "--hostname",
            "web",
            "--env-file",
            env_file.to_str().unwrap(),
            "--mount",
            &m,
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--device",
            "/dev/null:/dev/mynull",
            "--ulimit",
            "nofile=100:200",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "NET_BIND_SERVICE",
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(code, 7, "{out}{err}");
    for line in [
        "env=1 secret=none",
        "/tmp",
        "web",
        "from the host",
        "vol-read-only",
        "tmpfs",
        "root-writable",
        "file=yes",
        "forward=1",
        "device-usable",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "{line:?} missing in:\n{out}{err}"
        );
    }
    assert!(out.contains("100                  200"), "{out}");
    assert!(out.contains("CapEff:\t0000000000000400"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    // the write went to the container's layer, gone with it
    let after: Vec<_> = std::fs::read_dir(&image)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(before, after, "the image changed");
    assert!(!vol.join("new").exists());
    assert_clean(&dir.0.join("root"));

    let (code, out, err) = front(
        &dir,
        &[
            "--rootfs",
            image.to_str().unwrap(),
            "--read-only",
            "--",
            "sh",
            "-c",
            "touch /planted 2>/dev/null || echo refused",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "refused\n"), "{err}");
    assert_clean(&dir.0.join("root"));
}

#[test]
fn namespaces_can_be_the_hosts_or_another_containers() {
    require_root();
    let dir = TempDir::new("front-ns");
    let image = default_image(&dir);
    let image = image.to_str().unwrap();
    let ns = |kind: &str, pid: &str| {
        std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
            .unwrap()
            .display()
            .to_string()
    };
    // --ipc host and --uts host: the host's; the rest its own
    let (code, out, err) = front(
        &dir,
        &[
            "--rootfs",
            image,
            "--ipc",
            "host",
            "--uts",
            "host",
            "--",
            "sh",
            "-c",
            "readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; readlink /proc/self/ns/pid",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], ns("ipc", "self"));
    assert_eq!(lines[1], ns("uts", "self"));
    assert_ne!(lines[2], ns("pid", "self"));

    // --network host: the host's network namespace
    let (code, out, err) = front(
        &dir,
        &[
            "--rootfs",
            image,
            "--network",
            "host",
            "--",
            "readlink",
            "/proc/self/ns/net",
        ],
    );
    assert_eq!((code, out.trim()), (0, ns("net", "self").as_str()), "{err}");

    // --pid and --network container:NAME join a running container's
    let (code, out, err) = front(
        &dir,
        &[
            "-d", "--name", "first", "--rootfs", image, "--", "sleep", "60",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "first\n"), "{err}");
    let root = dir.0.join("root");
    let root = root.to_str().unwrap();
    let _first = common::DeleteOnDrop { root, id: "first" };
    let pid = state(&dir, root, "first")["pid"]
        .as_i64()
        .unwrap()
        .to_string();
    let (code, out, err) = front(
        &dir,
        &[
            "--rootfs",
            image,
            "--pid",
            "container:first",
            "--network",
            "container:first",
            "--ipc",
            "container:first",
            "--",
            "sh",
            "-c",
            "readlink /proc/self/ns/pid; readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; cat /proc/1/comm",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        [ns("pid", &pid), ns("net", &pid), ns("ipc", &pid)]
    );
    assert_eq!(lines[3], "sleep", "PID 1 is the first container's: {out}");

    // a time namespace of its own, a year ahead in boottime
    let (code, out, err) = front(
        &dir,
        &[
            "--rootfs",
            image,
            "--time-offset",
            "boottime=31536000",
            "--",
            "sh",
            "-c",
            "read up _ < /proc/uptime; echo $(( ${up%.*} / 31536000 ))",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "1\n"), "{err}");
    let (code, _, err) = isolab(&dir, &["--root", root, "delete", "--force", "first"]);
    assert_eq!(code, 0, "{err}");
    assert_clean(&dir.0.join("root"));
}

#[test]
fn bad_flags_are_refused_in_one_line() {
    let dir = TempDir::new("front-bad");
    let image = default_image(&dir);
    let image = image.to_str().unwrap();
    for (args, want) in [
        (vec!["-v", "data:/data"], "named volumes are docker's"),
        (vec!["-v", "/no/such/dir:/data"], "does not exist"),
        (vec!["--mount", "type=volume,target=/x"], "bind and tmpfs"),
        (vec!["-p", "80"], "host's port"),
        (vec!["-p", "8080:80"], "needs --network bridge"),
        (
            vec!["--network", "bogus"],
            "none, host, bridge or container:NAME",
        ),
        (vec!["--network", "container:nobody"], "does not exist"),
        (
            vec!["--pid", "private-ish"],
            "private, host or container:NAME",
        ),
        (
            vec!["--uts", "host", "--hostname", "x"],
            "UTS namespace of its own",
        ),
        (vec!["--ulimit", "files=1"], "not a limit"),
        (vec!["--workdir", "tmp"], "absolute"),
        (vec!["--init", "--no-init"], "cannot be used with"),
        (
            vec!["--security-opt", "landlock=default"],
            "no field for it",
        ),
        (vec!["--time-offset", "realtime=5"], "boottime=SECS"),
        (vec!["-t", "-d"], "no `attach`"),
        (vec!["--privileged"], "unexpected argument"),
    ] {
        let mut all = vec!["--rootfs", image];
        all.extend(args.iter().copied());
        all.extend(["--", "true"]);
        let (code, _, err) = front(&dir, &all);
        assert!(code == 1 || code == 2, "{args:?}: exit {code}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // the bundle form takes no front-end flag
    let (code, _, err) = front(&dir, &["--env", "A=1", "some-id"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is for `run -- CMD`"), "{err}");
    assert_clean(&dir.0.join("root"));
}

/// The runtime SIGKILLed while its container runs: the container's layer
/// (a mount on the host) and state stay until the next front-end run,
/// which finds the runtime dead and the container stopped, and removes it.
#[test]
fn a_killed_runtime_is_swept_by_the_next_run() {
    require_root();
    let dir = TempDir::new("front-kill");
    let image = default_image(&dir);
    let image = image.to_str().unwrap();
    let root = dir.0.join("root");
    let out = dir.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let v = format!("{}:/out", out.display());
    let root_s = root.to_str().unwrap();
    let _victim = common::DeleteOnDrop {
        root: root_s,
        id: "victim",
    };
    let mut runtime = Command::new(BIN)
        .arg("--root")
        .arg(&root)
        .args(["run", "--name", "victim", "--rootfs", image, "-v", &v, "--", "sh", "-c",
               "echo up > /out/up.tmp; mv /out/up.tmp /out/up; while [ ! -e /out/stop ]; do sleep 0.05; done"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&out.join("up"));
    runtime.kill().unwrap();
    runtime.wait().unwrap();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        mounts.contains(".bundle-victim/merged"),
        "the layer should still be mounted"
    );
    std::fs::write(out.join("stop"), "").unwrap();
    common::wait_stopped(&dir, root_s, "victim");
    let (code, _, err) = front(&dir, &["--rootfs", image, "--", "true"]);
    assert_eq!(code, 0, "{err}");
    assert_clean(&dir.0.join("root"));
}

/// `-t`: the command's stdio is a pty of the container's own devpts,
/// relayed to the caller's terminal (script(1) gives the test one).
#[test]
fn a_terminal_is_relayed() {
    require_root();
    let dir = TempDir::new("front-tty");
    // script(1) itself needs a pty and its -e: without them, nothing to test
    let works = Command::new("script")
        .args(["-qec", "exit 4", "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.code() == Some(4));
    if !works {
        eprintln!("NOTE: script(1) can't give a terminal here (no pty, or no -e): skipped");
        return;
    }
    let image = default_image(&dir);
    let root = dir.0.join("root");
    let cmd = format!(
        "{BIN} --root {} run -t --rootfs {} -- sh -c 'readlink /proc/self/fd/0; readlink /proc/self/fd/1; exit 4'",
        root.display(),
        image.display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script(1), from util-linux or bsdutils");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert_eq!(text.matches("/dev/pts/0").count(), 2, "{text}");
    assert_clean(&dir.0.join("root"));
}

/// `-d`: the ID on stdout, the container's output in its log.
#[test]
fn a_detached_containers_output_is_in_its_log() {
    require_root();
    let dir = TempDir::new("front-logs");
    let image = default_image(&dir);
    let root = dir.0.join("root");
    let root_s = root.to_str().unwrap();
    let _gone = common::DeleteOnDrop {
        root: root_s,
        id: "front-logs",
    };
    let (code, out, err) = front(
        &dir,
        &[
            "-d",
            "--name",
            "front-logs",
            "--rootfs",
            image.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "echo to-stdout; echo to-stderr >&2",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "front-logs\n"), "{err}");
    common::wait_stopped(&dir, root_s, "front-logs");
    let (code, log, err) = isolab(&dir, &["--root", root_s, "logs", "front-logs"]);
    assert_eq!((code, log.as_str()), (0, "to-stdout\nto-stderr\n"), "{err}");
    let (code, _, err) = isolab(&dir, &["--root", root_s, "delete", "front-logs"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = isolab(&dir, &["--root", root_s, "logs", "front-logs"]);
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");
    assert_clean(&dir.0.join("root"));
}

/// A normal user's `run -- CMD` (the rootless config has no network
/// namespace of its own): `--network none` still gives it one, loopback
/// only, not the host's.
#[test]
fn a_normal_users_container_does_not_share_the_hosts_network() {
    require_root();
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("front-rootless");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.0.join("isolab");
    std::fs::copy(BIN, &bin).unwrap();
    let home = dir.0.join("home");
    std::fs::create_dir_all(home.join("run")).unwrap();
    let ok = Command::new("chown")
        .args(["-R", "1000:1000"])
        .arg(&home)
        .status()
        .unwrap();
    assert!(ok.success());
    let out = Command::new("setpriv")
        .args(["--reuid=1000", "--regid=1000", "--clear-groups"])
        .arg(&bin)
        .args([
            "run",
            "--",
            "sh",
            "-c",
            "readlink /proc/self/ns/net; ls /sys/class/net",
        ])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .stdin(Stdio::null())
        .output()
        .expect("setpriv (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("user namespaces") && !out.status.success() {
        eprintln!("NOTE: this machine gives normal users no user namespace: skipped ({err})");
        return;
    }
    assert!(out.status.success(), "{err}");
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_ne!(
        lines[0],
        host.display().to_string(),
        "the host's network: {text}"
    );
    assert_eq!(lines[1..], ["lo"], "{text}");
}

/// `--init`: step 2's init is PID 1 and the command its child, so a
/// SIGTERM to the container reaches a command that has no handler for it
/// (as PID 1 itself, the kernel would drop it).
#[test]
fn init_forwards_signals_to_a_command_that_is_not_pid_1() {
    require_root();
    let dir = TempDir::new("front-init");
    let image = default_image(&dir);
    let image = image.to_str().unwrap();
    let root = dir.0.join("root");
    let root_s = root.to_str().unwrap();
    let (code, out, err) = front(
        &dir,
        &[
            "--init",
            "--rootfs",
            image,
            "--",
            "sh",
            "-c",
            "echo $$; exit 3",
        ],
    );
    assert_eq!((code, out.as_str()), (3, "2\n"), "{err}");
    let _gone = [
        common::DeleteOnDrop {
            root: root_s,
            id: "front-init-with",
        },
        common::DeleteOnDrop {
            root: root_s,
            id: "front-init-without",
        },
    ];
    // A command with no TERM handler in any image (busybox's sleep has
    // one): the tests' static helper, waiting for a connection.
    let helper = format!(
        "{}:/netcheck:ro",
        common::static_helper("netcheck").display()
    );
    for (id, init) in [("front-init-with", true), ("front-init-without", false)] {
        let mut args = vec!["-d", "--name", id, "--rootfs", image, "-v", &helper];
        if init {
            args.push("--init");
        }
        args.extend(["--", "/netcheck", "listen", "7000"]);
        let (code, _, err) = front(&dir, &args);
        assert_eq!(code, 0, "{err}");
        let (code, _, err) = isolab(&dir, &["--root", root_s, "kill", id, "TERM"]);
        assert_eq!(code, 0, "{err}");
        let mut status = Value::Null;
        // up to 30 s for the end (an emulated CPU is slow); a second for
        // a container that must still run (slowness can't fail that one)
        for _ in 0..if init { 3000 } else { 100 } {
            status = state(&dir, root_s, id)["status"].clone();
            if status == "stopped" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if init {
            assert_eq!(status, "stopped", "with --init, TERM ends the command");
        } else {
            assert_eq!(status, "running", "as PID 1 the command never sees TERM");
            // docker's stop: TERM, a grace period, then KILL
            let (code, _, err) = isolab(&dir, &["--root", root_s, "stop", "--time", "1", id]);
            assert_eq!(code, 0, "{err}");
            assert_eq!(state(&dir, root_s, id)["status"], "stopped");
        }
    }
    let (code, _, err) = isolab(
        &dir,
        &[
            "--root",
            root_s,
            "rm",
            "front-init-with",
            "front-init-without",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_clean(&dir.0.join("root"));
}
