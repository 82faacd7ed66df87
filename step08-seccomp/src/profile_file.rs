//! Profiles from files: `--security-opt seccomp=PATH`.
//!
//! Two formats share one shape. An OCI runtime spec's `linux.seccomp`
//! object (defaultAction, defaultErrnoRet, architectures, flags, syscalls
//! with names, action, errnoRet and args), and docker's profile files,
//! which add `archMap` (the native architecture with its 32-bit
//! companions) and, per rule, `includes` and `excludes` by capability,
//! architecture and minimum kernel. Those conditions must be evaluated
//! against this container: a parser that drops them (as reading a docker
//! file into OCI types does) would keep rules like "mount, only with
//! CAP_SYS_ADMIN" and allow mount to everyone.
//!
//! The JSON is read as values, not into fixed types, so an error names the
//! place: `syscalls[3].action: unknown action "SCMP_ACT_FOO"`. Syscall
//! names this machine does not know are skipped with a note, as runc does.

use std::collections::BTreeSet;
use std::path::Path;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::explain;

/// What this container is, for `includes`/`excludes`.
#[derive(Debug)]
pub struct Container<'a> {
    /// Its bounding set.
    pub caps: &'a BTreeSet<u32>,
    /// This machine's kernel, (major, minor).
    pub kernel: (u32, u32),
}

/// The running kernel's (major, minor), from uname(2).
pub fn kernel_version() -> (u32, u32) {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    parse_version(&release)
}

fn parse_version(text: &str) -> (u32, u32) {
    let mut parts = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor)
}

/// A one-line error about `path` at JSON location `at`.
fn bad(path: &Path, at: &str, what: impl std::fmt::Display) -> Error {
    Error::Request(format!("seccomp profile {}: {at}: {what}", path.display()))
}

// ANCHOR: load
/// Read the profile at `path` and build it for `container`.
pub fn load(path: &Path, container: &Container) -> Result<ScmpFilterContext> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading seccomp profile {}", path.display()), e))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| bad(path, "JSON", e))?;
    build(path, &json, container)
}
// ANCHOR_END: load

/// Build a parsed profile; `path` only names it in errors.
pub fn build(path: &Path, json: &Value, container: &Container) -> Result<ScmpFilterContext> {
    let default_errno = match json.get("defaultErrnoRet") {
        None | Some(Value::Null) => libc::EPERM,
        Some(v) => v
            .as_i64()
            .map(|n| n as i32)
            .ok_or_else(|| bad(path, "defaultErrnoRet", "not a number"))?,
    };
    let default = action(
        path,
        "defaultAction",
        json.get("defaultAction"),
        default_errno,
    )?;
    let fail = |e: libseccomp::error::SeccompError| bad(path, "libseccomp", e);
    let mut ctx = ScmpFilterContext::new(default).map_err(fail)?;
    ctx.set_act_badarch(ScmpAction::KillProcess).map_err(fail)?;
    for arch in architectures(path, json)? {
        if arch != ScmpArch::native() {
            ctx.add_arch(arch).map_err(fail)?;
        }
    }
    let rules = json
        .get("syscalls")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let (mut skipped, mut unknown) = (0, BTreeSet::new());
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("syscalls[{i}]");
        if !applies(path, &at, rule, container)? {
            skipped += 1;
            continue;
        }
        let errno = rule
            .get("errnoRet")
            .and_then(Value::as_i64)
            .map(|n| n as i32)
            .unwrap_or(libc::EPERM);
        let act = action(path, &format!("{at}.action"), rule.get("action"), errno)?;
        let args = comparisons(path, &at, rule.get("args"))?;
        let names = rule
            .get("names")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(path, &format!("{at}.names"), "missing or not a list"))?;
        for name in names {
            let name = name
                .as_str()
                .ok_or_else(|| bad(path, &format!("{at}.names"), "not a string"))?;
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                unknown.insert(name.to_string());
                continue;
            };
            if act == default {
                continue; // libseccomp refuses a rule that repeats the default
            }
            let added = if args.is_empty() {
                ctx.add_rule(act, syscall)
            } else {
                ctx.add_rule_conditional(act, syscall, &args)
            };
            added.map_err(|e| bad(path, &at, format!("{name}: {e}")))?;
        }
    }
    explain::note(&format!(
        "seccomp profile {}: {} rules, {} not for this container, unknown names skipped: {}",
        path.display(),
        rules.len(),
        skipped,
        if unknown.is_empty() {
            "none".to_string()
        } else {
            unknown.into_iter().collect::<Vec<_>>().join(" ")
        }
    ));
    Ok(ctx)
}

/// `SCMP_ACT_*` as libseccomp's action.
fn action(path: &Path, at: &str, value: Option<&Value>, errno: i32) -> Result<ScmpAction> {
    let name = value
        .and_then(Value::as_str)
        .ok_or_else(|| bad(path, at, "missing or not a string"))?;
    Ok(match name {
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(errno),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_TRACE" => ScmpAction::Trace(errno as u16),
        // to a supervisor's listener fd (the OCI runtime's listenerPath);
        // without one the kernel answers ENOSYS
        "SCMP_ACT_NOTIFY" => ScmpAction::Notify,
        other => return Err(bad(path, at, format!("unknown action {other:?}"))),
    })
}

/// `SCMP_ARCH_X86_64` and friends.
fn arch(name: &str) -> Option<ScmpArch> {
    Some(match name {
        "SCMP_ARCH_X86_64" => ScmpArch::X8664,
        "SCMP_ARCH_X86" => ScmpArch::X86,
        "SCMP_ARCH_X32" => ScmpArch::X32,
        "SCMP_ARCH_AARCH64" => ScmpArch::Aarch64,
        "SCMP_ARCH_ARM" => ScmpArch::Arm,
        "SCMP_ARCH_RISCV64" => ScmpArch::Riscv64,
        "SCMP_ARCH_PPC64LE" => ScmpArch::Ppc64Le,
        "SCMP_ARCH_S390X" => ScmpArch::S390X,
        _ => return None,
    })
}

/// The architectures to filter: OCI's list, or docker's archMap entry for
/// this machine with its sub-architectures; always the native one.
fn architectures(path: &Path, json: &Value) -> Result<Vec<ScmpArch>> {
    let native = ScmpArch::native();
    let names: Vec<String> = if let Some(list) = json.get("architectures").and_then(Value::as_array)
    {
        list.iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    } else if let Some(map) = json.get("archMap").and_then(Value::as_array) {
        map.iter()
            .find(|e| e.get("architecture").and_then(Value::as_str).and_then(arch) == Some(native))
            .map(|e| {
                e.get("subArchitectures")
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut out = vec![native];
    for name in names {
        let a = arch(&name).ok_or_else(|| {
            bad(
                path,
                "architectures",
                format!("unknown architecture {name:?}"),
            )
        })?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

/// docker's `includes`/`excludes` for this container: every condition of
/// `includes` must hold, and none of `excludes`.
fn applies(path: &Path, at: &str, rule: &Value, c: &Container) -> Result<bool> {
    let holds = |cond: &Value, which: &str| -> Result<Option<bool>> {
        let Some(obj) = cond.as_object() else {
            return Ok(None);
        };
        let mut any = false;
        let mut all = true;
        if let Some(caps) = obj.get("caps").and_then(Value::as_array) {
            for cap in caps {
                let name = cap.as_str().unwrap_or_default();
                let n = crate::inspect::capability::from_name(name).ok_or_else(|| {
                    bad(
                        path,
                        &format!("{at}.{which}.caps"),
                        format!("unknown capability {name:?}"),
                    )
                })?;
                let has = c.caps.contains(&n);
                any |= has;
                all &= has;
            }
        }
        if let Some(arches) = obj.get("arches").and_then(Value::as_array) {
            let native = native_docker_arch();
            let has = arches.iter().any(|a| a.as_str() == Some(native));
            any |= has;
            all &= has;
        }
        if let Some(min) = obj.get("minKernel").and_then(Value::as_str) {
            let has = c.kernel >= parse_version(min);
            any |= has;
            all &= has;
        }
        Ok(Some(if which == "includes" { all } else { any }))
    };
    let included = match rule.get("includes") {
        Some(v) => holds(v, "includes")?.unwrap_or(true),
        None => true,
    };
    let excluded = match rule.get("excludes") {
        Some(v) => holds(v, "excludes")?.unwrap_or(false),
        None => false,
    };
    Ok(included && !excluded)
}

/// This machine's architecture in docker's spelling (`amd64`, `arm64`).
fn native_docker_arch() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "amd64"
    } else if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        std::env::consts::ARCH
    }
}

/// A rule's `args`: `{index, value, valueTwo, op}` each.
fn comparisons(path: &Path, at: &str, args: Option<&Value>) -> Result<Vec<ScmpArgCompare>> {
    let Some(list) = args.and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (j, a) in list.iter().enumerate() {
        let here = format!("{at}.args[{j}]");
        let num = |key: &str| a.get(key).and_then(Value::as_u64);
        let index = num("index").ok_or_else(|| bad(path, &here, "index missing"))? as u32;
        let value = num("value").unwrap_or(0);
        let two = num("valueTwo").unwrap_or(0);
        let op = a.get("op").and_then(Value::as_str).unwrap_or_default();
        let (op, datum) = match op {
            "SCMP_CMP_NE" => (ScmpCompareOp::NotEqual, value),
            "SCMP_CMP_LT" => (ScmpCompareOp::Less, value),
            "SCMP_CMP_LE" => (ScmpCompareOp::LessOrEqual, value),
            "SCMP_CMP_EQ" => (ScmpCompareOp::Equal, value),
            "SCMP_CMP_GE" => (ScmpCompareOp::GreaterEqual, value),
            "SCMP_CMP_GT" => (ScmpCompareOp::Greater, value),
            "SCMP_CMP_MASKED_EQ" => (ScmpCompareOp::MaskedEqual(value), two),
            other => return Err(bad(path, &here, format!("unknown op {other:?}"))),
        };
        out.push(ScmpArgCompare::new(index, op, datum));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(caps: &BTreeSet<u32>) -> Container<'_> {
        Container {
            caps,
            kernel: (6, 1),
        }
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("6.1.0-57-amd64"), (6, 1));
        assert_eq!(parse_version("4.8"), (4, 8));
    }

    #[test]
    fn an_oci_profile_builds_and_errors_name_their_place() {
        let p = Path::new("test.json");
        let none = BTreeSet::new();
        let ok: Value = serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                {"names": ["read", "write", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}
            ]
        });
        assert!(build(p, &ok, &container(&none)).is_ok());
        let bad_action = serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["write"], "action": "SCMP_ACT_FOO"}]
        });
        let e = build(p, &bad_action, &container(&none))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("syscalls[1].action") && e.contains("SCMP_ACT_FOO"),
            "{e}"
        );
    }

    #[test]
    fn includes_and_excludes_follow_the_container() {
        let p = Path::new("t");
        let admin: BTreeSet<u32> = [21].into();
        let none = BTreeSet::new();
        let rule = serde_json::json!({"includes": {"caps": ["CAP_SYS_ADMIN"]}, "excludes": {}});
        assert!(applies(p, "r", &rule, &container(&admin)).unwrap());
        assert!(!applies(p, "r", &rule, &container(&none)).unwrap());
        let rule = serde_json::json!({"includes": {}, "excludes": {"caps": ["CAP_SYS_ADMIN"]}});
        assert!(!applies(p, "r", &rule, &container(&admin)).unwrap());
        assert!(applies(p, "r", &rule, &container(&none)).unwrap());
        let rule = serde_json::json!({"includes": {"minKernel": "7.0"}});
        assert!(!applies(p, "r", &rule, &container(&none)).unwrap());
    }
}
