//! Classic BPF for seccomp: a program the kernel runs on every syscall.
//!
//! A seccomp filter is a list of `struct sock_filter` instructions (the
//! packet-filter machine of tcpdump) run against a `struct seccomp_data`:
//! the syscall number, the architecture, the instruction pointer and the six
//! arguments, as raw 64-bit values. It returns an action: allow, fail with
//! an errno, kill, log, or hand the call to a supervisor. It can compare
//! arguments, but it can't follow a pointer: `open("/etc/shadow")` reaches
//! the filter as an address, not a path (Landlock, step 9, checks paths).
//!
//! This module holds the one filter written by hand (the book reads it
//! instruction by instruction), a disassembler so `--explain` can show any
//! program, and the installer that both it and the libseccomp-built default
//! profile go through.

use libc::sock_filter;

use crate::error::{Error, Result};
use crate::explain;

/// The architecture this binary was built for, as `seccomp_data.arch`
/// carries it (AUDIT_ARCH_* from linux/audit.h).
#[cfg(target_arch = "x86_64")]
pub const AUDIT_ARCH_NATIVE: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
pub const AUDIT_ARCH_NATIVE: u32 = 0xC000_00B7;

/// x86_64's x32 ABI numbers its syscalls from bit 30 up: the same kernel
/// entry, other numbers. A filter that checks numbers without this bit
/// in mind can be walked around.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Offsets into `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;

const fn stmt(code: u32, k: u32) -> sock_filter {
    sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u32, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

const LD_W_ABS: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
const JEQ_K: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
const JGE_K: u32 = libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K;
const RET_K: u32 = libc::BPF_RET | libc::BPF_K;

// ANCHOR: by_hand
/// A filter written instruction by instruction: refuse mkdir(2) and
/// mkdirat(2) with EPERM, allow everything else, and kill a process that
/// enters through another architecture's door (a 32-bit `int 0x80`, or
/// x32 numbers), where the same numbers mean other calls.
pub fn mkdir_denied() -> Vec<sock_filter> {
    let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    let mut program = vec![
        // 0: A = seccomp_data.arch
        stmt(LD_W_ABS, ARCH),
        // 1: the arch we were built for? then go on, else kill
        jump(JEQ_K, AUDIT_ARCH_NATIVE, 1, 0),
        // 2:
        stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        // 3: A = seccomp_data.nr
        stmt(LD_W_ABS, NR),
    ];
    if cfg!(target_arch = "x86_64") {
        // 4: x32 numbers (bit 30 set): kill
        program.push(jump(JGE_K, X32_SYSCALL_BIT, 0, 1));
        program.push(stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS));
    }
    program.extend([
        // mkdir (x86_64 only: aarch64 has mkdirat alone) and mkdirat: EPERM
        jump(JEQ_K, MKDIR, 2, 0),
        jump(JEQ_K, libc::SYS_mkdirat as u32, 1, 0),
        stmt(RET_K, libc::SECCOMP_RET_ALLOW),
        stmt(RET_K, eperm),
    ]);
    program
}
// ANCHOR_END: by_hand

#[cfg(target_arch = "x86_64")]
const MKDIR: u32 = libc::SYS_mkdir as u32;
// No mkdir(2) on aarch64: a number no call has keeps the program's shape.
#[cfg(target_arch = "aarch64")]
const MKDIR: u32 = u32::MAX;

/// One instruction as text: `ld [4]`, `jeq #0xc000003e, +1, +0`,
/// `ret ERRNO(1)`.
pub fn disassemble_one(insn: &sock_filter) -> String {
    let code = u32::from(insn.code);
    let k = insn.k;
    match code {
        LD_W_ABS => format!(
            "ld   [{k}]{}",
            match k {
                NR => "  ; nr",
                ARCH => "  ; arch",
                16.. => "  ; args",
                _ => "",
            }
        ),
        JEQ_K => format!("jeq  #{k:#x}, +{}, +{}", insn.jt, insn.jf),
        JGE_K => format!("jge  #{k:#x}, +{}, +{}", insn.jt, insn.jf),
        c if c == libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K => {
            format!("jset #{k:#x}, +{}, +{}", insn.jt, insn.jf)
        }
        c if c == libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K => {
            format!("jgt  #{k:#x}, +{}, +{}", insn.jt, insn.jf)
        }
        c if c == libc::BPF_JMP | libc::BPF_JA => format!("ja   +{k}"),
        c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => format!("and  #{k:#x}"),
        c if c == libc::BPF_LD | libc::BPF_MEM => format!("ld   M[{k}]"),
        c if c == libc::BPF_ST => format!("st   M[{k}]"),
        RET_K => format!("ret  {}", action_name(k)),
        _ => format!(
            "code {:#06x} jt {} jf {} k {k:#x}",
            insn.code, insn.jt, insn.jf
        ),
    }
}

/// A seccomp return value by name: `ALLOW`, `ERRNO(1)`, `KILL_PROCESS`.
pub fn action_name(ret: u32) -> String {
    let data = ret & libc::SECCOMP_RET_DATA;
    match ret & libc::SECCOMP_RET_ACTION_FULL {
        libc::SECCOMP_RET_ALLOW => "ALLOW".into(),
        libc::SECCOMP_RET_ERRNO => format!("ERRNO({data})"),
        libc::SECCOMP_RET_KILL_PROCESS => "KILL_PROCESS".into(),
        libc::SECCOMP_RET_KILL_THREAD => "KILL_THREAD".into(),
        libc::SECCOMP_RET_LOG => "LOG".into(),
        libc::SECCOMP_RET_TRAP => format!("TRAP({data})"),
        libc::SECCOMP_RET_TRACE => format!("TRACE({data})"),
        libc::SECCOMP_RET_USER_NOTIF => "USER_NOTIF".into(),
        other => format!("{other:#x}"),
    }
}

/// The whole program, one numbered line per instruction.
pub fn disassemble(program: &[sock_filter]) -> Vec<String> {
    program
        .iter()
        .enumerate()
        .map(|(i, insn)| format!("{i:4}: {}", disassemble_one(insn)))
        .collect()
}

// ANCHOR: from_process
/// The newest filter of process `pid`, as the kernel holds it: attach with
/// ptrace(2) (the tracee stops), PTRACE_SECCOMP_GET_FILTER once for the
/// length and once for the program, detach. Needs CAP_SYS_ADMIN.
pub fn from_process(pid: i32) -> Result<Vec<sock_filter>> {
    use nix::sys::ptrace;
    use nix::unistd::Pid;
    const PTRACE_SECCOMP_GET_FILTER: libc::c_uint = 0x420c;
    let target = Pid::from_raw(pid);
    ptrace::attach(target)
        .map_err(|e| Error::syscall(format!("ptrace(PTRACE_ATTACH, {pid})"), e))?;
    let _ = nix::sys::wait::waitpid(target, Some(nix::sys::wait::WaitPidFlag::__WALL));
    let get = |buf: *mut sock_filter| {
        // SAFETY: GET_FILTER writes at most the count it returned before
        // into `buf`, which holds that many; NULL asks for the count.
        unsafe { libc::ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0usize, buf) }
    };
    let count = get(std::ptr::null_mut());
    let result = if count < 0 {
        Err(Error::syscall(
            format!("ptrace(PTRACE_SECCOMP_GET_FILTER, {pid}, 0)"),
            nix::errno::Errno::last(),
        )
        .with_hint("the process has no filter, or this needs CAP_SYS_ADMIN: run as root"))
    } else {
        let mut program = vec![
            sock_filter {
                code: 0,
                jt: 0,
                jf: 0,
                k: 0
            };
            count as usize
        ];
        let got = get(program.as_mut_ptr());
        program.truncate(got.max(0) as usize);
        Ok(program)
    };
    let _ = ptrace::detach(target, None);
    result
}
// ANCHOR_END: from_process

/// Instructions from the bytes libseccomp exports (8 bytes each, in this
/// machine's byte order).
pub fn from_bytes(bytes: &[u8]) -> Vec<sock_filter> {
    bytes
        .chunks_exact(8)
        .map(|c| sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

/// A program and a name for it (for the narration and errors).
pub struct Program {
    pub instructions: Vec<sock_filter>,
    pub name: String,
    /// Refusals go to a supervisor (SECCOMP_RET_USER_NOTIF): install with
    /// a listener fd for the runtime.
    pub notify: bool,
}

impl Program {
    /// Name `instructions`.
    pub fn new(instructions: Vec<sock_filter>, name: &str) -> Program {
        Program {
            instructions,
            name: name.to_string(),
            notify: false,
        }
    }

    /// Install it on this process (see [`install`]); the listener fd when
    /// the program notifies.
    pub fn install(&self) -> Result<Option<std::os::fd::OwnedFd>> {
        let flags = if self.notify {
            SECCOMP_FILTER_FLAG_NEW_LISTENER
        } else {
            0
        };
        let fd = install_with(&self.instructions, &self.name, flags)?;
        Ok(self.notify.then(|| {
            // SAFETY: with NEW_LISTENER the kernel returned a new fd, ours.
            unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
        }))
    }
}

/// seccomp(2) flag: return an fd on which a supervisor receives the calls
/// the filter answers with SECCOMP_RET_USER_NOTIF (Linux 5.0).
pub const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Program({}, {} instructions)",
            self.name,
            self.instructions.len()
        )
    }
}

/// Run `program` as the kernel would for one syscall: number `nr`, this
/// machine's architecture, all arguments 0. The return value (an action),
/// or `None` for an instruction this small interpreter does not know. Used
/// to refuse, before anything starts, a profile that would deny a call the
/// runtime still makes after installing it (execve above all).
pub fn evaluate(program: &[sock_filter], nr: u32) -> Option<u32> {
    let data = |offset: u32| -> u32 {
        match offset {
            NR => nr,
            ARCH => AUDIT_ARCH_NATIVE,
            _ => 0, // instruction pointer and arguments
        }
    };
    let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; 16]);
    let mut pc = 0usize;
    for _ in 0..program.len() + 1 {
        let insn = program.get(pc)?;
        let (code, k) = (u32::from(insn.code), insn.k);
        pc += 1;
        let cond = |taken: bool| {
            if taken {
                insn.jt as usize
            } else {
                insn.jf as usize
            }
        };
        match code {
            LD_W_ABS => a = data(k),
            c if c == libc::BPF_LD | libc::BPF_IMM => a = k,
            c if c == libc::BPF_LDX | libc::BPF_IMM => x = k,
            c if c == libc::BPF_LD | libc::BPF_MEM => a = *mem.get(k as usize)?,
            c if c == libc::BPF_LDX | libc::BPF_MEM => x = *mem.get(k as usize)?,
            c if c == libc::BPF_ST => *mem.get_mut(k as usize)? = a,
            c if c == libc::BPF_STX => *mem.get_mut(k as usize)? = x,
            c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => a &= k,
            c if c == libc::BPF_ALU | libc::BPF_OR | libc::BPF_K => a |= k,
            c if c == libc::BPF_MISC | libc::BPF_TAX => x = a,
            c if c == libc::BPF_MISC | libc::BPF_TXA => a = x,
            c if c == libc::BPF_JMP | libc::BPF_JA => pc += k as usize,
            JEQ_K => pc += cond(a == k),
            JGE_K => pc += cond(a >= k),
            c if c == libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K => pc += cond(a > k),
            c if c == libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K => pc += cond(a & k != 0),
            RET_K => return Some(k),
            c if c == libc::BPF_RET | libc::BPF_A => return Some(a),
            _ => return None,
        }
    }
    None
}

// ANCHOR: install
/// seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog): from now on the kernel runs
/// `program` on every syscall of this thread and of everything it forks
/// and execs; a filter can't be removed, only more added. The caller must
/// have no_new_privs set, or CAP_SYS_ADMIN: otherwise a set-uid program
/// could be run under a filter that makes it misbehave.
pub fn install(program: &[sock_filter], name: &str) -> Result<()> {
    install_with(program, name, 0).map(|_| ())
}

/// [`install`] with seccomp(2) `flags`; the call's return value (a
/// listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER).
pub fn install_with(program: &[sock_filter], name: &str, flags: u32) -> Result<i32> {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut sock_filter,
    };
    let call = format!(
        "seccomp(SECCOMP_SET_MODE_FILTER, {}, {{{} instructions: {name}}})",
        if flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
            "SECCOMP_FILTER_FLAG_NEW_LISTENER"
        } else {
            "0"
        },
        program.len()
    );
    // SAFETY: prog points at `program`, alive for the call; the kernel
    // copies it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        let errno = nix::errno::Errno::last();
        let err = Error::syscall(call, errno);
        return Err(match errno {
            nix::errno::Errno::EACCES => err.with_hint(
                "a filter needs no_new_privs or CAP_SYS_ADMIN: drop --allow-new-privs, or run with --security-opt seccomp=unconfined",
            ),
            _ => err,
        });
    }
    explain::syscall(&call, rc);
    Ok(rc as i32)
}
// ANCHOR_END: install

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_filter_reads_as_written() {
        let text = disassemble(&mkdir_denied()).join("\n");
        assert!(text.starts_with("   0: ld   [4]  ; arch"), "{text}");
        assert!(text.contains("ret  KILL_PROCESS"), "{text}");
        assert!(text.contains("ret  ERRNO(1)"), "{text}");
        assert!(text.trim_end().ends_with("ret  ERRNO(1)"), "{text}");
        assert!(text.contains("ret  ALLOW"), "{text}");
    }

    #[test]
    fn the_interpreter_runs_the_hand_filter() {
        let program = mkdir_denied();
        let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        assert_eq!(evaluate(&program, libc::SYS_mkdirat as u32), Some(eperm));
        assert_eq!(
            evaluate(&program, libc::SYS_getpid as u32),
            Some(libc::SECCOMP_RET_ALLOW)
        );
        assert_eq!(
            evaluate(&program, X32_SYSCALL_BIT | 1),
            if cfg!(target_arch = "x86_64") {
                Some(libc::SECCOMP_RET_KILL_PROCESS)
            } else {
                Some(libc::SECCOMP_RET_ALLOW)
            }
        );
    }

    #[test]
    fn bytes_round_trip() {
        let program = mkdir_denied();
        let bytes: Vec<u8> = program
            .iter()
            .flat_map(|i| {
                let mut b = Vec::new();
                b.extend(i.code.to_ne_bytes());
                b.push(i.jt);
                b.push(i.jf);
                b.extend(i.k.to_ne_bytes());
                b
            })
            .collect();
        let back = from_bytes(&bytes);
        assert_eq!(disassemble(&back), disassemble(&program));
    }
}
