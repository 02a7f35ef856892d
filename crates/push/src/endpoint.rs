//! Which addresses a Web Push endpoint may reach. Endpoints are URLs a client supplies and the
//! server then POSTs to, so without a check anyone could make the server call its own loopback,
//! the cloud metadata service or the private network (server-side request forgery).
//!
//! Three checks, under one [`EndpointPolicy`]:
//! - [`validate_endpoint`] when a subscription is registered: a bounded `https` URL with a host
//!   and no user info;
//! - [`EndpointPolicy::check_literal`]: a host written as an IP address must be a public one
//!   (the HTTP client never asks a resolver about IP literals, so this is the only check they get);
//! - [`PolicyResolver`] when connecting: a host name is resolved and only its public addresses are
//!   used, so a name that resolves (or is later re-pointed) to `127.0.0.1` is refused at send time.
//!
//! The Web Push client follows no redirects and uses no proxy, so no other path reaches an address
//! these checks did not see.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::EndpointError;

/// Longest endpoint accepted, in bytes (real ones are under 600).
pub const MAX_ENDPOINT_LEN: usize = 2048;

/// Which addresses push requests to user-supplied endpoints may reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    /// Allow loopback, private, link-local and every other non-public address. For tests that run
    /// a push service on `localhost` only; never in a deployment.
    pub allow_private: bool,
}

impl EndpointPolicy {
    /// Whether a connection to `ip` is permitted.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }

    /// [`validate_endpoint`] and [`EndpointPolicy::check_literal`]: what the REST route checks.
    pub fn validate(&self, endpoint: &str) -> Result<Url, EndpointError> {
        let url = validate_endpoint(endpoint)?;
        self.check_literal(&url)?;
        Ok(url)
    }

    /// Refuses a URL whose host is an IP address this policy does not permit (host names are left
    /// to [`PolicyResolver`]).
    pub fn check_literal(&self, url: &Url) -> Result<(), EndpointError> {
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(Host::Domain(_)) => return Ok(()),
            None => return Err(EndpointError::NoHost),
        };
        if self.permits(ip) {
            Ok(())
        } else {
            Err(EndpointError::ForbiddenAddress(ip))
        }
    }

    /// The resolver enforcing this policy on host names.
    pub fn resolver(&self) -> PolicyResolver {
        PolicyResolver { policy: *self }
    }
}

/// The syntactic check of a Web Push endpoint: at most [`MAX_ENDPOINT_LEN`] bytes, an `https` URL
/// with a host and without user name or password.
pub fn validate_endpoint(endpoint: &str) -> Result<Url, EndpointError> {
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(EndpointError::TooLong);
    }
    let url = Url::parse(endpoint).map_err(|_| EndpointError::Unparseable)?;
    if url.scheme() != "https" {
        return Err(EndpointError::NotHttps);
    }
    if url.host().is_none() {
        return Err(EndpointError::NoHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::UserInfo);
    }
    Ok(url)
}

/// A DNS resolver (the system's, through tokio) that drops every address its policy does not
/// permit and fails when none is left.
#[derive(Debug, Clone, Copy)]
pub struct PolicyResolver {
    policy: EndpointPolicy,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str();
            // A failed lookup stays an I/O error (worth retrying); a refusal is an
            // `EndpointError`, which the provider finds among the error's sources (final).
            let resolved = tokio::net::lookup_host((host, 0)).await?;
            let permitted: Vec<SocketAddr> = resolved.filter(|addr| policy.permits(addr.ip())).collect();
            if permitted.is_empty() {
                return Err(Box::new(EndpointError::NoPermittedAddress(host.to_owned())) as _);
            }
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

/// IPv4 networks no push request may reach: (network, prefix length).
const FORBIDDEN_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network"
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // carrier-grade NAT
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local, with the cloud metadata service
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, and 255.255.255.255 broadcast
];

/// IPv6 networks no push request may reach, besides everything outside global unicast
/// (`2000::/3`), which covers `::`, `::1`, `fc00::/7` (unique local, with AWS's `fd00:ec2::254`),
/// `fe80::/10`, `fec0::/10` and `ff00::/8`.
const FORBIDDEN_V6: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local-use NAT64
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
];

/// Whether `ip` is a public unicast address, one a push service may have.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    !FORBIDDEN_V4.iter().any(|&(net, len)| ip >> (32 - len) == u32::from(net) >> (32 - len))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // Addresses that carry an IPv4 address reach that address: judge it instead.
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let bits = u128::from(ip);
    let in_net = |net: Ipv6Addr, len: u8| bits >> (128 - len) == u128::from(net) >> (128 - len);
    in_net(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3)
        && !FORBIDDEN_V6.iter().any(|&(net, len)| in_net(net, len))
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, which
/// includes `::` and `::1`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4 (`2002:aabb:ccdd::`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_ipv4_addresses() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.1.2.3",
            "169.254.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} must be refused");
        }
    }

    #[test]
    fn public_ipv4_addresses_next_to_forbidden_ranges() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "142.250.74.138",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} must be allowed");
        }
    }

    #[test]
    fn forbidden_ipv6_addresses() {
        for ip in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fd00:ec2::254",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "100::1",
            "2001:db8::1",
            "64:ff9b:1::1",
            // IPv4 inside IPv6, judged as IPv4.
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::192.168.0.1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} must be refused");
        }
    }

    #[test]
    fn public_ipv6_addresses() {
        for ip in [
            "2001:4860:4860::8888",
            "2a00:1450:4001:80b::200a",
            "2606:4700::1111",
            "3fff:ffff::1",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} must be allowed");
        }
    }

    #[test]
    fn allow_private_allows_everything() {
        let policy = EndpointPolicy { allow_private: true };
        for ip in ["127.0.0.1", "::1", "169.254.169.254", "fd00:ec2::254"] {
            assert!(policy.permits(ip.parse().unwrap()));
        }
        assert!(!EndpointPolicy::default().permits("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn endpoints_are_bounded_https_urls_with_a_host_and_no_user_info() {
        assert!(validate_endpoint("https://fcm.googleapis.com/fcm/send/abc:def").is_ok());
        assert!(validate_endpoint("https://push.example:8443/x?y=z").is_ok());
        assert_eq!(validate_endpoint("not a url"), Err(EndpointError::Unparseable));
        assert_eq!(validate_endpoint("/relative"), Err(EndpointError::Unparseable));
        assert_eq!(validate_endpoint("http://push.example/x"), Err(EndpointError::NotHttps));
        assert_eq!(validate_endpoint("file:///etc/passwd"), Err(EndpointError::NotHttps));
        assert_eq!(validate_endpoint("https://user:pw@push.example/x"), Err(EndpointError::UserInfo));
        assert_eq!(validate_endpoint("https://user@push.example/x"), Err(EndpointError::UserInfo));
        let long = format!("https://push.example/{}", "a".repeat(MAX_ENDPOINT_LEN));
        assert_eq!(validate_endpoint(&long), Err(EndpointError::TooLong));
    }

    #[test]
    fn ip_literal_hosts_are_checked_in_every_spelling() {
        let policy = EndpointPolicy::default();
        for url in [
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[fd00:ec2::254]/",
            // Spellings the URL parser reads as IPv4 addresses.
            "https://2130706433/x",
            "https://0x7f.1/x",
            "https://127.1/x",
            "https://127.0.0.1./x",
        ] {
            assert!(
                matches!(policy.validate(url), Err(EndpointError::ForbiddenAddress(_))),
                "{url} must be refused"
            );
        }
        assert!(policy.validate("https://8.8.8.8/x").is_ok());
        assert!(policy.validate("https://localhost/x").is_ok(), "names are the resolver's to check");
        assert!(EndpointPolicy { allow_private: true }.validate("https://127.0.0.1/x").is_ok());
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_private_addresses() {
        let resolving = EndpointPolicy::default().resolver().resolve("localhost".parse().unwrap());
        let err = resolving.await.err().expect("localhost is refused");
        assert_eq!(
            err.downcast_ref::<EndpointError>(),
            Some(&EndpointError::NoPermittedAddress("localhost".into()))
        );
        let addrs = EndpointPolicy { allow_private: true }.resolver().resolve("localhost".parse().unwrap());
        assert!(addrs.await.unwrap().any(|a| a.ip() == IpAddr::from([127, 0, 0, 1])));
    }
}
