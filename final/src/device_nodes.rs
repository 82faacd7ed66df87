//! `linux.devices`: device nodes config.json asks for besides the default
//! ones (step 3's /dev): made with mknod(2) in the container's /dev,
//! resolved inside the rootfs, with the mode and owner given. The cgroup's
//! device rules ([`crate::device_rules`]) decide whether they may be used.

use nix::sys::stat::{Mode, SFlag, makedev};

use crate::error::{Error, Result};
use crate::explain;
use crate::resolve::Root;

/// One entry of `linux.devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    pub path: String,
    /// `c` (or `u`), `b`, `p`.
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Parse one entry (`at` names it in errors).
pub fn parse(at: &str, v: &serde_json::Value) -> Result<DeviceNode> {
    let bad = |field: &str, why: &str| Error::Request(format!("config.json: {at}.{field}: {why}"));
    let path = v.get("path").and_then(|p| p.as_str()).unwrap_or("");
    if !path.starts_with('/') || path.split('/').any(|p| p == "..") {
        return Err(bad("path", "an absolute path without .."));
    }
    let kind = match v.get("type").and_then(|t| t.as_str()).unwrap_or("") {
        "c" | "u" => 'c',
        "b" => 'b',
        "p" => 'p',
        other => return Err(bad("type", &format!("{other:?}: c, u, b or p"))),
    };
    let n = |k: &str| v.get(k).and_then(|x| x.as_u64());
    Ok(DeviceNode {
        path: path.to_string(),
        kind,
        major: n("major").unwrap_or(0),
        minor: n("minor").unwrap_or(0),
        mode: n("fileMode").map_or(0o666, |m| m as u32 & 0o7777),
        uid: n("uid").unwrap_or(0) as u32,
        gid: n("gid").unwrap_or(0) as u32,
    })
}

// ANCHOR: create
/// Make `node` inside the rootfs (before pivot_root, as real root).
pub fn create(root: &Root, node: &DeviceNode) -> Result<()> {
    let (parent, name) = node.path.rsplit_once('/').unwrap_or(("", &node.path));
    root.mkdir_p(parent)?;
    // The parent, resolved inside the rootfs, seen from here.
    let dir = root.open_target(if parent.is_empty() { "/" } else { parent }, true)?;
    let kind = match node.kind {
        'b' => SFlag::S_IFBLK,
        'p' => SFlag::S_IFIFO,
        _ => SFlag::S_IFCHR,
    };
    let call = format!(
        "mknod({:?}, {kind:?}|{:#o}, makedev({}, {}))",
        node.path, node.mode, node.major, node.minor
    );
    let at = std::path::PathBuf::from(dir.proc_path()).join(name);
    let _ = std::fs::remove_file(&at); // an image's own file of that name
    nix::sys::stat::mknod(
        &at,
        kind,
        Mode::from_bits_truncate(node.mode),
        makedev(node.major, node.minor),
    )
    .map_err(|e| Error::syscall(call.clone(), e))?;
    explain::syscall(&call, 0);
    // exactly the mode given (mknod's is cut by the umask), and the owner
    std::fs::set_permissions(&at, std::os::unix::fs::PermissionsExt::from_mode(node.mode))
        .map_err(|e| Error::io(format!("chmod {}", node.path), e))?;
    std::os::unix::fs::lchown(&at, Some(node.uid), Some(node.gid))
        .map_err(|e| Error::io(format!("chown {}", node.path), e))?;
    Ok(())
}
// ANCHOR_END: create
