//! What the fuzz targets share: the snapshot of the transfer fixture (its views, keys and
//! zones), loaded once per process.

use std::path::Path;
use std::sync::OnceLock;

use splitdns::Snapshot;

pub fn transfer_fixture() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let config =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/transfer/splitdns.toml");
        splitdns::load(&config)
            .expect("the transfer fixture loads")
            .snapshot
    })
}
