//! Attachments of managed policies to roles and users, and the effective policies of a holder.

use iotcreds_store::{
    EffectivePolicy, Entity, LimitKind, ManagedPolicy, Page, PageRequest, StoreError, StoreResult,
};
use sqlx::AnyConnection;

use crate::db::{Outcome, err};
use crate::iam_inline::Holder;
use crate::iam_managed::{self, from_rows, version_name};
use crate::paging::{self, Keyset, keyset};
use crate::row::{RowExt, limit_i64, name_key};

/// `$2` holder kind, `$3` holder key.
const ATTACHED: Keyset = keyset!(
    select: "SELECT p.arn, p.name_key, p.name, p.id, p.path, p.description, p.default_version, \
             p.created_at, p.updated_at, (SELECT COUNT(*) FROM iam_policy_attachments x \
             WHERE x.policy_arn = p.arn) AS attachment_count FROM iam_policy_attachments a \
             JOIN iam_managed_policies p ON p.arn = a.policy_arn",
    filter: "a.holder_kind = $2 AND a.holder_key = $3",
    after: "p.name_key > $4",
    before: "p.name_key < $4",
    asc: "p.name_key ASC",
    desc: "p.name_key DESC",
);

const HOLDERS: &str = "SELECT a.holder_kind, COALESCE(r.name, u.name, a.holder_key) AS name \
    FROM iam_policy_attachments a \
    LEFT JOIN iam_roles r ON a.holder_kind = 'role' AND r.name_key = a.holder_key \
    LEFT JOIN iam_users u ON a.holder_kind = 'user' AND u.name_key = a.holder_key \
    WHERE a.policy_arn = $1 ORDER BY a.holder_kind, a.holder_key";

/// Inline policies (src 0, by name), then the default version of each attached managed policy
/// (src 1, by name), plus one row (src -1) if the holder exists: one round trip.
macro_rules! effective_sql {
    ($holders:literal) => {
        concat!(
            "SELECT 0 AS src, name AS id, CAST(NULL AS BIGINT) AS version, document, name AS sort_key \
             FROM iam_inline_policies WHERE holder_kind = $1 AND holder_key = $2 \
             UNION ALL \
             SELECT 1 AS src, p.arn AS id, p.default_version AS version, v.document, p.name_key AS sort_key \
             FROM iam_policy_attachments a JOIN iam_managed_policies p ON p.arn = a.policy_arn \
             JOIN iam_managed_policy_versions v ON v.policy_arn = p.arn AND v.version = p.default_version \
             WHERE a.holder_kind = $1 AND a.holder_key = $2 \
             UNION ALL \
             SELECT -1 AS src, NULL AS id, NULL AS version, NULL AS document, NULL AS sort_key FROM ",
            $holders,
            " WHERE name_key = $2 ORDER BY src, sort_key"
        )
    };
}
const EFFECTIVE_ROLE: &str = effective_sql!("iam_roles");
const EFFECTIVE_USER: &str = effective_sql!("iam_users");

/// How many managed policies are attached to the holder.
pub(crate) async fn count_for_holder(
    c: &mut AnyConnection,
    holder: &Holder<'_>,
) -> StoreResult<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM iam_policy_attachments WHERE holder_kind = $1 AND holder_key = $2",
    )
    .bind(holder.kind())
    .bind(holder.key())
    .fetch_one(c)
    .await
    .map_err(err)
}

pub(crate) async fn attach(
    c: &mut AnyConnection,
    holder: &Holder<'_>,
    arn: &str,
    limit: usize,
) -> StoreResult<Outcome<()>> {
    holder.require(&mut *c).await?;
    let stored = iam_managed::require(&mut *c, arn).await?;
    let hit: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM iam_policy_attachments WHERE holder_kind = $1 AND holder_key = $2 AND policy_arn = $3",
    )
    .bind(holder.kind())
    .bind(holder.key())
    .bind(&stored)
    .fetch_optional(&mut *c)
    .await
    .map_err(err)?;
    if hit.is_some() {
        return Ok(Outcome::Unchanged(()));
    }
    if count_for_holder(&mut *c, holder).await? >= limit_i64(limit) {
        return Err(StoreError::limit(
            Entity::PolicyAttachment,
            holder.name(),
            if holder.is_role() {
                LimitKind::PoliciesPerRole(limit)
            } else {
                LimitKind::PoliciesPerUser(limit)
            },
        ));
    }
    sqlx::query("INSERT INTO iam_policy_attachments (holder_kind, holder_key, policy_arn) VALUES ($1, $2, $3)")
        .bind(holder.kind())
        .bind(holder.key())
        .bind(&stored)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(Outcome::Changed(()))
}

pub(crate) async fn detach(
    c: &mut AnyConnection,
    holder: &Holder<'_>,
    arn: &str,
) -> StoreResult<()> {
    holder.require(&mut *c).await?;
    let stored = iam_managed::require(&mut *c, arn).await?;
    let done = sqlx::query(
        "DELETE FROM iam_policy_attachments WHERE holder_kind = $1 AND holder_key = $2 AND policy_arn = $3",
    )
    .bind(holder.kind())
    .bind(holder.key())
    .bind(&stored)
    .execute(c)
    .await
    .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found(Entity::PolicyAttachment, arn));
    }
    Ok(())
}

pub(crate) async fn list_attached(
    c: &mut AnyConnection,
    holder: &Holder<'_>,
    page: &PageRequest,
) -> StoreResult<Page<ManagedPolicy>> {
    holder.require(&mut *c).await?;
    let marker = paging::decode_marker(page)?;
    let mut q = sqlx::query(ATTACHED.sql(page, marker.is_some()))
        .bind(paging::fetch_limit(page))
        .bind(holder.kind())
        .bind(holder.key());
    if let Some(m) = marker {
        q = q.bind(m);
    }
    let rows = q.fetch_all(&mut *c).await.map_err(err)?;
    let items = from_rows(c, &rows).await?;
    Ok(paging::finish(items, page, |p| name_key(&p.name)))
}

pub(crate) async fn holders(
    c: &mut AnyConnection,
    arn: &str,
) -> StoreResult<Vec<(String, String)>> {
    let Some(stored) = iam_managed::resolve(&mut *c, arn).await? else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query(HOLDERS)
        .bind(&stored)
        .fetch_all(c)
        .await
        .map_err(err)?;
    rows.iter()
        .map(|r| Ok((r.text("holder_kind")?, r.text("name")?)))
        .collect()
}

pub(crate) async fn effective(
    c: &mut AnyConnection,
    holder: &Holder<'_>,
) -> StoreResult<Vec<EffectivePolicy>> {
    let sql = if holder.is_role() {
        EFFECTIVE_ROLE
    } else {
        EFFECTIVE_USER
    };
    let rows = sqlx::query(sql)
        .bind(holder.kind())
        .bind(holder.key())
        .fetch_all(c)
        .await
        .map_err(err)?;
    let mut exists = false;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        match r.int("src")? {
            -1 => exists = true,
            0 => out.push(EffectivePolicy {
                id: r.text("id")?,
                version: "inline".to_owned(),
                document: r.text("document")?,
            }),
            _ => out.push(EffectivePolicy {
                id: r.text("id")?,
                version: version_name(r.int("version")?),
                document: r.text("document")?,
            }),
        }
    }
    if !exists {
        return Err(StoreError::not_found(holder.entity(), holder.name()));
    }
    Ok(out)
}
