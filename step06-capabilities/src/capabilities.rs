//! Capabilities: root's power, cut into pieces, and most pieces taken away.
//!
//! Since Linux 2.2 "root" is not one privilege but ~41 capabilities, each
//! checked separately (CAP_SYS_ADMIN to mount, CAP_NET_ADMIN to configure
//! interfaces, …). A task holds five sets (see the inspector): the
//! *bounding* set caps what it can ever gain; *permitted* is what it may
//! use; *effective* is what the kernel checks now; *inheritable* and
//! *ambient* decide what survives execve(2). A container keeps docker's
//! default 14 and loses the rest, so root inside can chown files but not
//! mount, load modules or change the clock.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::explain;
use crate::inspect::capability::{NAMES, cap_last_cap, from_name};

// ANCHOR: default
/// Docker's default capabilities (moby's oci/caps/defaults.go).
pub const DEFAULT: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];
// ANCHOR_END: default

/// What the container will hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The bounding set, and for root also permitted and effective.
    pub keep: BTreeSet<u32>,
    /// Raised in the ambient set for a non-root `--user`: the `--cap-add`ed
    /// ones, so they survive execve(2) without file capabilities.
    pub ambient: BTreeSet<u32>,
}

/// clap's parser for one `--cap-add`/`--cap-drop` value: checked with
/// [`parse_names`], kept as given.
pub fn parse_flag(value: &str) -> std::result::Result<String, String> {
    parse_names(&[value.to_string()])
        .map(|_| value.to_string())
        .map_err(|e| e.to_string())
}

/// `--cap-add`/`--cap-drop` values: names (`NET_ADMIN`, `cap_net_admin`,
/// comma-separated lists) or `ALL`.
pub fn parse_names(values: &[String]) -> Result<BTreeSet<u32>> {
    let last = cap_last_cap();
    let mut out = BTreeSet::new();
    for v in values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        if v.eq_ignore_ascii_case("all") {
            out.extend(0..=last);
            continue;
        }
        match from_name(v) {
            Some(n) if n <= last => {
                out.insert(n);
            }
            Some(_) => {
                return Err(Error::BadFlag(format!(
                    "{v} is not supported by this kernel (cap_last_cap is {last})"
                )));
            }
            None => {
                let valid: Vec<&str> = NAMES[..=(last as usize).min(NAMES.len() - 1)]
                    .iter()
                    .map(|n| n.trim_start_matches("CAP_"))
                    .collect();
                return Err(Error::BadFlag(format!(
                    "unknown capability {v:?}: valid names are ALL, {}",
                    valid.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

// ANCHOR: plan
/// docker's rule: start from the defaults, drop, then add (so
/// `--cap-drop ALL --cap-add NET_BIND_SERVICE` keeps exactly that one);
/// `--cap-add ALL` starts from every capability instead, and then the drops
/// win (`--cap-add ALL --cap-drop SYS_ADMIN` is all but one). Nothing
/// outside the runtime's own bounding set can be granted: those are left
/// out (a VM whose bounding set lacks CAP_SYS_RESOURCE, say).
pub fn plan(add: &[String], drop: &[String], user_is_root: bool) -> Result<Plan> {
    let add = parse_names(add)?;
    let drop = parse_names(drop)?;
    let all: BTreeSet<u32> = (0..=cap_last_cap()).collect();
    let mut keep: BTreeSet<u32> = if add == all {
        all.difference(&drop).copied().collect()
    } else {
        let mut k: BTreeSet<u32> = DEFAULT.iter().filter_map(|n| from_name(n)).collect();
        k.retain(|c| !drop.contains(c));
        k.extend(add.iter().copied());
        k
    };
    let ours = own_bounding();
    keep.retain(|c| ours.contains(c));
    let ambient = if user_is_root {
        BTreeSet::new()
    } else {
        add.intersection(&keep).copied().collect()
    };
    Ok(Plan { keep, ambient })
}

// ANCHOR_END: plan

/// The runtime's own bounding set: the most a child can ever hold.
fn own_bounding() -> BTreeSet<u32> {
    let bnd = read_back().map(|sets| sets[3]).unwrap_or(u64::MAX);
    (0..64).filter(|c| bnd & (1u64 << c) != 0).collect()
}

/// Short names, for narration and messages.
pub fn names(set: &BTreeSet<u32>) -> String {
    if set.is_empty() {
        return "none".into();
    }
    set.iter()
        .map(|c| {
            NAMES
                .get(*c as usize)
                .map_or(c.to_string(), |n| n.trim_start_matches("CAP_").to_string())
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub fn to_caps(set: &BTreeSet<u32>) -> caps::CapsHashSet {
    set.iter()
        .filter_map(|c| {
            NAMES
                .get(*c as usize)
                .and_then(|n| n.parse::<caps::Capability>().ok())
        })
        .collect()
}

fn fail(call: String) -> impl FnOnce(caps::errors::CapsError) -> Error {
    move |e| Error::Request(format!("{call} failed: {e}"))
}

// ANCHOR: drop_bounding
/// Drop from the bounding set every capability not in `plan.keep`. Needs
/// CAP_SETPCAP in the effective set: done first, while we are still full
/// root. Nothing the container does afterwards can gain them back.
pub fn drop_bounding(plan: &Plan) -> Result<()> {
    let mut dropped = BTreeSet::new();
    for cap in 0..=cap_last_cap() {
        if plan.keep.contains(&cap) {
            continue;
        }
        let Some(c) = NAMES
            .get(cap as usize)
            .and_then(|n| n.parse::<caps::Capability>().ok())
        else {
            continue;
        };
        caps::drop(None, caps::CapSet::Bounding, c)
            .map_err(fail(format!("prctl(PR_CAPBSET_DROP, {c})")))?;
        dropped.insert(cap);
    }
    explain::syscall(
        &format!("prctl(PR_CAPBSET_DROP, …) for {}", names(&dropped)),
        0,
    );
    Ok(())
}
// ANCHOR_END: drop_bounding

// ANCHOR: set_sets
/// Set permitted, effective, inheritable and ambient. For root: permitted
/// and effective are `keep`, nothing inheritable or ambient. For another
/// user (after setresuid, which emptied permitted and effective unless
/// PR_SET_KEEPCAPS kept permitted): only the `--cap-add`ed ones, raised in
/// inheritable and ambient too, since without file capabilities a non-root
/// execve keeps only the ambient set.
pub fn set_sets(plan: &Plan, user_is_root: bool) -> Result<()> {
    let (prm, inh) = if user_is_root {
        (&plan.keep, BTreeSet::new())
    } else {
        (&plan.ambient, plan.ambient.clone())
    };
    capset(prm, prm, &inh, &plan.ambient)?;
    explain::syscall(
        &format!(
            "capset(permitted=effective={}, inheritable={})",
            names(prm),
            names(&inh)
        ),
        0,
    );
    if !plan.ambient.is_empty() {
        explain::syscall(
            &format!(
                "prctl(PR_CAP_AMBIENT_RAISE, …) for {}",
                names(&plan.ambient)
            ),
            0,
        );
    }
    Ok(())
}

/// The four sets exactly (the OCI runtime gives them from config.json).
/// Effective is emptied first: the kernel refuses a permitted set smaller
/// than the effective one. Ambient last: it may only hold capabilities
/// both permitted and inheritable.
pub fn capset(
    permitted: &BTreeSet<u32>,
    effective: &BTreeSet<u32>,
    inheritable: &BTreeSet<u32>,
    ambient: &BTreeSet<u32>,
) -> Result<()> {
    caps::set(None, caps::CapSet::Effective, &caps::CapsHashSet::new())
        .map_err(fail("capset(effective)".into()))?;
    caps::set(None, caps::CapSet::Permitted, &to_caps(permitted))
        .map_err(fail("capset(permitted)".into()))?;
    caps::set(None, caps::CapSet::Effective, &to_caps(effective))
        .map_err(fail("capset(effective)".into()))?;
    caps::set(None, caps::CapSet::Inheritable, &to_caps(inheritable))
        .map_err(fail("capset(inheritable)".into()))?;
    caps::clear(None, caps::CapSet::Ambient)
        .map_err(fail("prctl(PR_CAP_AMBIENT_CLEAR_ALL)".into()))?;
    for c in to_caps(ambient) {
        caps::raise(None, caps::CapSet::Ambient, c)
            .map_err(fail(format!("prctl(PR_CAP_AMBIENT_RAISE, {c})")))?;
    }
    Ok(())
}
// ANCHOR_END: set_sets

// ANCHOR: read_back
/// The five masks as /proc/self/status shows them.
pub fn read_back() -> Result<[u64; 5]> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| Error::io("reading /proc/self/status", e))?;
    let mut out = [0u64; 5];
    for (i, key) in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .iter()
        .enumerate()
    {
        let v = crate::inspect::status_field(&status, key).unwrap_or("0");
        out[i] = u64::from_str_radix(v, 16).unwrap_or(0);
    }
    Ok(out)
}
// ANCHOR_END: read_back

/// The mask of a set of capability numbers.
pub fn mask(set: &BTreeSet<u32>) -> u64 {
    set.iter().fold(0, |m, c| m | (1u64 << c))
}

// ANCHOR: verify
/// Read the sets back from the kernel and compare with the plan, so a
/// silent no-op (a set changed in a local copy only) can't pass.
pub fn verify(plan: &Plan, user_is_root: bool) -> Result<()> {
    let [inh, prm, eff, bnd, amb] = read_back()?;
    let keep = mask(&plan.keep);
    let want_prm = if user_is_root {
        keep
    } else {
        mask(&plan.ambient)
    };
    let want_inh = if user_is_root { 0 } else { mask(&plan.ambient) };
    let checks = [
        ("CapBnd", bnd, keep),
        ("CapPrm", prm, want_prm),
        ("CapEff", eff, want_prm),
        ("CapInh", inh, want_inh),
        ("CapAmb", amb, mask(&plan.ambient)),
    ];
    for (name, got, want) in checks {
        if got != want {
            return Err(Error::Verify(format!(
                "capabilities not applied: {name} is {got:016x}, expected {want:016x}"
            )));
        }
    }
    explain::note(&format!(
        "read back /proc/self/status: CapBnd={bnd:016x} CapEff={eff:016x} CapAmb={amb:016x}, as planned"
    ));
    Ok(())
}
// ANCHOR_END: verify

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_default_is_dockers() {
        let p = plan(&[], &[], true).unwrap();
        assert_eq!(mask(&p.keep), 0x00000000a80425fb);
        assert!(p.ambient.is_empty());
    }

    #[test]
    fn add_and_drop_in_any_spelling() {
        let p = plan(&s(&["sys_admin", "CAP_NET_ADMIN"]), &s(&["Chown"]), true).unwrap();
        assert!(p.keep.contains(&21) && p.keep.contains(&12) && !p.keep.contains(&0));
        let p = plan(&s(&["NET_BIND_SERVICE"]), &s(&["ALL"]), true).unwrap();
        assert_eq!(names(&p.keep), "NET_BIND_SERVICE");
        let p = plan(&[], &s(&["all"]), true).unwrap();
        assert!(p.keep.is_empty());
        // docker: --cap-add ALL, then the drops win.
        let p = plan(&s(&["ALL"]), &s(&["SYS_ADMIN"]), true).unwrap();
        assert!(
            !p.keep.contains(&21) && p.keep.contains(&12),
            "{:?}",
            p.keep
        );
    }

    #[test]
    fn added_caps_are_ambient_for_a_user() {
        let p = plan(&s(&["NET_BIND_SERVICE"]), &[], false).unwrap();
        assert_eq!(names(&p.ambient), "NET_BIND_SERVICE");
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let e = plan(&s(&["SYS_ADMN"]), &[], true).unwrap_err().to_string();
        assert!(
            e.contains("unknown capability \"SYS_ADMN\"")
                && e.contains("SYS_ADMIN")
                && e.contains("ALL"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }
}
