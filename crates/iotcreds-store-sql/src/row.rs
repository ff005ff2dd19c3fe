//! Reading typed values out of `AnyRow`s, and the IAM name key.

use std::str::FromStr;

use iotcreds_store::{StoreError, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::err;

/// Typed column access with store errors.
pub(crate) trait RowExt {
    /// A `TEXT NOT NULL` column.
    fn text(&self, col: &str) -> StoreResult<String>;
    /// A nullable `TEXT` column.
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>>;
    /// A `BIGINT NOT NULL` column.
    fn int(&self, col: &str) -> StoreResult<i64>;
    /// A nullable `BIGINT` column.
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>>;
    /// A `BLOB`/`BYTEA NOT NULL` column.
    fn bytes(&self, col: &str) -> StoreResult<Vec<u8>>;
    /// A `0/1` flag column.
    fn flag(&self, col: &str) -> StoreResult<bool> {
        Ok(self.int(col)? != 0)
    }
    /// A `TEXT` column holding an enum's wire spelling.
    fn wire<T: FromStr>(&self, col: &str) -> StoreResult<T> {
        let s = self.text(col)?;
        s.parse()
            .map_err(|_| StoreError::Backend(format!("column {col} holds an unknown value")))
    }
}

impl RowExt for AnyRow {
    fn text(&self, col: &str) -> StoreResult<String> {
        self.try_get(col).map_err(err)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.try_get(col).map_err(err)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.try_get(col).map_err(err)
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.try_get(col).map_err(err)
    }
    fn bytes(&self, col: &str) -> StoreResult<Vec<u8>> {
        self.try_get(col).map_err(err)
    }
}

/// The case-insensitive key of an IAM role, user or managed policy name.
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Split `arn:...:policy/path/Name` into (everything up to the name, the name).
pub(crate) fn split_arn_name(arn: &str) -> Option<(&str, &str)> {
    let slash = arn.rfind('/')?;
    let (prefix, name) = (&arn[..=slash], &arn[slash + 1..]);
    (!name.is_empty()).then_some((prefix, name))
}

/// Convert a count to `i64` for comparison with a `COUNT(*)`.
pub(crate) fn limit_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// 0/1 for a flag column.
pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}
