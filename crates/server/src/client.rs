//! Who the client is, by network address: the socket's peer, or, when the
//! peer is a proxy the operator trusts (`POINTSHARE_TRUSTED_PROXIES`), the
//! rightmost address in `Forwarded` / `X-Forwarded-For` that is not one of
//! those proxies. Everything left of that was written by the client itself
//! and proves nothing: believing it would let one client pose as many and
//! slip past every per-address limit.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use actix_web::http::header::{FORWARDED, HeaderMap, X_FORWARDED_FOR};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// `POINTSHARE_TRUSTED_PROXIES`: read from the settings as a comma-separated
/// list, and valid once read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrustedProxies(Vec<IpNet>);

impl TryFrom<String> for TrustedProxies {
    type Error = String;

    fn try_from(list: String) -> Result<Self, String> {
        TrustedProxies::parse(&list)
    }
}

impl From<TrustedProxies> for String {
    fn from(proxies: TrustedProxies) -> String {
        proxies.0.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
    }
}

impl TrustedProxies {
    /// A comma-separated list of CIDRs (a bare address is a /32 or /128).
    pub fn parse(list: &str) -> Result<Self, String> {
        let nets = list.split(',').map(str::trim).filter(|item| !item.is_empty()).map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{item:?} is not a CIDR such as 10.0.0.0/8 or an address"))
        });
        Ok(TrustedProxies(nets.collect::<Result<_, _>>()?))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client address of `request`.
    pub fn client_of(&self, request: &HttpRequest) -> Option<IpAddr> {
        self.client(request.peer_addr()?.ip(), request.headers())
    }

    fn client(&self, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return Some(client);
        }
        // Nearest hop first: each proxy appends the address it saw.
        for hop in forwarded_hops(headers).into_iter().rev() {
            let Some(hop) = hop else { break };
            client = canonical(hop);
            if !self.trusts(client) {
                break;
            }
        }
        Some(client)
    }
}

/// IPv4 seen through an IPv6 socket (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The hops `Forwarded` lists (RFC 7239), or else `X-Forwarded-For`, in
/// header order; `None` for a hop that is not an address (`unknown`, an
/// obfuscated name, garbage), past which nothing can be believed.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| headers.get_all(name).filter_map(|value| value.to_str().ok()).collect::<Vec<_>>();
    let forwarded = values(&FORWARDED);
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|value| value.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(key, _)| key.eq_ignore_ascii_case("for"))
                    .and_then(|(_, node)| parse_node(node.trim().trim_matches('"')))
            })
            .collect();
    }
    values(&X_FORWARDED_FOR).iter().flat_map(|value| value.split(',')).map(|hop| parse_node(hop.trim())).collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    node.parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .or_else(|| node.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).and_then(|ip| ip.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).expect("a header value"));
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn forwarded_headers_are_ignored_from_an_untrusted_peer() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").expect("valid");
        let spoofed = headers(&[(X_FORWARDED_FOR, "1.2.3.4")]);
        assert_eq!(proxies.client(ip("203.0.113.9"), &spoofed), Some(ip("203.0.113.9")));
        assert_eq!(TrustedProxies::default().client(ip("10.0.0.1"), &spoofed), Some(ip("10.0.0.1")));
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.1").expect("valid");
        // The client claims to be 1.2.3.4; the edge proxy saw 198.51.100.7.
        let chain = headers(&[(X_FORWARDED_FOR, "1.2.3.4, 198.51.100.7, 192.168.1.1")]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &chain), Some(ip("198.51.100.7")));
        let split = headers(&[(X_FORWARDED_FOR, "1.2.3.4"), (X_FORWARDED_FOR, "198.51.100.7")]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &split), Some(ip("198.51.100.7")));
        let only_proxies = headers(&[(X_FORWARDED_FOR, "10.1.1.1")]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &only_proxies), Some(ip("10.1.1.1")));
        assert_eq!(proxies.client(ip("::ffff:10.0.0.2"), &chain), Some(ip("198.51.100.7")));
    }

    #[test]
    fn rfc_7239_forwarded_is_read_and_wins_over_x_forwarded_for() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").expect("valid");
        let both = headers(&[
            (FORWARDED, r#"for=1.2.3.4, for="[2001:db8::7]:4711";proto=https"#),
            (X_FORWARDED_FOR, "5.6.7.8"),
        ]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &both), Some(ip("2001:db8::7")));
    }

    #[test]
    fn a_hop_that_is_not_an_address_stops_the_walk_at_the_last_trusted_one() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").expect("valid");
        let garbage = headers(&[(X_FORWARDED_FOR, "1.2.3.4, not-an-ip, 10.9.9.9")]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &garbage), Some(ip("10.9.9.9")));
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
        assert_eq!(TrustedProxies::parse(" , ").expect("empty"), TrustedProxies::default());
    }
}
