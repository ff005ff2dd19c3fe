//! IAM users, their tags and their access keys.

use iotcreds_store::{
    AccessKey, AccessKeyUse, ConflictReason, Entity, LimitKind, Page, PageRequest, StoreError,
    StoreResult, Tag, User,
};
use iotcreds_types::AccessKeyStatus;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::db::{err, unique_as_exists};
use crate::iam_inline::{self, Holder};
use crate::iam_managed_attach;
use crate::paging::{self, Keyset, keyset};
use crate::row::{RowExt, limit_i64, name_key};
use crate::tags::{self, Owner};

const SELECT_ONE: &str = "SELECT name_key, name, id, path, permissions_boundary, created_at \
    FROM iam_users WHERE name_key = $1";

/// `$2`: path prefix (or NULL).
const LIST: Keyset = keyset!(
    select: "SELECT name_key, name, id, path, permissions_boundary, created_at FROM iam_users",
    filter: "($2 IS NULL OR substr(path, 1, length($2)) = $2)",
    after: "name_key > $3",
    before: "name_key < $3",
    asc: "name_key ASC",
    desc: "name_key DESC",
);

const SELECT_KEY: &str = "SELECT k.access_key_id, u.name AS user_name, k.secret, k.status, \
    k.created_at FROM iam_access_keys k JOIN iam_users u ON u.name_key = k.user_key \
    WHERE k.access_key_id = $1";

const SELECT_USER_KEYS: &str = "SELECT k.access_key_id, u.name AS user_name, k.secret, k.status, \
    k.created_at FROM iam_access_keys k JOIN iam_users u ON u.name_key = k.user_key \
    WHERE k.user_key = $1 ORDER BY k.access_key_id";

fn from_row(r: &AnyRow, tags: Vec<Tag>) -> StoreResult<User> {
    Ok(User {
        name: r.text("name")?,
        id: r.text("id")?,
        path: r.text("path")?,
        permissions_boundary: r.opt_text("permissions_boundary")?,
        created_at: r.int("created_at")?,
        tags,
    })
}

fn key_from_row(r: &AnyRow) -> StoreResult<AccessKey> {
    Ok(AccessKey {
        access_key_id: r.text("access_key_id")?,
        user_name: r.text("user_name")?,
        secret: r.text("secret")?,
        status: r.wire("status")?,
        created_at: r.int("created_at")?,
    })
}

/// Whether a user with this name (regardless of case) exists.
pub(crate) async fn exists(c: &mut AnyConnection, name: &str) -> StoreResult<bool> {
    let hit: Option<String> =
        sqlx::query_scalar("SELECT name_key FROM iam_users WHERE name_key = $1")
            .bind(name_key(name))
            .fetch_optional(c)
            .await
            .map_err(err)?;
    Ok(hit.is_some())
}

async fn require(c: &mut AnyConnection, name: &str) -> StoreResult<String> {
    if !exists(&mut *c, name).await? {
        return Err(StoreError::not_found(Entity::User, name));
    }
    Ok(name_key(name))
}

pub(crate) async fn insert(c: &mut AnyConnection, user: &User) -> StoreResult<()> {
    if exists(&mut *c, &user.name).await? {
        return Err(StoreError::already_exists(Entity::User, &user.name));
    }
    let key = name_key(&user.name);
    sqlx::query(
        "INSERT INTO iam_users (name_key, name, id, path, permissions_boundary, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&key)
    .bind(&user.name)
    .bind(&user.id)
    .bind(&user.path)
    .bind(user.permissions_boundary.as_deref())
    .bind(user.created_at)
    .execute(&mut *c)
    .await
    .map_err(unique_as_exists(Entity::User, &user.name))?;
    tags::put(c, Owner::User, &key, &user.tags).await
}

pub(crate) async fn get(c: &mut AnyConnection, name: &str) -> StoreResult<Option<User>> {
    let key = name_key(name);
    let Some(row) = sqlx::query(SELECT_ONE)
        .bind(&key)
        .fetch_optional(&mut *c)
        .await
        .map_err(err)?
    else {
        return Ok(None);
    };
    let tags = tags::load_one(c, Owner::User, &key).await?;
    from_row(&row, tags).map(Some)
}

pub(crate) async fn list(
    c: &mut AnyConnection,
    path_prefix: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Page<User>> {
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
    let mut all_tags = tags::load(c, Owner::User, &keys).await?;
    let items = rows
        .iter()
        .zip(&keys)
        .map(|(r, k)| from_row(r, all_tags.remove(k).unwrap_or_default()))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(paging::finish(items, page, |u| name_key(&u.name)))
}

async fn key_count(c: &mut AnyConnection, user_key: &str) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM iam_access_keys WHERE user_key = $1")
        .bind(user_key)
        .fetch_one(c)
        .await
        .map_err(err)
}

/// `UpdateUser`: a new name and/or path. A new name key (not just another case) moves the user
/// row and everything keyed by it (access keys, console password, inline and attached
/// policies, tags) in this one transaction: a new row first, then the references, then the old
/// row, so that the foreign keys hold at every step on both engines.
pub(crate) async fn rename(
    c: &mut AnyConnection,
    name: &str,
    new_name: Option<&str>,
    new_path: Option<&str>,
) -> StoreResult<()> {
    let Some(user) = get(&mut *c, name).await? else {
        return Err(StoreError::not_found(Entity::User, name));
    };
    let old_key = name_key(&user.name);
    let target = new_name.unwrap_or(&user.name);
    let path = new_path.unwrap_or(&user.path);
    let new_key = name_key(target);
    if new_key == old_key {
        sqlx::query("UPDATE iam_users SET name = $2, path = $3 WHERE name_key = $1")
            .bind(&old_key)
            .bind(target)
            .bind(path)
            .execute(c)
            .await
            .map_err(err)?;
        return Ok(());
    }
    if exists(&mut *c, target).await? {
        return Err(StoreError::already_exists(Entity::User, target));
    }
    sqlx::query(
        "INSERT INTO iam_users (name_key, name, id, path, permissions_boundary, created_at) \
         SELECT $2, $3, id, $4, permissions_boundary, created_at FROM iam_users WHERE name_key = $1",
    )
    .bind(&old_key)
    .bind(&new_key)
    .bind(target)
    .bind(path)
    .execute(&mut *c)
    .await
    .map_err(unique_as_exists(Entity::User, target))?;
    for sql in [
        "UPDATE iam_access_keys SET user_key = $2 WHERE user_key = $1",
        "UPDATE iam_login_profiles SET user_key = $2 WHERE user_key = $1",
        "UPDATE iam_inline_policies SET holder_key = $2 WHERE holder_kind = 'user' AND holder_key = $1",
        "UPDATE iam_policy_attachments SET holder_key = $2 \
         WHERE holder_kind = 'user' AND holder_key = $1",
        "UPDATE tags SET owner_key = $2 WHERE owner_kind = 'user' AND owner_key = $1",
        "DELETE FROM iam_users WHERE name_key = $1",
    ] {
        sqlx::query(sql)
            .bind(&old_key)
            .bind(&new_key)
            .execute(&mut *c)
            .await
            .map_err(err)?;
    }
    Ok(())
}

pub(crate) async fn delete(c: &mut AnyConnection, name: &str) -> StoreResult<()> {
    let key = require(&mut *c, name).await?;
    if key_count(&mut *c, &key).await? > 0 {
        return Err(StoreError::conflict(
            Entity::User,
            name,
            ConflictReason::AccessKeys,
        ));
    }
    if crate::console::has_login_profile(&mut *c, &key).await? {
        return Err(StoreError::conflict(
            Entity::User,
            name,
            ConflictReason::LoginProfile,
        ));
    }
    let holder = Holder::user(name);
    if iam_inline::count(&mut *c, &holder).await? > 0 {
        return Err(StoreError::conflict(
            Entity::User,
            name,
            ConflictReason::InlinePolicies,
        ));
    }
    if iam_managed_attach::count_for_holder(&mut *c, &holder).await? > 0 {
        return Err(StoreError::conflict(
            Entity::User,
            name,
            ConflictReason::AttachedPolicies,
        ));
    }
    tags::remove_all(&mut *c, Owner::User, &key).await?;
    sqlx::query("DELETE FROM iam_users WHERE name_key = $1")
        .bind(&key)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(())
}

pub(crate) async fn access_key(c: &mut AnyConnection, id: &str) -> StoreResult<Option<AccessKey>> {
    let row = sqlx::query(SELECT_KEY)
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(err)?;
    row.as_ref().map(key_from_row).transpose()
}

pub(crate) async fn insert_access_key(
    c: &mut AnyConnection,
    key: &AccessKey,
    limit: usize,
) -> StoreResult<()> {
    let user_key = require(&mut *c, &key.user_name).await?;
    let taken: Option<String> =
        sqlx::query_scalar("SELECT access_key_id FROM iam_access_keys WHERE access_key_id = $1")
            .bind(&key.access_key_id)
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?;
    if taken.is_some() {
        return Err(StoreError::already_exists(
            Entity::AccessKey,
            &key.access_key_id,
        ));
    }
    if key_count(&mut *c, &user_key).await? >= limit_i64(limit) {
        return Err(StoreError::limit(
            Entity::AccessKey,
            &key.user_name,
            LimitKind::AccessKeysPerUser(limit),
        ));
    }
    sqlx::query(
        "INSERT INTO iam_access_keys (access_key_id, user_key, secret, status, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&key.access_key_id)
    .bind(&user_key)
    .bind(&key.secret)
    .bind(key.status.as_str())
    .bind(key.created_at)
    .execute(c)
    .await
    .map_err(unique_as_exists(Entity::AccessKey, &key.access_key_id))?;
    Ok(())
}

pub(crate) async fn list_access_keys(
    c: &mut AnyConnection,
    user: &str,
) -> StoreResult<Vec<AccessKey>> {
    let user_key = require(&mut *c, user).await?;
    let rows = sqlx::query(SELECT_USER_KEYS)
        .bind(&user_key)
        .fetch_all(c)
        .await
        .map_err(err)?;
    rows.iter().map(key_from_row).collect()
}

pub(crate) async fn update_access_key(
    c: &mut AnyConnection,
    user: &str,
    id: &str,
    status: AccessKeyStatus,
) -> StoreResult<()> {
    let user_key = require(&mut *c, user).await?;
    let done = sqlx::query(
        "UPDATE iam_access_keys SET status = $3 WHERE access_key_id = $1 AND user_key = $2",
    )
    .bind(id)
    .bind(&user_key)
    .bind(status.as_str())
    .execute(c)
    .await
    .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found(Entity::AccessKey, id));
    }
    Ok(())
}

pub(crate) async fn record_uses(c: &mut AnyConnection, uses: &[AccessKeyUse]) -> StoreResult<()> {
    for u in uses {
        sqlx::query(
            "UPDATE iam_access_keys SET last_used_at = $2, last_used_service = $3, \
             last_used_region = $4 \
             WHERE access_key_id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
        )
        .bind(&u.access_key_id)
        .bind(u.at)
        .bind(&u.service)
        .bind(&u.region)
        .execute(&mut *c)
        .await
        .map_err(err)?;
    }
    Ok(())
}

pub(crate) async fn last_used(
    c: &mut AnyConnection,
    id: &str,
) -> StoreResult<Option<AccessKeyUse>> {
    let row = sqlx::query(
        "SELECT last_used_at, last_used_service, last_used_region FROM iam_access_keys \
         WHERE access_key_id = $1",
    )
    .bind(id)
    .fetch_optional(c)
    .await
    .map_err(err)?;
    let Some(r) = row else {
        return Ok(None);
    };
    let (Some(at), Some(service), Some(region)) = (
        r.opt_int("last_used_at")?,
        r.opt_text("last_used_service")?,
        r.opt_text("last_used_region")?,
    ) else {
        return Ok(None);
    };
    Ok(Some(AccessKeyUse {
        access_key_id: id.to_owned(),
        at,
        service,
        region,
    }))
}

pub(crate) async fn delete_access_key(
    c: &mut AnyConnection,
    user: &str,
    id: &str,
) -> StoreResult<()> {
    let user_key = require(&mut *c, user).await?;
    let done =
        sqlx::query("DELETE FROM iam_access_keys WHERE access_key_id = $1 AND user_key = $2")
            .bind(id)
            .bind(&user_key)
            .execute(c)
            .await
            .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found(Entity::AccessKey, id));
    }
    Ok(())
}

pub(crate) async fn tag(
    c: &mut AnyConnection,
    name: &str,
    new: &[Tag],
    limit: usize,
) -> StoreResult<()> {
    let key = require(&mut *c, name).await?;
    tags::add_within(c, Owner::User, &key, new, limit, || {
        StoreError::limit(Entity::User, name, LimitKind::TagsPerUser(limit))
    })
    .await
}

pub(crate) async fn set_permissions_boundary(
    c: &mut AnyConnection,
    name: &str,
    boundary: Option<&str>,
) -> StoreResult<()> {
    let key = require(&mut *c, name).await?;
    sqlx::query("UPDATE iam_users SET permissions_boundary = $2 WHERE name_key = $1")
        .bind(&key)
        .bind(boundary)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(())
}

pub(crate) async fn untag(c: &mut AnyConnection, name: &str, keys: &[String]) -> StoreResult<()> {
    let key = require(&mut *c, name).await?;
    tags::remove(c, Owner::User, &key, keys).await
}
