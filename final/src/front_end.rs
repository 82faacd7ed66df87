//! `isolab run [FLAGS] -- CMD`: docker's flags become an OCI config.
//!
//! The front end has no setup code of its own. It starts from `isolab
//! spec`'s default, changes one field per flag (each change below is one
//! flag's whole meaning), and hands the config to the same `create` and
//! `start` an engine drives. `--print-spec` prints the result, so a reader
//! can see what `-v`, `--pid host` or `--cap-add` becomes. The network is
//! the one piece that happens between `create` and `start` (see
//! `bridge`), as an engine's CNI plugins do it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::run_flags::RunFlags;

/// What `run -- CMD` will create: the config, the ID, and what the front
/// end itself sets up around `create` (an overlay layer, the network).
#[derive(Debug)]
pub struct Plan {
    pub id: String,
    pub spec: Value,
    /// The image under a writable overlay layer of this container's own
    /// (not --read-only, and root: a normal user can't mount one here).
    pub overlay_of: Option<PathBuf>,
    /// Where the container's writes land (the layer's upper and work
    /// directories, -d's log): on the disk of the images, never under the
    /// state root, which is /run's RAM (see [`layer_dir`]).
    pub layer_dir: PathBuf,
    pub network: crate::network_mode::NetworkMode,
    pub publish: Vec<crate::publish::Publish>,
}

// ANCHOR: build
/// The config for `command` under `flags`; `bundle` is where the front
/// end keeps this container's files (its layer, resolv.conf and hosts).
pub fn build(
    flags: &RunFlags,
    command: &[String],
    root: &Path,
    bundle: &Path,
    id: &str,
    rootless: bool,
) -> Result<Plan> {
    refuse_unsupported(flags)?;
    let ids = rootless.then(|| {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    });
    let mut spec = crate::default_spec::default_spec(ids);
    let state = crate::state::State::new(flags.state_dir.as_deref());
    let image = crate::rootfs::choose(flags.rootfs.as_deref(), &state)?;
    let overlay_of = (!flags.read_only && !rootless).then(|| image.clone());
    spec["root"] = match overlay_of {
        Some(_) => json!({"path": bundle.join("merged"), "readonly": false}),
        None => json!({"path": image, "readonly": true}),
    };
    spec["process"]["args"] = json!(command);
    spec["process"]["terminal"] = json!(flags.tty);
    if flags.init {
        // step 2's init as PID 1, the command its child (container_init)
        spec["annotations"][crate::container_init::INIT] = json!("true");
    }
    let user = flags.privileges.user();
    spec["process"]["user"] = json!({"uid": user.uid, "gid": user.gid});
    spec["process"]["noNewPrivileges"] = json!(!flags.privileges.allow_new_privs);
    if let Some(dir) = &flags.workdir {
        if !dir.starts_with('/') {
            return Err(Error::BadFlag(format!(
                "--workdir {dir}: give an absolute path"
            )));
        }
        spec["process"]["cwd"] = json!(dir);
    }
    capabilities(&mut spec, flags, user.uid == 0)?;
    namespaces(&mut spec, flags, root, id)?;
    let hostname = spec["hostname"].as_str().unwrap_or_default().to_string();
    spec["process"]["env"] = json!(environment(flags, &hostname, user.uid)?);
    for v in &flags.volumes {
        push_mount(&mut spec, crate::flag_values::volume(v)?);
    }
    for m in &flags.mounts {
        push_mount(&mut spec, crate::flag_values::mount(m)?);
    }
    for t in &flags.tmpfs {
        push_mount(&mut spec, crate::flag_values::tmpfs(t)?);
    }
    limits(&mut spec, flags)?;
    for u in &flags.ulimit {
        let (kind, soft, hard) = crate::flag_values::ulimit(u)?;
        let list = spec["process"]["rlimits"]
            .as_array_mut()
            .expect("default has rlimits");
        list.retain(|r| r["type"] != kind);
        list.push(json!({"type": kind, "soft": soft, "hard": hard}));
    }
    for s in &flags.sysctl {
        let (key, value) = s
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| Error::BadFlag(format!("--sysctl {s}: the form is KEY=VALUE")))?;
        spec["linux"]["sysctl"][key] = json!(value);
    }
    for d in &flags.device {
        crate::flag_values::device(&mut spec, d)?;
    }
    time_offsets(&mut spec, flags)?;
    security(&mut spec, flags)?;
    let network = crate::network_mode::NetworkMode::parse(&flags.network, root)?;
    let publish = flags
        .publish
        .iter()
        .map(|p| crate::publish::Publish::parse(p))
        .collect::<Result<Vec<_>>>()?;
    if !publish.is_empty() && network != crate::network_mode::NetworkMode::Bridge {
        return Err(Error::BadFlag(
            "--publish needs --network bridge (a port of the host forwarded to the container's address)".into(),
        ));
    }
    network.apply(&mut spec, bundle)?;
    if rootless && network == crate::network_mode::NetworkMode::None {
        // The rootless default binds the host's /sys, since without a
        // network namespace it owns the kernel refuses a new sysfs; with
        // one, its own sysfs lists its own links, not the host's.
        for m in spec["mounts"].as_array_mut().expect("default has mounts") {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                            "options": ["nosuid", "noexec", "nodev", "ro"]});
            }
        }
    }
    Ok(Plan {
        id: id.to_string(),
        spec,
        overlay_of,
        layer_dir: layer_dir(&state, root, id),
        network,
        publish,
    })
}
// ANCHOR_END: build

/// `<lib>/layers/<ROOT>-<ID>`: the state root (/run/isolab, a tmpfs on
/// most machines) holds no container's files, or a container could fill
/// the host's memory through them (docker keeps its layers and logs on
/// /var/lib too). ROOT, a hash of the state root's path, keeps apart two
/// roots' containers of the same name. Not step 4's `<lib>/containers`,
/// whose stale sweep would take them for its own.
fn layer_dir(state: &crate::state::State, root: &Path, id: &str) -> PathBuf {
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    // FNV-1a: stable across runs and builds, unlike std's hasher.
    let hash = root
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
        });
    state.lib.join("layers").join(format!("{hash:016x}-{id}"))
}

/// docker flags this runtime has in its list but can't honour: refused,
/// never ignored.
fn refuse_unsupported(flags: &RunFlags) -> Result<()> {
    if flags.limits.stats {
        return Err(Error::BadFlag(
            "--stats is step 5's; for a running container read its cgroup (isolab ps ID, then /proc/PID/cgroup)".into(),
        ));
    }
    Ok(())
}

fn push_mount(spec: &mut Value, mount: Value) {
    let mounts = spec["mounts"].as_array_mut().expect("default has mounts");
    // a later mount on the same destination replaces the default's
    mounts.retain(|m| m["destination"] != mount["destination"]);
    mounts.push(mount);
}

// ANCHOR: capabilities
/// docker's default 14 capabilities, minus `--cap-drop`, plus `--cap-add`
/// (step 6's rule); a non-root user gets the added ones as ambient too.
fn capabilities(spec: &mut Value, flags: &RunFlags, user_is_root: bool) -> Result<()> {
    let p = &flags.privileges;
    let plan = crate::capabilities::plan(&p.cap_add, &p.cap_drop, user_is_root)?;
    let keep = cap_names(&plan.keep);
    let mut sets = json!({"bounding": keep, "effective": keep, "permitted": keep});
    if !plan.ambient.is_empty() {
        let ambient = cap_names(&plan.ambient);
        sets["inheritable"] = json!(ambient);
        sets["ambient"] = json!(ambient);
    }
    spec["process"]["capabilities"] = sets;
    Ok(())
}
// ANCHOR_END: capabilities

/// `CAP_CHOWN`, ... for the numbers in `set`.
pub fn cap_names(set: &BTreeSet<u32>) -> Vec<String> {
    let mut all: Vec<caps::Capability> = caps::all().into_iter().collect();
    all.sort_by_key(|c| c.index());
    all.iter()
        .filter(|c| set.contains(&u32::from(c.index())))
        .map(|c| c.to_string())
        .collect()
}

// ANCHOR: namespaces
/// `--pid`, `--ipc`, `--uts` (host: no namespace of its own; container:NAME:
/// the path of another container's), `--hostname`, `--uid-map`.
fn namespaces(spec: &mut Value, flags: &RunFlags, root: &Path, id: &str) -> Result<()> {
    for (kind, flag, value) in [
        ("pid", "--pid", &flags.pid),
        ("ipc", "--ipc", &flags.ipc),
        ("uts", "--uts", &flags.uts),
    ] {
        let Some(value) = value else { continue };
        match value.as_str() {
            "private" | "" => {}
            "shareable" if kind == "ipc" => {}
            "host" => set_namespace(spec, kind, None, false),
            other => match other.strip_prefix("container:") {
                Some(name) if kind != "uts" => {
                    let path = crate::network_mode::namespace_of(root, name, kind)?;
                    set_namespace(spec, kind, Some(path), true);
                }
                _ => {
                    let modes = match kind {
                        "uts" => "private or host",
                        "ipc" => "private, shareable, host or container:NAME",
                        _ => "private, host or container:NAME",
                    };
                    return Err(Error::BadFlag(format!("{flag} {other}: use {modes}")));
                }
            },
        }
    }
    let own_uts = spec["linux"]["namespaces"].to_string().contains("\"uts\"");
    match (&flags.hostname, own_uts) {
        (Some(_), false) => {
            return Err(Error::BadFlag(
                "--hostname needs a UTS namespace of its own: not with --uts host".into(),
            ));
        }
        (Some(name), true) => spec["hostname"] = json!(name),
        (None, true) => spec["hostname"] = json!(id.chars().take(12).collect::<String>()),
        (None, false) => {
            spec.as_object_mut().map(|s| s.remove("hostname"));
        }
    }
    if flags.maps.uid_map.is_some() || flags.maps.gid_map.is_some() {
        let maps = crate::userns::choose(flags.maps.uid_map, flags.maps.gid_map)?;
        let list = |m: &[crate::userns::IdMap]| -> Value {
            m.iter()
                .map(|m| json!({"containerID": m.inside, "hostID": m.outside, "size": m.count}))
                .collect()
        };
        set_namespace(spec, "user", None, true);
        spec["linux"]["uidMappings"] = list(&maps.uid);
        spec["linux"]["gidMappings"] = list(&maps.gid);
    }
    Ok(())
}
// ANCHOR_END: namespaces

/// Add (with `path` if given) or remove namespace `kind` in the config.
pub fn set_namespace(spec: &mut Value, kind: &str, path: Option<String>, present: bool) {
    let list = spec["linux"]["namespaces"]
        .as_array_mut()
        .expect("default has namespaces");
    let entry = match path {
        Some(path) => json!({"type": kind, "path": path}),
        None => json!({"type": kind}),
    };
    match list.iter().position(|n| n["type"] == kind) {
        // in its place, so that --print-spec reads like `isolab spec`
        Some(i) if present => list[i] = entry,
        Some(i) => drop(list.remove(i)),
        None if present => list.push(entry),
        None => {}
    }
}

/// The image's defaults (PATH, HOSTNAME, HOME, TERM on a terminal), then
/// `--env-file` lines, then `-e`: never the caller's environment.
fn environment(flags: &RunFlags, hostname: &str, uid: u32) -> Result<Vec<String>> {
    let mut given = Vec::new();
    for file in &flags.env_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::BadFlag(format!("--env-file {}: {e}", file.display())))?;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            given.push(
                crate::environ::parse_entry(line)
                    .map_err(|e| Error::BadFlag(format!("--env-file {}: {e}", file.display())))?,
            );
        }
    }
    given.extend(flags.env.iter().cloned());
    Ok(crate::environ::for_container(&given, hostname, uid))
}

/// Step 5's flags as linux.resources: memory (and as much memory+swap,
/// so no swap, as step 5), pids, CFS quota and shares.
fn limits(spec: &mut Value, flags: &RunFlags) -> Result<()> {
    let l = &flags.limits;
    let r = &mut spec["linux"]["resources"];
    if let Some(bytes) = l.memory {
        r["memory"] = json!({"limit": bytes, "swap": bytes});
    }
    if let Some(n) = l.pids_limit {
        r["pids"] = json!({"limit": n});
    }
    if let Some(quota) = l.cpus {
        r["cpu"]["quota"] = json!(quota);
        r["cpu"]["period"] = json!(crate::limits::CPU_PERIOD_US);
    }
    if let Some(shares) = l.cpu_shares {
        r["cpu"]["shares"] = json!(shares);
    }
    Ok(())
}

/// `--time-offset boottime=86400`: a time namespace with those offsets.
fn time_offsets(spec: &mut Value, flags: &RunFlags) -> Result<()> {
    for t in &flags.time_offset {
        let bad = || {
            Error::BadFlag(format!(
                "--time-offset {t}: the form is boottime=SECS or monotonic=SECS"
            ))
        };
        let (clock, secs) = t.split_once('=').ok_or_else(bad)?;
        let secs: i64 = secs.parse().map_err(|_| bad())?;
        if clock != "boottime" && clock != "monotonic" {
            return Err(bad());
        }
        set_namespace(spec, "time", None, true);
        spec["linux"]["timeOffsets"][clock] = json!({"secs": secs, "nanosecs": 0});
    }
    Ok(())
}

// ANCHOR: security
/// `--security-opt`: seccomp (step 8's default profile as OCI JSON unless
/// unconfined or a file), apparmor, label (SELinux), no-new-privileges.
fn security(spec: &mut Value, flags: &RunFlags) -> Result<()> {
    let s = &flags.security;
    for (key, _) in &s.security_opt {
        if !["seccomp", "apparmor", "label", "no-new-privileges"].contains(&key.as_str()) {
            return Err(Error::BadFlag(format!(
                "--security-opt {key}: use seccomp=, apparmor=, label= or no-new-privileges= (landlock is the steps': the OCI config has no field for it)"
            )));
        }
    }
    match s.get("seccomp").unwrap_or("default") {
        "unconfined" => {}
        "default" => {
            let caps: BTreeSet<u32> = crate::capabilities::parse_names(
                &serde_json::from_value::<Vec<String>>(
                    spec["process"]["capabilities"]["bounding"].clone(),
                )
                .unwrap_or_default(),
            )?;
            spec["linux"]["seccomp"] = crate::seccomp_default::oci_profile(&caps);
        }
        path => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::BadFlag(format!("--security-opt seccomp={path}: {e}")))?;
            spec["linux"]["seccomp"] = serde_json::from_str(&text).map_err(|e| {
                Error::BadFlag(format!("--security-opt seccomp={path}: not JSON: {e}"))
            })?;
        }
    }
    match s.get("apparmor") {
        None | Some("unconfined") => {}
        Some(profile) => spec["process"]["apparmorProfile"] = json!(profile),
    }
    let label: Vec<&str> = s.all("label");
    if !label.is_empty() && !label.contains(&"disable") {
        let mut parts = ["system_u", "system_r", "container_t", "s0"].map(String::from);
        for l in label {
            let (k, v) = l.split_once(':').ok_or_else(|| {
                Error::BadFlag(format!(
                    "--security-opt label={l}: use user:U, role:R, type:T, level:L or disable"
                ))
            })?;
            let i = ["user", "role", "type", "level"]
                .iter()
                .position(|x| *x == k)
                .ok_or_else(|| {
                    Error::BadFlag(format!(
                        "--security-opt label={l}: use user:U, role:R, type:T, level:L or disable"
                    ))
                })?;
            parts[i] = v.to_string();
        }
        spec["process"]["selinuxLabel"] = json!(parts.join(":"));
    }
    match s.get("no-new-privileges") {
        None => {}
        Some("true") => spec["process"]["noNewPrivileges"] = json!(true),
        Some("false") => spec["process"]["noNewPrivileges"] = json!(false),
        Some(other) => {
            return Err(Error::BadFlag(format!(
                "--security-opt no-new-privileges={other}: use true or false"
            )));
        }
    }
    Ok(())
}
// ANCHOR_END: security
