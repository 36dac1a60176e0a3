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
use splitdns::control::{self, Control};
use splitdns::reload::{self, Reloader};
use splitdns::server::{self, Listeners};
use splitdns::systemd;

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
        Some(Command::Explain(args)) => {
            commands::explain::run(&args.config.config, args.client, &args.name, &args.qtype)
        }
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
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    // Loaded to serve: a zone whose files do not load is held back on its own (not served),
    // unless the config says all_or_nothing.
    let loaded = match splitdns::reload(&args.config.config, None) {
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
    for failure in &loaded.zone_failures {
        for error in &failure.errors {
            tracing::error!("{error}");
        }
        tracing::error!(
            "zone {} is not served (SERVFAIL) until its files load",
            failure.origin
        );
    }
    let metrics = Arc::new(splitdns::Metrics::default());
    let (config, published) = loaded.into_published(&metrics.queries);
    let summary = published.snapshot.summary();
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
    tracing::info!("serving on {} (udp+tcp); {summary}", bound.join(", "));
    let control_listener = match config.control.map(std::net::TcpListener::bind).transpose() {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(
                "cannot bind the control listener {}: {e}",
                config.control.map_or(String::new(), |a| a.to_string())
            );
            return ExitCode::FAILURE;
        }
    };

    if let Some(log) = &config.query_log {
        if let Err(e) = metrics.queries.enable_query_log(&log.path, log.sample) {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
        tracing::info!(
            "logging one query in {} to {}",
            log.sample,
            log.path.display()
        );
    }
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
        &config,
        metrics.clone(),
    );
    let served_on = listeners.local_addrs();
    let result = runtime.block_on(async {
        tokio::spawn(stop_on_signal(shutdown.clone()));
        let reload = reload::spawn(reloader, shutdown.clone());
        if let Some(listener) = control_listener {
            let mut control = Control::new(state.clone(), metrics.clone(), reload, served_on);
            control.address = listener.local_addr().ok();
            control.loopback_only = control.address.is_some_and(|addr| addr.ip().is_loopback());
            match listener
                .set_nonblocking(true)
                .and_then(|()| tokio::net::TcpListener::from_std(listener))
            {
                Ok(listener) => {
                    if let Ok(addr) = listener.local_addr() {
                        tracing::info!(
                            "control listener on http://{addr} (/metrics, /status, POST /reload)"
                        );
                    }
                    tokio::spawn(control::serve(
                        listener,
                        Arc::new(control),
                        shutdown.clone(),
                    ));
                }
                Err(e) => tracing::error!("control listener: {e}"),
            }
        }
        systemd::spawn_watchdog(shutdown.clone());
        // The sockets are bound (queries queue in them from now on) and the snapshot is
        // published: the server answers.
        systemd::ready(&summary);
        server::run(listeners, state, config.tcp, metrics, shutdown).await
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
    systemd::stopping();
    shutdown.cancel();
}
