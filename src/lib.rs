//! splitdns: a split-horizon authoritative DNS server.
//!
//! Layers, from the bottom: [`dns`] (names, types, codes), `located` (file positions and the
//! one error type for edited files) and `limits` (the rate and TCP limits the server enforces,
//! as settings); the zone-file reader and the message codec, each on the base alone; `view`, the
//! immutable snapshot and the lookup over it; `config` and `load`, which turn files into a
//! snapshot and import nothing of the runtime; and the request path — `server` (listen) → `view`
//! (route) → `answer` (look up and shape) → `observe`, with `resolve` (the recursive views'
//! forwarder and cache) beside `answer` for names that are not ours, and `transfer`, which
//! streams the zone transfers the answer stage permits and sends NOTIFY after a reload. Beside
//! that path, `health` probes the addresses of health-checked RRsets and stores which are
//! answered in each such RRset's atomic mask, which `answer` reads with one atomic load. Off the
//! query path: `reload` (the reload transaction, and `reload::publish`, the one way start-up and
//! every reload go live), `control` (the metrics, status and reload endpoint) and `systemd`
//! (sd_notify). Modules are private: the binary, the integration tests, the benchmarks and the
//! fuzz targets use what is re-exported below. Under `cfg(test)` alone, `scratch` gives the unit
//! tests that write files their directories.
#![deny(unsafe_code)]
#![warn(unreachable_pub)]

mod address_space;
mod answer;
pub mod cli;
pub mod commands;
mod config;
pub mod control;
mod dns;
mod dnssec;
mod health;
mod heap;
mod limits;
mod load;
mod located;
mod observe;
pub mod reload;
mod resolve;
#[cfg(test)]
mod scratch;
pub mod server;
pub mod systemd;
pub mod transfer;
mod view;
mod wire;
mod zonefile;

pub use answer::{CompiledAnswers, Next, Outcome, Probe, Summary, respond};
pub use config::parse as parse_config;
pub use dns::name::Name;
pub use health::Prober;
pub use load::{LoadError, Loaded, load, reload};
pub use observe::{Delivery, Metrics, query as observe_query};
pub use view::Snapshot;
pub use view::prefix::PrefixTable;
pub use view::zone::build_shared;
pub use wire::Transport;
pub use wire::reader;
pub use wire::tsig;
pub use zonefile::{parse_zone_text, rdata};
