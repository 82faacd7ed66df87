//! Step 3's setup sequence: step 2's, plus a mount namespace in which the
//! child builds the container's filesystem and pivots into it (`diff` it
//! with step 2's run.rs).

use std::path::Path;

use crate::isolab::explain::{self, Role};
use crate::isolab::resolve::Root;
use crate::isolab::sync::{self, ChildEnd};
use crate::isolab::{
    Result, clone, dev, environ, exec, init, masked, mount, pause, pivot, prctl, pseudofs, rootfs,
    signals, uts,
};
use nix::sched::CloneFlags;

use crate::RunArgs;

/// Runtime side. Returns the exit status for the shell.
pub fn run(args: &RunArgs) -> Result<i32> {
    args.common.check()?;
    let state = args.image.state();
    // Written to directly: by default an image of step 3's own, never the
    // one later steps start from.
    let rootfs = rootfs::choose_writable(args.image.rootfs.as_deref(), &state)?;
    let (mut runtime, child_end) = sync::channel()?;
    let mut child_end = Some(child_end);

    // ANCHOR: clone
    let flags = CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS;
    let inputs = Inputs {
        args,
        rootfs: &rootfs,
    };
    let child = clone::clone(flags, || child(&inputs, &mut child_end))?;
    // ANCHOR_END: clone
    drop(child_end); // the child's end of the channel, in our copy
    runtime.parent_done()?; // sync 0: the child may start

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
    Ok(signals::exit_code(status))
}

/// What the child gets from the runtime, all made before the clone: each
/// step adds a field (`diff` the steps' run.rs).
#[derive(Debug, Clone, Copy)]
struct Inputs<'a> {
    args: &'a RunArgs,
    rootfs: &'a Path,
}

/// Child side: PID 1 of the new PID namespace, in a new mount namespace.
// ANCHOR: child
fn child(inputs: &Inputs, chan: &mut Option<ChildEnd>) -> isize {
    let Inputs { args, rootfs } = *inputs;
    explain::set_role(Role::Init);
    sync::child_main(chan, |chan| {
        init::close_inherited_fds(chan, &[])?; // nothing of the runtime's stays open
        chan.wait_parent()?; // sync 0
        prctl::set_pdeathsig()?;
        prctl::set_dumpable(false)?; // after sync 0: the runtime is done with our /proc
        prctl::set_name("step03-init")?;
        // ANCHOR: filesystem
        mount::make_rprivate()?; // before any mount: nothing propagates to the host
        pivot::bind_rootfs(rootfs)?; // pivot_root needs a mount point
        let root = Root::open(rootfs)?; // mount targets resolve inside it
        pseudofs::mount_proc(&root)?;
        pseudofs::mount_sys(&root)?;
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

/// What to look at from a second terminal while paused in step 3.
fn pause_hints(child: nix::unistd::Pid) -> Vec<String> {
    vec![
        pause::nsenter(child, "-p -m ps -o pid,comm  # only the container now"),
        format!("diff <(cat /proc/self/mountinfo) /proc/{child}/mountinfo"),
    ]
}
