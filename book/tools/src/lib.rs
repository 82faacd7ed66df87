//! Tools that keep isolab's book honest.
//!
//! - [`transcript`]: every terminal session shown in the book is recorded by
//!   running the real step binaries, and re-run by the tests to catch drift.
//! - [`profile`]: the facts of the recording machine, kept beside the
//!   transcripts, so a check on another kind of machine knows what differs.
//! - [`includes`]: every `{{#include file:anchor}}` in the book must name a
//!   file and anchor that exist (mdBook would silently include nothing).

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
