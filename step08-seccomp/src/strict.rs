//! Strict mode, seccomp's first form (Linux 2.6.12): after
//! prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) a task may call read(2),
//! write(2), _exit(2) and sigreturn(2), nothing else; any other syscall
//! kills it with SIGKILL. It was made for running untrusted computations
//! fed through pipes. A container can't live in it: even exit_group(2),
//! what `exit()` calls, is outside the four, and so is the mmap(2) behind
//! Rust's first allocation, println!'s included.

use std::os::fd::AsRawFd;

use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

use crate::error::{Error, Result};

// ANCHOR: strict
/// `demo strict`: fork a child that enters strict mode, writes one line
/// with write(2) (allowed), waits on read(2) (allowed) while the parent
/// reads its /proc status, then calls getpid(2) (not allowed). Returns the
/// child's `Seccomp:` line as the parent saw it, and what became of it.
pub fn demo() -> Result<(String, WaitStatus)> {
    let (go_read, go_write) = nix::unistd::pipe().map_err(|e| Error::syscall("pipe", e))?;
    let (ready_read, ready_write) = nix::unistd::pipe().map_err(|e| Error::syscall("pipe", e))?;
    crate::clone::debug_assert_single_threaded();
    // SAFETY: single-threaded (checked above in debug builds); the child
    // makes raw syscalls only and never returns into Rust code.
    match unsafe { fork() }.map_err(|e| Error::syscall("fork()", e))? {
        ForkResult::Child => {
            let before = b"child: in strict mode now; write(2) is allowed\n";
            let after = b"child: getpid(2) returned: strict mode did not hold\n";
            let (go, ready) = (go_read.as_raw_fd(), ready_write.as_raw_fd());
            let mut byte = [0u8; 1];
            // SAFETY: raw syscalls with valid buffers; the child ends with
            // the raw exit syscall, as exit_group(2) would be fatal.
            unsafe {
                if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_STRICT) != 0 {
                    libc::syscall(libc::SYS_exit, 125);
                }
                libc::write(2, before.as_ptr().cast(), before.len());
                libc::write(ready, b"r".as_ptr().cast(), 1); // "look at me now"
                libc::read(go, byte.as_mut_ptr().cast(), 1); // until the parent looked
                libc::syscall(libc::SYS_getpid); // SIGKILL here
                libc::write(2, after.as_ptr().cast(), after.len());
                libc::syscall(libc::SYS_exit, 0);
            }
            unreachable!("exit(2) returned")
        }
        ForkResult::Parent { child } => {
            drop((go_read, ready_write));
            let mut byte = [0u8; 1];
            let _ = nix::unistd::read(&ready_read, &mut byte);
            let status =
                std::fs::read_to_string(format!("/proc/{child}/status")).unwrap_or_default();
            let line = status
                .lines()
                .find(|l| l.starts_with("Seccomp:"))
                .unwrap_or("Seccomp: ?")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let _ = nix::unistd::write(&go_write, b"g");
            let waited = waitpid(child, None).map_err(|e| Error::syscall("wait4", e))?;
            Ok((line, waited))
        }
    }
}
// ANCHOR_END: strict
