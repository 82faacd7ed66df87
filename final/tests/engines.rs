//! isolab under the engines people use: containerd (through `ctr` and the
//! io.containerd.runc.v2 shim, the one Kubernetes' CRI plugin uses) and
//! podman (through conmon), root and rootless. Each engine is started by
//! the test with every directory of its own under the test's temp dir, no
//! network (`--network none`), and a cgroup parent that the test removes.
//!
//! Without the engine installed a test says NOTE and passes, unless
//! ISOLAB_REQUIRE_ENGINES is set (`.ci/run` installs them and sets it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, wait_for};
use step01_clone::testing::{TempDir, require_root};

/// Is `program` on PATH? Without it: a NOTE, or a failure where CI
/// promised the engines.
fn have(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()));
    if !found {
        assert!(
            std::env::var_os("ISOLAB_REQUIRE_ENGINES").is_none(),
            "{program} is not installed, and ISOLAB_REQUIRE_ENGINES is set"
        );
        eprintln!("NOTE: {program} is not installed (Debian: apt install {program}): skipped");
    }
    found
}

/// Run a command to completion: (exit code, stdout, stderr). stdout and
/// stderr go to files: a container started with `-d` may keep a pipe open.
fn run(dir: &TempDir, cmd: &mut Command) -> (i32, String, String) {
    let out = dir.0.join(".engine-out");
    let err = dir.0.join(".engine-err");
    let status = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(out).unwrap_or_default(),
        std::fs::read_to_string(err).unwrap_or_default(),
    )
}

/// `script -qec CMD /dev/null`: CMD with a terminal on its stdio, as a
/// user at a terminal would run `ctr run -t` or `podman run -t`. None
/// without util-linux's script.
fn on_a_terminal(dir: &TempDir, line: &str) -> Option<(i32, String)> {
    if !have("script") {
        return None;
    }
    let (code, out, err) = run(
        dir,
        Command::new("script").args(["-qec", line, "/dev/null"]),
    );
    Some((code, out + &err))
}

/// Removes, when dropped, the cgroup directories named `name` at the top
/// of every hierarchy, their children first: the parent the test gave the
/// engine, and what the engine and isolab made below it.
struct CgroupParent(String);

impl CgroupParent {
    /// The `cgroup.procs` of a new `NAME/engine` cgroup, for the engine
    /// itself: in a v2 hierarchy if there is one (pure or hybrid), else
    /// in v1's pids. Everything the engine starts (shims, conmon) is then
    /// below NAME, and so ended when the test ends, even if it failed.
    fn engine_procs(&self) -> Option<PathBuf> {
        let v2 = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .into_iter()
            .find(|r| Path::new(r).join("cgroup.controllers").exists());
        let root = v2.unwrap_or("/sys/fs/cgroup/pids");
        let dir = Path::new(root).join(&self.0).join("engine");
        std::fs::create_dir_all(&dir).ok()?;
        Some(dir.join("cgroup.procs"))
    }
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        let roots = std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten();
        let tops = roots
            .map(|e| e.path().join(&self.0))
            .chain([Path::new("/sys/fs/cgroup").join(&self.0)]);
        for top in tops.filter(|t| t.is_dir()) {
            remove_tree(&top);
        }
    }
}

/// Remove `dir` and its children; what still runs in them (a container a
/// failed test left, or its engine's monitor) is killed first, by PID.
fn remove_tree(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&e.path());
        }
    }
    for _ in 0..100 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
            // SAFETY: kill(2) of a process in the test's own cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The value of `v1_file` (v1) or `v2_file` (v2) of `controller` in the
/// cgroup of `pid`, as /proc/PID/cgroup names it, and whether it was v1's.
fn cgroup_file(
    pid: &str,
    controller: &str,
    v1_file: &str,
    v2_file: &str,
) -> Option<(bool, String)> {
    let table = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in table.lines() {
        let mut f = line.splitn(3, ':');
        let (_, controllers, path) = (f.next(), f.next().unwrap(), f.next().unwrap());
        let (v1, candidates) = if controllers.split(',').any(|c| c == controller) {
            let dir = Path::new("/sys/fs/cgroup")
                .join(controller)
                .join(&path[1..]);
            (true, vec![dir.join(v1_file)])
        } else if controllers.is_empty() {
            let under = |root: &str| Path::new(root).join(&path[1..]).join(v2_file);
            (
                false,
                vec![under("/sys/fs/cgroup"), under("/sys/fs/cgroup/unified")],
            )
        } else {
            continue;
        };
        if let Some(text) = candidates
            .iter()
            .find_map(|c| std::fs::read_to_string(c).ok())
        {
            return Some((v1, text.trim().to_string()));
        }
    }
    None
}

fn cgroup_value(pid: &str, controller: &str, v1_file: &str, v2_file: &str) -> String {
    cgroup_file(pid, controller, v1_file, v2_file)
        .unwrap_or_else(|| panic!("no {controller} file {v1_file} or {v2_file} for {pid}"))
        .1
}

// ANCHOR: daemon
/// An engine's daemon, run by the test in a mount namespace of its own
/// with a fresh tmpfs on /run and /var/lib (and on /etc/docker,
/// /etc/cni/net.d and /opt): the paths engines hard-code there
/// (containerd's shim sockets and FIFOs and, in dockerd's own containerd,
/// /opt/containerd; dockerd's plugin directory and key; podman's blob
/// cache and CNI lock) stay out of the host's, and vanish with it. Its
/// other directories are under the test's `dir`, given as flags. Ended
/// by PID when dropped: SIGTERM, so it stops what it started, then
/// SIGKILL.
struct Daemon {
    child: Child,
    socket: PathBuf,
}

impl Daemon {
    fn start(
        dir: &TempDir,
        name: &str,
        cgroup: &CgroupParent,
        socket: PathBuf,
        argv: &[String],
    ) -> Daemon {
        let procs = cgroup.engine_procs().unwrap_or_default();
        let setup = "{ [ -z \"$ISOLAB_TEST_PROCS\" ] || echo $$ > \"$ISOLAB_TEST_PROCS\"; } && unset ISOLAB_TEST_PROCS && \
                     mount -t tmpfs -o mode=755 tmpfs /run && \
                     mount -t tmpfs -o mode=755 tmpfs /var/lib && \
                     for d in /etc/docker /etc/cni/net.d /opt; do \
                       [ ! -d $d ] || mount -t tmpfs tmpfs $d || exit 1; done && exec \"$@\"";
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", setup, "sh"])
            .args(argv)
            .env("ISOLAB_TEST_PROCS", procs)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.0.join(format!("{name}.log"))).unwrap())
            .spawn()
            .unwrap();
        // owned before anything can fail: a panic below ends it
        let daemon = Daemon { child, socket };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !daemon.socket.exists() {
            let log =
                std::fs::read_to_string(dir.0.join(format!("{name}.log"))).unwrap_or_default();
            assert!(Instant::now() < deadline, "{name} never listened:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    /// `program`, run in the daemon's mount namespace (for the paths in
    /// its /run that it hands to clients).
    fn client(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.child.id().to_string(), "-m", program]);
        c
    }

    /// The same as a command line, for `script`.
    fn client_line(&self, program: &str) -> String {
        format!("nsenter -t {} -m {program}", self.child.id())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: kill(2) of our own child, by PID.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
// ANCHOR_END: daemon

// ANCHOR: containerd
/// containerd with its root, state and sockets under `dir`, the CRI and
/// opt plugins off.
fn containerd(dir: &TempDir, cgroup: &CgroupParent) -> Daemon {
    let d = &dir.0;
    let socket = d.join("containerd.sock");
    let config = format!(
        "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
         disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.internal.v1.opt\"]\n\
         [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n",
        root = d.join("ctd-root").display(),
        state = d.join("ctd-state").display(),
        sock = socket.display(),
    );
    std::fs::write(d.join("containerd.toml"), config).unwrap();
    let config = d.join("containerd.toml").display().to_string();
    Daemon::start(
        dir,
        "containerd",
        cgroup,
        socket,
        &["containerd".into(), "--config".into(), config],
    )
}
// ANCHOR_END: containerd

/// No daemon, only the mount namespace: podman is a new process per
/// command, each entering it, and its conmons live there.
fn holder(dir: &TempDir, cgroup: &CgroupParent) -> Daemon {
    let ready = dir.0.join("holder.ready");
    let script = format!("touch {} && exec sleep infinity", ready.display());
    Daemon::start(
        dir,
        "holder",
        cgroup,
        ready,
        &["sh".into(), "-c".into(), script],
    )
}

/// `ctr` talking to `daemon`, in namespace `isolab-test`.
fn ctr(daemon: &Daemon) -> Command {
    let mut c = daemon.client("ctr");
    c.arg("-a").arg(&daemon.socket).args(["-n", "isolab-test"]);
    c
}

#[test]
fn containerd_runs_execs_signals_and_gives_a_terminal_through_its_shim() {
    require_root();
    if !have("containerd") || !have("ctr") {
        return;
    }
    let dir = TempDir::new("engine-containerd");
    let image = common::default_image(&dir);
    let out = dir.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let parent = CgroupParent(format!("isolab-test-ctr-{}", std::process::id()));
    let containerd = containerd(&dir, &parent);
    let runc_root = dir.0.join("runc-root");
    // What every `ctr run` here passes: isolab as the shim's runc, its
    // state root, our cgroup parent, the image as a plain directory.
    let run_args = |flags: &[&str], id: &str| -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "--runc-binary",
            BIN,
            "--runc-root",
            runc_root.to_str().unwrap(),
            "--cgroup",
            &format!("/{}/{id}", parent.0),
            "--mount",
            &format!("type=bind,src={},dst=/out,options=rbind:rw", out.display()),
        ]
        .map(String::from)
        .to_vec();
        args.extend(flags.iter().map(|f| f.to_string()));
        // --rootfs is a switch: the image directory is the first operand
        args.extend(["--rootfs", image.to_str().unwrap(), id].map(String::from));
        args
    };

    // 1. run --rm: the command's output and exit status come back.
    let (code, stdout, err) = run(
        &dir,
        ctr(&containerd)
            .args(run_args(&["--rm"], "c1"))
            .args(["sh", "-c"])
            .arg("echo pid=$$; grep -c . /proc/self/uid_map; exit 3"),
    );
    assert_eq!((code, stdout.as_str()), (3, "pid=1\n1\n"), "{err}");

    // 2. run -d, exec into it, a signal through `ctr task kill`.
    let script = "trap 'echo TERM > /out/term; exit 7' TERM; echo up > /out/ready; \
                  while :; do sleep 0.1; done";
    let (code, _, err) = run(
        &dir,
        ctr(&containerd)
            .args(run_args(&["-d"], "c2"))
            .args(["sh", "-c", script]),
    );
    assert_eq!(code, 0, "{err}");
    wait_for(&out.join("ready"));
    let (code, stdout, err) = run(
        &dir,
        ctr(&containerd)
            .args(["task", "exec", "--exec-id", "e1", "c2", "sh", "-c"])
            .arg("echo exec in $(cat /proc/1/comm); exit 4"),
    );
    assert_eq!((code, stdout.as_str()), (4, "exec in sh\n"), "{err}");
    let (_, tasks, _) = run(&dir, ctr(&containerd).args(["task", "ls", "-q"]));
    assert_eq!(tasks.trim(), "c2");
    let (code, _, err) = run(
        &dir,
        ctr(&containerd).args(["task", "kill", "-s", "TERM", "c2"]),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(wait_for(&out.join("term")), "TERM\n");
    // The shim reaped the exit: `task delete` reports the status.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, tasks, _) = run(&dir, ctr(&containerd).args(["task", "ls"]));
        if tasks.contains("STOPPED") {
            break;
        }
        assert!(Instant::now() < deadline, "c2 never stopped: {tasks}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, stdout, err) = run(&dir, ctr(&containerd).args(["task", "delete", "c2"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        format!("{stdout}{err}").contains("exit code 7"),
        "no exit status 7: {stdout}{err}"
    );
    let (code, _, err) = run(&dir, ctr(&containerd).args(["container", "delete", "c2"]));
    assert_eq!(code, 0, "{err}");

    // 3. -t: the shim's console socket, a terminal inside.
    let mut line = vec![
        containerd.client_line("ctr"),
        "-a".into(),
        containerd.socket.display().to_string(),
    ];
    line.extend(["-n", "isolab-test"].map(String::from));
    line.extend(run_args(&["--rm", "-t"], "c3"));
    line.extend(["sh", "-c"].map(String::from));
    line.push("'test -t 0 && readlink /proc/self/fd/0; exit 5'".into());
    if let Some((code, text)) = on_a_terminal(&dir, &line.join(" ")) {
        assert_eq!(code, 5, "{text}");
        assert!(text.contains("/dev/pts/0"), "{text}");
    }

    // Nothing of isolab's is left: its state root is empty.
    let left: Vec<_> = std::fs::read_dir(runc_root.join("isolab-test"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left in the state root: {left:?}");
    // The shim's cleanup deletes with --force what is gone: no complaint
    // from isolab. (The shim's own reaper sometimes loses that call's
    // status and logs "exit status 255" with no output: not ours to fix.)
    let log = std::fs::read_to_string(dir.0.join("containerd.log")).unwrap_or_default();
    assert!(!log.contains("does not exist"), "{log}");
}

// ANCHOR: podman
/// Who runs podman: root, in the mount namespace of a [`holder`], or a
/// normal user, whose podman keeps everything under HOME and
/// XDG_RUNTIME_DIR.
enum Who<'a> {
    Root(&'a Daemon),
    User(u32),
}

/// podman with every directory under `dir` and isolab as its runtime.
fn podman(dir: &Path, runtime: &Path, who: &Who) -> Command {
    let mut c = match who {
        Who::Root(holder) => holder.client("podman"),
        Who::User(uid) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
                "podman",
            ])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", dir.join("home"))
            .env("XDG_RUNTIME_DIR", dir.join("xdg"));
            c
        }
    };
    c.arg("--root")
        .arg(dir.join("storage"))
        .arg("--runroot")
        .arg(dir.join("runroot"))
        .arg("--tmpdir")
        .arg(dir.join("tmp"))
        .arg("--runtime")
        .arg(runtime)
        .args([
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--storage-driver",
            "vfs",
        ]);
    c
}

/// What every `podman run` here adds: no network (podman's default would
/// make a bridge on the host), and rlimits a host without
/// CAP_SYS_RESOURCE in its bounding set can set (podman's defaults raise
/// the hard limits, and fail with runc too).
const RUN: [&str; 7] = [
    "run",
    "--network",
    "none",
    "--ulimit",
    "nofile=20000:20000",
    "--ulimit",
    "nproc=1024:1024",
];
// ANCHOR_END: podman

/// Import the default image, packed with tar, as `isolab-test:1` through
/// `cli` (podman or docker: `import` takes the same).
fn import_image(dir: &TempDir, image: &Path, cli: impl Fn() -> Command) {
    let tar = dir.0.join("image.tar");
    let ok = Command::new("tar")
        .arg("-C")
        .arg(image)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(ok.success());
    let (code, out, err) = run(dir, cli().arg("import").arg(&tar).arg("isolab-test:1"));
    assert_eq!(code, 0, "{out}{err}");
}

/// `cmd` as a shell line, for `script`.
fn as_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a docker-compatible CLI (podman, docker) does with isolab as its
/// runtime: `cli()` is the CLI with its global flags, `run` the `run`
/// subcommand with the flags every container here gets. The image is
/// `isolab-test:1`, imported already.
fn docker_cli_works(dir: &TempDir, cli: &dyn Fn() -> Command, run: &[String]) {
    // 1. run --rm: output, exit status, and the engine's own seccomp
    //    profile loaded into the process (mode 2, filter).
    let (code, stdout, err) = self::run(
        dir,
        cli()
            .args(run)
            .args(["--rm", "isolab-test:1", "sh", "-c"])
            .arg("echo pid=$$; grep ^Seccomp: /proc/self/status; exit 5"),
    );
    assert_eq!(
        (code, stdout.as_str()),
        (5, "pid=1\nSeccomp:\t2\n"),
        "{err}"
    );

    // 2. run -d with limits, exec, stop (SIGTERM reaches the trap), rm.
    let (code, _, err) = self::run(
        dir,
        cli()
            .args(run)
            .args([
                "-d",
                "--name",
                "d1",
                "--memory",
                "64m",
                "--pids-limit",
                "33",
            ])
            .args(["isolab-test:1", "sh", "-c"])
            .arg("trap 'exit 9' TERM; while :; do sleep 0.1; done"),
    );
    assert_eq!(code, 0, "{err}");
    let exec = [
        "exec",
        "d1",
        "sh",
        "-c",
        "echo exec in $(cat /proc/1/comm); exit 4",
    ];
    let (code, stdout, err) = self::run(dir, cli().args(exec));
    assert_eq!((code, stdout.as_str()), (4, "exec in sh\n"), "{err}");
    let (_, pid, _) = self::run(dir, cli().args(["inspect", "-f", "{{.State.Pid}}", "d1"]));
    let pid = pid.trim();
    assert_eq!(cgroup_value(pid, "pids", "pids.max", "pids.max"), "33");
    assert_eq!(
        cgroup_value(pid, "memory", "memory.limit_in_bytes", "memory.max"),
        (64u64 << 20).to_string()
    );
    // --memory alone allows as much swap again (memory.swap 128 MiB, as
    // memory plus swap): v1 counts them together, v2 swap alone. Only a
    // kernel that accounts swap has the file.
    match cgroup_file(
        pid,
        "memory",
        "memory.memsw.limit_in_bytes",
        "memory.swap.max",
    ) {
        Some((true, memsw)) => assert_eq!(memsw, (128u64 << 20).to_string()),
        Some((false, swap)) => assert_eq!(swap, (64u64 << 20).to_string()),
        None => eprintln!("NOTE: no swap accounting on this kernel: memory.swap not checked"),
    }
    let (code, _, err) = self::run(dir, cli().args(["stop", "-t", "10", "d1"]));
    assert_eq!(code, 0, "{err}");
    let exit_code = ["inspect", "-f", "{{.State.ExitCode}}", "d1"];
    let (_, status, _) = self::run(dir, cli().args(exit_code));
    assert_eq!(status.trim(), "9");
    let (code, _, err) = self::run(dir, cli().args(["rm", "d1"]));
    assert_eq!(code, 0, "{err}");

    // 3. -t: the engine's console socket, a terminal inside.
    let line = format!(
        "{} {} --rm -t isolab-test:1 sh -c 'test -t 0 && readlink /proc/self/fd/0; exit 6'",
        as_line(&cli()),
        run.join(" ")
    );
    if let Some((code, text)) = on_a_terminal(dir, &line) {
        assert_eq!(code, 6, "{text}");
        assert!(text.contains("/dev/pts/0"), "{text}");
    }
    let (_, left, _) = self::run(dir, cli().args(["ps", "-aq"]));
    assert_eq!(left, "");
}

#[test]
fn podman_runs_execs_stops_and_limits_through_conmon() {
    require_root();
    if !have("podman") {
        return;
    }
    let dir = TempDir::new("podman");
    let image = common::default_image(&dir);
    let parent = CgroupParent(format!("isolab-test-podman-{}", std::process::id()));
    let runtime = PathBuf::from(BIN);
    let holder = holder(&dir, &parent);
    let who = Who::Root(&holder);
    let p = || podman(&dir.0, &runtime, &who);
    import_image(&dir, &image, p);
    let mut run: Vec<String> = RUN.map(String::from).to_vec();
    run.push(format!("--cgroup-parent=/{}", parent.0));
    docker_cli_works(&dir, &p, &run);
}

#[test]
fn rootless_podman_runs_isolab_in_its_user_namespace() {
    require_root();
    if !have("podman") || !have("setpriv") {
        return;
    }
    let dir = TempDir::new("podr");
    let image = common::default_image(&dir);
    // The user's copy of the binary, where uid 1000 can reach it.
    let runtime = dir.0.join("isolab");
    std::fs::copy(BIN, &runtime).unwrap();
    for sub in ["home", "xdg", "storage", "runroot", "tmp"] {
        std::fs::create_dir_all(dir.0.join(sub)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    // podman's directories are the user's; the image stays root's, as an
    // image's files are.
    let ok = Command::new("chown")
        .args(["-R", "1000:1000"])
        .args(["home", "xdg", "storage", "runroot", "tmp"].map(|d| dir.0.join(d)))
        .status()
        .unwrap();
    assert!(ok.success());
    let p = || podman(&dir.0, &runtime, &Who::User(1000));
    // podman keeps a pause process in its user namespace: ended by PID.
    struct Pause(PathBuf);
    impl Drop for Pause {
        fn drop(&mut self) {
            if let Some(pid) = std::fs::read_to_string(&self.0)
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
            {
                // SAFETY: kill(2) of the PID podman wrote for its own process.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let _pause = Pause(dir.0.join("tmp/pause.pid"));
    import_image(&dir, &image, p);
    let (code, stdout, err) = run(
        &dir,
        p().args(RUN)
            .args(["--rm", "isolab-test:1", "sh", "-c"])
            .arg("id -u; head -1 /proc/self/uid_map | tr -s ' ' | sed 's/^ //'; exit 5"),
    );
    if err.contains("newuidmap") || err.contains("cannot set up namespace") {
        assert!(
            std::env::var_os("ISOLAB_REQUIRE_ENGINES").is_none(),
            "podman can't make a user namespace for uid 1000 here: {err}"
        );
        eprintln!("NOTE: podman can't make a user namespace for uid 1000 here: {err}");
        return;
    }
    // Root in the container is uid 1000 on the host (a second line maps
    // the user's /etc/subuid range, where it has one).
    assert_eq!((code, stdout.as_str()), (5, "0\n0 1000 1\n"), "{err}");
}

// ANCHOR: dockerd
/// dockerd with its data and exec roots under `dir`, isolab added as a
/// runtime, no network of its own (no bridge, no iptables), and the
/// containerd it starts for itself.
fn dockerd(dir: &TempDir, cgroup: &CgroupParent) -> Daemon {
    let d = &dir.0;
    let socket = d.join("docker.sock");
    std::fs::write(d.join("daemon.json"), "{}").unwrap();
    let path = |p: &str| d.join(p).display().to_string();
    let argv = [
        "dockerd",
        "--config-file",
        &path("daemon.json"),
        "--data-root",
        &path("docker-data"),
        "--exec-root",
        &path("docker-exec"),
        "--pidfile",
        &path("docker.pid"),
        "-H",
        &format!("unix://{}", socket.display()),
        "--bridge",
        "none",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
        "--storage-driver",
        "vfs",
        "--cgroup-parent",
        &format!("/{}", cgroup.0),
        "--add-runtime",
        &format!("isolab={BIN}"),
    ]
    .map(String::from);
    Daemon::start(dir, "dockerd", cgroup, socket, &argv)
}
// ANCHOR_END: dockerd

#[test]
fn docker_runs_execs_stops_and_limits_with_runtime_isolab() {
    require_root();
    if !have("dockerd") || !have("docker") {
        return;
    }
    let dir = TempDir::new("docker");
    let image = common::default_image(&dir);
    let parent = CgroupParent(format!("isolab-test-docker-{}", std::process::id()));
    let daemon = dockerd(&dir, &parent);
    let d = || {
        let mut c = Command::new("docker");
        c.arg("-H")
            .arg(format!("unix://{}", daemon.socket.display()));
        c
    };
    import_image(&dir, &image, d);
    let run = ["run", "--runtime", "isolab", "--network", "none"].map(String::from);
    docker_cli_works(&dir, &d, &run);
}
