//! `isolab features`: what this runtime can do, as the runtime spec's
//! features document describes it (features.md), so that an engine can
//! ask instead of guessing. Every list is what the code applies today:
//! a feature named here and not applied would be a lie an engine acts on.

use serde_json::{Value, json};

use crate::oci_state::OCI_VERSION;

// ANCHOR: features
/// The features document for this machine (AppArmor and SELinux are
/// reported enabled only where the host runs them).
pub fn features() -> Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": crate::hooks::KINDS,
        "mountOptions": [
            "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec",
            "noatime", "nodiratime", "relatime", "strictatime", "sync", "bind", "rbind",
            "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable",
            "runbindable", "idmap"
        ],
        "linux": {
            "namespaces": ["pid", "network", "ipc", "uts", "mount", "cgroup", "user", "time"],
            "capabilities": &crate::inspect::capability::NAMES[..],
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": [
                    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
                    "SCMP_ACT_TRAP"
                ],
                "operators": [
                    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                    "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
                ],
                "archs": [
                    "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64",
                    "SCMP_ARCH_S390X", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"
                ],
                "knownFlags": [],
                "supportedFlags": []
            },
            "apparmor": {"enabled": crate::apparmor::active()},
            "selinux": {"enabled": crate::selinux::enabled()},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}}
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features": "isolab reports only what it applies"
        }
    })
}
// ANCHOR_END: features

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespaces_reported_are_the_ones_the_config_reader_accepts() {
        let f = features();
        let ns: Vec<String> = f["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        let mut spec = crate::default_spec::default_spec(None);
        spec["linux"]["namespaces"] = Value::Array(ns.iter().map(|n| json!({"type": n})).collect());
        // a new user namespace comes with its maps
        spec["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1}]);
        spec["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1}]);
        let dir = std::env::temp_dir().join(format!("isolab-features-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        let parsed = crate::bundle::parse(&dir, &spec);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(parsed.unwrap().namespaces, ns);
        assert_eq!(f["hooks"].as_array().unwrap().len(), 6);
        assert_eq!(f["ociVersionMax"], OCI_VERSION);
    }
}
