//! `mounts[]` of config.json, made inside the rootfs before pivot_root:
//! the file systems steps 3 to 7 mounted by hand (proc, sysfs, a tmpfs
//! /dev, devpts, mqueue, a read-only cgroup), and the binds an engine
//! adds (volumes; files such as /etc/resolv.conf and /etc/hosts), each
//! with mount(8)-style options and, if asked, its own propagation.
//!
//! Every destination is resolved inside the rootfs (openat2
//! RESOLVE_IN_ROOT, step 3): a symlink in the image can't point a mount at
//! the host.

use std::path::Path;

use nix::mount::MsFlags;

use crate::bundle::MountSpec;
use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::resolve::Root;
use crate::{cgroupns, dev, mount};

/// One entry's options, split the ways mount(2) needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Flags of the mount itself (MS_BIND, MS_RDONLY, MS_NOSUID, ...).
    pub flags: MsFlags,
    /// A propagation type (MS_PRIVATE, MS_SLAVE, MS_SHARED,
    /// MS_UNBINDABLE, with MS_REC for the `r` forms): a separate mount(2)
    /// call after the mount exists, as the kernel takes it alone.
    pub propagation: MsFlags,
    /// The rest, the file system's data (`mode=755,size=65536k`).
    pub data: String,
}

// ANCHOR: options
/// mount(8)-style options, sorted into [`Options`].
pub fn options(list: &[String]) -> Result<Options> {
    let mut out = Options {
        flags: MsFlags::empty(),
        propagation: MsFlags::empty(),
        data: String::new(),
    };
    let mut data = Vec::new();
    for o in list {
        if let Some(p) = propagation(o) {
            out.propagation = p;
            continue;
        }
        let (set, clear) = match o.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            // the mount's uidMappings/gidMappings make it idmapped
            "idmap" => continue,
            "ridmap" => {
                return Err(Error::Request(
                    "config.json: mounts: option \"ridmap\": idmapping every submount is not supported by isolab yet".into(),
                ));
            }
            other => {
                data.push(other.to_string());
                continue;
            }
        };
        out.flags = (out.flags | set) & !clear;
    }
    out.data = data.join(",");
    Ok(out)
}
// ANCHOR_END: options

/// The mount(2) flags of a propagation option (`rslave` is MS_SLAVE with
/// MS_REC: every mount below too), or `None` for any other option.
pub fn propagation(option: &str) -> Option<MsFlags> {
    let (rec, kind) = match option.strip_prefix('r') {
        Some(k) if k != "o" && k != "w" && k != "bind" => (MsFlags::MS_REC, k),
        _ => (MsFlags::empty(), option),
    };
    let flag = match kind {
        "private" => MsFlags::MS_PRIVATE,
        "shared" => MsFlags::MS_SHARED,
        "slave" => MsFlags::MS_SLAVE,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        _ => return None,
    };
    Some(rec | flag)
}

// ANCHOR: mount_one
/// Mount one entry of `mounts[]`, inside the rootfs.
/// `tree` is the runtime's idmapped copy of the source, for a mount with
/// uidMappings (see [`crate::idmap`]): attached instead of a bind.
pub fn mount_one(
    root: &Root,
    rootfs: &Path,
    m: &MountSpec,
    cg: &Cgroup,
    label: Option<&str>,
    tree: Option<std::os::fd::OwnedFd>,
) -> Result<()> {
    let Options {
        flags,
        propagation,
        mut data,
    } = options(&m.options)?;
    // linux.mountLabel: the SELinux context of the files of the container's
    // own in-memory file systems.
    if let Some(label) = label
        && ["tmpfs", "devpts", "mqueue"].contains(&m.kind.as_str())
    {
        data = [data, format!("context=\"{label}\"")]
            .into_iter()
            .filter(|d| !d.is_empty())
            .collect::<Vec<_>>()
            .join(",");
    }
    let bind = flags.contains(MsFlags::MS_BIND);
    if m.kind == "cgroup" && !bind {
        if !flags.contains(MsFlags::MS_RDONLY) {
            return Err(Error::Request(format!(
                "config.json: mounts: {}: only a read-only cgroup mount is supported",
                m.destination
            )));
        }
        return cgroupns::mount_readonly(root, cg);
    }
    // A bind of a file (an engine's /etc/hosts) needs a file to mount on.
    let file = bind
        && std::fs::metadata(&m.source)
            .map_err(|e| {
                Error::Request(format!(
                    "config.json: mounts: {}: source {}: {e}",
                    m.destination, m.source
                ))
            })?
            .is_file();
    if file {
        root.create_file(&m.destination)?;
    }
    let target = root.open_target(&m.destination, !file)?;
    let source = if bind {
        m.source.as_str()
    } else {
        m.kind.as_str()
    };
    let fstype = if bind { "" } else { m.kind.as_str() };
    let first = if bind {
        flags & (MsFlags::MS_BIND | MsFlags::MS_REC)
    } else {
        flags
    };
    match &tree {
        Some(tree) => crate::idmap::attach_fd(tree, target.fd(), &m.destination)?,
        None => mount::mount(source, &target, fstype, first, &data)?,
    }
    if bind && flags.intersects(!(MsFlags::MS_BIND | MsFlags::MS_REC)) {
        // A bind takes its flags (ro, nosuid...) only on a remount, which
        // changes one mount; an rbind's submounts take them from one
        // mount_setattr(2) with AT_RECURSIVE (step 7's /sys).
        let again = root.open_target(&m.destination, false)?;
        let rest = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        if flags.contains(MsFlags::MS_REC) {
            let attr = |f: MsFlags, a: u64| if rest.contains(f) { a } else { 0 };
            let set = attr(MsFlags::MS_RDONLY, mount::MOUNT_ATTR_RDONLY)
                | attr(MsFlags::MS_NOSUID, mount::MOUNT_ATTR_NOSUID)
                | attr(MsFlags::MS_NODEV, mount::MOUNT_ATTR_NODEV)
                | attr(MsFlags::MS_NOEXEC, mount::MOUNT_ATTR_NOEXEC);
            let shown = format!("mount_setattr({:?}, AT_RECURSIVE, {set:#x})", m.destination);
            mount::setattr(
                again.fd(),
                mount::AT_RECURSIVE,
                &mount::MountAttr {
                    attr_set: set,
                    ..Default::default()
                },
                &shown,
            )?;
        } else {
            mount::mount(
                "none",
                &again,
                "",
                MsFlags::MS_REMOUNT | MsFlags::MS_BIND | rest,
                "",
            )?;
        }
    }
    if !propagation.is_empty() {
        // The new mount (not what it covers): opened again to name it.
        let again = root.open_target(&m.destination, false)?;
        mount::mount("none", &again, "", propagation, "")?;
    }
    if m.destination == "/dev" && m.kind == "tmpfs" {
        dev::add_nodes(root, &rootfs.join("dev"), &dev::DEVICES)?;
    }
    Ok(())
}
// ANCHOR_END: mount_one

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = options(&strings(&[
            "nosuid",
            "strictatime",
            "mode=755",
            "size=65536k",
            "ro",
            "rw",
        ]))
        .unwrap();
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(o.propagation.is_empty());
        let o = options(&strings(&["rbind", "ro"])).unwrap();
        assert!(
            o.flags
                .contains(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY)
        );
        // A bind with rprivate stays a bind: MS_REC goes to the propagation.
        let o = options(&strings(&["bind", "rprivate"])).unwrap();
        assert_eq!(o.flags, MsFlags::MS_BIND);
        assert_eq!(o.propagation, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(propagation("slave"), Some(MsFlags::MS_SLAVE));
        assert_eq!(
            propagation("rshared"),
            Some(MsFlags::MS_SHARED | MsFlags::MS_REC)
        );
        assert_eq!(propagation("ro"), None);
        assert_eq!(propagation("rw"), None);
    }
}
