//! `splitdns secondary-config --view NAME --for bind|knot|nsd --primary ADDR:PORT`: prints what
//! a secondary of one view needs, ready to paste into its config — the view's key, this server
//! as its primary (transfers and SOA checks signed with the key), the NOTIFYs it accepts from
//! us, and the view's zones. For BIND, a `view` keyed like ours and matching the clients ours
//! does; one BIND server mirroring several of our views gets them in one config (`--view` once
//! per view, the views in any order), each key defined once. Every config defines each key it
//! names, and carries no secret of a view it does not mirror.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use clap::ValueEnum;

use super::report_load_error;
use crate::config::Config;
use crate::load;
use crate::view::Snapshot;
use crate::wire::tsig::Key;

/// The secondary's software.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Secondary {
    Bind,
    Knot,
    Nsd,
}

pub fn run(
    config_path: &Path,
    views: &[String],
    secondary: Secondary,
    primary: SocketAddr,
) -> ExitCode {
    let loaded = match load::load(config_path) {
        Ok(loaded) => loaded,
        Err(error) => {
            report_load_error(&error);
            return ExitCode::FAILURE;
        }
    };
    match render(&loaded.config, &loaded.snapshot, views, secondary, primary) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// What the secondary of one view is given: the view, the key it signs with, its zones.
struct Mirrored<'c> {
    name: &'c str,
    index: usize,
    key: Option<&'c Key>,
    zones: Vec<String>,
}

/// The config, or why there is none (no such view, a view nobody may transfer, several views
/// for software without views). Every key it names, it defines, and it holds no secret of a view
/// it does not mirror.
pub fn render(
    config: &Config,
    snapshot: &Snapshot,
    view_names: &[String],
    secondary: Secondary,
    primary: SocketAddr,
) -> Result<String, String> {
    if view_names.len() > 1 && secondary != Secondary::Bind {
        let software = if secondary == Secondary::Knot {
            "Knot"
        } else {
            "NSD"
        };
        return Err(format!(
            "{software} has no views: a {software} server mirrors one view (give --view once)"
        ));
    }
    let mut out = String::new();
    let mut views: Vec<Mirrored> = Vec::new();
    for name in view_names {
        if views.iter().any(|v| v.name == name) {
            return Err(format!("view {name:?} is given twice"));
        }
        views.push(mirrored(config, snapshot, name, primary, &mut out)?);
    }
    match secondary {
        Secondary::Bind => {
            for view in &views {
                // Requests signed with another mirrored view's key belong to that view, whatever
                // their source. Only those: a key this config does not define is one BIND cannot
                // match (a key selects one view, so these are not the view's own).
                let others: Vec<&Key> = views
                    .iter()
                    .filter(|other| other.index != view.index)
                    .filter_map(|other| other.key)
                    .collect();
                bind(
                    &mut out,
                    view.name,
                    &client_match(config, view.index),
                    view.key,
                    &others,
                    primary,
                    &view.zones,
                );
            }
        }
        Secondary::Knot => knot(
            &mut out,
            views[0].name,
            views[0].key,
            primary,
            &views[0].zones,
        ),
        Secondary::Nsd => nsd(
            &mut out,
            views[0].name,
            views[0].key,
            primary,
            &views[0].zones,
        ),
    }
    Ok(out)
}

/// One view's key and zones, with the comment lines that say what the secondary gets.
fn mirrored<'c>(
    config: &'c Config,
    snapshot: &Snapshot,
    view_name: &'c str,
    primary: SocketAddr,
    out: &mut String,
) -> Result<Mirrored<'c>, String> {
    let Some(index) = config.views.iter().position(|v| v.name == view_name) else {
        let names: Vec<&str> = config.views.iter().map(|v| v.name.as_str()).collect();
        return Err(format!(
            "no view {view_name:?} in {} (views: {})",
            config.path.display(),
            names.join(", ")
        ));
    };
    let view = &config.views[index];
    // The key the secondary signs with: one that both selects the view and may transfer it.
    let key = view
        .keys
        .iter()
        .find(|k| view.transfer.keys.contains(k))
        .map(|&k| &*config.keys[k].key);
    if key.is_none() && view.transfer.allow.is_empty() {
        return Err(format!(
            "view {view_name:?} lets nobody transfer: add `keys = [\"{view_name}-xfr\"]` and `transfer = {{ keys = [\"{view_name}-xfr\"] }}` to it, with a [[key]] (tsig-keygen {view_name}-xfr)"
        ));
    }
    // The zones this secondary may transfer (a zone's own ACL may leave it out).
    let zones: Vec<String> = snapshot.views[index]
        .zones
        .iter()
        .filter(|z| {
            let acl = config.transfer_acl(index, &z.origin);
            key.is_some_and(|k| {
                acl.keys
                    .iter()
                    .any(|&i| std::ptr::eq(&*config.keys[i].key, k))
            }) || !acl.allow.is_empty()
        })
        .map(|z| z.origin.to_string().trim_end_matches('.').to_string())
        .collect();
    let _ = writeln!(
        out,
        "# splitdns view {view_name:?}: a secondary of {} from {primary}",
        zones.join(", ")
    );
    if key.is_none() {
        let _ = writeln!(
            out,
            "# The view has no key that may transfer it: the secondary is recognised by its address ({}), so it gets view {view_name:?} only from there.",
            view.transfer
                .allow
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(Mirrored {
        name: view_name,
        index,
        key,
        zones,
    })
}

/// The address part of a BIND `match-clients` that picks the clients our longest-prefix match
/// gives view `index`: its prefixes, and (negated) every more specific prefix of another view
/// inside them, most specific first. BIND takes an ACL's first matching element, so the most
/// specific prefix decides, as ours does; and no client matches two views' lists, so the
/// stanzas work in any order (BIND gives a client the first view that matches).
fn client_match(config: &Config, index: usize) -> Vec<String> {
    let ours = &config.views[index].clients;
    let mut elements: Vec<(ipnet::IpNet, bool)> = ours.iter().map(|&net| (net, true)).collect();
    for (other, view) in config.views.iter().enumerate() {
        if other == index {
            continue;
        }
        elements.extend(
            view.clients
                .iter()
                .filter(|q| {
                    ours.iter()
                        .any(|p| p.contains(*q) && q.prefix_len() > p.prefix_len())
                })
                .map(|&net| (net, false)),
        );
    }
    // Stable: prefixes of one length keep the config's order.
    elements.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
    elements
        .into_iter()
        .map(|(net, ours)| {
            if ours {
                net.to_string()
            } else {
                format!("!{net}")
            }
        })
        .collect()
}

fn bind(
    out: &mut String,
    view: &str,
    clients: &[String],
    key: Option<&Key>,
    others: &[&Key],
    primary: SocketAddr,
    zones: &[String],
) {
    let key_clause = key.map_or(String::new(), |k| format!(" key \"{}\"", k.name_text()));
    if let Some(key) = key {
        let _ = writeln!(
            out,
            "key \"{}\" {{\n\talgorithm {};\n\tsecret \"{}\";\n}};\n",
            key.name_text(),
            key.algorithm.text(),
            key.secret_base64()
        );
    }
    // Requests signed with the key (our NOTIFYs) land in this view; so do the clients our view
    // answers, so that the secondary answers them as we do.
    let mut matches: Vec<String> = key
        .map(|k| format!("key \"{}\"", k.name_text()))
        .into_iter()
        .collect();
    matches.extend(others.iter().map(|k| format!("!key \"{}\"", k.name_text())));
    matches.extend(clients.iter().cloned());
    let _ = writeln!(out, "view \"{view}\" {{");
    let _ = writeln!(out, "\tmatch-clients {{ {}; }};", matches.join("; "));
    if let Some(key) = key {
        // SOA checks and transfers to the primary from this view are signed with the key.
        let _ = writeln!(
            out,
            "\tserver {} {{ keys {{ \"{}\"; }}; }};",
            primary.ip(),
            key.name_text()
        );
    }
    for zone in zones {
        let _ = writeln!(
            out,
            "\tzone \"{zone}\" {{\n\t\ttype secondary;\n\t\tprimaries {{ {} port {}{key_clause}; }};\n\t\tfile \"{view}-{zone}.db\";\n\t}};",
            primary.ip(),
            primary.port(),
        );
    }
    let _ = writeln!(out, "}};");
}

fn knot(out: &mut String, view: &str, key: Option<&Key>, primary: SocketAddr, zones: &[String]) {
    let id = format!("splitdns-{view}");
    if let Some(key) = key {
        let _ = writeln!(
            out,
            "key:\n  - id: {}\n    algorithm: {}\n    secret: {}\n",
            key.name_text(),
            key.algorithm.text(),
            key.secret_base64()
        );
    }
    let key_line = key.map_or(String::new(), |k| format!("\n    key: {}", k.name_text()));
    let _ = writeln!(
        out,
        "remote:\n  - id: {id}\n    address: {}@{}{key_line}\n",
        primary.ip(),
        primary.port()
    );
    let _ = writeln!(
        out,
        "acl:\n  - id: {id}-notify\n    address: {}{key_line}\n    action: notify\n",
        primary.ip()
    );
    let _ = writeln!(out, "zone:");
    for zone in zones {
        let _ = writeln!(
            out,
            "  - domain: {zone}\n    master: {id}\n    acl: {id}-notify"
        );
    }
}

fn nsd(out: &mut String, view: &str, key: Option<&Key>, primary: SocketAddr, zones: &[String]) {
    if let Some(key) = key {
        let _ = writeln!(
            out,
            "key:\n    name: \"{}\"\n    algorithm: {}\n    secret: \"{}\"\n",
            key.name_text(),
            key.algorithm.text(),
            key.secret_base64()
        );
    }
    let key_name = key.map_or("NOKEY".to_string(), |k| k.name_text());
    for zone in zones {
        let _ = writeln!(
            out,
            "zone:\n    name: \"{zone}\"\n    zonefile: \"{view}-{zone}.zone\"\n    request-xfr: {}@{} {key_name}\n    allow-notify: {} {key_name}\n",
            primary.ip(),
            primary.port(),
            primary.ip(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nested prefixes: 10.1.1.0/24 is the branch office inside another view's 10.1.0.0/16,
    /// inside 10.0.0.0/8. Each list, read first match first as BIND does, gives the view the
    /// longest prefix gives.
    #[test]
    fn bind_client_lists_follow_the_longest_prefix() {
        let config = crate::config::parse(
            "[[view]]\nname = \"inside\"\nclients = [\"10.0.0.0/8\", \"10.1.1.0/24\"]\n\n\
             [[view]]\nname = \"lab\"\nclients = [\"10.1.0.0/16\"]\n\n\
             [[view]]\nname = \"outside\"\nclients = [\"0.0.0.0/0\"]\n",
            Path::new("splitdns.toml"),
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            client_match(&config, 0),
            ["10.1.1.0/24", "!10.1.0.0/16", "10.0.0.0/8"]
        );
        assert_eq!(client_match(&config, 1), ["!10.1.1.0/24", "10.1.0.0/16"]);
        assert_eq!(
            client_match(&config, 2),
            ["!10.1.1.0/24", "!10.1.0.0/16", "!10.0.0.0/8", "0.0.0.0/0"]
        );
    }
}
