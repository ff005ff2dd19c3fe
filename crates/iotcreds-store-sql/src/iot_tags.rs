//! Tags of the taggable IoT resources (`TagResource`, `UntagResource`, `ListTagsForResource`):
//! each write first checks, in the same transaction, that the resource exists.

use iotcreds_store::{IotTagged, LimitKind, StoreError, StoreResult, Tag};
use sqlx::{AnyConnection, AssertSqlSafe};

use crate::db::err;
use crate::tags::{self, Owner};

/// The owner kind, table and key column of a resource (static names only: nothing of the
/// caller's reaches the SQL text).
fn place(r: IotTagged<'_>) -> (Owner, &'static str, &'static str) {
    match r {
        IotTagged::CaCertificate(_) => (Owner::CaCertificate, "ca_certificates", "id"),
        IotTagged::Policy(_) => (Owner::IotPolicy, "iot_policies", "name"),
        IotTagged::RoleAlias(_) => (Owner::RoleAlias, "role_aliases", "name"),
        IotTagged::ThingType(_) => (Owner::ThingType, "thing_types", "name"),
    }
}

async fn exists(c: &mut AnyConnection, r: IotTagged<'_>) -> StoreResult<bool> {
    let (_, table, column) = place(r);
    let sql = format!("SELECT 1 AS one FROM {table} WHERE {column} = $1");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(r.key())
        .fetch_optional(c)
        .await
        .map_err(err)?;
    Ok(row.is_some())
}

async fn require(c: &mut AnyConnection, r: IotTagged<'_>) -> StoreResult<Owner> {
    if exists(&mut *c, r).await? {
        Ok(place(r).0)
    } else {
        Err(StoreError::not_found(r.entity(), r.key()))
    }
}

pub(crate) async fn list(c: &mut AnyConnection, r: IotTagged<'_>) -> StoreResult<Option<Vec<Tag>>> {
    if !exists(&mut *c, r).await? {
        return Ok(None);
    }
    tags::load_one(c, place(r).0, r.key()).await.map(Some)
}

pub(crate) async fn tag(
    c: &mut AnyConnection,
    r: IotTagged<'_>,
    new: &[Tag],
    limit: usize,
) -> StoreResult<()> {
    let owner = require(&mut *c, r).await?;
    tags::add_within(c, owner, r.key(), new, limit, || {
        StoreError::limit(r.entity(), r.key(), LimitKind::TagsPerIotResource(limit))
    })
    .await
}

pub(crate) async fn untag(
    c: &mut AnyConnection,
    r: IotTagged<'_>,
    keys: &[String],
) -> StoreResult<()> {
    let owner = require(&mut *c, r).await?;
    tags::remove(c, owner, r.key(), keys).await
}
