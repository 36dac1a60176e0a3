//! The `splitdns` binary: parses the command line, starts logging and runs the command
//! (`serve` by default, [`commands::serve`]).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use splitdns::cli::{Cli, Command};
use splitdns::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        Some(Command::Check(args)) => {
            commands::check::run(&args.config.config, args.strict, args.format)
        }
        Some(Command::Explain(args)) => commands::explain::run(
            &args.config.config,
            args.client,
            args.key.as_deref(),
            &args.name,
            &args.qtype,
            args.probe,
        ),
        Some(Command::Diff(args)) => {
            commands::diff::run(&args.config.config, &args.view_a, &args.view_b)
        }
        Some(Command::Status(args)) => {
            commands::control::status(args.control.control, &args.control.config.config, args.json)
        }
        Some(Command::Reload(args)) => commands::control::reload(args.control, &args.config.config),
        Some(Command::GenerateDocs { dir }) => match splitdns::cli::generate_docs(&dir) {
            Ok(files) => {
                for file in files {
                    println!("{}", file.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", dir.display());
                ExitCode::FAILURE
            }
        },
        Some(Command::SecondaryConfig(args)) => commands::secondary::run(
            &args.config.config,
            &args.view,
            args.secondary,
            args.primary,
        ),
        Some(Command::Serve(args)) => commands::serve::run(&args.config.config, args.listen),
        None => commands::serve::run(&cli.serve.config.config, cli.serve.listen),
    }
}
