//! Thing types and their searchable attribute names.

use std::collections::HashMap;

use iotcreds_store::{
    ConflictReason, Entity, Page, PageRequest, StoreError, StoreResult, Tag, ThingType,
};
use sqlx::AnyConnection;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use crate::db::{err, unique_as_exists};
use crate::paging::{self, Keyset, keyset, placeholders};
use crate::row::{RowExt, flag};
use crate::tags::{self, Owner};

const SELECT_ONE: &str = "SELECT name, id, description, deprecated, deprecated_at, created_at \
    FROM thing_types WHERE name = $1";

const LIST: Keyset = keyset!(
    select: "SELECT name, id, description, deprecated, deprecated_at, created_at FROM thing_types",
    filter: "1 = 1",
    after: "name > $2",
    before: "name < $2",
    asc: "name ASC",
    desc: "name DESC",
);

fn from_row(r: &AnyRow, searchable_attributes: Vec<String>) -> StoreResult<ThingType> {
    Ok(ThingType {
        name: r.text("name")?,
        id: r.text("id")?,
        description: r.opt_text("description")?,
        searchable_attributes,
        deprecated: r.flag("deprecated")?,
        deprecated_at: r.opt_int("deprecated_at")?,
        created_at: r.int("created_at")?,
    })
}

/// Searchable attribute names of each of `names`, in their stored order.
async fn attributes_of(
    c: &mut AnyConnection,
    names: &[String],
) -> StoreResult<HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if names.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT thing_type, name FROM thing_type_attributes WHERE thing_type IN ({}) \
         ORDER BY thing_type, ordinal",
        placeholders(1, names.len())
    );
    let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
    for n in names {
        q = q.bind(n.as_str());
    }
    for r in q.fetch_all(c).await.map_err(err)? {
        out.entry(r.text("thing_type")?)
            .or_default()
            .push(r.text("name")?);
    }
    Ok(out)
}

/// Whether the thing type exists, and whether it is deprecated.
pub(crate) async fn deprecated(c: &mut AnyConnection, name: &str) -> StoreResult<Option<bool>> {
    let v: Option<i64> = sqlx::query_scalar("SELECT deprecated FROM thing_types WHERE name = $1")
        .bind(name)
        .fetch_optional(c)
        .await
        .map_err(err)?;
    Ok(v.map(|d| d != 0))
}

pub(crate) async fn get(c: &mut AnyConnection, name: &str) -> StoreResult<Option<ThingType>> {
    let Some(row) = sqlx::query(SELECT_ONE)
        .bind(name)
        .fetch_optional(&mut *c)
        .await
        .map_err(err)?
    else {
        return Ok(None);
    };
    let mut attrs = attributes_of(c, &[name.to_owned()]).await?;
    from_row(&row, attrs.remove(name).unwrap_or_default()).map(Some)
}

pub(crate) async fn insert(c: &mut AnyConnection, t: &ThingType, tags: &[Tag]) -> StoreResult<()> {
    if deprecated(&mut *c, &t.name).await?.is_some() {
        return Err(StoreError::already_exists(Entity::ThingType, &t.name));
    }
    sqlx::query(
        "INSERT INTO thing_types (name, id, description, deprecated, deprecated_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&t.name)
    .bind(&t.id)
    .bind(t.description.as_deref())
    .bind(flag(t.deprecated))
    .bind(t.deprecated_at)
    .bind(t.created_at)
    .execute(&mut *c)
    .await
    .map_err(unique_as_exists(Entity::ThingType, &t.name))?;
    for (i, a) in t.searchable_attributes.iter().enumerate() {
        sqlx::query(
            "INSERT INTO thing_type_attributes (thing_type, ordinal, name) VALUES ($1, $2, $3)",
        )
        .bind(&t.name)
        .bind(i as i64)
        .bind(a)
        .execute(&mut *c)
        .await
        .map_err(err)?;
    }
    tags::put(c, Owner::ThingType, &t.name, tags).await
}

pub(crate) async fn list(
    c: &mut AnyConnection,
    page: &PageRequest,
) -> StoreResult<Page<ThingType>> {
    let marker = paging::decode_marker(page)?;
    let mut q = sqlx::query(LIST.sql(page, marker.is_some())).bind(paging::fetch_limit(page));
    if let Some(m) = marker {
        q = q.bind(m);
    }
    let rows = q.fetch_all(&mut *c).await.map_err(err)?;
    let names = rows
        .iter()
        .map(|r| r.text("name"))
        .collect::<StoreResult<Vec<_>>>()?;
    let mut attrs = attributes_of(c, &names).await?;
    let items = rows
        .iter()
        .zip(&names)
        .map(|(r, n)| from_row(r, attrs.remove(n).unwrap_or_default()))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(paging::finish(items, page, |t| t.name.clone()))
}

pub(crate) async fn deprecate(
    c: &mut AnyConnection,
    name: &str,
    at: Option<i64>,
) -> StoreResult<()> {
    let done =
        sqlx::query("UPDATE thing_types SET deprecated = $2, deprecated_at = $3 WHERE name = $1")
            .bind(name)
            .bind(flag(at.is_some()))
            .bind(at)
            .execute(c)
            .await
            .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found(Entity::ThingType, name));
    }
    Ok(())
}

pub(crate) async fn delete(c: &mut AnyConnection, name: &str) -> StoreResult<()> {
    if deprecated(&mut *c, name).await?.is_none() {
        return Err(StoreError::not_found(Entity::ThingType, name));
    }
    let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM things WHERE thing_type = $1")
        .bind(name)
        .fetch_one(&mut *c)
        .await
        .map_err(err)?;
    if used > 0 {
        return Err(StoreError::conflict(
            Entity::ThingType,
            name,
            ConflictReason::ThingTypeInUse,
        ));
    }
    sqlx::query("DELETE FROM thing_type_attributes WHERE thing_type = $1")
        .bind(name)
        .execute(&mut *c)
        .await
        .map_err(err)?;
    sqlx::query("DELETE FROM thing_types WHERE name = $1")
        .bind(name)
        .execute(&mut *c)
        .await
        .map_err(err)?;
    tags::remove_all(c, Owner::ThingType, name).await
}
