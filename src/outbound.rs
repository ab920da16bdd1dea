//! Where the server may connect. Every outbound HTTP request (captcha siteverify today, webhooks
//! and migrations later) goes through an [`OutboundClient`] made by [`Outbound::client`], which
//! refuses addresses that are not public (loopback, private, link-local and cloud metadata,
//! CGNAT, multicast, documentation, reserved, and IPv6 forms that embed such an IPv4 address)
//! unless the operator lists them in `server.outbound_allow`.
//!
//! The check is made where it cannot be dodged: on the addresses DNS answers (the client's own
//! resolver drops refused ones, so a name pointing at 127.0.0.1 connects nowhere), on IP
//! literals before a request is built, and on every redirect hop. System proxies are not used
//! (a proxy would resolve names where this check cannot see them).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why an outbound request was refused; the text names the setting that would allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not an absolute http(s) URL with a host.
    BadUrl(String),
    /// An address that is not public and not in `server.outbound_allow`.
    Address {
        /// The address.
        ip: IpAddr,
        /// What kind of address it is (`loopback`, `private`, …).
        class: &'static str,
    },
    /// A name whose addresses are all refused (or that has none).
    Name {
        /// The name.
        host: String,
        /// The refused addresses with their kinds.
        refused: Vec<(IpAddr, &'static str)>,
    },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::BadUrl(why) => write!(f, "outbound request refused: {why}"),
            Refused::Address { ip, class } => write!(
                f,
                "outbound request refused: {ip} is a {class} address (allow it with server.outbound_allow)"
            ),
            Refused::Name { host, refused } if refused.is_empty() => {
                write!(f, "outbound request refused: {host} has no address")
            }
            Refused::Name { host, refused } => {
                let list: Vec<String> = refused
                    .iter()
                    .map(|(ip, class)| format!("{ip} {class}"))
                    .collect();
                write!(
                    f,
                    "outbound request refused: {host} resolves only to addresses that are not public ({}; allow them with server.outbound_allow)",
                    list.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for Refused {}

/// What kind of non-public address `ip` is; `None` for a public (globally routable) one.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let class = match (a, b, c) {
        (0, _, _) => "unspecified",
        (10, _, _) => "private",
        (100, b, _) if b & 0xc0 == 64 => "shared (CGNAT)",
        (127, _, _) => "loopback",
        (169, 254, _) => "link-local",
        (172, b, _) if b & 0xf0 == 16 => "private",
        (192, 0, 0) | (192, 88, 99) => "reserved",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (192, 168, _) => "private",
        (198, b, _) if b & 0xfe == 18 => "benchmarking",
        (224..=239, _, _) => "multicast",
        _ if ip.is_broadcast() => "broadcast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    };
    Some(class)
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    let class = match s {
        // IPv4-mapped ::ffff:a.b.c.d: the IPv4 address is what is reached.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => return classify_v4(embedded(hi, lo)),
        // IPv4-compatible ::a.b.c.d (deprecated) and the rest of ::/96.
        [0, 0, 0, 0, 0, 0, _, _] => "reserved",
        // NAT64 (RFC 6052): the translator reaches the embedded IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return classify_v4(embedded(hi, lo)),
        [0x64, 0xff9b, 1, ..] => "private",
        [0x100, 0, 0, 0, ..] => "reserved",
        [0x2001, 0xdb8, ..] => "documentation",
        [0x2001, b, ..] if b < 0x200 => "reserved",
        // 6to4: the relay reaches the embedded IPv4 address.
        [0x2002, hi, lo, ..] => return classify_v4(embedded(hi, lo)),
        [0x3fff, b, ..] if b < 0x1000 => "documentation",
        [a, ..] if a & 0xfe00 == 0xfc00 => "private (unique local)",
        [a, ..] if a & 0xffc0 == 0xfe80 => "link-local",
        [a, ..] if a & 0xffc0 == 0xfec0 => "private (site-local)",
        [a, ..] if a & 0xff00 == 0xff00 => "multicast",
        // Only 2000::/3 is global unicast; the rest is unassigned or special.
        [a, ..] if a & 0xe000 != 0x2000 => "reserved",
        _ => return None,
    };
    Some(class)
}

/// The operator's outbound policy (`server.outbound_allow`). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Outbound {
    allow: Arc<Vec<IpNet>>,
}

/// Whether a client follows redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirects {
    /// A 3xx is the answer.
    None,
    /// Up to this many hops, each checked like the first request.
    Follow(usize),
}

impl Outbound {
    /// A policy refusing non-public addresses except those in `allow`.
    pub fn new(allow: Vec<IpNet>) -> Outbound {
        Outbound {
            allow: Arc::new(allow),
        }
    }

    /// Refuses `ip` unless it is public or the operator allows it. An IPv4-mapped IPv6
    /// address is also allowed by an IPv4 entry for its IPv4 address.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refused> {
        let Some(class) = classify(ip) else {
            return Ok(());
        };
        let canonical = ip.to_canonical();
        if self
            .allow
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
        {
            return Ok(());
        }
        Err(Refused::Address { ip, class })
    }

    /// Refuses a URL that is not http(s) with a host, or whose host is a refused IP literal
    /// (names are checked when they are resolved).
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused::BadUrl(format!(
                "scheme {:?} is not http or https",
                url.scheme()
            )));
        }
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            Some(Host::Domain(d)) if !d.is_empty() => Ok(()),
            _ => Err(Refused::BadUrl("the URL has no host".into())),
        }
    }

    /// An HTTP client under this policy (rustls with the webpki roots, no system proxy).
    pub fn client(&self, redirects: Redirects) -> Result<OutboundClient, String> {
        let redirect = match redirects {
            Redirects::None => reqwest::redirect::Policy::none(),
            Redirects::Follow(max) => {
                let policy = self.clone();
                reqwest::redirect::Policy::custom(move |attempt| {
                    if attempt.previous().len() > max {
                        let error = format!("more than {max} redirects");
                        return attempt.error(error);
                    }
                    match policy.check_url(attempt.url()) {
                        Ok(()) => attempt.follow(),
                        Err(refused) => attempt.error(refused),
                    }
                })
            }
        };
        let client = reqwest::Client::builder()
            .redirect(redirect)
            .no_proxy()
            .dns_resolver(Arc::new(Resolver {
                policy: self.clone(),
            }))
            .user_agent(concat!("enroll/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("outbound HTTP client: {e}"))?;
        Ok(OutboundClient {
            client,
            policy: self.clone(),
        })
    }
}

/// A `reqwest::Client` that only reaches what [`Outbound`] permits. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    policy: Outbound,
}

impl OutboundClient {
    /// A request to `url`, or why the policy refuses it before anything is sent.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, Refused> {
        let parsed = Url::parse(url).map_err(|e| Refused::BadUrl(format!("not a URL ({e})")))?;
        self.policy.check_url(&parsed)?;
        Ok(self.client.request(method, parsed))
    }

    /// A POST to `url` (see [`OutboundClient::request`]).
    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, Refused> {
        self.request(reqwest::Method::POST, url)
    }

    /// A GET of `url` (see [`OutboundClient::request`]).
    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, Refused> {
        self.request(reqwest::Method::GET, url)
    }
}

/// The system resolver, keeping only the addresses the policy permits.
struct Resolver {
    policy: Outbound,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut permitted = Vec::new();
            let mut refused = Vec::new();
            for addr in found {
                match policy.check_ip(addr.ip()) {
                    Ok(()) => permitted.push(addr),
                    Err(Refused::Address { ip, class }) => refused.push((ip, class)),
                    Err(_) => {}
                }
            }
            if permitted.is_empty() {
                return Err(Box::new(Refused::Name { host, refused }) as _);
            }
            let addrs: Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn non_public_addresses_are_classified() {
        for (addr, class) in [
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("100.127.255.255", "shared (CGNAT)"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("192.0.0.170", "reserved"),
            ("192.0.2.1", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:10.0.0.1", "private"),
            ("::127.0.0.1", "reserved"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("2002:7f00:1::1", "loopback"),
            ("2002:c0a8:101::1", "private"),
            ("fc00::1", "private (unique local)"),
            ("fd12:3456::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("fec0::1", "private (site-local)"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("2001::1", "reserved"),
            ("100::1", "reserved"),
            ("4000::1", "reserved"),
        ] {
            assert_eq!(classify(ip(addr)), Some(class), "{addr}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "169.253.0.1",
            "192.169.0.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(classify(ip(addr)), None, "{addr}");
            assert!(Outbound::default().check_ip(ip(addr)).is_ok(), "{addr}");
        }
    }

    #[test]
    fn the_allow_list_opens_exactly_its_networks() {
        let policy = Outbound::new(vec![
            "127.0.0.0/8".parse().unwrap(),
            "fd00::/8".parse().unwrap(),
        ]);
        assert!(policy.check_ip(ip("127.0.0.1")).is_ok());
        assert!(policy.check_ip(ip("::ffff:127.0.0.1")).is_ok());
        assert!(policy.check_ip(ip("fd00::5")).is_ok());
        assert!(policy.check_ip(ip("::1")).is_err());
        assert!(policy.check_ip(ip("10.0.0.1")).is_err());
        assert_eq!(
            policy.check_ip(ip("169.254.169.254")),
            Err(Refused::Address {
                ip: ip("169.254.169.254"),
                class: "link-local"
            })
        );
        assert!(Outbound::default().check_ip(ip("127.0.0.1")).is_err());
    }

    #[test]
    fn urls_are_checked_by_scheme_and_literal_host() {
        let policy = Outbound::default();
        let check = |u: &str| policy.check_url(&Url::parse(u).unwrap());
        for refused in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1:8080/x",
            "https://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/",
            "http://0.0.0.0/",
            "ftp://example.com/",
            "file:///etc/passwd",
        ] {
            assert!(check(refused).is_err(), "{refused}");
        }
        assert!(check("https://www.google.com/recaptcha/api/siteverify").is_ok());
        assert!(check("https://8.8.8.8/").is_ok());
        // Names pass here; their addresses are checked by the resolver.
        assert!(check("http://localhost/").is_ok());
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        let resolver = Resolver {
            policy: Outbound::default(),
        };
        let error = resolver
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .unwrap();
        let text = error.to_string();
        assert!(text.contains("localhost resolves only to"), "{text}");
        assert!(text.contains("127.0.0.1 loopback"), "{text}");
        let allowed = Resolver {
            policy: Outbound::new(vec!["127.0.0.0/8".parse().unwrap()]),
        };
        let addrs: Vec<SocketAddr> = allowed
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty());
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().to_canonical().is_loopback() && a.is_ipv4()),
            "{addrs:?}"
        );
    }
}
