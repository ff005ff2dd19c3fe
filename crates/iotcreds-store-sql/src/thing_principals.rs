//! Attachments of principals (certificate ARNs) to things.

use iotcreds_store::{
    ConflictReason, Entity, Page, PageRequest, StoreError, StoreResult, ThingPrincipal,
};
use iotcreds_types::ThingPrincipalType;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::db::{Outcome, err};
use crate::paging::{self, Keyset, keyset};
use crate::row::RowExt;
use crate::things;

const BY_THING: Keyset = keyset!(
    select: "SELECT thing_name, principal, kind, created_at FROM thing_principals",
    filter: "thing_name = $2",
    after: "principal > $3",
    before: "principal < $3",
    asc: "principal ASC",
    desc: "principal DESC",
);

const BY_PRINCIPAL: Keyset = keyset!(
    select: "SELECT thing_name, principal, kind, created_at FROM thing_principals",
    filter: "principal = $2",
    after: "thing_name > $3",
    before: "thing_name < $3",
    asc: "thing_name ASC",
    desc: "thing_name DESC",
);

fn from_row(r: &AnyRow) -> StoreResult<ThingPrincipal> {
    Ok(ThingPrincipal {
        thing_name: r.text("thing_name")?,
        principal: r.text("principal")?,
        kind: r.wire("kind")?,
        created_at: r.int("created_at")?,
    })
}

pub(crate) async fn attach(c: &mut AnyConnection, a: &ThingPrincipal) -> StoreResult<Outcome<()>> {
    if things::version(&mut *c, &a.thing_name).await?.is_none() {
        return Err(StoreError::not_found(Entity::Thing, &a.thing_name));
    }
    let rows = sqlx::query(
        "SELECT thing_name, principal, kind, created_at FROM thing_principals WHERE principal = $1",
    )
    .bind(&a.principal)
    .fetch_all(&mut *c)
    .await
    .map_err(err)?;
    let existing = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    let mut here = None;
    for e in &existing {
        if e.thing_name == a.thing_name {
            here = Some(e.kind);
        } else if a.kind == ThingPrincipalType::ExclusiveThing {
            return Err(StoreError::conflict(
                Entity::ThingPrincipal,
                &a.principal,
                ConflictReason::AttachedToOtherThing,
            ));
        } else if e.kind == ThingPrincipalType::ExclusiveThing {
            return Err(StoreError::conflict(
                Entity::ThingPrincipal,
                &a.principal,
                ConflictReason::AttachedExclusively,
            ));
        }
    }
    match here {
        Some(kind) if kind == a.kind => Ok(Outcome::Unchanged(())),
        Some(_) => {
            // Same attachment, other kind (the rules above hold for the new kind): switch it.
            sqlx::query(
                "UPDATE thing_principals SET kind = $3 WHERE thing_name = $1 AND principal = $2",
            )
            .bind(&a.thing_name)
            .bind(&a.principal)
            .bind(a.kind.as_str())
            .execute(c)
            .await
            .map_err(err)?;
            Ok(Outcome::Changed(()))
        }
        None => {
            sqlx::query(
                "INSERT INTO thing_principals (thing_name, principal, kind, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&a.thing_name)
            .bind(&a.principal)
            .bind(a.kind.as_str())
            .bind(a.created_at)
            .execute(c)
            .await
            .map_err(err)?;
            Ok(Outcome::Changed(()))
        }
    }
}

pub(crate) async fn detach(
    c: &mut AnyConnection,
    thing_name: &str,
    principal: &str,
) -> StoreResult<()> {
    let done = sqlx::query("DELETE FROM thing_principals WHERE thing_name = $1 AND principal = $2")
        .bind(thing_name)
        .bind(principal)
        .execute(c)
        .await
        .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found(Entity::ThingPrincipal, principal));
    }
    Ok(())
}

async fn list(
    c: &mut AnyConnection,
    keyset: &Keyset,
    filter: &str,
    page: &PageRequest,
    key: fn(&ThingPrincipal) -> String,
) -> StoreResult<Page<ThingPrincipal>> {
    let marker = paging::decode_marker(page)?;
    let mut q = sqlx::query(keyset.sql(page, marker.is_some()))
        .bind(paging::fetch_limit(page))
        .bind(filter);
    if let Some(m) = marker {
        q = q.bind(m);
    }
    let rows = q.fetch_all(c).await.map_err(err)?;
    let items = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(paging::finish(items, page, key))
}

pub(crate) async fn list_by_thing(
    c: &mut AnyConnection,
    thing_name: &str,
    page: &PageRequest,
) -> StoreResult<Page<ThingPrincipal>> {
    list(c, &BY_THING, thing_name, page, |p| p.principal.clone()).await
}

pub(crate) async fn list_by_principal(
    c: &mut AnyConnection,
    principal: &str,
    page: &PageRequest,
) -> StoreResult<Page<ThingPrincipal>> {
    list(c, &BY_PRINCIPAL, principal, page, |p| p.thing_name.clone()).await
}

pub(crate) async fn is_attached(
    c: &mut AnyConnection,
    thing_name: &str,
    principal: &str,
) -> StoreResult<bool> {
    let hit: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM thing_principals WHERE thing_name = $1 AND principal = $2",
    )
    .bind(thing_name)
    .bind(principal)
    .fetch_optional(c)
    .await
    .map_err(err)?;
    Ok(hit.is_some())
}
