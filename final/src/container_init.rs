//! The container's side of `create`: the setup sequence of steps 3 to 9,
//! driven by config.json instead of flags, ending where an OCI runtime's
//! `create` must: everything made, the process waiting for `start`.
//!
//! The order is the steps' (see their run.rs): mounts while root with all
//! capabilities, then pivot_root, then the hostname, the keyring, the
//! capability sets, rlimits, no_new_privs; the start gate last, after
//! sync 1 tells `create` the setup worked. Only the exec comes after it.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::mount::MsFlags;

use crate::bpf::Program;
use crate::bundle::Config;
use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::resolve::Root;
use crate::selinux::Contexts;
use crate::sync::{ChildEnd, FifoGate, StartGate};
use crate::{
    cap_sets, capabilities, cgroupns, environ, exec, explain, init, keyring, masked, mount,
    no_new_privs, pivot, sysctl, uts,
};

/// What the child gets from `create`, besides the config.
#[derive(Debug)]
pub struct Setup<'a> {
    pub config: &'a Config,
    pub cg: &'a Cgroup,
    /// The start FIFO, opened O_PATH before the clone (the path is the
    /// host's, out of reach after pivot_root; the fd is not).
    pub fifo: &'a OwnedFd,
    pub new_keyring: bool,
    /// config.json's seccomp filter, compiled by `create`.
    pub filter: Option<&'a Program>,
    pub apparmor: Option<&'a str>,
    pub selinux: Option<&'a Contexts>,
    /// `<root>/<id>`: the state the container's own hooks read.
    pub state_dir: &'a Path,
    /// Namespaces to join (all but PID, which `create` joined).
    pub joins: &'a [(OwnedFd, nix::sched::CloneFlags, String)],
    /// The engine's --console-socket, connected, for process.terminal.
    pub console: Option<&'a OwnedFd>,
    /// Where the command's stdout and stderr go, if not the runtime's.
    pub output: Option<&'a OwnedFd>,
    /// `--preserve-fds`: how many fds from 3 up the command inherits.
    pub preserve_fds: i32,
    /// The user namespace's maps, as `create` writes them.
    pub maps: Option<&'a crate::userns::Maps>,
    /// The seccomp agent's socket (linux.seccomp.listenerPath), connected.
    pub seccomp_agent: Option<&'a OwnedFd>,
    /// The runtime's mount namespace (`mnt:[N]`): the child checks it is
    /// in another before it mounts anything.
    pub host_mnt: Option<std::path::PathBuf>,
}

/// The annotation `isolab run --init` sets: the runtime's own init (step
/// 2's) stays PID 1 and runs the command as its child, as docker's
/// `--init` runs tini. Not a field of the runtime spec, hence an
/// annotation, under a name of isolab's own.
pub const INIT: &str = "org.isolab.init";

// ANCHOR: sequence
/// The whole child side; returns only on failure (or the command's exec
/// failure after sync 1, printed, as exit code 127 or 126).
pub fn run(setup: &Setup, chan: &mut ChildEnd) -> Result<i32> {
    let config = setup.config;
    // A joined mount namespace is the container's file system as it is:
    // no rootfs, mounts or pivot_root; its paths may not show the host's.
    let joined_mnt = setup
        .joins
        .iter()
        .any(|(_, f, _)| *f == nix::sched::CloneFlags::CLONE_NEWNS);
    let state_dir: OwnedFd = nix::fcntl::open(
        setup.state_dir,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::syscall("open(state dir, O_PATH)", e))?;
    let mut keep = vec![setup.fifo.as_raw_fd(), state_dir.as_raw_fd()];
    keep.extend(setup.joins.iter().map(|(fd, _, _)| fd.as_raw_fd()));
    keep.extend(setup.console.map(|fd| fd.as_raw_fd()));
    keep.extend(setup.output.map(|fd| fd.as_raw_fd()));
    keep.extend(setup.seccomp_agent.map(|fd| fd.as_raw_fd()));
    let preserved = 3..3 + setup.preserve_fds;
    keep.extend(preserved.clone());
    init::close_inherited_fds(chan, &keep)?;
    // Into the cgroup's v1 hierarchies by ourselves (cheaper than being
    // moved: see Cgroup::join_self_v1); the v2 one we were born in.
    setup.cg.join_self_v1()?;
    chan.wait_parent()?; // sync 0: in our cgroup, our maps written
    if let Some(maps) = setup.maps {
        crate::userns::become_root(maps)?; // uid 0 inside, the mapped id outside
    } else if setup
        .joins
        .iter()
        .any(|(_, f, _)| *f == nix::sched::CloneFlags::CLONE_NEWUSER)
    {
        // a joined user namespace's root (its maps are the namespace's own)
        let denied =
            std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny");
        crate::userns::become_root(&crate::userns::Maps {
            uid: Vec::new(),
            gid: Vec::new(),
            helpers: false,
            single: denied,
        })?;
    }
    // Until its execve, nobody but root of the host may look into its
    // /proc/PID (fds, memory), as in the steps; execve makes it dumpable.
    crate::prctl::set_dumpable(false)?;
    // The time namespace before anything reads a clock for the container.
    if config.namespaces.iter().any(|n| n == "time") {
        crate::timens::enter_new(&config.time_offsets)?;
    }
    // ANCHOR: joins
    // Namespaces named by path are joined, not made (pods share one
    // network namespace this way); the PID one `create` joined already.
    for (fd, flag, kind) in setup.joins {
        // PID by `create`, user by the launcher that cloned us
        if *flag != nix::sched::CloneFlags::CLONE_NEWPID
            && *flag != nix::sched::CloneFlags::CLONE_NEWUSER
        {
            nix::sched::setns(fd, *flag)
                .map_err(|e| Error::syscall(format!("setns({kind})"), e))?;
            explain::syscall(&format!("setns({kind})"), 0);
        }
    }
    // ANCHOR_END: joins
    if config.namespaces.iter().any(|n| n == "cgroup") {
        cgroupns::unshare()?; // its root is our cgroup
    }
    if joined_mnt {
        let root = Root::open(Path::new("/"))?;
        for (key, value) in &config.sysctl {
            sysctl::write(&root, key, value)?;
        }
    } else {
        set_up_root(setup, chan)?;
    }
    // The runtime's hooks (prestart, createRuntime) run now, then ours, in
    // this mount namespace before pivot_root; the state is read through an
    // fd opened before any mount namespace changed.
    chan.ready()?;
    chan.wait_go()?;
    let state = crate::oci_state::Record::read(Path::new(&format!(
        "/proc/self/fd/{}",
        state_dir.as_raw_fd()
    )))?
    .json();
    drop(state_dir);
    crate::hooks::run_all("createContainer", &config.hooks.create_container, &state)?;
    // The gate, by an fd path the new /proc resolves after pivot_root.
    let gate_path = format!("/proc/self/fd/{}", setup.fifo.as_raw_fd());
    if !joined_mnt {
        pivot::pivot_root(&config.rootfs)?;
        if config.readonly_root {
            mount::mount_path(
                None,
                "/",
                None,
                MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
                None,
            )?;
        }
    }
    if let Some(name) = &config.hostname {
        uts::sethostname(name)?;
    }
    if let Some(name) = &config.domainname {
        uts::setdomainname(name)?;
    }
    if config.namespaces.iter().any(|n| n == "network") {
        crate::netns::loopback_up()?;
    }
    // The pty from the container's own devpts (after pivot_root, /dev/ptmx
    // is its), before the user switch: the slave is then given to the user.
    if let Some(socket) = setup.console {
        crate::console::setup(socket, config.console_size, config.uid)?;
    }
    // Or its output to a log file: late, so that the setup's narration
    // and errors still reach the runtime's stderr.
    if let Some(log) = setup.output {
        for fd in [1, 2] {
            // SAFETY: dup2 of an fd we hold onto stdout or stderr.
            if unsafe { libc::dup2(log.as_raw_fd(), fd) } < 0 {
                return Err(Error::syscall(
                    "dup2(log, stdout/stderr)",
                    nix::errno::Errno::last(),
                ));
            }
        }
    }
    // The labels apply at execve; SELinux's keycreate before the keyring.
    if let Some(contexts) = setup.selinux {
        crate::selinux::request(contexts)?;
    }
    if setup.new_keyring {
        keyring::join_new_session()?;
    }
    if let Some(profile) = setup.apparmor {
        crate::apparmor::exec_into(profile)?;
    }
    if let Some(adj) = config.oom_score_adj {
        // before the capability drop: lowering it needs CAP_SYS_RESOURCE
        crate::proc_handle::ProcHandle::open()?.write("self/oom_score_adj", &adj.to_string())?;
    }
    // Without no_new_privs only a task with CAP_SYS_ADMIN may install a
    // filter: here, before the drop (as step 8 does with --allow-new-privs).
    let early = !config.no_new_privileges;
    // A filter that notifies hands its listener to the seccomp agent.
    let hand_over = |listener: Option<OwnedFd>| -> Result<()> {
        if let (Some(listener), Some(agent), Some((_, metadata))) =
            (listener, setup.seccomp_agent, &config.seccomp_listener)
        {
            let state: serde_json::Value = serde_json::from_str(&state).unwrap_or_default();
            crate::seccomp_agent::send(agent, &listener, &state, metadata)?;
        }
        Ok(())
    };
    if early && let Some(filter) = setup.filter {
        hand_over(filter.install()?)?;
    }
    privileges(config)?;
    if let Some(mask) = config.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
        explain::syscall(&format!("umask({mask:#o})"), 0);
    }
    if config.linux32 {
        crate::personality::linux32()?;
    }
    environ::replace(&config.env)?;
    enter_cwd(&config.cwd)?;
    // The program must exist before `create` says it worked.
    let program = exec::search_path(&config.args[0])?;
    chan.ready()?; // sync 1: `create` writes the PID file and exits
    let mut gate = FifoGate(gate_path.into());
    if let Err(e) = gate.wait_start() {
        crate::cli::warn(&format!("isolab: {e}"));
        return Ok(1);
    }
    // startContainer: inside the container, before the command.
    if let Err(e) = crate::hooks::run_all("startContainer", &config.hooks.start_container, &state) {
        crate::cli::warn(&format!("isolab: {e}"));
        return Ok(1);
    }
    // With no_new_privs the filter goes on last, right before execve.
    let late = setup.filter.filter(|_| !early);
    // The engine's fds (socket activation, a log pipe) stay open across
    // execve: FD_CLOEXEC cleared after exec's sweep set it.
    let mut pass_preserved = || -> Result<()> {
        for fd in preserved.clone() {
            // SAFETY: an fd number create checked the engine passed open.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
            )
            .map_err(|e| Error::syscall("fcntl(F_SETFD, 0) (--preserve-fds)", e))?;
        }
        Ok(())
    };
    if config.annotations.get(INIT).is_some_and(|v| v == "true") {
        // `run --init`: this process, the runtime's, stays PID 1 and runs
        // step 2's init (fork the command, forward signals, reap); the
        // filter first, so that it covers the init too.
        if let Some(f) = late {
            hand_over(f.install()?)?;
        }
        return crate::init::run_then(&config.args, chan, &mut pass_preserved).inspect_err(|e| {
            // After `start` no runtime reads the channel: the reason goes
            // to the container's stderr, where its user looks.
            let hint = match e.to_string().contains("EAGAIN") {
                true => ": no room for the command beside the init (raise --pids-limit)",
                false => "",
            };
            eprintln!("isolab: {e}{hint}");
        });
    }
    let err = exec::execvp_then(&config.args, &mut || {
        pass_preserved()?;
        match late {
            Some(f) => hand_over(f.install()?),
            None => Ok(()),
        }
    });
    crate::cli::warn(&format!("isolab: {}: {err}", program.display()));
    Ok(if matches!(err, Error::Exec { code: 126, .. }) {
        126
    } else {
        127
    })
}

/// The container's file system in its new mount namespace: propagation,
/// the rootfs bound onto itself, config.json's mounts and device nodes,
/// sysctls, maskedPaths and readonlyPaths (pivot_root comes after the
/// createContainer hooks).
fn set_up_root(setup: &Setup, chan: &mut ChildEnd) -> Result<()> {
    let config = setup.config;
    // Everything below mounts, and pivot_root swaps the root of whatever
    // mount namespace we are in: never the host's. (A config that slipped
    // past the clone's CLONE_NEWNS would otherwise pivot the host.)
    let ours = std::fs::read_link("/proc/self/ns/mnt").ok();
    if ours.is_none() || ours == std::fs::read_link("/proc/1/ns/mnt").ok() || ours == setup.host_mnt
    {
        return Err(Error::Request(
            "refusing to set up mounts: this process is not in a mount namespace of its own".into(),
        ));
    }
    // Nothing propagates to the host; with rootfsPropagation (r)slave the
    // host's new mounts still reach the container.
    match config.rootfs_propagation {
        None => mount::make_rprivate()?,
        Some(flags) => mount::mount_path(None, "/", None, flags, None)?,
    }
    let rootfs = config.rootfs.as_path();
    // pivot_root needs a mount point: the rootfs bound onto itself.
    mount::mount_path(
        Some(&rootfs.to_string_lossy()),
        &rootfs.to_string_lossy(),
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    let root = Root::open(rootfs)?;
    for m in &config.mounts {
        // an idmapped bind's tree comes from the runtime, in mounts' order
        let tree = if m.idmapped { chan.recv_fd()? } else { None };
        crate::oci_mounts::mount_one(
            &root,
            rootfs,
            m,
            setup.cg,
            config.mount_label.as_deref(),
            tree,
        )?;
    }
    for node in &config.devices {
        crate::device_nodes::create(&root, node)?;
    }
    // Kernel parameters of the container's namespaces, through its own
    // /proc (which resolves /proc/sys/net in the netns of the writer: us),
    // before maskedPaths and readonlyPaths close /proc/sys.
    for (key, value) in &config.sysctl {
        sysctl::write(&root, key, value)?;
    }
    let masked: Vec<&str> = config.masked.iter().map(String::as_str).collect();
    let readonly: Vec<&str> = config.readonly.iter().map(String::as_str).collect();
    masked::apply_lists(&root, &masked, &readonly)?;
    Ok(())
}
// ANCHOR_END: sequence

// ANCHOR: privileges
/// Capabilities, user and rlimits, as config.json gives them. The bounding
/// set first (it needs CAP_SETPCAP), the user switch with the permitted
/// set kept across it, then the sets exactly as listed.
pub fn privileges(config: &Config) -> Result<()> {
    let set = |names: &[String]| cap_sets::known(names);
    let bounding = set(&config.bounding);
    capabilities::drop_bounding(&capabilities::Plan {
        keep: bounding.clone(),
        ambient: Default::default(),
    })?;
    for (kind, soft, hard) in &config.rlimits {
        set_rlimit(kind, *soft, *hard)?;
    }
    let keep = config.uid != 0;
    if keep {
        nix::sys::prctl::set_keepcaps(true)
            .map_err(|e| Error::syscall("prctl(PR_SET_KEEPCAPS, 1)", e))?;
    }
    let groups: Vec<nix::unistd::Gid> = config
        .additional_gids
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    // A normal user's single-id map denies setgroups(2) (user_namespaces(7)):
    // then only "no groups" is possible, and already true.
    let denied = std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny");
    if !(denied && groups.is_empty()) {
        nix::unistd::setgroups(&groups).map_err(|e| Error::syscall("setgroups", e))?;
    }
    let gid = nix::unistd::Gid::from_raw(config.gid);
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| Error::syscall("setresgid", e))?;
    let uid = nix::unistd::Uid::from_raw(config.uid);
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| Error::syscall("setresuid", e))?;
    explain::syscall(
        &format!(
            "setresuid({0}, {0}, {0}), setresgid({1}, {1}, {1}), setgroups({2:?})",
            config.uid, config.gid, config.additional_gids
        ),
        0,
    );
    cap_sets::set_exactly(
        &set(&config.permitted),
        &set(&config.effective),
        &set(&config.inheritable),
        &set(&config.ambient),
    )?;
    if config.no_new_privileges {
        no_new_privs::set()?;
    }
    Ok(())
}
// ANCHOR_END: privileges

/// The resource of an `RLIMIT_*` name, as setrlimit(2) numbers it.
pub fn rlimit_resource(name: &str) -> Option<nix::sys::resource::Resource> {
    use nix::sys::resource::Resource as R;
    Some(match name {
        "RLIMIT_AS" => R::RLIMIT_AS,
        "RLIMIT_CORE" => R::RLIMIT_CORE,
        "RLIMIT_CPU" => R::RLIMIT_CPU,
        "RLIMIT_DATA" => R::RLIMIT_DATA,
        "RLIMIT_FSIZE" => R::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => R::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => R::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => R::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => R::RLIMIT_NICE,
        "RLIMIT_NOFILE" => R::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => R::RLIMIT_NPROC,
        "RLIMIT_RSS" => R::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => R::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => R::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => R::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => R::RLIMIT_STACK,
        _ => return None,
    })
}

fn set_rlimit(kind: &str, soft: u64, hard: u64) -> Result<()> {
    let Some(resource) = rlimit_resource(kind) else {
        return Err(Error::Request(format!(
            "config.json: process.rlimits: {kind:?}"
        )));
    };
    nix::sys::resource::setrlimit(resource, soft, hard).map_err(|e| {
        Error::syscall(format!("setrlimit({kind}, {soft}, {hard})"), e)
            .with_hint("raising a hard limit needs CAP_SYS_RESOURCE in the host's bounding set")
    })?;
    explain::syscall(&format!("setrlimit({kind}, {soft}, {hard})"), 0);
    Ok(())
}

// ANCHOR: enter_cwd
/// chdir(2) to `process.cwd`, and prove the result is inside the
/// container's root. A cwd such as /proc/self/fd/7 follows whatever fd 7
/// is at that moment; if it were one of the runtime's, on a host
/// directory, the command would start outside its root (CVE-2024-21626,
/// through a leaked cgroup fd in runc). getcwd(2) can't name a directory
/// outside the root: it fails with ENOENT (glibc returns the kernel's
/// "(unreachable)" prefix as that error).
pub fn enter_cwd(cwd: &str) -> Result<()> {
    nix::unistd::chdir(cwd).map_err(|e| Error::syscall(format!("chdir({cwd:?})"), e))?;
    match nix::unistd::getcwd() {
        Ok(dir) if dir.is_absolute() => Ok(()),
        Ok(dir) => Err(Error::Request(format!(
            "process.cwd {cwd:?} leads outside the container's root ({}): refused",
            dir.display()
        ))),
        Err(e) => Err(Error::Request(format!(
            "process.cwd {cwd:?} leads outside the container's root (getcwd: {e}): refused"
        ))),
    }
}
// ANCHOR_END: enter_cwd
