//! Compiled filters, cached on disk.
//!
//! libseccomp builds the default profile for three architectures into
//! about 900 BPF instructions, and that takes milliseconds: more than the
//! rest of a container's start. The result depends only on the profile,
//! the container's capabilities, the architecture and the library, so it
//! is kept under `<lib>/seccomp/<key>.bpf` and the next start reads it back
//! (crun keeps such a cache too). A miss, or a file that does not read back
//! whole, just compiles again.

use std::hash::{DefaultHasher, Hash, Hasher};

use libc::sock_filter;

use crate::bpf;
use crate::error::Result;
use crate::explain;
use crate::state::State;

/// The cache key of `parts` (with this machine's architecture).
pub fn key(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    std::env::consts::ARCH.hash(&mut h);
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

// ANCHOR: get_or_compile
/// The program cached under `key`, or `compile()`'s, then cached.
pub fn get_or_compile(
    state: &State,
    key: u64,
    compile: impl FnOnce() -> Result<Vec<sock_filter>>,
) -> Result<Vec<sock_filter>> {
    let dir = state.lib.join("seccomp");
    let file = dir.join(format!("{key:016x}.bpf"));
    if let Ok(bytes) = std::fs::read(&file)
        && !bytes.is_empty()
        && bytes.len() % 8 == 0
    {
        explain::note(&format!(
            "seccomp: compiled filter from the cache, {}",
            file.display()
        ));
        return Ok(bpf::from_bytes(&bytes));
    }
    let program = compile()?;
    // Best effort: a cache that can't be written only costs time.
    let tmp = dir.join(format!(".{key:016x}.{}", std::process::id()));
    let bytes: Vec<u8> = program
        .iter()
        .flat_map(|i| {
            let mut b = Vec::with_capacity(8);
            b.extend(i.code.to_ne_bytes());
            b.extend([i.jt, i.jf]);
            b.extend(i.k.to_ne_bytes());
            b
        })
        .collect();
    if std::fs::create_dir_all(&dir).is_ok()
        && std::fs::write(&tmp, &bytes).is_ok()
        && std::fs::rename(&tmp, &file).is_ok()
    {
        explain::note(&format!(
            "seccomp: compiled and cached in {}",
            file.display()
        ));
    } else {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(program)
}
// ANCHOR_END: get_or_compile

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_program_comes_back_whole() {
        let root =
            std::env::temp_dir().join(format!("isolab-seccomp-cache-{}", std::process::id()));
        let state = State::new(Some(&root));
        let program = bpf::mkdir_denied();
        let first = get_or_compile(&state, 7, || Ok(program.clone())).unwrap();
        let second = get_or_compile(&state, 7, || panic!("compiled twice")).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(bpf::disassemble(&first), bpf::disassemble(&second));
        assert_ne!(key(&["a", "b"]), key(&["ab"]));
    }
}
