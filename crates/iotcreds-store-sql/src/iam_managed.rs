//! Customer-managed IAM policies and their versions.
//!
//! A policy is keyed by its ARN; its name is unique regardless of case (`name_key`). Lookups by
//! ARN find the row by the name's key and then require the rest of the ARN (account and path)
//! to match exactly.

use iotcreds_store::{
    ConflictReason, Entity, LimitKind, ManagedPolicy, ManagedPolicyFilter, ManagedPolicyVersion,
    Page, PageRequest, StoreError, StoreResult, Tag,
};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::db::{err, unique_as_exists};
use crate::paging::{self, Keyset, keyset};
use crate::row::{RowExt, flag, limit_i64, name_key, split_arn_name};
use crate::tags::{self, Owner};

const SELECT_ONE: &str = "SELECT p.arn, p.name_key, p.name, p.id, p.path, p.description, \
    p.default_version, p.created_at, p.updated_at, \
    (SELECT COUNT(*) FROM iam_policy_attachments a WHERE a.policy_arn = p.arn) AS attachment_count \
    FROM iam_managed_policies p WHERE p.arn = $1";

/// `$2` path prefix (or NULL), `$3` 1 for only attached policies.
const LIST: Keyset = keyset!(
    select: "SELECT p.arn, p.name_key, p.name, p.id, p.path, p.description, p.default_version, \
             p.created_at, p.updated_at, (SELECT COUNT(*) FROM iam_policy_attachments a \
             WHERE a.policy_arn = p.arn) AS attachment_count FROM iam_managed_policies p",
    filter: "($2 IS NULL OR substr(p.path, 1, length($2)) = $2) \
             AND ($3 = 0 OR EXISTS (SELECT 1 FROM iam_policy_attachments a WHERE a.policy_arn = p.arn))",
    after: "p.name_key > $4",
    before: "p.name_key < $4",
    asc: "p.name_key ASC",
    desc: "p.name_key DESC",
);

const SELECT_VERSION: &str = "SELECT v.policy_arn, v.version, v.document, v.created_at, \
    p.default_version FROM iam_managed_policy_versions v \
    JOIN iam_managed_policies p ON p.arn = v.policy_arn WHERE v.policy_arn = $1 AND v.version = $2";

const SELECT_VERSIONS: &str = "SELECT v.policy_arn, v.version, v.document, v.created_at, \
    p.default_version FROM iam_managed_policy_versions v \
    JOIN iam_managed_policies p ON p.arn = v.policy_arn WHERE v.policy_arn = $1 \
    ORDER BY v.version DESC";

/// `v3` for 3.
pub(crate) fn version_name(n: i64) -> String {
    format!("v{n}")
}

/// 3 for `v3`; `None` for anything that is not exactly how [`version_name`] writes.
fn parse_version(s: &str) -> Option<i64> {
    let n = s.strip_prefix('v')?.parse::<i64>().ok()?;
    (n > 0 && version_name(n) == s).then_some(n)
}

/// Map a row of [`SELECT_ONE`]'s columns.
pub(crate) fn from_row(r: &AnyRow, tags: Vec<Tag>) -> StoreResult<ManagedPolicy> {
    Ok(ManagedPolicy {
        arn: r.text("arn")?,
        name: r.text("name")?,
        id: r.text("id")?,
        path: r.text("path")?,
        description: r.opt_text("description")?,
        default_version_id: version_name(r.int("default_version")?),
        attachment_count: r.int("attachment_count")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        tags,
    })
}

/// Map rows of policies and attach their tags.
pub(crate) async fn from_rows(
    c: &mut AnyConnection,
    rows: &[AnyRow],
) -> StoreResult<Vec<ManagedPolicy>> {
    let arns = rows
        .iter()
        .map(|r| r.text("arn"))
        .collect::<StoreResult<Vec<_>>>()?;
    let mut all_tags = tags::load(c, Owner::ManagedPolicy, &arns).await?;
    rows.iter()
        .zip(&arns)
        .map(|(r, a)| from_row(r, all_tags.remove(a).unwrap_or_default()))
        .collect()
}

fn version_from_row(r: &AnyRow) -> StoreResult<ManagedPolicyVersion> {
    let version = r.int("version")?;
    Ok(ManagedPolicyVersion {
        policy_arn: r.text("policy_arn")?,
        version_id: version_name(version),
        document: r.text("document")?,
        is_default: version == r.int("default_version")?,
        created_at: r.int("created_at")?,
    })
}

/// The stored ARN of the policy `arn` names (name regardless of case, the rest exactly).
pub(crate) async fn resolve(c: &mut AnyConnection, arn: &str) -> StoreResult<Option<String>> {
    let Some((prefix, name)) = split_arn_name(arn) else {
        return Ok(None);
    };
    let stored: Option<String> =
        sqlx::query_scalar("SELECT arn FROM iam_managed_policies WHERE name_key = $1")
            .bind(name_key(name))
            .fetch_optional(c)
            .await
            .map_err(err)?;
    Ok(stored.filter(|s| split_arn_name(s).is_some_and(|(p, _)| p == prefix)))
}

/// [`resolve`], or `NotFound` (entity `ManagedPolicy`).
pub(crate) async fn require(c: &mut AnyConnection, arn: &str) -> StoreResult<String> {
    resolve(c, arn)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::ManagedPolicy, arn))
}

/// (default, highest ever) version numbers of a stored policy.
async fn head(c: &mut AnyConnection, arn: &str) -> StoreResult<(i64, i64)> {
    let r = sqlx::query(
        "SELECT default_version, last_version FROM iam_managed_policies WHERE arn = $1",
    )
    .bind(arn)
    .fetch_one(c)
    .await
    .map_err(err)?;
    Ok((r.int("default_version")?, r.int("last_version")?))
}

async fn version_exists(c: &mut AnyConnection, arn: &str, n: i64) -> StoreResult<bool> {
    let hit: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM iam_managed_policy_versions WHERE policy_arn = $1 AND version = $2",
    )
    .bind(arn)
    .bind(n)
    .fetch_optional(c)
    .await
    .map_err(err)?;
    Ok(hit.is_some())
}

/// The number of an existing version of a stored policy, or `NotFound`.
async fn require_version(c: &mut AnyConnection, arn: &str, version_id: &str) -> StoreResult<i64> {
    match parse_version(version_id) {
        Some(n) if version_exists(c, arn, n).await? => Ok(n),
        _ => Err(StoreError::not_found(
            Entity::ManagedPolicyVersion,
            version_id,
        )),
    }
}

pub(crate) async fn insert(
    c: &mut AnyConnection,
    p: &ManagedPolicy,
    document: &str,
) -> StoreResult<()> {
    let key = name_key(&p.name);
    let taken: Option<String> =
        sqlx::query_scalar("SELECT arn FROM iam_managed_policies WHERE name_key = $1")
            .bind(&key)
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?;
    if taken.is_some() {
        return Err(StoreError::already_exists(Entity::ManagedPolicy, &p.name));
    }
    sqlx::query(
        "INSERT INTO iam_managed_policies (arn, name_key, name, id, path, description, \
         default_version, last_version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, 1, $7, $8)",
    )
    .bind(&p.arn)
    .bind(&key)
    .bind(&p.name)
    .bind(&p.id)
    .bind(&p.path)
    .bind(p.description.as_deref())
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(&mut *c)
    .await
    .map_err(unique_as_exists(Entity::ManagedPolicy, &p.name))?;
    sqlx::query(
        "INSERT INTO iam_managed_policy_versions (policy_arn, version, document, created_at) \
         VALUES ($1, 1, $2, $3)",
    )
    .bind(&p.arn)
    .bind(document)
    .bind(p.created_at)
    .execute(&mut *c)
    .await
    .map_err(err)?;
    tags::put(c, Owner::ManagedPolicy, &p.arn, &p.tags).await
}

pub(crate) async fn get(c: &mut AnyConnection, arn: &str) -> StoreResult<Option<ManagedPolicy>> {
    let Some(stored) = resolve(&mut *c, arn).await? else {
        return Ok(None);
    };
    let row = sqlx::query(SELECT_ONE)
        .bind(&stored)
        .fetch_one(&mut *c)
        .await
        .map_err(err)?;
    let tags = tags::load_one(c, Owner::ManagedPolicy, &stored).await?;
    from_row(&row, tags).map(Some)
}

pub(crate) async fn list(
    c: &mut AnyConnection,
    filter: &ManagedPolicyFilter,
    page: &PageRequest,
) -> StoreResult<Page<ManagedPolicy>> {
    let marker = paging::decode_marker(page)?;
    let mut q = sqlx::query(LIST.sql(page, marker.is_some()))
        .bind(paging::fetch_limit(page))
        .bind(filter.path_prefix.as_deref())
        .bind(flag(filter.only_attached));
    if let Some(m) = marker {
        q = q.bind(m);
    }
    let rows = q.fetch_all(&mut *c).await.map_err(err)?;
    let items = from_rows(c, &rows).await?;
    Ok(paging::finish(items, page, |p| name_key(&p.name)))
}

pub(crate) async fn version(
    c: &mut AnyConnection,
    arn: &str,
    version_id: &str,
) -> StoreResult<Option<ManagedPolicyVersion>> {
    let (Some(stored), Some(n)) = (resolve(&mut *c, arn).await?, parse_version(version_id)) else {
        return Ok(None);
    };
    let row = sqlx::query(SELECT_VERSION)
        .bind(&stored)
        .bind(n)
        .fetch_optional(c)
        .await
        .map_err(err)?;
    row.as_ref().map(version_from_row).transpose()
}

pub(crate) async fn versions(
    c: &mut AnyConnection,
    arn: &str,
) -> StoreResult<Vec<ManagedPolicyVersion>> {
    let stored = require(&mut *c, arn).await?;
    let rows = sqlx::query(SELECT_VERSIONS)
        .bind(&stored)
        .fetch_all(c)
        .await
        .map_err(err)?;
    rows.iter().map(version_from_row).collect()
}

pub(crate) async fn insert_version(
    c: &mut AnyConnection,
    arn: &str,
    document: &str,
    set_default: bool,
    at: i64,
    limit: usize,
) -> StoreResult<ManagedPolicyVersion> {
    let stored = require(&mut *c, arn).await?;
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM iam_managed_policy_versions WHERE policy_arn = $1",
    )
    .bind(&stored)
    .fetch_one(&mut *c)
    .await
    .map_err(err)?;
    if count >= limit_i64(limit) {
        return Err(StoreError::limit(
            Entity::ManagedPolicy,
            arn,
            LimitKind::ManagedPolicyVersions(limit),
        ));
    }
    let (_, last) = head(&mut *c, &stored).await?;
    let n = last + 1;
    sqlx::query(
        "INSERT INTO iam_managed_policy_versions (policy_arn, version, document, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&stored)
    .bind(n)
    .bind(document)
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(unique_as_exists(
        Entity::ManagedPolicyVersion,
        &version_name(n),
    ))?;
    sqlx::query(
        "UPDATE iam_managed_policies SET last_version = $2, \
         default_version = CASE WHEN $3 = 1 THEN $2 ELSE default_version END, updated_at = $4 \
         WHERE arn = $1",
    )
    .bind(&stored)
    .bind(n)
    .bind(flag(set_default))
    .bind(at)
    .execute(c)
    .await
    .map_err(err)?;
    Ok(ManagedPolicyVersion {
        policy_arn: stored,
        version_id: version_name(n),
        document: document.to_owned(),
        is_default: set_default,
        created_at: at,
    })
}

pub(crate) async fn set_default_version(
    c: &mut AnyConnection,
    arn: &str,
    version_id: &str,
    at: i64,
) -> StoreResult<()> {
    let stored = require(&mut *c, arn).await?;
    let n = require_version(&mut *c, &stored, version_id).await?;
    sqlx::query(
        "UPDATE iam_managed_policies SET default_version = $2, updated_at = $3 WHERE arn = $1",
    )
    .bind(&stored)
    .bind(n)
    .bind(at)
    .execute(c)
    .await
    .map_err(err)?;
    Ok(())
}

pub(crate) async fn delete_version(
    c: &mut AnyConnection,
    arn: &str,
    version_id: &str,
) -> StoreResult<()> {
    let stored = require(&mut *c, arn).await?;
    let n = require_version(&mut *c, &stored, version_id).await?;
    let (default, _) = head(&mut *c, &stored).await?;
    if n == default {
        return Err(StoreError::conflict(
            Entity::ManagedPolicyVersion,
            version_id,
            ConflictReason::DefaultVersion,
        ));
    }
    sqlx::query("DELETE FROM iam_managed_policy_versions WHERE policy_arn = $1 AND version = $2")
        .bind(&stored)
        .bind(n)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(())
}

pub(crate) async fn delete(c: &mut AnyConnection, arn: &str) -> StoreResult<()> {
    let stored = require(&mut *c, arn).await?;
    let attached: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM iam_policy_attachments WHERE policy_arn = $1")
            .bind(&stored)
            .fetch_one(&mut *c)
            .await
            .map_err(err)?;
    if attached > 0 {
        return Err(StoreError::conflict(
            Entity::ManagedPolicy,
            arn,
            ConflictReason::AttachedToHolders,
        ));
    }
    let versions: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM iam_managed_policy_versions WHERE policy_arn = $1",
    )
    .bind(&stored)
    .fetch_one(&mut *c)
    .await
    .map_err(err)?;
    if versions > 1 {
        return Err(StoreError::conflict(
            Entity::ManagedPolicy,
            arn,
            ConflictReason::NonDefaultVersions,
        ));
    }
    sqlx::query("DELETE FROM iam_managed_policy_versions WHERE policy_arn = $1")
        .bind(&stored)
        .execute(&mut *c)
        .await
        .map_err(err)?;
    tags::remove_all(&mut *c, Owner::ManagedPolicy, &stored).await?;
    sqlx::query("DELETE FROM iam_managed_policies WHERE arn = $1")
        .bind(&stored)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(())
}

pub(crate) async fn tag(
    c: &mut AnyConnection,
    arn: &str,
    new: &[Tag],
    limit: usize,
) -> StoreResult<()> {
    let key = require(&mut *c, arn).await?;
    tags::add_within(c, Owner::ManagedPolicy, &key, new, limit, || {
        StoreError::limit(Entity::ManagedPolicy, arn, LimitKind::TagsPerPolicy(limit))
    })
    .await
}

pub(crate) async fn untag(c: &mut AnyConnection, arn: &str, keys: &[String]) -> StoreResult<()> {
    let key = require(&mut *c, arn).await?;
    tags::remove(c, Owner::ManagedPolicy, &key, keys).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_round_trip_strictly() {
        assert_eq!(parse_version("v1"), Some(1));
        assert_eq!(parse_version("v12"), Some(12));
        for bad in ["1", "v", "v0", "v01", "v+1", "v-1", "V1", "v1 "] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }
}
