//! Going live: [`Live::publish`] is the one function that start-up and every reload call to make
//! a load the served state. It logs the checks' warnings, the serials it raised and what signing
//! did, keeps the served serials, points the health checks at the new plan, builds each view's
//! runtime record ([`ViewRuntime`]: rate limits, resolver, counter slot, NOTIFY targets), swaps
//! the whole in with one atomic store, and sends the NOTIFYs the change calls for. A new per-view
//! runtime part is a field of [`ViewRuntime`] built here, and nowhere else.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::{Config, ViewConfig};
use crate::health::Prober;
use crate::load::Loaded;
use crate::observe::{Metrics, Registry};
use crate::resolve::Resolver;
use crate::server::{Published, SharedState, ViewRuntime};
use crate::transfer::notify::{self, Secondaries};
use crate::view::Snapshot;

/// What outlives every snapshot and is handed each new one: the served state, the counters and
/// the health checks. Cheap to clone (the clones share them).
#[derive(Clone)]
pub struct Live {
    pub state: SharedState,
    pub metrics: Arc<Metrics>,
    pub prober: Prober,
}

impl Live {
    /// Goes live with the first load, over nothing served before, and returns its config. Call
    /// within the runtime once the sockets are bound: the secondaries sent NOTIFY ask at once.
    pub fn start(loaded: Loaded, metrics: Arc<Metrics>, prober: Prober) -> (Live, Config) {
        let nothing = Published {
            snapshot: Snapshot::new(Vec::new(), [], Vec::new(), Vec::new()),
            views: Vec::new(),
            tls: None,
        };
        let live = Live {
            state: Arc::new(ArcSwap::from_pointee(nothing)),
            metrics,
            prober,
        };
        let config = live.publish(loaded);
        (live, config)
    }

    /// Serves `loaded` in place of what is served now, and returns its config. Call within the
    /// runtime.
    pub fn publish(&self, loaded: Loaded) -> Config {
        for finding in loaded.warnings() {
            tracing::warn!("{finding}");
        }
        for notice in &loaded.serial {
            tracing::warn!("{notice}");
        }
        if let Some(signing) = &loaded.signing {
            tracing::info!("{signing}");
        }
        if let Err(e) = loaded.save_serials() {
            tracing::warn!("{e}");
        }
        let previous = self.state.load_full();
        // Addresses that stay keep their state: the new board starts from it, before the
        // snapshot that reads it is served.
        self.prober.apply(Arc::new(loaded.health.clone()));
        let (config, published) =
            loaded.into_published_after(&self.metrics.queries, Some(&previous));
        let notifies = notify::due(
            published.views.iter().map(|view| &view.secondaries),
            Some(&previous.snapshot),
            &published.snapshot,
        );
        self.state.store(Arc::new(published));
        // Only once stored: a secondary that asks at once gets the new serial.
        notify::spawn_all(notifies);
        config
    }
}

// Written here rather than beside `Loaded`, so that the loader stays free of the runtime; as
// methods, so that tests and benchmarks build what the server answers from in one call.
impl Loaded {
    /// What the server answers from: the snapshot with each view's runtime record (new
    /// resolvers: empty caches), its counter slots taken from `counters`.
    pub fn into_published(self, counters: &Registry) -> (Config, Published) {
        self.into_published_after(counters, None)
    }

    /// [`Loaded::into_published`] over `previous`: a recursive view whose name and resolver
    /// settings are unchanged keeps its resolver, so its cache survives the reload.
    pub fn into_published_after(
        self,
        counters: &Registry,
        previous: Option<&Published>,
    ) -> (Config, Published) {
        let slots = counters.slots_for(&self.snapshot);
        let views = self
            .config
            .views
            .iter()
            .zip(slots)
            .map(|(view, counter_slot)| ViewRuntime {
                rate_limit: view.rrl.clone(),
                resolver: resolver(view, previous),
                counter_slot,
                secondaries: Secondaries {
                    notify: view.notify.clone(),
                    source: view.notify_source,
                    // Signed with the view's first key.
                    key: view
                        .keys
                        .first()
                        .map(|&index| self.config.keys[index].key.clone()),
                },
            })
            .collect();
        // The certificate as read by this load: the next TLS handshake presents it.
        let tls = self
            .config
            .tls
            .as_ref()
            .map(|tls| Arc::new(tls.settings.clone()));
        let published = Published {
            snapshot: self.snapshot,
            views,
            tls,
        };
        (self.config, published)
    }
}

/// A recursive view's resolver: `previous`'s for a view of the same name and settings, else new.
fn resolver(view: &ViewConfig, previous: Option<&Published>) -> Option<Arc<Resolver>> {
    let settings = &view.recursion.as_ref()?.settings;
    let kept = previous.and_then(|previous| {
        let index = previous
            .snapshot
            .views
            .iter()
            .position(|v| v.name == view.name)?;
        previous.views[index]
            .resolver
            .clone()
            .filter(|resolver| resolver.settings() == settings)
    });
    Some(kept.unwrap_or_else(|| Arc::new(Resolver::new(settings.clone()))))
}
