//! Tools that keep isolab's book honest.
//!
//! - [`transcript`]: every terminal session shown in the book is recorded by
//!   running the real step binaries, and re-run by the tests to catch drift.
//! - [`profile`]: the facts of the recording machine, kept beside the
//!   transcripts, so a check on another kind of machine knows what differs.
//! - [`escapes`]: the escape matrix, every attack in every step, recorded
//!   into an appendix and re-run by the tests.
//! - [`includes`]: every `{{#include file:anchor}}` in the book must name a
//!   file and anchor that exist (mdBook would silently include nothing).

pub mod escapes;
pub mod includes;
pub mod profile;
pub mod redact;
pub mod transcript;

use std::path::{Path, PathBuf};

/// The book's folder (`book/`), found from this crate's location.
pub fn book_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("book/tools has a parent")
        .to_path_buf()
}

/// Every file under `dir` whose name ends with `suffix`, sorted.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Is this process root (effective uid 0)? The privileged tests say so
/// loudly when not.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}
