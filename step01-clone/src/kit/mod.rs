//! The kit: what the workshop uses to *see* the lesson, not the lesson
//! itself. The /proc [`inspect`]or, the [`explain`] narrator, `--pause`,
//! the command line every step shares, the error type, and the helpers
//! the integration tests use. Every step uses it unchanged; the crate root
//! re-exports each module, so call sites say `crate::explain`, not
//! `crate::kit::explain`.

pub mod cli;
pub mod error;
pub mod explain;
pub mod inspect;
pub mod pause;
#[cfg(feature = "testing")]
pub mod testing;
