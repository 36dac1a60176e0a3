//! splitdns: a split-horizon authoritative DNS server.
//!
//! Layers, from the bottom: [`dns`] (names, types, codes) and `located` (file positions and the
//! one error type for edited files); the zone-file reader and the message codec, each on the
//! base alone; `view`, the immutable snapshot and the lookup over it; `config` and `load`, which
//! turn files into a snapshot; and the request path — `server` (listen) → `view` (route) →
//! `answer` (look up and shape) → `observe`. Beside it, off the query path: `reload` (the reload
//! transaction), `control` (the metrics, status and reload endpoint) and `systemd` (sd_notify).
//! Modules are private: the binary, the integration
//! tests, the benchmarks and the fuzz targets use what is re-exported below.
#![deny(unsafe_code)]

mod address_space;
mod answer;
pub mod cli;
pub mod commands;
mod config;
pub mod control;
mod dns;
mod load;
mod located;
mod observe;
pub mod reload;
pub mod server;
pub mod systemd;
mod view;
mod wire;
mod zonefile;

pub use answer::{Transport, respond};
pub use config::parse as parse_config;
pub use dns::name::Name;
pub use load::{LoadError, Loaded, load, reload};
pub use observe::{Delivery, Metrics, query as observe_query};
pub use view::Snapshot;
pub use view::prefix::PrefixTable;
pub use view::zone::build_shared;
pub use wire::reader;
pub use zonefile::{parse_zone_text, rdata};
