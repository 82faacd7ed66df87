//! Attacks on the kernel's global interfaces: BPF, perf, module and kexec
//! loading, reboot, the clock, swap, the kernel log, and capabilities
//! regained in a new user namespace. Where success itself would change the
//! host, the arguments are ones the kernel rejects only after its
//! permission check: EPERM means blocked, the other error means through.

use crate::sys::{self, O_CLOEXEC};
use crate::{Host, Verdict};
use Verdict::{Blocked, Escaped};

/// `Ok` (or the errno that follows the permission check): through.
fn past_check(call: &str, result: Result<i64, i32>, through: i32, what: &str) -> Verdict {
    match result {
        Ok(_) => Escaped(what.to_string()),
        Err(e) if e == through => Escaped(format!(
            "{what} ({call}: {}, past its permission check)",
            sys::errno_name(e)
        )),
        Err(e) => Blocked(format!("{call}: {}", sys::errno_name(e))),
    }
}

/// An fd back: through (it is closed at once).
fn got_fd(call: &str, result: Result<i64, i32>, what: &str) -> Verdict {
    match result {
        Ok(fd) => {
            sys::close_fd(fd as i32);
            Escaped(what.to_string())
        }
        Err(e) => Blocked(format!("{call}: {}", sys::errno_name(e))),
    }
}

/// A new user namespace gives its creator every capability in it, and a
/// mount namespace owned by it lets that creator mount: the start of
/// most kernel exploits from containers of the last years.
pub fn userns_caps(_: &Host) -> Verdict {
    // SAFETY: unshare has no memory arguments.
    if unsafe { sys::unshare(0x1000_0000 | 0x0002_0000) } != 0 {
        return Blocked(format!(
            "unshare(CLONE_NEWUSER|CLONE_NEWNS): {}",
            sys::last()
        ));
    }
    match sys::detached_mount("tmpfs", &[]) {
        Ok(fd) => {
            sys::close_fd(fd);
            Escaped("a new user namespace gave CAP_SYS_ADMIN back (a tmpfs mounted)".into())
        }
        Err(e) => Blocked(format!("in a new user namespace: {e}")),
    }
}

/// BPF_PROG_LOAD of a two-instruction tracing program (r0 = 0; exit),
/// never attached.
pub fn bpf(_: &Host) -> Verdict {
    let insns: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];
    let license = sys::cstr("GPL");
    // union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns,
    // license, then zeros.
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&5u32.to_ne_bytes()); // BPF_PROG_TYPE_TRACEPOINT
    attr[4..8].copy_from_slice(&2u32.to_ne_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    let r = sys::raw(
        sys::nr::BPF,
        [5, attr.as_ptr() as usize, attr.len(), 0, 0, 0],
    );
    got_fd(
        "bpf(BPF_PROG_LOAD)",
        r,
        "loaded a BPF tracing program (never attached)",
    )
}

/// A software counter for every process on CPU 0: system-wide perf needs
/// CAP_PERFMON.
pub fn perf_event(_: &Host) -> Verdict {
    // struct perf_event_attr: type (PERF_TYPE_SOFTWARE), size, config
    // (CPU clock), then zeros but the `disabled` bit. Flag 8 is
    // PERF_FLAG_FD_CLOEXEC.
    let mut attr = [0u8; 112];
    attr[0..4].copy_from_slice(&1u32.to_ne_bytes());
    attr[4..8].copy_from_slice(&112u32.to_ne_bytes());
    attr[40] = 1;
    let r = sys::raw(
        sys::nr::PERF_EVENT_OPEN,
        [attr.as_ptr() as usize, usize::MAX, 0, usize::MAX, 8, 0],
    );
    got_fd(
        "perf_event_open(pid -1, cpu 0)",
        r,
        "may count every process on CPU 0",
    )
}

/// userfaultfd without UFFD_USER_MODE_ONLY can stall the kernel itself
/// on a page fault (a favourite of race exploits).
pub fn userfaultfd(_: &Host) -> Verdict {
    let r = sys::raw(sys::nr::USERFAULTFD, [O_CLOEXEC as usize, 0, 0, 0, 0, 0]);
    got_fd(
        "userfaultfd",
        r,
        "made a userfaultfd that handles kernel faults",
    )
}

pub fn io_uring(_: &Host) -> Verdict {
    let params = [0u8; 120];
    let r = sys::raw(
        sys::NR_IO_URING_SETUP,
        [1, params.as_ptr() as usize, 0, 0, 0, 0],
    );
    got_fd(
        "io_uring_setup",
        r,
        "set up an io_uring (a large, often-exploited interface)",
    )
}

pub fn kexec_load(_: &Host) -> Verdict {
    // 1000 segments: over KEXEC_SEGMENT_MAX, EINVAL after CAP_SYS_BOOT.
    let r = sys::raw(sys::nr::KEXEC_LOAD, [0, 1000, 0, 0, 0, 0]);
    past_check("kexec_load", r, 22, "may load a new kernel")
}

pub fn init_module(_: &Host) -> Verdict {
    let empty = sys::cstr("");
    // An empty image: ENOEXEC after CAP_SYS_MODULE.
    let r = sys::raw(
        sys::nr::INIT_MODULE,
        [empty.as_ptr() as usize, 0, empty.as_ptr() as usize, 0, 0, 0],
    );
    past_check("init_module", r, 8, "may load kernel modules")
}

pub fn reboot(_: &Host) -> Verdict {
    // Wrong magic numbers: EINVAL after CAP_SYS_BOOT.
    let r = sys::raw(sys::nr::REBOOT, [0x1234, 0x5678, 0, 0, 0, 0]);
    past_check("reboot", r, 22, "may reboot")
}

pub fn settime(_: &Host) -> Verdict {
    // struct timezone with 100000 minutes west: EINVAL after CAP_SYS_TIME.
    let tz: [i32; 2] = [100_000, 0];
    // SAFETY: a NULL time and a live two-int timezone.
    let rc = unsafe { sys::settimeofday(std::ptr::null(), tz.as_ptr().cast()) };
    let r = if rc == 0 { Ok(0) } else { Err(sys::errno()) };
    past_check("settimeofday", r, 22, "may set the host's clock")
}

pub fn swapoff(_: &Host) -> Verdict {
    let p = sys::cstr("/isolab-no-such-swap");
    // SAFETY: a valid C string naming nothing.
    let rc = unsafe { sys::swapoff(p.as_ptr()) };
    let r = if rc == 0 { Ok(0) } else { Err(sys::errno()) };
    past_check("swapoff", r, 2, "may turn the host's swap off")
}

pub fn syslog(_: &Host) -> Verdict {
    // SYSLOG_ACTION_SIZE_BUFFER (10): reads nothing, needs what a read needs.
    // SAFETY: no buffer for this action.
    let rc = unsafe { sys::klogctl(10, std::ptr::null_mut(), 0) };
    if rc >= 0 {
        Escaped("may read the host's kernel log".into())
    } else {
        Blocked(format!("syslog: {}", sys::last()))
    }
}
