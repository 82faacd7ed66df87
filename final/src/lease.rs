//! Addresses on the bridge, handed out from a lease file under the state
//! root (`<root>/.network/netns-INODE/leases`, JSON, one per network
//! namespace). Every change happens under an
//! exclusive flock(2) of the file, so runtimes starting at once never get
//! the same address, and the bridge and the nftables table are created
//! and removed under the same lock. A lease names the container and the
//! runtime that took it: a lease whose container is gone and whose runtime
//! is dead (SIGKILLed before it could release it) is swept by the next
//! start, like a DHCP lease that ran out.

use std::io::{Read, Seek, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::publish::Publish;

/// One container's address and published ports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lease {
    pub id: String,
    pub ip: Ipv4Addr,
    /// The runtime that took it (PID and start time, against PID reuse).
    pub runtime: (i32, u64),
    pub publish: Vec<Publish>,
}

/// The lease file, locked for as long as this value lives.
#[derive(Debug)]
pub struct Leases {
    file: std::fs::File,
    pub list: Vec<Lease>,
}

/// The leases of the network namespace this runtime runs in (a dot
/// directory, which `list` and the steps' sweep of stale state pass by): the bridge
/// and the table live in one namespace, and a runtime in another (a test's
/// `unshare -n`, a second `ip netns`) has a bridge and leases of its own.
pub fn dir(root: &Path) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let ns = std::fs::metadata("/proc/self/ns/net")
        .map(|m| m.ino())
        .unwrap_or(0);
    root.join(".network").join(format!("netns-{ns}"))
}

impl Leases {
    // ANCHOR: lock
    /// Open and lock the lease file (waiting for another runtime's turn).
    pub fn lock(root: &Path) -> Result<Leases> {
        let path = dir(root).join("leases");
        let io = |e| Error::io(format!("opening {}", path.display()), e);
        std::fs::create_dir_all(dir(root)).map_err(io)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } < 0 {
            return Err(Error::syscall(
                "flock(leases, LOCK_EX)",
                nix::errno::Errno::last(),
            ));
        }
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(io)?;
        let list = if text.trim().is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(&text).map_err(|e| {
                Error::Request(format!(
                    "{} is damaged ({e}): remove it when no container of this root runs",
                    path.display()
                ))
            })?
        };
        Ok(Leases { file, list })
    }
    // ANCHOR_END: lock

    /// Drop the leases nobody holds: no container directory under `root`,
    /// and the runtime that took the lease is gone.
    pub fn sweep(&mut self, root: &Path) -> Vec<Lease> {
        let (keep, gone): (Vec<Lease>, Vec<Lease>) = self.list.drain(..).partition(|l| {
            root.join(&l.id).exists() || crate::oci_state::alive(l.runtime.0, l.runtime.1)
        });
        self.list = keep;
        gone
    }

    /// The lowest free address of `subnet` (a /24; .1 is the bridge's).
    pub fn take(&mut self, id: &str, subnet: Ipv4Addr, publish: &[Publish]) -> Result<Ipv4Addr> {
        let base = u32::from(subnet) & 0xffff_ff00;
        let ip = (2..255)
            .map(|n| Ipv4Addr::from(base + n))
            .find(|ip| !self.list.iter().any(|l| l.ip == *ip))
            .ok_or_else(|| {
                Error::Request(format!(
                    "no address left on the bridge ({subnet}/24 has 253): delete a container"
                ))
            })?;
        let me = std::process::id() as i32;
        let start = crate::container::start_time(me).unwrap_or(0);
        self.list.push(Lease {
            id: id.into(),
            ip,
            runtime: (me, start),
            publish: publish.to_vec(),
        });
        Ok(ip)
    }

    /// Write the list back (the lock is released when `self` drops).
    pub fn save(&mut self) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.list).unwrap_or_default();
        let io = |e| Error::io("writing the lease file", e);
        self.file.set_len(0).map_err(io)?;
        self.file.rewind().map_err(io)?;
        self.file.write_all(text.as_bytes()).map_err(io)?;
        Ok(())
    }
}
