//! The registry's SQL, shared by the SQLite and PostgreSQL engines.
//!
//! [`SqlStore`] implements [`iotcreds_store::Store`] over the sqlx `Any` driver: one set of
//! runtime queries (`$1, $2` placeholders, only the types `Any` knows: `BIGINT`, `TEXT`, blobs)
//! runs unchanged on SQLite and PostgreSQL. The engine crates (`iotcreds-store-sqlite`,
//! `iotcreds-store-postgres`) own the connection options, the migrations (the DDL differs in
//! types and collations) and change notification; what little SQL differs at run time sits
//! behind [`Engine`].
//!
//! # How the contract is kept
//!
//! - **One transaction per method.** Writes go through a write transaction whose first
//!   statement increments the `registry_generation` row. On PostgreSQL that row lock
//!   serializes writers (`READ COMMITTED`, so every later statement sees what the previous
//!   writer committed); on SQLite the transaction starts with `BEGIN IMMEDIATE` and writers of
//!   one [`SqlStore`] also queue on an async mutex, so a read-then-write transaction never
//!   meets `SQLITE_BUSY` (the busy timeout covers other processes). Rule checks (existence,
//!   counts, states) therefore run in the same serialized transaction as the write they guard.
//! - **Generation.** A method that changed nothing (attaching what is attached, detaching what
//!   is not, `init_setting` of a set key) rolls back and leaves the generation alone; every
//!   other successful write commits the increment. PostgreSQL also runs
//!   `pg_notify('iotcreds_registry', generation)` in the same transaction.
//! - **Reads** that need more than one statement (a row and its tags or attributes) run in a
//!   read transaction (`REPEATABLE READ READ ONLY` on PostgreSQL, a deferred transaction on
//!   SQLite's WAL), so they see one snapshot.
//! - **IAM names** are stored with a lowercase `name_key` (the primary key, hence unique) and
//!   looked up by it; IAM lists sort by that key, so case does not split the order.
//! - **Paging** is keyset paging on the list's sort key; markers are the last key,
//!   base64url-encoded ([`iotcreds_store::StoreError::InvalidMarker`] if one does not decode).
//! - **Errors.** Connection and pool failures become `Unavailable`; anything else `Backend`,
//!   whose message names the operation and the SQLSTATE/constraint but never a bound value.

mod ca_certificates;
mod certificates;
mod console;
mod db;
mod iam_inline;
mod iam_managed;
mod iam_managed_attach;
mod iam_roles;
mod iam_users;
mod iot_policies;
mod iot_policy_targets;
mod iot_tags;
mod paging;
mod role_aliases;
mod row;
mod settings;
mod store;
mod tags;
mod thing_principals;
mod thing_types;
mod things;

use std::sync::Arc;

use async_trait::async_trait;
use iotcreds_store::{Limits, StoreResult, tokio_stream_like::ChangeStream};
use sqlx::AnyPool;

pub use db::map_sqlx_error;

/// The PostgreSQL `NOTIFY` channel on which every committed write announces the new generation.
pub const CHANGE_CHANNEL: &str = "iotcreds_registry";

/// Which database a [`SqlStore`] talks to; selects the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// SQLite (embedded, one process).
    Sqlite,
    /// PostgreSQL (shared by many instances).
    Postgres,
}

impl Engine {
    /// The name reported by `Store::engine`.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }

    /// The statement that opens a write transaction.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            // Take the write lock up front: a deferred transaction that reads and then writes
            // fails with SQLITE_BUSY instead of waiting when another writer got there first.
            Engine::Sqlite => "BEGIN IMMEDIATE",
            // The generation row lock serializes writers; READ COMMITTED lets every statement
            // after it see what the previous writer committed (REPEATABLE READ would fail).
            Engine::Postgres => "BEGIN ISOLATION LEVEL READ COMMITTED",
        }
    }

    /// The statement that opens a read transaction (one snapshot for every statement).
    pub(crate) fn begin_read(self) -> &'static str {
        match self {
            Engine::Sqlite => "BEGIN",
            Engine::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        }
    }

    /// The statement run last in every committing write transaction, bound to the new
    /// generation as text, if the engine pushes changes.
    pub(crate) fn notify_sql(self) -> Option<&'static str> {
        match self {
            Engine::Sqlite => None,
            Engine::Postgres => Some("SELECT pg_notify('iotcreds_registry', $1)"),
        }
    }
}

/// A source of pushed change notifications (PostgreSQL `LISTEN`), supplied by an engine crate.
#[async_trait]
pub trait ChangeSource: Send + Sync + 'static {
    /// Open a new stream of generations (see `Store::subscribe`).
    async fn subscribe(&self) -> StoreResult<ChangeStream>;
}

/// The registry over an sqlx `Any` pool. Cheap to clone (the pool and locks are shared).
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    engine: Engine,
    limits: Limits,
    /// Serializes this store's writers on SQLite (see the crate docs); `None` on PostgreSQL.
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
    changes: Option<Arc<dyn ChangeSource>>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("engine", &self.engine)
            .field("limits", &self.limits)
            .field("pushes_changes", &self.changes.is_some())
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// A store over `pool`, whose schema the engine crate has already migrated.
    pub fn new(pool: AnyPool, engine: Engine, limits: Limits) -> Self {
        let write_lock = match engine {
            Engine::Sqlite => Some(Arc::new(tokio::sync::Mutex::new(()))),
            Engine::Postgres => None,
        };
        Self {
            pool,
            engine,
            limits,
            write_lock,
            changes: None,
        }
    }

    /// Push change notifications from `source` through `Store::subscribe`.
    pub fn with_change_source(mut self, source: Arc<dyn ChangeSource>) -> Self {
        self.changes = Some(source);
        self
    }

    /// The pool (for engine-specific maintenance such as migrations).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The engine.
    pub fn engine_kind(&self) -> Engine {
        self.engine
    }

    /// The limits this store enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Close the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
