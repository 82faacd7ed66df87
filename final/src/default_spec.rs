//! `isolab spec`: a bundle's config.json to start from, as `runc spec`
//! writes one (the fields and values engines and tutorials expect), with
//! what isolab can run today.
//!
//! Written out field by field rather than from a library's `Default`: the
//! defaults are a decision (runc's, see its `libcontainer/specconv`), and
//! this file is where the book shows them. Differences from runc's: the
//! hostname, and `terminal` false (a terminal needs `--console-socket`,
//! which this runtime does not take yet).

use serde_json::{Value, json};

use crate::oci_state::OCI_VERSION;

/// The three capabilities runc's default gives the container's process.
pub const CAPABILITIES: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// What /proc and /sys paths the default hides (as empty files or an empty
/// read-only tmpfs) and which it makes read-only: steps 3 and 7's lists.
pub const MASKED: [&str; 10] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];
pub const READONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

// ANCHOR: spec
/// The default config.json; `rootless` for a normal user (`uid`, `gid`):
/// a user namespace mapping them to root, no network namespace (a normal
/// user can't set one up to reach anything), /sys bound from the host.
pub fn default_spec(rootless: Option<(u32, u32)>) -> Value {
    let mut namespaces = vec!["pid", "network", "ipc", "uts", "mount", "cgroup"];
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
               "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    ];
    let mut linux = json!({
        // Every device denied but those the runtime adds itself
        // (device_rules::defaults): what runc's spec says.
        "resources": {"devices": [{"allow": false, "access": "rwm"}]},
        "maskedPaths": MASKED,
        "readonlyPaths": READONLY,
    });
    if let Some((uid, gid)) = rootless {
        namespaces.retain(|n| *n != "network");
        // rootless: no cgroup of its own to hold the rules (as runc's)
        linux.as_object_mut().map(|l| l.remove("resources"));
        namespaces.push("user");
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        // No sysfs of its own without a network namespace it owns, and no
        // gid 5 to give the ptys (only one id is mapped).
        mounts[5] = json!({"destination": "/sys", "type": "none", "source": "/sys",
                           "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        mounts[2]["options"] = json!([
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620"
        ]);
    }
    linux["namespaces"] = Value::Array(namespaces.iter().map(|n| json!({"type": n})).collect());
    json!({
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": CAPABILITIES,
                "effective": CAPABILITIES,
                "permitted": CAPABILITIES
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "isolab",
        "mounts": mounts,
        "linux": linux,
    })
}
// ANCHOR_END: spec

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_runcs_shape() {
        let spec = default_spec(None);
        assert_eq!(spec["process"]["args"], json!(["sh"]));
        assert_eq!(spec["root"]["readonly"], true);
        // no inheritable or ambient set: empty, as runc's default
        assert!(spec["process"]["capabilities"].get("inheritable").is_none());
        let ns: Vec<&str> = spec["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "network", "ipc", "uts", "mount", "cgroup"]);
        assert!(spec["linux"].get("uidMappings").is_none());
    }

    #[test]
    fn rootless_maps_the_user_and_drops_the_network_namespace() {
        let spec = default_spec(Some((1000, 1000)));
        let ns = spec["linux"]["namespaces"].to_string();
        assert!(ns.contains("\"user\"") && !ns.contains("network"), "{ns}");
        assert_eq!(spec["linux"]["uidMappings"][0]["hostID"], 1000);
        assert_eq!(spec["mounts"][5]["type"], "none");
        assert!(!spec["mounts"][2]["options"].to_string().contains("gid=5"));
    }
}
