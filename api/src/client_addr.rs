//! Where a request comes from. Behind a reverse proxy every request arrives from
//! the proxy's address, so `X-Forwarded-For` is honoured — but only when the peer
//! is a proxy the operator listed, and then only up to the first address that is
//! not one of them (the right-most untrusted hop), so a client cannot choose the
//! address it is throttled under.

use std::net::IpAddr;
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::AppState;

/// One trusted proxy: an address, or a network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet(ipnet::IpNet);

impl ProxyNet {
    /// Whether `addr` is in this network.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.contains(&canonical(addr))
    }
}

/// An IPv4 address as itself, also when it arrives IPv4-mapped (`::ffff:a.b.c.d`).
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for ProxyNet {
    type Err = String;

    /// `10.0.0.0/8`, `fd00::/8`, or one address (`192.0.2.7`, a /32 or /128).
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(addr) = s.parse::<IpAddr>() {
            return Ok(Self(ipnet::IpNet::from(canonical(addr))));
        }
        let net: ipnet::IpNet = s
            .parse()
            .map_err(|e| format!("{s:?} is not an address or CIDR network: {e}"))?;
        Ok(Self(match net {
            ipnet::IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                Some(v4) if v6.prefix_len() >= 96 => ipnet::IpNet::V4(
                    ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                        .map_err(|e| format!("{s:?}: {e}"))?,
                ),
                _ => net,
            },
            v4 => v4,
        }))
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<ProxyNet>);

impl TrustedProxies {
    /// Whether `addr` is one of the trusted proxies.
    pub fn trusts(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(addr))
    }

    /// The client behind `peer`, given the `X-Forwarded-For` values in order.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        // From the right: each hop was written by the trusted proxy after it. A
        // hop that is not an address ends the walk at the last one known, so a
        // client cannot make a hop vanish (by giving it a port, say) and choose
        // the address written before it.
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            let Some(addr) = parse_hop(hop) else {
                return client;
            };
            client = addr;
            if !self.trusts(addr) {
                return addr;
            }
        }
        peer
    }
}

/// An address as proxies write it: bare, or with a port (`203.0.113.9:4711`,
/// `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

/// The client's address (see the module docs), when the server has connection info.
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientAddr(
            peer.map(|p| state.trusted_proxies.client(p, &forwarded)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies(list.iter().map(|s| s.parse().expect("net")).collect())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("10.0.0.1"), &["203.0.113.9"]),
            ip("10.0.0.1")
        );
        let lb = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            lb.client(ip("10.0.0.1"), &["203.0.113.9"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            lb.client(ip("10.0.0.1"), &["198.51.100.7, 203.0.113.9, 10.0.0.5"]),
            ip("203.0.113.9"),
            "the right-most hop that is not a proxy; what the client wrote before it is ignored"
        );
        assert_eq!(
            lb.client(ip("192.0.2.1"), &["203.0.113.9"]),
            ip("192.0.2.1")
        );
        assert_eq!(lb.client(ip("10.0.0.1"), &["garbage"]), ip("10.0.0.1"));
    }

    #[test]
    fn a_hop_written_with_a_port_is_that_address() {
        let lb = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            lb.client(ip("10.0.0.1"), &["198.51.100.7, 203.0.113.9:4711"]),
            ip("203.0.113.9"),
            "the port is dropped; the client's own entry before it is not chosen"
        );
        assert_eq!(
            lb.client(ip("10.0.0.1"), &["198.51.100.7, [2001:db8::9]:4711"]),
            ip("2001:db8::9")
        );
        assert_eq!(
            lb.client(ip("10.0.0.1"), &["198.51.100.7, not-an-address"]),
            ip("10.0.0.1"),
            "an unreadable hop stops at the proxy that wrote it"
        );
    }

    #[test]
    fn networks_parse_and_match() {
        assert!("2001:db8::/32"
            .parse::<ProxyNet>()
            .expect("v6")
            .contains(ip("2001:db8:5::1")));
        assert!("127.0.0.1"
            .parse::<ProxyNet>()
            .expect("v4")
            .contains(ip("::ffff:127.0.0.1")));
        assert!("10.0.0.0/33".parse::<ProxyNet>().is_err());
        assert!("0.0.0.0/0"
            .parse::<ProxyNet>()
            .expect("all")
            .contains(ip("8.8.8.8")));
    }
}
