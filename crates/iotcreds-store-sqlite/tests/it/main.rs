//! The registry conformance suite on SQLite (each test on its own temporary database file),
//! plus what only the SQLite engine promises: file mode, journal mode, durability settings.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use iotcreds_store::{Limits, Store};
use iotcreds_store_sqlite::SqlStore;
use iotcreds_store_tests::Harness;

/// A fresh database file in its own temporary directory (removed on drop, after the store:
/// fields drop in order).
struct SqliteHarness {
    store: Arc<SqlStore>,
    path: PathBuf,
    limits: Limits,
    _dir: tempfile::TempDir,
}

#[async_trait]
impl Harness for SqliteHarness {
    const ENGINE: &'static str = "sqlite";
    const PUSHES_CHANGES: bool = false;

    async fn create(limits: Limits) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("registry.db");
        let store = iotcreds_store_sqlite::open(&path, limits)
            .await
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        Self {
            store: Arc::new(store),
            path,
            limits,
            _dir: dir,
        }
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn reopen(&self) -> Arc<dyn Store> {
        let store = iotcreds_store_sqlite::open(&self.path, self.limits)
            .await
            .unwrap_or_else(|e| panic!("cannot reopen {}: {e}", self.path.display()));
        Arc::new(store)
    }
}

iotcreds_store_tests::store_suite!(SqliteHarness);

mod sqlite_only;
