//! `[[view]]`: who a view answers (client prefixes, keys), what it may do for them (chaos,
//! `[view.rrl]`, transfers, NOTIFY), and the checks that span views: a prefix or a key selects
//! one view only. Recursion, the other half of a view, is [`super::resolver`]'s.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use toml::Spanned;

use super::file;
use super::keys::{self, KeyConfig};
use super::locate::Context;
use super::resolver::{self, RecursionConfig};
use super::values::{self, Integer};
use crate::limits::RrlPolicy;
use crate::view::TransferAcl;

/// `[view.rrl]`: identical responses a second to one client network, and how many limited
/// responses go out truncated (one in `slip`; 0: none). At most a million a second keeps the
/// rate limiter's token count (thousandths) within 32 bits; slip as BIND allows it.
const RESPONSES_PER_SECOND: Integer = Integer {
    min: 1,
    max: 1_000_000,
    default: 20,
};
const SLIP: Integer = Integer {
    min: 0,
    max: 10,
    default: 2,
};

#[derive(Debug, Clone)]
pub struct ViewConfig {
    pub name: String,
    pub clients: Vec<IpNet>,
    /// Faces the Internet: private addresses here are errors.
    pub public: bool,
    /// Answers the CHAOS-class identity queries.
    pub chaos: bool,
    /// Response Rate Limiting, if on for this view.
    pub rrl: Option<RrlPolicy>,
    /// Where names outside the view's zones go, when `recursion = true`.
    pub recursion: Option<RecursionConfig>,
    /// Indexes into [`super::Config::keys`]: a request signed with one of them gets this view.
    pub keys: Vec<usize>,
    /// Who may transfer this view's zones.
    pub transfer: TransferAcl,
    /// Secondaries sent a NOTIFY when one of this view's zones changes.
    pub notify: Vec<SocketAddr>,
    /// The address NOTIFYs of its family leave from; otherwise the one the system routes from.
    /// A secondary takes a NOTIFY only from its primary's address, which a server with several
    /// may not pick by itself.
    pub notify_source: Option<IpAddr>,
    /// Line of the view's `name` key, for findings about the view as a whole.
    pub line: u32,
    /// `[[exchange.site]]` names, preferred first.
    pub site_order: Vec<String>,
    /// Serves signed zones signed (false: `dnssec = false`, this view serves them unsigned).
    pub dnssec: bool,
    /// The line of the view's `dnssec` key, where it has one.
    pub dnssec_line: Option<u32>,
}

pub(super) fn validate(
    raw: &[file::ViewSection],
    listen: &[SocketAddr],
    keys: &[KeyConfig],
    cx: &mut Context,
) -> Vec<ViewConfig> {
    // Which view each key selects, so that a key listed by two views can name both.
    let mut selecting: HashMap<usize, String> = HashMap::new();
    if raw.is_empty() {
        cx.error(0..0, "no [[view]] defined: at least one view is needed");
    }
    let mut views: Vec<ViewConfig> = Vec::new();
    // Where each prefix was first claimed, so a duplicate can name both places.
    let mut claimed: HashMap<IpNet, (String, u32)> = HashMap::new();
    for section in raw {
        let name = section.name.get_ref();
        check_name(&section.name, &views, cx);
        let clients = clients(section, &mut claimed, cx);
        let public = section.public.unwrap_or(name == "external");
        let rrl = rrl(section.rrl.as_ref(), &clients, cx);
        let recursion = resolver::recursion(section, public, &clients, listen, cx);
        let view_keys = selecting_keys(section, keys, &mut selecting, cx);
        let transfer = section
            .transfer
            .as_ref()
            .map(|t| transfer(t, keys, cx))
            .unwrap_or_default();
        let notify = section
            .notify
            .iter()
            .filter_map(|addr| {
                values::parsed(
                    addr,
                    "notify address",
                    "expected IP:PORT, e.g. \"192.0.2.53:53\"",
                    cx,
                )
            })
            .collect();
        let notify_source = section.notify_source.as_ref().and_then(|source| {
            values::parsed(
                source,
                "notify_source",
                "expected one of this server's IP addresses, e.g. \"10.0.0.53\"",
                cx,
            )
        });
        views.push(ViewConfig {
            name: name.clone(),
            clients,
            public,
            chaos: section.chaos,
            rrl,
            recursion,
            keys: view_keys,
            transfer,
            notify,
            notify_source,
            line: cx.line_of(section.name.span()),
            site_order: section
                .site_order
                .iter()
                .flatten()
                .map(|s| s.get_ref().clone())
                .collect(),
            dnssec: section.dnssec.as_ref().is_none_or(|d| *d.get_ref()),
            dnssec_line: section.dnssec.as_ref().map(|d| cx.line_of(d.span())),
        });
    }
    views
}

/// A view's name: letters, digits, '-' and '_' (it is a metric label, and a key in `[zone.views]`),
/// and not given twice.
fn check_name(name: &Spanned<String>, views: &[ViewConfig], cx: &mut Context) {
    let text = name.get_ref();
    if text.is_empty()
        || !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        cx.error(
            name.span(),
            format!("bad view name {text:?}: use letters, digits, '-' and '_'"),
        );
    }
    if views.iter().any(|v| &v.name == text) {
        cx.error(name.span(), format!("view {text:?} is defined twice"));
    }
}

/// The keys that select a view; one that already selects another view (`selecting`) is an
/// error naming that view.
fn selecting_keys(
    section: &file::ViewSection,
    keys: &[KeyConfig],
    selecting: &mut HashMap<usize, String>,
    cx: &mut Context,
) -> Vec<usize> {
    let view_keys = keys::indexes(&section.keys, keys, "keys", cx);
    for (index, spanned) in view_keys.iter().zip(&section.keys) {
        if let Some(other) = selecting.insert(*index, section.name.get_ref().clone()) {
            cx.error(
                spanned.span(),
                format!(
                    "key {:?} already selects view {other:?}: a key may select only one view",
                    spanned.get_ref()
                ),
            );
        }
    }
    view_keys
}

/// A view's client prefixes; one already `claimed` by a view is an error naming where.
fn clients(
    section: &file::ViewSection,
    claimed: &mut HashMap<IpNet, (String, u32)>,
    cx: &mut Context,
) -> Vec<IpNet> {
    let name = section.name.get_ref();
    let mut clients = Vec::new();
    for prefix in &section.clients {
        match values::prefix(prefix.get_ref()) {
            Ok(net) => {
                let line = cx.line_of(prefix.span());
                if let Some((other, other_line)) = claimed.get(&net) {
                    cx.error(
                        prefix.span(),
                        format!(
                            "prefix {net} is listed in view {other:?} (line {other_line}) and again in view {name:?}: each prefix may select only one view"
                        ),
                    );
                } else {
                    claimed.insert(net, (name.clone(), line));
                }
                clients.push(net);
            }
            Err(message) => cx.error(prefix.span(), message),
        }
    }
    clients
}

/// A `transfer = { allow, keys }` table: a view's, or a zone's for one view.
pub(super) fn transfer(
    raw: &file::TransferSection,
    keys: &[KeyConfig],
    cx: &mut Context,
) -> TransferAcl {
    TransferAcl {
        allow: values::prefixes(&raw.allow, cx),
        keys: keys::indexes(&raw.keys, keys, "transfer.keys", cx),
    }
}

/// `[view.rrl]`: on by default when the view's clients reach beyond private address space.
fn rrl(raw: Option<&file::RrlSection>, clients: &[IpNet], cx: &mut Context) -> Option<RrlPolicy> {
    let enabled = raw.and_then(|r| r.enabled).unwrap_or_else(|| {
        clients
            .iter()
            .any(crate::address_space::covers_public_space)
    });
    if !enabled {
        return None;
    }
    let exempt = match raw.and_then(|r| r.exempt.as_ref()) {
        Some(list) => values::prefixes(list, cx),
        // Loopback cannot be spoofed from outside.
        None => vec![
            "127.0.0.0/8".parse().expect("valid"),
            "::1/128".parse().expect("valid"),
        ],
    };
    Some(RrlPolicy {
        responses_per_second: RESPONSES_PER_SECOND.check(
            raw.and_then(|r| r.responses_per_second.as_ref()),
            "[view.rrl] responses_per_second",
            cx,
        ) as u32,
        slip: SLIP.check(raw.and_then(|r| r.slip.as_ref()), "[view.rrl] slip", cx) as u32,
        exempt,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse;
    use crate::config::tests::{EXAMPLE, errors_of};

    #[test]
    fn notify_source_is_an_address_located_when_bad() {
        let text = "[[view]]\nname = \"internal\"\nclients = [\"10.0.0.0/8\"]\n\
                    notify = [\"10.0.0.54:53\"]\nnotify_source = \"10.0.0.53:53\"\n";
        assert_eq!(
            errors_of(text),
            [
                "/etc/splitdns/splitdns.toml:5:17: bad notify_source \"10.0.0.53:53\": expected one of this server's IP addresses, e.g. \"10.0.0.53\""
            ]
        );
        let good = text.replace("10.0.0.53:53", "10.0.0.53");
        let config = parse(&good, Path::new("/etc/splitdns/splitdns.toml")).unwrap();
        assert_eq!(
            config.views[0].notify_source,
            Some("10.0.0.53".parse().unwrap())
        );
    }

    #[test]
    fn bad_cidr_and_duplicate_prefix_are_located() {
        let text = EXAMPLE.replace("\"0.0.0.0/0\"", "\"10.0.0.0/8\", \"300.1.0.0/16\"");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("/etc/splitdns/splitdns.toml:9:12: prefix 10.0.0.0/8 is listed in view \"internal\" (line 5)"), "{errors:?}");
        assert!(
            errors[1].starts_with(
                "/etc/splitdns/splitdns.toml:9:26: bad client prefix \"300.1.0.0/16\""
            ),
            "{errors:?}"
        );
    }
}
