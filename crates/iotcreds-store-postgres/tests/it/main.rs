//! The registry conformance suite on PostgreSQL, plus what only this engine promises
//! (migrations on demand, change notification).
//!
//! Needs a server: `IOTCREDS_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres` (a role allowed to create databases). Each test
//! creates its own database `iotcreds_test_<random>` and drops it afterwards, also when it
//! fails. An unreachable server fails the tests, naming the URL.

mod pg_only;

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use iotcreds_store::{Limits, Store};
use iotcreds_store_postgres::{PgOptions, SqlStore};
use iotcreds_store_tests::Harness;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor};

/// The server the tests use.
pub fn admin_url() -> String {
    std::env::var("IOTCREDS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database of its own, dropped (with `FORCE`, closing leftover connections) on drop.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// Create an empty database with a random name.
    pub async fn create() -> Self {
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin}: {e}. Start it, or point \
                 IOTCREDS_TEST_POSTGRES_URL at a server where this role may create databases."
            )
        });
        let name = format!("iotcreds_test_{}", uuid::Uuid::new_v4().simple());
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name} at {admin}: {e}"));
        let _ = conn.close().await;
        let url = PgConnectOptions::from_str(&admin)
            .expect("a PostgreSQL URL")
            .database(&name)
            .to_url_lossy()
            .to_string();
        Self { name, url }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime (possibly while panicking): do the async cleanup
        // on a thread of its own, with its own runtime, and wait for it.
        let name = self.name.clone();
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin_url()).await?;
                conn.execute(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await?;
                conn.close().await
            })
            .map_err(std::io::Error::other)
        });
        match cleanup.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!(
                "could not drop test database {}: cleanup panicked",
                self.name
            ),
        }
    }
}

/// Small pools: many tests run at once against one server.
pub fn test_options() -> PgOptions {
    PgOptions {
        migrate: true,
        max_connections: 4,
        min_connections: 0,
        ..PgOptions::default()
    }
}

/// A fresh database and a store on it. Field order: the store closes before the database goes.
struct PgHarness {
    store: Arc<SqlStore>,
    limits: Limits,
    db: TestDb,
}

#[async_trait]
impl Harness for PgHarness {
    const ENGINE: &'static str = "postgres";
    const PUSHES_CHANGES: bool = true;

    async fn create(limits: Limits) -> Self {
        let db = TestDb::create().await;
        let store = iotcreds_store_postgres::open(&db.url, limits, test_options())
            .await
            .unwrap_or_else(|e| panic!("cannot open test database {}: {e}", db.name));
        Self {
            store: Arc::new(store),
            limits,
            db,
        }
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn reopen(&self) -> Arc<dyn Store> {
        let store = iotcreds_store_postgres::open(&self.db.url, self.limits, test_options())
            .await
            .unwrap_or_else(|e| panic!("cannot reopen test database {}: {e}", self.db.name));
        Arc::new(store)
    }
}

iotcreds_store_tests::store_suite!(PgHarness);
