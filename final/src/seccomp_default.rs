//! Step 8's default seccomp profile written as config.json's
//! `linux.seccomp`, for the front end: the same lists (`profile::ALLOWED`,
//! `WITH_CAPABILITY`) and the same argument rules, so `run -- CMD` is
//! filtered as step 8's run is, and `--print-spec` shows the profile the
//! way docker's and podman's are written (moby's profiles/seccomp).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::profile::{
    AF_ALG, AF_VSOCK, ALLOWED, CAP_SYS_ADMIN, CLONE_NS_MASK, PERSONALITIES, WITH_CAPABILITY,
};

// ANCHOR: oci_profile
/// The profile for a container holding `caps`: deny by default with
/// EPERM, allow step 8's lists, and the calls whose arguments decide.
pub fn oci_profile(caps: &BTreeSet<u32>) -> Value {
    let mut names: Vec<&str> = ALLOWED.to_vec();
    for (cap, more) in WITH_CAPABILITY {
        if caps.contains(cap) {
            names.extend_from_slice(more);
        }
    }
    let mut syscalls = vec![json!({"names": names, "action": "SCMP_ACT_ALLOW"})];
    // clone(2): processes and threads; new namespaces only with SYS_ADMIN.
    syscalls.push(if caps.contains(&CAP_SYS_ADMIN) {
        json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW"})
    } else {
        json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": CLONE_NS_MASK, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]})
    });
    // clone3's flags are in memory a filter can't read: ENOSYS makes libc
    // fall back to clone(2).
    syscalls
        .push(json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS}));
    for p in PERSONALITIES {
        syscalls.push(json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                             "args": [{"index": 0, "value": p, "op": "SCMP_CMP_EQ"}]}));
    }
    for (value, op) in [
        (AF_ALG, "SCMP_CMP_LT"),
        (AF_ALG + 1, "SCMP_CMP_EQ"),
        (AF_VSOCK, "SCMP_CMP_GT"),
    ] {
        syscalls.push(json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                             "args": [{"index": 0, "value": value, "op": op}]}));
    }
    // No list means the runtime's own architecture only.
    let architectures: Vec<&str> = if cfg!(target_arch = "x86_64") {
        vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    } else {
        Vec::new()
    };
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::EPERM,
        "architectures": architectures,
        "syscalls": syscalls,
    })
}
// ANCHOR_END: oci_profile

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_admin_unlocks_mount_and_namespaces() {
        let without = oci_profile(&BTreeSet::new()).to_string();
        let with = oci_profile(&BTreeSet::from([CAP_SYS_ADMIN])).to_string();
        assert!(!without.contains("\"mount\"") && with.contains("\"mount\""));
        assert!(without.contains("SCMP_CMP_MASKED_EQ") && !with.contains("SCMP_CMP_MASKED_EQ"));
        assert!(without.contains("\"read\""));
    }
}
