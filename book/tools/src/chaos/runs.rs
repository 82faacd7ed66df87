//! The runs: what each one is (command, flags, killed or not, when), and
//! the loop that keeps up to C of them going.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use isolab_book::ScratchDir;

/// Kills land 0..KILL_WINDOW_MS after a runtime starts: a start takes
/// 10-20 ms here (more for a debug build), so the window covers setup,
/// the command and teardown.
pub const KILL_WINDOW_MS: u64 = 60;

/// xorshift64: enough randomness for a schedule, and a seed replays it.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Where the runs live, and the binary they run.
#[derive(Debug)]
pub struct Plan {
    /// Removed when the plan is dropped (or on an early return in `new`).
    _tmp: ScratchDir,
    pub dir: PathBuf,
    pub root: PathBuf,
    pub state: PathBuf,
    pub image: String,
    pub isolab: PathBuf,
    /// In every container's name (and so its cgroup's).
    pub tag: String,
    /// nft(8) is here: a quarter of the runs use the bridge network.
    pub bridge: bool,
}

impl Plan {
    pub fn new(bin_dir: &Path) -> Result<Plan, String> {
        let tag = format!("chaos{}", std::process::id());
        let tmp = ScratchDir::new(&tag).map_err(|e| format!("a scratch dir: {e}"))?;
        let dir = tmp.0.clone();
        std::fs::create_dir_all(dir.join("logs")).map_err(|e| format!("{}: {e}", dir.display()))?;
        let isolab = bin_dir.join("isolab");
        let state = dir.join("state");
        let out = Command::new(&isolab)
            .args(["rootfs", "build", "--state-dir"])
            .arg(&state)
            .output()
            .map_err(|e| format!("{}: {e}", isolab.display()))?;
        if !out.status.success() {
            return Err(format!(
                "isolab rootfs build: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(Plan {
            _tmp: tmp,
            root: dir.join("root"),
            image: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            state,
            dir,
            isolab,
            tag,
            bridge: Command::new("nft")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()),
        })
    }

    fn isolab(&self) -> Command {
        let mut c = Command::new(&self.isolab);
        c.arg("--root").arg(&self.root);
        c
    }

    /// `isolab cleanup` for this root and state dir: what it said.
    pub fn cleanup(&self) -> String {
        let out = self
            .isolab()
            .arg("cleanup")
            .arg("--state-dir")
            .arg(&self.state)
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout).lines().count();
                format!("exit 0, {text} lines")
            }
            Ok(o) => format!(
                "exit {:?}: {}",
                o.status.code(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => format!("did not run: {e}"),
        }
    }

    /// One more run after the chaos: it must work.
    pub fn one_more_run(&self) -> Result<(), String> {
        let out = self
            .isolab()
            .args([
                "run",
                "--rootfs",
                &self.image,
                "--state-dir",
                self.state.to_str().unwrap_or_default(),
                "--",
                "sh",
                "-c",
                "echo after",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        match (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim(),
        ) {
            (true, "after") => Ok(()),
            _ => Err(format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }
}

/// What happened to the runs.
#[derive(Debug, Default)]
pub struct Tally {
    pub killed: usize,
    pub killed_early: usize,
    pub finished: usize,
    /// Runs that were not killed and did not do what they should.
    pub unexpected: Vec<String>,
}

struct InFlight {
    child: Child,
    name: String,
    started: Instant,
    kill_at: Option<Duration>,
    job: Job,
    /// SIGKILLed: its exit status says nothing.
    killed: bool,
}

enum Job {
    /// Run number `n`; a detached one is followed by an `rm -f`.
    Run { n: usize, detached: bool },
    /// The `rm -f` of a detached run (never killed).
    Remove,
}

/// Run `n` containers, up to `concurrency` at once, killing about
/// `kill_percent` of them.
pub fn run_all(
    plan: &Plan,
    n: usize,
    concurrency: usize,
    kill_percent: u64,
    rng: &mut Rng,
) -> Tally {
    let mut tally = Tally::default();
    let mut flight: Vec<InFlight> = Vec::new();
    let mut next = 0;
    let mut removals: Vec<String> = Vec::new();
    while next < n || !flight.is_empty() || !removals.is_empty() {
        while flight.len() < concurrency && (next < n || !removals.is_empty()) {
            if let Some(name) = removals.pop() {
                let mut c = plan.isolab();
                c.args(["rm", "-f", &name]);
                if let Ok(child) = quiet(&mut c, plan, &format!("rm-{name}")) {
                    flight.push(InFlight {
                        child,
                        name,
                        started: Instant::now(),
                        kill_at: None,
                        job: Job::Remove,
                        killed: false,
                    });
                }
                continue;
            }
            let (mut cmd, detached) = one_run(plan, next, rng);
            let name = format!("{}-{next}", plan.tag);
            let kill_at = (rng.below(100) < kill_percent)
                .then(|| Duration::from_millis(rng.below(KILL_WINDOW_MS)));
            match quiet(&mut cmd, plan, &next.to_string()) {
                Ok(child) => flight.push(InFlight {
                    child,
                    name,
                    started: Instant::now(),
                    kill_at,
                    job: Job::Run { n: next, detached },
                    killed: false,
                }),
                Err(e) => tally.unexpected.push(format!("run {next}: spawn: {e}")),
            }
            next += 1;
        }
        let mut i = 0;
        while i < flight.len() {
            let f = &mut flight[i];
            if let Some(at) = f.kill_at
                && f.started.elapsed() >= at
            {
                let _ = f.child.kill();
                f.kill_at = None;
                tally.killed += 1;
                if at < Duration::from_millis(15) {
                    tally.killed_early += 1;
                }
                f.killed = true;
            }
            match f.child.try_wait() {
                Ok(Some(status)) => {
                    let f = flight.swap_remove(i);
                    let Job::Run { n, detached } = f.job else {
                        continue;
                    };
                    if detached {
                        removals.push(f.name);
                    }
                    if f.killed {
                        continue;
                    }
                    tally.finished += 1;
                    if !status.success() {
                        let err = std::fs::read_to_string(plan.dir.join(format!("logs/{n}.err")))
                            .unwrap_or_default();
                        tally.unexpected.push(format!(
                            "run {n} ({status}): {}",
                            err.lines().last().unwrap_or("")
                        ));
                    }
                }
                _ => i += 1,
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    tally
}

/// Run number `i`: a short command with a random mix of flags.
fn one_run(plan: &Plan, i: usize, rng: &mut Rng) -> (Command, bool) {
    let mut c = plan.isolab();
    c.args([
        "run",
        "--name",
        &format!("{}-{i}", plan.tag),
        "--rootfs",
        &plan.image,
    ]);
    c.arg("--state-dir").arg(&plan.state);
    let detached = rng.below(5) == 0;
    if detached {
        c.arg("-d");
    }
    if rng.below(2) == 0 {
        c.args(["--memory", "64m"]);
    }
    if rng.below(2) == 0 {
        c.args(["--pids-limit", "64"]);
    }
    if rng.below(5) == 0 {
        c.arg("--init");
    }
    // The bridge needs nft(8) for its NAT table.
    if rng.below(4) == 0 && plan.bridge {
        c.args(["--network", "bridge"]);
    }
    let command: &[&str] = match rng.below(4) {
        0 => &["true"],
        1 => &["sh", "-c", "echo hi"],
        2 => &["sleep", "0.05"],
        _ => &["sh", "-c", "echo x > /tmp/f && cat /tmp/f"],
    };
    c.arg("--").args(command);
    (c, detached)
}

/// Spawn with stdin from /dev/null, stdout and stderr to logs/NAME.*.
fn quiet(c: &mut Command, plan: &Plan, name: &str) -> std::io::Result<Child> {
    let logs = plan.dir.join("logs");
    c.stdin(Stdio::null())
        .stdout(std::fs::File::create(logs.join(format!("{name}.out")))?)
        .stderr(std::fs::File::create(logs.join(format!("{name}.err")))?)
        .spawn()
}
