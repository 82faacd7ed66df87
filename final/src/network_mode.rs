//! `--network`: which network namespace the container gets, as a field of
//! the config (none: its own, loopback only; host: none of its own;
//! container:NAME: another's by path), and what the front end adds
//! between `create` and `start` (bridge: a veth to `isolab0`).

use std::path::Path;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::front_end::set_namespace;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    None,
    Host,
    Bridge,
    /// Another container's namespace, by its /proc path.
    Container(String),
}

impl NetworkMode {
    pub fn parse(text: &str, root: &Path) -> Result<NetworkMode> {
        Ok(match text {
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            "bridge" => NetworkMode::Bridge,
            "pasta" | "slirp4netns" => {
                // pasta must open /proc/PID/ns/net of the container's
                // process before it runs the command, and that process is
                // non-dumpable until exec (CVE-2019-5736): to a normal user
                // its /proc files are closed. Handing pasta the namespace
                // by fd is the way; not built yet.
                return Err(Error::BadFlag(format!(
                    "--network {text}: not in isolab yet; rootless, use none (loopback) or host"
                )));
            }
            other => match other.strip_prefix("container:") {
                Some(name) => NetworkMode::Container(namespace_of(root, name, "net")?),
                None => {
                    return Err(Error::BadFlag(format!(
                        "--network {other}: use none, host, bridge or container:NAME"
                    )));
                }
            },
        })
    }

    // ANCHOR: apply
    /// The config's side: the namespace, and for bridge the container's
    /// /etc/hosts and /etc/resolv.conf (written into `bundle` by
    /// `bridge::prepare`); a host-network container gets the host's
    /// resolv.conf (if it has one), as docker gives it.
    pub fn apply(&self, spec: &mut Value, bundle: &Path) -> Result<()> {
        let ro_bind = |source: &Path, destination: &str| {
            json!({"destination": destination, "type": "bind", "source": source,
                   "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]})
        };
        let mounts = |spec: &mut Value, list: Vec<Value>| {
            let m = spec["mounts"].as_array_mut().expect("default has mounts");
            m.extend(list);
        };
        match self {
            // Its own, also rootless (whose default config has none: a
            // normal user's container would otherwise share the host's).
            NetworkMode::None => set_namespace(spec, "network", None, true),
            NetworkMode::Host => {
                set_namespace(spec, "network", None, false);
                let host = Path::new("/etc/resolv.conf");
                if host.exists() {
                    mounts(spec, vec![ro_bind(host, "/etc/resolv.conf")]);
                }
            }
            NetworkMode::Container(path) => {
                set_namespace(spec, "network", Some(path.clone()), true);
            }
            NetworkMode::Bridge => {
                set_namespace(spec, "network", None, true);
                mounts(
                    spec,
                    vec![
                        ro_bind(&bundle.join("hosts"), "/etc/hosts"),
                        ro_bind(&bundle.join("resolv.conf"), "/etc/resolv.conf"),
                    ],
                );
            }
        }
        Ok(())
    }
    // ANCHOR_END: apply
}

/// `/proc/PID/ns/KIND` of running container `name` (for container:NAME).
pub fn namespace_of(root: &Path, name: &str, kind: &str) -> Result<String> {
    let (_, record) = crate::lifecycle::load(root, name)?;
    if record.status != crate::oci_state::Status::Running || record.pid <= 0 {
        return Err(Error::Request(format!(
            "container:{name}: the container is {}, not running",
            record.status
        )));
    }
    Ok(format!("/proc/{}/ns/{kind}", record.pid))
}
