//! The OCI lifecycle, as engines drive it: `create` sets a container up and
//! leaves its process waiting, `start` lets it run, `state` reports,
//! `kill` signals, `delete` removes what is left. Each is a separate
//! invocation of `isolab`; what connects them is the state directory
//! `<root>/<id>/` (the record and the start FIFO) and the kernel's view of
//! the process.
//!
//! ```text
//!   create ──> created ──start──> running ──(exits / kill)──> stopped ──delete──> (gone)
//!                 └──────────────────── delete (kills it) ─────────────────────────┘
//! ```

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::bundle::{self, Config};
use crate::cgroup::{Cgroup, Layout};
use crate::container::start_time;
use crate::container_init::{self, Setup};
use crate::error::{Error, Result};
use crate::explain::{self, Role};
use crate::oci_state::{self, FIFO, OCI_VERSION, Record, Status};
use crate::sync::{self, ChildEnd, FifoGate};
use crate::{cgroup_sweep, clone, hooks, security, signals};

/// The flags `create` and `run` share.
#[derive(Debug, Clone)]
pub struct CreateOpts {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub no_new_keyring: bool,
    /// `--systemd-cgroup`: cgroupsPath is slice:prefix:name.
    pub systemd_cgroup: bool,
    /// `--rootless`: run without root (a user namespace of the config's;
    /// no cgroup where none is delegated).
    pub rootless: bool,
    /// Where to send the pty master when process.terminal is true.
    pub console_socket: Option<PathBuf>,
    /// `--preserve-fds N`: fds 3 to 3+N-1 go to the container's process.
    pub preserve_fds: i32,
    /// The container's stdout and stderr go to this file (appended)
    /// instead of the runtime's (the front end's `run -d` log).
    pub output: Option<PathBuf>,
}

/// `<root>/<id>`, for an ID that must name no directory trick.
pub fn dir_of(root: &Path, id: &str) -> Result<PathBuf> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if !ok {
        return Err(Error::BadFlag(format!(
            "invalid container ID {id:?}: letters, digits, _ + - . only"
        )));
    }
    Ok(root.join(id))
}

/// The record of `id`, its status as the kernel shows it now.
pub fn load(root: &Path, id: &str) -> Result<(PathBuf, Record)> {
    let dir = dir_of(root, id)?;
    if !dir.join(oci_state::STATE_FILE).exists() {
        return Err(Error::Request(format!("container {id} does not exist")));
    }
    let record = Record::read(&dir)?.refreshed(&dir);
    Ok((dir, record))
}

// ANCHOR: create
/// `create`: everything set up, the process waiting on the start FIFO.
/// Returns the process, which this invocation's caller may wait for
/// (`run`); `create` itself just exits.
pub fn create(root: &Path, id: &str, opts: &CreateOpts) -> Result<Pid> {
    let dir = dir_of(root, id)?;
    // Before this process opens anything: an fd number the engine did not
    // pass would otherwise be one of ours (a namespace, the FIFO) handed
    // to the container.
    for fd in 3..3 + opts.preserve_fds {
        // SAFETY: F_GETFD only reads the flags of an fd number.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(Error::BadFlag(format!(
                "--preserve-fds {}: fd {fd} is not open",
                opts.preserve_fds
            )));
        }
    }
    let config = bundle::load(&opts.bundle)?; // checked before anything is made
    // A normal user can't make the other namespaces without a user
    // namespace of its own; root inside one (rootless podman runs its
    // runtime so) can, and its engine gave no user namespace on purpose.
    let root_in_userns = nix::unistd::geteuid().is_root() && !crate::pseudofs::real_root();
    if opts.rootless && !root_in_userns && !config.namespaces.iter().any(|n| n == "user") {
        return Err(Error::Request(
            "rootless: config.json needs a new user namespace (isolab spec --rootless writes one)"
                .into(),
        ));
    }
    std::fs::create_dir_all(root)
        .map_err(|e| Error::io(format!("creating {}", root.display()), e))?;
    let mut record = Record {
        oci_version: OCI_VERSION.into(),
        id: id.into(),
        status: Status::Creating,
        pid: 0,
        bundle: config.bundle.clone(),
        rootfs: config.rootfs.clone(),
        created: oci_state::now_rfc3339(),
        owner: owner(),
        annotations: config.annotations.clone(),
        start_time: 0,
        cgroup: None,
        creator: Some((
            std::process::id() as i32,
            start_time(std::process::id() as i32).unwrap_or(0),
        )),
        hooks: config.hooks.clone(),
    };
    publish(root, id, &record)?;
    let mut undo = Undo {
        dir: Some(dir.clone()),
        cgroup: None,
        child: None,
    };
    let fifo = FifoGate::create(&dir.join(FIFO))?;
    // Container root opens it for writing: with a user namespace that is
    // another host id, which must own it (mode 0600).
    if let Some(maps) = maps_of(&config) {
        let host =
            |list: &[crate::userns::IdMap]| list.iter().find(|m| m.inside == 0).map(|m| m.outside);
        std::os::unix::fs::chown(&fifo.0, host(&maps.uid), host(&maps.gid))
            .map_err(|e| Error::io("chown of the start FIFO to container root", e))?;
    }
    // O_PATH: the child reopens it through /proc/self/fd after pivot_root.
    let fifo_fd: OwnedFd = nix::fcntl::open(
        &fifo.0,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::syscall("open(exec.fifo, O_PATH)", e))?;
    // Compiled and looked up here, once, before anything of the
    // container exists; the child only installs and writes them.
    let filter = security::seccomp(&config)?;
    let apparmor = match &config.apparmor_profile {
        Some(p) => crate::apparmor::prepare(Some(p), &crate::state::State::new(None))?,
        None => None,
    };
    let selinux = security::selinux(&config)?;
    let joins = open_joins(&config)?;
    let seccomp_agent = match &config.seccomp_listener {
        Some((path, _)) => Some(crate::seccomp_agent::connect(path)?),
        None => None,
    };
    let console = match (&opts.console_socket, config.terminal) {
        (Some(path), true) => Some(crate::console::connect(path)?),
        (None, false) => None,
        (None, true) => {
            return Err(Error::Request(
                "config.json: process.terminal: true needs --console-socket (where the engine takes the pty)".into(),
            ));
        }
        (Some(_), false) => {
            return Err(Error::BadFlag(
                "--console-socket is for a terminal: config.json's process.terminal is false"
                    .into(),
            ));
        }
    };
    let layout = Layout::detect()?;
    let cgroup =
        crate::cgroups_path::resolve(config.cgroups_path.as_deref(), opts.systemd_cgroup, id)?;
    let mut cg = if opts.rootless {
        Cgroup::create_at_or_skip(&layout, &cgroup, &config.limits)?
    } else {
        Cgroup::create_at(&layout, &cgroup, &config.limits)?
    };
    let have_cgroup = !cg.name.is_empty();
    undo.cgroup = have_cgroup.then(|| cg.name.clone());
    match &config.device_rules {
        Some(rules) if have_cgroup => crate::device_rules::apply(&layout, &mut cg, rules)?, // before the process joins
        // In a user namespace no device node can be made, only the
        // host's bound (with their own modes): nothing for rules to stop.
        Some(_) => explain::note("no cgroup: linux.resources.devices not applied"),
        None => {}
    }
    crate::resources::apply_unified(&layout, &cg, &config.unified)?;
    record.cgroup = have_cgroup.then(|| cg.name.clone());
    // The maps as this user may write them (a normal user's own ids
    // directly, more through newuidmap).
    let maps = maps_of(&config).map(|mut maps| {
        if opts.rootless {
            rootless_maps(&mut maps);
        }
        maps
    });
    let output = opts
        .output
        .as_ref()
        .map(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map(OwnedFd::from)
                .map_err(|e| Error::io(format!("opening {}", path.display()), e))
        })
        .transpose()?;
    let (mut runtime, child_end) = sync::channel()?;
    let mut child_end = Some(child_end);
    let setup = Setup {
        config: &config,
        cg: &cg,
        fifo: &fifo_fd,
        new_keyring: !opts.no_new_keyring,
        filter: filter.as_ref(),
        apparmor: apparmor.as_deref(),
        selinux: selinux.as_ref(),
        state_dir: &dir,
        joins: &joins,
        console: console.as_ref(),
        output: output.as_ref(),
        preserve_fds: opts.preserve_fds,
        maps: maps.as_ref(),
        seccomp_agent: seccomp_agent.as_ref(),
        host_mnt: std::fs::read_link("/proc/self/ns/mnt").ok(),
    };
    // A PID namespace is joined by the parent: setns(CLONE_NEWPID) moves
    // where our next child lands, which is the container's process.
    if let Some((fd, _, _)) = joins
        .iter()
        .find(|(_, f, _)| *f == CloneFlags::CLONE_NEWPID)
    {
        nix::sched::setns(fd, CloneFlags::CLONE_NEWPID)
            .map_err(|e| Error::syscall("setns(pid)", e))?;
    }
    let userns = joins
        .iter()
        .find(|(_, f, _)| *f == CloneFlags::CLONE_NEWUSER);
    let flags = clone_flags(&config);
    // ANCHOR: born_inside
    // On v2 (or a hybrid host's unified part) the child is born in its
    // cgroup (clone3's CLONE_INTO_CGROUP): no move, and none of the
    // milliseconds a move costs (see Cgroup::join_self_v1). The v1
    // hierarchies the child joins itself, before sync 0.
    let v2_dir = cg.v2.as_ref().and_then(|d| std::fs::File::open(d).ok());
    let mut born_inside = false;
    let child = match (userns, &v2_dir) {
        (None, Some(dir)) => {
            use std::os::fd::AsFd;
            match clone::clone3(flags, dir.as_fd(), || child(&setup, &mut child_end)) {
                Ok(pid) => {
                    born_inside = true;
                    pid
                }
                Err(e) => {
                    explain::note(&format!(
                        "clone3(CLONE_INTO_CGROUP): {e}: clone(2), then the PID into cgroup.procs"
                    ));
                    clone::clone(flags, || child(&setup, &mut child_end))?
                }
            }
        }
        (None, None) => clone::clone(flags, || child(&setup, &mut child_end))?,
        (Some((fd, _, _)), _) => clone_in(fd, flags, || child(&setup, &mut child_end))?,
    };
    // ANCHOR_END: born_inside
    drop(child_end);
    undo.child = Some(child);
    if let Some(maps) = &maps {
        crate::userns::write_maps(child.as_raw(), maps)?; // before the child may act
    }
    if userns.is_some() {
        // The joined namespace's container root opens the start FIFO.
        chown_to_root_of(&fifo.0, child.as_raw())?;
    }
    if !born_inside {
        cg.join_v2(child.as_raw())?;
    }
    runtime.parent_done()?; // sync 0
    // ANCHOR: idmapped
    // Idmapped binds: only the host's root may make them, so the runtime
    // does, with the child's user namespace now that its maps are written,
    // and sends each to the child (SCM_RIGHTS) in the order it mounts.
    for m in config.mounts.iter().filter(|m| m.idmapped) {
        let recursive = m.options.iter().any(|o| o == "rbind");
        let tree =
            crate::idmap::create_with(std::path::Path::new(&m.source), child.as_raw(), recursive)?;
        use std::os::fd::AsFd;
        runtime.send_fd(Some(tree.as_fd()))?;
    }
    // ANCHOR_END: idmapped
    // ANCHOR: hooks
    // The child's namespaces and mounts are made, pivot_root not yet: the
    // runtime's hooks run now, with the process in the state they read.
    sync::expect_ready(&mut runtime, child)?;
    record.pid = child.as_raw();
    record.start_time = start_time(child.as_raw()).unwrap_or(0);
    record.write(&dir)?;
    hooks::run_all("prestart", &config.hooks.prestart, &record.json())?;
    hooks::run_all(
        "createRuntime",
        &config.hooks.create_runtime,
        &record.json(),
    )?;
    runtime.go()?; // the child runs createContainer, then pivots
    // ANCHOR_END: hooks
    sync::expect_ready(&mut runtime, child)?; // set up, waiting for start
    record.pid = child.as_raw();
    record.start_time = start_time(child.as_raw()).unwrap_or(0);
    record.status = Status::Created;
    record.creator = None;
    record.write(&dir)?;
    if let Some(file) = &opts.pid_file {
        write_pid_file(file, child.as_raw())?;
    }
    cg.disarm(); // `delete` removes it
    undo.disarm();
    Ok(child)
}
// ANCHOR_END: create

// ANCHOR: publish
/// Make `<root>/<id>` with its record, whole or not at all: the record is
/// written in `.<id>.<pid>.tmp` (a name the steps' sweep leaves alone
/// while this process lives), which renameat2(RENAME_NOREPLACE) puts in
/// place. That rename is the ID lock: of two `create`s of one ID, one
/// gets EEXIST; and no sweep ever sees the directory without its record.
fn publish(root: &Path, id: &str, record: &Record) -> Result<()> {
    let tmp = root.join(format!(".{id}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp).map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
    if let Err(e) = record.write(&tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap_or_default();
    let (from, to) = (c(&tmp), c(&root.join(id)));
    // SAFETY: two NUL-terminated paths, AT_FDCWD.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let errno = nix::errno::Errno::last();
    let _ = std::fs::remove_dir_all(&tmp);
    match errno {
        nix::errno::Errno::EEXIST => Err(Error::Request(format!(
            "container with id {id} already exists"
        ))),
        e => Err(Error::syscall(
            format!("renameat2({}, RENAME_NOREPLACE)", root.join(id).display()),
            e,
        )),
    }
}
// ANCHOR_END: publish

/// The namespaces config.json names by path, opened here (host paths),
/// with the setns(2) flag of their type.
pub fn open_joins(config: &Config) -> Result<Vec<(OwnedFd, CloneFlags, String)>> {
    let mut out = Vec::new();
    for (kind, path) in &config.joins {
        let flag = match kind.as_str() {
            "pid" => CloneFlags::CLONE_NEWPID,
            "uts" => CloneFlags::CLONE_NEWUTS,
            "ipc" => CloneFlags::CLONE_NEWIPC,
            "network" => CloneFlags::CLONE_NEWNET,
            "cgroup" => CloneFlags::CLONE_NEWCGROUP,
            "time" => crate::timens::flag(),
            "user" => CloneFlags::CLONE_NEWUSER,
            "mount" => CloneFlags::CLONE_NEWNS,
            other => {
                // never skip one: the process would stay in the host's
                return Err(Error::Request(format!(
                    "config.json: linux.namespaces: joining a {other} namespace is not supported by isolab"
                )));
            }
        };
        let file = std::fs::File::open(path).map_err(|e| {
            Error::Request(format!(
                "config.json: linux.namespaces: {kind} {}: {e}",
                path.display()
            ))
        })?;
        out.push((OwnedFd::from(file), flag, kind.clone()));
    }
    Ok(out)
}

// ANCHOR: clone_in
/// clone(2) with the new namespaces owned by the user namespace `userns`
/// (config.json joins one by path: a pod's). Namespaces belong to the
/// user namespace of the process that makes them, so the clone must come
/// from inside it: a short-lived launcher joins it with setns(2), clones
/// the container's process and exits. As a subreaper, this process
/// becomes the new process's parent, as if it had cloned it itself.
fn clone_in(userns: &OwnedFd, flags: CloneFlags, mut f: impl FnMut() -> isize) -> Result<Pid> {
    use std::io::{Read, Write};
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| Error::syscall("prctl(PR_SET_CHILD_SUBREAPER)", e))?;
    let (mut from_launcher, mut to_runtime) =
        std::os::unix::net::UnixStream::pair().map_err(|e| Error::io("socketpair", e))?;
    // SAFETY: single-threaded (checked by clone::clone's assertion in
    // debug builds); the launcher only makes syscalls and exits.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::syscall("fork", e))? {
        nix::unistd::ForkResult::Child => {
            drop(from_launcher);
            let launched = nix::sched::setns(userns, CloneFlags::CLONE_NEWUSER)
                .map_err(|e| Error::syscall("setns(user)", e))
                .and_then(|()| clone::clone(flags, &mut f));
            let code = match launched {
                Ok(pid) => {
                    let _ = to_runtime.write_all(pid.as_raw().to_string().as_bytes());
                    0
                }
                Err(e) => {
                    crate::cli::warn(&format!("isolab: {e}"));
                    1
                }
            };
            // SAFETY: _exit ends the launcher without running the
            // runtime's exit handlers or destructors a second time.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child: launcher } => {
            drop(to_runtime);
            let mut text = String::new();
            let _ = from_launcher.read_to_string(&mut text);
            let _ = nix::sys::wait::waitpid(launcher, None);
            explain::syscall("setns(user) and clone in a launcher", text.trim());
            text.trim().parse().map(Pid::from_raw).map_err(|_| {
                Error::Request("the launcher in the joined user namespace failed".into())
            })
        }
    }
}
// ANCHOR_END: clone_in

/// Give `file` to the host ids container root has in `pid`'s user
/// namespace (read from its uid_map and gid_map).
fn chown_to_root_of(file: &Path, pid: i32) -> Result<()> {
    let root_of = |map: &str| -> Option<u32> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/{map}")).ok()?;
        text.lines().find_map(|l| {
            let v: Vec<u32> = l
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            (v.len() == 3 && v[0] == 0).then(|| v[1])
        })
    };
    std::os::unix::fs::chown(file, root_of("uid_map"), root_of("gid_map"))
        .map_err(|e| Error::io("chown of the start FIFO to container root", e))
}

/// The namespaces the clone makes; the cgroup one is unshared by the child
/// after it joined its cgroup (its root is then that cgroup).
fn clone_flags(config: &Config) -> CloneFlags {
    let mut flags = CloneFlags::empty();
    for ns in &config.namespaces {
        flags |= match ns.as_str() {
            "pid" => CloneFlags::CLONE_NEWPID,
            "mount" => CloneFlags::CLONE_NEWNS,
            "uts" => CloneFlags::CLONE_NEWUTS,
            "ipc" => CloneFlags::CLONE_NEWIPC,
            "network" => CloneFlags::CLONE_NEWNET,
            "user" => CloneFlags::CLONE_NEWUSER,
            _ => CloneFlags::empty(),
        };
    }
    flags
}

/// How a normal user's kernel lets the maps be written: its own ids alone
/// directly (with setgroups denied), anything more through newuidmap and
/// newgidmap and the user's /etc/subuid ranges (step 7).
fn rootless_maps(maps: &mut crate::userns::Maps) {
    let own = |list: &[crate::userns::IdMap], id: u32| {
        list.len() == 1 && list[0].outside == id && list[0].count == 1
    };
    let (uid, gid) = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    maps.single = own(&maps.uid, uid) && own(&maps.gid, gid);
    maps.helpers = !maps.single;
}

/// The user namespace's maps, as step 7 writes them.
pub fn maps_of(config: &Config) -> Option<crate::userns::Maps> {
    (!config.uid_mappings.is_empty()).then(|| crate::userns::Maps {
        uid: config.uid_mappings.clone(),
        gid: config.gid_mappings.clone(),
        helpers: false,
        single: false,
    })
}

fn child(setup: &Setup, chan: &mut Option<ChildEnd>) -> isize {
    explain::set_role(Role::Init);
    sync::child_main(chan, |chan| container_init::run(setup, chan))
}

/// What a failed `create` takes back: the process, the cgroup, the state.
struct Undo {
    dir: Option<PathBuf>,
    cgroup: Option<String>,
    child: Option<Pid>,
}

impl Undo {
    fn disarm(&mut self) {
        self.dir = None;
        self.cgroup = None;
        self.child = None;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(child) = self.child {
            let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(child, None);
        }
        if let (Some(name), Ok(layout)) = (&self.cgroup, Layout::detect()) {
            cgroup_sweep::remove_named(&layout, name);
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Written whole: an engine may read it the moment `create` exits.
fn write_pid_file(file: &Path, pid: i32) -> Result<()> {
    let tmp = file.with_extension(format!("isolab-{}", std::process::id()));
    std::fs::write(&tmp, pid.to_string())
        .and_then(|()| std::fs::rename(&tmp, file))
        .map_err(|e| Error::io(format!("writing the PID file {}", file.display()), e))
}

fn owner() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default()
}

// ANCHOR: start
/// `start`: open the FIFO for reading, which lets the waiting process's
/// open for writing finish; it writes a byte and execs the command.
pub fn start(root: &Path, id: &str) -> Result<()> {
    let (dir, record) = load(root, id)?;
    if record.status != Status::Created {
        return Err(Error::Request(format!(
            "cannot start a container that is {} (only a created one)",
            record.status
        )));
    }
    FifoGate::open(&dir.join(FIFO))?;
    // Gone: from now on `state` says running.
    let _ = std::fs::remove_file(dir.join(FIFO));
    let record = record.refreshed(&dir);
    hooks::run_all_warning("poststart", &record.hooks.poststart, &record.json());
    Ok(())
}
// ANCHOR_END: start

/// `state`: the record as JSON, status worked out now.
pub fn state(root: &Path, id: &str) -> Result<String> {
    let (_, record) = load(root, id)?;
    Ok(serde_json::to_string_pretty(&record.printed()).unwrap_or_default())
}

/// `kill`: a signal to the container's process, or (`all`) to every
/// process of its cgroup.
pub fn kill(root: &Path, id: &str, signal: Signal, all: bool) -> Result<()> {
    let (_, record) = load(root, id)?;
    if record.status == Status::Stopped {
        return Err(Error::Request("container not running".into()));
    }
    let mut pids = vec![record.pid];
    if all {
        pids.extend(cgroup_pids(&record));
    }
    for pid in pids {
        match nix::sys::signal::kill(Pid::from_raw(pid), signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => return Err(Error::syscall(format!("kill({pid}, {signal})"), e)),
        }
    }
    Ok(())
}

// ANCHOR: stop
/// `stop` (docker's word; runc has none): SIGTERM, up to `grace` for the
/// container to end, then SIGKILL. It stays, stopped, until `delete`.
pub fn stop(root: &Path, id: &str, grace: std::time::Duration) -> Result<()> {
    let (_, record) = load(root, id)?;
    if record.status == Status::Stopped {
        return Ok(());
    }
    kill(root, id, Signal::SIGTERM, false)?;
    let until = std::time::Instant::now() + grace;
    while std::time::Instant::now() < until {
        if load(root, id).is_ok_and(|(_, r)| r.status == Status::Stopped) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    explain::note(&format!("{id} outlived {grace:?} after SIGTERM: SIGKILL"));
    match kill(root, id, Signal::SIGKILL, true) {
        Err(Error::Request(m)) if m == "container not running" => {}
        other => other?,
    }
    wait_gone(record.pid, record.start_time);
    Ok(())
}
// ANCHOR_END: stop

/// The `cgroup.procs` files of the container's cgroup, one per hierarchy:
/// writing a PID there moves that process in.
pub fn cgroup_procs_files(record: &Record) -> Vec<PathBuf> {
    let (v2, v1) = cgroup_dirs(record);
    v2.into_iter()
        .chain(v1)
        .map(|d| d.join("cgroup.procs"))
        .filter(|f| f.exists())
        .collect()
}

/// The container's cgroup directories: the v2 one (if any) and each v1
/// hierarchy's, those that exist.
pub fn cgroup_dirs(record: &Record) -> (Option<PathBuf>, Vec<PathBuf>) {
    let (Some(name), Ok(layout)) = (&record.cgroup, Layout::detect()) else {
        return (None, Vec::new());
    };
    let v2 = layout.v2.iter().map(|r| r.join(name)).find(|d| d.is_dir());
    let v1 = layout
        .v1
        .iter()
        .map(|h| h.mount.join(name))
        .filter(|d| d.is_dir())
        .collect();
    (v2, v1)
}

/// The PIDs in the container's cgroup (v2 or any v1 hierarchy).
fn cgroup_pids(record: &Record) -> Vec<i32> {
    let mut pids: Vec<i32> = cgroup_procs_files(record)
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| {
            t.lines()
                .filter_map(|l| l.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

// ANCHOR: delete
/// `delete`: a stopped (or created) container's cgroup and state go; a
/// running one only with `force`, which kills it first.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let dir = dir_of(root, id)?;
    let record = match load(root, id) {
        Ok((_, r)) => r,
        // A `create` killed before its first write left only the directory;
        // and a shim's cleanup deletes with --force what its own `delete`
        // already removed: gone is what --force asks for (runc's meaning).
        Err(_)
            if force
                && dir
                    .join(oci_state::STATE_FILE)
                    .try_exists()
                    .is_ok_and(|there| !there) =>
        {
            let _ = std::fs::remove_dir_all(&dir);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    match record.status {
        Status::Running | Status::Paused | Status::Creating if !force => {
            return Err(Error::Request(format!(
                "cannot delete container {id} that is not stopped: {} (use --force)",
                record.status
            )));
        }
        Status::Stopped => {}
        _ => {
            // A frozen task holds its SIGKILL until thawed.
            if let (Status::Paused, Some(name)) = (record.status, &record.cgroup) {
                let _ = crate::freeze::set(name, false);
            }
            let _ = nix::sys::signal::kill(Pid::from_raw(record.pid), Signal::SIGKILL);
            wait_gone(record.pid, record.start_time);
        }
    }
    if let (Ok(layout), Some(name)) = (Layout::detect(), &record.cgroup) {
        // kills what is left in it (a daemon the command left behind)
        cgroup_sweep::remove_named(&layout, name);
    }
    std::fs::remove_dir_all(&dir)
        .map_err(|e| Error::io(format!("removing {}", dir.display()), e))?;
    crate::run_command::teardown(root, id); // run -- CMD's layer and network
    let record = Record {
        status: Status::Stopped,
        pid: 0,
        ..record
    };
    hooks::run_all_warning("poststop", &record.hooks.poststop, &record.json());
    Ok(())
}
// ANCHOR_END: delete

/// Wait (2 s at most) until the process is gone or a zombie.
fn wait_gone(pid: i32, start: u64) {
    for _ in 0..200 {
        if !oci_state::alive(pid, start) {
            return;
        }
        // Our own child (`run`): reap it.
        let _ = nix::sys::wait::waitpid(
            Pid::from_raw(pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// `list`: every container under `root`.
pub fn list(root: &Path) -> Vec<Record> {
    let mut out: Vec<Record> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.')) // being made
        .filter_map(|e| Record::read(&e.path()).ok().map(|r| r.refreshed(&e.path())))
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// `run`: create and start; in the foreground, wait for the process and
/// delete the container after it, returning its exit status.
pub fn run(root: &Path, id: &str, opts: &CreateOpts, detach: bool) -> Result<i32> {
    run_with(root, id, opts, detach, |_| Ok(()))
}

/// `run`, with `between` called after `create` (given the container's
/// PID), before `start`: where the front end wires the network.
pub fn run_with(
    root: &Path,
    id: &str,
    opts: &CreateOpts,
    detach: bool,
    between: impl FnOnce(Pid) -> Result<()>,
) -> Result<i32> {
    let child = create(root, id, opts)?;
    if let Err(e) = between(child) {
        let _ = delete(root, id, true);
        return Err(e);
    }
    if let Err(e) = start(root, id) {
        let _ = delete(root, id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    signals::block()?;
    let status = signals::supervise(child, |_, _| {})?;
    let _ = delete(root, id, true);
    Ok(signals::exit_code(status))
}

/// The bundle `run -- CMD` writes for container `id`: beside the state
/// directories, hidden from `list`, removed with the container.
pub fn command_bundle(root: &Path, id: &str) -> PathBuf {
    root.join(format!(".bundle-{id}"))
}

// ANCHOR: pause
/// `pause`: freeze a running container's cgroup; `resume`: thaw a paused
/// one. `state` then says paused, from the cgroup itself.
pub fn pause(root: &Path, id: &str, pause: bool) -> Result<()> {
    let (_, record) = load(root, id)?;
    let want = if pause {
        Status::Running
    } else {
        Status::Paused
    };
    if record.status != want {
        return Err(Error::Request(format!(
            "container {id} is {}, not {want}",
            record.status
        )));
    }
    let Some(name) = &record.cgroup else {
        return Err(Error::Request(format!(
            "container {id} has no cgroup to freeze"
        )));
    };
    crate::freeze::set(name, pause)
}
// ANCHOR_END: pause

/// `ps`: the PIDs of the container's cgroup (host PIDs, as runc prints).
pub fn ps(root: &Path, id: &str) -> Result<Vec<i32>> {
    let (_, record) = load(root, id)?;
    if record.status == Status::Stopped {
        return Ok(Vec::new());
    }
    Ok(cgroup_pids(&record))
}
