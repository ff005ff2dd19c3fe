//! SQLite engine of the registry: the embedded default.
//!
//! [`open`] creates the database file if it is missing (mode 0600), puts it in WAL mode with
//! `synchronous=FULL` (a committed registry change survives a power cut), turns foreign keys on,
//! sets a busy timeout and applies the migrations in `migrations/` (checksum-compatible with
//! `sqlx::migrate!`). The returned [`SqlStore`] runs the shared SQL of `iotcreds-store-sql`;
//! it serializes its own writers, so read-then-write transactions never meet `SQLITE_BUSY`
//! within one process. SQLite cannot push changes: `Store::subscribe` returns `Ok(None)` and
//! callers poll `Store::generation`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use iotcreds_store::{Limits, StoreError};
use iotcreds_store_sql::{Engine, map_sqlx_error};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Executor, SqlSafeStr};

pub use iotcreds_store_sql::SqlStore;

/// How long a statement waits for another process's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections in the pool (readers run concurrently under WAL; writers take turns).
const MAX_CONNECTIONS: u32 = 8;

/// Run on every new connection, in this order.
const PRAGMAS: [&str; 4] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000", // BUSY_TIMEOUT
];

/// The migrations of this engine, in order.
pub fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("../migrations/0001_init.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "console".into(),
            MigrationType::Simple,
            include_str!("../migrations/0002_console.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "sealing key revocation".into(),
            MigrationType::Simple,
            include_str!("../migrations/0003_sealing_key_revocation.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            4,
            "user permissions boundary".into(),
            MigrationType::Simple,
            include_str!("../migrations/0004_user_permissions_boundary.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            5,
            "access key last used".into(),
            MigrationType::Simple,
            include_str!("../migrations/0005_access_key_last_used.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            6,
            "thing session revocation".into(),
            MigrationType::Simple,
            include_str!("../migrations/0006_thing_session_revocation.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            7,
            "role alias session tags".into(),
            MigrationType::Simple,
            include_str!("../migrations/0007_role_alias_session_tags.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            8,
            "ca crl".into(),
            MigrationType::Simple,
            include_str!("../migrations/0008_ca_crl.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            9,
            "ca revocation config".into(),
            MigrationType::Simple,
            include_str!("../migrations/0009_ca_revocation_config.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            10,
            "ca crl number".into(),
            MigrationType::Simple,
            include_str!("../migrations/0010_ca_crl_number.sql").into_sql_str(),
            false,
        ),
    ])
}

/// Open (creating if needed) the registry database at `path` and bring its schema up to date.
///
/// The parent directory must exist. Errors: `Unavailable` if the file cannot be created or
/// opened, `Backend` if a migration fails.
pub async fn open(path: &Path, limits: Limits) -> Result<SqlStore, StoreError> {
    sqlx::any::install_default_drivers();
    create_private(path)?;

    let url = sqlite_url(path)?;
    let options = AnyConnectOptions::from_str(&url).map_err(map_sqlx_error)?;
    let pool = AnyPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .min_connections(1)
        .acquire_timeout(BUSY_TIMEOUT + Duration::from_secs(20))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                for pragma in PRAGMAS {
                    conn.execute(pragma).await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|e| match map_sqlx_error(e) {
            StoreError::Backend(m) => {
                StoreError::Unavailable(format!("cannot open {}: {m}", path.display()))
            }
            other => other,
        })?;

    if let Err(e) = migrator().run(&pool).await {
        pool.close().await;
        return Err(StoreError::Backend(format!(
            "registry migration failed: {e}"
        )));
    }
    tracing::debug!(path = %path.display(), "SQLite registry open");
    Ok(SqlStore::new(pool, Engine::Sqlite, limits))
}

/// `sqlite:///abs/path?mode=rw` with every byte of the path that is not unreserved
/// percent-encoded (sqlx decodes the path part; `to_url_lossy` leaves `%` alone, which breaks
/// names that contain it).
fn sqlite_url(path: &Path) -> Result<String, StoreError> {
    let absolute = std::path::absolute(path)
        .map_err(|e| StoreError::Unavailable(format!("cannot resolve {}: {e}", path.display())))?;
    let mut url = String::from("sqlite://");
    for &b in absolute.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("?mode=rw");
    Ok(url)
}

/// Create `path` readable and writable by its owner only, unless it exists.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Unavailable(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}
