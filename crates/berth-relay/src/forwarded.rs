//! Who a request is from: the peer, or — only when the peer is the server's own Caddy — the
//! client Caddy names in `X-Forwarded-For`. Any app container on the `berth` network could
//! send that header, so trusting every private address would let one spoof its way past the
//! rate limit; the trusted peers are named (`berth-proxy`, resolved on the network; the
//! container's gateway, where an adopted Caddy on the host connects from) and re-resolved,
//! since a reinstalled proxy gets a new address.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::RwLock;
use std::time::Duration;

/// How often names are resolved again.
pub const REFRESH: Duration = Duration::from_secs(30);

/// The peers whose `X-Forwarded-For` is believed.
pub struct TrustedProxies {
    names: Vec<String>,
    addrs: RwLock<HashSet<IpAddr>>,
}

impl TrustedProxies {
    pub fn new(names: Vec<String>) -> TrustedProxies {
        let addrs = names.iter().filter_map(|n| n.parse().ok()).collect();
        TrustedProxies {
            names,
            addrs: RwLock::new(addrs),
        }
    }

    /// Resolves the names again (`gateway`: this container's default route).
    pub async fn refresh(&self) {
        let mut found = HashSet::new();
        for name in &self.names {
            if let Ok(ip) = name.parse::<IpAddr>() {
                found.insert(ip);
            } else if name == "gateway" {
                if let Some(gw) = std::fs::read_to_string("/proc/net/route")
                    .ok()
                    .and_then(|t| default_gateway(&t))
                {
                    found.insert(IpAddr::V4(gw));
                }
            } else if let Ok(addrs) = tokio::net::lookup_host((name.as_str(), 0)).await {
                found.extend(addrs.map(|a| a.ip()));
            }
        }
        *self
            .addrs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = found;
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.addrs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&ip)
    }

    /// The client's address: the peer's, or for a request a trusted proxy forwarded, the last
    /// address in `X-Forwarded-For` (the one that proxy appended).
    pub fn client_ip(&self, peer: SocketAddr, headers: &hyper::HeaderMap) -> IpAddr {
        let peer_ip = peer.ip();
        if !self.trusts(peer_ip) {
            return peer_ip;
        }
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .next_back()
            .unwrap_or(peer_ip)
    }
}

/// The gateway of the default route in `/proc/net/route` (hex, little-endian).
fn default_gateway(route: &str) -> Option<Ipv4Addr> {
    route.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&"00000000") {
            return None;
        }
        let gw = u32::from_str_radix(fields.get(2)?, 16).ok()?;
        (gw != 0).then(|| Ipv4Addr::from(gw.swap_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(value: &str) -> hyper::HeaderMap {
        let mut h = hyper::HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().expect("value"));
        h
    }

    #[test]
    fn only_the_servers_caddy_may_name_the_client() {
        let trusted = TrustedProxies::new(vec!["172.18.0.2".into(), "berth-proxy".into()]);
        let h = forwarded("198.51.100.1, 203.0.113.5");
        let caddy: SocketAddr = "172.18.0.2:40000".parse().expect("addr");
        let app_container: SocketAddr = "172.18.0.7:40000".parse().expect("addr");
        let public: SocketAddr = "198.51.100.9:40000".parse().expect("addr");
        assert_eq!(trusted.client_ip(caddy, &h).to_string(), "203.0.113.5");
        assert_eq!(
            trusted.client_ip(app_container, &h).to_string(),
            "172.18.0.7",
            "another container on the network cannot spoof the header"
        );
        assert_eq!(trusted.client_ip(public, &h).to_string(), "198.51.100.9");
        assert_eq!(
            trusted
                .client_ip(caddy, &hyper::HeaderMap::new())
                .to_string(),
            "172.18.0.2"
        );
        let nobody = TrustedProxies::new(Vec::new());
        assert_eq!(nobody.client_ip(caddy, &h).to_string(), "172.18.0.2");
    }

    #[test]
    fn the_gateway_is_read_from_the_default_route() {
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     eth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                     eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(default_gateway(route), Some(Ipv4Addr::new(172, 18, 0, 1)));
        assert_eq!(default_gateway("Iface\tDestination\n"), None);
    }

    #[tokio::test]
    async fn names_are_resolved() {
        let t = TrustedProxies::new(vec!["localhost".into()]);
        t.refresh().await;
        assert!(t.trusts("127.0.0.1".parse().expect("ip")));
    }
}
