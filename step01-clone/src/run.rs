//! Step 1's setup sequence: clone into a new UTS namespace, set the
//! hostname, exec. Read it top to bottom; each later step's `run.rs` is this
//! file plus what its mechanism adds (`diff` them).

use nix::sched::CloneFlags;

use crate::isolab::explain::{self, Role};
use crate::isolab::sync::{self, ChildEnd};
use crate::isolab::{Result, clone, exec, prctl, signals, uts};

use crate::RunArgs;

/// Runtime side. Returns the exit status for the shell.
pub fn run(args: &RunArgs) -> Result<i32> {
    args.common.check()?;
    let (mut runtime, child_end) = sync::channel()?;
    let mut child_end = Some(child_end);

    // ANCHOR: clone
    let flags = CloneFlags::CLONE_NEWUTS;
    let child = clone::clone(flags, || child(args, &mut child_end))?;
    // ANCHOR_END: clone
    drop(child_end); // the child's end of the channel, in our copy
    runtime.parent_done()?; // sync 0: the child may start

    // sync 1: the child has set its hostname and waits to exec.
    sync::expect_ready(&mut runtime, child)?;
    // Block the signals we forward from here on: a SIGTERM for us is then
    // passed on to the command instead of killing us, and a Ctrl-C while
    // paused ends the container cleanly.
    signals::block()?;
    args.common.before_exec(child, &[])?;
    // sync 2: let it exec.
    runtime.go()?;
    // sync 3: EOF means execve succeeded.
    sync::expect_exec(&mut runtime, child)?;

    let status = signals::supervise(child, |_, _| {})?;
    Ok(signals::exit_code(status))
}

/// Child side, in the new UTS namespace. Returns only if something failed.
// ANCHOR: child
fn child(args: &RunArgs, chan: &mut Option<ChildEnd>) -> isize {
    explain::set_role(Role::Child);
    sync::child_main(chan, |chan| {
        chan.wait_parent()?; // sync 0
        prctl::set_pdeathsig()?;
        prctl::set_name("step01-child")?;
        uts::sethostname(&args.hostname)?;
        chan.ready()?; // sync 1
        chan.wait_go()?; // sync 2
        Err(exec::execvp(&args.common.command))
    })
}
// ANCHOR_END: child
