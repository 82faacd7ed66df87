//! `linux.sysctl`: kernel parameters, written as files under /proc/sys
//! (`net.ipv4.ip_forward` is /proc/sys/net/ipv4/ip_forward). The bundle
//! lets through only those that belong to a namespace the container has
//! of its own ([`crate::bundle::sysctl_namespace`]); a parameter of the
//! whole kernel (`kernel.core_pattern`) written here would change the host.

use std::io::Write;

use crate::error::{Error, Result};
use crate::explain;
use crate::resolve::Root;

/// Write `value` to the parameter `key`, through the container's /proc
/// (mounted in the rootfs, resolved inside it).
pub fn write(root: &Root, key: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    let target = root.open_target(&path, false)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(target.proc_path())
        .map_err(|e| Error::io(format!("opening {path} (sysctl {key})"), e))?;
    file.write_all(value.as_bytes())
        .map_err(|e| Error::io(format!("writing {value:?} to {path} (sysctl {key})"), e))?;
    explain::syscall(&format!("write({path:?}, {value:?})"), value.len());
    Ok(())
}
