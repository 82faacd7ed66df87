//! isolab step 1: clone(2) and the UTS namespace.
//!
//! A container starts as an ordinary task made by clone(2), with flags that
//! give it new namespaces. Step 1 asks for one, the UTS namespace, so the
//! child can change its hostname without the host noticing.
//!
//! The lesson is in the modules at the top: [`clone`], [`uts`], [`prctl`],
//! the parent/child [`sync`] channel, [`signals`] (forwarding and waiting)
//! and [`exec`]; the order they are called in is `src/run.rs`. The
//! [`kit`] folder holds what every step uses to show the lesson (the /proc
//! inspector, the narrator, `--pause`, the shared command line, errors,
//! test helpers), re-exported here under its own names. Later steps
//! re-export this crate (`pub use step01_clone::*`) and add one module
//! each.

pub mod clone;
pub mod exec;
pub mod kit;
pub mod prctl;
pub mod signals;
pub mod sync;
pub mod uts;

#[cfg(feature = "testing")]
pub use kit::testing;
pub use kit::{cli, error, explain, inspect, pause};

pub use error::{Error, Result};
