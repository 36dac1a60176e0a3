//! The command line: `serve` (the default), `check`, `explain` and `diff`.

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
    ///
    /// Exit status as diff's: 0 when the views serve the same data, 1 when they differ, 2 when
    /// they cannot be compared (the config does not load, a view is not defined).
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Fail (exit 1) on warnings too, not only on errors.
    #[arg(long)]
    pub strict: bool,
    /// How to report: `human` (text to read) or `json` (one object, for scripts and monitoring).
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The client's source address: it picks the view, as a query from that address would.
    #[arg(long, value_name = "IP")]
    pub client: IpAddr,
    /// The name asked for, e.g. mail.contoso.example.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The record type asked for (A, AAAA, MX, SRV, TXT, ... or TYPEnnn).
    #[arg(value_name = "TYPE", default_value = "A")]
    pub qtype: String,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The first view, by its `name` in the config: its records are the `-` lines.
    #[arg(value_name = "VIEW_A")]
    pub view_a: String,
    /// The second view: its records are the `+` lines.
    #[arg(value_name = "VIEW_B")]
    pub view_b: String,
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The config file; paths in it are relative to its folder.
    #[arg(long, short, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Listen on this address instead of the config's `listen`, UDP and TCP (repeatable:
    /// `--listen 0.0.0.0:53 --listen [::]:53` serves both families).
    #[arg(long, short, value_name = "ADDR:PORT")]
    pub listen: Vec<SocketAddr>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every argument and option of every subcommand has help text, and so does every
    /// subcommand: `--help` is the first place an admin looks. clap's own `--help`,
    /// `--version` and `help` subcommand are left out.
    #[test]
    fn every_argument_and_subcommand_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if ["help", "version"].contains(&id) {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path}: argument {id}"));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                let sub_path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(format!("{sub_path}: no about"));
                }
                walk(sub, &sub_path, missing);
            }
        }
        let mut command = Cli::command();
        command.build();
        let mut missing = Vec::new();
        walk(&command, "splitdns", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:#?}");
    }
}
