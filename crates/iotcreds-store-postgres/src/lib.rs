//! PostgreSQL engine of the registry: shared by every instance of a scale-out deployment.
//!
//! [`open`] connects an sqlx `Any` pool (the SQL is the shared SQL of `iotcreds-store-sql`),
//! optionally applies the migrations in `migrations/` (under PostgreSQL's advisory lock, so
//! instances starting together do not race), and returns a [`SqlStore`] whose
//! `Store::subscribe` pushes changes: every committed write runs
//! `pg_notify('iotcreds_registry', generation)` in its transaction, and [`listen`] forwards those
//! notifications from a dedicated `LISTEN` connection.
//!
//! [`migrate`] applies pending migrations and reports which; it backs `iotcreds migrate` for
//! deployments that open with `PgOptions { migrate: false, .. }`.

mod listen;

use std::sync::Arc;
use std::time::Duration;

use iotcreds_store::{Limits, StoreError};
use iotcreds_store_sql::{Engine, map_sqlx_error};
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, SqlSafeStr};

pub use iotcreds_store_sql::SqlStore;
pub use listen::{PgChangeSource, listen};

/// How `open` connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Apply pending migrations at open (otherwise `open` fails if the schema is behind).
    pub migrate: bool,
    /// Largest number of pooled connections (the `LISTEN` connection is extra).
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// How long to wait for a connection (connecting or from the pool) before `Unavailable`.
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            migrate: true,
            max_connections: 10,
            min_connections: 1,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

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

/// Open the registry at `url` (`postgres://user[:password]@host[:port]/database[?sslmode=...]`).
///
/// Errors: `Unavailable` if the server cannot be reached; `Backend` if a migration fails or,
/// with `migrate: false`, if the schema is not up to date.
pub async fn open(url: &str, limits: Limits, options: PgOptions) -> Result<SqlStore, StoreError> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(options.max_connections)
        .min_connections(options.min_connections)
        .acquire_timeout(options.connect_timeout)
        .connect(url)
        .await
        .map_err(map_sqlx_error)?;
    let prepared = if options.migrate {
        migrator()
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("registry migration failed: {e}")))
    } else {
        check_schema(&pool).await
    };
    if let Err(e) = prepared {
        pool.close().await;
        return Err(e);
    }
    let changes = Arc::new(PgChangeSource::new(url));
    Ok(SqlStore::new(pool, Engine::Postgres, limits).with_change_source(changes))
}

/// Apply the pending migrations to the registry at `url`; returns the versions applied now
/// (empty if the schema was up to date).
pub async fn migrate(url: &str) -> Result<Vec<i64>, StoreError> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(map_sqlx_error)?;
    let result = async {
        let before = applied_versions(&pool).await?;
        migrator()
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("registry migration failed: {e}")))?;
        let after = applied_versions(&pool).await?;
        Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
    }
    .await;
    pool.close().await;
    result
}

/// Versions recorded in sqlx's migrations table (empty if there is none yet).
async fn applied_versions(pool: &AnyPool) -> Result<Vec<i64>, StoreError> {
    let exists: Option<String> =
        sqlx::query_scalar("SELECT CAST(to_regclass('_sqlx_migrations') AS TEXT)")
            .fetch_one(pool)
            .await
            .map_err(map_sqlx_error)?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(pool)
        .await
        .map_err(map_sqlx_error)
}

/// `Backend` unless every migration of this build has been applied.
async fn check_schema(pool: &AnyPool) -> Result<(), StoreError> {
    let applied = applied_versions(pool).await?;
    let missing: Vec<i64> = migrator()
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "the registry schema is missing migrations {missing:?}; run `iotcreds migrate`"
        )))
    }
}
