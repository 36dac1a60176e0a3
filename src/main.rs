//! The `splitdns` binary: parses the command line, starts logging and runs the command
//! (`serve` by default, [`commands::serve`]).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use splitdns::cli::{Cli, Command, ConfigArg, ControlArgs, DnssecCommand};
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
    if matches!(
        cli.command,
        Some(
            Command::Check(_)
                | Command::Diff(_)
                | Command::SecondaryConfig(_)
                | Command::Dnssec(_)
                | Command::GenerateDocs { .. }
        )
    ) {
        end_quietly_on_a_closed_pipe();
    }
    match cli.command {
        Some(Command::Check(args)) => match config(&args.config, FAILURE) {
            Ok(path) => commands::check::run(&path, args.strict, args.format),
            Err(code) => code,
        },
        Some(Command::Explain(args)) => match config(&args.config, FAILURE) {
            Ok(path) => commands::explain::run(
                &path,
                args.client,
                args.key.as_deref(),
                &args.name,
                &args.qtype,
                args.probe,
            ),
            Err(code) => code,
        },
        // diff(1)'s status: 2 when it could not compare.
        Some(Command::Diff(args)) => match config(&args.config, ExitCode::from(2)) {
            Ok(path) => commands::diff::run(&path, &args.view_a, &args.view_b),
            Err(code) => code,
        },
        Some(Command::Status(args)) => match control_config(&args.control) {
            Ok(path) => commands::control::status(args.control.control, &path, args.json),
            Err(code) => code,
        },
        Some(Command::Reload(args)) => match control_config(&args) {
            Ok(path) => commands::control::reload(args.control, &path),
            Err(code) => code,
        },
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
        Some(Command::SecondaryConfig(args)) => match config(&args.config, FAILURE) {
            Ok(path) => commands::secondary::run(&path, &args.view, args.secondary, args.primary),
            Err(code) => code,
        },
        Some(Command::Tlsa(args)) => {
            commands::tlsa::run(&args.server, args.starttls, args.name.as_deref())
        }
        Some(Command::Dnssec(DnssecCommand::Ds(args))) => match config(&args.config, FAILURE) {
            Ok(path) => commands::dnssec::ds(&path, &args.zone, args.digest, args.dnskey),
            Err(code) => code,
        },
        Some(Command::Dnssec(DnssecCommand::Status(args))) => match config(&args.config, FAILURE) {
            Ok(path) => commands::dnssec::status(&path),
            Err(code) => code,
        },
        Some(Command::Dnssec(DnssecCommand::DsSeen(args))) => match config(&args.config, FAILURE) {
            Ok(path) => commands::dnssec::ds_seen(&path, &args.zone),
            Err(code) => code,
        },
        Some(Command::Serve(args)) => match config(&args.config, FAILURE) {
            Ok(path) => commands::serve::run(&path, args.listen),
            Err(code) => code,
        },
        None => match config(&cli.serve.config, FAILURE) {
            Ok(path) => commands::serve::run(&path, cli.serve.listen),
            Err(code) => code,
        },
    }
}

const FAILURE: ExitCode = ExitCode::FAILURE;

/// For the commands that only print (`check … | head`): a reader that closed the pipe ends the
/// process as it ends `cat`, instead of the panic Rust's ignored SIGPIPE turns into on the next
/// `println!`. Not for `serve` (a client closing its TCP connection must not stop the server),
/// nor for the commands that talk to sockets (`status`, `reload`, `explain --probe`), which
/// report a peer that went away themselves.
fn end_quietly_on_a_closed_pipe() {
    #[cfg(target_os = "linux")]
    // SAFETY: called before any thread is started, with the default disposition, which is
    // async-signal-safe by definition; nothing in these commands installed a SIGPIPE handler.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The config file the command uses, or the error naming every place looked (reported here,
/// once) and the exit status `failure`.
fn config(arg: &ConfigArg, failure: ExitCode) -> Result<PathBuf, ExitCode> {
    arg.resolve().map_err(|error| {
        eprintln!("{error}");
        failure
    })
}

/// [`config`] for `status` and `reload`: with `--control` they ask that address and read no
/// config, so a missing one is no error (the path is then never opened).
fn control_config(args: &ControlArgs) -> Result<PathBuf, ExitCode> {
    match (args.control, args.config.resolve()) {
        (_, Ok(path)) => Ok(path),
        (Some(_), Err(_)) => Ok(PathBuf::new()),
        (None, Err(error)) => {
            eprintln!("{error}");
            Err(FAILURE)
        }
    }
}
