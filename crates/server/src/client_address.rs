//! Who the client is, by network address: the socket's peer, or, when the
//! peer is a proxy the operator trusts (`POINTSHARE_TRUSTED_PROXIES`), the
//! rightmost address not one of those proxies in the one header the
//! operator's proxy writes (`POINTSHARE_CLIENT_ADDRESS_HEADER`,
//! `X-Forwarded-For` unless told otherwise). Every other forwarding header
//! came from the client itself, as does everything left of that hop, and
//! proves nothing: believing it would let one client pose as many and slip
//! past every per-address limit. An IPv6 client is its network
//! (`POINTSHARE_IPV6_CLIENT_PREFIX`, a /64 by default): one host holds a
//! whole /64, so its single addresses would each get a fresh allowance.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use actix_web::http::header::{FORWARDED, HeaderMap, HeaderName};
use ipnet::{IpNet, Ipv6Net};
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
}

/// `POINTSHARE_CLIENT_ADDRESS_HEADER`: the header the trusted proxies write,
/// `Forwarded` (RFC 7239) or a list of addresses such as `X-Forwarded-For`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ForwardingHeader(HeaderName);

impl Default for ForwardingHeader {
    fn default() -> Self {
        ForwardingHeader(actix_web::http::header::X_FORWARDED_FOR)
    }
}

impl TryFrom<String> for ForwardingHeader {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        let name = name.trim();
        HeaderName::try_from(name)
            .map(ForwardingHeader)
            .map_err(|_| format!("{name:?} is not a header name such as X-Forwarded-For or Forwarded"))
    }
}

impl From<ForwardingHeader> for String {
    fn from(header: ForwardingHeader) -> String {
        header.0.as_str().to_owned()
    }
}

impl ForwardingHeader {
    /// The hops this header lists, in header order; `None` for a hop that is
    /// not an address (`unknown`, an obfuscated name, garbage), past which
    /// nothing can be believed.
    fn hops(&self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        let values = headers.get_all(&self.0).filter_map(|value| value.to_str().ok());
        let elements = values.flat_map(|value| value.split(','));
        if self.0 == FORWARDED {
            return elements
                .map(|element| {
                    element
                        .split(';')
                        .filter_map(|pair| pair.trim().split_once('='))
                        .find(|(key, _)| key.eq_ignore_ascii_case("for"))
                        .and_then(|(_, node)| parse_node(node.trim().trim_matches('"')))
                })
                .collect();
        }
        elements.map(|hop| parse_node(hop.trim())).collect()
    }
}

/// How the client of a request is told: the settings `client_of` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddresses {
    pub proxies: TrustedProxies,
    pub header: ForwardingHeader,
    /// IPv6 clients are counted by their network of this prefix length.
    pub ipv6_prefix: u8,
}

impl ClientAddresses {
    /// The client of `request` as per-address limits count it: an IPv4
    /// address, or an IPv6 network (`2001:db8:1:2::/64`).
    pub fn client_of(&self, request: &HttpRequest) -> Option<String> {
        let address = self.client(request.peer_addr()?.ip(), request.headers());
        Some(match address {
            IpAddr::V6(v6) => {
                let network = Ipv6Net::new(v6, self.ipv6_prefix).expect("the prefix is validated at start").trunc();
                if self.ipv6_prefix == 128 { v6.to_string() } else { network.to_string() }
            }
            v4 => v4.to_string(),
        })
    }

    fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.proxies.trusts(client) {
            return client;
        }
        // Nearest hop first: each proxy appends the address it saw.
        for hop in self.header.hops(headers).into_iter().rev() {
            let Some(hop) = hop else { break };
            client = canonical(hop);
            if !self.proxies.trusts(client) {
                break;
            }
        }
        client
    }
}

/// IPv4 seen through an IPv6 socket (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
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
    use actix_web::http::header::{HeaderValue, X_FORWARDED_FOR};

    const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

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

    fn behind(proxies: &str, header: &str) -> ClientAddresses {
        ClientAddresses {
            proxies: TrustedProxies::parse(proxies).expect("valid"),
            header: ForwardingHeader::try_from(header.to_owned()).expect("a header name"),
            ipv6_prefix: 64,
        }
    }

    #[test]
    fn forwarded_headers_are_ignored_from_an_untrusted_peer() {
        let clients = behind("10.0.0.0/8", "X-Forwarded-For");
        let spoofed = headers(&[(X_FORWARDED_FOR, "1.2.3.4")]);
        assert_eq!(clients.client(ip("203.0.113.9"), &spoofed), ip("203.0.113.9"));
        assert_eq!(behind("", "X-Forwarded-For").client(ip("10.0.0.1"), &spoofed), ip("10.0.0.1"));
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let clients = behind("10.0.0.0/8, 192.168.1.1", "X-Forwarded-For");
        // The client claims to be 1.2.3.4; the edge proxy saw 198.51.100.7.
        let chain = headers(&[(X_FORWARDED_FOR, "1.2.3.4, 198.51.100.7, 192.168.1.1")]);
        assert_eq!(clients.client(ip("10.0.0.2"), &chain), ip("198.51.100.7"));
        let split = headers(&[(X_FORWARDED_FOR, "1.2.3.4"), (X_FORWARDED_FOR, "198.51.100.7")]);
        assert_eq!(clients.client(ip("10.0.0.2"), &split), ip("198.51.100.7"));
        let only_proxies = headers(&[(X_FORWARDED_FOR, "10.1.1.1")]);
        assert_eq!(clients.client(ip("10.0.0.2"), &only_proxies), ip("10.1.1.1"));
        assert_eq!(clients.client(ip("::ffff:10.0.0.2"), &chain), ip("198.51.100.7"));
    }

    #[test]
    fn a_client_s_own_forwarded_header_is_not_read_when_the_proxy_writes_x_forwarded_for() {
        // The shipped nginx appends to X-Forwarded-For; a Forwarded header can
        // only have come from the client, each request claiming someone new.
        let clients = behind("10.0.0.0/8", "X-Forwarded-For");
        let claimed = headers(&[(FORWARDED, "for=192.0.2.77"), (X_FORWARDED_FOR, "198.51.100.7")]);
        assert_eq!(clients.client(ip("10.0.0.2"), &claimed), ip("198.51.100.7"));
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let rfc_7239 = behind("10.0.0.0/8", "Forwarded");
        let both = headers(&[
            (FORWARDED, r#"for=1.2.3.4, for="[2001:db8::7]:4711";proto=https"#),
            (X_FORWARDED_FOR, "5.6.7.8"),
        ]);
        assert_eq!(rfc_7239.client(ip("10.0.0.2"), &both), ip("2001:db8::7"));
        let real_ip = behind("10.0.0.0/8", "X-Real-IP");
        let set = headers(&[(X_REAL_IP, "198.51.100.9"), (X_FORWARDED_FOR, "5.6.7.8")]);
        assert_eq!(real_ip.client(ip("10.0.0.2"), &set), ip("198.51.100.9"));
    }

    #[test]
    fn a_hop_that_is_not_an_address_stops_the_walk_at_the_last_trusted_one() {
        let clients = behind("10.0.0.0/8", "X-Forwarded-For");
        let garbage = headers(&[(X_FORWARDED_FOR, "1.2.3.4, not-an-ip, 10.9.9.9")]);
        assert_eq!(clients.client(ip("10.0.0.2"), &garbage), ip("10.9.9.9"));
    }

    #[test]
    fn an_ipv6_client_is_its_network() {
        let request = |peer: &str| {
            actix_web::test::TestRequest::default().peer_addr(SocketAddr::new(ip(peer), 4711)).to_http_request()
        };
        let clients = behind("", "X-Forwarded-For");
        let one = clients.client_of(&request("2001:db8:1:2::1")).expect("an address");
        assert_eq!(one, "2001:db8:1:2::/64");
        assert_eq!(clients.client_of(&request("2001:db8:1:2:ffff::9")), Some(one));
        assert_eq!(clients.client_of(&request("192.0.2.1")).as_deref(), Some("192.0.2.1"));
        let per_address = ClientAddresses { ipv6_prefix: 128, ..clients };
        assert_eq!(per_address.client_of(&request("2001:db8:1:2::1")).as_deref(), Some("2001:db8:1:2::1"));
    }

    #[test]
    fn bad_lists_and_names_are_refused() {
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
        assert_eq!(TrustedProxies::parse(" , ").expect("empty"), TrustedProxies::default());
        assert!(ForwardingHeader::try_from("X Forwarded For".to_owned()).is_err());
    }
}
