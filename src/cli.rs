//! The command line: `serve` (the default) and `check`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Used when `--config` is not given: the bundled example, relative to the working directory,
/// so that `cargo run --release` in the repository serves it.
pub const DEFAULT_CONFIG: &str = "zones/splitdns.toml";

#[derive(Debug, Parser)]
#[command(name = "splitdns", version, about = "Split-horizon authoritative DNS for Exchange namespaces")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options for `serve` when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Answer queries (the default).
    Serve(ServeArgs),
    /// Load the config and every zone exactly as `serve` would, report problems, open no socket.
    Check(ConfigArg),
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The config file.
    #[arg(long, short, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Listen on this address instead of the config's `listen` (repeatable; UDP and TCP).
    #[arg(long, short, value_name = "ADDR:PORT")]
    pub listen: Vec<SocketAddr>,
}
