//! Transactions, the generation counter and the mapping of sqlx errors to [`StoreError`].

use iotcreds_store::{Entity, StoreError, StoreResult};
use sqlx::AnyConnection;
use sqlx::error::ErrorKind;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Transaction};
use tokio::sync::OwnedMutexGuard;

use crate::SqlStore;

/// Increments the registry-wide generation; the first statement of every write transaction.
const BUMP_GENERATION: &str =
    "UPDATE registry_generation SET generation = generation + 1 WHERE id = 1 RETURNING generation";

/// Reads the registry-wide generation.
const READ_GENERATION: &str = "SELECT generation FROM registry_generation WHERE id = 1";

/// Map an sqlx error to a [`StoreError`] whose message never contains a bound or stored value.
///
/// Connection and pool failures (and PostgreSQL's connection-class SQLSTATEs, SQLite's busy
/// database) are `Unavailable`; everything else is `Backend`.
pub fn map_sqlx_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Io(io) => StoreError::Unavailable(format!("database I/O error: {io}")),
        sqlx::Error::Tls(tls) => StoreError::Unavailable(format!("database TLS error: {tls}")),
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable("timed out waiting for a database connection".into())
        }
        sqlx::Error::PoolClosed => StoreError::Unavailable("the connection pool is closed".into()),
        sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable("the database connection worker stopped".into())
        }
        sqlx::Error::Database(db) => map_database_error(db.as_ref()),
        // Decode errors print the offending value: keep only where it happened.
        sqlx::Error::ColumnDecode { index, .. } => {
            StoreError::Backend(format!("cannot decode column {index}"))
        }
        sqlx::Error::Decode(_) => StoreError::Backend("cannot decode a value".into()),
        sqlx::Error::Encode(_) => StoreError::Backend("cannot encode a value".into()),
        // May quote the connection URL, which can hold a password.
        sqlx::Error::Configuration(_) => {
            StoreError::Backend("invalid database configuration".into())
        }
        sqlx::Error::Protocol(_) => StoreError::Backend("unexpected data from the database".into()),
        sqlx::Error::ColumnNotFound(c) => StoreError::Backend(format!("no column {c}")),
        sqlx::Error::RowNotFound => {
            StoreError::Backend("a row the store expected is missing".into())
        }
        sqlx::Error::Migrate(m) => StoreError::Backend(format!("migration failed: {m}")),
        other => StoreError::Backend(other.to_string()),
    }
}

fn map_database_error(db: &dyn sqlx::error::DatabaseError) -> StoreError {
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    if is_unavailable_code(&code) {
        return StoreError::Unavailable(format!("database unavailable (code {code})"));
    }
    let what = match db.kind() {
        ErrorKind::UniqueViolation => "unique constraint violated",
        ErrorKind::ForeignKeyViolation => "foreign key constraint violated",
        ErrorKind::NotNullViolation => "not-null constraint violated",
        ErrorKind::CheckViolation => "check constraint violated",
        _ => "",
    };
    let mut msg = format!("database error (code {code})");
    if !what.is_empty() {
        msg.push_str(": ");
        msg.push_str(what);
        if let Some(c) = db.constraint() {
            msg.push_str(" (");
            msg.push_str(c);
            msg.push(')');
        }
    } else if !code.starts_with("22") {
        // PostgreSQL's class 22 (data exception) messages quote the offending input; every
        // other primary message (SQLite's and PostgreSQL's) names only objects.
        msg.push_str(": ");
        msg.push_str(db.message());
    }
    StoreError::Backend(msg)
}

/// SQLSTATEs and SQLite codes that mean "the database cannot serve us right now".
fn is_unavailable_code(code: &str) -> bool {
    // PostgreSQL: connection exceptions, too many connections, shutdown / starting up.
    if code.starts_with("08") || matches!(code, "53300" | "57P01" | "57P02" | "57P03") {
        return true;
    }
    // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6) with any extended code, after the busy
    // timeout ran out.
    matches!(code.parse::<u32>(), Ok(n) if n & 0xff == 5 || n & 0xff == 6)
}

/// Like [`map_sqlx_error`], but a unique violation is `AlreadyExists` for `entity`/`key`
/// (a backstop: writers are serialized and check first).
pub(crate) fn unique_as_exists(
    entity: Entity,
    key: &str,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
            StoreError::already_exists(entity, key)
        }
        _ => map_sqlx_error(e),
    }
}

/// Shorthand used by every query: `.map_err(err)`.
pub(crate) fn err(e: sqlx::Error) -> StoreError {
    map_sqlx_error(e)
}

/// Prefix `Backend` messages with the operation, for logs.
pub(crate) fn in_op<T>(op: &'static str, r: StoreResult<T>) -> StoreResult<T> {
    r.map_err(|e| match e {
        StoreError::Backend(m) => StoreError::Backend(format!("{op}: {m}")),
        other => other,
    })
}

/// What a write did: `Unchanged` rolls back (no generation increment).
pub(crate) enum Outcome<T> {
    /// Something was written; commit.
    Changed(T),
    /// Nothing needed writing (an idempotent repeat); roll back.
    Unchanged(T),
}

/// A write transaction: opened with the engine's write `BEGIN`, generation already bumped.
///
/// Field order matters: the transaction is dropped (rolled back) before the writer lock is
/// released.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    generation: i64,
    notify: Option<&'static str>,
    op: &'static str,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// The connection to run statements on.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Commit `result` if it is `Ok`, roll back otherwise.
    pub(crate) async fn finish<T>(self, result: StoreResult<T>) -> StoreResult<T> {
        self.finish_outcome(result.map(Outcome::Changed)).await
    }

    /// Commit a `Changed` outcome, roll back an `Unchanged` one or an error.
    pub(crate) async fn finish_outcome<T>(
        mut self,
        result: StoreResult<Outcome<T>>,
    ) -> StoreResult<T> {
        let op = self.op;
        match result {
            Ok(Outcome::Changed(v)) => {
                if let Some(sql) = self.notify {
                    let r = sqlx::query(sql)
                        .bind(self.generation.to_string())
                        .execute(&mut *self.tx)
                        .await;
                    in_op(op, r.map_err(err))?;
                }
                in_op(op, self.tx.commit().await.map_err(err))?;
                Ok(v)
            }
            Ok(Outcome::Unchanged(v)) => {
                self.rollback().await;
                Ok(v)
            }
            Err(e) => {
                self.rollback().await;
                in_op(op, Err(e))
            }
        }
    }

    async fn rollback(self) {
        if let Err(e) = self.tx.rollback().await {
            // The connection is returned to the pool and reset; nothing was committed.
            tracing::warn!(op = self.op, error = %map_sqlx_error(e), "registry rollback failed");
        }
    }
}

/// A read transaction: one snapshot for several statements.
pub(crate) struct ReadTx {
    tx: Transaction<'static, Any>,
    op: &'static str,
}

impl ReadTx {
    /// The connection to run statements on.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// End the transaction and return `result`.
    pub(crate) async fn finish<T>(self, result: StoreResult<T>) -> StoreResult<T> {
        let op = self.op;
        // Nothing was written: commit and rollback are equivalent; commit is cheaper on both.
        let end = self.tx.commit().await.map_err(err);
        let v = in_op(op, result)?;
        in_op(op, end)?;
        Ok(v)
    }
}

impl SqlStore {
    /// Open a write transaction for `op` and bump the generation.
    pub(crate) async fn write(&self, op: &'static str) -> StoreResult<WriteTx> {
        let writer = match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let mut tx = in_op(
            op,
            self.pool
                .begin_with(self.engine.begin_write())
                .await
                .map_err(err),
        )?;
        let generation: i64 = in_op(
            op,
            sqlx::query_scalar(BUMP_GENERATION)
                .fetch_one(&mut *tx)
                .await
                .map_err(err),
        )?;
        Ok(WriteTx {
            tx,
            generation,
            notify: self.engine.notify_sql(),
            op,
            _writer: writer,
        })
    }

    /// Open a write transaction for `op` that leaves the generation alone: for the event log,
    /// which is not registry state (no cache depends on it). On SQLite it still queues with
    /// the other writers.
    pub(crate) async fn write_log(&self, op: &'static str) -> StoreResult<WriteTx> {
        let writer = match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let tx = in_op(
            op,
            self.pool
                .begin_with(self.engine.begin_write())
                .await
                .map_err(err),
        )?;
        Ok(WriteTx {
            tx,
            generation: 0,
            notify: None,
            op,
            _writer: writer,
        })
    }

    /// Open a read transaction for `op`.
    pub(crate) async fn read(&self, op: &'static str) -> StoreResult<ReadTx> {
        let tx = in_op(
            op,
            self.pool
                .begin_with(self.engine.begin_read())
                .await
                .map_err(err),
        )?;
        Ok(ReadTx { tx, op })
    }

    /// A pooled connection for a single-statement read.
    pub(crate) async fn conn(&self, op: &'static str) -> StoreResult<PoolConnection<Any>> {
        in_op(op, self.pool.acquire().await.map_err(err))
    }

    /// The current generation.
    pub(crate) async fn read_generation(&self) -> StoreResult<i64> {
        let r = sqlx::query_scalar(READ_GENERATION)
            .fetch_one(&self.pool)
            .await;
        in_op("generation", r.map_err(err))
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::error::Error as StdError;

    use super::*;

    /// A database error as a driver would report it.
    #[derive(Debug)]
    struct Fake {
        code: &'static str,
        message: &'static str,
        kind: ErrorKind,
    }

    impl std::fmt::Display for Fake {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.message)
        }
    }

    impl StdError for Fake {}

    impl sqlx::error::DatabaseError for Fake {
        fn message(&self) -> &str {
            self.message
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.code))
        }
        fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
            self
        }
        fn constraint(&self) -> Option<&str> {
            (self.kind == ErrorKind::UniqueViolation).then_some("iam_roles_pkey")
        }
        fn kind(&self) -> ErrorKind {
            match &self.kind {
                ErrorKind::UniqueViolation => ErrorKind::UniqueViolation,
                _ => ErrorKind::Other,
            }
        }
    }

    fn db(code: &'static str, message: &'static str, kind: ErrorKind) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Fake {
            code,
            message,
            kind,
        }))
    }

    #[test]
    fn connection_failures_are_unavailable() {
        let unavailable = [
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            db("08006", "connection failure", ErrorKind::Other),
            db(
                "57P01",
                "terminating connection due to administrator command",
                ErrorKind::Other,
            ),
            db("53300", "too many connections", ErrorKind::Other),
            db("5", "database is locked", ErrorKind::Other),
            db("517", "database is locked", ErrorKind::Other),
        ];
        for e in unavailable {
            let shown = format!("{e:?}");
            assert!(map_sqlx_error(e).is_unavailable(), "{shown}");
        }
        assert!(
            !map_sqlx_error(db("42P01", "relation does not exist", ErrorKind::Other))
                .is_unavailable()
        );
    }

    #[test]
    fn backend_messages_never_carry_values() {
        let leaky = [
            db(
                "22P02",
                "invalid input syntax for type bigint: \"SECRET\"",
                ErrorKind::Other,
            ),
            db(
                "23505",
                "duplicate key value violates unique constraint",
                ErrorKind::UniqueViolation,
            ),
            sqlx::Error::ColumnDecode {
                index: "\"secret\"".into(),
                source: "expected BIGINT, got Text(\"SECRET\")".into(),
            },
            sqlx::Error::Decode("SECRET".into()),
            sqlx::Error::Encode("SECRET".into()),
            sqlx::Error::Configuration("postgres://u:SECRET@host/db".into()),
            sqlx::Error::Protocol("SECRET".into()),
        ];
        for e in leaky {
            match map_sqlx_error(e) {
                StoreError::Backend(m) => assert!(!m.contains("SECRET"), "{m}"),
                other => panic!("expected Backend, got {other:?}"),
            }
        }
        let unique = map_sqlx_error(db("23505", "duplicate key", ErrorKind::UniqueViolation));
        assert_eq!(
            unique,
            StoreError::Backend(
                "database error (code 23505): unique constraint violated (iam_roles_pkey)".into()
            )
        );
        let other = map_sqlx_error(db(
            "42P01",
            "relation \"things\" does not exist",
            ErrorKind::Other,
        ));
        assert_eq!(
            other,
            StoreError::Backend(
                "database error (code 42P01): relation \"things\" does not exist".into()
            )
        );
    }

    #[test]
    fn unique_violations_name_the_entity_when_asked() {
        let e = unique_as_exists(Entity::Role, "Admin")(db(
            "2067",
            "UNIQUE constraint failed",
            ErrorKind::UniqueViolation,
        ));
        assert_eq!(e, StoreError::already_exists(Entity::Role, "Admin"));
        let e = unique_as_exists(Entity::Role, "Admin")(sqlx::Error::PoolTimedOut);
        assert!(e.is_unavailable());
        assert_eq!(
            in_op::<()>("insert_role", Err(StoreError::Backend("x".into()))),
            Err(StoreError::Backend("insert_role: x".into()))
        );
    }
}
