//! `splitdns serve` (the default command): loads the config, binds the sockets, and wires the
//! loader, the reloader, the health prober, the control listener and NOTIFY to the server core,
//! which takes the bound sockets and a shutdown token. Errors are reported here, once.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::Prober;
use crate::commands;
use crate::control::{self, Control};
use crate::reload::{self, Reloader};
use crate::server::{self, Listeners};
use crate::systemd;

/// Serves `config_path` on `listen`, or on the config's `listen` when that is empty.
pub fn run(config_path: &Path, listen: Vec<SocketAddr>) -> ExitCode {
    // Loaded to serve: a zone whose files do not load is held back on its own (not served),
    // unless the config says all_or_nothing.
    let loaded = match crate::reload(config_path, None) {
        Ok(loaded) => loaded,
        Err(error) => {
            commands::report_load_error(&error);
            tracing::error!("{}: {error}; not starting", config_path.display());
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
    for notice in &loaded.serial {
        tracing::warn!("{notice}");
    }
    if let Err(e) = loaded.save_serials() {
        tracing::warn!("{e}");
    }
    // At start, every zone of a view with `notify` secondaries: they may have missed changes.
    let notifies = crate::transfer::notify::due(&loaded.secondaries(), None, &loaded.snapshot);
    let plan = Arc::new(loaded.health.clone());
    let metrics = Arc::new(crate::Metrics::default());
    let (config, published) = loaded.into_published(&metrics.queries);
    let summary = published.snapshot.summary();
    let addrs = if listen.is_empty() {
        config.listen.clone()
    } else {
        listen
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
    let prober = Prober::new();
    let reloader = Reloader::new(
        config.path.clone(),
        state.clone(),
        config.listen.clone(),
        listeners.local_addrs(),
        &config,
        metrics.clone(),
        prober.clone(),
    );
    let served_on = listeners.local_addrs();
    let result = runtime.block_on(async {
        // The checks start with the config, before the first query.
        prober.apply(plan);
        tokio::spawn(stop_on_signal(shutdown.clone()));
        let reload = reload::spawn(reloader, shutdown.clone());
        crate::transfer::notify::spawn_all(notifies);
        if let Some(listener) = control_listener {
            let mut control = Control::new(
                state.clone(),
                metrics.clone(),
                reload,
                served_on,
                prober.clone(),
            );
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
        let result = server::run(listeners, state, config.tcp, metrics, shutdown).await;
        prober.stop();
        result
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
