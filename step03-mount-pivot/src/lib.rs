//! isolab step 3: a mount namespace, its own root filesystem, /proc, /sys
//! and /dev, and pivot_root.
//!
//! Everything from steps 1 and 2 is re-exported; this step adds the modules
//! below. The order they are called in is in `src/run.rs`. The [`image`]
//! folder holds the image tooling (default rootfs, import, state dirs),
//! re-exported under its own names.

pub use step02_pid_ns::*;

pub mod chroot_escape;
pub mod dev;
pub mod environ;
pub mod image;
pub mod image_args;
pub mod masked;
pub mod mount;
pub mod pivot;
pub mod pseudofs;
pub mod resolve;

pub use image::{elf, image_tools, import, rootfs, rootfs_cmd, state};
