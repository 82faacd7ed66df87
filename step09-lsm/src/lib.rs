//! isolab step 9: mandatory access control. Steps 6 to 8 decide what root
//! in the container may do and which syscalls it may make; none of them
//! can say "not *this* file". A Linux security module can: this step adds
//! [`ruleset`], a Landlock ruleset the command restricts itself with, and
//! [`apparmor`] and [`selinux`], the host's profile or label it runs in,
//! both asked for by writes to /proc through a checked handle
//! ([`proc_handle`], which the runtime's sysctls and oom_score_adj use
//! too).
//!
//! Everything from steps 1 to 8 is re-exported.

pub use step08_seccomp::*;

pub mod apparmor;
pub mod landlock_args;
pub mod proc_handle;
pub mod ruleset;
pub mod selinux;
