//! The time namespace (Linux 5.6): its own offsets for CLOCK_MONOTONIC and
//! CLOCK_BOOTTIME, so a container restored on another machine (CRIU) or a
//! test that wants "up for a year" sees the clocks it expects. The wall
//! clock (CLOCK_REALTIME) is not namespaced.
//!
//! Two rules of the kernel (time_namespaces(7)) fix the order here:
//! - unshare(CLONE_NEWTIME) does not move the caller: the new namespace is
//!   for its *children* (`/proc/self/ns/time_for_children`). The
//!   container's process execs rather than forks, so it enters the new
//!   namespace itself with setns(2) on that file.
//! - The offsets (`/proc/self/timens_offsets`) can be written only while
//!   no process is in the namespace: after the unshare, before the setns.

use std::os::fd::AsFd;

use nix::sched::CloneFlags;

use crate::error::{Error, Result};
use crate::explain;

/// CLONE_NEWTIME, which nix's CloneFlags lacks (0x80, a value clone(2)
/// itself can't take: it is CSIGNAL's; only unshare, setns and clone3).
pub fn flag() -> CloneFlags {
    CloneFlags::from_bits_retain(libc::CLONE_NEWTIME)
}

// ANCHOR: enter_new
/// Make a time namespace with these offsets ((clock, seconds,
/// nanoseconds), clock `monotonic` or `boottime`) and move this process
/// into it.
pub fn enter_new(offsets: &[(String, i64, u32)]) -> Result<()> {
    nix::sched::unshare(flag()).map_err(|e| Error::syscall("unshare(CLONE_NEWTIME)", e))?;
    explain::syscall("unshare(CLONE_NEWTIME)", 0);
    // One clock per write(2), as the kernel parses it.
    for (clock, secs, nanos) in offsets {
        let line = format!("{clock} {secs} {nanos}\n");
        std::fs::write("/proc/self/timens_offsets", &line)
            .map_err(|e| Error::io(format!("writing {line:?} to /proc/self/timens_offsets"), e))?;
        explain::syscall(
            &format!("write(\"/proc/self/timens_offsets\", {line:?})"),
            line.len(),
        );
    }
    let ns = std::fs::File::open("/proc/self/ns/time_for_children")
        .map_err(|e| Error::io("opening /proc/self/ns/time_for_children", e))?;
    nix::sched::setns(ns.as_fd(), flag())
        .map_err(|e| Error::syscall("setns(time_for_children, CLONE_NEWTIME)", e))?;
    explain::syscall(
        "setns(\"/proc/self/ns/time_for_children\", CLONE_NEWTIME)",
        0,
    );
    Ok(())
}
// ANCHOR_END: enter_new
