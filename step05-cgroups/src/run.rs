//! Step 5's setup sequence: step 4's, with the child in a cgroup of its own
//! before it does anything (sync 0) and in a cgroup namespace (`diff` it
//! with step 4's run.rs).

use std::path::Path;

use crate::isolab::cgroup::{Cgroup, Layout};
use crate::isolab::container::{self, Container};
use crate::isolab::explain::{self, Role};
use crate::isolab::overlay::{self, Layers};
use crate::isolab::resolve::Root;
use crate::isolab::sync::{self, ChildEnd};
use crate::isolab::{
    Result, cgroup_sweep, cgroupns, clone, dev, environ, exec, init, limits, masked, mount, pause,
    pivot, prctl, pseudofs, rootfs, signals, uts,
};
use nix::sched::CloneFlags;

use crate::RunArgs;

/// Runtime side. Returns the exit status for the shell.
pub fn run(args: &RunArgs) -> Result<i32> {
    args.common.check()?;
    let state = args.image.state();
    let limits = args.limits.limits(!args.no_init)?; // all checked before anything is created
    let layout = Layout::detect()?;
    // What killed runtimes left behind: their layers, state and cgroups.
    container::sweep_stale_with(&state, |id| cgroup_sweep::remove_stale(&layout, id));
    let image = rootfs::choose(args.image.rootfs.as_deref(), &state)?;
    // Removed when `ctr` is dropped, at the end of this function.
    let ctr = Container::create(&state, args.layers.keep)?;
    // Emptied and removed when dropped, before `ctr`.
    let cg = Cgroup::create(&layout, &ctr.id, &limits)?;
    let (mut runtime, child_end) = sync::channel()?;
    let mut child_end = Some(child_end);

    // ANCHOR: clone
    let flags = CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS;
    let inputs = Inputs {
        args,
        image: &image,
        layers: &ctr.layers,
        cg: &cg,
    };
    let child = clone::clone(flags, || child(&inputs, &mut child_end))?;
    // ANCHOR_END: clone
    drop(child_end); // the child's end of the channel, in our copy

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
    // sync 3: EOF means execve succeeded.
    sync::expect_exec(&mut runtime, child)?;

    let status = signals::supervise(child, |_, _| {})?;
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
    layers: &'a Layers,
    cg: &'a Cgroup,
}

/// Child side: PID 1 of the new PID namespace, in a new mount namespace.
// ANCHOR: child
fn child(inputs: &Inputs, chan: &mut Option<ChildEnd>) -> isize {
    let Inputs {
        args,
        image,
        layers,
        cg,
    } = *inputs;
    explain::set_role(Role::Init);
    sync::child_main(chan, |chan| {
        init::close_inherited_fds(chan, &[])?; // nothing of the runtime's stays open
        chan.wait_parent()?; // sync 0: we are in our cgroup
        prctl::set_pdeathsig()?;
        prctl::set_dumpable(false)?; // after sync 0: the runtime is done with our /proc
        prctl::set_name("step05-init")?;
        cgroupns::unshare()?; // so its root is our cgroup
        // ANCHOR: filesystem
        mount::make_rprivate()?; // before any mount: nothing propagates to the host
        overlay::mount_overlay(image, layers)?; // a mount point, as pivot_root needs
        let rootfs = layers.merged.as_path();
        let root = Root::open(rootfs)?; // mount targets resolve inside it
        pseudofs::mount_proc(&root)?;
        pseudofs::mount_sys(&root)?;
        cgroupns::mount_readonly(&root, cg)?;
        dev::populate(&root, rootfs)?;
        masked::apply(&root)?;
        pivot::pivot_root(rootfs)?;
        // ANCHOR_END: filesystem
        uts::sethostname(&args.hostname)?;
        let env = environ::for_container(&args.image.env, &args.hostname, 0);
        environ::replace(&env)?; // the container's own, none of the caller's
        chan.ready()?; // sync 1
        chan.wait_go()?; // sync 2
        if args.no_init {
            return Err(exec::execvp(&args.common.command));
        }
        init::run(&args.common.command, chan)
    })
}
// ANCHOR_END: child

/// What to look at from a second terminal while paused in step 5.
fn pause_hints(child: nix::unistd::Pid) -> Vec<String> {
    vec![
        format!("cat /proc/{child}/cgroup"),
        pause::nsenter(child, "-a cat /proc/1/cgroup  # / inside"),
    ]
}
