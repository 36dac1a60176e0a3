//! A view's recursion: `recursion`, `forwarders`, `[[view.forward]]` and `[view.resolver]`.
//! A view that faces the public may not recurse unless `open_resolver = true` says the admin
//! means it; an upstream that is one of our own listen addresses would ask ourselves; a
//! recursive view with nowhere to forward could only fail.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use toml::Spanned;

use super::file;
use super::locate::Context;
use super::values::{self, Integer, Min, Seconds};
use crate::dns::name::Name;
use crate::resolve::Settings as ResolverSettings;

/// A recursive view's upstreams and resolver settings.
#[derive(Debug, Clone)]
pub struct RecursionConfig {
    /// Upstream recursive resolvers, in order.
    pub forwarders: Vec<SocketAddr>,
    /// Conditional forwarders: (lowercased zone, its servers in order).
    pub forward_zones: Vec<(Name, Vec<SocketAddr>)>,
    pub settings: ResolverSettings,
}

pub(super) fn recursion(
    section: &file::ViewSection,
    public: bool,
    clients: &[IpNet],
    listen: &[SocketAddr],
    cx: &mut Context,
) -> Option<RecursionConfig> {
    let name = section.name.get_ref();
    let forwarders = upstreams(&section.forwarders, "forwarder", listen, cx);
    let forward_zones = forward_zones(section, listen, cx);
    let settings = settings(section.resolver.as_ref(), cx);
    let recursion = section.recursion.as_ref();
    let enabled = recursion.is_some_and(|r| *r.get_ref());
    let first_key = section
        .forwarders
        .first()
        .map(|f| f.span())
        .or_else(|| section.forward.first().map(|f| f.zone.span()));
    if !enabled {
        if let Some(span) = first_key {
            cx.error(
                span,
                format!("view {name:?} lists forwarders but has no `recursion = true`: they would never be asked"),
            );
        }
        return None;
    }
    let span = recursion.expect("enabled").span();
    let faces_public = public
        || clients
            .iter()
            .any(crate::address_space::covers_public_space);
    if faces_public && !section.open_resolver {
        cx.error(
            span.clone(),
            format!(
                "view {name:?} faces the public (public = true, or clients beyond private address space) and would recurse for anyone: an open resolver. Turn recursion off here, or set open_resolver = true if that is really meant"
            ),
        );
    }
    if section.forwarders.is_empty() && section.forward.is_empty() {
        cx.error(
            span,
            format!(
                "view {name:?} has recursion = true but no forwarders and no [[view.forward]]: set forwarders = [\"ADDRESS\", …]"
            ),
        );
    }
    Some(RecursionConfig {
        forwarders,
        forward_zones,
        settings,
    })
}

/// Upstream addresses (`key` names the list in messages); one of our own is an error.
fn upstreams(
    list: &[Spanned<String>],
    key: &str,
    listen: &[SocketAddr],
    cx: &mut Context,
) -> Vec<SocketAddr> {
    let mut parsed = Vec::new();
    for entry in list {
        match values::upstream(entry.get_ref()) {
            Some(addr) if is_own_listen_address(addr, listen) => cx.error(
                entry.span(),
                format!(
                    "{key} {:?} is one of this server's own listen addresses: it would forward to itself",
                    entry.get_ref()
                ),
            ),
            Some(addr) => parsed.push(addr),
            None => cx.error(
                entry.span(),
                format!(
                    "bad {key} address {:?}: expected an IP address with an optional port, e.g. \"192.0.2.53\", \"192.0.2.53:5353\" or \"[2001:db8::53]:53\"",
                    entry.get_ref()
                ),
            ),
        }
    }
    parsed
}

/// `[[view.forward]]`: each zone (lowercased, once per view) with its servers.
fn forward_zones(
    section: &file::ViewSection,
    listen: &[SocketAddr],
    cx: &mut Context,
) -> Vec<(Name, Vec<SocketAddr>)> {
    let name = section.name.get_ref();
    let mut forward_zones: Vec<(Name, Vec<SocketAddr>)> = Vec::new();
    for zone in &section.forward {
        let to = upstreams(&zone.to, "[[view.forward]] server", listen, cx);
        if zone.to.is_empty() {
            cx.error(
                zone.zone.span(),
                format!(
                    "[[view.forward]] zone {:?} has no servers in `to`",
                    zone.zone.get_ref()
                ),
            );
        }
        let Ok(origin) = values::name(zone.zone.get_ref()) else {
            cx.error(
                zone.zone.span(),
                format!("bad [[view.forward]] zone {:?}", zone.zone.get_ref()),
            );
            continue;
        };
        let origin = origin.to_lowercase();
        if forward_zones.iter().any(|(other, _)| *other == origin) {
            cx.error(
                zone.zone.span(),
                format!("[[view.forward]] zone {origin} is listed twice in view {name:?}"),
            );
        }
        forward_zones.push((origin, to));
    }
    forward_zones
}

/// Whether queries to `addr` would reach this server: one of the listen addresses, or a
/// loopback address on the port of a wildcard listener.
fn is_own_listen_address(addr: SocketAddr, listen: &[SocketAddr]) -> bool {
    listen.iter().any(|own| {
        *own == addr
            || (own.ip().is_unspecified()
                && own.port() == addr.port()
                && (addr.ip().is_loopback() || addr.ip().is_unspecified()))
    })
}

/// `[view.resolver]`. The bounds are the config's: up to a week of caching (RFC 8767 suggests
/// stale data be kept 1 to 3 days), failures up to RFC 9520's five minutes, a cache of up to
/// 64 GiB. The defaults are the resolver's own ([`ResolverSettings::default`]), so that a view
/// without the table and one with it empty agree.
fn settings(raw: Option<&file::ResolverSection>, cx: &mut Context) -> ResolverSettings {
    let defaults = ResolverSettings::default();
    let Some(raw) = raw else { return defaults };
    let cache_ttl = |default: u32| Integer {
        min: 1,
        max: 604_800,
        default: default.into(),
    };
    let failure_ttl = Integer {
        min: 0,
        max: 300,
        default: defaults.failure_ttl.into(),
    };
    let serve_stale = Integer {
        min: 0,
        max: 604_800,
        default: defaults.serve_stale.map_or(0, |d| d.as_secs() as i64),
    };
    let cache_size_mib = Integer {
        min: 1,
        max: 65_536,
        default: (defaults.cache_bytes >> 20) as i64,
    };
    let max_outstanding = Integer {
        min: 1,
        max: 1_000_000,
        default: defaults.max_outstanding as i64,
    };
    // One try at one upstream.
    let timeout = Seconds {
        min: Min::AtLeast(0.05),
        max: 30.0,
        default: defaults.timeout,
    };
    let timeout = timeout.check(raw.timeout.as_ref(), "[view.resolver] timeout", cx);
    let serve_stale =
        serve_stale.check(raw.serve_stale.as_ref(), "[view.resolver] serve_stale", cx);
    ResolverSettings {
        timeout,
        max_ttl: cache_ttl(defaults.max_ttl).check(
            raw.max_ttl.as_ref(),
            "[view.resolver] max_ttl",
            cx,
        ) as u32,
        max_negative_ttl: cache_ttl(defaults.max_negative_ttl).check(
            raw.max_negative_ttl.as_ref(),
            "[view.resolver] max_negative_ttl",
            cx,
        ) as u32,
        failure_ttl: failure_ttl.check(raw.failure_ttl.as_ref(), "[view.resolver] failure_ttl", cx)
            as u32,
        serve_stale: (serve_stale > 0).then(|| Duration::from_secs(serve_stale as u64)),
        cache_bytes: (cache_size_mib.check(
            raw.cache_size_mib.as_ref(),
            "[view.resolver] cache_size_mib",
            cx,
        ) as usize)
            << 20,
        max_outstanding: max_outstanding.check(
            raw.max_outstanding.as_ref(),
            "[view.resolver] max_outstanding",
            cx,
        ) as usize,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::parse;
    use crate::config::tests::{EXAMPLE, errors_of};

    #[test]
    fn recursion_settings_are_validated_where_written() {
        let inside = "name = \"internal\"\nclients = [\"10.0.0.0/8\", \"192.168.0.0/16\", \"127.0.0.2/32\"]\n";
        let text = EXAMPLE.replace(
            inside,
            &format!("{inside}recursion = true\nforwarders = [\"192.0.2.53\", \"[2001:db8::53]:5353\", \"2001:db8::54\"]\n[[view.forward]]\nzone = \"Corp.Example.\"\nto = [\"10.0.0.21:5353\"]\n[view.resolver]\nserve_stale = 0\ntimeout = 0.5\n"),
        );
        let config = parse(&text, Path::new("/etc/splitdns/splitdns.toml")).unwrap();
        let recursion = config.views[0].recursion.as_ref().unwrap();
        assert_eq!(
            recursion.forwarders,
            [
                "192.0.2.53:53".parse().unwrap(),
                "[2001:db8::53]:5353".parse().unwrap(),
                "[2001:db8::54]:53".parse().unwrap()
            ]
        );
        assert_eq!(recursion.forward_zones[0].0.to_string(), "corp.example.");
        assert_eq!(recursion.settings.serve_stale, None);
        assert_eq!(recursion.settings.timeout, Duration::from_millis(500));
        assert!(config.views[1].recursion.is_none());

        // The external view may not recurse; nor may a view forward to our own listen address.
        let text = EXAMPLE
            .replace(
                "name = \"external\"\n",
                "name = \"external\"\nrecursion = true\nforwarders = [\"127.0.0.1:5353\"]\n",
            )
            .replace("[view.resolver]", "");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("/etc/splitdns/splitdns.toml:10:15: forwarder \"127.0.0.1:5353\" is one of this server's own listen addresses"), "{errors:?}");
        assert!(
            errors[1].starts_with(
                "/etc/splitdns/splitdns.toml:9:13: view \"external\" faces the public"
            ),
            "{errors:?}"
        );
        let open = text.replace(
            "recursion = true\n",
            "recursion = true\nopen_resolver = true\n",
        );
        assert_eq!(errors_of(&open).len(), 1, "open_resolver allows it");
    }
}
