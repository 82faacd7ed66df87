//! The classic chroot escape, for the book: why step 3 uses pivot_root.
//!
//! chroot(2) changes a process's root directory and nothing else; it does
//! not even change its working directory. A root process inside a chroot
//! (with CAP_SYS_CHROOT) can chroot again into a subdirectory while its
//! working directory stays above that new root, then `chdir("..")` upward,
//! past the old root, up to the real `/` of the mount namespace, and
//! chroot there. (See chroot(2), NOTES: "This call does not change the
//! current working directory".)
//!
//! After pivot_root and unmounting the old root there is nothing above the
//! container's `/` in its mount namespace: the same trick ends where it
//! started. Capabilities (step 6) take CAP_SYS_CHROOT away too.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, Result};

fn id_of(path: &str) -> Result<(u64, u64)> {
    let m = std::fs::metadata(path).map_err(|e| Error::io(format!("stat({path:?})"), e))?;
    Ok((m.dev(), m.ino()))
}

fn step(text: String) {
    crate::cli::outln(&text);
}

// ANCHOR: attempt
/// Jail this process in `dir` with chroot, then try to break out. Prints
/// each step; returns whether it got out.
pub fn attempt(dir: &Path) -> Result<bool> {
    let sys = |call: String, r: nix::Result<()>| r.map_err(|e| Error::syscall(call, e));
    sys(format!("chroot({:?})", dir), nix::unistd::chroot(dir))?;
    sys("chdir(\"/\")".into(), nix::unistd::chdir("/"))?;
    let jail = id_of("/")?;
    step(format!(
        "jailed: chroot({}) and chdir(\"/\")",
        dir.display()
    ));
    let _ = std::fs::create_dir("/.escape");
    sys("chroot(\".escape\")".into(), nix::unistd::chroot(".escape"))?;
    step("chroot(\".escape\"): the root moves down, the working directory stays above it".into());
    for _ in 0..64 {
        sys("chdir(\"..\")".into(), nix::unistd::chdir(".."))?;
    }
    sys("chroot(\".\")".into(), nix::unistd::chroot("."))?;
    step("chdir(\"..\") 64 times, then chroot(\".\")".into());
    let now = id_of("/")?;
    if now == jail {
        step("still in the jail: there is nothing above this root".into());
        Ok(false)
    } else {
        let name = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        step("escaped: / is now a directory above the jail; its /etc/hostname says:".into());
        step(name.trim().to_string());
        Ok(true)
    }
}
// ANCHOR_END: attempt
