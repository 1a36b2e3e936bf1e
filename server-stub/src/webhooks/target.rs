//! Where a webhook may point: server-side request forgery stops here. A
//! URL is `https://` with a host and no credentials; plain `http://` only
//! to this machine and only with `--webhooks-allow-loopback-http`. Every
//! address its host resolves to must be public (not loopback, private,
//! link-local, shared, multicast, documentation or reserved) unless the
//! operator allows loopback (`--webhooks-allow-loopback-http`) or private
//! networks (`--webhooks-allow-private`). The check runs when the webhook is
//! created and again at each attempt, whose connection goes to the
//! addresses just checked (a name that resolves elsewhere a second later
//! changes nothing).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

/// What the operator allows webhooks to point at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// `http://` to this machine, and loopback addresses.
    pub allow_loopback_http: bool,
    /// Private, link-local and other non-public addresses.
    pub allow_private: bool,
}

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a URL.
    #[error("the webhook URL is not a URL")]
    Malformed,
    /// Too long.
    #[error("the webhook URL is longer than 2000 characters")]
    TooLong,
    /// Not `https://` (or `http://` to this machine when allowed).
    #[error(
        "a webhook URL is https:// (plain http:// only to this machine, when the operator allows it)"
    )]
    NotHttps,
    /// A user name or password in the URL.
    #[error("a webhook URL carries no user name or password")]
    Credentials,
    /// The host resolves to an address the policy refuses.
    #[error(
        "the webhook URL's host is on a loopback, private or link-local network, which this server does not call"
    )]
    RefusedAddress,
    /// The host could not be resolved.
    #[error("the webhook URL's host cannot be resolved")]
    Unresolvable,
}

impl TargetError {
    /// The stable kind recorded with an attempt.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RefusedAddress => "refused_address",
            Self::Unresolvable => "resolve",
            Self::Malformed | Self::TooLong | Self::NotHttps | Self::Credentials => "refused_url",
        }
    }
}

/// What an address is, for the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Public,
    Loopback,
    NonPublic,
}

fn class_v4(ip: Ipv4Addr) -> Class {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return Class::Loopback;
    }
    let non_public = ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved
    if non_public {
        Class::NonPublic
    } else {
        Class::Public
    }
}

fn class_v6(ip: Ipv6Addr) -> Class {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return class_v4(v4);
    }
    if ip.is_loopback() {
        return Class::Loopback;
    }
    let s = ip.segments();
    let non_public = ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64: an IPv4 address inside
        || s[0] == 0x2002 // 6to4: an IPv4 address inside
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0); // IPv4-compatible
    if non_public {
        Class::NonPublic
    } else {
        Class::Public
    }
}

/// Whether the policy lets a webhook call `ip`.
pub fn allowed(ip: IpAddr, policy: TargetPolicy) -> bool {
    let class = match ip {
        IpAddr::V4(v4) => class_v4(v4),
        IpAddr::V6(v6) => class_v6(v6),
    };
    match class {
        Class::Public => true,
        Class::Loopback => policy.allow_loopback_http,
        Class::NonPublic => policy.allow_private,
    }
}

/// A URL's host: an address, or a name.
enum Host<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

fn host(url: &Url) -> Option<Host<'_>> {
    let text = url.host_str()?;
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    Some(match bare.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(text),
    })
}

fn is_loopback_host(url: &Url) -> bool {
    match host(url) {
        Some(Host::Name(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ip(ip)) => ip.to_canonical().is_loopback(),
        None => false,
    }
}

/// Checks a URL's form (before any lookup); the parsed URL.
pub fn check_url(text: &str, policy: TargetPolicy) -> Result<Url, TargetError> {
    if text.len() > 2000 {
        return Err(TargetError::TooLong);
    }
    let url = Url::parse(text.trim()).map_err(|_| TargetError::Malformed)?;
    if host(&url).is_none() {
        return Err(TargetError::Malformed);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_loopback_http && is_loopback_host(&url) => {}
        _ => return Err(TargetError::NotHttps),
    }
    Ok(url)
}

/// Resolves a checked URL's host; every address must be allowed (one
/// refused address refuses the URL). The addresses to connect to.
pub async fn resolve(url: &Url, policy: TargetPolicy) -> Result<Vec<SocketAddr>, TargetError> {
    let port = url.port_or_known_default().ok_or(TargetError::Malformed)?;
    let addrs: Vec<SocketAddr> = match host(url) {
        Some(Host::Ip(ip)) => vec![SocketAddr::new(ip, port)],
        Some(Host::Name(name)) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|_| TargetError::Unresolvable)?
            .collect(),
        None => return Err(TargetError::Malformed),
    };
    if addrs.is_empty() {
        return Err(TargetError::Unresolvable);
    }
    if addrs
        .iter()
        .any(|a| !allowed(a.ip().to_canonical(), policy))
    {
        return Err(TargetError::RefusedAddress);
    }
    // Plain http goes to this machine only, whatever the name says.
    if url.scheme() == "http" && addrs.iter().any(|a| !a.ip().to_canonical().is_loopback()) {
        return Err(TargetError::NotHttps);
    }
    Ok(addrs)
}

/// Checks a URL as it is registered: its form, then its addresses.
pub async fn check(text: &str, policy: TargetPolicy) -> Result<Url, TargetError> {
    let url = check_url(text, policy)?;
    resolve(&url, policy).await?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: TargetPolicy = TargetPolicy {
        allow_loopback_http: false,
        allow_private: false,
    };

    #[test]
    fn only_public_addresses_pass_a_strict_policy() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "::a00:1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!allowed(ip, STRICT), "{ip} must be refused");
        }
        for ip in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "172.32.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(allowed(ip, STRICT), "{ip} is public");
        }
        let loopback = TargetPolicy {
            allow_loopback_http: true,
            ..STRICT
        };
        assert!(allowed("127.0.0.1".parse().unwrap(), loopback));
        assert!(!allowed("10.0.0.1".parse().unwrap(), loopback));
        let private = TargetPolicy {
            allow_private: true,
            ..STRICT
        };
        assert!(allowed("10.0.0.1".parse().unwrap(), private));
        assert!(!allowed("127.0.0.1".parse().unwrap(), private));
    }

    #[test]
    fn urls_are_https_without_credentials_and_http_only_to_this_machine() {
        let loopback = TargetPolicy {
            allow_loopback_http: true,
            ..STRICT
        };
        assert!(check_url("https://hooks.example.org/keyway", STRICT).is_ok());
        assert_eq!(
            check_url("http://hooks.example.org/", STRICT),
            Err(TargetError::NotHttps)
        );
        assert_eq!(
            check_url("http://127.0.0.1:8080/", STRICT),
            Err(TargetError::NotHttps)
        );
        assert!(check_url("http://127.0.0.1:8080/", loopback).is_ok());
        assert!(check_url("http://localhost:8080/", loopback).is_ok());
        assert!(check_url("http://[::1]:8080/", loopback).is_ok());
        for text in [
            "http://hooks.example.org/",
            "http://127.0.0.1.nip.io/",
            "http://localhost.example.org/",
            "http://127.0.0.1@hooks.example.org/",
        ] {
            assert!(check_url(text, loopback).is_err(), "{text}");
        }
        assert_eq!(
            check_url("https://user:pw@hooks.example.org/", STRICT),
            Err(TargetError::Credentials)
        );
        assert_eq!(
            check_url("ftp://hooks.example.org/", STRICT),
            Err(TargetError::NotHttps)
        );
        assert_eq!(check_url("not a url", STRICT), Err(TargetError::Malformed));
        assert_eq!(
            check_url("mailto:a@example.org", STRICT),
            Err(TargetError::Malformed)
        );
        assert_eq!(
            check_url(
                &format!("https://a.example.org/{}", "x".repeat(2000)),
                STRICT
            ),
            Err(TargetError::TooLong)
        );
    }

    #[tokio::test]
    async fn names_are_judged_by_the_addresses_they_resolve_to() {
        // `localhost` resolves without a network, to loopback.
        assert_eq!(
            check("https://localhost/", STRICT).await,
            Err(TargetError::RefusedAddress)
        );
        assert_eq!(
            check("https://169.254.169.254/latest/meta-data/", STRICT).await,
            Err(TargetError::RefusedAddress)
        );
        assert_eq!(
            check("https://[::ffff:10.0.0.1]/", STRICT).await,
            Err(TargetError::RefusedAddress)
        );
        let loopback = TargetPolicy {
            allow_loopback_http: true,
            ..STRICT
        };
        assert!(check("http://localhost:9/", loopback).await.is_ok());
        assert_eq!(
            check("https://10.0.0.1/", loopback).await,
            Err(TargetError::RefusedAddress)
        );
    }
}
