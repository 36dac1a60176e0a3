//! `[[exchange]]`: an Exchange namespace in a few lines (its addresses inside and outside, the
//! sites, Autodiscover, SRV domains and health checks), from which the records are generated;
//! and the views' `site_order`, which must name the sites these blocks define.

use std::net::IpAddr;

use toml::Spanned;

use super::file;
use super::health::{self, DEFAULT_CHECKED_TTL};
use super::locate::Context;
use super::values::{self, Integer, TTL_MAX};
use super::views::ViewConfig;
use crate::dns::name::Name;
use crate::health::Check;

/// TTL of records generated from `[[exchange]]` when the block gives none.
pub(super) const DEFAULT_EXCHANGE_TTL: u32 = 300;

/// `ttl`; a checked namespace defaults to [`DEFAULT_CHECKED_TTL`] instead.
const TTL: Integer = Integer {
    min: 0,
    max: TTL_MAX,
    default: DEFAULT_EXCHANGE_TTL as i64,
};

/// A validated `[[exchange]]` block.
#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    /// Lowercased.
    pub namespace: Name,
    pub internal: Vec<IpAddr>,
    pub external: Vec<IpAddr>,
    /// `autodiscover.<parent of namespace>`, when `autodiscover = true`.
    pub autodiscover: Option<Name>,
    /// Lowercased accepted domains that get an Autodiscover SRV record.
    pub srv_domains: Vec<Name>,
    /// Indexes into [`super::Config::views`] (`None` when the block has no addresses for that
    /// side and the view does not exist).
    pub internal_view: Option<usize>,
    pub external_view: Option<usize>,
    pub ttl: u32,
    /// Line of the block's `namespace` key: where generated records say they come from.
    pub line: u32,
    /// Health checks on the internal addresses, if on.
    pub health: Option<Check>,
    /// The internal addresses by site: the `[[exchange.site]]` entries, or one unnamed site
    /// holding `internal`.
    pub sites: Vec<Site>,
    /// The views that get the internal addresses (the internal view, and every view with a
    /// `site_order` naming one of this block's sites), each with the block's sites in that
    /// view's order of preference.
    pub inside: Vec<(usize, Vec<usize>)>,
}

#[derive(Debug, Clone)]
pub struct Site {
    /// Empty for the single-site form.
    pub name: String,
    pub internal: Vec<IpAddr>,
}

pub(super) fn validate(
    section: &file::ExchangeSection,
    views: &[ViewConfig],
    cx: &mut Context,
) -> Option<ExchangeConfig> {
    let mark = cx.mark();
    let namespace = values::domain(&section.namespace, "namespace", cx);
    let single_site = addresses(&section.internal, cx);
    let external = addresses(&section.external, cx);
    let sites = sites(section, single_site, cx);
    let internal: Vec<IpAddr> = sites
        .iter()
        .flat_map(|s| s.internal.iter().copied())
        .collect();
    let [internal_view, external_view] = [
        (&section.internal_view, "internal", !internal.is_empty()),
        (&section.external_view, "external", !external.is_empty()),
    ]
    .map(|(key, default, needed)| view_index(section, key, default, needed, views, cx));
    let srv_domains: Vec<Name> = section
        .srv_domains
        .iter()
        .filter_map(|d| values::domain(d, "srv_domains entry", cx))
        .collect();
    let health = section.health.as_ref().and_then(|h| {
        let check = health::check(h.get_ref(), "[exchange.health]", cx);
        if internal.is_empty() {
            cx.error(
                h.span(),
                "[exchange.health] checks the internal addresses, and this block has none",
            );
        }
        check
    });
    let inside = inside(views, &sites, internal_view, internal.is_empty());
    if cx.erred_since(mark) {
        return None;
    }
    let namespace = namespace?;
    let autodiscover = match (section.autodiscover, namespace.parent()) {
        (false, _) => None,
        (true, Some(parent)) if !parent.is_root() => {
            Some(parent.prepend_label(b"autodiscover").ok()?)
        }
        (true, _) => {
            cx.error(
                section.namespace.span(),
                "autodiscover = true needs a namespace below a domain (e.g. mail.contoso.example)",
            );
            return None;
        }
    };
    let ttl = Integer {
        default: if health.is_some() {
            DEFAULT_CHECKED_TTL
        } else {
            DEFAULT_EXCHANGE_TTL
        }
        .into(),
        ..TTL
    };
    Some(ExchangeConfig {
        namespace,
        internal,
        external,
        autodiscover,
        srv_domains,
        internal_view,
        external_view,
        ttl: ttl.check(section.ttl.as_ref(), "[[exchange]] ttl", cx) as u32,
        line: cx.line_of(section.namespace.span()),
        health,
        sites,
        inside,
    })
}

fn addresses(list: &[Spanned<String>], cx: &mut Context) -> Vec<IpAddr> {
    list.iter()
        .filter_map(|addr| values::parsed(addr, "address", "expected an IPv4 or IPv6 address", cx))
        .collect()
}

/// The `[[exchange.site]]` entries, or the block's `internal` as one unnamed site; never both.
fn sites(section: &file::ExchangeSection, single_site: Vec<IpAddr>, cx: &mut Context) -> Vec<Site> {
    let mut sites: Vec<Site> = Vec::new();
    for site in &section.sites {
        if !section.internal.is_empty() {
            cx.error(
                site.name.span(),
                "[[exchange.site]] and internal = [...] in one [[exchange]] block: list the addresses in the sites only",
            );
        }
        if sites.iter().any(|s| s.name == *site.name.get_ref()) || site.name.get_ref().is_empty() {
            cx.error(
                site.name.span(),
                format!("site name {:?} is empty or used twice", site.name.get_ref()),
            );
        }
        sites.push(Site {
            name: site.name.get_ref().clone(),
            internal: addresses(&site.internal, cx),
        });
    }
    if sites.is_empty() && !single_site.is_empty() {
        sites.push(Site {
            name: String::new(),
            internal: single_site,
        });
    }
    sites
}

/// The view `key` names, or the view named `default`. One that does not exist is an error when
/// the key is written or the view has addresses to get (`needed`).
fn view_index(
    section: &file::ExchangeSection,
    key: &Option<Spanned<String>>,
    default: &str,
    needed: bool,
    views: &[ViewConfig],
    cx: &mut Context,
) -> Option<usize> {
    let (name, span) = match key {
        Some(name) => (name.get_ref().as_str(), name.span()),
        None => (default, section.namespace.span()),
    };
    let index = views.iter().position(|v| v.name == name);
    if index.is_none() && (needed || key.is_some()) {
        cx.error(
            span,
            format!("[[exchange]] addresses go to view {name:?}, which is not defined (set internal_view / external_view)"),
        );
    }
    index
}

/// The views that get the internal addresses, each with its order of this block's sites: the
/// sites its site_order names first, then the others as declared.
fn inside(
    views: &[ViewConfig],
    sites: &[Site],
    internal_view: Option<usize>,
    no_internal: bool,
) -> Vec<(usize, Vec<usize>)> {
    let mut inside: Vec<(usize, Vec<usize>)> = Vec::new();
    for (index, view) in views.iter().enumerate() {
        let named: Vec<usize> = view
            .site_order
            .iter()
            .filter_map(|name| {
                sites
                    .iter()
                    .position(|s| !s.name.is_empty() && s.name == *name)
            })
            .collect();
        if Some(index) != internal_view && named.is_empty() || no_internal {
            continue;
        }
        let rest: Vec<usize> = (0..sites.len())
            .filter(|site| !named.contains(site))
            .collect();
        let mut order = named;
        order.extend(rest);
        inside.push((index, order));
    }
    inside
}

/// Every name a view's site_order lists must be a site of some `[[exchange]]` block.
pub(super) fn check_site_order(
    views: &[file::ViewSection],
    exchange: &[ExchangeConfig],
    cx: &mut Context,
) {
    for section in views {
        for site in section.site_order.iter().flatten() {
            if !exchange
                .iter()
                .any(|block| block.sites.iter().any(|s| s.name == *site.get_ref()))
            {
                cx.error(
                    site.span(),
                    format!(
                        "site_order names site {:?}, which no [[exchange.site]] defines",
                        site.get_ref()
                    ),
                );
            }
        }
    }
}
