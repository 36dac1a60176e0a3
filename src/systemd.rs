//! The service manager's side of the story (`Type=notify`, sd_notify(3)) through the `sd-notify`
//! crate: READY=1 once the server answers, STATUS= with what it serves, RELOADING=1 and READY=1
//! around each reload, WATCHDOG=1 pings when the unit sets `WatchdogSec`, STOPPING=1 on the way
//! out. Outside systemd (no `NOTIFY_SOCKET`) each call does nothing. A failed notification is
//! logged at debug level and otherwise ignored: it must never stop the server.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify failed: {e}");
    }
}

/// Every socket and file is open and the first snapshot serves: systemd may start what depends
/// on us. A start that fails before this never sends it (the unit fails instead).
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload has begun. MONOTONIC_USEC lets systemd (253 and later) match it to `systemctl reload`.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// A reload has ended (whatever its result: the server serves either way).
pub fn reloaded(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// When the unit sets `WatchdogSec`, pings at half the interval until `shutdown`. The pings come
/// from the runtime that also runs the TCP listeners and the reloader, so a wedged runtime stops
/// them and systemd restarts the server.
pub fn spawn_watchdog(shutdown: CancellationToken) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let period = (interval / 2).max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = ticks.tick() => send(&[NotifyState::Watchdog]),
                () = shutdown.cancelled() => return,
            }
        }
    });
}
