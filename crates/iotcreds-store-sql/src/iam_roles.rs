//! IAM roles and their tags.

use iotcreds_store::{
    ConflictReason, Entity, LimitKind, Page, PageRequest, Role, RoleUpdate, StoreError,
    StoreResult, Tag,
};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::db::{err, unique_as_exists};
use crate::iam_inline::{self, Holder};
use crate::iam_managed_attach;
use crate::paging::{self, Keyset, keyset};
use crate::row::{RowExt, name_key};
use crate::tags::{self, Owner};

/// A role with its tags (one row per tag, or one with NULL tag columns).
const SELECT_ONE: &str = "SELECT r.name_key, r.name, r.id, r.path, r.trust_policy, r.description, \
    r.max_session_duration, r.permissions_boundary, r.created_at, t.tag_key, t.tag_value \
    FROM iam_roles r LEFT JOIN tags t ON t.owner_kind = 'role' AND t.owner_key = r.name_key \
    WHERE r.name_key = $1 ORDER BY t.tag_key";

/// `$2`: path prefix (or NULL).
const LIST: Keyset = keyset!(
    select: "SELECT name_key, name, id, path, trust_policy, description, max_session_duration, \
             permissions_boundary, created_at FROM iam_roles",
    filter: "($2 IS NULL OR substr(path, 1, length($2)) = $2)",
    after: "name_key > $3",
    before: "name_key < $3",
    asc: "name_key ASC",
    desc: "name_key DESC",
);

fn from_row(r: &AnyRow, tags: Vec<Tag>) -> StoreResult<Role> {
    Ok(Role {
        name: r.text("name")?,
        id: r.text("id")?,
        path: r.text("path")?,
        trust_policy: r.text("trust_policy")?,
        description: r.opt_text("description")?,
        max_session_duration: r.int("max_session_duration")?,
        permissions_boundary: r.opt_text("permissions_boundary")?,
        created_at: r.int("created_at")?,
        tags,
    })
}

/// Whether a role with this name (regardless of case) exists.
pub(crate) async fn exists(c: &mut AnyConnection, name: &str) -> StoreResult<bool> {
    let hit: Option<String> =
        sqlx::query_scalar("SELECT name_key FROM iam_roles WHERE name_key = $1")
            .bind(name_key(name))
            .fetch_optional(c)
            .await
            .map_err(err)?;
    Ok(hit.is_some())
}

async fn require(c: &mut AnyConnection, name: &str) -> StoreResult<String> {
    if !exists(&mut *c, name).await? {
        return Err(StoreError::not_found(Entity::Role, name));
    }
    Ok(name_key(name))
}

pub(crate) async fn insert(c: &mut AnyConnection, role: &Role) -> StoreResult<()> {
    if exists(&mut *c, &role.name).await? {
        return Err(StoreError::already_exists(Entity::Role, &role.name));
    }
    let key = name_key(&role.name);
    sqlx::query(
        "INSERT INTO iam_roles (name_key, name, id, path, trust_policy, description, \
         max_session_duration, permissions_boundary, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&key)
    .bind(&role.name)
    .bind(&role.id)
    .bind(&role.path)
    .bind(&role.trust_policy)
    .bind(role.description.as_deref())
    .bind(role.max_session_duration)
    .bind(role.permissions_boundary.as_deref())
    .bind(role.created_at)
    .execute(&mut *c)
    .await
    .map_err(unique_as_exists(Entity::Role, &role.name))?;
    tags::put(c, Owner::Role, &key, &role.tags).await
}

pub(crate) async fn get(c: &mut AnyConnection, name: &str) -> StoreResult<Option<Role>> {
    let rows = sqlx::query(SELECT_ONE)
        .bind(name_key(name))
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
    path_prefix: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Page<Role>> {
    let marker = paging::decode_marker(page)?;
    let mut q = sqlx::query(LIST.sql(page, marker.is_some()))
        .bind(paging::fetch_limit(page))
        .bind(path_prefix);
    if let Some(m) = marker {
        q = q.bind(m);
    }
    let rows = q.fetch_all(&mut *c).await.map_err(err)?;
    let keys = rows
        .iter()
        .map(|r| r.text("name_key"))
        .collect::<StoreResult<Vec<_>>>()?;
    let mut all_tags = tags::load(c, Owner::Role, &keys).await?;
    let items = rows
        .iter()
        .zip(&keys)
        .map(|(r, k)| from_row(r, all_tags.remove(k).unwrap_or_default()))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(paging::finish(items, page, |r| name_key(&r.name)))
}

pub(crate) async fn update(
    c: &mut AnyConnection,
    name: &str,
    update: &RoleUpdate,
) -> StoreResult<()> {
    let key = require(&mut *c, name).await?;
    if let Some(d) = &update.description {
        let d = (!d.is_empty()).then_some(d.as_str());
        sqlx::query("UPDATE iam_roles SET description = $2 WHERE name_key = $1")
            .bind(&key)
            .bind(d)
            .execute(&mut *c)
            .await
            .map_err(err)?;
    }
    if let Some(m) = update.max_session_duration {
        sqlx::query("UPDATE iam_roles SET max_session_duration = $2 WHERE name_key = $1")
            .bind(&key)
            .bind(m)
            .execute(&mut *c)
            .await
            .map_err(err)?;
    }
    Ok(())
}

pub(crate) async fn update_trust_policy(
    c: &mut AnyConnection,
    name: &str,
    document: &str,
) -> StoreResult<()> {
    let key = require(&mut *c, name).await?;
    sqlx::query("UPDATE iam_roles SET trust_policy = $2 WHERE name_key = $1")
        .bind(&key)
        .bind(document)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(())
}

pub(crate) async fn set_permissions_boundary(
    c: &mut AnyConnection,
    name: &str,
    boundary: Option<&str>,
) -> StoreResult<()> {
    let key = require(&mut *c, name).await?;
    sqlx::query("UPDATE iam_roles SET permissions_boundary = $2 WHERE name_key = $1")
        .bind(&key)
        .bind(boundary)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(())
}

pub(crate) async fn delete(c: &mut AnyConnection, name: &str) -> StoreResult<()> {
    let key = require(&mut *c, name).await?;
    let holder = Holder::role(name);
    if iam_inline::count(&mut *c, &holder).await? > 0 {
        return Err(StoreError::conflict(
            Entity::Role,
            name,
            ConflictReason::InlinePolicies,
        ));
    }
    if iam_managed_attach::count_for_holder(&mut *c, &holder).await? > 0 {
        return Err(StoreError::conflict(
            Entity::Role,
            name,
            ConflictReason::AttachedPolicies,
        ));
    }
    tags::remove_all(&mut *c, Owner::Role, &key).await?;
    sqlx::query("DELETE FROM iam_roles WHERE name_key = $1")
        .bind(&key)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(())
}

pub(crate) async fn tag(
    c: &mut AnyConnection,
    name: &str,
    new: &[Tag],
    limit: usize,
) -> StoreResult<()> {
    let key = require(&mut *c, name).await?;
    tags::add_within(c, Owner::Role, &key, new, limit, || {
        StoreError::limit(Entity::Role, name, LimitKind::TagsPerRole(limit))
    })
    .await
}

pub(crate) async fn untag(c: &mut AnyConnection, name: &str, keys: &[String]) -> StoreResult<()> {
    let key = require(&mut *c, name).await?;
    tags::remove(c, Owner::Role, &key, keys).await
}
