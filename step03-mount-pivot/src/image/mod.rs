//! Image tooling: where root filesystems come from and where isolab keeps
//! them. The default image built from host programs (and the ELF reader
//! that finds their libraries), tarball import, the `rootfs` subcommand
//! and the state directories. Step 3's lesson (the mount namespace,
//! pivot_root, /proc, /sys, /dev, masks) is in the modules beside this
//! folder; the crate root re-exports these under their own names.

pub mod elf;
pub mod image_tools;
pub mod import;
pub mod rootfs;
pub mod rootfs_cmd;
pub mod state;
