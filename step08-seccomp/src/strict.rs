//! Strict mode, seccomp's first form (Linux 2.6.12): after
//! prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) a task may call read(2),
//! write(2), _exit(2) and sigreturn(2), nothing else; any other syscall
//! kills it with SIGKILL. It was made for running untrusted computations
//! fed through pipes. A container can't live in it: even exit_group(2),
//! what `exit()` calls, is outside the four, and so is the mmap(2) behind
//! Rust's first allocation, println!'s included.

use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

use crate::error::{Error, Result};

// ANCHOR: strict
/// `demo strict`: fork a child that enters strict mode, writes one line
/// with write(2) (allowed), then calls getpid(2) (not allowed). Returns
/// what became of it, as the parent saw it.
pub fn demo() -> Result<WaitStatus> {
    crate::clone::debug_assert_single_threaded();
    // SAFETY: single-threaded (checked above in debug builds); the child
    // makes raw syscalls only and never returns into Rust code.
    match unsafe { fork() }.map_err(|e| Error::syscall("fork()", e))? {
        ForkResult::Child => {
            let before = b"child: in strict mode now; write(2) is allowed\n";
            let after = b"child: getpid(2) returned: strict mode did not hold\n";
            // SAFETY: raw syscalls with valid buffers; the child ends with
            // the raw exit syscall, as exit_group(2) would be fatal.
            unsafe {
                if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_STRICT) != 0 {
                    libc::syscall(libc::SYS_exit, 125);
                }
                libc::write(2, before.as_ptr().cast(), before.len());
                libc::syscall(libc::SYS_getpid); // SIGKILL here
                libc::write(2, after.as_ptr().cast(), after.len());
                libc::syscall(libc::SYS_exit, 0);
            }
            unreachable!("exit(2) returned")
        }
        ForkResult::Parent { child } => {
            waitpid(child, None).map_err(|e| Error::syscall("wait4", e))
        }
    }
}
// ANCHOR_END: strict
