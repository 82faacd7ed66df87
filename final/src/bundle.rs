//! A bundle: a directory with `config.json` and the root file system it
//! names. This module reads the config and turns it into the plan the
//! container's setup follows, refusing what isolab does not apply yet by
//! the field's JSON path: a setting the runtime ignores would be worse than
//! an error (a limit nobody enforces, a namespace nobody made).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::limits::Limits;

/// One mount of `mounts[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub destination: String,
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
    /// `uidMappings`/`gidMappings` of the mount: an idmapped bind.
    pub idmapped: bool,
}

/// What the container's setup needs from config.json.
#[derive(Debug, Clone)]
pub struct Config {
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub readonly_root: bool,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// The five capability sets, as numbers, exactly as given.
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub permitted: Vec<String>,
    pub inheritable: Vec<String>,
    pub ambient: Vec<String>,
    pub no_new_privileges: bool,
    /// (resource, soft, hard), e.g. ("RLIMIT_NOFILE", 1024, 1024).
    pub rlimits: Vec<(String, u64, u64)>,
    pub hostname: Option<String>,
    pub mounts: Vec<MountSpec>,
    /// Namespace types to create, as the spec names them.
    pub namespaces: Vec<String>,
    /// Namespaces to join instead: (type, path of a namespace file, such
    /// as /proc/PID/ns/net or a bind mount of one under /run/netns).
    pub joins: Vec<(String, PathBuf)>,
    /// With a new user namespace: its maps (container id, host id, count).
    pub uid_mappings: Vec<crate::userns::IdMap>,
    pub gid_mappings: Vec<crate::userns::IdMap>,
    pub masked: Vec<String>,
    pub readonly: Vec<String>,
    pub limits: Limits,
    pub annotations: BTreeMap<String, String>,
    /// `linux.seccomp`, for step 8's reader.
    pub seccomp: Option<Value>,
    /// `linux.seccomp.listenerPath` and `listenerMetadata`: where the
    /// filter's listener fd goes (a seccomp agent's Unix socket).
    pub seccomp_listener: Option<(PathBuf, String)>,
    pub apparmor_profile: Option<String>,
    pub selinux_label: Option<String>,
    pub mount_label: Option<String>,
    pub oom_score_adj: Option<i64>,
    pub hooks: crate::hooks::Hooks,
    pub domainname: Option<String>,
    pub umask: Option<u32>,
    /// `linux.rootfsPropagation`, as mount(2) flags for `/`.
    pub rootfs_propagation: Option<nix::mount::MsFlags>,
    /// Namespaced kernel parameters, written under /proc/sys.
    pub sysctl: BTreeMap<String, String>,
    /// `linux.timeOffsets`: (clock, seconds, nanoseconds) for the new time
    /// namespace's /proc/self/timens_offsets.
    pub time_offsets: Vec<(String, i64, u32)>,
    /// `linux.personality.domain` is LINUX32: a 32-bit `uname -m`.
    pub linux32: bool,
    /// `process.terminal`: a pty, its master sent to --console-socket.
    pub terminal: bool,
    /// `process.consoleSize`: (rows, columns).
    pub console_size: Option<(u16, u16)>,
    /// `linux.cgroupsPath`, as given (see `cgroups_path::resolve`).
    pub cgroups_path: Option<String>,
    /// `linux.resources.devices`, when present (the defaults follow them).
    pub device_rules: Option<Vec<crate::device_rules::DeviceRule>>,
    /// `linux.resources.unified`: cgroup v2 files and their values.
    pub unified: BTreeMap<String, String>,
    /// `linux.devices`: nodes to make in the container.
    pub devices: Vec<crate::device_nodes::DeviceNode>,
}

/// The fields isolab applies; any other present in config.json is an
/// error naming it. `*` stands for each element of an array.
const SUPPORTED: &[&str] = &[
    "ociVersion",
    "root",
    "root.path",
    "root.readonly",
    "process",
    "process.terminal",
    "process.consoleSize",
    "process.consoleSize.height",
    "process.consoleSize.width",
    "process.user",
    "process.user.uid",
    "process.user.gid",
    "process.user.additionalGids",
    "process.user.umask",
    "process.args",
    "process.env",
    "process.cwd",
    "process.capabilities",
    "process.capabilities.bounding",
    "process.capabilities.effective",
    "process.capabilities.permitted",
    "process.capabilities.inheritable",
    "process.capabilities.ambient",
    "process.rlimits",
    "process.rlimits.*.type",
    "process.rlimits.*.soft",
    "process.rlimits.*.hard",
    "process.noNewPrivileges",
    "process.apparmorProfile",
    "process.selinuxLabel",
    "process.oomScoreAdj",
    "hostname",
    "domainname",
    "mounts",
    "mounts.*.destination",
    "mounts.*.type",
    "mounts.*.source",
    "mounts.*.options",
    "mounts.*.uidMappings",
    "mounts.*.uidMappings.*.containerID",
    "mounts.*.uidMappings.*.hostID",
    "mounts.*.uidMappings.*.size",
    "mounts.*.gidMappings",
    "mounts.*.gidMappings.*.containerID",
    "mounts.*.gidMappings.*.hostID",
    "mounts.*.gidMappings.*.size",
    "linux",
    "linux.namespaces",
    "linux.namespaces.*.type",
    "linux.namespaces.*.path",
    "linux.rootfsPropagation",
    "linux.cgroupsPath",
    "linux.sysctl",
    "linux.timeOffsets",
    "linux.timeOffsets.monotonic",
    "linux.timeOffsets.monotonic.secs",
    "linux.timeOffsets.monotonic.nanosecs",
    "linux.timeOffsets.boottime",
    "linux.timeOffsets.boottime.secs",
    "linux.timeOffsets.boottime.nanosecs",
    "linux.personality",
    "linux.personality.domain",
    "linux.personality.flags",
    "linux.maskedPaths",
    "linux.uidMappings",
    "linux.uidMappings.*.containerID",
    "linux.uidMappings.*.hostID",
    "linux.uidMappings.*.size",
    "linux.gidMappings",
    "linux.gidMappings.*.containerID",
    "linux.gidMappings.*.hostID",
    "linux.gidMappings.*.size",
    "linux.mountLabel",
    "linux.readonlyPaths",
    "linux.resources",
    "linux.resources.memory",
    "linux.resources.memory.limit",
    "linux.resources.memory.swap",
    "linux.resources.pids",
    "linux.resources.pids.limit",
    "linux.resources.cpu",
    "linux.resources.cpu.quota",
    "linux.resources.cpu.period",
    "linux.resources.cpu.shares",
    "linux.resources.memory.disableOOMKiller",
    "linux.resources.blockIO",
    "linux.resources.blockIO.weight",
    "linux.resources.devices",
    "linux.resources.unified",
    "linux.resources.devices.*.allow",
    "linux.resources.devices.*.type",
    "linux.resources.devices.*.major",
    "linux.resources.devices.*.minor",
    "linux.resources.devices.*.access",
    "linux.devices",
    "linux.devices.*.path",
    "linux.devices.*.type",
    "linux.devices.*.major",
    "linux.devices.*.minor",
    "linux.devices.*.fileMode",
    "linux.devices.*.uid",
    "linux.devices.*.gid",
    "annotations",
];

/// `linux.seccomp` goes whole to step 8's profile reader, which names its
/// own errors; these of its fields it does not apply.
const SECCOMP: &str = "linux.seccomp";
const SECCOMP_UNSUPPORTED: [&str; 1] = ["linux.seccomp.flags"];

/// Namespace types the setup creates or, by `path`, joins (the mount
/// namespace is always new, a user namespace is only made).
const NAMESPACES: [&str; 8] = [
    "pid", "network", "ipc", "uts", "mount", "cgroup", "user", "time",
];

/// Mount types the setup knows.
const MOUNT_TYPES: [&str; 8] = [
    "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "bind", "none",
];

/// The JSON type a field must have (runtime-spec's config.md): a value
/// of another type would otherwise read as absent, and a limit given as
/// "64M" would be a limit nobody applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object,
    Array,
    String,
    Bool,
    Int,
    UInt,
}

impl Kind {
    fn of(pattern: &str) -> Option<Kind> {
        use Kind::*;
        const OBJECTS: [&str; 26] = [
            "root",
            "process",
            "process.consoleSize",
            "process.user",
            "process.capabilities",
            "process.rlimits.*",
            "mounts.*",
            "linux",
            "linux.namespaces.*",
            "linux.sysctl",
            "linux.timeOffsets",
            "linux.timeOffsets.monotonic",
            "linux.timeOffsets.boottime",
            "linux.personality",
            "linux.uidMappings.*",
            "linux.gidMappings.*",
            "mounts.*.uidMappings.*",
            "mounts.*.gidMappings.*",
            "linux.resources",
            "linux.resources.memory",
            "linux.resources.pids",
            "linux.resources.cpu",
            "linux.resources.blockIO",
            "linux.resources.unified",
            "linux.resources.devices.*",
            "linux.devices.*",
        ];
        const ARRAYS: [&str; 20] = [
            "mounts.*.uidMappings",
            "mounts.*.gidMappings",
            "process.user.additionalGids",
            "process.args",
            "process.env",
            "process.capabilities.bounding",
            "process.capabilities.effective",
            "process.capabilities.permitted",
            "process.capabilities.inheritable",
            "process.capabilities.ambient",
            "process.rlimits",
            "mounts",
            "mounts.*.options",
            "linux.namespaces",
            "linux.personality.flags",
            "linux.maskedPaths",
            "linux.readonlyPaths",
            "linux.uidMappings",
            "linux.gidMappings",
            "linux.resources.devices",
        ];
        const BOOLS: [&str; 5] = [
            "root.readonly",
            "linux.resources.memory.disableOOMKiller",
            "process.terminal",
            "process.noNewPrivileges",
            "linux.resources.devices.*.allow",
        ];
        // signed: -1 means "unlimited" or "any"
        const INTS: [&str; 12] = [
            "linux.resources.blockIO.weight",
            "process.oomScoreAdj",
            "linux.timeOffsets.monotonic.secs",
            "linux.timeOffsets.boottime.secs",
            "linux.resources.memory.limit",
            "linux.resources.memory.swap",
            "linux.resources.pids.limit",
            "linux.resources.cpu.quota",
            "linux.resources.devices.*.major",
            "linux.resources.devices.*.minor",
            "linux.devices.*.major",
            "linux.devices.*.minor",
        ];
        if OBJECTS.contains(&pattern) || pattern == "annotations" {
            return Some(Object);
        }
        if pattern == "linux.devices" || ARRAYS.contains(&pattern) {
            return Some(Array);
        }
        if BOOLS.contains(&pattern) {
            return Some(Bool);
        }
        if INTS.contains(&pattern) {
            return Some(Int);
        }
        if let Some(array) = pattern.strip_suffix(".*") {
            // elements of the arrays of strings (and of gids)
            return match array {
                "process.user.additionalGids" => Some(UInt),
                a if ARRAYS.contains(&a) => Some(String),
                _ => None,
            };
        }
        let last = pattern.rsplit('.').next().unwrap_or("");
        if [
            "height",
            "width",
            "uid",
            "gid",
            "umask",
            "soft",
            "hard",
            "containerID",
            "hostID",
            "size",
            "nanosecs",
            "period",
            "shares",
            "fileMode",
        ]
        .contains(&last)
        {
            return Some(UInt);
        }
        SUPPORTED.contains(&pattern).then_some(String)
    }

    fn matches(self, v: &Value) -> bool {
        match self {
            Kind::Object => v.is_object(),
            Kind::Array => v.is_array(),
            Kind::String => v.is_string(),
            Kind::Bool => v.is_boolean(),
            Kind::Int => v.is_i64() || v.is_u64(),
            Kind::UInt => v.is_u64(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Object => "an object",
            Kind::Array => "an array",
            Kind::String => "a string",
            Kind::Bool => "true or false",
            Kind::Int => "an integer",
            Kind::UInt => "a non-negative integer",
        }
    }
}

/// The first field of a type config.json's fields can't have, as (its
/// path, what it must be). `null` counts as absent.
pub fn mistyped(value: &Value) -> Option<(String, &'static str)> {
    fn walk(v: &Value, path: &str, pattern: &str) -> Option<(String, &'static str)> {
        if !pattern.is_empty() && !v.is_null() {
            // seccomp and hooks are typed by their own readers
            if pattern.starts_with(SECCOMP) || pattern.starts_with("hooks") {
                return None;
            }
            let parent = pattern.rsplit_once('.').map_or("", |(p, _)| p);
            let kind = match parent {
                "annotations" => Some(Kind::String),
                "linux.sysctl" | "linux.resources.unified" => None, // their readers say
                _ => Kind::of(pattern),
            };
            if let Some(kind) = kind
                && !kind.matches(v)
            {
                return Some((path.to_string(), kind.name()));
            }
        }
        match v {
            Value::Object(map) => map
                .iter()
                .find_map(|(k, v)| walk(v, &join(path, k), &join(pattern, k))),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{path}[{i}]"), &format!("{pattern}.*"))),
            _ => None,
        }
    }
    walk(value, "", "")
}

/// Every field path present in `value` that [`SUPPORTED`] lacks, with
/// array indices (`mounts[3].uidMappings`).
pub fn unsupported(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk(value, "", "", &mut found);
    found
}

fn walk(value: &Value, path: &str, pattern: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let p = join(path, key);
                let pat = join(pattern, key);
                // Values of annotations are free-form strings.
                if ["annotations", "linux.sysctl", "linux.resources.unified"].contains(&pattern) {
                    continue;
                }
                if pat == SECCOMP {
                    if let Value::Object(fields) = v {
                        for k in fields.keys() {
                            let field = format!("{SECCOMP}.{k}");
                            if SECCOMP_UNSUPPORTED.contains(&field.as_str()) {
                                found.push(join(&p, k));
                            }
                        }
                    }
                    continue;
                }
                if !SUPPORTED.contains(&pat.as_str()) && !hook_field(&pat) {
                    found.push(p);
                    continue;
                }
                walk(v, &p, &pat, found);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, &format!("{path}[{i}]"), &format!("{pattern}.*"), found);
            }
        }
        _ => {}
    }
}

/// `hooks`, `hooks.KIND` and each hook's four fields.
fn hook_field(pattern: &str) -> bool {
    let mut parts = pattern.split('.');
    if parts.next() != Some("hooks") {
        return false;
    }
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (None, ..) => true,
        (Some(kind), None, ..) => crate::hooks::KINDS.contains(&kind),
        (Some(kind), Some("*"), Some(field), None) => {
            crate::hooks::KINDS.contains(&kind)
                && ["path", "args", "env", "timeout"].contains(&field)
        }
        _ => false,
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}.{b}")
    }
}

// ANCHOR: load
/// Read `<bundle>/config.json` and check it.
pub fn load(bundle: &Path) -> Result<Config> {
    let bundle = std::fs::canonicalize(bundle)
        .map_err(|e| Error::Request(format!("bundle {}: {e}", bundle.display())))?;
    let file = bundle.join("config.json");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Error::Request(format!("{}: {e}", file.display())))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Error::Request(format!("{}: not JSON: {e}", file.display())))?;
    parse(&bundle, &value)
}
// ANCHOR_END: load

/// The plan from an already parsed config.json.
pub fn parse(bundle: &Path, v: &Value) -> Result<Config> {
    let bad = |path: &str, why: &str| Error::Request(format!("config.json: {path}: {why}"));
    if let Some(first) = unsupported(v).first() {
        return Err(bad(first, "not supported by isolab yet"));
    }
    if let Some((path, kind)) = mistyped(v) {
        return Err(bad(&path, &format!("must be {kind}")));
    }
    let version = str_at(v, "ociVersion").ok_or_else(|| bad("ociVersion", "missing"))?;
    if !version.starts_with("1.") {
        return Err(bad("ociVersion", &format!("{version}: isolab runs 1.x")));
    }
    let root = str_at(v, "root.path").ok_or_else(|| bad("root.path", "missing"))?;
    let rootfs = bundle.join(root);
    if !rootfs.is_dir() {
        return Err(bad(
            "root.path",
            &format!("{} is not a directory", rootfs.display()),
        ));
    }
    let args = strings_at(v, "process.args");
    if args.is_empty() {
        return Err(bad("process.args", "missing or empty"));
    }
    let cwd = str_at(v, "process.cwd").unwrap_or("/").to_string();
    if !cwd.starts_with('/') {
        return Err(bad("process.cwd", "must be an absolute path"));
    }
    let mut mounts = Vec::new();
    for (i, m) in at(v, "mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let get = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let spec = MountSpec {
            destination: get("destination"),
            kind: get("type"),
            source: get("source"),
            options: m
                .get("options")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|o| o.as_str().map(str::to_string))
                .collect(),
            // with maps of its own, or the option alone (the container's)
            idmapped: m.get("uidMappings").is_some()
                || m.get("gidMappings").is_some()
                || m.get("options")
                    .is_some_and(|o| o.to_string().contains("\"idmap\"")),
        };
        if !spec.destination.starts_with('/') {
            return Err(bad(
                &format!("mounts[{i}].destination"),
                "must be an absolute path",
            ));
        }
        let is_bind = spec.options.iter().any(|o| o == "bind" || o == "rbind");
        if !MOUNT_TYPES.contains(&spec.kind.as_str()) && !is_bind {
            return Err(bad(
                &format!("mounts[{i}].type"),
                &format!("{:?} is not supported by isolab yet", spec.kind),
            ));
        }
        mounts.push(spec);
    }
    let (mut namespaces, mut joins) = (Vec::new(), Vec::new());
    for (i, ns) in at(v, "linux.namespaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let kind = ns.get("type").and_then(Value::as_str).unwrap_or("");
        if !NAMESPACES.contains(&kind) {
            return Err(bad(
                &format!("linux.namespaces[{i}].type"),
                &format!("{kind:?}: isolab creates {} so far", NAMESPACES.join(", ")),
            ));
        }
        match ns.get("path").and_then(Value::as_str) {
            Some(path) if !path.starts_with('/') => {
                return Err(bad(
                    &format!("linux.namespaces[{i}].path"),
                    "must be an absolute path",
                ));
            }
            Some(path) => joins.push((kind.to_string(), PathBuf::from(path))),
            None => namespaces.push(kind.to_string()),
        }
    }
    let maps = |key: &str| -> Vec<crate::userns::IdMap> {
        at(v, key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|m| {
                let n = |k: &str| m.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
                crate::userns::IdMap {
                    inside: n("containerID"),
                    outside: n("hostID"),
                    count: n("size"),
                }
            })
            .collect()
    };
    let (uid_mappings, gid_mappings) = (maps("linux.uidMappings"), maps("linux.gidMappings"));
    let userns = namespaces.iter().any(|n| n == "user");
    // ANCHOR: idmapped_check
    // An idmapped bind shifts ids by a user namespace's maps: isolab uses
    // the container's own, so a mount's maps must be the container's.
    for (i, m) in mounts.iter().enumerate() {
        if !m.idmapped {
            continue;
        }
        let at_mount = |k: &str| format!("mounts.{i}.{k}");
        let (uids, gids) = (
            maps(&at_mount("uidMappings")),
            maps(&at_mount("gidMappings")),
        );
        let given = !uids.is_empty() || !gids.is_empty();
        let same = !given || (uids == uid_mappings && gids == gid_mappings);
        let bind = m.options.iter().any(|o| o == "bind" || o == "rbind");
        if !userns || !same || !bind {
            return Err(bad(
                &format!("mounts[{i}].uidMappings"),
                "isolab idmaps binds with the container's own user namespace: a bind, with linux.uidMappings and gidMappings repeated",
            ));
        }
    }
    // ANCHOR_END: idmapped_check
    if userns && (uid_mappings.is_empty() || gid_mappings.is_empty()) {
        return Err(bad(
            "linux.uidMappings",
            "a new user namespace needs uidMappings and gidMappings",
        ));
    }
    let mapped = !uid_mappings.is_empty() || !gid_mappings.is_empty();
    if mapped && !userns {
        return Err(bad(
            "linux.uidMappings",
            "mappings without a new user namespace",
        ));
    }
    let joined_mnt = joins.iter().any(|(k, _)| k == "mount");
    if !joined_mnt && !namespaces.iter().any(|n| n == "mount") {
        return Err(bad(
            "linux.namespaces",
            "no mount namespace: isolab always makes or joins one",
        ));
    }
    // ANCHOR: joined_mount
    // A joined mount namespace is used as it is (an engine prepared it):
    // the fields that would change it are refused, not skipped.
    if joined_mnt {
        for (field, given) in [
            (
                "mounts",
                at(v, "mounts")
                    .and_then(Value::as_array)
                    .is_some_and(|m| !m.is_empty()),
            ),
            ("root.readonly", bool_at(v, "root.readonly")),
            (
                "linux.maskedPaths",
                !strings_at(v, "linux.maskedPaths").is_empty(),
            ),
            (
                "linux.readonlyPaths",
                !strings_at(v, "linux.readonlyPaths").is_empty(),
            ),
            (
                "linux.devices",
                at(v, "linux.devices")
                    .and_then(Value::as_array)
                    .is_some_and(|d| !d.is_empty()),
            ),
            (
                "linux.rootfsPropagation",
                at(v, "linux.rootfsPropagation").is_some(),
            ),
        ] {
            if given {
                return Err(bad(
                    field,
                    "a joined mount namespace is used as it is: leave this out",
                ));
            }
        }
    }
    // ANCHOR_END: joined_mount
    if !namespaces
        .iter()
        .chain(joins.iter().map(|(k, _)| k))
        .any(|n| n == "pid")
    {
        return Err(bad(
            "linux.namespaces",
            "no pid namespace: isolab always makes or joins one",
        ));
    }
    let mut rlimits = Vec::new();
    for (i, r) in at(v, "process.rlimits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let kind = r.get("type").and_then(Value::as_str).unwrap_or("");
        if crate::container_init::rlimit_resource(kind).is_none() {
            return Err(bad(
                &format!("process.rlimits[{i}].type"),
                &format!("{kind:?} is no RLIMIT_ name"),
            ));
        }
        if rlimits.iter().any(|(k, _, _)| k == kind) {
            // the runtime spec: each type at most once
            return Err(bad(
                &format!("process.rlimits[{i}].type"),
                &format!("{kind} given twice"),
            ));
        }
        let num = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
        rlimits.push((kind.to_string(), num("soft"), num("hard")));
    }
    let hooks: crate::hooks::Hooks = match at(v, "hooks") {
        Some(h) => serde_json::from_value(h.clone()).map_err(|e| bad("hooks", &e.to_string()))?,
        None => Default::default(),
    };
    for (kind, list) in [
        ("prestart", &hooks.prestart),
        ("createRuntime", &hooks.create_runtime),
        ("createContainer", &hooks.create_container),
        ("startContainer", &hooks.start_container),
        ("poststart", &hooks.poststart),
        ("poststop", &hooks.poststop),
    ] {
        for (i, hook) in list.iter().enumerate() {
            if !hook.path.starts_with('/') {
                return Err(bad(
                    &format!("hooks.{kind}[{i}].path"),
                    "must be an absolute path",
                ));
            }
        }
    }
    let has_ns = |kind: &str| {
        namespaces
            .iter()
            .chain(joins.iter().map(|(k, _)| k))
            .any(|n| n == kind)
    };
    let mut sysctl = BTreeMap::new();
    for (key, value) in at(v, "linux.sysctl")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let path = format!("linux.sysctl.{key}");
        let Some(value) = value.as_str() else {
            return Err(bad(&path, "the value must be a string"));
        };
        let needs = sysctl_namespace(key).ok_or_else(|| {
            bad(
                &path,
                "not a namespaced parameter: it would change the host (only net.*, the IPC ones kernel.msg*/sem/shm* and fs.mqueue.*, kernel.hostname/domainname)",
            )
        })?;
        if !has_ns(needs) {
            return Err(bad(
                &path,
                &format!(
                    "needs a {needs} namespace of the container's own, or it would change the host's"
                ),
            ));
        }
        sysctl.insert(key.clone(), value.to_string());
    }
    let mut time_offsets = Vec::new();
    if let Some(offsets) = at(v, "linux.timeOffsets").and_then(Value::as_object) {
        if !namespaces.iter().any(|n| n == "time") {
            return Err(bad(
                "linux.timeOffsets",
                "needs a new time namespace in linux.namespaces",
            ));
        }
        for (clock, o) in offsets {
            let secs = o.get("secs").and_then(Value::as_i64).unwrap_or(0);
            let nanos = o.get("nanosecs").and_then(Value::as_u64).unwrap_or(0);
            if nanos >= 1_000_000_000 {
                return Err(bad(
                    &format!("linux.timeOffsets.{clock}.nanosecs"),
                    "must be below 1000000000",
                ));
            }
            time_offsets.push((clock.clone(), secs, nanos as u32));
        }
    }
    let rootfs_propagation = match str_at(v, "linux.rootfsPropagation") {
        None => None,
        Some(p @ ("shared" | "rshared")) => {
            return Err(bad(
                "linux.rootfsPropagation",
                &format!(
                    "{p}: propagating the container's mounts to the host is not supported by isolab yet"
                ),
            ));
        }
        Some(p) => Some(crate::oci_mounts::propagation(p).ok_or_else(|| {
            bad(
                "linux.rootfsPropagation",
                &format!("{p:?}: one of private, slave, unbindable (r-forms too)"),
            )
        })?),
    };
    let linux32 = match str_at(v, "linux.personality.domain") {
        None | Some("LINUX") => false,
        Some("LINUX32") => true,
        Some(other) => {
            return Err(bad(
                "linux.personality.domain",
                &format!("{other:?}: LINUX or LINUX32"),
            ));
        }
    };
    if !strings_at(v, "linux.personality.flags").is_empty() {
        return Err(bad(
            "linux.personality.flags",
            "not supported by isolab yet (the runtime spec defines none)",
        ));
    }
    if str_at(v, "domainname").is_some() && !has_ns("uts") {
        return Err(bad("domainname", "needs a uts namespace"));
    }
    let seccomp_listener = match str_at(v, "linux.seccomp.listenerPath") {
        Some(p) if !p.starts_with('/') => {
            return Err(bad(
                "linux.seccomp.listenerPath",
                "must be an absolute path",
            ));
        }
        Some(p) => Some((
            PathBuf::from(p),
            str_at(v, "linux.seccomp.listenerMetadata")
                .unwrap_or("")
                .to_string(),
        )),
        None => None,
    };
    let notifies =
        at(v, "linux.seccomp").is_some_and(|s| s.to_string().contains("\"SCMP_ACT_NOTIFY\""));
    if notifies && seccomp_listener.is_none() {
        return Err(bad(
            "linux.seccomp",
            "SCMP_ACT_NOTIFY needs listenerPath (a seccomp agent to answer the calls)",
        ));
    }
    let resources = crate::resources::parse(at(v, "linux.resources"), "linux.resources")?;
    let devices = at(v, "linux.devices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, d)| crate::device_nodes::parse(&format!("linux.devices[{i}]"), d))
        .collect::<Result<Vec<_>>>()?;
    if !devices.is_empty() && userns {
        return Err(bad(
            "linux.devices",
            "device nodes in a user namespace (mknod is refused there) are not supported by isolab yet",
        ));
    }
    // The kernel keeps the inheritable set within the bounding set
    // (capabilities(7)): a capability outside it can't be set, so say
    // which, by name, before anything is made.
    let bounding = strings_at(v, "process.capabilities.bounding");
    if let Some(cap) = strings_at(v, "process.capabilities.inheritable")
        .into_iter()
        .find(|c| !bounding.contains(c))
    {
        return Err(bad(
            "process.capabilities.inheritable",
            &format!("{cap} is not in the bounding set, so it can't be inheritable"),
        ));
    }
    Ok(Config {
        bundle: bundle.to_path_buf(),
        rootfs,
        readonly_root: bool_at(v, "root.readonly"),
        args,
        env: strings_at(v, "process.env"),
        cwd,
        uid: u32_at(v, "process.user.uid"),
        gid: u32_at(v, "process.user.gid"),
        additional_gids: at(v, "process.user.additionalGids")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|g| g.as_u64().map(|g| g as u32))
            .collect(),
        bounding: strings_at(v, "process.capabilities.bounding"),
        effective: strings_at(v, "process.capabilities.effective"),
        permitted: strings_at(v, "process.capabilities.permitted"),
        inheritable: strings_at(v, "process.capabilities.inheritable"),
        ambient: strings_at(v, "process.capabilities.ambient"),
        no_new_privileges: bool_at(v, "process.noNewPrivileges"),
        rlimits,
        hostname: str_at(v, "hostname").map(str::to_string),
        mounts,
        namespaces,
        joins,
        uid_mappings,
        gid_mappings,
        masked: strings_at(v, "linux.maskedPaths"),
        readonly: strings_at(v, "linux.readonlyPaths"),
        limits: resources.limits,
        annotations: at(v, "annotations")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect(),
        seccomp: at(v, "linux.seccomp").cloned(),
        seccomp_listener,
        apparmor_profile: str_at(v, "process.apparmorProfile").map(str::to_string),
        selinux_label: str_at(v, "process.selinuxLabel").map(str::to_string),
        mount_label: str_at(v, "linux.mountLabel").map(str::to_string),
        oom_score_adj: at(v, "process.oomScoreAdj").and_then(Value::as_i64),
        hooks,
        domainname: str_at(v, "domainname").map(str::to_string),
        umask: at(v, "process.user.umask")
            .and_then(Value::as_u64)
            .map(|m| m as u32),
        rootfs_propagation,
        sysctl,
        time_offsets,
        linux32,
        cgroups_path: str_at(v, "linux.cgroupsPath")
            .filter(|p| !p.is_empty())
            .map(str::to_string),
        device_rules: resources.devices,
        unified: resources.unified,
        devices,
        terminal: bool_at(v, "process.terminal"),
        console_size: at(v, "process.consoleSize").map(|s| {
            let n = |k: &str| {
                s.get(k)
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    .min(u16::MAX as u64) as u16
            };
            (n("height"), n("width"))
        }),
    })
}

// ANCHOR: sysctl_namespace
/// The namespace a kernel parameter belongs to, if it belongs to one: only
/// those may a container set, in its own namespace (the list is runc's
/// and the kernel's: ipc_sysctl.c, mq_sysctl.c, utsname_sysctl.c, and the
/// per-namespace net tables).
pub fn sysctl_namespace(key: &str) -> Option<&'static str> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    // Dots become slashes under /proc/sys: nothing else may steer the path.
    let plain = key.split('.').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    if !plain {
        return None;
    }
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some("ipc")
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some("uts")
    } else if key.starts_with("net.") {
        Some("network")
    } else {
        None
    }
}
// ANCHOR_END: sysctl_namespace

/// The value at a dotted path; a number steps into an array.
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(v, |v, k| match k.parse::<usize>() {
            Ok(i) if v.is_array() => v.get(i),
            _ => v.get(k),
        })
}

fn str_at<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

fn bool_at(v: &Value, path: &str) -> bool {
    at(v, path).and_then(Value::as_bool).unwrap_or(false)
}

fn u32_at(v: &Value, path: &str) -> u32 {
    at(v, path).and_then(Value::as_u64).unwrap_or(0) as u32
}

fn strings_at(v: &Value, path: &str) -> Vec<String> {
    at(v, path)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(spec: &Value) -> (PathBuf, Result<Config>) {
        let dir = std::env::temp_dir().join(format!(
            "isolab-bundle-{}-{}",
            std::process::id(),
            crate::container::new_id()
        ));
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        let result = parse(&dir, spec);
        (dir, result)
    }

    #[test]
    fn the_default_spec_parses() {
        let (dir, config) = bundle_with(&crate::default_spec::default_spec(None));
        let config = config.unwrap();
        assert_eq!(config.args, ["sh"]);
        assert_eq!(config.rlimits, [("RLIMIT_NOFILE".to_string(), 1024, 1024)]);
        assert!(config.readonly_root && config.no_new_privileges);
        assert_eq!(config.mounts.len(), 7);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unsupported_fields_are_named_by_their_path() {
        let mut spec = crate::default_spec::default_spec(None);
        spec["mounts"][2]["idmapOptions"] = serde_json::json!([]);
        spec["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
        spec["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]});
        spec["annotations"] = serde_json::json!({"anything.goes": "x"});
        // in key order: serde_json's map is sorted
        spec["linux"]["timeOffsets"] = serde_json::json!({"realtime": {"secs": 1}});
        assert_eq!(
            unsupported(&spec),
            [
                "linux.seccomp.flags",
                "linux.timeOffsets.realtime",
                "mounts[2].idmapOptions"
            ]
        );
        let (dir, err) = bundle_with(&spec);
        let err = err.unwrap_err().to_string();
        assert!(
            err.contains("config.json: linux.seccomp.flags: not supported"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_values_name_their_path() {
        for (edit, path) in [
            (serde_json::json!({"process": {"args": []}}), "process.args"),
            (serde_json::json!({"ociVersion": "0.9"}), "ociVersion"),
            (
                serde_json::json!({"linux": {"namespaces": [{"type": "pid"}, {"type": "bogus"}]}}),
                "linux.namespaces[1].type",
            ),
            (
                serde_json::json!({"process": {"cwd": "rel"}}),
                "process.cwd",
            ),
            (
                serde_json::json!({"process": {"capabilities": {"inheritable": ["CAP_SYS_ADMIN"]}}}),
                "process.capabilities.inheritable",
            ),
            (
                serde_json::json!({"linux": {"rootfsPropagation": "rshared"}}),
                "linux.rootfsPropagation",
            ),
            (
                serde_json::json!({"linux": {"timeOffsets": {"boottime": {"secs": 1}}}}),
                "linux.timeOffsets",
            ),
            (
                serde_json::json!({"linux": {"personality": {"domain": "BSD"}}}),
                "linux.personality.domain",
            ),
            (
                serde_json::json!({"linux": {"sysctl": {"kernel.shmmax": 5}}}),
                "linux.sysctl.kernel.shmmax",
            ),
            (
                serde_json::json!({"linux": {"resources": {"memory": {"limit": "64M"}}}}),
                "linux.resources.memory.limit",
            ),
            (
                serde_json::json!({"process": {"user": {"uid": -1}}}),
                "process.user.uid",
            ),
            (
                serde_json::json!({"process": {"args": ["sh", 5]}}),
                "process.args[1]",
            ),
            (
                serde_json::json!({"root": {"readonly": "yes"}}),
                "root.readonly",
            ),
            (
                serde_json::json!({"annotations": {"a": 1}}),
                "annotations.a",
            ),
            (
                serde_json::json!({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_NOTIFY"}}}),
                "linux.seccomp",
            ),
        ] {
            let mut spec = crate::default_spec::default_spec(None);
            merge(&mut spec, &edit);
            let (dir, err) = bundle_with(&spec);
            let err = err.unwrap_err().to_string();
            assert!(
                err.contains(&format!("config.json: {path}:")),
                "{path}: {err}"
            );
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    fn merge(into: &mut Value, from: &Value) {
        match (into, from) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
            (a, b) => *a = b.clone(),
        }
    }
}
