//! The user namespace: root inside, an unprivileged uid outside.
//!
//! A user namespace has its own uids and gids, tied to the outer ones by
//! two maps, `/proc/PID/uid_map` and `gid_map`: lines `inside outside
//! count`. The first process in it gets every capability, but only over
//! what the namespace owns (the other namespaces created with it, its
//! mounts); to the host it is the mapped uid and nothing more. So root in
//! the container can mount a tmpfs but not set the clock or load a module.
//!
//! The maps are written once, each in one write(2), by a process in the
//! parent namespace (the runtime), while the child waits at sync 0: before
//! that its uid inside is the overflow uid 65534 and it must not act yet.
//! An unprivileged writer may map only its own uid, and must first write
//! `deny` to `/proc/PID/setgroups` (since Linux 3.19, CVE-2014-8989: else a
//! user could drop a group that was denying it access). With
//! newuidmap/newgidmap (set-uid helpers from the uidmap package) and a
//! range in /etc/subuid, a user can map a whole range.

use std::path::Path;

use crate::error::{Error, Result};
use crate::explain;

/// One line of a map: `inside outside count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

// ANCHOR: defaults
/// The host range container root maps to when /etc/subuid has no `isolab`
/// entry: 65536 ids from 1000000 (far above normal users; documented in
/// the README).
pub const DEFAULT_OUTSIDE: u32 = 1_000_000;
/// How many ids a container gets: 0..65535, like a normal system.
pub const DEFAULT_COUNT: u32 = 65_536;
// ANCHOR_END: defaults

/// `--uid-map C:H:N`.
pub fn parse_map(text: &str) -> std::result::Result<IdMap, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let nums: Option<Vec<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
    match nums.as_deref() {
        Some([0, outside, count]) if *count > 0 => Ok(IdMap {
            inside: 0,
            outside: *outside,
            count: *count,
        }),
        Some([_, _, count]) if *count > 0 => Err(format!(
            "{text:?} leaves container root unmapped: the map must start at id 0 inside, e.g. 0:1000000:65536"
        )),
        _ => Err(format!(
            "{text:?} is not a map: use INSIDE:OUTSIDE:COUNT, e.g. 0:1000000:65536"
        )),
    }
}

/// The first range of `user` in an /etc/subuid-style file.
pub fn subid_range(file: &Path, user: &str, uid: u32) -> Option<(u32, u32)> {
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .find_map(|line| {
            let mut f = line.split(':');
            let (who, start, count) = (f.next()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?);
            (who == user || who == uid.to_string()).then_some((start, count))
        })
}

/// How this run maps ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maps {
    pub uid: Vec<IdMap>,
    pub gid: Vec<IdMap>,
    /// Written by newuidmap/newgidmap (rootless with a subuid range).
    pub helpers: bool,
    /// Rootless with only the user's own id: setgroups must be denied.
    pub single: bool,
}

// ANCHOR: choose
/// The maps for this run. As root: `--uid-map`/`--gid-map`, else the
/// `isolab` entries of /etc/subuid and /etc/subgid, else the fixed range.
/// As a normal user: the own uid as 0, plus the user's subuid range as
/// 1.. when newuidmap is installed.
pub fn choose(uid_map: Option<IdMap>, gid_map: Option<IdMap>) -> Result<Maps> {
    let euid = nix::unistd::geteuid().as_raw();
    let egid = nix::unistd::getegid().as_raw();
    if !crate::pseudofs::real_root() && (uid_map.is_some() || gid_map.is_some()) {
        return Err(Error::BadFlag(
            "--uid-map and --gid-map need root: rootless, isolab maps your own uid to root (and, with newuidmap, your /etc/subuid range after it)".into(),
        ));
    }
    if crate::pseudofs::real_root() {
        let pick = |given: Option<IdMap>, file: &str| {
            given.unwrap_or_else(|| {
                let (outside, count) = subid_range(Path::new(file), "isolab", u32::MAX)
                    .unwrap_or((DEFAULT_OUTSIDE, DEFAULT_COUNT));
                IdMap {
                    inside: 0,
                    outside,
                    count,
                }
            })
        };
        return Ok(Maps {
            uid: vec![pick(uid_map, "/etc/subuid")],
            gid: vec![pick(gid_map, "/etc/subgid")],
            helpers: false,
            single: false,
        });
    }
    let name = std::env::var("USER").unwrap_or_default();
    let helpers = which("newuidmap") && which("newgidmap");
    let subuid = subid_range(Path::new("/etc/subuid"), &name, euid);
    let subgid = subid_range(Path::new("/etc/subgid"), &name, euid);
    let own = |id| IdMap {
        inside: 0,
        outside: id,
        count: 1,
    };
    Ok(match (helpers, subuid, subgid) {
        (true, Some((us, uc)), Some((gs, gc))) => Maps {
            uid: vec![
                own(euid),
                IdMap {
                    inside: 1,
                    outside: us,
                    count: uc,
                },
            ],
            gid: vec![
                own(egid),
                IdMap {
                    inside: 1,
                    outside: gs,
                    count: gc,
                },
            ],
            helpers: true,
            single: false,
        },
        _ => Maps {
            uid: vec![own(euid)],
            gid: vec![own(egid)],
            helpers: false,
            single: true,
        },
    })
}
// ANCHOR_END: choose

/// `--user` must name ids the maps have inside: the kernel refuses a
/// switch to an unmapped id with a bare EINVAL.
pub fn check_user(maps: &Maps, uid: u32, gid: u32) -> Result<()> {
    let covers = |list: &[IdMap], id: u32| {
        list.iter()
            .any(|m| id >= m.inside && u64::from(id) < u64::from(m.inside) + u64::from(m.count))
    };
    let last = |list: &[IdMap]| {
        list.iter()
            .map(|m| u64::from(m.inside) + u64::from(m.count) - 1)
            .max()
            .unwrap_or(0)
    };
    for (what, list, id) in [("uid", &maps.uid, uid), ("gid", &maps.gid, gid)] {
        if !covers(list, id) {
            return Err(Error::BadFlag(format!(
                "--user {what} {id} is not mapped in the container (its {what}_map covers 0 to {}): use an id in that range{}",
                last(list),
                if maps.single {
                    " (rootless without newuidmap and a subuid range, only 0 exists)"
                } else {
                    ", or a wider --uid-map/--gid-map"
                }
            )));
        }
    }
    Ok(())
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).exists()))
        .unwrap_or(false)
}

fn text(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.inside, m.outside, m.count))
        .collect()
}

// ANCHOR: write_maps
/// Write the child's maps (runtime side, before sync 0).
pub fn write_maps(pid: i32, maps: &Maps) -> Result<()> {
    let proc = format!("/proc/{pid}");
    if maps.helpers {
        for (tool, list) in [("newuidmap", &maps.uid), ("newgidmap", &maps.gid)] {
            let mut args = vec![pid.to_string()];
            for m in list.iter() {
                args.extend([
                    m.inside.to_string(),
                    m.outside.to_string(),
                    m.count.to_string(),
                ]);
            }
            let status = std::process::Command::new(tool)
                .args(&args)
                .status()
                .map_err(|e| Error::io(format!("running {tool}"), e))?;
            if !status.success() {
                return Err(Error::Request(format!(
                    "{tool} {} failed: check your /etc/subuid and /etc/subgid ranges",
                    args.join(" ")
                )));
            }
            explain::syscall(&format!("{tool} {}", args.join(" ")), 0);
        }
        return Ok(());
    }
    if maps.single {
        write(&format!("{proc}/setgroups"), "deny")?;
    }
    write(&format!("{proc}/uid_map"), &text(&maps.uid))?;
    write(&format!("{proc}/gid_map"), &text(&maps.gid))
}
// ANCHOR_END: write_maps

// ANCHOR: write_once
fn write(path: &str, value: &str) -> Result<()> {
    // One write(2) each: the kernel accepts a map only once, whole.
    std::fs::write(path, value).map_err(|e| {
        let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0));
        let err = Error::syscall(format!("write({path:?}, {value:?})"), errno);
        match errno {
            nix::errno::Errno::EINVAL => err.with_hint(
                "the kernel refused this map: OUTSIDE+COUNT must stay below 2^32 and ranges must not overlap",
            ),
            _ => err,
        }
    })?;
    explain::syscall(
        &format!("write({path:?}, {:?})", value.trim_end()),
        value.len(),
    );
    Ok(())
}
// ANCHOR_END: write_once

// ANCHOR: become_root
/// Child, after sync 0: become root of the new namespace (uid and gid 0
/// inside, the mapped ids outside), so files it creates get the mapped
/// owner. Until now it ran with the runtime's ids, which the namespace
/// does not map.
pub fn become_root(maps: &Maps) -> Result<()> {
    if !maps.single {
        nix::unistd::setgroups(&[]).map_err(|e| Error::syscall("setgroups(0, [])", e))?;
    }
    let zero_g = nix::unistd::Gid::from_raw(0);
    let zero_u = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(zero_g, zero_g, zero_g)
        .map_err(|e| Error::syscall("setresgid(0, 0, 0)", e))?;
    nix::unistd::setresuid(zero_u, zero_u, zero_u)
        .map_err(|e| Error::syscall("setresuid(0, 0, 0)", e))?;
    explain::syscall("setresuid(0, 0, 0) in the new user namespace", 0);
    Ok(())
}
// ANCHOR_END: become_root

// ANCHOR: prepare_layers
/// Runtime, before clone: give the container's layers to container root's
/// host ids (as root; a normal user owns them already), and make the
/// directory the idmapped image will be attached at. Returns that path.
pub fn prepare_layers(
    ctr: &crate::container::Container,
    maps: &Maps,
) -> Result<std::path::PathBuf> {
    let lower = ctr.dir.join("lower");
    std::fs::create_dir_all(&lower)
        .map_err(|e| Error::io(format!("creating {}", lower.display()), e))?;
    if crate::pseudofs::real_root() {
        let (uid, gid) = (maps.uid[0].outside, maps.gid[0].outside);
        searchable_by(&ctr.dir, uid, gid)?;
        for dir in [&ctr.layers.upper, &ctr.layers.work] {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                .map_err(|e| Error::io(format!("chown {} to {uid}:{gid}", dir.display()), e))?;
        }
        explain::note(&format!(
            "upper and work layers chowned to {uid}:{gid}, container root on the host"
        ));
    }
    Ok(lower)
}
// ANCHOR_END: prepare_layers

/// The child reaches its layers by path with the credentials of container
/// root, host uid `uid`, and no capability over the host's files: every
/// directory above them must let it search (a `mktemp -d` state dir, mode
/// 0700, does not). Said here in one line, before the kernel's EACCES.
fn searchable_by(dir: &Path, uid: u32, gid: u32) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    for d in dir.ancestors() {
        let Ok(meta) = std::fs::metadata(d) else {
            continue;
        };
        let mode = meta.mode();
        let bit = if meta.uid() == uid {
            0o100
        } else if meta.gid() == gid {
            0o010
        } else {
            0o001
        };
        if mode & bit == 0 {
            return Err(Error::Request(format!(
                "{} (mode {:o}) can't be searched by container root, host uid {uid}: chmod o+x it, or use a --state-dir that others can enter",
                d.display(),
                mode & 0o7777
            )));
        }
    }
    Ok(())
}

// ANCHOR: idmapped_image
/// Runtime: the idmapped image for the child, or `None` (said in one line)
/// where idmapped mounts are not supported, or not needed (rootless: the
/// user's own files already read as root's inside).
pub fn idmapped_image(image: &Path, pid: i32, maps: &Maps) -> Option<std::os::fd::OwnedFd> {
    if !crate::pseudofs::real_root() || maps.uid[0].outside == 0 {
        return None;
    }
    match crate::idmap::create(image, pid) {
        Ok(tree) => Some(tree),
        Err(e) => {
            crate::cli::warn(&format!(
                "note: no idmapped mount ({e}): the image's files will show as owned by nobody inside"
            ));
            None
        }
    }
}
// ANCHOR_END: idmapped_image

// ANCHOR: why_clone_failed
/// A clone(CLONE_NEWUSER) failure, explained: name the setting that
/// disables user namespaces on this machine, and its fix.
pub fn why_clone_failed(err: Error) -> Error {
    let Error::Syscall { call, errno, .. } = err else {
        return err;
    };
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let hint = if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        "user namespaces are disabled (user.max_user_namespaces = 0): run `sudo sysctl user.max_user_namespaces=15000`, or run with sudo".to_string()
    } else if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
        && !crate::pseudofs::real_root()
    {
        "Ubuntu restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1): run `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`, or run with sudo".to_string()
    } else if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0")
        && !crate::pseudofs::real_root()
    {
        "unprivileged user namespaces are off (kernel.unprivileged_userns_clone = 0): run `sudo sysctl kernel.unprivileged_userns_clone=1`, or run with sudo".to_string()
    } else if errno == nix::errno::Errno::ENOSPC {
        "the user namespace limit is reached: see /proc/sys/user/max_user_namespaces".to_string()
    } else {
        return Error::Syscall { call, errno, hint: Some("creating a user namespace was refused: check user.max_user_namespaces and, on Ubuntu, kernel.apparmor_restrict_unprivileged_userns".into()) };
    };
    Error::Syscall {
        call,
        errno,
        hint: Some(hint),
    }
}
// ANCHOR_END: why_clone_failed

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_parse() {
        assert_eq!(
            parse_map("0:1000000:65536"),
            Ok(IdMap {
                inside: 0,
                outside: 1_000_000,
                count: 65_536
            })
        );
        assert!(parse_map("0:1000").is_err());
        assert!(parse_map("0:1:0").is_err());
        assert!(parse_map("a:b:c").is_err());
    }

    #[test]
    fn subid_files() {
        let f = std::env::temp_dir().join(format!("isolab-subuid-{}", std::process::id()));
        std::fs::write(&f, "alice:100000:65536\n1001:200000:1000\n").unwrap();
        assert_eq!(subid_range(&f, "alice", 1000), Some((100_000, 65_536)));
        assert_eq!(subid_range(&f, "bob", 1001), Some((200_000, 1000)));
        assert_eq!(subid_range(&f, "carol", 1002), None);
        std::fs::remove_file(&f).unwrap();
    }

    #[test]
    fn map_text_is_one_line_per_range() {
        let m = [
            IdMap {
                inside: 0,
                outside: 1000,
                count: 1,
            },
            IdMap {
                inside: 1,
                outside: 100_000,
                count: 65_536,
            },
        ];
        assert_eq!(text(&m), "0 1000 1\n1 100000 65536\n");
    }
}
