//! splitdns: a split-horizon authoritative DNS server.
pub mod address_space;
pub mod answer;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod config;
pub mod exchange;
pub mod load;
pub mod name;
pub mod observe;
pub mod reload;
pub mod server;
pub mod view;
pub mod wire;
pub mod zone;
