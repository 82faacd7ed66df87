//! config.json's five capability sets, applied exactly as listed (steps 6
//! and 7 derive them from docker's flags instead).

use std::collections::BTreeSet;

use crate::capabilities;
use crate::error::Result;
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
/// Set permitted, effective, inheritable and ambient as given, with step
/// 6's capset sequence.
pub fn set_exactly(
    permitted: &BTreeSet<u32>,
    effective: &BTreeSet<u32>,
    inheritable: &BTreeSet<u32>,
    ambient: &BTreeSet<u32>,
) -> Result<()> {
    capabilities::capset(permitted, effective, inheritable, ambient)?;
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
