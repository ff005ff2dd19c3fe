//! Device certificates.

use iotcreds_store::{
    Certificate, ConflictReason, Entity, Page, PageRequest, StateReason, StoreError, StoreResult,
};
use iotcreds_types::CertificateStatus;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::ca_certificates;
use crate::db::{err, unique_as_exists};
use crate::paging::{self, Keyset, keyset};
use crate::row::RowExt;

const SELECT_ONE: &str = "SELECT id, pem, status, ca_certificate_id, mode, not_before, not_after, \
    created_at, modified_at, customer_version, generation_id, owned_by \
    FROM certificates WHERE id = $1";

/// `$2`: only certificates of this CA (or NULL); marker `($3, $4)` = (created_at, id).
const LIST: Keyset = keyset!(
    select: "SELECT id, pem, status, ca_certificate_id, mode, not_before, not_after, created_at, \
             modified_at, customer_version, generation_id, owned_by FROM certificates",
    filter: "($2 IS NULL OR ca_certificate_id = $2)",
    after: "(created_at, id) > ($3, $4)",
    before: "(created_at, id) < ($3, $4)",
    asc: "created_at ASC, id ASC",
    desc: "created_at DESC, id DESC",
);

fn from_row(r: &AnyRow) -> StoreResult<Certificate> {
    Ok(Certificate {
        id: r.text("id")?,
        pem: r.text("pem")?,
        status: r.wire("status")?,
        ca_certificate_id: r.opt_text("ca_certificate_id")?,
        mode: r.wire("mode")?,
        not_before: r.int("not_before")?,
        not_after: r.int("not_after")?,
        created_at: r.int("created_at")?,
        modified_at: r.int("modified_at")?,
        customer_version: r.int("customer_version")?,
        generation_id: r.text("generation_id")?,
        owned_by: r.text("owned_by")?,
    })
}

pub(crate) async fn get(c: &mut AnyConnection, id: &str) -> StoreResult<Option<Certificate>> {
    let row = sqlx::query(SELECT_ONE)
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(err)?;
    row.as_ref().map(from_row).transpose()
}

pub(crate) async fn insert(c: &mut AnyConnection, cert: &Certificate) -> StoreResult<()> {
    if get(&mut *c, &cert.id).await?.is_some() {
        return Err(StoreError::already_exists(Entity::Certificate, &cert.id));
    }
    if let Some(ca) = &cert.ca_certificate_id
        && ca_certificates::get(&mut *c, ca).await?.is_none()
    {
        return Err(StoreError::not_found(Entity::CaCertificate, ca));
    }
    sqlx::query(
        "INSERT INTO certificates (id, pem, status, ca_certificate_id, mode, not_before, \
         not_after, created_at, modified_at, customer_version, generation_id, owned_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&cert.id)
    .bind(&cert.pem)
    .bind(cert.status.as_str())
    .bind(cert.ca_certificate_id.as_deref())
    .bind(cert.mode.as_str())
    .bind(cert.not_before)
    .bind(cert.not_after)
    .bind(cert.created_at)
    .bind(cert.modified_at)
    .bind(cert.customer_version)
    .bind(&cert.generation_id)
    .bind(&cert.owned_by)
    .execute(c)
    .await
    .map_err(unique_as_exists(Entity::Certificate, &cert.id))?;
    Ok(())
}

pub(crate) async fn list(
    c: &mut AnyConnection,
    ca_id: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Page<Certificate>> {
    let marker = paging::decode_marker(page)?
        .map(|m| paging::split_time_marker(&m))
        .transpose()?;
    let mut q = sqlx::query(LIST.sql(page, marker.is_some()))
        .bind(paging::fetch_limit(page))
        .bind(ca_id);
    if let Some((created_at, id)) = marker {
        q = q.bind(created_at).bind(id);
    }
    let rows = q.fetch_all(c).await.map_err(err)?;
    let items = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(paging::finish(items, page, |c| {
        format!("{}:{}", c.created_at, c.id)
    }))
}

pub(crate) async fn update_status(
    c: &mut AnyConnection,
    id: &str,
    status: CertificateStatus,
    generation_id: &str,
    modified_at: i64,
) -> StoreResult<Certificate> {
    let done = sqlx::query(
        "UPDATE certificates SET status = $2, customer_version = customer_version + 1, \
         generation_id = $3, modified_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(generation_id)
    .bind(modified_at)
    .execute(&mut *c)
    .await
    .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found(Entity::Certificate, id));
    }
    get(c, id)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::Certificate, id))
}

pub(crate) async fn delete(c: &mut AnyConnection, id: &str, arn: &str) -> StoreResult<()> {
    let Some(cert) = get(&mut *c, id).await? else {
        return Err(StoreError::not_found(Entity::Certificate, id));
    };
    if cert.status == CertificateStatus::Active {
        return Err(StoreError::invalid_state(
            Entity::Certificate,
            id,
            StateReason::CertificateActive,
        ));
    }
    let things: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM thing_principals WHERE principal = $1")
            .bind(arn)
            .fetch_one(&mut *c)
            .await
            .map_err(err)?;
    if things > 0 {
        return Err(StoreError::conflict(
            Entity::Certificate,
            id,
            ConflictReason::AttachedToThing,
        ));
    }
    let policies: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM iot_policy_targets WHERE target = $1")
            .bind(arn)
            .fetch_one(&mut *c)
            .await
            .map_err(err)?;
    if policies > 0 {
        return Err(StoreError::conflict(
            Entity::Certificate,
            id,
            ConflictReason::CertificatePolicies,
        ));
    }
    sqlx::query("DELETE FROM certificates WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map_err(err)?;
    Ok(())
}
