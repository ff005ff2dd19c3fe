//! Registered CA certificates.

use base64::Engine as _;
use iotcreds_store::{
    CaCertificate, CaCrl, CaRevocationConfig, ConflictReason, Entity, LimitKind, Page, PageRequest,
    StateReason, StoreError, StoreResult, Tag,
};
use iotcreds_types::{AutoRegistrationStatus, CaCertificateStatus};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::db::{err, unique_as_exists};
use crate::paging::{self, Keyset, keyset};
use crate::row::{RowExt, limit_i64};
use crate::tags::{self, Owner};

const SELECT_ONE: &str = "SELECT id, pem, status, auto_registration, mode, subject, not_before, \
    not_after, created_at, modified_at, customer_version, generation_id, owned_by, crl_der, \
    crl_this_update, crl_next_update, crl_revoked, crl_imported_at, crl_number, ocsp_mode, ocsp_responder_url, \
    crl_url FROM ca_certificates WHERE id = $1";

const LIST: Keyset = keyset!(
    select: "SELECT id, pem, status, auto_registration, mode, subject, not_before, not_after, \
             created_at, modified_at, customer_version, generation_id, owned_by, crl_der, \
             crl_this_update, crl_next_update, crl_revoked, crl_imported_at, crl_number, ocsp_mode, \
             ocsp_responder_url, crl_url FROM ca_certificates",
    filter: "1 = 1",
    after: "id > $2",
    before: "id < $2",
    asc: "id ASC",
    desc: "id DESC",
);

fn from_row(r: &AnyRow) -> StoreResult<CaCertificate> {
    Ok(CaCertificate {
        id: r.text("id")?,
        pem: r.text("pem")?,
        status: r.wire("status")?,
        auto_registration: r.wire("auto_registration")?,
        mode: r.wire("mode")?,
        subject: r.text("subject")?,
        not_before: r.int("not_before")?,
        not_after: r.int("not_after")?,
        created_at: r.int("created_at")?,
        modified_at: r.int("modified_at")?,
        customer_version: r.int("customer_version")?,
        generation_id: r.text("generation_id")?,
        owned_by: r.text("owned_by")?,
        crl: crl_from_row(r)?,
        revocation: CaRevocationConfig {
            ocsp: r.wire("ocsp_mode")?,
            ocsp_responder_url: r.opt_text("ocsp_responder_url")?,
            crl_url: r.opt_text("crl_url")?,
        },
    })
}

/// The CRL columns: all NULL, or the CRL (DER in base64, serials one per line).
fn crl_from_row(r: &AnyRow) -> StoreResult<Option<CaCrl>> {
    let Some(der) = r.opt_text("crl_der")? else {
        return Ok(None);
    };
    let der = base64::engine::general_purpose::STANDARD
        .decode(der)
        .map_err(|e| StoreError::Backend(format!("ca_certificates.crl_der: {e}")))?;
    Ok(Some(CaCrl {
        der,
        this_update: r.int("crl_this_update")?,
        number: r.opt_text("crl_number")?,
        next_update: r.opt_int("crl_next_update")?,
        revoked_serials: r.text("crl_revoked")?.lines().map(str::to_owned).collect(),
        imported_at: r.int("crl_imported_at")?,
    }))
}

pub(crate) async fn set_crl(
    c: &mut AnyConnection,
    id: &str,
    crl: Option<&CaCrl>,
) -> StoreResult<CaCertificate> {
    let current = get(&mut *c, id)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::CaCertificate, id))?;
    if let (Some(new), Some(old)) = (crl, &current.crl)
        && !new.supersedes(old)
    {
        return Err(StoreError::Conflict {
            entity: Entity::CaCertificate,
            key: id.to_owned(),
            reason: ConflictReason::NewerCrl,
        });
    }
    sqlx::query(
        "UPDATE ca_certificates SET crl_der = $2, crl_this_update = $3, crl_next_update = $4, \
         crl_revoked = $5, crl_imported_at = $6, crl_number = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(crl.map(|c| base64::engine::general_purpose::STANDARD.encode(&c.der)))
    .bind(crl.map(|c| c.this_update))
    .bind(crl.and_then(|c| c.next_update))
    .bind(crl.map(|c| {
        c.revoked_serials
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }))
    .bind(crl.map(|c| c.imported_at))
    .bind(crl.and_then(|c| c.number.clone()))
    .execute(&mut *c)
    .await
    .map_err(err)?;
    get(c, id)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::CaCertificate, id))
}

pub(crate) async fn set_revocation_config(
    c: &mut AnyConnection,
    id: &str,
    config: &CaRevocationConfig,
) -> StoreResult<CaCertificate> {
    let done = sqlx::query(
        "UPDATE ca_certificates SET ocsp_mode = $2, ocsp_responder_url = $3, crl_url = $4 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(config.ocsp.as_str())
    .bind(config.ocsp_responder_url.as_deref())
    .bind(config.crl_url.as_deref())
    .execute(&mut *c)
    .await
    .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found(Entity::CaCertificate, id));
    }
    get(c, id)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::CaCertificate, id))
}

pub(crate) async fn get(c: &mut AnyConnection, id: &str) -> StoreResult<Option<CaCertificate>> {
    let row = sqlx::query(SELECT_ONE)
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(err)?;
    row.as_ref().map(from_row).transpose()
}

pub(crate) async fn insert(
    c: &mut AnyConnection,
    ca: &CaCertificate,
    tags: &[Tag],
    limit: usize,
) -> StoreResult<()> {
    if get(&mut *c, &ca.id).await?.is_some() {
        return Err(StoreError::already_exists(Entity::CaCertificate, &ca.id));
    }
    let same_subject: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM ca_certificates WHERE subject = $1")
            .bind(&ca.subject)
            .fetch_one(&mut *c)
            .await
            .map_err(err)?;
    if same_subject >= limit_i64(limit) {
        return Err(StoreError::limit(
            Entity::CaCertificate,
            &ca.id,
            LimitKind::CaCertificatesPerSubject(limit),
        ));
    }
    sqlx::query(
        "INSERT INTO ca_certificates (id, pem, status, auto_registration, mode, subject, \
         not_before, not_after, created_at, modified_at, customer_version, generation_id, owned_by, \
         ocsp_mode, ocsp_responder_url, crl_url) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(&ca.id)
    .bind(&ca.pem)
    .bind(ca.status.as_str())
    .bind(ca.auto_registration.as_str())
    .bind(ca.mode.as_str())
    .bind(&ca.subject)
    .bind(ca.not_before)
    .bind(ca.not_after)
    .bind(ca.created_at)
    .bind(ca.modified_at)
    .bind(ca.customer_version)
    .bind(&ca.generation_id)
    .bind(&ca.owned_by)
    .bind(ca.revocation.ocsp.as_str())
    .bind(ca.revocation.ocsp_responder_url.as_deref())
    .bind(ca.revocation.crl_url.as_deref())
    .execute(&mut *c)
    .await
    .map_err(unique_as_exists(Entity::CaCertificate, &ca.id))?;
    tags::put(c, Owner::CaCertificate, &ca.id, tags).await
}

pub(crate) async fn list(
    c: &mut AnyConnection,
    page: &PageRequest,
) -> StoreResult<Page<CaCertificate>> {
    let marker = paging::decode_marker(page)?;
    let mut q = sqlx::query(LIST.sql(page, marker.is_some())).bind(paging::fetch_limit(page));
    if let Some(m) = marker {
        q = q.bind(m);
    }
    let rows = q.fetch_all(c).await.map_err(err)?;
    let items = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(paging::finish(items, page, |ca| ca.id.clone()))
}

pub(crate) async fn update(
    c: &mut AnyConnection,
    id: &str,
    status: Option<CaCertificateStatus>,
    auto_registration: Option<AutoRegistrationStatus>,
    generation_id: &str,
    modified_at: i64,
) -> StoreResult<CaCertificate> {
    let done = sqlx::query(
        "UPDATE ca_certificates SET status = COALESCE($2, status), \
         auto_registration = COALESCE($3, auto_registration), \
         customer_version = customer_version + 1, generation_id = $4, modified_at = $5 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(status.map(|s| s.as_str()))
    .bind(auto_registration.map(|s| s.as_str()))
    .bind(generation_id)
    .bind(modified_at)
    .execute(&mut *c)
    .await
    .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found(Entity::CaCertificate, id));
    }
    get(c, id)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::CaCertificate, id))
}

pub(crate) async fn delete(c: &mut AnyConnection, id: &str) -> StoreResult<()> {
    let Some(ca) = get(&mut *c, id).await? else {
        return Err(StoreError::not_found(Entity::CaCertificate, id));
    };
    if ca.status == CaCertificateStatus::Active {
        return Err(StoreError::invalid_state(
            Entity::CaCertificate,
            id,
            StateReason::CaCertificateActive,
        ));
    }
    sqlx::query("DELETE FROM ca_certificates WHERE id = $1")
        .bind(id)
        .execute(&mut *c)
        .await
        .map_err(err)?;
    tags::remove_all(c, Owner::CaCertificate, id).await
}
