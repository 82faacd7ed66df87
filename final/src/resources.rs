//! `linux.resources`: the limits of step 5 (memory, pids, cpu), the device
//! rules, and `unified`, cgroup v2 files written as given (`memory.high`,
//! `io.weight`): read from config.json at `create`, and again from
//! `update --resources` to change a running container's.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cgroup::{Cgroup, Layout, Version};
use crate::device_rules::DeviceRule;
use crate::error::{Error, Result};
use crate::limits::Limits;

/// What `linux.resources` asks for.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    pub limits: Limits,
    /// `devices`, when present (the runtime's defaults follow them).
    pub devices: Option<Vec<DeviceRule>>,
    /// `unified`: v2 file name -> value.
    pub unified: BTreeMap<String, String>,
}

/// Parse a `linux.resources` object; `at` is its JSON path for errors.
pub fn parse(v: Option<&Value>, at: &str) -> Result<Resources> {
    let Some(v) = v else {
        return Ok(Resources::default());
    };
    // How a field is named in an error: config.json's path, or `update
    // --resources`' own.
    let bad = |field: &str, why: &str| {
        Error::Request(match at {
            "resources" => format!("--resources: {field}: {why}"),
            _ => format!("config.json: {at}.{field}: {why}"),
        })
    };
    let get = |path: &str| path.split('.').try_fold(v, |v, k| v.get(k));
    let devices = match get("devices").and_then(Value::as_array) {
        None => None,
        Some(list) => Some(
            list.iter()
                .enumerate()
                .map(|(i, r)| crate::device_rules::parse(&format!("{at}.devices[{i}]"), r))
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    let mut unified = BTreeMap::new();
    for (key, value) in get("unified")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let field = format!("unified.{key}");
        let value = value
            .as_str()
            .ok_or_else(|| bad(&field, "the value must be a string"))?;
        check_unified_key(key).map_err(|why| bad(&field, &why))?;
        unified.insert(key.clone(), value.to_string());
    }
    // Fields engines always send, whose zero (or false) value means "as
    // the kernel has it" (docker: cpu.shares 0, blockIO.weight 0,
    // disableOOMKiller false). Another value would ask for something
    // isolab doesn't do yet: refused by path, not ignored.
    if get("blockIO.weight")
        .and_then(Value::as_u64)
        .is_some_and(|w| w != 0)
    {
        return Err(bad(
            "blockIO.weight",
            "an I/O weight is not supported by isolab yet",
        ));
    }
    if get("memory.disableOOMKiller").and_then(Value::as_bool) == Some(true) {
        return Err(bad(
            "memory.disableOOMKiller",
            "true is not supported by isolab yet",
        ));
    }
    let memory = get("memory.limit").and_then(Value::as_u64);
    let memory_swap = match get("memory.swap") {
        None => None,
        Some(v) => Some(memory_swap(v, memory).map_err(|why| bad("memory.swap", why))?),
    };
    Ok(Resources {
        limits: Limits {
            memory,
            memory_swap,
            pids: get("pids.limit").and_then(Value::as_u64),
            cpu_quota_us: cpu_quota(v),
            cpu_shares: get("cpu.shares")
                .and_then(Value::as_u64)
                .filter(|&s| s != 0),
        },
        devices,
        unified,
    })
}

/// A `unified` key names one file of the container's own cgroup: no path,
/// and none of the files the runtime itself drives (membership, freezing,
/// killing, the children's controllers).
fn check_unified_key(key: &str) -> std::result::Result<(), String> {
    const RUNTIME_OWNED: [&str; 6] = [
        "cgroup.procs",
        "cgroup.threads",
        "cgroup.subtree_control",
        "cgroup.freeze",
        "cgroup.kill",
        "cgroup.type",
    ];
    let (controller, file) = key.split_once('.').unwrap_or(("", ""));
    let plain = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
    if controller.is_empty() || file.is_empty() || !plain {
        return Err("a file of the cgroup, CONTROLLER.FILE (memory.high)".into());
    }
    if RUNTIME_OWNED.contains(&key) {
        return Err("the runtime drives this file itself".into());
    }
    Ok(())
}

/// `memory.swap`: memory plus swap, so at least `memory.limit`, which it
/// needs; -1 is unlimited (podman's `--memory-swap -1`).
fn memory_swap(v: &Value, memory: Option<u64>) -> std::result::Result<u64, &'static str> {
    let Some(memory) = memory else {
        return Err("needs memory.limit (it is memory plus swap)");
    };
    match (v.as_i64(), v.as_u64()) {
        (Some(-1), _) => Ok(u64::MAX),
        (_, Some(total)) if total >= memory => Ok(total),
        (_, Some(_)) => Err("is memory plus swap: at least memory.limit"),
        _ => Err("-1 (unlimited) or a number of bytes"),
    }
}

/// cpu.quota per cpu.period, scaled to step 5's 100 ms period.
fn cpu_quota(v: &Value) -> Option<u64> {
    let cpu = v.get("cpu")?;
    let quota = cpu.get("quota").and_then(Value::as_i64)?;
    if quota <= 0 {
        return None;
    }
    let period = cpu
        .get("period")
        .and_then(Value::as_u64)
        .unwrap_or(crate::limits::CPU_PERIOD_US);
    Some(quota as u64 * crate::limits::CPU_PERIOD_US / period.max(1))
}

// ANCHOR: unified
/// Write `unified` into the container's v2 cgroup, each controller a key
/// names enabled down to it first.
pub fn apply_unified(
    layout: &Layout,
    cg: &Cgroup,
    unified: &BTreeMap<String, String>,
) -> Result<()> {
    if unified.is_empty() {
        return Ok(());
    }
    let (Version::V2, Some(root), Some(dir)) = (layout.version(), &layout.v2, &cg.v2) else {
        return Err(not_v2());
    };
    for (key, value) in unified {
        let controller = key.split('.').next().unwrap_or("");
        if controller != "cgroup" {
            let available = crate::cgroup::read(root, "cgroup.controllers").unwrap_or_default();
            if !available.split_whitespace().any(|c| c == controller) {
                return Err(Error::Unsupported(format!(
                    "linux.resources.unified.{key}: no {controller} controller in this cgroup v2 hierarchy"
                )));
            }
            enable(root, &cg.name, controller)?;
        }
        crate::cgroup::write(dir, key, value)?;
    }
    Ok(())
}
// ANCHOR_END: unified

fn not_v2() -> Error {
    Error::Unsupported(
        "linux.resources.unified needs a pure cgroup v2 host (this one has v1 controllers)".into(),
    )
}

/// `+controller` in each level's subtree_control from the root down to
/// the cgroup's parent.
fn enable(root: &std::path::Path, name: &str, controller: &str) -> Result<()> {
    let mut dir = root.to_path_buf();
    for part in name.split('/') {
        let on = crate::cgroup::read(&dir, "cgroup.subtree_control").unwrap_or_default();
        if !on.split_whitespace().any(|c| c == controller) {
            crate::cgroup::write(&dir, "cgroup.subtree_control", &format!("+{controller}"))?;
        }
        dir.push(part);
    }
    Ok(())
}

// ANCHOR: update
/// `update --resources FILE`: change a running (or created, or paused)
/// container's limits. Device rules are not changed here yet.
pub fn update(root: &std::path::Path, id: &str, text: &str) -> Result<()> {
    let (_, record) = crate::lifecycle::load(root, id)?;
    if record.status == crate::oci_state::Status::Stopped {
        return Err(Error::Request("container not running".into()));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::Request(format!("--resources: not JSON: {e}")))?;
    // The same fields as config.json's linux.resources, named the same way.
    let wrapped = serde_json::json!({"linux": {"resources": value}});
    if let Some(field) = crate::bundle::unsupported(&wrapped).first() {
        return Err(Error::Request(format!(
            "--resources: {}: not supported by isolab yet",
            field.trim_start_matches("linux.resources.")
        )));
    }
    if let Some((path, kind)) = crate::bundle::mistyped(&wrapped) {
        return Err(Error::Request(format!(
            "--resources: {}: must be {kind}",
            path.trim_start_matches("linux.resources.")
        )));
    }
    let resources = parse(Some(&value), "resources")?;
    if resources.devices.is_some() {
        return Err(Error::Request(
            "--resources: devices: changing device rules of a running container is not supported by isolab yet".into(),
        ));
    }
    let Some(name) = &record.cgroup else {
        return Err(Error::Request(format!("container {id} has no cgroup")));
    };
    let layout = Layout::detect()?;
    if !resources.unified.is_empty() && layout.version() != Version::V2 {
        return Err(not_v2()); // before anything is changed
    }
    let cg = Cgroup::open(&layout, name);
    if let (Version::V2, Some(root)) = (layout.version(), &layout.v2) {
        crate::cgroup::enable_down_to(root, &cg.name, &resources.limits)?;
    }
    cg.apply(&resources.limits)?;
    apply_unified(&layout, &cg, &resources.unified)
}
// ANCHOR_END: update

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resources_parse_and_unified_keys_are_checked() {
        let r = parse(
            Some(
                &json!({"memory": {"limit": 1024}, "cpu": {"quota": 50000, "period": 200000},
                         "unified": {"memory.high": "1M"}}),
            ),
            "linux.resources",
        )
        .unwrap();
        assert_eq!(r.limits.memory, Some(1024));
        assert_eq!(r.limits.cpu_quota_us, Some(25000));
        assert_eq!(r.unified["memory.high"], "1M");
        // docker's "as the kernel has it" values, and anything else
        let zero = json!({"cpu": {"shares": 0}, "blockIO": {"weight": 0},
                          "memory": {"disableOOMKiller": false}});
        assert_eq!(parse(Some(&zero), "r").unwrap().limits, Limits::default());
        let swap = json!({"memory": {"limit": 1000, "swap": 3000}});
        assert_eq!(
            parse(Some(&swap), "r").unwrap().limits.memory_swap,
            Some(3000)
        );
        let unlimited = json!({"memory": {"limit": 1000, "swap": -1}});
        assert_eq!(
            parse(Some(&unlimited), "r").unwrap().limits.memory_swap,
            Some(u64::MAX)
        );
        for (v, path) in [
            (
                json!({"memory": {"swap": 3000}}),
                "r.memory.swap: needs memory.limit",
            ),
            (
                json!({"memory": {"limit": 1000, "swap": 999}}),
                "r.memory.swap: is memory",
            ),
            (
                json!({"memory": {"limit": 1000, "swap": -2}}),
                "r.memory.swap: -1",
            ),
            (json!({"blockIO": {"weight": 500}}), "r.blockIO.weight"),
            (
                json!({"memory": {"disableOOMKiller": true}}),
                "r.memory.disableOOMKiller",
            ),
        ] {
            let err = parse(Some(&v), "r").unwrap_err().to_string();
            assert!(err.contains(path), "{err}");
        }
        for bad in ["cgroup.procs", "../x.max", "memory", "memory.high/x"] {
            let err = parse(Some(&json!({"unified": {bad: "1"}})), "linux.resources").unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("config.json: linux.resources.unified.{bad}:")),
                "{err}"
            );
        }
    }
}
