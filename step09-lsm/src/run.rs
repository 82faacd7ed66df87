//! Step 9's setup sequence: step 8's, with a Landlock ruleset the command's
//! process restricts itself with right before its seccomp filter (`diff`
//! it with step 8's run.rs).

use std::os::fd::AsFd;
use std::path::Path;

use crate::isolab::apparmor::{self, APPARMOR};
use crate::isolab::bpf::Program;
use crate::isolab::capabilities::{self, Plan};
use crate::isolab::cgroup::{Cgroup, Layout};
use crate::isolab::container::{self, Container};
use crate::isolab::explain::{self, Role};
use crate::isolab::landlock_args::LANDLOCK;
use crate::isolab::overlay::{self, Layers};
use crate::isolab::resolve::Root;
use crate::isolab::ruleset::{self, Rules};
use crate::isolab::security_opt::SECCOMP;
use crate::isolab::selinux::{self, Contexts, LABEL};
use crate::isolab::sync::{self, ChildEnd};
use crate::isolab::user::{self, User};
use crate::isolab::userns::{self, Maps};
use crate::isolab::{
    Result, cgroup_sweep, cgroupns, clone, dev, environ, exec, idmap, init, keyring, learn, limits,
    masked, mount, no_new_privs, notify, pause, pivot, prctl, pseudofs, rootfs, signals, uts,
};
use nix::sched::CloneFlags;

use crate::RunArgs;

/// Runtime side. Returns the exit status for the shell.
pub fn run(args: &RunArgs) -> Result<i32> {
    args.common.check()?;
    args.security.check(&[SECCOMP, LANDLOCK, APPARMOR, LABEL])?;
    let state = args.image.state();
    let limits = args.limits.limits(!args.no_init)?; // all checked before anything is created
    let user = args.privileges.user();
    let plan = capabilities::plan(
        &args.privileges.cap_add,
        &args.privileges.cap_drop,
        user.uid == 0,
    )?;
    // Compiled here, once; the command's process only installs it.
    let filter = args.seccomp.filter(
        args.security.get("seccomp"),
        &plan.keep,
        !args.privileges.allow_new_privs,
        &state,
    )?;
    let rules = args.lsm.rules(args.security.get("landlock"))?; // None: unconfined
    if let Some(rules) = &rules {
        ruleset::check_kernel(rules)?; // TCP rules need ABI 4
    }
    // Loaded into the kernel here if missing (root only); None: unconfined.
    let apparmor = apparmor::prepare(args.security.get("apparmor"), &state)?;
    // Checked against the loaded policy; None: no label= given.
    let selinux = selinux::prepare(&args.security.all("label"))?;
    if rules.is_some() {
        ruleset::report(&state); // a note if this kernel enforces less
    }
    let maps = userns::choose(args.maps.uid_map, args.maps.gid_map)?;
    userns::check_user(&maps, user.uid, user.gid)?; // the kernel would say only EINVAL
    let layout = Layout::detect()?;
    // What killed runtimes left behind: their layers, state and cgroups.
    container::sweep_stale_with(&state, |id| cgroup_sweep::remove_stale(&layout, id));
    let image = rootfs::choose(args.image.rootfs.as_deref(), &state)?;
    // Removed when `ctr` is dropped, at the end of this function.
    let ctr = Container::create(&state, args.layers.keep)?;
    // Emptied and removed when dropped, before `ctr`.
    let cg = Cgroup::create_or_skip(&layout, &ctr.id, &limits)?;
    // Container root writes the upper layer: it must own it on the host.
    let lower = userns::prepare_layers(&ctr, &maps)?;
    let (mut runtime, child_end) = sync::channel()?;
    let mut child_end = Some(child_end);

    // ANCHOR: clone
    let flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNS;
    let inputs = Inputs {
        args,
        image: &image,
        lower: &lower,
        layers: &ctr.layers,
        cg: &cg,
        plan: &plan,
        user,
        maps: &maps,
        filter: filter.as_ref(),
        rules: rules.as_ref(),
        apparmor: apparmor.as_deref(),
        selinux: selinux.as_ref(),
    };
    let child =
        clone::clone(flags, || child(&inputs, &mut child_end)).map_err(userns::why_clone_failed)?;
    // ANCHOR_END: clone
    drop(child_end); // the child's end of the channel, in our copy

    // ANCHOR: maps
    userns::write_maps(child.as_raw(), &maps)?; // before the child may act
    let tree = userns::idmapped_image(&image, child.as_raw(), &maps); // None: not supported
    runtime.send_fd(tree.as_ref().map(|t| t.as_fd()))?;
    // ANCHOR_END: maps
    // ANCHOR: join
    cg.join(child.as_raw())?; // before it runs anything of the user's
    runtime.parent_done()?; // sync 0: the child may start (and unshare its cgroup namespace)
    // ANCHOR_END: join

    // sync 1: the child is in its new root and waits to exec.
    sync::expect_ready(&mut runtime, child)?;
    // Block the signals we forward from here on: a SIGTERM for us is then
    // passed on to the command instead of killing us, and a Ctrl-C while
    // paused ends the container cleanly.
    signals::block()?;
    args.common.before_exec(child, &pause_hints(child))?;
    // sync 2: let it exec.
    runtime.go()?;
    // sync 2½ (with --explain): the filter's listener, from the command.
    let listener = match &filter {
        Some(f) if f.notify => Some(runtime.recv_fd_or_failure(child)?),
        _ => None,
    };
    let mut mode = match &args.seccomp.seccomp_learn {
        Some(_) => notify::Mode::Learn(Default::default()),
        None => notify::Mode::Refuse,
    };
    if let (Some(l), Some(sock)) = (&listener, runtime.raw_fd()) {
        notify::until_exec(sock, l, &mut mode)?; // the command's last calls ask too
    }
    // sync 3: EOF means execve succeeded.
    sync::expect_exec(&mut runtime, child)?;

    let status = match listener {
        // names refusals, or (--seccomp-learn) writes every call down
        Some(listener) => notify::supervise(child, listener, &mut mode)?,
        None => signals::supervise(child, |_, _| {})?,
    };
    if let (Some(out), notify::Mode::Learn(seen)) = (&args.seccomp.seccomp_learn, &mode) {
        learn::write_profile(out, seen)?;
    }
    let code = signals::exit_code(status);
    limits::report(&cg.stats(), &limits, code, args.limits.stats);
    Ok(code)
}

/// What the child gets from the runtime, all made before the clone: each
/// step adds a field (`diff` the steps' run.rs).
#[derive(Debug, Clone, Copy)]
struct Inputs<'a> {
    args: &'a RunArgs,
    image: &'a Path,
    lower: &'a Path,
    layers: &'a Layers,
    cg: &'a Cgroup,
    plan: &'a Plan,
    user: User,
    maps: &'a Maps,
    filter: Option<&'a Program>,
    rules: Option<&'a Rules>,
    apparmor: Option<&'a str>,
    selinux: Option<&'a Contexts>,
}

/// Child side: PID 1 of the new PID namespace, in a new mount namespace.
// ANCHOR: child
fn child(inputs: &Inputs, chan: &mut Option<ChildEnd>) -> isize {
    let Inputs {
        args,
        image,
        lower,
        layers,
        cg,
        plan,
        user,
        maps,
        filter,
        rules,
        apparmor,
        selinux,
    } = *inputs;
    explain::set_role(Role::Init);
    sync::child_main(chan, |chan| {
        init::close_inherited_fds(chan, &[])?; // nothing of the runtime's stays open
        let tree = chan.recv_fd()?; // the idmapped image, if any
        chan.wait_parent()?; // sync 0: our maps are written, we are in our cgroup
        userns::become_root(maps)?; // uid 0 inside, the mapped uid outside
        prctl::set_pdeathsig()?;
        prctl::set_dumpable(false)?; // after sync 0: the runtime is done with our /proc
        prctl::set_name("step09-init")?;
        cgroupns::unshare()?; // so its root is our cgroup
        // ANCHOR: filesystem
        mount::make_rprivate()?; // before any mount: nothing propagates to the host
        let image = match &tree {
            Some(tree) => {
                idmap::attach(tree, lower)?;
                lower
            }
            None => image,
        };
        overlay::mount_overlay(image, layers)?; // a mount point, as pivot_root needs
        let rootfs = layers.merged.as_path();
        let root = Root::open(rootfs)?; // mount targets resolve inside it
        pseudofs::mount_proc(&root)?;
        pseudofs::mount_sys(&root)?;
        cgroupns::mount_readonly(&root, cg)?;
        let mount_label = selinux.map(selinux::mount_option); // SELinux context=
        dev::populate_with(&root, rootfs, &dev::DEVICES, mount_label.as_deref())?;
        masked::apply(&root)?;
        pivot::pivot_root(rootfs)?;
        // ANCHOR_END: filesystem
        uts::sethostname(&args.hostname)?; // needs CAP_SYS_ADMIN: before the drop
        // ANCHOR: privileges
        // ANCHOR: labels
        // The labels apply at the command's execve: the fork keeps the
        // requests. Written here, before Landlock closes /proc to writes;
        // SELinux's keycreate before the session keyring is made.
        if let Some(contexts) = selinux {
            selinux::request(contexts)?;
        }
        keyring::join_new_session()?; // the caller's keys stay behind
        if let Some(profile) = apparmor {
            apparmor::exec_into(profile)?;
        }
        // ANCHOR_END: labels
        // ANCHOR: early_seccomp
        // Without no_new_privs the kernel takes a filter only from a task
        // holding CAP_SYS_ADMIN: install it here, before the drop below
        // takes that away (runc does the same). It then filters the rest
        // of this setup and the init too; the profile allows all of it
        // (checked before the clone). keyctl, above, it would refuse.
        let early = args.privileges.allow_new_privs;
        if early && let Some(rules) = rules {
            ruleset::restrict(rules)?; // Landlock, too, needs the same
        }
        if early && let Some(filter) = filter {
            filter.install()?;
        }
        // ANCHOR_END: early_seccomp
        // After the mounts (they need CAP_SYS_ADMIN), in this order: the
        // bounding set needs CAP_SETPCAP, the user switch CAP_SETUID and
        // CAP_SETGID, and the switch empties the sets we then set.
        capabilities::drop_bounding(plan)?;
        user::switch(user)?;
        user::verify(user)?;
        prctl::set_pdeathsig()?; // a uid change cleared it: set it again
        capabilities::set_sets(plan, user.uid == 0)?;
        capabilities::verify(plan, user.uid == 0)?;
        if !args.privileges.allow_new_privs {
            no_new_privs::set()?;
        }
        // ANCHOR_END: privileges
        let env = environ::for_container(&args.image.env, &args.hostname, user.uid);
        environ::replace(&env)?; // the container's own, none of the caller's
        chan.ready()?; // sync 1
        chan.wait_go()?; // sync 2
        // ANCHOR: seccomp
        // With no_new_privs, the filter goes on last, in the process that
        // execs, right before execve: after every setup call the profile
        // may deny. From here on only execve and the narration's write(2)
        // must pass it.
        let sock = chan.raw_fd(); // the command still holds it until execve
        let mut lsm_then_seccomp = || {
            // ANCHOR: landlock
            // Landlock first: after no_new_privs and every mount (a
            // Landlocked task can't mount), paths resolved in the new root;
            // then the filter, which must let Landlock's calls through.
            if !early && let Some(rules) = rules {
                let status = ruleset::restrict(rules)?;
                explain::note(&format!("landlock: {status}"));
            }
            // ANCHOR_END: landlock
            match filter
                .filter(|_| !early)
                .map(|f| f.install())
                .transpose()?
                .flatten()
            {
                // --explain: the runtime answers the filter's refusals, by name.
                Some(listener) => sync::send_fd_on(sock.unwrap_or(-1), listener.as_fd()),
                None => Ok(()),
            }
        };
        if args.no_init {
            return Err(exec::execvp_then(
                &args.common.command,
                &mut lsm_then_seccomp,
            ));
        }
        init::run_then(&args.common.command, chan, &mut lsm_then_seccomp)
        // ANCHOR_END: seccomp
    })
}
// ANCHOR_END: child

/// What to look at from a second terminal while paused in step 9.
fn pause_hints(child: nix::unistd::Pid) -> Vec<String> {
    vec![
        format!(
            "grep Seccomp /proc/{child}/status  # 0: the filter goes on the command, right before exec"
        ),
        format!("{} seccomp dump default | tail", pause::this_program()),
        format!(
            "cat /proc/{child}/attr/current  # the init's LSM label: unconfined; the command's is set at its execve"
        ),
    ]
}
