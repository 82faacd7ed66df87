//! `--network bridge`: the container's network namespace wired to the
//! host's through a software switch, what docker's default network is.
//!
//! - a bridge `isolab0` (a switch inside the kernel) holding the gateway
//!   address, 10.89.0.1/24;
//! - per container, a veth pair (two links joined like a cable): one end
//!   on the bridge in the host's namespace, the other, `eth0`, made
//!   directly in the container's, with the leased address and a default
//!   route through the gateway;
//! - nftables rules for outbound NAT and published ports (`nft`).
//!
//! `prepare` runs before `create` (the address goes into /etc/hosts,
//! bound into the container), `attach` between `create` and `start` (the
//! container's namespace exists, its process hasn't run), `release` in
//! `delete`. The container's end dies with its namespace; the kernel then
//! removes the host's end too.

use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::Path;

use nix::sched::CloneFlags;

use crate::error::{Error, Result};
use crate::explain;
use crate::lease::Leases;
use crate::publish::Publish;
use crate::rtnetlink::Rtnl;

pub const BRIDGE: &str = "isolab0";

/// The bridge's /24: 10.89.0.0, or ISOLAB_SUBNET (a.b.c.0) where that one
/// is taken.
pub fn subnet() -> Result<Ipv4Addr> {
    match std::env::var("ISOLAB_SUBNET") {
        Err(_) => Ok(Ipv4Addr::new(10, 89, 0, 0)),
        Ok(text) => {
            let ip: Ipv4Addr = text.trim_end_matches("/24").parse().map_err(|_| {
                Error::BadFlag(format!("ISOLAB_SUBNET={text}: give a.b.c.0 (a /24)"))
            })?;
            Ok(Ipv4Addr::from(u32::from(ip) & 0xffff_ff00))
        }
    }
}

fn gateway(subnet: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet) + 1)
}

/// The host's end of a container's veth: named by the address's last
/// byte, unique among live leases and under IFNAMSIZ.
fn host_end(ip: Ipv4Addr) -> String {
    format!("isolab0v{}", ip.octets()[3])
}

// ANCHOR: prepare
/// Before `create`: lease an address, make the bridge if this is its first
/// container, refuse taken ports, write the nftables table, and write the
/// container's /etc/hosts and /etc/resolv.conf into `bundle`.
pub fn prepare(
    root: &Path,
    id: &str,
    hostname: &str,
    bundle: &Path,
    publish: &[Publish],
) -> Result<Ipv4Addr> {
    if !crate::pseudofs::real_root() {
        return Err(Error::BadFlag(
            "--network bridge makes links and nftables rules on the host: run as root (rootless: none or host)".into(),
        ));
    }
    let subnet = subnet()?;
    let mut leases = Leases::lock(root)?;
    leases.sweep(root);
    for p in publish {
        let ours = leases.list.iter().find(|l| {
            l.publish
                .iter()
                .any(|q| q.host_port == p.host_port && q.proto == p.proto)
        });
        if let Some(l) = ours {
            return Err(Error::Request(format!(
                "--publish {p}: container {} publishes port {}/{} already: pick another",
                l.id, p.host_port, p.proto
            )));
        }
        p.check_free()?;
    }
    let mut rtnl = Rtnl::open()?;
    ensure_bridge(&mut rtnl, subnet)?;
    let ip = leases.take(id, subnet, publish)?;
    write_etc(bundle, ip, hostname)?;
    crate::nft::apply(Some(&crate::nft::ruleset(&leases.list, BRIDGE, subnet)))?;
    leases.save()?;
    explain::note(&format!("lease: {ip} for {id} (of {subnet}/24)"));
    Ok(ip)
}
// ANCHOR_END: prepare

/// The bridge with the gateway's address, up; made if missing. Another
/// link holding an address of the subnet is a clash: refused.
fn ensure_bridge(rtnl: &mut Rtnl, subnet: Ipv4Addr) -> Result<()> {
    let links = rtnl.links()?;
    let bridge = links
        .iter()
        .find(|(_, n, _)| n == BRIDGE)
        .map(|(i, _, _)| *i);
    for (index, ip, _) in rtnl.addresses()? {
        let inside = u32::from(ip) & 0xffff_ff00 == u32::from(subnet);
        if inside && Some(index) != bridge {
            let name = links
                .iter()
                .find(|(i, _, _)| *i == index)
                .map(|(_, n, _)| n.as_str())
                .unwrap_or("?");
            return Err(Error::Request(format!(
                "the bridge's subnet {subnet}/24 is in use on {name} ({ip}): set ISOLAB_SUBNET to a free a.b.c.0"
            )));
        }
    }
    if bridge.is_some() {
        return Ok(());
    }
    rtnl.add_bridge(BRIDGE)?;
    let index = rtnl
        .index(BRIDGE)?
        .ok_or_else(|| Error::Request(format!("{BRIDGE} vanished after it was made")))?;
    rtnl.add_address(index, gateway(subnet), 24)?;
    rtnl.set_up(index, None)?;
    // The host forwards between the bridge and its other links (outbound
    // NAT), and may send 127.0.0.1 traffic out of the bridge (a port
    // published on localhost): what docker sets too.
    for (file, value) in [
        ("/proc/sys/net/ipv4/ip_forward".to_string(), "1"),
        (
            format!("/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet"),
            "1",
        ),
    ] {
        std::fs::write(&file, value).map_err(|e| Error::io(format!("writing {file}"), e))?;
        explain::syscall(&format!("write({file}, \"{value}\")"), 1);
    }
    Ok(())
}

/// The container's /etc/hosts and /etc/resolv.conf, bound in by the
/// config's mounts (`network_mode`).
fn write_etc(bundle: &Path, ip: Ipv4Addr, hostname: &str) -> Result<()> {
    let hosts = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{ip}\t{hostname}\n"
    );
    // The host's name servers, but not one on the host's loopback (a
    // local resolver such as systemd-resolved's 127.0.0.53 is not
    // reachable from the container's namespace).
    let host = std::fs::read_to_string("/run/systemd/resolve/resolv.conf")
        .or_else(|_| std::fs::read_to_string("/etc/resolv.conf"))
        .unwrap_or_default();
    let resolv: String = host
        .lines()
        .filter(|l| !(l.starts_with("nameserver") && l.contains(" 127.")))
        .map(|l| format!("{l}\n"))
        .collect();
    for (name, text) in [("hosts", hosts), ("resolv.conf", resolv)] {
        let path = bundle.join(name);
        std::fs::write(&path, text)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(())
}

// ANCHOR: attach
/// Between `create` and `start`: the veth pair into the container `pid`'s
/// network namespace, its address and default route set from inside.
pub fn attach(ip: Ipv4Addr, pid: i32) -> Result<()> {
    let subnet = subnet()?;
    let host = host_end(ip);
    let mut rtnl = Rtnl::open()?;
    if let Some(stale) = rtnl.index(&host)? {
        rtnl.delete_link(stale)?; // a killed runtime's
    }
    rtnl.add_veth(&host, "eth0", pid)?;
    let index = rtnl
        .index(&host)?
        .ok_or_else(|| Error::Request(format!("{host} vanished after it was made")))?;
    let bridge = rtnl
        .index(BRIDGE)?
        .ok_or_else(|| Error::Request(format!("{BRIDGE} is gone")))?;
    rtnl.set_up(index, Some(bridge))?;
    // A netlink socket speaks for the namespace it was opened in: open one
    // in the container's, then come back.
    let ours = std::fs::File::open("/proc/self/ns/net")
        .map_err(|e| Error::io("opening /proc/self/ns/net", e))?;
    let theirs = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| Error::io(format!("opening /proc/{pid}/ns/net"), e))?;
    let enter = |f: &std::fs::File, what: &str| {
        nix::sched::setns(f.as_fd(), CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error::syscall(format!("setns({what}, CLONE_NEWNET)"), e))
    };
    enter(&theirs, &format!("/proc/{pid}/ns/net"))?;
    explain::syscall(&format!("setns(/proc/{pid}/ns/net, CLONE_NEWNET)"), 0);
    let inside = Rtnl::open();
    enter(&ours, "/proc/self/ns/net (back)")?;
    let mut inside = inside?;
    let eth0 = inside
        .index("eth0")?
        .ok_or_else(|| Error::Request("eth0 did not arrive in the container".into()))?;
    inside.add_address(eth0, ip, 24)?;
    inside.set_up(eth0, None)?;
    inside.add_default_route(gateway(subnet))?;
    Ok(())
}
// ANCHOR_END: attach

/// In `delete`: give the address back, remove the host's end if the
/// kernel hasn't, and the bridge and the table with the last lease.
pub fn release(root: &Path, id: &str) -> Result<()> {
    let here = crate::lease::dir(root);
    if !here.join("leases").exists() {
        leased_elsewhere(root, id);
        return Ok(());
    }
    let mut leases = Leases::lock(root)?;
    let mut gone = leases.sweep(root);
    gone.extend(leases.list.iter().filter(|l| l.id == id).cloned());
    leases.list.retain(|l| l.id != id);
    if gone.is_empty() {
        drop(leases);
        leased_elsewhere(root, id);
        return Ok(());
    }
    let mut rtnl = Rtnl::open()?;
    for lease in &gone {
        if let Some(index) = rtnl.index(&host_end(lease.ip))? {
            let _ = rtnl.delete_link(index);
        }
    }
    if leases.list.is_empty() {
        crate::nft::apply(None)?;
        if let Some(index) = rtnl.index(BRIDGE)? {
            rtnl.delete_link(index)?;
        }
        // The empty file stays: a runtime of this namespace may be waiting
        // for its lock right now, and would write to a file unlinked under it.
    } else {
        crate::nft::apply(Some(&crate::nft::ruleset(&leases.list, BRIDGE, subnet()?)))?;
    }
    leases.save()
}

/// A container whose network was made from another network namespace
/// (`delete` run outside the `nsenter` that ran it): say where it is, since
/// only a runtime in that namespace can remove it.
fn leased_elsewhere(root: &Path, id: &str) {
    let Ok(dirs) = std::fs::read_dir(root.join(".network")) else {
        return;
    };
    for d in dirs.flatten() {
        let text = std::fs::read_to_string(d.path().join("leases")).unwrap_or_default();
        let ours = serde_json::from_str::<Vec<crate::lease::Lease>>(&text)
            .is_ok_and(|list| list.iter().any(|l| l.id == id));
        if ours {
            crate::cli::warn(&format!(
                "isolab: {id}'s network lives in another network namespace ({}): run `isolab delete` there, or the next `run --network bridge` there removes it",
                d.file_name().to_string_lossy()
            ));
        }
    }
}
