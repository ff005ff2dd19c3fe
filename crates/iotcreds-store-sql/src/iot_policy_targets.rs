//! Attachments of IoT policies to targets (certificate and thing-group ARNs).

use std::collections::HashSet;

use iotcreds_store::{
    AttachedIotPolicy, Entity, IotPolicy, LimitKind, Page, PageRequest, StoreError, StoreResult,
};
use sqlx::AnyConnection;
use sqlx::AssertSqlSafe;

use crate::db::{Outcome, err};
use crate::iot_policies::{policy_from_row, require};
use crate::paging::{self, Keyset, keyset, placeholders};
use crate::row::{RowExt, limit_i64};

/// `$2`: the target.
const TARGET_POLICIES: Keyset = keyset!(
    select: "SELECT p.name, p.default_version_id, v.document, p.created_at, p.modified_at, \
             p.generation_id FROM iot_policy_targets t \
             JOIN iot_policies p ON p.name = t.policy_name \
             JOIN iot_policy_versions v ON v.policy_name = p.name AND v.version_id = p.default_version_id",
    filter: "t.target = $2",
    after: "p.name > $3",
    before: "p.name < $3",
    asc: "p.name ASC",
    desc: "p.name DESC",
);

/// `$2`: the policy.
const POLICY_TARGETS: Keyset = keyset!(
    select: "SELECT target FROM iot_policy_targets",
    filter: "policy_name = $2",
    after: "target > $3",
    before: "target < $3",
    asc: "target ASC",
    desc: "target DESC",
);

async fn is_attached(c: &mut AnyConnection, name: &str, target: &str) -> StoreResult<bool> {
    let hit: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM iot_policy_targets WHERE policy_name = $1 AND target = $2",
    )
    .bind(name)
    .bind(target)
    .fetch_optional(c)
    .await
    .map_err(err)?;
    Ok(hit.is_some())
}

pub(crate) async fn attach(
    c: &mut AnyConnection,
    name: &str,
    target: &str,
    limit: usize,
) -> StoreResult<Outcome<()>> {
    require(&mut *c, name).await?;
    if is_attached(&mut *c, name, target).await? {
        return Ok(Outcome::Unchanged(()));
    }
    let attached: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM iot_policy_targets WHERE target = $1")
            .bind(target)
            .fetch_one(&mut *c)
            .await
            .map_err(err)?;
    if attached >= limit_i64(limit) {
        return Err(StoreError::limit(
            Entity::IotPolicy,
            name,
            LimitKind::PoliciesPerTarget(limit),
        ));
    }
    sqlx::query("INSERT INTO iot_policy_targets (policy_name, target) VALUES ($1, $2)")
        .bind(name)
        .bind(target)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(Outcome::Changed(()))
}

pub(crate) async fn detach(
    c: &mut AnyConnection,
    name: &str,
    target: &str,
) -> StoreResult<Outcome<()>> {
    require(&mut *c, name).await?;
    let done = sqlx::query("DELETE FROM iot_policy_targets WHERE policy_name = $1 AND target = $2")
        .bind(name)
        .bind(target)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(if done.rows_affected() == 0 {
        Outcome::Unchanged(())
    } else {
        Outcome::Changed(())
    })
}

pub(crate) async fn target_policies(
    c: &mut AnyConnection,
    target: &str,
    page: &PageRequest,
) -> StoreResult<Page<IotPolicy>> {
    let marker = paging::decode_marker(page)?;
    let mut q = sqlx::query(TARGET_POLICIES.sql(page, marker.is_some()))
        .bind(paging::fetch_limit(page))
        .bind(target);
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

pub(crate) async fn policy_targets(
    c: &mut AnyConnection,
    name: &str,
    page: &PageRequest,
) -> StoreResult<Page<String>> {
    require(&mut *c, name).await?;
    let marker = paging::decode_marker(page)?;
    let mut q = sqlx::query(POLICY_TARGETS.sql(page, marker.is_some()))
        .bind(paging::fetch_limit(page))
        .bind(name);
    if let Some(m) = marker {
        q = q.bind(m);
    }
    let rows = q.fetch_all(c).await.map_err(err)?;
    let items = rows
        .iter()
        .map(|r| r.text("target"))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(paging::finish(items, page, |t| t.clone()))
}

/// Every policy attached to any of `targets`, with its default version, by name, once each.
pub(crate) async fn attached(
    c: &mut AnyConnection,
    targets: &[&str],
) -> StoreResult<Vec<AttachedIotPolicy>> {
    // Duplicate targets would only lengthen the IN list.
    let mut seen = HashSet::new();
    let targets: Vec<&str> = targets
        .iter()
        .copied()
        .filter(|t| seen.insert(*t))
        .collect();
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT p.name, p.default_version_id, v.document FROM iot_policies p \
         JOIN iot_policy_versions v ON v.policy_name = p.name AND v.version_id = p.default_version_id \
         WHERE p.name IN (SELECT policy_name FROM iot_policy_targets WHERE target IN ({})) \
         ORDER BY p.name",
        placeholders(1, targets.len())
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for t in targets {
        q = q.bind(t);
    }
    let rows = q.fetch_all(c).await.map_err(err)?;
    rows.iter()
        .map(|r| {
            Ok(AttachedIotPolicy {
                name: r.text("name")?,
                version_id: r.int("default_version_id")?,
                document: r.text("document")?,
            })
        })
        .collect()
}
