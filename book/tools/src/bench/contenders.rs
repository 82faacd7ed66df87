//! Who is measured, and how each is started on the same work: a container
//! that runs `/bin/true` in the same image, with the same namespaces (PID,
//! network, IPC, UTS, mount, cgroup), memory and PID limits and seccomp
//! profile. The OCI runtimes (isolab, runc, crun) get one bundle; the
//! steps their own `run -- /bin/true`; the kernel floor does only what no
//! runtime can skip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One contender.
#[derive(Debug, Clone)]
pub struct Contender {
    pub name: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// `BIN --root ROOT run --bundle BUNDLE ID` (isolab, runc, crun).
    Oci { bin: PathBuf },
    /// `isolab run -- /bin/true`, the front end (its own layer and all).
    Front { bin: PathBuf },
    /// `stepNN run [LIMITS] -- /bin/true`.
    Step { bin: PathBuf, limits: bool },
    /// The bench itself, `bench floor`.
    Floor { bin: PathBuf },
}

/// The step binaries, isolab, runc and crun where installed, and the floor.
pub fn all(bin_dir: &Path, floor: &Path, only: &[String]) -> Vec<Contender> {
    let mut out = vec![Contender {
        name: "kernel floor".into(),
        kind: Kind::Floor { bin: floor.into() },
    }];
    for (n, step) in [
        "step01-clone",
        "step02-pid-ns",
        "step03-mount-pivot",
        "step04-overlay",
        "step05-cgroups",
        "step06-capabilities",
        "step07-userns",
        "step08-seccomp",
        "step09-lsm",
    ]
    .iter()
    .enumerate()
    {
        out.push(Contender {
            name: (*step).into(),
            kind: Kind::Step {
                bin: bin_dir.join(step),
                limits: n >= 4,
            },
        });
    }
    let isolab = bin_dir.join("isolab");
    out.push(Contender {
        name: "isolab run -- true".into(),
        kind: Kind::Front {
            bin: isolab.clone(),
        },
    });
    out.push(Contender {
        name: "isolab (OCI)".into(),
        kind: Kind::Oci { bin: isolab },
    });
    for peer in ["crun", "runc"] {
        if let Some(bin) = which(peer) {
            out.push(Contender {
                name: peer.into(),
                kind: Kind::Oci { bin },
            });
        }
    }
    out.retain(|c| only.is_empty() || only.iter().any(|o| c.name.contains(o.as_str())));
    out
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

impl Contender {
    /// Is this an OCI runtime (one bundle, runc's command line)?
    pub fn oci_bin(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Oci { bin } => Some(bin),
            _ => None,
        }
    }

    /// The command of run number `n`; `work` holds the bundle and the
    /// runtimes' state roots.
    pub fn command(&self, work: &Path, n: usize) -> Command {
        match &self.kind {
            Kind::Oci { bin } => {
                let mut c = Command::new(bin);
                c.arg("--root")
                    .arg(self.root(work))
                    .args(["run", "--bundle"])
                    .arg(work.join("bundle"))
                    .arg(format!("b{n}"));
                c
            }
            Kind::Front { bin } => {
                let mut c = Command::new(bin);
                c.arg("--root")
                    .arg(self.root(work))
                    .args(["run", "--", "/bin/true"]);
                c
            }
            Kind::Step { bin, limits } => {
                let mut c = Command::new(bin);
                c.arg("run");
                if *limits {
                    c.args(["--memory", "256m", "--pids-limit", "1024"]);
                }
                c.args(["--", "/bin/true"]);
                c
            }
            Kind::Floor { bin } => {
                let mut c = Command::new(bin);
                c.arg("floor");
                c
            }
        }
    }

    /// This runtime's state root under `work`.
    pub fn root(&self, work: &Path) -> PathBuf {
        let slug: String = self
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        work.join(format!("root-{slug}"))
    }
}

// ANCHOR: floor
/// `bench floor`: what the kernel makes every runtime do. Fork (done by
/// the bench, which spawned this), unshare the same namespaces, fork the
/// container's first process (a PID namespace takes effect for children),
/// exec /bin/true, wait.
pub fn floor() -> i32 {
    let flags = libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWCGROUP;
    // SAFETY: unshare, fork, execv and waitpid with valid arguments; the
    // process is single-threaded.
    unsafe {
        if libc::unshare(flags) != 0 {
            return 1;
        }
        match libc::fork() {
            0 => {
                let path = c"/bin/true";
                let argv = [path.as_ptr(), std::ptr::null()];
                libc::execv(path.as_ptr(), argv.as_ptr());
                libc::_exit(127)
            }
            pid if pid > 0 => {
                let mut status = 0;
                libc::waitpid(pid, &mut status, 0);
                i32::from(status != 0)
            }
            _ => 1,
        }
    }
}
// ANCHOR_END: floor
