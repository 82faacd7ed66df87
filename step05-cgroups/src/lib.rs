//! isolab step 5: cgroups. Memory, processes and CPU are limited and
//! accounted, on cgroup v2, v1 or both, and a cgroup namespace shows the
//! container only its own cgroup.
//!
//! Everything from steps 1 to 4 is re-exported; this step adds [`limits`],
//! [`cgroup`] and [`cgroupns`].

pub use step04_overlay::*;

pub mod cgroup;
pub mod cgroup_sweep;
pub mod cgroupns;
pub mod limit_args;
pub mod limits;
