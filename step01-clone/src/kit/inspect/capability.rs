//! Capability sets: the bitmasks in /proc/PID/status, decoded to names.
//!
//! A task's credentials (struct cred) carry five 64-bit capability sets:
//! inheritable, permitted, effective, bounding and ambient. /proc prints each
//! as hex (`CapEff: 000001ffffffffff`); bit N is capability N from
//! include/uapi/linux/capability.h. The highest one this kernel knows is in
//! /proc/sys/kernel/cap_last_cap.

use serde::Serialize;

/// Capability names by number, as in linux/capability.h (Linux 5.9+).
pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// One capability set: the raw mask and the names of its bits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapSet {
    /// As /proc prints it: 16 hex digits.
    pub hex: String,
    /// `CAP_*` names of the set bits; `CAP_<n>` for bits this table lacks.
    pub names: Vec<String>,
}

impl CapSet {
    /// Decode a mask.
    pub fn from_mask(mask: u64) -> Self {
        CapSet {
            hex: format!("{mask:016x}"),
            names: names(mask),
        }
    }
}

// ANCHOR: names
/// The names of the bits set in `mask`, lowest first.
pub fn names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| match NAMES.get(bit) {
            Some(name) => name.to_string(),
            None => format!("CAP_{bit}"),
        })
        .collect()
}
// ANCHOR_END: names

/// The number of a capability given as `CAP_CHOWN`, `chown` or `Chown`.
pub fn from_name(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

/// Every capability this kernel knows, as a mask (bits 0..=cap_last_cap).
pub fn full_mask(cap_last_cap: u32) -> u64 {
    if cap_last_cap >= 63 {
        u64::MAX
    } else {
        (1u64 << (cap_last_cap + 1)) - 1
    }
}

/// Read /proc/sys/kernel/cap_last_cap, falling back to the table's size.
pub fn cap_last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(NAMES.len() as u32 - 1)
}

/// A short human form for tables: `none`, `all`, `all but sys_resource`, or
/// the short names (`chown dac_override …`).
pub fn summary(mask: u64, full: u64) -> String {
    let short = |m: u64| -> String {
        names(m)
            .iter()
            .map(|n| n.trim_start_matches("CAP_").to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mask_in = mask & full;
    if mask == 0 {
        "none".into()
    } else if mask_in == full {
        "all".into()
    } else if (full & !mask).count_ones() <= 4 {
        format!("all but {}", short(full & !mask))
    } else {
        short(mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_known_bits() {
        // CapBnd of a docker container: the 14 default capabilities.
        let docker = 0x00000000a80425fb_u64;
        let n = names(docker);
        assert_eq!(n.len(), 14);
        assert_eq!(n[0], "CAP_CHOWN");
        assert!(n.contains(&"CAP_NET_BIND_SERVICE".to_string()));
        assert!(n.contains(&"CAP_AUDIT_WRITE".to_string()));
        assert!(!n.contains(&"CAP_SYS_ADMIN".to_string()));
    }

    #[test]
    fn unknown_bits_keep_their_number() {
        assert_eq!(names(1 << 45), vec!["CAP_45".to_string()]);
    }

    #[test]
    fn names_parse_in_any_spelling() {
        assert_eq!(from_name("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(from_name("sys_admin"), Some(21));
        assert_eq!(from_name("Net_Raw"), Some(13));
        assert_eq!(from_name("cap_checkpoint_restore"), Some(40));
        assert_eq!(from_name("sys_adm"), None);
    }

    #[test]
    fn summaries() {
        let full = full_mask(40);
        assert_eq!(full, 0x000001ffffffffff);
        assert_eq!(summary(0, full), "none");
        assert_eq!(summary(full, full), "all");
        // This VM's bounding set: everything but CAP_SYS_RESOURCE.
        assert_eq!(summary(0x000001fffeffffff, full), "all but sys_resource");
        assert_eq!(summary(0b11, full), "chown dac_override");
        assert_eq!(CapSet::from_mask(0x3).hex, "0000000000000003");
    }
}
