//! isolab step 8: seccomp, a filter on the syscalls themselves.
//! Capabilities and namespaces decide what a call may do; a seccomp filter
//! decides which calls may be made at all, and so closes kernel interfaces
//! that neither covers (keyrings, BPF, io_uring, new user namespaces).
//!
//! Everything from steps 1 to 7 is re-exported; this step adds [`bpf`]
//! (the filter machine, a filter built by hand, the installer), [`strict`]
//! (seccomp's first mode), [`profile`] (the default profile, built with
//! libseccomp), [`profile_file`] (OCI and docker profiles from files) and
//! [`probe`] (the attacks the tests make from inside).

pub use step07_userns::*;

pub mod bpf;
pub mod cache;
pub mod filter_tools;
pub mod learn;
pub mod notify;
pub mod probe;
pub mod profile;
pub mod profile_file;
pub mod seccomp_args;
pub mod security_opt;
pub mod strict;
