//! nftables for the bridge: outbound NAT (masquerade) and published ports
//! (DNAT), in a table of isolab's own, `ip isolab`, that nothing else
//! writes. The table is written whole from the lease file each time a
//! container comes or goes, in one `nft -f` transaction (the kernel swaps
//! the old table for the new one atomically), and removed when no lease
//! is left. Rules are made by nft(8), the nftables command line, which
//! turns this text into the netlink messages of NFNL_SUBSYS_NFTABLES.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::explain;
use crate::lease::Lease;

pub const TABLE: &str = "isolab";

// ANCHOR: ruleset
/// The table for `leases` on bridge `bridge` with `subnet`/24. The `raw`
/// chain drops packets for 127.0.0.0/8 that came from outside: the DNAT
/// of a port published on 127.0.0.1 happens before the kernel would drop
/// them as martians, so without it a neighbour could reach it (the hole of
/// moby/moby#41872, closed the same way).
pub fn ruleset(leases: &[Lease], bridge: &str, subnet: Ipv4Addr) -> String {
    let mut dnat = String::new();
    for l in leases {
        for p in &l.publish {
            let only = p
                .host_ip
                .map(|ip| format!("ip daddr {ip} "))
                .unwrap_or_default();
            // Only packets for the host itself: not traffic it forwards.
            dnat.push_str(&format!(
                "    fib daddr type local {only}{} dport {} dnat to {}:{}\n",
                p.proto, p.host_port, l.ip, p.port
            ));
        }
    }
    format!(
        "table ip {TABLE} {{
  chain raw {{
    type filter hook prerouting priority raw; policy accept;
    iifname != \"lo\" ip daddr 127.0.0.0/8 drop
  }}
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
{dnat}  }}
  chain output {{
    type nat hook output priority -100; policy accept;
{dnat}  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr {subnet}/24 oifname != \"{bridge}\" masquerade
    ip saddr 127.0.0.0/8 oifname \"{bridge}\" masquerade
  }}
}}
"
    )
}
// ANCHOR_END: ruleset

/// Replace the table with `ruleset` (None: remove it).
pub fn apply(ruleset: Option<&str>) -> Result<()> {
    // `table` first, so that `delete` finds one to delete the first time.
    let text = match ruleset {
        Some(rules) => format!("table ip {TABLE}\ndelete table ip {TABLE}\n{rules}"),
        None => format!("table ip {TABLE}\ndelete table ip {TABLE}\n"),
    };
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Request(
                "--network bridge needs nft(8) for NAT and published ports: install nftables (apt install nftables)".into(),
            ),
            _ => Error::io("running nft", e),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io("running nft", e))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err
            .lines()
            .find(|l| l.starts_with("Error"))
            .unwrap_or(err.trim());
        return Err(Error::Request(format!(
            "nft -f (table ip {TABLE}): {first}"
        )));
    }
    explain::note(&match ruleset {
        Some(_) => format!("nft -f -: table ip {TABLE} written (NAT, published ports)"),
        None => format!("nft -f -: table ip {TABLE} deleted (no container left on the bridge)"),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::Publish;

    #[test]
    fn published_ports_become_dnat_in_both_chains() {
        let lease = Lease {
            id: "web".into(),
            ip: "10.89.0.2".parse().unwrap(),
            runtime: (1, 1),
            publish: vec![Publish::parse("127.0.0.1:8080:80").unwrap()],
        };
        let text = ruleset(&[lease], "isolab0", "10.89.0.0".parse().unwrap());
        let rule = "fib daddr type local ip daddr 127.0.0.1 tcp dport 8080 dnat to 10.89.0.2:80";
        assert_eq!(text.matches(rule).count(), 2, "{text}");
        assert!(text.contains("ip saddr 10.89.0.0/24 oifname != \"isolab0\" masquerade"));
        // 127.0.0.1 reaches a published port only from the host itself
        assert!(
            text.contains("iifname != \"lo\" ip daddr 127.0.0.0/8 drop"),
            "{text}"
        );
    }
}
