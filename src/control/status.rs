//! `/status`: what the server is serving now, as JSON for tools and for `splitdns status`.
//! Field names are an API: add, never rename.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Control;
use crate::reload::ReloadRecord;

#[derive(Debug, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub uptime_seconds: u64,
    /// The DNS addresses served on (UDP and TCP).
    pub listen: Vec<SocketAddr>,
    /// This control listener's address.
    pub control: Option<SocketAddr>,
    pub views: Vec<ViewStatus>,
    /// The last reload since start (`null` before the first).
    pub last_reload: Option<ReloadRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ViewStatus {
    pub name: String,
    /// The client prefixes that select it.
    pub clients: Vec<String>,
    pub zones: Vec<ZoneStatus>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ZoneStatus {
    /// With the trailing dot.
    pub origin: String,
    /// "ok"; "stale" (held back at the last start or reload — its files did not load, or the
    /// checks found an error in this view's copy — and the previous data is served); or
    /// "unavailable" (held back with no previous data: its names get SERVFAIL).
    pub state: String,
    /// What is served (absent when unavailable).
    pub serial: Option<u32>,
    pub records: Option<usize>,
    /// The files this view's copy was read from.
    pub files: Vec<PathBuf>,
    /// Why the zone is stale or unavailable, one `file:line: message` each.
    pub errors: Vec<String>,
}

pub fn report(control: &Control) -> Status {
    let published = control.state.load();
    Status {
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_seconds: control.started.elapsed().as_secs(),
        listen: control.listen.clone(),
        control: control.address,
        views: published
            .snapshot
            .views
            .iter()
            .map(|view| ViewStatus {
                name: view.name.clone(),
                clients: view.clients.iter().map(ToString::to_string).collect(),
                zones: view
                    .zones
                    .iter()
                    .map(|zone| {
                        let failed = view.failed.iter().find(|f| f.origin == zone.origin);
                        ZoneStatus {
                            origin: zone.origin.to_string(),
                            state: if failed.is_some() { "stale" } else { "ok" }.to_string(),
                            serial: Some(zone.serial),
                            records: Some(zone.record_count),
                            files: zone.files.clone(),
                            errors: failed.map(|f| f.errors.clone()).unwrap_or_default(),
                        }
                    })
                    .chain(
                        view.failed
                            .iter()
                            .filter(|f| !f.stale)
                            .map(|failed| ZoneStatus {
                                origin: failed.origin.to_string(),
                                state: "unavailable".to_string(),
                                serial: None,
                                records: None,
                                files: Vec::new(),
                                errors: failed.errors.clone(),
                            }),
                    )
                    .collect(),
            })
            .collect(),
        last_reload: control.reload.last(),
    }
}
