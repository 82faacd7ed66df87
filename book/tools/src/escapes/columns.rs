//! The matrix's columns: the attack program run on the host itself, then
//! inside every step and `isolab`, and `isolab` as a normal user. Each
//! runs the program once (`attack all`: every attack in a child of its
//! own) and gives back its output.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::world::{IMAGE_MARKER, World};

/// One column: its header, the mechanism its step adds, and how it runs.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    /// The mechanism's short name, in the matrix's cells.
    pub short: &'static str,
    pub adds: &'static str,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Host,
    /// A step without a root filesystem of its own (1 and 2).
    HostRoot(&'static str),
    /// A step with an image (3 and 4), and with limits (5 on).
    Image(&'static str, bool),
    Isolab,
    Rootless,
}

/// Every column, in order.
pub const COLUMNS: &[Column] = &[
    Column {
        name: "host",
        short: "host",
        adds: "nothing: the program run as root on the host",
        kind: Kind::Host,
    },
    Column {
        name: "1",
        short: "uts",
        adds: "a UTS namespace",
        kind: Kind::HostRoot("step01-clone"),
    },
    Column {
        name: "2",
        short: "pid",
        adds: "a PID namespace",
        kind: Kind::HostRoot("step02-pid-ns"),
    },
    Column {
        name: "3",
        short: "mnt",
        adds: "a mount namespace, pivot_root, masked /proc",
        kind: Kind::Image("step03-mount-pivot", false),
    },
    Column {
        name: "4",
        short: "overlay",
        adds: "an overlay over a read-only image",
        kind: Kind::Image("step04-overlay", false),
    },
    Column {
        name: "5",
        short: "cgroup",
        adds: "cgroup limits and a cgroup namespace",
        kind: Kind::Image("step05-cgroups", true),
    },
    Column {
        name: "6",
        short: "caps",
        adds: "capabilities dropped, no_new_privs",
        kind: Kind::Image("step06-capabilities", true),
    },
    Column {
        name: "7",
        short: "userns",
        adds: "a user namespace",
        kind: Kind::Image("step07-userns", true),
    },
    Column {
        name: "8",
        short: "seccomp",
        adds: "a seccomp filter",
        kind: Kind::Image("step08-seccomp", true),
    },
    Column {
        name: "9",
        short: "lsm",
        adds: "Landlock (and AppArmor or SELinux where on)",
        kind: Kind::Image("step09-lsm", true),
    },
    Column {
        name: "isolab",
        short: "isolab",
        adds: "network, IPC and time namespaces; everything above",
        kind: Kind::Isolab,
    },
    Column {
        name: "rootless",
        short: "rootless",
        adds: "isolab run by a normal user (uid 1000), no cgroup",
        kind: Kind::Rootless,
    },
];

/// The limits every column from step 5 on is given (the fork bomb and
/// the memory hog's bounds).
const LIMITS: [&str; 4] = ["--memory", "256m", "--pids-limit", "256"];

impl Column {
    /// Run the attack program in this column: its stdout and exit status.
    pub fn run(&self, bin_dir: &Path, world: &World) -> Result<(String, i32), String> {
        let inside = format!("/{IMAGE_MARKER}");
        let state = world.dir.join("state");
        let image = world.image.display().to_string();
        let mut cmd = match self.kind {
            Kind::Host => {
                let mut c = Command::new(&world.attack);
                c.args(world.args(&world.image_marker().display().to_string()));
                c
            }
            Kind::HostRoot(step) => {
                let mut c = Command::new(bin_dir.join(step));
                c.args(["run", "--"]).arg(&world.attack);
                c.args(world.args(&world.image_marker().display().to_string()));
                c
            }
            Kind::Image(step, limits) => {
                let mut c = Command::new(bin_dir.join(step));
                c.args(["run", "--rootfs", &image, "--state-dir"])
                    .arg(&state);
                if limits {
                    c.args(LIMITS);
                }
                c.args(["--", "/attack"]).args(world.args(&inside));
                c
            }
            Kind::Isolab => {
                let mut c = Command::new(bin_dir.join("isolab"));
                c.arg("--root").arg(world.dir.join("root"));
                c.args(["run", "--rootfs", &image]).args(LIMITS);
                c.args(["--", "/attack"]).args(world.args(&inside));
                c
            }
            Kind::Rootless => rootless(bin_dir, world, &image, &inside)?,
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(&world.secret_dir);
        // The runtime's caller holds a host directory open as fd 5, not
        // close-on-exec: `leaked-fd` looks for it.
        // SAFETY: dup2 and fcntl are async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                if fd == 5 {
                    libc::fcntl(5, libc::F_SETFD, 0);
                } else {
                    libc::dup2(fd, 5);
                }
                Ok(())
            });
        }
        let out_path = world.dir.join(format!("out-{}", self.name));
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).map_err(|e| e.to_string())?)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("column {}: {e}", self.name))?;
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
                break s;
            }
            if start.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("column {} ran over 120 s", self.name));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        let out = std::fs::read_to_string(&out_path).unwrap_or_default();
        if out.trim().is_empty() {
            return Err(format!(
                "column {}: no output ({status}): {}",
                self.name,
                err.trim()
            ));
        }
        Ok((out, status.code().unwrap_or(-1)))
    }
}

/// `isolab run` as uid 1000, from a copy of the binary it may execute,
/// with a home and runtime directory of its own under the world's dir.
fn rootless(bin_dir: &Path, world: &World, image: &str, inside: &str) -> Result<Command, String> {
    let dir = world.dir.join("rootless");
    let home = dir.join("home");
    std::fs::create_dir_all(home.join("run")).map_err(|e| e.to_string())?;
    let bin = dir.join("isolab");
    if !bin.exists() {
        std::fs::copy(bin_dir.join("isolab"), &bin).map_err(|e| format!("copy isolab: {e}"))?;
    }
    let _ = Command::new("chmod").arg("755").arg(&dir).status();
    let ok = Command::new("chown")
        .args(["-R", "1000:1000"])
        .arg(&home)
        .status();
    if !ok.is_ok_and(|s| s.success()) {
        return Err("chown of the rootless home failed".into());
    }
    let mut c = Command::new("setpriv");
    c.args(["--reuid=1000", "--regid=1000", "--clear-groups"])
        .arg(&bin);
    c.args(["run", "--rootfs", image, "--", "/attack"])
        .args(world.args(inside));
    c.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", home.join("run"));
    Ok(c)
}
