//! splitdns: a split-horizon authoritative DNS server.
pub mod address_space;
pub mod name;
pub mod config;
pub mod load;
pub mod view;
pub mod answer;
pub mod observe;
pub mod server;
pub mod wire;
pub mod cli;
pub mod zone;
pub mod reload;
pub mod exchange;
pub mod checks;
pub mod commands;
