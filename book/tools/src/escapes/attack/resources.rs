//! Attacks on shared resources: processes and memory. Bounded, so that
//! success is a number and not a dead host: 1000 processes, 512 MiB.

use crate::sys;
use crate::{Host, Verdict};
use Verdict::{Blocked, Escaped};

const PROCESSES: usize = 1000;
const MIB: usize = 512;

/// Fork PROCESSES children that wait on a pipe, then let them all go.
pub fn fork_bomb(_: &Host) -> Verdict {
    let mut fds = [0i32; 2];
    // SAFETY: pipe fills the array.
    unsafe { sys::pipe(fds.as_mut_ptr()) };
    let mut made = 0;
    let mut refused = None;
    for _ in 0..PROCESSES {
        // SAFETY: single-threaded; a child only waits for EOF and exits.
        let pid = unsafe { sys::fork() };
        if pid == 0 {
            // SAFETY: the child's own copies of the pipe's ends.
            unsafe {
                sys::close(fds[1]);
                let mut b = 0u8;
                sys::read(fds[0], (&mut b as *mut u8).cast(), 1);
                sys::_exit(0);
            }
        }
        if pid < 0 {
            refused = Some(sys::last());
            break;
        }
        made += 1;
    }
    sys::close_fd(fds[1]);
    sys::close_fd(fds[0]);
    for _ in 0..made {
        let mut status = 0;
        // SAFETY: reaping our own children.
        unsafe { sys::waitpid(-1, &mut status, 0) };
    }
    match refused {
        None => Escaped(format!("ran {PROCESSES} processes at once")),
        Some(e) => Blocked(format!("fork: {e} before {PROCESSES} processes")),
    }
}

/// Touch MIB MiB of anonymous memory, a page at a time.
pub fn memory_hog(_: &Host) -> Verdict {
    let len = MIB << 20;
    // SAFETY: a new private anonymous mapping of len bytes.
    let p = unsafe { sys::mmap(std::ptr::null_mut(), len, 3, 0x22, -1, 0) };
    if p as isize == -1 {
        return Blocked(format!("mmap: {}", sys::last()));
    }
    let bytes = p.cast::<u8>();
    for off in (0..len).step_by(4096) {
        // SAFETY: inside the mapping just made.
        unsafe { bytes.add(off).write_volatile(1) };
    }
    Escaped(format!("held {MIB} MiB"))
}
