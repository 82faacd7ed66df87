//! docker's flag values, parsed into config.json pieces: `-v`, `--mount`,
//! `--tmpfs` (mounts), `--ulimit` (rlimits), `--device` (a node and its
//! cgroup rule). Each function takes one flag's text and returns one
//! field, or a one-line error that names the flag and the form it wants.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde_json::{Value, json};

use crate::error::{Error, Result};

fn bad(flag: &str, text: &str, form: &str) -> Error {
    Error::BadFlag(format!("{flag} {text}: the form is {form}"))
}

fn bind(source: &str, target: &str, readonly: bool, flag: &str) -> Result<Value> {
    if !source.starts_with('/') {
        return Err(Error::BadFlag(format!(
            "{flag} {source}: give an absolute host path (named volumes are docker's)"
        )));
    }
    if !Path::new(source).exists() {
        return Err(Error::BadFlag(format!(
            "{flag}: {source} does not exist on the host: create it first"
        )));
    }
    if !target.starts_with('/') {
        return Err(Error::BadFlag(format!(
            "{flag} ...:{target}: the container path must be absolute"
        )));
    }
    let mut options = vec!["rbind", "rprivate"];
    if readonly {
        options.push("ro");
    }
    Ok(json!({"destination": target, "type": "bind", "source": source, "options": options}))
}

// ANCHOR: volume
/// `-v /host/dir:/in/container[:ro]`: a bind mount.
pub fn volume(text: &str) -> Result<Value> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, mode) = match parts[..] {
        [s, t] => (s, t, "rw"),
        [s, t, m] => (s, t, m),
        _ => return Err(bad("--volume", text, "SRC:DST[:ro|rw]")),
    };
    let readonly = match mode {
        "ro" => true,
        "rw" => false,
        _ => return Err(bad("--volume", text, "SRC:DST[:ro|rw]")),
    };
    bind(source, target, readonly, "--volume")
}
// ANCHOR_END: volume

/// `--mount type=bind,source=S,target=T[,readonly]` or
/// `type=tmpfs,target=T[,tmpfs-size=N][,tmpfs-mode=M]`.
pub fn mount(text: &str) -> Result<Value> {
    let form = "type=bind|tmpfs,source=SRC,target=DST[,readonly]";
    let (mut kind, mut source, mut target, mut readonly) = ("volume", "", "", false);
    let mut tmpfs_opts = Vec::new();
    for field in text.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "type" => kind = v,
            "source" | "src" => source = v,
            "target" | "destination" | "dst" => target = v,
            "readonly" | "ro" => readonly = v.is_empty() || v == "true" || v == "1",
            "tmpfs-size" => tmpfs_opts.push(format!("size={v}")),
            "tmpfs-mode" => tmpfs_opts.push(format!("mode={v}")),
            _ => return Err(bad("--mount", text, form)),
        }
    }
    match kind {
        "bind" => bind(source, target, readonly, "--mount"),
        "tmpfs" => {
            let mut t = tmpfs(target)?;
            let opts = t["options"].as_array_mut().expect("tmpfs has options");
            opts.extend(tmpfs_opts.into_iter().map(Value::from));
            if readonly {
                opts.push("ro".into());
            }
            Ok(t)
        }
        _ => Err(Error::BadFlag(format!(
            "--mount type={kind}: isolab mounts bind and tmpfs (volumes are docker's)"
        ))),
    }
}

/// `--tmpfs /run[:size=64m,mode=755]`: docker's defaults are noexec,
/// nosuid, nodev; the given options come after them.
pub fn tmpfs(text: &str) -> Result<Value> {
    let (target, opts) = text.split_once(':').unwrap_or((text, ""));
    if !target.starts_with('/') {
        return Err(bad("--tmpfs", text, "DST[:OPTIONS] with DST absolute"));
    }
    let mut options = vec!["noexec".to_string(), "nosuid".into(), "nodev".into()];
    options.extend(opts.split(',').filter(|o| !o.is_empty()).map(String::from));
    Ok(json!({"destination": target, "type": "tmpfs", "source": "tmpfs", "options": options}))
}

/// `--ulimit nofile=1024[:2048]`: (RLIMIT_NOFILE, soft, hard); -1 is
/// unlimited.
pub fn ulimit(text: &str) -> Result<(String, u64, u64)> {
    let form = "NAME=SOFT[:HARD] (nofile=1024:2048; -1 for unlimited)";
    let (name, values) = text
        .split_once('=')
        .ok_or_else(|| bad("--ulimit", text, form))?;
    const NAMES: [&str; 16] = [
        "as",
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ];
    if !NAMES.contains(&name) {
        return Err(Error::BadFlag(format!(
            "--ulimit {name}: not a limit; use one of {}",
            NAMES.join(", ")
        )));
    }
    let value = |v: &str| -> Result<u64> {
        match v {
            "-1" | "unlimited" => Ok(u64::MAX),
            v => v.parse().map_err(|_| bad("--ulimit", text, form)),
        }
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (value(s)?, value(h)?),
        None => (value(values)?, value(values)?),
    };
    if soft > hard {
        return Err(Error::BadFlag(format!(
            "--ulimit {text}: the soft limit is above the hard one"
        )));
    }
    Ok((format!("RLIMIT_{}", name.to_ascii_uppercase()), soft, hard))
}

// ANCHOR: device
/// `--device /dev/fuse[:/dev/fuse[:rwm]]`: the node (linux.devices) and
/// the cgroup rule that lets the container use it (resources.devices).
pub fn device(spec: &mut Value, text: &str) -> Result<()> {
    let form = "HOST[:CONTAINER[:rwm]]";
    let parts: Vec<&str> = text.split(':').collect();
    let (host, inside, access) = match parts[..] {
        [h] => (h, h, "rwm"),
        [h, c] if c.chars().all(|x| "rwm".contains(x)) && !c.starts_with('/') => (h, h, c),
        [h, c] => (h, c, "rwm"),
        [h, c, a] => (h, c, a),
        _ => return Err(bad("--device", text, form)),
    };
    if access.is_empty() || !access.chars().all(|x| "rwm".contains(x)) || !inside.starts_with('/') {
        return Err(bad("--device", text, form));
    }
    let meta =
        std::fs::metadata(host).map_err(|e| Error::BadFlag(format!("--device {host}: {e}")))?;
    let kind = if meta.file_type().is_char_device() {
        "c"
    } else if meta.file_type().is_block_device() {
        "b"
    } else {
        return Err(Error::BadFlag(format!(
            "--device {host}: not a device node"
        )));
    };
    let (major, minor) = (
        nix::sys::stat::major(meta.rdev()),
        nix::sys::stat::minor(meta.rdev()),
    );
    let node = json!({"path": inside, "type": kind, "major": major, "minor": minor,
                      "fileMode": meta.mode() & 0o777, "uid": 0, "gid": 0});
    let rule =
        json!({"allow": true, "type": kind, "major": major, "minor": minor, "access": access});
    let devices = &mut spec["linux"]["devices"];
    if !devices.is_array() {
        *devices = json!([]);
    }
    devices.as_array_mut().expect("an array").push(node);
    let rules = &mut spec["linux"]["resources"]["devices"];
    if !rules.is_array() {
        *rules = json!([{"allow": false, "access": "rwm"}]);
    }
    rules.as_array_mut().expect("an array").push(rule);
    Ok(())
}
// ANCHOR_END: device

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes() {
        let v = volume("/tmp:/data:ro").unwrap();
        assert_eq!(v["destination"], "/data");
        assert_eq!(v["options"], json!(["rbind", "rprivate", "ro"]));
        assert!(
            volume("data:/data")
                .unwrap_err()
                .to_string()
                .contains("named volumes")
        );
        assert!(volume("/tmp:/data:rx").is_err());
        assert!(
            volume("/no/such/dir/here:/data")
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
    }

    #[test]
    fn mounts_and_tmpfs() {
        let m = mount("type=tmpfs,target=/run,tmpfs-size=1m").unwrap();
        assert_eq!(m["type"], "tmpfs");
        assert!(m["options"].to_string().contains("size=1m"));
        assert!(
            mount("type=volume,target=/x")
                .unwrap_err()
                .to_string()
                .contains("volumes are docker's")
        );
        assert!(mount("type=bind,source=/tmp,target=/x,bogus=1").is_err());
        let t = tmpfs("/scratch:size=8m,mode=1777").unwrap();
        assert_eq!(
            t["options"],
            json!(["noexec", "nosuid", "nodev", "size=8m", "mode=1777"])
        );
        assert!(tmpfs("scratch").is_err());
    }

    #[test]
    fn ulimits() {
        assert_eq!(
            ulimit("nofile=1024:2048").unwrap(),
            ("RLIMIT_NOFILE".into(), 1024, 2048)
        );
        assert_eq!(ulimit("core=-1").unwrap().2, u64::MAX);
        assert!(
            ulimit("nofile=2048:1024")
                .unwrap_err()
                .to_string()
                .contains("soft")
        );
        assert!(
            ulimit("files=1")
                .unwrap_err()
                .to_string()
                .contains("not a limit")
        );
        assert!(ulimit("nofile").is_err());
    }

    #[test]
    fn devices() {
        let mut spec = json!({"linux": {}});
        device(&mut spec, "/dev/null:/dev/mynull:rw").unwrap();
        assert_eq!(spec["linux"]["devices"][0]["major"], 1);
        assert_eq!(spec["linux"]["devices"][0]["path"], "/dev/mynull");
        assert_eq!(spec["linux"]["resources"]["devices"][1]["access"], "rw");
        assert!(
            device(&mut spec, "/etc/passwd")
                .unwrap_err()
                .to_string()
                .contains("not a device")
        );
        assert!(device(&mut spec, "/dev/null:/dev/x:rwx").is_err());
    }
}
