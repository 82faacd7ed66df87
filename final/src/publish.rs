//! `-p [IP:]HOST:CONTAINER[/tcp|/udp]`: a port of the host forwarded to the
//! container's address on the bridge (by a DNAT rule, see `nft`).

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    /// Only connections to this host address (default: any of the host's).
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub port: u16,
    /// "tcp" or "udp".
    pub proto: String,
}

impl Publish {
    // ANCHOR: parse
    pub fn parse(text: &str) -> Result<Publish> {
        let bad = |why: &str| {
            Error::BadFlag(format!(
                "--publish {text}: {why} (the form is [IP:]HOST:CONTAINER[/tcp|/udp])"
            ))
        };
        let (ports, proto) = text.split_once('/').unwrap_or((text, "tcp"));
        if proto != "tcp" && proto != "udp" {
            return Err(bad("the protocol is tcp or udp"));
        }
        let parts: Vec<&str> = ports.split(':').collect();
        let (ip, host, port) = match parts[..] {
            [h, c] => (None, h, c),
            [ip, h, c] => (Some(ip), h, c),
            [_] => return Err(bad("give the host's port too (isolab picks none)")),
            _ => return Err(bad("too many parts")),
        };
        let port_of = |p: &str| match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ if p.contains('-') => Err(bad("port ranges are docker's")),
            _ => Err(bad(&format!("{p:?} is not a port (1-65535)"))),
        };
        let host_ip = match ip {
            None | Some("") | Some("0.0.0.0") => None,
            Some(ip) => Some(
                ip.parse::<Ipv4Addr>()
                    .map_err(|_| bad(&format!("{ip:?} is not an IPv4 address")))?,
            ),
        };
        Ok(Publish {
            host_ip,
            host_port: port_of(host)?,
            port: port_of(port)?,
            proto: proto.into(),
        })
    }
    // ANCHOR_END: parse

    /// Refuse a host port some program already listens on: bind it for a
    /// moment (the DNAT rule would otherwise steal that program's traffic
    /// without a word).
    pub fn check_free(&self) -> Result<()> {
        let addr = (
            self.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            self.host_port,
        );
        let taken = match self.proto.as_str() {
            "udp" => std::net::UdpSocket::bind(addr).err(),
            _ => std::net::TcpListener::bind(addr).err(),
        };
        match taken {
            Some(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(Error::Request(format!(
                "--publish {}: port {}/{} is taken on the host: pick another",
                self, self.host_port, self.proto
            ))),
            _ => Ok(()),
        }
    }
}

impl std::fmt::Display for Publish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(ip) = self.host_ip {
            write!(f, "{ip}:")?;
        }
        write!(f, "{}:{}/{}", self.host_port, self.port, self.proto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let p = Publish::parse("8080:80").unwrap();
        assert_eq!(
            (p.host_ip, p.host_port, p.port, p.proto.as_str()),
            (None, 8080, 80, "tcp")
        );
        let p = Publish::parse("127.0.0.1:5353:53/udp").unwrap();
        assert_eq!(p.host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(p.to_string(), "127.0.0.1:5353:53/udp");
        for (bad, why) in [
            ("80", "host's port"),
            ("8080:80/sctp", "tcp or udp"),
            ("0:80", "not a port"),
            ("8000-8010:80", "ranges"),
            ("x:1:2", "IPv4"),
            ("a:b:c:d", "too many"),
        ] {
            let e = Publish::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
