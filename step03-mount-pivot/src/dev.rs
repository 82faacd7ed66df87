//! A minimal /dev: a tmpfs with the few device nodes a program expects,
//! a private devpts for terminals, /dev/shm, and the /proc/self/fd links.
//!
//! The host's /dev holds every disk and device: a container gets none of
//! them. The list is the OCI runtime spec's default devices (runc and
//! crun create the same ones).

use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag, makedev};

use crate::error::{Error, Result};
use crate::explain;
use crate::mount;
use crate::resolve::Root;

// ANCHOR: devices
/// Character devices: name, major, minor (see Documentation/admin-guide/devices.txt).
pub const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Symlinks in /dev: name, target.
pub const LINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];
// ANCHOR_END: devices

/// Build /dev inside the rootfs (before pivot_root), with the OCI default
/// devices.
pub fn populate(root: &Root, rootfs: &std::path::Path) -> Result<()> {
    populate_with(root, rootfs, &DEVICES, None)
}

/// [`populate`] with `devices` (name, major, minor) instead of the
/// defaults (an OCI config lists them per container), and with `extra`
/// appended to the options of its tmpfs and devpts mounts (step 9's
/// SELinux `context=`).
pub fn populate_with(
    root: &Root,
    rootfs: &std::path::Path,
    devices: &[(&str, u64, u64)],
    extra: Option<&str>,
) -> Result<()> {
    let with = |options: &str| match extra {
        Some(extra) => format!("{options},{extra}"),
        None => options.to_string(),
    };
    let dev = root.open_target("/dev", true)?;
    mount::mount(
        "tmpfs",
        &dev,
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        &with("mode=755,size=65536k"),
    )?;
    // The tmpfs now hides the rootfs's own /dev; reopen through the mount.
    add_nodes(root, &rootfs.join("dev"), devices)?;

    // ANCHOR: devpts
    // A new devpts instance: the container's ptys are numbered from 0 and
    // it can't see the host's.
    let pts = root.open_target("/dev/pts", true)?;
    mount::mount(
        "devpts",
        &pts,
        "devpts",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        &with("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    // ANCHOR_END: devpts
    let shm = root.open_target("/dev/shm", true)?;
    mount::mount(
        "shm",
        &shm,
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        &with("mode=1777,size=65536k"),
    )
}

/// Fill a fresh /dev (`dev_dir`, the rootfs's, seen from outside it): the
/// device nodes and the usual symlinks. The OCI runtime calls it after
/// mounting config.json's /dev itself.
pub fn add_nodes(
    root: &Root,
    dev_dir: &std::path::Path,
    devices: &[(&str, u64, u64)],
) -> Result<()> {
    if crate::pseudofs::in_user_namespace() {
        bind_host_devices(root, dev_dir, devices)?;
    } else {
        make_devices(dev_dir, devices)?;
    }
    for (name, target) in LINKS {
        std::os::unix::fs::symlink(target, dev_dir.join(name))
            .map_err(|e| Error::io(format!("symlink({target:?}, \"/dev/{name}\")"), e))?;
    }
    explain::note(
        "symlink /dev/fd, /dev/std{in,out,err} -> /proc/self/fd/*, /dev/ptmx -> pts/ptmx",
    );
    Ok(())
}

/// Create the device nodes (as real root).
fn make_devices(dev_dir: &std::path::Path, devices: &[(&str, u64, u64)]) -> Result<()> {
    for &(name, major, minor) in devices {
        let path = dev_dir.join(name);
        let call = format!("mknod(\"/dev/{name}\", S_IFCHR|0666, makedev({major}, {minor}))");
        nix::sys::stat::mknod(
            &path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .map_err(|e| Error::syscall(call.clone(), e))?;
        // mknod's mode is cut by the umask; set it exactly.
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            &path,
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| Error::syscall(format!("chmod(\"/dev/{name}\", 0666)"), e))?;
        explain::syscall(&call, 0);
    }
    Ok(())
}

/// In a user namespace mknod(2) of a device is refused (devices belong to
/// the initial namespace), so bind the host's nodes onto empty files.
fn bind_host_devices(
    root: &Root,
    dev_dir: &std::path::Path,
    devices: &[(&str, u64, u64)],
) -> Result<()> {
    for &(name, _, _) in devices {
        std::fs::File::create(dev_dir.join(name))
            .map_err(|e| Error::io(format!("creating /dev/{name} to bind onto"), e))?;
        let target = root.open_target(&format!("/dev/{name}"), false)?;
        mount::mount(&format!("/dev/{name}"), &target, "", MsFlags::MS_BIND, "")?;
    }
    Ok(())
}
