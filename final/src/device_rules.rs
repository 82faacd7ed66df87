//! `linux.resources.devices`: which device nodes the container may open
//! or create, whatever nodes it manages to make. A process with
//! CAP_MKNOD can make /dev/sda in a tmpfs of its own; only the cgroup's
//! device rules stop it from then reading the host's disk.
//!
//! cgroup v1 has a `devices` controller (`devices.allow`, `devices.deny`);
//! cgroup v2 has no file for it: a BPF_PROG_TYPE_CGROUP_DEVICE program,
//! attached to the cgroup, answers each open and mknod ([`crate::device_bpf`]).
//! Where both exist (hybrid machines) the v1 controller is used, as runc
//! does.

use std::path::Path;

use crate::cgroup::{Cgroup, Layout, write};
use crate::error::{Error, Result};
use crate::explain;

/// One rule: allow or deny `access` (of r, w, m: read, write, mknod) on
/// devices of `kind` (`a` all, `c` char, `b` block) with this major and
/// minor number (`None`: any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: String,
}

impl DeviceRule {
    /// As cgroup v1 writes it: `c 1:3 rwm`, `a *:* rwm`.
    pub fn v1_line(&self) -> String {
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }

    /// Access bits as the kernel numbers them (BPF_DEVCG_ACC_MKNOD 1,
    /// READ 2, WRITE 4).
    pub fn access_bits(&self) -> u32 {
        self.access
            .chars()
            .map(|c| match c {
                'm' => 1,
                'r' => 2,
                'w' => 4,
                _ => 0,
            })
            .fold(0, |a, b| a | b)
    }
}

// ANCHOR: defaults
/// Allowed after config.json's rules, whatever they say: the nodes isolab
/// itself puts in /dev (step 3's list), the console, ptmx and the ptys of
/// the container's devpts. runc appends the same (its AllowedDevices).
pub fn defaults() -> Vec<DeviceRule> {
    let c = |major, minor: Option<u32>| DeviceRule {
        allow: true,
        kind: 'c',
        major: Some(major),
        minor,
        access: "rwm".into(),
    };
    let mut list: Vec<DeviceRule> = crate::dev::DEVICES
        .iter()
        .map(|&(_, major, minor)| c(major as u32, Some(minor as u32)))
        .collect();
    list.push(c(5, Some(1))); // /dev/console
    list.push(c(5, Some(2))); // /dev/ptmx
    list.push(c(136, None)); // /dev/pts/N
    list
}
// ANCHOR_END: defaults

/// Parse one rule of config.json (`path` names it in errors).
pub fn parse(path: &str, v: &serde_json::Value) -> Result<DeviceRule> {
    let bad =
        |field: &str, why: &str| Error::Request(format!("config.json: {path}.{field}: {why}"));
    let kind = match v.get("type").and_then(|t| t.as_str()).unwrap_or("a") {
        "a" => 'a',
        "c" => 'c',
        "b" => 'b',
        other => return Err(bad("type", &format!("{other:?}: a, c or b"))),
    };
    let number = |field: &str| -> Result<Option<u32>> {
        match v.get(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(n) => match n.as_i64() {
                Some(-1) => Ok(None),
                Some(n) if (0..=u32::MAX as i64).contains(&n) => Ok(Some(n as u32)),
                _ => Err(bad(field, "a device number, or -1 for any")),
            },
        }
    };
    let access = v
        .get("access")
        .and_then(|a| a.as_str())
        .unwrap_or("rwm")
        .to_string();
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad("access", &format!("{access:?}: letters of rwm")));
    }
    Ok(DeviceRule {
        allow: v.get("allow").and_then(|a| a.as_bool()).unwrap_or(false),
        kind,
        major: number("major")?,
        minor: number("minor")?,
        access,
    })
}

// ANCHOR: apply
/// Enforce `rules` (config.json's, then [`defaults`]) on the container's
/// cgroup, before its process joins it.
pub fn apply(layout: &Layout, cg: &mut Cgroup, rules: &[DeviceRule]) -> Result<()> {
    let all: Vec<DeviceRule> = rules.iter().cloned().chain(defaults()).collect();
    if let Some(h) = layout.v1_hierarchy("devices") {
        // v1: a cgroup of the devices hierarchy, made and joined like the
        // others (cg.v1); "a" denied first, then each rule in order.
        let dir = h.mount.join(&cg.name);
        if let Some(up) = dir.parent() {
            std::fs::create_dir_all(up)
                .map_err(|e| Error::io(format!("creating {}", up.display()), e))?;
        }
        std::fs::create_dir(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        explain::syscall(&format!("mkdir({:?})", dir.display().to_string()), 0);
        cg.v1.push((h.clone(), dir.clone()));
        write(&dir, "devices.deny", "a")?;
        for rule in &all {
            let file = if rule.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            write(&dir, file, &rule.v1_line())?;
        }
        return Ok(());
    }
    let Some(dir) = cg.v2.as_deref() else {
        return Err(Error::Unsupported(
            "linux.resources.devices: no devices controller (v1) and no cgroup v2 to attach a device program to".into(),
        ));
    };
    attach_program(dir, &all)
}
// ANCHOR_END: apply

/// cgroup v2: the rules as one BPF program, attached to `dir`.
fn attach_program(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    let program = crate::device_bpf::build(rules);
    if explain::enabled() {
        for line in crate::device_bpf::listing(&program) {
            explain::note(&format!("  {line}"));
        }
    }
    crate::device_bpf::load_and_attach(&program, dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_parse_and_print_as_v1_writes_them() {
        let deny_all = parse("r", &json!({"allow": false, "access": "rwm"})).unwrap();
        assert_eq!(deny_all.v1_line(), "a *:* rwm");
        let null = parse(
            "r",
            &json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}),
        )
        .unwrap();
        assert_eq!(null.v1_line(), "c 1:3 rw");
        assert_eq!(null.access_bits(), 6);
        let any_minor = parse(
            "r",
            &json!({"allow": true, "type": "c", "major": 136, "minor": -1}),
        )
        .unwrap();
        assert_eq!(any_minor.v1_line(), "c 136:* rwm");
        for bad in [
            json!({"type": "x"}),
            json!({"access": "rwx"}),
            json!({"major": "1"}),
        ] {
            let err = parse("linux.resources.devices[0]", &bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("config.json: linux.resources.devices[0]."),
                "{err}"
            );
        }
        assert!(defaults().iter().any(|r| r.v1_line() == "c 1:3 rwm"));
    }
}
