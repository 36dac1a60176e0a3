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
    pub serial: u32,
    pub records: usize,
    /// The files this view's copy was read from.
    pub files: Vec<PathBuf>,
}

pub fn report(control: &Control) -> Status {
    let published = control.state.load();
    Status {
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_seconds: control.started.elapsed().as_secs(),
        listen: control.listen.clone(),
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
                    .map(|zone| ZoneStatus {
                        origin: zone.origin.to_string(),
                        serial: zone.serial,
                        records: zone.record_count,
                        files: zone.files.clone(),
                    })
                    .collect(),
            })
            .collect(),
        last_reload: control.reload.last(),
    }
}
