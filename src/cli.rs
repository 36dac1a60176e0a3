//! The command line: `serve` (the default), `check`, `explain`, `diff` and `secondary-config`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::commands::check::Format;

/// Used when `--config` is not given: the bundled example, relative to the working directory,
/// so that `cargo run --release` in the repository serves it.
pub const DEFAULT_CONFIG: &str = "zones/splitdns.toml";

#[derive(Debug, Parser)]
#[command(
    name = "splitdns",
    version,
    about = "Split-horizon authoritative DNS for Exchange namespaces"
)]
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
    /// Load the config and every zone exactly as `serve` would, run the Exchange and split-view
    /// checks, and report; opens no socket.
    Check(CheckArgs),
    /// Show which view a client gets, the answer it would receive, and where each record came from.
    Explain(ExplainArgs),
    /// Show the records that differ between two views.
    Diff(DiffArgs),
    /// Print the config a BIND, Knot or NSD secondary of one view needs: key, primary, zones.
    SecondaryConfig(SecondaryConfigArgs),
}

#[derive(Debug, Args)]
pub struct SecondaryConfigArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The view the secondary mirrors.
    #[arg(long)]
    pub view: String,
    /// The secondary's software.
    #[arg(long = "for", value_enum)]
    pub secondary: crate::commands::secondary::Secondary,
    /// This server's address and port as the secondary reaches it.
    #[arg(long, value_name = "ADDR:PORT")]
    pub primary: SocketAddr,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Fail on warnings too.
    #[arg(long)]
    pub strict: bool,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The client's source address.
    #[arg(long, value_name = "IP")]
    pub client: IpAddr,
    /// Sign the request with this `[[key]]`, as a secondary would: shows the view the key picks.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// The name asked for.
    pub name: String,
    /// The record type asked for.
    #[arg(default_value = "A")]
    pub qtype: String,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    pub view_a: String,
    pub view_b: String,
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
