//! `/metrics`: the counters and gauges in the Prometheus exposition format (OpenMetrics text,
//! written by `prometheus-client`). Metrics are an API, so every name is a constant here; each
//! family's labels are low-cardinality — view, transport, family, query type, outcome, zone, a
//! health-checked address or name from the config and its site, a TLSA owner and its host's
//! address from the zones — and never a query name or a client address. The words in `result` and `state` labels are the ones `/status`, the commands,
//! the page and the log use ([`ReloadOutcome`], [`ZoneState`], [`NAME_STATES`]).
//!
//! The query counters are read by a custom collector that sums the receive loops' own counters
//! at scrape time ([`crate::observe::Registry::totals`]); the zone gauges are read from the
//! snapshot being served, so they are always the published truth; the resolvers' counters and
//! the health and DANE checks' states are read from the resolvers and the prober the same way.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::status::{NAME_STATES, ZoneState, name_state, zone_copies};
use crate::answer::Outcome;
use crate::health::Prober;
use crate::health::dane::State;
use crate::observe::FAMILIES;
use crate::observe::Metrics;
use crate::observe::counters::qtype_label;
use crate::reload::ReloadOutcome;
use crate::resolve::{Resolver, UpstreamResult};
use crate::server::SharedState;
use crate::wire::Transport;

/// What a scraper that asks for OpenMetrics (Prometheus does) gets.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// What every other client gets: the classic Prometheus text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

// Names (counters get `_total` appended by the encoder, the info metric `_info`).
pub const QUERIES: &str = "splitdns_queries";
pub const RESPONSES: &str = "splitdns_responses";
pub const TRUNCATED: &str = "splitdns_truncated_responses";
pub const RATE_LIMITED: &str = "splitdns_rate_limited_responses";
pub const TCP_CONNECTIONS: &str = "splitdns_tcp_connections";
pub const TCP_OPEN: &str = "splitdns_tcp_connections_open";
pub const RELOADS: &str = "splitdns_reloads";
pub const LAST_RELOAD: &str = "splitdns_last_reload";
pub const RELOAD_DURATION: &str = "splitdns_reload_duration_seconds";
pub const ZONE_SERIAL: &str = "splitdns_zone_serial";
pub const ZONE_RECORDS: &str = "splitdns_zone_records";
pub const ZONE_SIGNATURES_EXPIRE: &str = "splitdns_zone_signatures_expire_timestamp_seconds";
pub const ZONE_STATE: &str = "splitdns_zone_state";
pub const ZONE_FAILED: &str = "splitdns_zone_load_failed";
pub const QUERY_LOG: &str = "splitdns_query_log_lines";
pub const BUILD: &str = "splitdns_build";
pub const HEALTH_UP: &str = "splitdns_health_up";
pub const CHECKED_NAME_STATE: &str = "splitdns_checked_name_state";
pub const DANE_MATCH: &str = "splitdns_dane_match";
pub const UPSTREAM_RESULTS: &str = "splitdns_upstream_results";
pub const UPSTREAMS_SKIPPED: &str = "splitdns_upstreams_skipped";
pub const FORWARD_OVER_LIMIT: &str = "splitdns_forward_over_limit";
pub const FORWARD_LOOPS: &str = "splitdns_forward_loops";
pub const STALE_ANSWERS: &str = "splitdns_stale_answers";
pub const CACHE_ENTRIES: &str = "splitdns_cache_entries";
pub const CACHE_BYTES: &str = "splitdns_cache_bytes";

fn transport_label(transport: Transport) -> &'static str {
    transport.label()
}

/// The registry `/metrics` encodes.
pub struct Exposition {
    registry: Registry,
}

impl Exposition {
    pub fn new(state: SharedState, metrics: Arc<Metrics>, prober: Prober) -> Exposition {
        let mut registry = Registry::default();
        registry.register(
            BUILD,
            "The running splitdns version",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register(
            RELOAD_DURATION,
            "Time to read, build and check the files on each reload, successful or not",
            metrics.reload_seconds.clone(),
        );
        registry.register_collector(Box::new(Counts {
            state: state.clone(),
            metrics,
        }));
        registry.register_collector(Box::new(Forwarding { state }));
        registry.register_collector(Box::new(Health { prober }));
        Exposition { registry }
    }

    /// The exposition in OpenMetrics text, or (`openmetrics` false) in the classic Prometheus
    /// text format.
    pub fn render(&self, openmetrics: bool) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        if openmetrics {
            text
        } else {
            to_prometheus_text(&text)
        }
    }
}

/// OpenMetrics text → the classic Prometheus text format (0.0.4), for scrapers that do not
/// speak OpenMetrics. The samples are the same; only the metadata differs: a counter family is
/// named with its `_total` suffix, an info family is a gauge named with `_info`, and the
/// `# UNIT` and `# EOF` lines go.
fn to_prometheus_text(openmetrics: &str) -> String {
    let mut suffix: std::collections::HashMap<&str, &str> = Default::default();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
        {
            match kind {
                "counter" => suffix.insert(name, "_total"),
                "info" => suffix.insert(name, "_info"),
                _ => None,
            };
        }
    }
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let metadata = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|prefix| Some((prefix, line.strip_prefix(prefix)?)));
        match metadata {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let added = suffix.get(name).copied().unwrap_or("");
                let tail = if prefix == "# TYPE " && tail == "info" {
                    "gauge"
                } else {
                    tail
                };
                text.push_str(&format!("{prefix}{name}{added} {tail}\n"));
            }
            None => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

/// Reads the counters and the snapshot at each scrape.
#[derive(Debug)]
struct Counts {
    state: SharedState,
    metrics: Arc<Metrics>,
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Vec<(&'static str, String)>, u64)>,
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in rows {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Vec<(&'static str, String)>, i64)>,
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in rows {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Counts {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let totals = self.metrics.queries.totals();
        let mut queries = Vec::new();
        let mut responses = Vec::new();
        let mut truncated = Vec::new();
        let mut limited = Vec::new();
        for row in &totals.rows {
            let transport = transport_label(row.transport);
            for (family, by_type) in FAMILIES.iter().zip(&row.queries) {
                for (slot, &count) in by_type.iter().enumerate() {
                    if count > 0 {
                        queries.push((
                            vec![
                                ("view", row.view.clone()),
                                ("transport", transport.to_string()),
                                ("family", family.to_string()),
                                ("qtype", qtype_label(slot).to_string()),
                            ],
                            count,
                        ));
                    }
                }
            }
            for (outcome, &count) in Outcome::ALL.iter().zip(&row.responses) {
                if count > 0 {
                    responses.push((
                        vec![
                            ("view", row.view.clone()),
                            ("transport", transport.to_string()),
                            ("outcome", outcome.name().to_string()),
                            ("rcode", outcome.rcode_name().to_string()),
                        ],
                        count,
                    ));
                }
            }
            truncated.push((
                vec![
                    ("view", row.view.clone()),
                    ("transport", transport.to_string()),
                ],
                row.truncated,
            ));
            if row.transport == Transport::Udp {
                for (action, count) in [("dropped", row.dropped), ("slipped", row.slipped)] {
                    limited.push((
                        vec![("view", row.view.clone()), ("action", action.to_string())],
                        count,
                    ));
                }
            }
        }
        counter(
            &mut encoder,
            QUERIES,
            "Queries received, by view, transport, address family and query type (counted once the rate-limit verdict is known)",
            queries,
        )?;
        counter(
            &mut encoder,
            RESPONSES,
            "Responses sent (rate-limit slips included), by view, transport, outcome and response code",
            responses,
        )?;
        counter(
            &mut encoder,
            TRUNCATED,
            "Responses sent with TC=1 (too large for UDP, or slipped by rate limiting)",
            truncated,
        )?;
        counter(
            &mut encoder,
            RATE_LIMITED,
            "UDP responses that Response Rate Limiting dropped or slipped (sent truncated), by view",
            limited,
        )?;
        counter(
            &mut encoder,
            QUERY_LOG,
            "Query log lines handed to the writer, and dropped because it was behind",
            [
                (vec![("result", "queued".to_string())], totals.log_queued),
                (vec![("result", "dropped".to_string())], totals.log_dropped),
            ],
        )?;
        let m = &self.metrics;
        counter(
            &mut encoder,
            TCP_CONNECTIONS,
            "TCP connections (DNS over TLS and HTTPS included) accepted, and refused at a connection limit (total or per source)",
            [
                (
                    vec![("result", "accepted".to_string())],
                    m.tcp_accepted.load(Ordering::Relaxed),
                ),
                (
                    vec![("result", "refused".to_string())],
                    m.tcp_refused.load(Ordering::Relaxed),
                ),
            ],
        )?;
        gauge(
            &mut encoder,
            TCP_OPEN,
            "TCP connections open now (DNS over TLS and HTTPS included)",
            [(vec![], m.tcp_open.load(Ordering::Relaxed))],
        )?;
        let reloads = |outcome: ReloadOutcome| match outcome {
            ReloadOutcome::Ok => &m.reloads_ok,
            ReloadOutcome::Partial => &m.reloads_partial,
            ReloadOutcome::Refused => &m.reloads_refused,
        };
        counter(
            &mut encoder,
            RELOADS,
            "Reloads, by result: ok; partial (published, with zone copies held back: stale or unavailable); refused (nothing published: the previous data kept)",
            ReloadOutcome::ALL.map(|outcome| {
                (
                    vec![("result", outcome.word().to_string())],
                    reloads(outcome).load(Ordering::Relaxed),
                )
            }),
        )?;
        // A state set: one series per outcome, 1 for the last reload's; all 0 before the first.
        // An alert on it lasts until a reload fixes things, where one on the counter's increase
        // would end on its own.
        let last = m.last_reload.load(Ordering::Relaxed);
        gauge(
            &mut encoder,
            LAST_RELOAD,
            "1 for the last reload's result (ok, partial or refused), 0 for the others; all 0 before the first reload since start",
            ReloadOutcome::ALL.map(|outcome| {
                (
                    vec![("result", outcome.word().to_string())],
                    i64::from(last == outcome as u8 + 1),
                )
            }),
        )?;
        let published = self.state.load();
        let zones = published.snapshot.views.iter().flat_map(|view| {
            view.zones.iter().map(move |zone| {
                (
                    vec![
                        ("view", view.name.clone()),
                        ("zone", zone.origin.to_string()),
                    ],
                    zone,
                )
            })
        });
        gauge(
            &mut encoder,
            ZONE_SERIAL,
            "SOA serial of each zone as each view serves it",
            zones
                .clone()
                .map(|(labels, zone)| (labels, i64::from(zone.serial))),
        )?;
        gauge(
            &mut encoder,
            ZONE_RECORDS,
            "Records in each zone as each view serves it",
            zones
                .clone()
                .map(|(labels, zone)| (labels, zone.record_count as i64)),
        )?;
        gauge(
            &mut encoder,
            ZONE_SIGNATURES_EXPIRE,
            "When the first signature of each signed zone expires as each view serves it (Unix time): alert when it comes near, as the signatures are made anew well before",
            zones.filter_map(|(labels, zone)| Some((labels, i64::from(zone.signatures_expire?)))),
        )?;
        let failed = published.snapshot.views.iter().flat_map(|view| {
            view.failed.iter().map(move |failed| {
                (
                    vec![
                        ("view", view.name.clone()),
                        ("zone", failed.origin.to_string()),
                        (
                            "served",
                            if failed.stale { "previous" } else { "none" }.to_string(),
                        ),
                    ],
                    1,
                )
            })
        });
        let states = published.snapshot.views.iter().flat_map(|view| {
            zone_copies(view).flat_map(move |(origin, state, _)| {
                ZoneState::ALL.map(|each| {
                    (
                        vec![
                            ("view", view.name.clone()),
                            ("zone", origin.clone()),
                            ("state", each.word().to_string()),
                        ],
                        i64::from(each == state),
                    )
                })
            })
        });
        gauge(
            &mut encoder,
            ZONE_STATE,
            "1 for each zone copy's state (ok; stale: held back, the previous data served; unavailable: held back, no previous data, SERVFAIL), 0 for the others",
            states,
        )?;
        gauge(
            &mut encoder,
            ZONE_FAILED,
            "1 for each zone held back at the last start or reload (its files did not load, or a check error in that view's copy), with what is served instead: previous (the copy is stale) or none (unavailable: SERVFAIL); splitdns_zone_state says the same in the words of /status",
            failed,
        )?;
        Ok(())
    }
}

/// The recursive views' resolvers: what their upstreams answered, and their caches. A resolver
/// a reload replaces (its settings changed) starts its counters again, which Prometheus reads
/// as a counter reset.
#[derive(Debug)]
struct Forwarding {
    state: SharedState,
}

impl Collector for Forwarding {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let published = self.state.load();
        let resolvers: Vec<(String, &Resolver)> = published
            .snapshot
            .views
            .iter()
            .zip(&published.views)
            .filter_map(|(view, runtime)| Some((view.name.clone(), runtime.resolver.as_deref()?)))
            .collect();
        let view = |name: &String| vec![("view", name.clone())];
        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        counter(
            &mut encoder,
            UPSTREAM_RESULTS,
            "Queries sent to upstreams, by view and what each came to: the answer's response code, or timeout, malformed, error",
            resolvers.iter().flat_map(|(name, resolver)| {
                UpstreamResult::ALL.iter().map(move |result| {
                    (
                        vec![
                            ("view", name.clone()),
                            ("result", result.name().to_string()),
                        ],
                        count(&resolver.counters.upstream_results[*result as usize]),
                    )
                })
            }),
        )?;
        gauge(
            &mut encoder,
            UPSTREAMS_SKIPPED,
            "Upstreams that failed repeatedly and are asked last until a probe finds them answering, by view",
            resolvers
                .iter()
                .map(|(name, resolver)| (view(name), resolver.skipped_upstreams() as i64)),
        )?;
        counter(
            &mut encoder,
            FORWARD_OVER_LIMIT,
            "Queries answered SERVFAIL because the view had as many questions outstanding upstream as it allows",
            resolvers
                .iter()
                .map(|(name, resolver)| (view(name), count(&resolver.counters.over_limit))),
        )?;
        counter(
            &mut encoder,
            FORWARD_LOOPS,
            "Questions answered SERVFAIL because an upstream asked us what we were asking it (a forwarding loop)",
            resolvers
                .iter()
                .map(|(name, resolver)| (view(name), count(&resolver.counters.loops))),
        )?;
        counter(
            &mut encoder,
            STALE_ANSWERS,
            "Expired answers served because every upstream failed (serve-stale, RFC 8767)",
            resolvers
                .iter()
                .map(|(name, resolver)| (view(name), count(&resolver.counters.stale))),
        )?;
        gauge(
            &mut encoder,
            CACHE_ENTRIES,
            "Answers and failures in each recursive view's cache",
            resolvers
                .iter()
                .map(|(name, resolver)| (view(name), resolver.cache_usage().0 as i64)),
        )?;
        gauge(
            &mut encoder,
            CACHE_BYTES,
            "Size of each recursive view's cache in bytes (capped by cache_size)",
            resolvers
                .iter()
                .map(|(name, resolver)| (view(name), resolver.cache_usage().1 as i64)),
        )?;
        Ok(())
    }
}

/// The health checks' verdicts: 1 for an address answered, 0 for one left out. `site` names the
/// `[[exchange.site]]` that lists the address (empty for a `[[health]]` block's): a dashboard
/// sums it by site to see a site go down. And what each checked name answers, as a state set.
#[derive(Debug)]
struct Health {
    prober: Prober,
}

impl Collector for Health {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let report = self.prober.report();
        let names = report.names;
        gauge(
            &mut encoder,
            DANE_MATCH,
            "1 while a signed view's TLSA RRset matches the certificate chain its host presents at an address, 0 while none of its records matches or the chain cannot be had (splitdns status says which); absent until the first check",
            report
                .dane
                .iter()
                .filter(|check| check.state != State::Unchecked)
                .map(|check| {
                    (
                        vec![
                            ("view", check.view.clone()),
                            ("name", check.name.clone()),
                            ("address", check.target.address.to_string()),
                        ],
                        i64::from(matches!(check.state, State::Match(_))),
                    )
                }),
        )?;
        gauge(
            &mut encoder,
            CHECKED_NAME_STATE,
            "1 for what each health-checked name answers (ok: the preferred site's up addresses; failed-over: a later site's; failing-open: every address down, all answered; servfail: every address down), 0 for the other states",
            names.iter().flat_map(|report| {
                let now = name_state(&report.serving);
                NAME_STATES.map(|state| {
                    (
                        vec![
                            ("view", report.view.clone()),
                            ("name", report.name.clone()),
                            ("type", report.rtype.to_string()),
                            ("state", state.to_string()),
                        ],
                        i64::from(state == now),
                    )
                })
            }),
        )?;
        gauge(
            &mut encoder,
            HEALTH_UP,
            "1 while the health check of an address passes (it is answered), 0 while it fails (left out of the answers)",
            self.prober.states().into_iter().map(|(target, up, site)| {
                (
                    vec![
                        ("address", target.address.to_string()),
                        ("port", target.probe.port.to_string()),
                        ("name", target.server_name.clone()),
                        ("check", target.to_string()),
                        ("site", site),
                    ],
                    i64::from(up),
                )
            }),
        )
    }
}
