//! `splitdns serve` (the default command): loads the config, opens every socket and file it needs
//! ([`open`]), goes live with the load (the same publishing every reload does), wires the
//! reloader and the control listener to the server core, which takes the bound sockets and a
//! shutdown token, and only then says "serving on" and READY=1. Errors are reported here, once.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::commands;
use crate::control::{self, Control};
use crate::health::Prober;
use crate::load::Loaded;
use crate::located::Located;
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
    let loops = loaded
        .config
        .listen_loops
        .unwrap_or_else(server::loops_per_core);
    let Opened {
        runtime,
        listeners,
        control_listener,
        metrics,
    } = match open(&loaded, &addrs, loops) {
        Ok(opened) => opened,
        Err(e) => {
            tracing::error!("{e}; not starting");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    let served_on = listeners.local_addrs();
    runtime.block_on(async {
        // Once everything is open: the secondaries sent NOTIFY ask at once. The health checks
        // start with it, before the first query.
        let signing_due = loaded.signing_due;
        let (live, config) = Live::start(loaded, metrics, Prober::new());
        // What the load built and dropped on the way (the unsigned copies a signed zone
        // replaced, the records read) goes back to the system, as after every reload.
        tokio::task::spawn_blocking(crate::heap::release_free_memory);
        let reloader = Reloader::new(live.clone(), &config, served_on.clone(), signing_due);
        tokio::spawn(stop_on_signal(shutdown.clone()));
        let reload = reload::spawn(reloader, shutdown.clone());
        if let Some(listener) = control_listener {
            let mut control = Control::new(
                live.state.clone(),
                live.metrics.clone(),
                reload,
                served_on.clone(),
                live.prober.clone(),
            );
            control.address = listener.local_addr().ok();
            control.loopback_only = control.address.is_some_and(|addr| addr.ip().is_loopback());
            if let Some(addr) = control.address {
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
        if let Some(log) = &config.query_log {
            tracing::info!(
                "logging one query in {} to {}",
                log.sample,
                log.path.display()
            );
        }
        systemd::spawn_watchdog(shutdown.clone());
        // Every socket and file is open (queries queue in the sockets from now on) and the
        // snapshot is published: the server answers, and only now says so.
        let bound: Vec<String> = served_on.iter().map(ToString::to_string).collect();
        tracing::info!(
            "serving on {} (udp+tcp, {loops} receive loop(s) each); {summary}",
            bound.join(", ")
        );
        let (dot, doh) = listeners.tls_addrs();
        if let Some(tls) = &config.tls {
            for addr in dot {
                tracing::info!("DNS over TLS on {addr}");
            }
            for addr in doh {
                tracing::info!("DNS over HTTPS on https://{addr}{}", tls.settings.doh_path);
            }
        }
        systemd::ready(&summary);
        server::run(
            listeners,
            live.state.clone(),
            config.tcp,
            live.metrics.clone(),
            shutdown,
        )
        .await;
        live.prober.stop();
    });
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// What a start opens before it announces anything.
struct Opened {
    runtime: tokio::runtime::Runtime,
    listeners: server::Sockets,
    control_listener: Option<tokio::net::TcpListener>,
    metrics: Arc<crate::Metrics>,
}

/// What stopped a start whose config loaded: something that could not be opened.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// The message names the protocol and the address.
    #[error("{0}")]
    Listen(std::io::Error),
    #[error("cannot bind the control listener {addr}: {source}")]
    Control {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// At the `[query_log] path` line.
    #[error("{0}")]
    QueryLog(Located),
    #[error("{0}")]
    Serials(String),
}

/// Opens every socket and file the server needs — the DNS listeners (`loops` sockets of each
/// protocol per address), the control listener, the query log — and keeps the served serials, so
/// that a failure stops the start before anything is announced: no "serving on" line, no READY=1
/// that systemd would take for a started unit, no NOTIFY to the secondaries. Any failure is one
/// error, returned whole.
fn open(loaded: &Loaded, addrs: &[SocketAddr], loops: NonZeroUsize) -> Result<Opened, StartError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    // Registered with the runtime's reactor here rather than once it runs, with a descriptor
    // for every receive loop: a failure must come before the start is announced.
    let entered = runtime.enter();
    let listeners = Listeners::bind(addrs, loops)
        .and_then(|mut listeners| {
            if let Some(tls) = &loaded.config.tls {
                listeners.bind_tls(&tls.dot_listen, &tls.doh_listen)?;
            }
            Ok(listeners)
        })
        .and_then(Listeners::open)
        .map_err(StartError::Listen)?;
    let control_listener = match loaded.config.control {
        None => None,
        Some(addr) => {
            let listener = std::net::TcpListener::bind(addr)
                .and_then(|listener| {
                    listener.set_nonblocking(true)?;
                    tokio::net::TcpListener::from_std(listener)
                })
                .map_err(|source| StartError::Control { addr, source })?;
            Some(listener)
        }
    };
    drop(entered);
    let metrics = Arc::new(crate::Metrics::default());
    if let Some(log) = &loaded.config.query_log {
        metrics
            .queries
            .enable_query_log(&log.path, log.sample)
            .map_err(|e| StartError::QueryLog(log.located(e)))?;
    }
    // Kept before going live (going live keeps them again): a state_dir that cannot take them
    // stops the start here, instead of a warning on every reload and a lower serial after the
    // next restart. The config's check has already refused a missing or read-only one.
    loaded.save_serials().map_err(StartError::Serials)?;
    Ok(Opened {
        runtime,
        listeners,
        control_listener,
        metrics,
    })
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
