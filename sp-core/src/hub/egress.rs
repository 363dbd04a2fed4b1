//! Where the hub may send requests (review finding H2, SSRF): public addresses only, unless
//! the operator allows more.
//!
//! Tool calls, health checks and MCP imports go to URLs that callers with the `registry`
//! scope chose. Left open, that reaches the server's loopback services, the cloud metadata
//! endpoint (169.254.169.254) and the private network behind it. Every destination address is
//! checked — literal ones before the request, resolved ones by the transport's resolver, so a
//! name that resolves to a private address is refused too, and redirects are not followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::error::{Error, Result};

/// The addresses the hub may reach: every public one, plus the networks an operator allows
/// (`hub.allowed_networks`, e.g. `["10.0.0.0/8", "127.0.0.1"]`).
///
/// ```
/// use sp_core::hub::EgressPolicy;
///
/// let public_only = EgressPolicy::default();
/// assert!(public_only.permits("93.184.215.14".parse()?));
/// assert!(!public_only.permits("127.0.0.1".parse()?));
/// assert!(!public_only.permits("169.254.169.254".parse()?));
/// let lab = EgressPolicy::new(&["10.0.0.0/8".into()])?;
/// assert!(lab.permits("10.1.2.3".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    allowed: Vec<IpNet>,
}

impl EgressPolicy {
    /// Public addresses and `allowed` (CIDR networks or single addresses).
    pub fn new(allowed: &[String]) -> Result<Self> {
        let allowed = allowed
            .iter()
            .map(|raw| {
                raw.parse::<IpNet>()
                    .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| Error::Config {
                        key: "hub.allowed_networks".into(),
                        reason: format!("`{raw}` is not a network (`10.0.0.0/8`) or an address"),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(EgressPolicy { allowed })
    }

    /// Loopback allowed too: what tests and single-host setups with local tools use.
    pub fn with_loopback() -> Self {
        EgressPolicy {
            allowed: ["127.0.0.0/8", "::1/128"]
                .iter()
                .filter_map(|n| n.parse().ok())
                .collect(),
        }
    }

    /// Whether the hub may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allowed.iter().any(|net| net.contains(&ip)) || why_not(ip).is_none()
    }

    /// Why the hub may not connect to `ip`, naming the address (`None`: it may).
    pub fn refusal(&self, ip: IpAddr) -> Option<String> {
        if self.permits(ip) {
            return None;
        }
        let why = why_not(canonical(ip)).unwrap_or("not allowed");
        Some(format!(
            "{ip} is {why}: the hub reaches public addresses only, unless hub.allowed_networks \
             lists it"
        ))
    }

    /// Refuses (`SP-VAL-001` on `field`) a URL whose host is an address the hub may not reach
    /// or `localhost`; other names are checked when they resolve.
    pub fn check_url(&self, field: &str, url: &str) -> Result<()> {
        let Some(host) = url_host(url) else {
            return Ok(()); // malformed URLs are refused by the URL check
        };
        let ip = if host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost") {
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        } else {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .ok()
        };
        match ip.and_then(|ip| self.refusal(ip)) {
            Some(reason) => Err(Error::invalid_input(field, reason)),
            None => Ok(()),
        }
    }
}

/// The host of an `http(s)://` URL, without port or credentials.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return host_port
            .split_once(']')
            .map(|(h, _)| h.trim_start_matches('['));
    }
    Some(host_port.rsplit_once(':').map_or(host_port, |(h, _)| h))
}

/// An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Why `ip` is not a public address, if it is not.
fn why_not(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => why_not_v4(v4),
        IpAddr::V6(v6) => why_not_v6(v6),
    }
}

fn why_not_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_link_local() {
        Some("link-local, where cloud metadata services answer")
    } else if ip.is_private() {
        Some("private")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared address space (carrier-grade NAT)")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("multicast, broadcast or reserved")
    } else if ip.is_documentation() || (a == 198 && (b == 18 || b == 19)) || (a == 192 && b == 0) {
        Some("reserved for documentation, benchmarks or protocols")
    } else {
        None
    }
}

fn why_not_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique local (private)")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some("reserved for documentation")
    } else if first == 0x0064 && ip.segments()[1] == 0xff9b {
        // NAT64 embeds an IPv4 address that may be private.
        let [.., c, d] = ip.segments();
        let v4 = Ipv4Addr::new((c >> 8) as u8, c as u8, (d >> 8) as u8, d as u8);
        why_not_v4(v4)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(ip: &str) -> bool {
        !EgressPolicy::default().permits(ip.parse().unwrap())
    }

    #[test]
    fn every_non_public_range_is_refused_by_default() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "10.0.0.5",
            "172.16.0.1",
            "172.31.255.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "ff02::1",
        ] {
            assert!(denied(ip), "{ip} must be refused");
        }
        for ip in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "93.184.215.14",
        ] {
            assert!(!denied(ip), "{ip} is public");
        }
    }

    #[test]
    fn operators_allow_networks_explicitly() {
        let policy = EgressPolicy::new(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap();
        assert!(policy.permits("10.200.0.1".parse().unwrap()));
        assert!(policy.permits("127.0.0.1".parse().unwrap()));
        assert!(!policy.permits("127.0.0.2".parse().unwrap()));
        assert!(!policy.permits("192.168.0.1".parse().unwrap()));
        assert!(EgressPolicy::with_loopback().permits("::ffff:127.0.0.1".parse().unwrap()));
        let err = EgressPolicy::new(&["ten dot".into()]).unwrap_err();
        assert!(err.to_string().contains("hub.allowed_networks"), "{err}");
        let refused = EgressPolicy::default().refusal("169.254.169.254".parse().unwrap());
        assert!(refused.unwrap().contains("link-local"));
        let strict = EgressPolicy::default();
        for url in [
            "http://127.0.0.1:9/x",
            "http://localhost/",
            "https://user:pw@10.0.0.1/",
            "http://[::1]:8080/",
            "http://169.254.169.254/latest",
            "http://api.localhost/",
        ] {
            assert!(strict.check_url("base_url", url).is_err(), "{url}");
        }
        assert!(
            strict
                .check_url("base_url", "https://example.com/api")
                .is_ok()
        );
        assert!(
            EgressPolicy::with_loopback()
                .check_url("u", "http://localhost:1/")
                .is_ok()
        );
    }
}
