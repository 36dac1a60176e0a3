//! The `splitdns` binary: parses the command line, starts logging, and wires the loader, the
//! sockets and the server core together. Errors are reported here, once.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use arc_swap::ArcSwap;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use splitdns::cli::{Cli, Command, ServeArgs};
use splitdns::commands;
use splitdns::reload::{self, Reloader};
use splitdns::server::{self, Listeners};

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
        ),
        Some(Command::Diff(args)) => {
            commands::diff::run(&args.config.config, &args.view_a, &args.view_b)
        }
        Some(Command::SecondaryConfig(args)) => commands::secondary::run(
            &args.config.config,
            &args.view,
            args.secondary,
            args.primary,
        ),
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let loaded = match splitdns::load(&args.config.config) {
        Ok(loaded) => loaded,
        Err(error) => {
            commands::report_load_error(&error);
            tracing::error!("{}: {error}; not starting", args.config.config.display());
            return ExitCode::FAILURE;
        }
    };
    for finding in loaded.warnings() {
        tracing::warn!("{finding}");
    }
    for notice in &loaded.serial {
        tracing::warn!("{notice}");
    }
    if let Err(e) = loaded.save_serials() {
        tracing::warn!("{e}");
    }
    // At start, every zone of a view with `notify` secondaries: they may have missed changes.
    let notifies = splitdns::transfer::notify::due(&loaded.secondaries(), None, &loaded.snapshot);
    let (config, published) = loaded.into_published();
    let addrs = if args.listen.is_empty() {
        config.listen.clone()
    } else {
        args.listen
    };
    let listeners = match Listeners::bind(&addrs) {
        Ok(listeners) => listeners,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let bound: Vec<String> = listeners
        .local_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    tracing::info!(
        "serving on {} (udp+tcp); {}",
        bound.join(", "),
        published.snapshot.summary()
    );

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    let state = Arc::new(ArcSwap::from_pointee(published));
    let reloader = Reloader::new(
        config.path.clone(),
        state.clone(),
        config.listen.clone(),
        listeners.local_addrs(),
    );
    let result = runtime.block_on(async {
        tokio::spawn(stop_on_signal(shutdown.clone()));
        reload::spawn(reloader, shutdown.clone());
        splitdns::transfer::notify::spawn_all(notifies);
        server::run(listeners, state, config.tcp, shutdown).await
    });
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Cancels the server on SIGINT or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}
