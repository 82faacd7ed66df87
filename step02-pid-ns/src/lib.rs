//! isolab step 2: a PID namespace, and the init that PID 1 must be.
//!
//! Everything from step 1 is re-exported; this step adds [`init`].

pub use step01_clone::*;

pub mod init;
