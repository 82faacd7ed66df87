//! The device rules as an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE,
//! cgroup v2's device controller. The kernel runs it on every open(2) and
//! mknod(2) of a device node by a process of the cgroup, with a
//! `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
//! (access_type: the access bits << 16 | the device type); it returns 1
//! to allow, 0 to deny (EPERM).
//!
//! Step 8 wrote classic BPF for seccomp: one accumulator, forward jumps,
//! `ret`. This is its successor, eBPF: eleven 64-bit registers (r1 holds
//! the context, r0 the result), loaded with bpf(2) and checked by the
//! verifier, which refuses any instruction no path reaches. The shape is
//! step 8's: a list of tests, each failing test jumping past its rule to
//! the next; here the rules are laid out last first, so the last matching
//! rule of config.json decides, as writing them one by one to v1's
//! devices.allow and devices.deny would.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::device_rules::DeviceRule;
use crate::error::{Error, Result};
use crate::explain;

/// One eBPF instruction (`struct bpf_insn`): opcode, destination and
/// source register (4 bits each, destination low), offset, immediate.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

// Opcodes (linux/bpf.h, bpf_common.h): class | operation | source.
const LDX_MEM_W: u8 = 0x01 | 0x60; // rD = *(u32 *)(rS + off)
const ALU32_AND_K: u8 = 0x04 | 0x50; // wD &= imm
const ALU32_RSH_K: u8 = 0x04 | 0x70; // wD >>= imm
const ALU32_MOV_X: u8 = 0x04 | 0xb0 | 0x08; // wD = wS
const ALU64_MOV_K: u8 = 0x07 | 0xb0; // rD = imm
const JNE_K: u8 = 0x05 | 0x50; // if rD != imm goto +off
const EXIT: u8 = 0x05 | 0x90; // return r0

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

// ANCHOR: build
/// The program for `rules` (in config.json's order; the last match wins).
pub fn build(rules: &[DeviceRule]) -> Vec<Insn> {
    // r2 = type, r3 = access, r4 = major, r5 = minor
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        // Tests first, each jumping to the next rule when it fails; the
        // jump offsets are known once the block is complete.
        let mut tests: Vec<Insn> = Vec::new();
        match rule.kind {
            'c' => tests.push(insn(JNE_K, 2, 0, 0, 2)), // BPF_DEVCG_DEV_CHAR
            'b' => tests.push(insn(JNE_K, 2, 0, 0, 1)), // BPF_DEVCG_DEV_BLOCK
            _ => {}
        }
        let wanted = rule.access_bits();
        if wanted != 0b111 {
            // every access asked for must be one the rule names
            tests.push(insn(ALU32_MOV_X, 1, 3, 0, 0));
            tests.push(insn(ALU32_AND_K, 1, 0, 0, (!wanted & 0b111) as i32));
            tests.push(insn(JNE_K, 1, 0, 0, 0));
        }
        if let Some(major) = rule.major {
            tests.push(insn(JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            tests.push(insn(JNE_K, 5, 0, 0, minor as i32));
        }
        let unconditional = tests.is_empty();
        let len = tests.len() + 2;
        for (i, t) in tests.iter_mut().enumerate() {
            if t.code == JNE_K {
                t.off = (len - i - 1) as i16;
            }
        }
        p.extend(tests);
        p.push(insn(ALU64_MOV_K, 0, 0, 0, rule.allow as i32));
        p.push(insn(EXIT, 0, 0, 0, 0));
        if unconditional {
            // It matches everything: what would follow is unreachable,
            // which the verifier refuses.
            return p;
        }
    }
    p.push(insn(ALU64_MOV_K, 0, 0, 0, 0)); // no rule matched: deny
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}
// ANCHOR_END: build

/// The program as text, one instruction a line (for --debug and the book).
pub fn listing(program: &[Insn]) -> Vec<String> {
    program
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let (d, s) = (x.regs & 0xf, x.regs >> 4);
            let text = match x.code {
                LDX_MEM_W => format!("r{d} = *(u32 *)(r{s} + {})", x.off),
                ALU32_AND_K => format!("w{d} &= {:#x}", x.imm),
                ALU32_RSH_K => format!("w{d} >>= {}", x.imm),
                ALU32_MOV_X => format!("w{d} = w{s}"),
                ALU64_MOV_K => format!("r{d} = {}", x.imm),
                JNE_K => format!(
                    "if r{d} != {:#x} goto {}",
                    x.imm,
                    i as i64 + 1 + x.off as i64
                ),
                EXIT => "exit".to_string(),
                other => format!("opcode {other:#04x}"),
            };
            format!("{i:3}: {text}")
        })
        .collect()
}

// ANCHOR: load_and_attach
/// bpf(BPF_PROG_LOAD), then bpf(BPF_PROG_ATTACH) to the cgroup directory.
/// The attachment holds the program: our fds may close, and removing the
/// cgroup detaches it.
pub fn load_and_attach(program: &[Insn], cgroup: &Path) -> Result<()> {
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_PROG_ATTACH: libc::c_long = 8;
    const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
    const BPF_CGROUP_DEVICE: u32 = 6;
    const BPF_F_ALLOW_MULTI: u32 = 2;
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 16 * 1024];
    let mut name = [0u8; 16];
    name[..6].copy_from_slice(b"isolab");
    let load = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: program.len() as u32,
        insns: program.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
        prog_ifindex: 0,
        expected_attach_type: BPF_CGROUP_DEVICE,
    };
    let prog = bpf(BPF_PROG_LOAD, &load).map_err(|e| {
        let verifier = String::from_utf8_lossy(&log);
        let last = verifier.trim_end_matches('\0').lines().last().unwrap_or("");
        Error::syscall("bpf(BPF_PROG_LOAD, CGROUP_DEVICE)", e).with_hint(format!(
            "the verifier said: {last} (loading BPF needs CAP_BPF or CAP_SYS_ADMIN)"
        ))
    })?;
    // SAFETY: a new fd that bpf(2) returned, owned by nothing else.
    let prog = unsafe { OwnedFd::from_raw_fd(prog) };
    explain::syscall(
        &format!("bpf(BPF_PROG_LOAD, CGROUP_DEVICE, {} insns)", program.len()),
        prog.as_raw_fd() as usize,
    );
    let dir = std::fs::File::open(cgroup)
        .map_err(|e| Error::io(format!("opening {}", cgroup.display()), e))?;
    let attach = ProgAttach {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    bpf(BPF_PROG_ATTACH, &attach)
        .map_err(|e| Error::syscall("bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE)", e))?;
    explain::syscall(
        &format!(
            "bpf(BPF_PROG_ATTACH, {:?}, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)",
            cgroup.display().to_string()
        ),
        0,
    );
    Ok(())
}
// ANCHOR_END: load_and_attach

/// `union bpf_attr` as BPF_PROG_LOAD reads it (the fields up to
/// expected_attach_type; the kernel takes the size we pass).
#[repr(C)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` as BPF_PROG_ATTACH reads it.
#[repr(C)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &T) -> std::result::Result<i32, nix::errno::Errno> {
    // SAFETY: `attr` is a live, initialised bpf_attr prefix of the size we
    // pass; the pointers inside it point at buffers that outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *const T,
            std::mem::size_of::<T>(),
        )
    };
    nix::errno::Errno::result(rc).map(|fd| fd as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device_rules::{defaults, parse};
    use serde_json::json;

    #[test]
    fn the_last_matching_rule_decides_and_nothing_is_unreachable() {
        let rules = vec![
            parse("r", &json!({"allow": false, "access": "rwm"})).unwrap(),
            parse(
                "r",
                &json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"}),
            )
            .unwrap(),
        ];
        let text = listing(&build(&rules)).join("\n");
        assert_eq!(
            text,
            "  0: r2 = *(u32 *)(r1 + 0)
  1: w2 &= 0xffff
  2: r3 = *(u32 *)(r1 + 0)
  3: w3 >>= 16
  4: r4 = *(u32 *)(r1 + 4)
  5: r5 = *(u32 *)(r1 + 8)
  6: if r2 != 0x2 goto 14
  7: w1 = w3
  8: w1 &= 0x5
  9: if r1 != 0x0 goto 14
 10: if r4 != 0x1 goto 14
 11: if r5 != 0x3 goto 14
 12: r0 = 1
 13: exit
 14: r0 = 0
 15: exit"
        );
        // With the defaults after them, the deny-all is still the last
        // block and nothing follows it.
        let mut all = rules.clone();
        all.extend(defaults());
        let program = build(&all);
        assert_eq!(program.last().unwrap().code, EXIT);
        assert_eq!(program[program.len() - 2].imm, 0);
    }

    /// Run the program on one access, as the kernel would (a tiny
    /// interpreter of the opcodes above).
    fn run(program: &[Insn], kind: u32, access: u32, major: u32, minor: u32) -> i64 {
        let ctx = [(access << 16) | kind, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let x = program[pc];
            let (d, s) = ((x.regs & 0xf) as usize, (x.regs >> 4) as usize);
            pc += 1;
            match x.code {
                LDX_MEM_W => r[d] = ctx[x.off as usize / 4] as u64,
                ALU32_AND_K => r[d] = (r[d] as u32 & x.imm as u32) as u64,
                ALU32_RSH_K => r[d] = ((r[d] as u32) >> x.imm) as u64,
                ALU32_MOV_X => r[d] = r[s] as u32 as u64,
                ALU64_MOV_K => r[d] = x.imm as i64 as u64,
                JNE_K => {
                    if r[d] != x.imm as i64 as u64 {
                        pc = (pc as i64 + x.off as i64) as usize;
                    }
                }
                EXIT => return r[0] as i64,
                _ => panic!("opcode"),
            }
        }
    }

    #[test]
    fn the_program_answers_as_the_rules_say() {
        let rules: Vec<DeviceRule> = [
            json!({"allow": false, "access": "rwm"}),
            json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"}),
            json!({"allow": true, "type": "b", "major": 8, "access": "m"}),
            json!({"allow": false, "type": "b", "major": 8, "minor": 0, "access": "m"}),
        ]
        .iter()
        .map(|r| parse("r", r).unwrap())
        .collect();
        let p = build(&rules);
        let (char_, block) = (2, 1);
        let (m, r_, w) = (1, 2, 4);
        assert_eq!(run(&p, char_, r_, 1, 3), 1, "read /dev/null");
        assert_eq!(run(&p, char_, w, 1, 3), 0, "write: only r allowed");
        assert_eq!(run(&p, char_, r_ | w, 1, 3), 0, "read+write");
        assert_eq!(run(&p, char_, r_, 1, 5), 0, "another device");
        assert_eq!(run(&p, block, m, 8, 1), 1, "mknod sdb1");
        assert_eq!(run(&p, block, m, 8, 0), 0, "a later deny wins");
        assert_eq!(run(&p, block, r_, 8, 1), 0, "read of a block device");
    }
}
