//! pivot_root(2): make the rootfs `/` and take the host's root away.
//!
//! chroot(2) only changes where path lookup starts for one process; the
//! host's root is still mounted in the namespace, and a process with
//! CAP_SYS_CHROOT can walk back out of a chroot (chroot into a subdir, then
//! `..` past the old root). pivot_root instead moves the whole mount
//! namespace's root: the rootfs becomes `/`, the old root is moved under it,
//! and we unmount it. After that there is no path back to the host.
//!
//! ```text
//!  before                              after pivot_root(".", ".") + umount2(".", MNT_DETACH)
//!  /            (host root)            /            (was ROOTFS)
//!  ├── proc     (host proc)            ├── proc     (new proc)
//!  └── ROOTFS   (bind mount)           ├── dev      (tmpfs)
//!      ├── proc (new proc)             └── bin, etc, …
//!      ├── dev  (tmpfs)
//!      └── bin, etc, …                 host root: stacked under `/`, then detached
//! ```

use std::path::Path;

use nix::mount::MsFlags;

use crate::error::{Error, Result};
use crate::explain;
use crate::mount;

// ANCHOR: bind_rootfs
/// Bind the rootfs onto itself. pivot_root(2) requires new_root to be a
/// mount point (EINVAL otherwise), and a plain directory is not one.
pub fn bind_rootfs(rootfs: &Path) -> Result<()> {
    let path = rootfs.to_string_lossy();
    mount::mount_path(
        Some(&path),
        &path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
}
// ANCHOR_END: bind_rootfs

// ANCHOR: pivot_root
/// Pivot into `rootfs` (already a mount point) and detach the old root.
pub fn pivot_root(rootfs: &Path) -> Result<()> {
    let shown = rootfs.display().to_string();
    nix::unistd::chdir(rootfs).map_err(|e| Error::syscall(format!("chdir({shown:?})"), e))?;
    explain::syscall(&format!("chdir({shown:?})"), 0);
    // pivot_root(".", "."): new root and put_old are the same directory.
    // The old root ends up mounted on top of the new one at "/", so the
    // rootfs needs no directory to hold it (runc's trick; see the NOTES of
    // pivot_root(2)). EBUSY/EINVAL here mean the rootfs is not a mount point
    // or the mount tree is shared: both handled above.
    nix::unistd::pivot_root(".", ".").map_err(|e| Error::syscall("pivot_root(\".\", \".\")", e))?;
    explain::syscall("pivot_root(\".\", \".\")", 0);
    // "." is now the old root, stacked over the new one: detach it, and
    // with it every host mount.
    mount::detach(".")?;
    nix::unistd::chdir("/").map_err(|e| Error::syscall("chdir(\"/\")", e))?;
    explain::syscall("chdir(\"/\")", 0);
    Ok(())
}
// ANCHOR_END: pivot_root
