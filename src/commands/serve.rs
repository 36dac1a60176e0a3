//! `splitdns serve` (the default command): loads the config, binds the sockets, goes live with
//! the load (the same publishing every reload does), and wires the reloader and the control
//! listener to the server core, which takes the bound sockets and a shutdown token. Errors are
//! reported here, once.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::commands;
use crate::control::{self, Control};
use crate::health::Prober;
use crate::reload::{self, Live, Reloader};
use crate::server::{self, Listeners};
use crate::systemd;

/// Serves `config_path` on `listen`, or on the config's `listen` when that is empty.
pub fn run(config_path: &Path, listen: Vec<SocketAddr>) -> ExitCode {
    // Loaded to serve: a zone whose files do not load, or a view's copy of a zone with a check
    // error, is held back on its own (not served), unless the config says all_or_nothing.
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
        let view = failure
            .view
            .map(|index| format!(" in view {}", loaded.config.views[index].name))
            .unwrap_or_default();
        tracing::error!(
            "zone {} is held back{view}: not served (SERVFAIL) {}",
            failure.origin,
            failure.until()
        );
    }
    let summary = loaded.snapshot.summary();
    let addrs = if listen.is_empty() {
        loaded.config.listen.clone()
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
    let control = loaded.config.control;
    let control_listener = match control.map(std::net::TcpListener::bind).transpose() {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(
                "cannot bind the control listener {}: {e}",
                control.map_or(String::new(), |a| a.to_string())
            );
            return ExitCode::FAILURE;
        }
    };

    // Kept before going live (going live keeps them again): a state_dir that cannot take them
    // stops the start here, instead of a warning on every reload and a lower serial after the
    // next restart. The config's check has already refused a missing or read-only one.
    if let Err(e) = loaded.save_serials() {
        tracing::error!("{e}; not starting");
        return ExitCode::FAILURE;
    }
    let metrics = Arc::new(crate::Metrics::default());
    if let Some(log) = &loaded.config.query_log {
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
    let served_on = listeners.local_addrs();
    let result = runtime.block_on(async {
        // Once the sockets are bound: the secondaries sent NOTIFY ask at once. The health checks
        // start with it, before the first query.
        let (live, config) = Live::start(loaded, metrics, Prober::new());
        let reloader = Reloader::new(live.clone(), &config, served_on.clone());
        tokio::spawn(stop_on_signal(shutdown.clone()));
        let reload = reload::spawn(reloader, shutdown.clone());
        if let Some(listener) = control_listener {
            let mut control = Control::new(
                live.state.clone(),
                live.metrics.clone(),
                reload,
                served_on,
                live.prober.clone(),
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
        let result = server::run(
            listeners,
            live.state.clone(),
            config.tcp,
            live.metrics.clone(),
            shutdown,
        )
        .await;
        live.prober.stop();
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
