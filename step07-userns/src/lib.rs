//! isolab step 7: the user namespace. Root in the container is an
//! unprivileged uid on the host, the image still looks root-owned inside
//! (an idmapped mount), and a normal user can run containers without sudo.
//!
//! Everything from steps 1 to 6 is re-exported; this step adds [`userns`]
//! and [`idmap`].

pub use step06_capabilities::*;

pub mod idmap;
pub mod map_args;
pub mod userns;
