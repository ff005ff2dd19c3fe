//! What only the PostgreSQL engine promises.

use std::time::Duration;

use iotcreds_store::{Limits, Store, StoreError};
use iotcreds_store_postgres::PgOptions;

use crate::{TestDb, test_options};

/// `migrate` applies what is pending and reports it; a second run applies nothing; `open`
/// without `migrate` refuses a database that is behind and accepts one that is current.
#[tokio::test]
async fn migrate_on_demand() {
    let db = TestDb::create().await;
    let no_migrate = PgOptions {
        migrate: false,
        ..test_options()
    };
    match iotcreds_store_postgres::open(&db.url, Limits::default(), no_migrate.clone()).await {
        Err(StoreError::Backend(m)) => assert!(m.contains("iotcreds migrate"), "{m}"),
        other => panic!("expected a schema error, got {:?}", other.map(|_| ())),
    }
    assert_eq!(
        iotcreds_store_postgres::migrate(&db.url).await.unwrap(),
        vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    );
    assert_eq!(
        iotcreds_store_postgres::migrate(&db.url).await.unwrap(),
        Vec::<i64>::new()
    );
    let store = iotcreds_store_postgres::open(&db.url, Limits::default(), no_migrate)
        .await
        .unwrap();
    store.put_setting("a", "b").await.unwrap();
    assert_eq!(store.generation().await.unwrap(), 1);
    store.close().await;
}

/// The runtime migrator is the one `sqlx::migrate!` would build from the same directory.
#[tokio::test]
async fn migrations_match_the_directory() {
    let runtime = iotcreds_store_postgres::migrator();
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
    let from_dir = sqlx::migrate::Migrator::new(dir).await.unwrap();
    let a: Vec<_> = runtime
        .iter()
        .map(|m| (m.version, m.description.to_string(), m.checksum.to_vec()))
        .collect();
    let b: Vec<_> = from_dir
        .iter()
        .map(|m| (m.version, m.description.to_string(), m.checksum.to_vec()))
        .collect();
    assert_eq!(a, b);
}

/// An unreachable server is `Unavailable`.
#[tokio::test]
async fn unreachable_server_is_unavailable() {
    // Port 1 on loopback: nothing listens there.
    let options = PgOptions {
        connect_timeout: Duration::from_secs(5),
        ..test_options()
    };
    match iotcreds_store_postgres::open(
        "postgres://postgres@127.0.0.1:1/postgres",
        Limits::default(),
        options,
    )
    .await
    {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {:?}", other.map(|_| ())),
    }
}

/// A stream survives its server connection being killed: it yields `None` once the listener
/// is back, then reports writes again.
#[tokio::test]
async fn subscription_reports_reconnects_with_none() {
    let db = TestDb::create().await;
    let store = iotcreds_store_postgres::open(&db.url, Limits::default(), test_options())
        .await
        .unwrap();
    let mut rx = store.subscribe().await.unwrap().expect("a change stream");
    store.put_setting("a", "1").await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(1), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, Some(1));

    // Kill the LISTEN connection (it is the one that ran LISTEN: its last query).
    let killed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%') t",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(killed, 1);
    let after = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, None, "a reconnect is reported as None");

    store.put_setting("a", "2").await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next, Some(2));
    store.close().await;
}
