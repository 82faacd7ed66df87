//! isolab step 4: OverlayFS. The rootfs becomes a read-only image shared
//! by every container; each container writes to its own upper layer.
//!
//! Everything from steps 1 to 3 is re-exported; this step adds [`overlay`]
//! and [`container`] (a container's directories and their cleanup).

pub use step03_mount_pivot::*;

pub mod cleanup;
pub mod container;
pub mod layer_args;
pub mod layer_tools;
pub mod overlay;
