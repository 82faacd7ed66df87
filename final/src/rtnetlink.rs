//! rtnetlink, the kernel's interface for links, addresses and routes: what
//! `ip link`, `ip addr` and `ip route` speak. A request is a message on a
//! NETLINK_ROUTE socket; the kernel answers with an ACK (or an errno), or
//! for a dump with messages until NLMSG_DONE. A netlink socket belongs to
//! the network namespace it was opened in, which is how the front end
//! configures the container's side: it opens a second socket after
//! setns(2) into the container's namespace (see `bridge`).
//!
//! Messages are built with netlink-packet-route, sent with netlink-sys;
//! synchronous, one request at a time (`ip` does the same).

use std::net::Ipv4Addr;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use crate::error::{Error, Result};
use crate::explain;

/// A NETLINK_ROUTE socket of the calling thread's network namespace.
#[derive(Debug)]
pub struct Rtnl {
    socket: Socket,
    seq: u32,
}

impl Rtnl {
    pub fn open() -> Result<Rtnl> {
        let io = |e: std::io::Error| Error::io("socket(AF_NETLINK, NETLINK_ROUTE)", e);
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(io)?;
        socket.bind_auto().map_err(io)?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(io)?;
        Ok(Rtnl { socket, seq: 0 })
    }

    /// Send `msg`; the answers (for a dump), or an error naming `what`.
    fn request(
        &mut self,
        what: &str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.seq += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket
            .send(&buf, 0)
            .map_err(|e| Error::io(format!("netlink {what}"), e))?;
        let mut out = Vec::new();
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        loop {
            let (data, _) = self
                .socket
                .recv_from_full()
                .map_err(|e| Error::io(format!("netlink {what}"), e))?;
            let mut offset = 0;
            while offset < data.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                    .map_err(|e| Error::Request(format!("netlink {what}: bad reply: {e}")))?;
                let len = reply.header.length as usize;
                if reply.header.sequence_number == self.seq {
                    match reply.payload {
                        NetlinkPayload::Error(e) => {
                            let Some(code) = e.code else {
                                explain::syscall(&format!("netlink {what}"), 0);
                                return Ok(out); // the ACK
                            };
                            let errno = nix::errno::Errno::from_raw(-code.get());
                            return Err(Error::syscall(format!("netlink {what}"), errno));
                        }
                        NetlinkPayload::Done(_) => return Ok(out),
                        NetlinkPayload::InnerMessage(m) => out.push(m),
                        _ => {}
                    }
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
            if !dump && !out.is_empty() {
                return Ok(out);
            }
        }
    }

    /// Every link: (index, name, kind) as `ip link` lists them.
    pub fn links(&mut self) -> Result<Vec<(u32, String, Option<String>)>> {
        let msgs = self.request(
            "RTM_GETLINK (dump)",
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => {
                    let mut name = None;
                    let mut kind = None;
                    for a in &l.attributes {
                        match a {
                            LinkAttribute::IfName(n) => name = Some(n.clone()),
                            LinkAttribute::LinkInfo(infos) => {
                                for i in infos {
                                    if let LinkInfo::Kind(k) = i {
                                        kind = Some(k.to_string());
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                    name.map(|n| (l.header.index, n, kind))
                }
                _ => None,
            })
            .collect())
    }

    /// The index of link `name`, if there is one.
    pub fn index(&mut self, name: &str) -> Result<Option<u32>> {
        Ok(self
            .links()?
            .into_iter()
            .find(|(_, n, _)| n == name)
            .map(|(i, _, _)| i))
    }

    /// Every IPv4 address: (link index, address, prefix length).
    pub fn addresses(&mut self) -> Result<Vec<(u32, Ipv4Addr, u8)>> {
        let mut req = AddressMessage::default();
        req.header.family = AddressFamily::Inet;
        let msgs = self.request(
            "RTM_GETADDR (dump)",
            RouteNetlinkMessage::GetAddress(req),
            NLM_F_DUMP,
        )?;
        let mut out = Vec::new();
        for m in msgs {
            if let RouteNetlinkMessage::NewAddress(a) = m {
                for attr in &a.attributes {
                    if let AddressAttribute::Local(std::net::IpAddr::V4(ip)) = attr {
                        out.push((a.header.index, *ip, a.header.prefix_len));
                    }
                }
            }
        }
        Ok(out)
    }

    /// `ip link add NAME type bridge`.
    pub fn add_bridge(&mut self, name: &str) -> Result<()> {
        let mut link = LinkMessage::default();
        link.attributes = vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
        ];
        self.request(
            &format!("RTM_NEWLINK {name} type bridge"),
            RouteNetlinkMessage::NewLink(link),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
        )
        .map(drop)
    }

    // ANCHOR: add_veth
    /// `ip link add HOST type veth peer name PEER netns PID`: a pair of
    /// links joined like a cable; the peer is made directly in the network
    /// namespace of process `pid` (the container's).
    pub fn add_veth(&mut self, host: &str, peer: &str, pid: i32) -> Result<()> {
        let mut peer_link = LinkMessage::default();
        peer_link.attributes = vec![
            LinkAttribute::IfName(peer.into()),
            LinkAttribute::NetNsPid(pid as u32),
        ];
        let mut link = LinkMessage::default();
        link.attributes = vec![
            LinkAttribute::IfName(host.into()),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_link))),
            ]),
        ];
        self.request(
            &format!("RTM_NEWLINK {host} type veth peer {peer} netns {pid}"),
            RouteNetlinkMessage::NewLink(link),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
        )
        .map(drop)
    }
    // ANCHOR_END: add_veth

    /// `ip link set INDEX [master M] up`.
    pub fn set_up(&mut self, index: u32, master: Option<u32>) -> Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        if let Some(m) = master {
            link.attributes.push(LinkAttribute::Controller(m));
        }
        let what = match master {
            Some(m) => format!("RTM_NEWLINK index {index} master {m} up"),
            None => format!("RTM_NEWLINK index {index} up"),
        };
        self.request(&what, RouteNetlinkMessage::SetLink(link), NLM_F_ACK)
            .map(drop)
    }

    /// `ip link del INDEX` (a veth takes its peer with it).
    pub fn delete_link(&mut self, index: u32) -> Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        self.request(
            &format!("RTM_DELLINK index {index}"),
            RouteNetlinkMessage::DelLink(link),
            NLM_F_ACK,
        )
        .map(drop)
    }

    /// `ip addr add IP/PREFIX dev INDEX`.
    pub fn add_address(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<()> {
        let mut addr = AddressMessage::default();
        addr.header.family = AddressFamily::Inet;
        addr.header.prefix_len = prefix;
        addr.header.index = index;
        let broadcast = Ipv4Addr::from(u32::from(ip) | (u32::MAX >> prefix));
        addr.attributes = vec![
            AddressAttribute::Local(ip.into()),
            AddressAttribute::Address(ip.into()),
            AddressAttribute::Broadcast(broadcast),
        ];
        self.request(
            &format!("RTM_NEWADDR {ip}/{prefix} dev {index}"),
            RouteNetlinkMessage::NewAddress(addr),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
        )
        .map(drop)
    }

    /// `ip route add default via GATEWAY`.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        let mut route = RouteMessage::default();
        route.header.address_family = AddressFamily::Inet;
        route.header.table = RouteHeader::RT_TABLE_MAIN;
        route.header.protocol = RouteProtocol::Boot;
        route.header.scope = RouteScope::Universe;
        route.header.kind = RouteType::Unicast;
        route.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(gateway))];
        self.request(
            &format!("RTM_NEWROUTE default via {gateway}"),
            RouteNetlinkMessage::NewRoute(route),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
        )
        .map(drop)
    }
}
