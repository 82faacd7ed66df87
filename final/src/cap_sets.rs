//! config.json's five capability sets, applied exactly as listed (steps 6
//! and 7 derive them from docker's flags instead).

use std::collections::BTreeSet;

use crate::capabilities::{self, to_caps};
use crate::error::{Error, Result};
use crate::explain;

/// The numbers of `names`. The runtime spec says an unknown name is
/// warned about and skipped, not an error: a config written for a newer
/// kernel still runs.
pub fn known(names: &[String]) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for name in names {
        match capabilities::parse_names(std::slice::from_ref(name)) {
            Ok(set) => out.extend(set),
            Err(_) => crate::cli::warn(&format!(
                "isolab: warning: unknown capability {name}: skipped"
            )),
        }
    }
    out
}

// ANCHOR: set_exactly
/// Set permitted, effective, inheritable and ambient. Effective is emptied
/// first: the kernel refuses a permitted set smaller than the effective.
pub fn set_exactly(
    permitted: &BTreeSet<u32>,
    effective: &BTreeSet<u32>,
    inheritable: &BTreeSet<u32>,
    ambient: &BTreeSet<u32>,
) -> Result<()> {
    let fail = |what: &'static str| {
        move |e: caps::errors::CapsError| Error::Request(format!("{what} failed: {e}"))
    };
    caps::set(None, caps::CapSet::Effective, &caps::CapsHashSet::new())
        .map_err(fail("capset(effective)"))?;
    caps::set(None, caps::CapSet::Permitted, &to_caps(permitted))
        .map_err(fail("capset(permitted)"))?;
    caps::set(None, caps::CapSet::Inheritable, &to_caps(inheritable))
        .map_err(fail("capset(inheritable)"))?;
    caps::set(None, caps::CapSet::Effective, &to_caps(effective))
        .map_err(fail("capset(effective)"))?;
    caps::clear(None, caps::CapSet::Ambient).map_err(fail("prctl(PR_CAP_AMBIENT_CLEAR_ALL)"))?;
    for c in to_caps(ambient) {
        caps::raise(None, caps::CapSet::Ambient, c).map_err(fail("prctl(PR_CAP_AMBIENT_RAISE)"))?;
    }
    explain::syscall(
        &format!(
            "capset(permitted={}, effective={}, inheritable={}), ambient={}",
            capabilities::names(permitted),
            capabilities::names(effective),
            capabilities::names(inheritable),
            capabilities::names(ambient)
        ),
        0,
    );
    Ok(())
}
// ANCHOR_END: set_exactly
