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

/// A directory under the temp dir that is removed, with all in it, when
/// dropped: also on an early return while a tool sets it up. (Step 1's
/// `testing::TempDir` is the same for tests, behind a test-only feature.)
#[derive(Debug)]
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    /// A fresh, empty `isolab-NAME-PID` under the temp dir.
    pub fn new(name: &str) -> std::io::Result<ScratchDir> {
        let path = std::env::temp_dir().join(format!("isolab-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)?;
        Ok(ScratchDir(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
