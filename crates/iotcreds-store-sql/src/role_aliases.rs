//! Role aliases and their tags.

use iotcreds_store::{
    Entity, Page, PageRequest, RoleAlias, RoleAliasUpdate, StoreError, StoreResult, Tag,
};
use std::collections::BTreeMap;

use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::db::{err, unique_as_exists};
use crate::paging::{self, Keyset, keyset};
use crate::row::RowExt;
use crate::tags::{self, Owner};

/// An alias with its tags (one row per tag, or one with NULL tag columns).
const SELECT_ONE: &str = "SELECT a.name, a.role_arn, a.credential_duration_seconds, a.owner, \
    a.created_at, a.modified_at, a.session_tags, t.tag_key, t.tag_value FROM role_aliases a \
    LEFT JOIN tags t ON t.owner_kind = 'role_alias' AND t.owner_key = a.name \
    WHERE a.name = $1 ORDER BY t.tag_key";

const LIST: Keyset = keyset!(
    select: "SELECT name, role_arn, credential_duration_seconds, owner, created_at, modified_at, \
             session_tags FROM role_aliases",
    filter: "1 = 1",
    after: "name > $2",
    before: "name < $2",
    asc: "name ASC",
    desc: "name DESC",
);

fn from_row(r: &AnyRow, tags: Vec<Tag>) -> StoreResult<RoleAlias> {
    Ok(RoleAlias {
        name: r.text("name")?,
        role_arn: r.text("role_arn")?,
        credential_duration_seconds: r.int("credential_duration_seconds")?,
        owner: r.text("owner")?,
        created_at: r.int("created_at")?,
        modified_at: r.int("modified_at")?,
        tags,
        session_tags: decode_session_tags(&r.text("session_tags")?),
    })
}

/// A mapping as its column holds it: `key<TAB>source` lines (neither may hold a tab or a line
/// break: the control plane checks keys and sources before they are stored).
fn encode_session_tags(m: &BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}\t{v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn decode_session_tags(s: &str) -> BTreeMap<String, String> {
    s.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn exists(c: &mut AnyConnection, name: &str) -> StoreResult<bool> {
    let hit: Option<String> = sqlx::query_scalar("SELECT name FROM role_aliases WHERE name = $1")
        .bind(name)
        .fetch_optional(c)
        .await
        .map_err(err)?;
    Ok(hit.is_some())
}

pub(crate) async fn insert(c: &mut AnyConnection, a: &RoleAlias) -> StoreResult<()> {
    if exists(&mut *c, &a.name).await? {
        return Err(StoreError::already_exists(Entity::RoleAlias, &a.name));
    }
    sqlx::query(
        "INSERT INTO role_aliases (name, role_arn, credential_duration_seconds, owner, created_at, \
         modified_at, session_tags) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&a.name)
    .bind(&a.role_arn)
    .bind(a.credential_duration_seconds)
    .bind(&a.owner)
    .bind(a.created_at)
    .bind(a.modified_at)
    .bind(encode_session_tags(&a.session_tags))
    .execute(&mut *c)
    .await
    .map_err(unique_as_exists(Entity::RoleAlias, &a.name))?;
    tags::put(c, Owner::RoleAlias, &a.name, &a.tags).await
}

pub(crate) async fn get(c: &mut AnyConnection, name: &str) -> StoreResult<Option<RoleAlias>> {
    let rows = sqlx::query(SELECT_ONE)
        .bind(name)
        .fetch_all(c)
        .await
        .map_err(err)?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    from_row(first, tags::joined(&rows)?).map(Some)
}

pub(crate) async fn list(
    c: &mut AnyConnection,
    page: &PageRequest,
) -> StoreResult<Page<RoleAlias>> {
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
    let mut all_tags = tags::load(c, Owner::RoleAlias, &names).await?;
    let items = rows
        .iter()
        .zip(&names)
        .map(|(r, n)| from_row(r, all_tags.remove(n).unwrap_or_default()))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(paging::finish(items, page, |a| a.name.clone()))
}

pub(crate) async fn update(
    c: &mut AnyConnection,
    name: &str,
    u: &RoleAliasUpdate,
) -> StoreResult<RoleAlias> {
    let done = sqlx::query(
        "UPDATE role_aliases SET role_arn = COALESCE($2, role_arn), \
         credential_duration_seconds = COALESCE($3, credential_duration_seconds), modified_at = $4, \
         session_tags = COALESCE($5, session_tags) WHERE name = $1",
    )
    .bind(name)
    .bind(u.role_arn.as_deref())
    .bind(u.credential_duration_seconds)
    .bind(u.modified_at)
    .bind(u.session_tags.as_ref().map(encode_session_tags))
    .execute(&mut *c)
    .await
    .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found(Entity::RoleAlias, name));
    }
    get(c, name)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::RoleAlias, name))
}

pub(crate) async fn delete(c: &mut AnyConnection, name: &str) -> StoreResult<()> {
    if !exists(&mut *c, name).await? {
        return Err(StoreError::not_found(Entity::RoleAlias, name));
    }
    tags::remove_all(&mut *c, Owner::RoleAlias, name).await?;
    sqlx::query("DELETE FROM role_aliases WHERE name = $1")
        .bind(name)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(())
}
