//! Step 2's setup sequence: step 1's, with a new PID namespace, and PID 1
//! running an init that forks the command (`diff` it with step 1's run.rs).

use crate::isolab::explain::{self, Role};
use crate::isolab::sync::{self, ChildEnd};
use crate::isolab::{Result, clone, exec, init, pause, prctl, signals, uts};
use nix::sched::CloneFlags;

use crate::RunArgs;

/// Runtime side. Returns the exit status for the shell.
pub fn run(args: &RunArgs) -> Result<i32> {
    args.common.check()?;
    let (mut runtime, child_end) = sync::channel()?;
    let mut child_end = Some(child_end);

    // ANCHOR: clone
    let flags = CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWPID;
    let child = clone::clone(flags, || child(args, &mut child_end))?;
    // ANCHOR_END: clone
    drop(child_end); // the child's end of the channel, in our copy
    runtime.parent_done()?; // sync 0: the child may start

    // sync 1: the child has set its hostname and waits to exec.
    sync::expect_ready(&mut runtime, child)?;
    explain::note(
        "/proc is still the host's: ps inside lists host processes (step03 mounts a new /proc)",
    );
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

/// Child side: PID 1 of the new PID namespace.
// ANCHOR: child
fn child(args: &RunArgs, chan: &mut Option<ChildEnd>) -> isize {
    explain::set_role(Role::Init);
    sync::child_main(chan, |chan| {
        init::close_inherited_fds(chan, &[])?; // nothing of the runtime's stays open
        chan.wait_parent()?; // sync 0
        prctl::set_pdeathsig()?;
        prctl::set_dumpable(false)?; // after sync 0: the runtime is done with our /proc
        prctl::set_name("step02-init")?;
        uts::sethostname(&args.hostname)?;
        chan.ready()?; // sync 1
        chan.wait_go()?; // sync 2
        if args.no_init {
            return Err(exec::execvp(&args.common.command));
        }
        init::run(&args.common.command, chan)
    })
}
// ANCHOR_END: child

/// What to look at from a second terminal while paused in step 2.
fn pause_hints(child: nix::unistd::Pid) -> Vec<String> {
    vec![pause::nsenter(
        child,
        "-p -r -m ps -o pid,comm  # still the host's /proc",
    )]
}
