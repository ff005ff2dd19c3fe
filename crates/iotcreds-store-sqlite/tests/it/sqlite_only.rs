//! What only the SQLite engine promises.

use std::os::unix::fs::PermissionsExt;

use iotcreds_store::{Limits, Store, StoreError};

/// The file is created owner-only, in WAL mode with full synchronous commits and foreign keys.
#[tokio::test]
async fn open_creates_a_private_wal_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let store = iotcreds_store_sqlite::open(&path, Limits::default())
        .await
        .unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let pool = store.pool();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(synchronous, 2, "FULL");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(busy >= 5_000, "busy timeout {busy} ms");
    assert_eq!(store.subscribe().await.unwrap().map(|_| ()), None);
}

/// Reopening an existing file keeps its data and does not re-run migrations; an existing
/// file keeps its permissions.
#[tokio::test]
async fn reopen_keeps_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    {
        let store = iotcreds_store_sqlite::open(&path, Limits::default())
            .await
            .unwrap();
        store
            .put_setting("account_id", "123456789012")
            .await
            .unwrap();
        store.close().await;
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let store = iotcreds_store_sqlite::open(&path, Limits::default())
        .await
        .unwrap();
    assert_eq!(
        store.setting("account_id").await.unwrap().as_deref(),
        Some("123456789012")
    );
    assert_eq!(store.generation().await.unwrap(), 1);
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(applied, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o640
    );
}

/// A database that cannot be created is `Unavailable`, naming the path.
#[tokio::test]
async fn unopenable_path_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("registry.db");
    match iotcreds_store_sqlite::open(&path, Limits::default()).await {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("missing-dir"), "{m}"),
        other => panic!("expected Unavailable, got {:?}", other.map(|_| ())),
    }
}

/// The runtime migrator is the one `sqlx::migrate!` would build from the same directory.
#[tokio::test]
async fn migrations_match_the_directory() {
    let runtime = iotcreds_store_sqlite::migrator();
    let from_dir = sqlx::migrate::Migrator::new(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/migrations"
    )))
    .await
    .unwrap();
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

/// Paths with characters that mean something in a URL work as they are.
#[tokio::test]
async fn paths_with_url_characters() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("data dir #1 ?x=y %20");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("reg istry#?.db");
    let store = iotcreds_store_sqlite::open(&path, Limits::default())
        .await
        .unwrap();
    store.put_setting("k", "v").await.unwrap();
    store.close().await;
    assert!(path.is_file(), "the database is at the path given");
    let names: Vec<String> = std::fs::read_dir(&sub)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| n.starts_with("reg istry#?.db")),
        "{names:?}"
    );
    let store = iotcreds_store_sqlite::open(&path, Limits::default())
        .await
        .unwrap();
    assert_eq!(store.setting("k").await.unwrap().as_deref(), Some("v"));
}
