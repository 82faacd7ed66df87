//! `exec`: another process in a running container, as `docker exec`
//! starts one. Nothing is cloned this time: the new process joins what
//! the container's process already has, with setns(2) on the files of
//! /proc/PID/ns, and its cgroup by writing its PID to `cgroup.procs`.
//!
//! A PID namespace is joined only by the children of the caller
//! (setns(CLONE_NEWPID) changes where the *next* fork lands), so it takes
//! two forks: the runtime forks a helper that joins everything, and the
//! helper forks the process that sets up its privileges and execs. With
//! `--detach` the helper exits at once. Its orphan goes where the helper's
//! orphans go, by the helper's PID namespace, the host's: to the nearest
//! subreaper (an engine's shim) or to the host's init, not to the
//! container's PID 1 (runc's exec does the same).

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::unistd::ForkResult;
use serde_json::Value;

use crate::bundle::{self, Config};
use crate::error::{Error, Result};
use crate::lifecycle;
use crate::oci_state::Status;
use crate::{bpf::Program, container_init, environ, exec, security};

/// `exec`'s flags: either a whole process object (`--process FILE`, as
/// engines pass it) or the command and a few overrides.
#[derive(Debug, Clone, Default)]
pub struct ExecOpts {
    pub process: Option<PathBuf>,
    pub args: Vec<String>,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    /// `--tty`: process.terminal, the master sent to `console_socket`.
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
}

/// The namespaces joined, in this order (the mount namespace last: after
/// it, the host's /proc paths are gone).
const NAMESPACES: [(&str, CloneFlags); 6] = [
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// The process config: the container's own, with `opts` applied.
fn process_config(bundle_dir: &Path, opts: &ExecOpts) -> Result<Config> {
    let file = bundle_dir.join("config.json");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Error::Request(format!("{}: {e}", file.display())))?;
    let mut spec: Value = serde_json::from_str(&text)
        .map_err(|e| Error::Request(format!("{}: not JSON: {e}", file.display())))?;
    if let Some(path) = &opts.process {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Request(format!("--process {}: {e}", path.display())))?;
        spec["process"] = serde_json::from_str(&text)
            .map_err(|e| Error::Request(format!("--process {}: not JSON: {e}", path.display())))?;
    } else {
        if opts.args.is_empty() {
            return Err(Error::BadFlag(
                "exec needs a command, or --process FILE".into(),
            ));
        }
        let process = &mut spec["process"];
        process["args"] = serde_json::json!(opts.args);
        if let Some(cwd) = &opts.cwd {
            process["cwd"] = serde_json::json!(cwd);
        }
        let mut env: Vec<String> = process["env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(str::to_string))
            .collect();
        for kv in &opts.env {
            let key = kv.split('=').next().unwrap_or("");
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        process["env"] = serde_json::json!(env);
        if let Some(user) = &opts.user {
            let u = crate::user::parse(user).map_err(|e| Error::BadFlag(format!("--user {e}")))?;
            process["user"] = serde_json::json!({"uid": u.uid, "gid": u.gid});
        }
        for cap in &opts.caps {
            let name = if cap.starts_with("CAP_") {
                cap.clone()
            } else {
                format!("CAP_{cap}")
            };
            for set in ["bounding", "effective", "permitted"] {
                if let Some(list) = process["capabilities"][set].as_array_mut() {
                    list.push(Value::String(name.clone()));
                }
            }
        }
        if opts.no_new_privs {
            process["noNewPrivileges"] = Value::Bool(true);
        }
        process["terminal"] = Value::Bool(opts.tty);
    }
    if opts.tty {
        spec["process"]["terminal"] = Value::Bool(true);
    }
    // The process is checked like the container's, by path.
    bundle::parse(bundle_dir, &spec)
}

// ANCHOR: exec
/// Run a process in the running container `id`; its exit status, or 0
/// with `--detach` once it runs.
pub fn exec(root: &Path, id: &str, opts: &ExecOpts) -> Result<i32> {
    let (_, record) = lifecycle::load(root, id)?;
    if record.status != Status::Running {
        return Err(Error::Request(format!(
            "cannot exec in a container that is {}",
            record.status
        )));
    }
    let config = process_config(&record.bundle, opts)?;
    let console = match (&opts.console_socket, config.terminal) {
        (Some(path), true) => Some(crate::console::connect(path)?),
        (None, false) => None,
        (None, true) => {
            return Err(Error::BadFlag(
                "a terminal (--tty, process.terminal) needs --console-socket".into(),
            ));
        }
        (Some(_), false) => {
            return Err(Error::BadFlag(
                "--console-socket is for a terminal: add --tty".into(),
            ));
        }
    };
    let filter = security::seccomp(&config)?;
    let agent = match &config.seccomp_listener {
        Some((path, _)) => Some(crate::seccomp_agent::connect(path)?),
        None => None,
    };
    let state: serde_json::Value = serde_json::from_str(&record.json()).unwrap_or_default();
    // Opened now, from the host's /proc, before anything is joined.
    let mut namespaces = Vec::new();
    // A user namespace of its own first: it owns the others, and joining
    // it gives the capabilities the other setns calls need (a rootless
    // container's runtime has none on the host). Namespaces it shares
    // with us (a rootless container's network) are not joined: setns
    // into the host's would be refused from inside the user namespace.
    let user = [("user", CloneFlags::CLONE_NEWUSER)];
    for (name, flag) in user.into_iter().chain(NAMESPACES) {
        let path = format!("/proc/{}/ns/{name}", record.pid);
        let ours = std::fs::read_link(format!("/proc/self/ns/{name}")).ok();
        if std::fs::read_link(&path).ok() == ours {
            continue;
        }
        let fd = std::fs::File::open(&path).map_err(|e| Error::io(format!("opening {path}"), e))?;
        namespaces.push((OwnedFd::from(fd), flag, name));
    }
    let cgroup = lifecycle::cgroup_dirs(&record);
    let (mut from_helper, to_runtime) =
        std::os::unix::net::UnixStream::pair().map_err(|e| Error::io("socketpair", e))?;
    // In the foreground, a signal to us (an engine's SIGTERM, ^C) goes on
    // to the helper and from it to the process: blocked here, taken with
    // sigwait by each (the process unblocks them at its execve).
    if !opts.detach {
        crate::signals::block()?;
    }
    // SAFETY: the runtime is single-threaded; the child only makes
    // syscalls and execs or exits.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::syscall("fork", e))? {
        ForkResult::Child => {
            drop(from_helper);
            let what = Process {
                config: &config,
                filter: filter.as_ref(),
                console: console.as_ref(),
                agent: agent.as_ref(),
                state: &state,
            };
            let code = match helper(&namespaces, &cgroup, &what, opts.detach, to_runtime) {
                Ok(code) => code,
                Err(e) => {
                    crate::cli::warn(&format!("isolab: exec: {e}"));
                    1
                }
            };
            std::process::exit(code);
        }
        ForkResult::Parent { child: helper_pid } => {
            drop(to_runtime);
            let mut text = String::new();
            let _ = from_helper.read_to_string(&mut text); // its child's PID, at EOF
            let status = if opts.detach {
                nix::sys::wait::waitpid(helper_pid, None)
                    .map_err(|e| Error::syscall("waitpid", e))?
            } else {
                crate::signals::supervise(helper_pid, |_, _| {})?
            };
            let code = crate::signals::exit_code(status);
            if let (Some(file), Ok(pid)) = (&opts.pid_file, text.trim().parse::<i32>()) {
                std::fs::write(file, pid.to_string())
                    .map_err(|e| Error::io(format!("writing {}", file.display()), e))?;
            }
            Ok(code)
        }
    }
}
// ANCHOR_END: exec

/// The helper: into the cgroup and the namespaces, then fork the process.
///
/// The cgroup without the slow move `create` also avoids (see
/// Cgroup::join_self_v1): in each v1 hierarchy the helper moves itself
/// (`0` into `tasks`: a thread moving itself takes no threadgroup lock),
/// and the process is born in the v2 cgroup (clone3's CLONE_INTO_CGROUP).
/// Writing a PID to `cgroup.procs` waits for an RCU grace period; it is
/// the fallback, and the way in before joining a user namespace.
fn helper(
    namespaces: &[(OwnedFd, CloneFlags, &str)],
    (v2, v1): &(Option<PathBuf>, Vec<PathBuf>),
    what: &Process,
    detach: bool,
    mut to_runtime: std::os::unix::net::UnixStream,
) -> Result<i32> {
    let me = std::process::id().to_string();
    let write = |file: PathBuf, text: &str| {
        std::fs::write(&file, text).map_err(|e| Error::io(format!("writing {}", file.display()), e))
    };
    for dir in v1 {
        write(dir.join("tasks"), "0")?;
    }
    let joins_user = namespaces
        .iter()
        .any(|(_, f, _)| *f == CloneFlags::CLONE_NEWUSER);
    let mut born_into = None;
    if let Some(dir) = v2 {
        match std::fs::File::open(dir) {
            Ok(fd) if !joins_user => born_into = Some(fd),
            _ => write(dir.join("cgroup.procs"), &me)?,
        }
    }
    for (fd, flag, name) in namespaces {
        nix::sched::setns(fd.as_fd(), *flag)
            .map_err(|e| Error::syscall(format!("setns({name})"), e))?;
    }
    let body = || {
        let err = match process(what) {
            Ok(never) => match never {},
            Err(e) => e,
        };
        crate::cli::warn(&format!("isolab: exec: {err}"));
        if matches!(err, Error::Exec { code: 126, .. }) {
            126
        } else {
            127
        }
    };
    let born = born_into
        .as_ref()
        .map(|dir| crate::clone::clone3(CloneFlags::empty(), dir.as_fd(), body));
    let child = match born {
        Some(Ok(pid)) => pid,
        other => {
            if let (Some(Err(e)), Some(dir)) = (other, v2) {
                crate::explain::note(&format!(
                    "clone3(CLONE_INTO_CGROUP): {e}: the PID into cgroup.procs"
                ));
                write(dir.join("cgroup.procs"), &me)?;
            }
            crate::clone::clone(CloneFlags::empty(), body)?
        }
    };
    let _ = to_runtime.write_all(child.as_raw().to_string().as_bytes());
    drop(to_runtime);
    if detach {
        return Ok(0); // a subreaper (the engine's shim) adopts it
    }
    let status = crate::signals::supervise(child, |_, _| {})?;
    Ok(crate::signals::exit_code(status))
}

/// What the exec'd process is set up with.
struct Process<'a> {
    config: &'a Config,
    filter: Option<&'a Program>,
    console: Option<&'a OwnedFd>,
    /// The seccomp agent's socket, for a filter that notifies.
    agent: Option<&'a OwnedFd>,
    /// The container's state, for the agent.
    state: &'a serde_json::Value,
}

/// The exec'd process, in the PID namespace now: privileges as the
/// container's process got them, then execve.
fn process(what: &Process) -> Result<std::convert::Infallible> {
    let (config, filter, console) = (what.config, what.filter, what.console);
    // A notifying filter's listener goes to the agent, as the container's.
    let hand_over = |listener: Option<OwnedFd>| -> Result<()> {
        if let (Some(listener), Some(agent), Some((_, metadata))) =
            (listener, what.agent, &config.seccomp_listener)
        {
            crate::seccomp_agent::send(agent, &listener, what.state, metadata)?;
        }
        Ok(())
    };
    // The container's processes see it from now on: until its execve it
    // holds the runtime's fds and full capabilities, so not dumpable (its
    // /proc/PID/fd closed to them), as runc's setns process is.
    crate::prctl::set_dumpable(false)?;
    // a pty of the container's devpts: the mount namespace is joined
    if let Some(socket) = console {
        crate::console::setup(socket, config.console_size, config.uid)?;
    }
    environ::replace(&config.env)?;
    container_init::enter_cwd(&config.cwd)?;
    let early = !config.no_new_privileges;
    if early && let Some(f) = filter {
        hand_over(f.install()?)?;
    }
    container_init::privileges(config)?;
    let late = filter.filter(|_| !early);
    Err(exec::execvp_then(&config.args, &mut || match late {
        Some(f) => hand_over(f.install()?),
        None => Ok(()),
    }))
}
