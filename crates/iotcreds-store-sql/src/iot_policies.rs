//! IoT policies and their versions.

use iotcreds_store::{
    ConflictReason, Entity, IotPolicy, IotPolicyVersion, LimitKind, Page, PageRequest, StateReason,
    StoreError, StoreResult, Tag,
};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::db::{err, unique_as_exists};
use crate::paging::{self, Keyset, keyset};
use crate::row::{RowExt, limit_i64};
use crate::tags::{self, Owner};

const SELECT_ONE: &str = "SELECT p.name, p.default_version_id, v.document, \
    p.created_at, p.modified_at, p.generation_id FROM iot_policies p \
    JOIN iot_policy_versions v ON v.policy_name = p.name AND v.version_id = p.default_version_id \
    WHERE p.name = $1";

const LIST: Keyset = keyset!(
    select: "SELECT p.name, p.default_version_id, v.document, p.created_at, p.modified_at, \
             p.generation_id FROM iot_policies p JOIN iot_policy_versions v \
             ON v.policy_name = p.name AND v.version_id = p.default_version_id",
    filter: "1 = 1",
    after: "p.name > $2",
    before: "p.name < $2",
    asc: "p.name ASC",
    desc: "p.name DESC",
);

const SELECT_VERSIONS: &str = "SELECT v.policy_name, v.version_id, v.document, v.created_at, \
    p.default_version_id FROM iot_policy_versions v JOIN iot_policies p ON p.name = v.policy_name \
    WHERE v.policy_name = $1 ORDER BY v.version_id DESC";

const SELECT_VERSION: &str = "SELECT v.policy_name, v.version_id, v.document, v.created_at, \
    p.default_version_id FROM iot_policy_versions v JOIN iot_policies p ON p.name = v.policy_name \
    WHERE v.policy_name = $1 AND v.version_id = $2";

pub(crate) fn policy_from_row(r: &AnyRow) -> StoreResult<IotPolicy> {
    Ok(IotPolicy {
        name: r.text("name")?,
        default_version_id: r.int("default_version_id")?,
        document: r.text("document")?,
        created_at: r.int("created_at")?,
        modified_at: r.int("modified_at")?,
        generation_id: r.text("generation_id")?,
    })
}

fn version_from_row(r: &AnyRow) -> StoreResult<IotPolicyVersion> {
    let version_id = r.int("version_id")?;
    Ok(IotPolicyVersion {
        policy_name: r.text("policy_name")?,
        version_id,
        document: r.text("document")?,
        is_default: version_id == r.int("default_version_id")?,
        created_at: r.int("created_at")?,
    })
}

/// The (default, highest ever) version ids of a policy, if it exists.
pub(crate) async fn head(c: &mut AnyConnection, name: &str) -> StoreResult<Option<(i64, i64)>> {
    let row =
        sqlx::query("SELECT default_version_id, last_version_id FROM iot_policies WHERE name = $1")
            .bind(name)
            .fetch_optional(c)
            .await
            .map_err(err)?;
    row.map(|r| Ok((r.int("default_version_id")?, r.int("last_version_id")?)))
        .transpose()
}

/// `NotFound` unless the policy exists; returns its (default, highest ever) version ids.
pub(crate) async fn require(c: &mut AnyConnection, name: &str) -> StoreResult<(i64, i64)> {
    head(c, name)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::IotPolicy, name))
}

fn version_key(name: &str, version_id: i64) -> String {
    format!("{name}:{version_id}")
}

async fn version_exists(c: &mut AnyConnection, name: &str, version_id: i64) -> StoreResult<bool> {
    let hit: Option<i64> = sqlx::query_scalar(
        "SELECT version_id FROM iot_policy_versions WHERE policy_name = $1 AND version_id = $2",
    )
    .bind(name)
    .bind(version_id)
    .fetch_optional(c)
    .await
    .map_err(err)?;
    Ok(hit.is_some())
}

pub(crate) async fn get(c: &mut AnyConnection, name: &str) -> StoreResult<Option<IotPolicy>> {
    let row = sqlx::query(SELECT_ONE)
        .bind(name)
        .fetch_optional(c)
        .await
        .map_err(err)?;
    row.as_ref().map(policy_from_row).transpose()
}

pub(crate) async fn insert(
    c: &mut AnyConnection,
    name: &str,
    document: &str,
    generation_id: &str,
    at: i64,
    tags: &[Tag],
) -> StoreResult<IotPolicy> {
    if head(&mut *c, name).await?.is_some() {
        return Err(StoreError::already_exists(Entity::IotPolicy, name));
    }
    sqlx::query(
        "INSERT INTO iot_policies (name, default_version_id, last_version_id, created_at, \
         modified_at, generation_id) VALUES ($1, 1, 1, $2, $2, $3)",
    )
    .bind(name)
    .bind(at)
    .bind(generation_id)
    .execute(&mut *c)
    .await
    .map_err(unique_as_exists(Entity::IotPolicy, name))?;
    sqlx::query(
        "INSERT INTO iot_policy_versions (policy_name, version_id, document, created_at) \
         VALUES ($1, 1, $2, $3)",
    )
    .bind(name)
    .bind(document)
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(err)?;
    tags::put(c, Owner::IotPolicy, name, tags).await?;
    Ok(IotPolicy {
        name: name.to_owned(),
        default_version_id: 1,
        document: document.to_owned(),
        created_at: at,
        modified_at: at,
        generation_id: generation_id.to_owned(),
    })
}

pub(crate) async fn list(
    c: &mut AnyConnection,
    page: &PageRequest,
) -> StoreResult<Page<IotPolicy>> {
    let marker = paging::decode_marker(page)?;
    let mut q = sqlx::query(LIST.sql(page, marker.is_some())).bind(paging::fetch_limit(page));
    if let Some(m) = marker {
        q = q.bind(m);
    }
    let rows = q.fetch_all(c).await.map_err(err)?;
    let items = rows
        .iter()
        .map(policy_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(paging::finish(items, page, |p| p.name.clone()))
}

pub(crate) async fn version(
    c: &mut AnyConnection,
    name: &str,
    version_id: i64,
) -> StoreResult<Option<IotPolicyVersion>> {
    let row = sqlx::query(SELECT_VERSION)
        .bind(name)
        .bind(version_id)
        .fetch_optional(c)
        .await
        .map_err(err)?;
    row.as_ref().map(version_from_row).transpose()
}

pub(crate) async fn versions(
    c: &mut AnyConnection,
    name: &str,
) -> StoreResult<Vec<IotPolicyVersion>> {
    require(&mut *c, name).await?;
    let rows = sqlx::query(SELECT_VERSIONS)
        .bind(name)
        .fetch_all(c)
        .await
        .map_err(err)?;
    rows.iter().map(version_from_row).collect()
}

pub(crate) async fn insert_version(
    c: &mut AnyConnection,
    name: &str,
    document: &str,
    set_default: bool,
    generation_id: &str,
    at: i64,
    limit: usize,
) -> StoreResult<IotPolicyVersion> {
    let (_, last) = require(&mut *c, name).await?;
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM iot_policy_versions WHERE policy_name = $1")
            .bind(name)
            .fetch_one(&mut *c)
            .await
            .map_err(err)?;
    if count >= limit_i64(limit) {
        return Err(StoreError::limit(
            Entity::IotPolicy,
            name,
            LimitKind::IotPolicyVersions(limit),
        ));
    }
    let id = last + 1;
    sqlx::query(
        "INSERT INTO iot_policy_versions (policy_name, version_id, document, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(name)
    .bind(id)
    .bind(document)
    .bind(at)
    .execute(&mut *c)
    .await
    .map_err(unique_as_exists(
        Entity::IotPolicyVersion,
        &version_key(name, id),
    ))?;
    sqlx::query(
        "UPDATE iot_policies SET last_version_id = $2, \
         default_version_id = CASE WHEN $3 = 1 THEN $2 ELSE default_version_id END, \
         modified_at = $4, generation_id = $5 WHERE name = $1",
    )
    .bind(name)
    .bind(id)
    .bind(i64::from(set_default))
    .bind(at)
    .bind(generation_id)
    .execute(c)
    .await
    .map_err(err)?;
    Ok(IotPolicyVersion {
        policy_name: name.to_owned(),
        version_id: id,
        document: document.to_owned(),
        is_default: set_default,
        created_at: at,
    })
}

pub(crate) async fn set_default_version(
    c: &mut AnyConnection,
    name: &str,
    version_id: i64,
    generation_id: &str,
    at: i64,
) -> StoreResult<()> {
    require(&mut *c, name).await?;
    if !version_exists(&mut *c, name, version_id).await? {
        return Err(StoreError::not_found(
            Entity::IotPolicyVersion,
            version_key(name, version_id),
        ));
    }
    sqlx::query(
        "UPDATE iot_policies SET default_version_id = $2, modified_at = $3, generation_id = $4 \
         WHERE name = $1",
    )
    .bind(name)
    .bind(version_id)
    .bind(at)
    .bind(generation_id)
    .execute(c)
    .await
    .map_err(err)?;
    Ok(())
}

pub(crate) async fn delete_version(
    c: &mut AnyConnection,
    name: &str,
    version_id: i64,
) -> StoreResult<()> {
    let (default, _) = require(&mut *c, name).await?;
    if !version_exists(&mut *c, name, version_id).await? {
        return Err(StoreError::not_found(
            Entity::IotPolicyVersion,
            version_key(name, version_id),
        ));
    }
    if version_id == default {
        return Err(StoreError::invalid_state(
            Entity::IotPolicyVersion,
            version_key(name, version_id),
            StateReason::DefaultPolicyVersion,
        ));
    }
    sqlx::query("DELETE FROM iot_policy_versions WHERE policy_name = $1 AND version_id = $2")
        .bind(name)
        .bind(version_id)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(())
}

pub(crate) async fn delete(c: &mut AnyConnection, name: &str) -> StoreResult<()> {
    require(&mut *c, name).await?;
    let targets: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM iot_policy_targets WHERE policy_name = $1")
            .bind(name)
            .fetch_one(&mut *c)
            .await
            .map_err(err)?;
    if targets > 0 {
        return Err(StoreError::conflict(
            Entity::IotPolicy,
            name,
            ConflictReason::AttachedToTargets,
        ));
    }
    let versions: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM iot_policy_versions WHERE policy_name = $1")
            .bind(name)
            .fetch_one(&mut *c)
            .await
            .map_err(err)?;
    if versions > 1 {
        return Err(StoreError::conflict(
            Entity::IotPolicy,
            name,
            ConflictReason::NonDefaultVersions,
        ));
    }
    sqlx::query("DELETE FROM iot_policy_versions WHERE policy_name = $1")
        .bind(name)
        .execute(&mut *c)
        .await
        .map_err(err)?;
    sqlx::query("DELETE FROM iot_policies WHERE name = $1")
        .bind(name)
        .execute(&mut *c)
        .await
        .map_err(err)?;
    tags::remove_all(c, Owner::IotPolicy, name).await
}
