//! isolab step 1: clone(2) and the UTS namespace.
//!
//! A container starts as an ordinary task made by clone(2), with flags that
//! give it new namespaces. Step 1 asks for one, the UTS namespace, so the
//! child can change its hostname without the host noticing.
//!
//! This crate also holds what every later step reuses unchanged: the /proc
//! [`inspect`]or, the [`explain`] narrator, the parent/child [`sync`]
//! channel, signal forwarding and exec. Later steps re-export it
//! (`pub use step01_clone::*`) and add one module each.

pub mod cli;
pub mod clone;
pub mod error;
pub mod exec;
pub mod explain;
pub mod inspect;
pub mod pause;
pub mod prctl;
pub mod signals;
pub mod sync;
pub mod testing;
pub mod uts;

pub use error::{Error, Result};
