//! Tags of roles, users, managed policies and the taggable IoT resources (role aliases, IoT
//! policies, CA certificates, thing types), in one table keyed by owner kind.

use std::collections::{BTreeSet, HashMap};

use iotcreds_store::{StoreResult, Tag};
use sqlx::AnyConnection;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use crate::db::err;
use crate::paging::placeholders;
use crate::row::RowExt;

/// Whose tags: the `owner_kind` column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Owner {
    /// IAM role (owner key: name key).
    Role,
    /// IAM user (owner key: name key).
    User,
    /// Managed policy (owner key: ARN).
    ManagedPolicy,
    /// Role alias (owner key: name).
    RoleAlias,
    /// IoT policy (owner key: name).
    IotPolicy,
    /// CA certificate (owner key: id).
    CaCertificate,
    /// Thing type (owner key: name).
    ThingType,
}

impl Owner {
    fn kind(self) -> &'static str {
        match self {
            Owner::Role => "role",
            Owner::User => "user",
            Owner::ManagedPolicy => "managed_policy",
            Owner::RoleAlias => "role_alias",
            Owner::IotPolicy => "iot_policy",
            Owner::CaCertificate => "ca_certificate",
            Owner::ThingType => "thing_type",
        }
    }
}

/// The tags of each of `owners`, sorted by key.
pub(crate) async fn load(
    c: &mut AnyConnection,
    owner: Owner,
    owners: &[String],
) -> StoreResult<HashMap<String, Vec<Tag>>> {
    let mut out: HashMap<String, Vec<Tag>> = HashMap::new();
    if owners.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT owner_key, tag_key, tag_value FROM tags WHERE owner_kind = $1 AND owner_key IN ({}) \
         ORDER BY owner_key, tag_key",
        placeholders(2, owners.len())
    );
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .persistent(false)
        .bind(owner.kind());
    for o in owners {
        q = q.bind(o.as_str());
    }
    for r in q.fetch_all(c).await.map_err(err)? {
        out.entry(r.text("owner_key")?).or_default().push(Tag {
            key: r.text("tag_key")?,
            value: r.text("tag_value")?,
        });
    }
    Ok(out)
}

/// The tags of one owner, sorted by key.
pub(crate) async fn load_one(
    c: &mut AnyConnection,
    owner: Owner,
    key: &str,
) -> StoreResult<Vec<Tag>> {
    let rows = sqlx::query(
        "SELECT tag_key, tag_value FROM tags WHERE owner_kind = $1 AND owner_key = $2 ORDER BY tag_key",
    )
    .bind(owner.kind())
    .bind(key)
    .fetch_all(c)
    .await
    .map_err(err)?;
    rows.iter()
        .map(|r| {
            Ok(Tag {
                key: r.text("tag_key")?,
                value: r.text("tag_value")?,
            })
        })
        .collect()
}

/// The tags in rows of `... LEFT JOIN tags t ... ORDER BY t.tag_key` (columns `tag_key`,
/// `tag_value`, NULL when the owner has none).
pub(crate) fn joined(rows: &[AnyRow]) -> StoreResult<Vec<Tag>> {
    let mut out = Vec::new();
    for r in rows {
        if let (Some(key), Some(value)) = (r.opt_text("tag_key")?, r.opt_text("tag_value")?) {
            out.push(Tag { key, value });
        }
    }
    Ok(out)
}

/// Add or replace `new` on an owner that exists (keyed `key`), refusing with `too_many` when it
/// would then have more than `limit` tags: the one rule of `TagRole`, `TagUser` and `TagPolicy`.
pub(crate) async fn add_within(
    c: &mut AnyConnection,
    owner: Owner,
    key: &str,
    new: &[Tag],
    limit: usize,
    too_many: impl FnOnce() -> iotcreds_store::StoreError,
) -> StoreResult<()> {
    if count_after(&mut *c, owner, key, new).await? > limit {
        return Err(too_many());
    }
    put(c, owner, key, new).await
}

/// How many tags the owner would have after adding or replacing `tags`.
pub(crate) async fn count_after(
    c: &mut AnyConnection,
    owner: Owner,
    key: &str,
    tags: &[Tag],
) -> StoreResult<usize> {
    let mut keys: BTreeSet<String> = load_one(c, owner, key)
        .await?
        .into_iter()
        .map(|t| t.key)
        .collect();
    keys.extend(tags.iter().map(|t| t.key.clone()));
    Ok(keys.len())
}

/// Add or replace `tags` (a later duplicate key wins).
pub(crate) async fn put(
    c: &mut AnyConnection,
    owner: Owner,
    key: &str,
    tags: &[Tag],
) -> StoreResult<()> {
    for t in tags {
        sqlx::query(
            "INSERT INTO tags (owner_kind, owner_key, tag_key, tag_value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (owner_kind, owner_key, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
        )
        .bind(owner.kind())
        .bind(key)
        .bind(&t.key)
        .bind(&t.value)
        .execute(&mut *c)
        .await
        .map_err(err)?;
    }
    Ok(())
}

/// Remove the tags with `keys` (absent keys are ignored).
pub(crate) async fn remove(
    c: &mut AnyConnection,
    owner: Owner,
    key: &str,
    keys: &[String],
) -> StoreResult<()> {
    for k in keys {
        sqlx::query("DELETE FROM tags WHERE owner_kind = $1 AND owner_key = $2 AND tag_key = $3")
            .bind(owner.kind())
            .bind(key)
            .bind(k)
            .execute(&mut *c)
            .await
            .map_err(err)?;
    }
    Ok(())
}

/// Remove every tag of the owner (when it is deleted).
pub(crate) async fn remove_all(c: &mut AnyConnection, owner: Owner, key: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM tags WHERE owner_kind = $1 AND owner_key = $2")
        .bind(owner.kind())
        .bind(key)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(())
}
