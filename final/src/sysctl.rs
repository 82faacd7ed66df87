//! `linux.sysctl`: kernel parameters, written as files under /proc/sys
//! (`net.ipv4.ip_forward` is /proc/sys/net/ipv4/ip_forward). The bundle
//! lets through only those that belong to a namespace the container has
//! of its own ([`crate::bundle::sysctl_namespace`]); a parameter of the
//! whole kernel (`kernel.core_pattern`) written here would change the host.

use crate::error::Result;
use crate::proc_handle::ProcHandle;
use crate::resolve::Root;

/// Write `value` to the parameter `key`, through the container's /proc
/// (mounted in the rootfs, resolved inside it), crossing no mount: one
/// that config.json put over the file would take the write instead.
pub fn write(root: &Root, key: &str, value: &str) -> Result<()> {
    let path = format!("sys/{}", key.replace('.', "/"));
    ProcHandle::open_in(root)?.write(&path, value)
}
