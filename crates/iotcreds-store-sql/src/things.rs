//! Things and their attributes.

use std::collections::{BTreeMap, HashMap};

use iotcreds_store::{
    ConflictReason, Entity, Page, PageRequest, StateReason, StoreError, StoreResult, Thing,
    ThingFilter, ThingUpdate,
};
use sqlx::AnyConnection;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use crate::db::{err, unique_as_exists};
use crate::paging::{self, Keyset, keyset, placeholders};
use crate::row::RowExt;
use crate::thing_types;

const SELECT_ONE: &str = "SELECT name, id, thing_type, version, created_at, modified_at, \
    sessions_revoked_before FROM things WHERE name = $1";

/// Filters: `$2` type, `$3` name prefix, `$4`/`$5` attribute name/value (each NULL for none).
const LIST: Keyset = keyset!(
    select: "SELECT t.name, t.id, t.thing_type, t.version, t.created_at, t.modified_at, \
             t.sessions_revoked_before FROM things t",
    filter: "($2 IS NULL OR t.thing_type = $2) \
             AND ($3 IS NULL OR substr(t.name, 1, length($3)) = $3) \
             AND ($4 IS NULL OR EXISTS (SELECT 1 FROM thing_attributes a \
                  WHERE a.thing_name = t.name AND a.name = $4 AND a.value = $5))",
    after: "t.name > $6",
    before: "t.name < $6",
    asc: "t.name ASC",
    desc: "t.name DESC",
);

fn from_row(r: &AnyRow, attributes: BTreeMap<String, String>) -> StoreResult<Thing> {
    Ok(Thing {
        name: r.text("name")?,
        id: r.text("id")?,
        thing_type: r.opt_text("thing_type")?,
        attributes,
        version: r.int("version")?,
        created_at: r.int("created_at")?,
        modified_at: r.int("modified_at")?,
        sessions_revoked_before: r.opt_int("sessions_revoked_before")?,
    })
}

/// The attributes of each of `names`.
async fn attributes_of(
    c: &mut AnyConnection,
    names: &[String],
) -> StoreResult<HashMap<String, BTreeMap<String, String>>> {
    let mut out: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    if names.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT thing_name, name, value FROM thing_attributes WHERE thing_name IN ({})",
        placeholders(1, names.len())
    );
    let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
    for n in names {
        q = q.bind(n.as_str());
    }
    for r in q.fetch_all(c).await.map_err(err)? {
        out.entry(r.text("thing_name")?)
            .or_default()
            .insert(r.text("name")?, r.text("value")?);
    }
    Ok(out)
}

async fn insert_attributes(
    c: &mut AnyConnection,
    thing: &str,
    attributes: &BTreeMap<String, String>,
) -> StoreResult<()> {
    for (k, v) in attributes {
        sqlx::query("INSERT INTO thing_attributes (thing_name, name, value) VALUES ($1, $2, $3)")
            .bind(thing)
            .bind(k)
            .bind(v)
            .execute(&mut *c)
            .await
            .map_err(err)?;
    }
    Ok(())
}

/// The stored version of a thing, if it exists.
pub(crate) async fn version(c: &mut AnyConnection, name: &str) -> StoreResult<Option<i64>> {
    sqlx::query_scalar("SELECT version FROM things WHERE name = $1")
        .bind(name)
        .fetch_optional(c)
        .await
        .map_err(err)
}

pub(crate) async fn get(c: &mut AnyConnection, name: &str) -> StoreResult<Option<Thing>> {
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

pub(crate) async fn insert(c: &mut AnyConnection, thing: &Thing) -> StoreResult<()> {
    if version(&mut *c, &thing.name).await?.is_some() {
        return Err(StoreError::already_exists(Entity::Thing, &thing.name));
    }
    if let Some(t) = &thing.thing_type {
        match thing_types::deprecated(&mut *c, t).await? {
            None => return Err(StoreError::not_found(Entity::ThingType, t)),
            Some(true) => {
                return Err(StoreError::invalid_state(
                    Entity::ThingType,
                    t,
                    StateReason::ThingTypeDeprecated,
                ));
            }
            Some(false) => {}
        }
    }
    sqlx::query(
        "INSERT INTO things (name, id, thing_type, version, created_at, modified_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&thing.name)
    .bind(&thing.id)
    .bind(thing.thing_type.as_deref())
    .bind(thing.version)
    .bind(thing.created_at)
    .bind(thing.modified_at)
    .execute(&mut *c)
    .await
    .map_err(unique_as_exists(Entity::Thing, &thing.name))?;
    insert_attributes(c, &thing.name, &thing.attributes).await
}

pub(crate) async fn list(
    c: &mut AnyConnection,
    filter: &ThingFilter,
    page: &PageRequest,
) -> StoreResult<Page<Thing>> {
    let marker = paging::decode_marker(page)?;
    let (attr_name, attr_value) = match &filter.attribute {
        Some((n, v)) => (Some(n.as_str()), Some(v.as_str())),
        None => (None, None),
    };
    let mut q = sqlx::query(LIST.sql(page, marker.is_some()))
        .bind(paging::fetch_limit(page))
        .bind(filter.thing_type.as_deref())
        .bind(filter.name_prefix.as_deref())
        .bind(attr_name)
        .bind(attr_value);
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

pub(crate) async fn update(
    c: &mut AnyConnection,
    name: &str,
    expected_version: i64,
    update: &ThingUpdate,
) -> StoreResult<Thing> {
    let Some(stored) = version(&mut *c, name).await? else {
        return Err(StoreError::not_found(Entity::Thing, name));
    };
    if stored != expected_version {
        return Err(StoreError::VersionConflict {
            entity: Entity::Thing,
            key: name.to_owned(),
        });
    }
    if let Some(t) = &update.thing_type
        && thing_types::deprecated(&mut *c, t).await?.is_none()
    {
        return Err(StoreError::not_found(Entity::ThingType, t));
    }
    sqlx::query(
        "UPDATE things SET thing_type = $2, version = $3, modified_at = $4 WHERE name = $1",
    )
    .bind(name)
    .bind(update.thing_type.as_deref())
    .bind(expected_version + 1)
    .bind(update.modified_at)
    .execute(&mut *c)
    .await
    .map_err(err)?;
    sqlx::query("DELETE FROM thing_attributes WHERE thing_name = $1")
        .bind(name)
        .execute(&mut *c)
        .await
        .map_err(err)?;
    insert_attributes(&mut *c, name, &update.attributes).await?;
    get(c, name)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::Thing, name))
}

pub(crate) async fn delete(
    c: &mut AnyConnection,
    name: &str,
    expected_version: Option<i64>,
) -> StoreResult<()> {
    let Some(stored) = version(&mut *c, name).await? else {
        return Err(StoreError::not_found(Entity::Thing, name));
    };
    if expected_version.is_some_and(|v| v != stored) {
        return Err(StoreError::VersionConflict {
            entity: Entity::Thing,
            key: name.to_owned(),
        });
    }
    let principals: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM thing_principals WHERE thing_name = $1")
            .bind(name)
            .fetch_one(&mut *c)
            .await
            .map_err(err)?;
    if principals > 0 {
        return Err(StoreError::conflict(
            Entity::Thing,
            name,
            ConflictReason::ThingPrincipals,
        ));
    }
    sqlx::query("DELETE FROM thing_attributes WHERE thing_name = $1")
        .bind(name)
        .execute(&mut *c)
        .await
        .map_err(err)?;
    sqlx::query("DELETE FROM things WHERE name = $1")
        .bind(name)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(())
}

/// Refuse the sessions issued to thing `name` before `before_ms` (a later time replaces an
/// earlier one; an earlier one changes nothing). The thing's version is not an attribute
/// version, so it stays.
pub(crate) async fn revoke_sessions(
    c: &mut AnyConnection,
    name: &str,
    before_ms: i64,
) -> StoreResult<i64> {
    let Some(thing) = get(&mut *c, name).await? else {
        return Err(StoreError::not_found(Entity::Thing, name));
    };
    let before = thing
        .sessions_revoked_before
        .map_or(before_ms, |b| b.max(before_ms));
    sqlx::query("UPDATE things SET sessions_revoked_before = $2 WHERE name = $1")
        .bind(name)
        .bind(before)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(before)
}
