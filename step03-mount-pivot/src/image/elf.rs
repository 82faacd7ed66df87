//! What a dynamically linked program needs to run, read from the ELF file
//! itself: its interpreter (PT_INTERP, the dynamic loader) and the shared
//! libraries it names (DT_NEEDED), found the way the loader finds them.
//!
//! Only 64-bit little-endian ELF is read (x86_64, aarch64, riscv64): the
//! machines a workshop runs on. A static binary has neither and needs
//! nothing.

use std::path::{Path, PathBuf};

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_LOAD: u32 = 1;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;

/// The dynamic-linking facts of one ELF file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dynamic {
    /// PT_INTERP: the loader's path, e.g. /lib64/ld-linux-x86-64.so.2.
    pub interpreter: Option<String>,
    /// DT_NEEDED names, e.g. libc.so.6.
    pub needed: Vec<String>,
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}
fn cstr_at(b: &[u8], o: usize) -> Option<String> {
    let rest = b.get(o..)?;
    let end = rest.iter().position(|&c| c == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// Parse an ELF image. `None` if it is not 64-bit little-endian ELF (a
/// script, say: then it needs only its `#!` interpreter).
pub fn parse(b: &[u8]) -> Option<Dynamic> {
    if b.get(0..4)? != b"\x7fELF" || *b.get(4)? != 2 || *b.get(5)? != 1 {
        return None;
    }
    let phoff = u64_at(b, 0x20)? as usize;
    let phentsize = u16_at(b, 0x36)? as usize;
    let phnum = u16_at(b, 0x38)? as usize;
    let mut dynamic = Dynamic::default();
    let mut loads = Vec::new(); // (vaddr, offset, filesz)
    let mut dyn_range = None;
    // ANCHOR: program_headers
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let p_type = u32_at(b, ph)?;
        let offset = u64_at(b, ph + 8)?;
        let vaddr = u64_at(b, ph + 16)?;
        let filesz = u64_at(b, ph + 32)?;
        match p_type {
            PT_INTERP => dynamic.interpreter = cstr_at(b, offset as usize),
            PT_LOAD => loads.push((vaddr, offset, filesz)),
            PT_DYNAMIC => dyn_range = Some((offset as usize, filesz as usize)),
            _ => {}
        }
    }
    // ANCHOR_END: program_headers
    let Some((dyn_off, dyn_size)) = dyn_range else {
        return Some(dynamic);
    };
    // Dynamic entries are (tag, value) pairs of 8 bytes each.
    let mut strtab_vaddr = None;
    let mut needed_offsets = Vec::new();
    for i in 0..dyn_size / 16 {
        let tag = u64_at(b, dyn_off + i * 16)?;
        let val = u64_at(b, dyn_off + i * 16 + 8)?;
        match tag {
            DT_NULL => break,
            DT_NEEDED => needed_offsets.push(val),
            DT_STRTAB => strtab_vaddr = Some(val),
            _ => {}
        }
    }
    // DT_STRTAB is a virtual address: find the file offset through the
    // PT_LOAD segment that maps it.
    let strtab = strtab_vaddr.and_then(|v| {
        loads
            .iter()
            .find(|(vaddr, _, size)| v >= *vaddr && v < vaddr + size)
            .map(|(vaddr, off, _)| (v - vaddr + off) as usize)
    })?;
    for off in needed_offsets {
        dynamic.needed.push(cstr_at(b, strtab + off as usize)?);
    }
    Some(dynamic)
}

/// How many bytes from the start of the file the kernel and the loader
/// read to run it: the end of the furthest segment any program header
/// names. Debug information and the section headers come after it and
/// are not needed to run (the runtime's sealed copy of itself stops
/// there). `None` if `head`, the start of the file, doesn't hold a 64-bit
/// little-endian ELF header and its program headers.
pub fn loaded_extent(head: &[u8]) -> Option<u64> {
    if head.get(0..4)? != b"\x7fELF" || *head.get(4)? != 2 || *head.get(5)? != 1 {
        return None;
    }
    let phoff = u64_at(head, 0x20)? as usize;
    let phentsize = u16_at(head, 0x36)? as usize;
    let phnum = u16_at(head, 0x38)? as usize;
    let mut end = (phoff + phnum * phentsize) as u64;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        end = end.max(u64_at(head, ph + 8)? + u64_at(head, ph + 32)?);
    }
    Some(end)
}

/// Where the loader looks for libraries (no RPATH/RUNPATH: system
/// programs don't use them), in its order, plus /etc/ld.so.conf.d entries.
pub fn library_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/etc/ld.so.conf.d") {
        let mut confs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        confs.sort();
        for conf in confs {
            for line in std::fs::read_to_string(conf).unwrap_or_default().lines() {
                let line = line.trim();
                if line.starts_with('/') {
                    dirs.push(PathBuf::from(line));
                }
            }
        }
    }
    // The loader's built-in list: Debian's and Ubuntu's ld.so also know
    // the multiarch directories without any ld.so.conf (a minimal system,
    // the CI's VM guest, has none).
    let multiarch = format!("{}-linux-gnu", std::env::consts::ARCH);
    for d in [
        format!("/lib/{multiarch}"),
        format!("/usr/lib/{multiarch}"),
        "/lib64".into(),
        "/usr/lib64".into(),
        "/lib".into(),
        "/usr/lib".into(),
    ] {
        if !dirs.iter().any(|have| *have == Path::new(&d)) {
            dirs.push(PathBuf::from(d));
        }
    }
    dirs
}

// ANCHOR: closure
/// Every file `program` needs, transitively: loader and libraries, as host
/// paths. Libraries that can't be found are returned in the error.
pub fn closure(program: &Path) -> Result<Vec<PathBuf>, String> {
    let dirs = library_dirs();
    let mut out: Vec<PathBuf> = Vec::new();
    let mut todo = vec![program.to_path_buf()];
    let mut seen_names: Vec<String> = Vec::new();
    while let Some(file) = todo.pop() {
        let bytes = std::fs::read(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let Some(dynamic) = parse(&bytes) else {
            continue;
        };
        if let Some(interp) = dynamic.interpreter {
            let p = PathBuf::from(interp);
            if !out.contains(&p) {
                out.push(p);
            }
        }
        for name in dynamic.needed {
            if seen_names.contains(&name) {
                continue;
            }
            seen_names.push(name.clone());
            let found = dirs.iter().map(|d| d.join(&name)).find(|p| p.exists());
            match found {
                Some(p) => {
                    out.push(p.clone());
                    todo.push(p);
                }
                None => return Err(format!("{}: library {name} not found", program.display())),
            }
        }
    }
    Ok(out)
}
// ANCHOR_END: closure

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_elf() {
        assert_eq!(parse(b"#!/bin/sh\necho hi\n"), None);
        assert_eq!(parse(b""), None);
    }

    #[test]
    fn host_shell_needs_a_loader_and_libc() {
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        let dynamic = parse(&std::fs::read(&sh).unwrap()).expect("ELF");
        // Debian's dash (or busybox-static) on these machines.
        if let Some(interp) = &dynamic.interpreter {
            assert!(interp.contains("ld-"), "{interp}");
            assert!(
                dynamic.needed.iter().any(|n| n.starts_with("libc.so")),
                "{dynamic:?}"
            );
            let files = closure(&sh).unwrap();
            assert!(
                files
                    .iter()
                    .any(|p| p.to_string_lossy().contains("libc.so")),
                "{files:?}"
            );
        }
    }

    #[test]
    fn the_loaded_extent_is_within_the_file_and_past_the_headers() {
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let end = loaded_extent(&exe[..exe.len().min(65536)]).unwrap();
        assert!(
            end > 64 && end <= exe.len() as u64,
            "{end} of {}",
            exe.len()
        );
        assert_eq!(loaded_extent(b"#!/bin/sh\n"), None);
        assert_eq!(loaded_extent(&exe[..32]), None); // program headers cut off
    }

    #[test]
    fn truncated_elf_is_not_a_crash() {
        let sh = std::fs::read(std::fs::canonicalize("/bin/sh").unwrap()).unwrap();
        for len in [5, 64, 100, 1000] {
            let _ = parse(&sh[..len.min(sh.len())]);
        }
    }
}
