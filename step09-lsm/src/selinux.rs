//! SELinux: every process and every file carries a label, and the loaded
//! policy says which process labels may do what to which file labels.
//!
//! A context is `user:role:type[:level]`; in practice the *type* decides
//! (type enforcement). Fedora and RHEL run containers as `container_t`,
//! their files as `container_file_t`, with a per-container MCS level. This
//! step sets labels on request only (`--security-opt label=type:T`, and
//! `user:`, `role:`, `level:`, as docker's flag), because isolab ships no
//! policy module of its own; the CI's VM guest loads a tiny policy written
//! for the book (`.ci/vm/selinux.cil`).
//!
//! Three labels are set, each through a file of /proc/thread-self/attr
//! (no libselinux needed): `exec`, the process label the next execve(2)
//! gives; `keycreate`, the label of keyrings the process creates (the
//! container's session keyring); and the mount label, as the `context=`
//! option of the tmpfs and devpts mounts of /dev, so that the container's
//! own files there carry a label its policy can allow.

use crate::error::{Error, Result};
use crate::security_opt::Key;

/// `--security-opt label=`.
pub const LABEL: Key = Key {
    name: "label",
    usage: "label=user:U|role:R|type:T|level:L|disable",
};

/// What `label=` options asked for: the parts to replace in the runtime's
/// own context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub user: Option<String>,
    pub role: Option<String>,
    pub kind: Option<String>,
    pub level: Option<String>,
}

/// The container's two contexts, complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contexts {
    /// Its processes', e.g. `system_u:system_r:container_t`.
    pub process: String,
    /// Its own mounts' files', the same with the role `object_r`.
    pub mount: String,
}

// ANCHOR: parse
/// Parse every `label=` value; `None` when there are none, or with
/// `label=disable` (docker's word for "no label").
pub fn parse(values: &[&str]) -> Result<Option<Request>> {
    let mut request = Request::default();
    for value in values {
        if *value == "disable" {
            return Ok(None);
        }
        let bad = |why: &str| {
            Error::BadFlag(format!(
                "--security-opt label={value}: {why}; use {}",
                LABEL.usage
            ))
        };
        let (part, name) = value.split_once(':').ok_or_else(|| bad("no part: name"))?;
        // SELinux names: letters, digits, _ . -; a level adds : and , (s0:c1,c2).
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
        let ok = !name.is_empty()
            && match part {
                "level" => name.chars().all(|c| allowed(c) || ":,".contains(c)),
                _ => name.chars().all(allowed),
            };
        if !ok {
            return Err(bad("not a valid SELinux name"));
        }
        let slot = match part {
            "user" => &mut request.user,
            "role" => &mut request.role,
            "type" => &mut request.kind,
            "level" => &mut request.level,
            _ => return Err(bad("unknown part")),
        };
        *slot = Some(name.to_string());
    }
    Ok((request != Request::default()).then_some(request))
}
// ANCHOR_END: parse

/// Whether SELinux is enabled: selinuxfs is mounted and a policy loaded.
pub fn enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

/// `current` with the parts `request` names replaced.
pub fn apply(current: &str, request: &Request) -> Result<Contexts> {
    let mut parts = current.splitn(4, ':');
    let (Some(user), Some(role), Some(kind)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::Request(format!(
            "selinux: the runtime's own context {current:?} is not user:role:type"
        )));
    };
    let level = parts.next();
    let pick = |given: &Option<String>, own: &str| given.clone().unwrap_or(own.to_string());
    let user = pick(&request.user, user);
    let role = pick(&request.role, role);
    let kind = pick(&request.kind, kind);
    let level = request.level.as_deref().or(level);
    let join = |role: &str| match level {
        Some(level) => format!("{user}:{role}:{kind}:{level}"),
        None => format!("{user}:{role}:{kind}"),
    };
    Ok(Contexts {
        process: join(&role),
        mount: join("object_r"),
    })
}

// ANCHOR: prepare
/// Runtime side, before the clone: the complete contexts for `values`
/// (`label=` options), each checked against the loaded policy, or `None`.
pub fn prepare(values: &[&str]) -> Result<Option<Contexts>> {
    let Some(request) = parse(values)? else {
        return Ok(None);
    };
    if !enabled() {
        return Err(Error::Request(
            "label=: SELinux is not enabled on this host (no /sys/fs/selinux): drop the option, or use label=disable".into(),
        ));
    }
    let current = std::fs::read_to_string("/proc/self/attr/current")
        .map_err(|e| Error::io("reading /proc/self/attr/current", e))?;
    let contexts = apply(current.trim_end_matches(['\0', '\n']), &request)?;
    for context in [&contexts.process, &contexts.mount] {
        check(context)?;
    }
    Ok(Some(contexts))
}
// ANCHOR_END: prepare

/// Ask the loaded policy whether `context` is valid: selinuxfs answers a
/// write to its `context` file with EINVAL when it is not.
pub fn check(context: &str) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/sys/fs/selinux/context")
        .map_err(|e| Error::io("opening /sys/fs/selinux/context", e))?;
    file.write_all(context.as_bytes()).map_err(|e| {
        Error::Request(format!(
            "label: {context} is not a valid context in the loaded policy ({e})"
        ))
    })
}

// ANCHOR: request
/// Container side, in the init, before the session keyring is made: the
/// keyrings it creates get the container's label, and so, at its execve,
/// does the command. The fork of the command keeps both requests.
pub fn request(contexts: &Contexts) -> Result<()> {
    // through a checked /proc, crossing no mount (see proc_handle.rs)
    let proc = crate::proc_handle::ProcHandle::open()?;
    for attr in ["keycreate", "exec"] {
        proc.write(&format!("thread-self/attr/{attr}"), &contexts.process)?;
    }
    Ok(())
}
// ANCHOR_END: request

/// The `context=` mount option for the container's own tmpfs and devpts
/// mounts, quoted (a level may hold commas).
pub fn mount_option(contexts: &Contexts) -> String {
    format!("context=\"{}\"", contexts.mount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_replace_only_the_parts_given() {
        let r = parse(&["type:container_t"]).unwrap().unwrap();
        let c = apply("system_u:system_r:kernel_t", &r).unwrap();
        assert_eq!(c.process, "system_u:system_r:container_t");
        assert_eq!(c.mount, "system_u:object_r:container_t");
        let r = parse(&["type:container_t", "level:s0:c1,c2", "user:u"])
            .unwrap()
            .unwrap();
        let c = apply("unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023", &r).unwrap();
        assert_eq!(c.process, "u:unconfined_r:container_t:s0:c1,c2");
        assert_eq!(
            mount_option(&c),
            "context=\"u:object_r:container_t:s0:c1,c2\""
        );
    }

    #[test]
    fn disable_and_nothing_mean_no_label() {
        assert_eq!(parse(&[]).unwrap(), None);
        assert_eq!(parse(&["type:a_t", "disable"]).unwrap(), None);
    }

    #[test]
    fn malformed_labels_are_usage_errors() {
        for bad in [
            "container_t",
            "type:",
            "kind:x_t",
            "type:a b",
            "type:x\"y",
            "user:a:b",
        ] {
            assert!(matches!(parse(&[bad]), Err(Error::BadFlag(_))), "{bad}");
        }
    }
}
