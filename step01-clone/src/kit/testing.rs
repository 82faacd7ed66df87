//! Helpers for the integration tests of every step: run a step binary as a
//! subprocess, read what it printed, look at the host's /proc.
//!
//! Tests never clone inside the (multithreaded) test harness: they run the
//! real binaries, and check the effect from inside (the command's output)
//! and from outside (the host's /proc).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// What a finished run printed, and its exit status.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Fail loudly when not root: these tests create namespaces. (Cargo's
/// runner, .cargo/as-root, runs them through sudo for a normal user.)
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "PRIVILEGED TEST RUN WITHOUT ROOT: run `cargo test` through .cargo/as-root (the workspace runner) or as root"
    );
}

/// How long [`run`] lets a runtime take before it counts as hung.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// Run `bin` with `args` to completion, with NO_COLOR so output is plain.
/// A run that takes longer than [`RUN_TIMEOUT`] is SIGKILLed (its container
/// dies with it) and the test fails: a hung test must not hang CI.
pub fn run(bin: &str, args: &[&str]) -> Output {
    let mut child = Command::new(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {bin}: {e}"));
    let collect = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = collect(Box::new(child.stdout.take().expect("piped")));
    let err = collect(Box::new(child.stderr.take().expect("piped")));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{bin} {args:?} still running after {RUN_TIMEOUT:?}: killed it");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // The runtime is gone; its output must close soon after. A container
    // process it left behind would hold the pipes open for ever (and a
    // `$(...)` around the command would never return).
    let closed = std::time::Instant::now();
    while !(out.is_finished() && err.is_finished()) {
        if closed.elapsed() > Duration::from_secs(10) {
            panic!(
                "{bin} {args:?} exited, but a process it started still holds its stdout or stderr"
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Output {
        code: exit_code(status),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// `bin run --state-dir STATE ARGS...`: a run whose images, layers and
/// state stay in the test's own directory.
pub fn run_in(bin: &str, state: &TempDir, args: &[&str]) -> Output {
    let mut full = vec!["run", "--state-dir", state.arg()];
    full.extend_from_slice(args);
    run(bin, &full)
}

/// The shell's view of an exit status: code, or 128+N for signal N.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// The first JSON object printed at the start of a line in `text` (the
/// inspector's output, found among narration and the command's output).
pub fn first_json(text: &str) -> Value {
    let start = text
        .find("\n{")
        .map(|i| i + 1)
        .or_else(|| text.starts_with('{').then_some(0))
        .unwrap_or_else(|| panic!("no JSON object in:\n{text}"));
    let end = text[start..]
        .find("\n}")
        .map(|i| start + i + 2)
        .unwrap_or_else(|| panic!("unterminated JSON in:\n{text}"));
    serde_json::from_str(&text[start..end]).unwrap_or_else(|e| panic!("bad JSON ({e}) in:\n{text}"))
}

/// A step binary still running. Dropping it ends the runtime and waits:
/// SIGTERM, which it passes on and then cleans up after, or SIGKILL after
/// 5 s (the container dies with it through PR_SET_PDEATHSIG). So a failed
/// test leaves nothing behind.
#[derive(Debug)]
pub struct Running {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    pub stdout_seen: Vec<String>,
}

impl Running {
    /// Start `bin args` with stdout and stderr captured.
    pub fn spawn(bin: &str, args: &[&str]) -> Running {
        let mut child = Command::new(bin)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {bin}: {e}"));
        let (tx, lines) = channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut err = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Running {
            child,
            lines,
            stderr,
            stdout_seen: Vec::new(),
        }
    }

    /// The runtime's host PID.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Wait (10 s at most) for a stdout line equal to `want`.
    pub fn wait_for_line(&mut self, want: &str) {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(10)) {
                Ok(line) => {
                    let done = line == want;
                    self.stdout_seen.push(line);
                    if done {
                        return;
                    }
                }
                Err(_) => panic!(
                    "no line {want:?} on stdout within 10 s; stdout so far {:?}, stderr:\n{}",
                    self.stdout_seen,
                    self.stderr()
                ),
            }
        }
    }

    /// Wait (10 s at most) until stderr holds a complete JSON object.
    pub fn wait_for_json(&self) -> Value {
        for _ in 0..1000 {
            let text = self.stderr();
            if text.starts_with('{') || text.contains("\n{") {
                let start = text.find('{').unwrap();
                if text[start..].contains("\n}") {
                    return first_json(&text);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no JSON on stderr within 10 s:\n{}", self.stderr());
    }

    /// What the runtime printed to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Send `signal` to the runtime.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal)
            .expect("signalling the runtime");
    }

    /// Wait for the runtime to exit (10 s at most); its exit code.
    pub fn wait(&mut self) -> i32 {
        for _ in 0..1000 {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return exit_code(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "runtime did not exit within 10 s; stderr:\n{}",
            self.stderr()
        );
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGTERM first: the runtime passes it on, the command ends, and
            // the runtime removes its layers, state and cgroups as after any
            // run. SIGKILL only if that takes too long (then the container
            // dies with it, and the next run's sweep removes the rest).
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            for _ in 0..500 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The inode of namespace `kind` of `pid`, read from the host's /proc.
pub fn ns_inode(pid: i32, kind: &str) -> u64 {
    crate::inspect::ns::inode(std::path::Path::new(&format!("/proc/{pid}")), kind)
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/ns/{kind}: {e}"))
}

/// Host PIDs of the processes in the PID namespace with inode `pid_ns`,
/// with their state letter (`Z` for a zombie).
pub fn processes_in_pid_ns(pid_ns: u64) -> Vec<(i32, char)> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let path = std::path::Path::new("/proc").join(pid.to_string());
        let Ok(ino) = crate::inspect::ns::inode(&path, "pid") else {
            continue;
        };
        if ino != pid_ns {
            continue;
        }
        let state = std::fs::read_to_string(path.join("status"))
            .ok()
            .and_then(|s| crate::inspect::status_field(&s, "State").and_then(|v| v.chars().next()))
            .unwrap_or('?');
        found.push((pid, state));
    }
    found
}

/// This machine's hostname, as the kernel holds it for the host.
pub fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Assert that `text` is exactly one line (a one-line error). Lines that
/// start with `note: ` don't count: they say what this machine can't do
/// (no idmapped mounts on its file system, an older Landlock), once per
/// run, whatever the error.
pub fn assert_one_line(text: &str) {
    assert_eq!(
        text.trim_end()
            .lines()
            .filter(|l| !l.starts_with("note: "))
            .count(),
        1,
        "expected one line, got:\n{text}"
    );
}

/// A directory under the system temp dir, removed (with everything in it)
/// when dropped, also when the test fails.
#[derive(Debug)]
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// A fresh, empty directory named after `name` and this process.
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("isolab-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        TempDir(path)
    }

    /// The directory as a &str, for command lines.
    pub fn arg(&self) -> &str {
        self.0.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The mount table as a host process sees it: compare before and after a
/// run to prove nothing leaked onto the host.
pub fn host_mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").expect("reading /proc/self/mountinfo")
}

/// Start `bin run --inspect --format json -- sh -c 'echo up; sleep 30'` and
/// check, while it runs, that exactly the namespace types in `new` are the
/// container's own: from the inspector's JSON and, independently, from the
/// host's /proc links of the container and of the test itself. Returns the
/// running runtime (dropping it ends the container) and the JSON.
pub fn check_namespaces(bin: &str, new: &[&str]) -> (Running, Value) {
    let mut rt = Running::spawn(
        bin,
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
    let pid = json["container"]["pid"].as_i64().expect("container pid") as i32;
    let kinds = json["namespaces"].as_object().expect("namespaces");
    assert_eq!(kinds.len(), 8, "{json}");
    for (kind, state) in kinds {
        let is_new = new.contains(&kind.as_str());
        assert_eq!(
            state,
            if is_new { "new" } else { "host" },
            "namespace {kind}"
        );
        let from_json = json["container"]["namespaces"][kind]
            .as_u64()
            .expect("inode");
        assert_eq!(
            ns_inode(pid, kind),
            from_json,
            "{kind} inode, from the host's /proc"
        );
        let ours = ns_inode(std::process::id() as i32, kind);
        assert_eq!(from_json != ours, is_new, "{kind} vs the test's own");
    }
    (rt, json)
}

/// Run `bin run -- CMD` for each case and check the exit status.
pub fn check_exit_codes(bin: &str, cases: &[(&[&str], i32)]) {
    for (cmd, want) in cases {
        let mut args = vec!["run", "--"];
        args.extend_from_slice(cmd);
        let out = run(bin, &args);
        assert_eq!(out.code, *want, "{cmd:?}: {out:?}");
    }
}

/// SIGTERM to the runtime must reach the command: it traps it and exits 42.
pub fn check_sigterm_reaches_the_command(bin: &str) {
    let script = "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done";
    let mut rt = Running::spawn(bin, &["run", "--", "sh", "-c", script]);
    rt.wait_for_line("ready");
    rt.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(rt.wait(), 42, "stderr: {}", rt.stderr());
}

/// The fd number [`check_init_keeps_no_runtime_fds`] plants in the runtime.
/// (One digit, so a POSIX shell can plant it too: `exec 9<dir`.)
pub const PLANTED_FD: i32 = 9;

/// The attack of runc's CVE-2024-21626 class: the runtime holds a host
/// directory open (fd [`PLANTED_FD`], inherited from its caller, as a
/// runtime inherits whatever its engine leaves open) and the container looks
/// for it through /proc/1/fd, then walks out of it. The script also follows
/// PID 1's fd 0 and prints FD0-FOLLOWS or FD0-BLOCKED: a non-dumpable init
/// refuses that to a container without CAP_SYS_PTRACE. `args` go after `run`.
/// Passes when the secret stays out of reach; returns the run's output.
pub fn check_init_keeps_no_runtime_fds(bin: &str, args: &[&str]) -> Output {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let secret = TempDir::new("planted-fd");
    std::fs::write(secret.0.join("marker"), "HOST-SECRET\n").unwrap();
    let dir = std::fs::File::open(&secret.0).unwrap();
    let raw = dir.as_raw_fd();
    let script = format!(
        "ls /proc/1/fd; test -e /proc/1/fd/0 && echo FD0-FOLLOWS || echo FD0-BLOCKED; cat /proc/1/fd/{PLANTED_FD}/marker /proc/1/fd/{PLANTED_FD}/../../etc/hostname"
    );
    let mut full = vec!["run"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--", "sh", "-c", &script]);
    let mut cmd = Command::new(bin);
    cmd.args(&full).env("NO_COLOR", "1").stdin(Stdio::null());
    // SAFETY: dup2 is async-signal-safe; it runs in the forked child only.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, PLANTED_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = output_of(cmd);
    drop(dir);
    assert!(
        !out.stdout.contains("HOST-SECRET"),
        "the container read a host file through the runtime's fd: {out:?}"
    );
    assert!(
        !out.stdout
            .lines()
            .any(|l| l.trim() == PLANTED_FD.to_string()),
        "PID 1 still holds the runtime's fd {PLANTED_FD}: {out:?}"
    );
    out
}

/// Make `cmd` start in a new session keyring of the test's own that holds
/// a key named `isolab-test-secret`, readable by its possessors only (as a
/// login session's Kerberos ticket would be). With `uid`, the command runs
/// as that user (groups cleared) and the key is theirs.
pub fn plant_session_key(cmd: &mut Command, uid: Option<u32>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only raw syscalls, in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            const JOIN: libc::c_long = 1; // KEYCTL_JOIN_SESSION_KEYRING
            const SETPERM: libc::c_long = 5; // KEYCTL_SETPERM
            const SESSION: libc::c_long = -3; // KEY_SPEC_SESSION_KEYRING
            const POSSESSOR_ALL: libc::c_long = 0x3f00_0000;
            let fail = || Err(std::io::Error::last_os_error());
            if let Some(id) = uid
                && (libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setresgid(id, id, id) != 0
                    || libc::setresuid(id, id, id) != 0)
            {
                return fail();
            }
            if libc::syscall(libc::SYS_keyctl, JOIN, c"isolab-test".as_ptr()) < 0 {
                return fail();
            }
            let key = libc::syscall(
                libc::SYS_add_key,
                c"user".as_ptr(),
                c"isolab-test-secret".as_ptr(),
                c"s3cret".as_ptr(),
                6usize,
                SESSION,
            );
            if key < 0 || libc::syscall(libc::SYS_keyctl, SETPERM, key, POSSESSOR_ALL) < 0 {
                return fail();
            }
            Ok(())
        });
    }
}

/// Run `bin run ARGS -- sh -c LIST_KEYS` with a key planted by
/// [`plant_session_key`]; returns what the container printed.
pub fn run_with_session_key(bin: &str, args: &[&str]) -> Output {
    let mut full = vec!["run"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--", "sh", "-c", LIST_KEYS]);
    let mut cmd = Command::new(bin);
    cmd.args(&full).env("NO_COLOR", "1").stdin(Stdio::null());
    plant_session_key(&mut cmd, None);
    output_of(cmd)
}

/// Run a prepared command to completion.
pub fn output_of(mut cmd: Command) -> Output {
    let out = cmd.output().expect("spawning the runtime");
    Output {
        code: exit_code(out.status),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A script that counts the planted keys the container can see: /proc/keys
/// is masked, so it mounts a procfs of its own (needs `--cap-add SYS_ADMIN`).
/// /proc/keys lists only keys whose owner is mapped in the reader's user
/// namespace: from step 7 on, root's key is hidden from it either way, so
/// there the test plants the key as the rootless user.
pub const LIST_KEYS: &str =
    "mount -t proc proc /mnt && grep -c isolab-test-secret /mnt/keys; umount /mnt";

/// Run `bin args` with its stdout (or, with `stderr`, its stderr) a pipe
/// that nobody reads any more, as in `... | head -0`. Returns the exit code
/// and what it printed on the other stream.
pub fn run_into_closed_pipe(bin: &str, args: &[&str], stderr: bool) -> (i32, String) {
    let (read, write) = nix::unistd::pipe().expect("pipe");
    drop(read);
    let mut cmd = Command::new(bin);
    cmd.args(args).env("NO_COLOR", "1").stdin(Stdio::null());
    if stderr {
        cmd.stderr(Stdio::from(write)).stdout(Stdio::piped());
    } else {
        cmd.stdout(Stdio::from(write)).stderr(Stdio::piped());
    }
    let out = cmd.output().expect("spawning");
    let other = if stderr { out.stdout } else { out.stderr };
    (
        exit_code(out.status),
        String::from_utf8_lossy(&other).into_owned(),
    )
}

/// What every step must still do, whatever it adds: exactly the namespace
/// types in `new` are the container's own (from the inspector and from the
/// host's /proc), exit statuses come through, and SIGTERM to the runtime
/// reaches the command. Steps 3 to 7 run this as steps 1 and 2 do.
pub fn check_the_basics(bin: &str, new: &[&str]) {
    drop(check_namespaces(bin, new));
    check_exit_codes(
        bin,
        &[
            (&["true"], 0),
            (&["sh", "-c", "exit 3"], 3),
            (&["/no/such/command"], 127),
            (&["sh", "-c", "kill -KILL $$"], 137),
        ],
    );
    check_sigterm_reaches_the_command(bin);
}

/// An image named `probe` in `state` with the binary `bin` in it (at its
/// host path, with its libraries): the default image plus the runtime, so
/// containers can run its `probe` subcommand (step 8 on). Returns the
/// image's name for `--rootfs`.
pub fn probe_image(bin: &str, state: &TempDir) -> String {
    let built = run(bin, &["rootfs", "build", "--state-dir", state.arg()]);
    assert_eq!(built.code, 0, "{built:?}");
    let image = state.0.join("rootfs/probe");
    let ok = Command::new("cp")
        .args([
            "-a",
            built.stdout.trim(),
            image.to_str().expect("UTF-8 path"),
        ])
        .status()
        .expect("cp");
    assert!(ok.success());
    let added = run(
        bin,
        &["rootfs", "add", "--state-dir", state.arg(), "probe", bin],
    );
    assert_eq!(added.code, 0, "{added:?}");
    "probe".into()
}
