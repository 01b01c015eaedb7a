//! The client's address. The TCP peer, unless the peer is a listed proxy
//! (`TESSERA_TRUSTED_PROXIES`, CIDRs; empty by default): then the address that proxy forwarded
//! in `Forwarded` (RFC 7239) or `X-Forwarded-For`, read from the right and skipping further
//! listed proxies. A forwarded header from any other peer is ignored: anyone can send one.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr},
    str::FromStr,
};

use actix_web::{HttpRequest, web};

/// One CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside the block (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `10.0.0.0/8`, `::1/128`, or a bare address (a block of one).
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = canonical(
            address
                .parse::<IpAddr>()
                .map_err(|_| format!("{text:?} is not an IP address or CIDR block"))?,
        );
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?} has an invalid prefix length"))?,
            None => max,
        };
        Ok(Self { network, prefix })
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The proxies whose forwarded headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<Cidr>);

impl TrustedProxies {
    /// Parses a comma-separated list of CIDRs (empty: none).
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .filter(|item| !item.trim().is_empty())
            .map(Cidr::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|cidr| cidr.contains(ip))
    }
}

/// The client's address (unspecified when not known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_unspecified() {
            Ok(())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// One `for=` value of a `Forwarded` element: `192.0.2.1`, `"[2001:db8::1]:4711"`, `unknown`.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        if let Some(rest) = value.strip_prefix('[') {
            return rest.split_once(']')?.0.parse().ok();
        }
        let host = match value.rsplit_once(':') {
            Some((host, port))
                if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                host
            }
            _ => value,
        };
        host.parse().ok()
    })
}

/// The hops a proxy recorded, nearest last.
fn forwarded_chain(req: &HttpRequest) -> Vec<Option<IpAddr>> {
    let headers = req.headers();
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(forwarded_for)
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect()
}

impl ClientAddress {
    /// The address of the client that sent `req` (see the module docs).
    pub fn of(req: &HttpRequest) -> Self {
        let Some(peer) = req.peer_addr().map(|a| canonical(a.ip())) else {
            return Self(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        };
        let Some(proxies) = req.app_data::<web::Data<TrustedProxies>>() else {
            return Self(peer);
        };
        if !proxies.trusts(peer) {
            return Self(peer);
        }
        let mut address = peer;
        for hop in forwarded_chain(req).into_iter().rev() {
            match hop.map(canonical) {
                Some(hop) if proxies.trusts(hop) => address = hop,
                Some(hop) => return Self(hop),
                // An unparseable hop: stop at the last address a listed proxy vouched for.
                None => return Self(address),
            }
        }
        Self(address)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use actix_web::test::TestRequest;

    use super::*;

    fn request(peer: &str, headers: &[(&str, &str)], proxies: &str) -> HttpRequest {
        let mut req = TestRequest::default()
            .peer_addr(peer.parse().unwrap())
            .app_data(web::Data::new(
                TrustedProxies::parse(proxies).unwrap_or_default(),
            ));
        for header in headers {
            req = req.insert_header(*header);
        }
        req.to_http_request()
    }

    #[test]
    fn cidrs_parse_and_match() {
        let block: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains("10.1.200.3".parse().unwrap()));
        assert!(!block.contains("10.2.0.1".parse().unwrap()));
        assert!(block.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one: Cidr = "::1".parse().unwrap();
        assert!(one.contains(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        for bad in ["10.0.0.0/33", "nonsense", "::/129", "10.0.0.0/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!(TrustedProxies::parse("").unwrap_or_default().0.is_empty());
    }

    #[test]
    fn forwarded_headers_count_only_from_listed_proxies() {
        let xff = [("x-forwarded-for", "203.0.113.9")];
        let from_stranger = request("192.0.2.7:5000", &xff, "10.0.0.0/8");
        assert_eq!(ClientAddress::of(&from_stranger).to_string(), "192.0.2.7");
        let from_proxy = request("10.0.0.2:5000", &xff, "10.0.0.0/8");
        assert_eq!(ClientAddress::of(&from_proxy).to_string(), "203.0.113.9");
        // A client can prepend anything; only the hop the listed proxy appended counts.
        let spoofed = request(
            "10.0.0.2:5000",
            &[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.3")],
            "10.0.0.0/8",
        );
        assert_eq!(ClientAddress::of(&spoofed).to_string(), "203.0.113.9");
        let rfc7239 = request(
            "10.0.0.2:5000",
            &[(
                "forwarded",
                "for=1.2.3.4, for=\"[2001:db8::7]:4711\";proto=https",
            )],
            "10.0.0.0/8",
        );
        assert_eq!(ClientAddress::of(&rfc7239).to_string(), "2001:db8::7");
        let none_listed = request("10.0.0.2:5000", &xff, "");
        assert_eq!(ClientAddress::of(&none_listed).to_string(), "10.0.0.2");
    }
}
