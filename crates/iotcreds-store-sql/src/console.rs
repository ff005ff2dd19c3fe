//! The console's rows: IAM users' login profiles and the credential event log.

use iotcreds_store::{
    CredentialEvent, CredentialEventFilter, Entity, LoginProfile, LoginProfileUpdate, StoreError,
    StoreResult,
};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::db::{err, unique_as_exists};
use crate::iam_users;
use crate::row::{RowExt, flag, name_key};

const SELECT_PROFILE: &str = "SELECT u.name AS user_name, p.password_hash, \
    p.password_reset_required, p.created_at, p.password_set_at \
    FROM iam_login_profiles p JOIN iam_users u ON u.name_key = p.user_key WHERE p.user_key = $1";

const SELECT_EVENTS: &str = "SELECT seq, decided_at, request_id, issued, status, certificate_id, \
    thing, role_alias, role_name, access_key_id, expiration, reason, statement, source_ip \
    FROM credential_events \
    WHERE ($2 IS NULL OR thing = $2) AND ($3 IS NULL OR certificate_id = $3) \
    AND ($4 IS NULL OR role_alias = $4) AND ($5 IS NULL OR issued = $5) \
    AND ($6 IS NULL OR seq < $6) \
    ORDER BY seq DESC LIMIT $1";

const INSERT_EVENT: &str = "INSERT INTO credential_events (decided_at, request_id, issued, \
    status, certificate_id, thing, role_alias, role_name, access_key_id, expiration, reason, \
    statement, source_ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// Keeps the newest `$1` events.
const PRUNE_EVENTS: &str = "DELETE FROM credential_events \
    WHERE seq <= (SELECT MAX(seq) FROM credential_events) - $1";

async fn require_user(c: &mut AnyConnection, user: &str) -> StoreResult<String> {
    if !iam_users::exists(&mut *c, user).await? {
        return Err(StoreError::not_found(Entity::User, user));
    }
    Ok(name_key(user))
}

fn profile_from_row(r: &AnyRow) -> StoreResult<LoginProfile> {
    Ok(LoginProfile {
        user_name: r.text("user_name")?,
        password_hash: r.text("password_hash")?,
        password_reset_required: r.flag("password_reset_required")?,
        created_at: r.int("created_at")?,
        password_set_at: r.int("password_set_at")?,
    })
}

/// Whether the user (by name key) has a login profile.
pub(crate) async fn has_login_profile(c: &mut AnyConnection, user_key: &str) -> StoreResult<bool> {
    let hit: Option<String> =
        sqlx::query_scalar("SELECT user_key FROM iam_login_profiles WHERE user_key = $1")
            .bind(user_key)
            .fetch_optional(c)
            .await
            .map_err(err)?;
    Ok(hit.is_some())
}

pub(crate) async fn insert_login_profile(
    c: &mut AnyConnection,
    profile: &LoginProfile,
) -> StoreResult<()> {
    let key = require_user(&mut *c, &profile.user_name).await?;
    if has_login_profile(&mut *c, &key).await? {
        return Err(StoreError::already_exists(
            Entity::LoginProfile,
            &profile.user_name,
        ));
    }
    sqlx::query(
        "INSERT INTO iam_login_profiles (user_key, password_hash, password_reset_required, \
         created_at, password_set_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&key)
    .bind(&profile.password_hash)
    .bind(flag(profile.password_reset_required))
    .bind(profile.created_at)
    .bind(profile.password_set_at)
    .execute(c)
    .await
    .map_err(unique_as_exists(Entity::LoginProfile, &profile.user_name))?;
    Ok(())
}

pub(crate) async fn login_profile(
    c: &mut AnyConnection,
    user: &str,
) -> StoreResult<Option<LoginProfile>> {
    let key = require_user(&mut *c, user).await?;
    let row = sqlx::query(SELECT_PROFILE)
        .bind(&key)
        .fetch_optional(c)
        .await
        .map_err(err)?;
    row.as_ref().map(profile_from_row).transpose()
}

pub(crate) async fn update_login_profile(
    c: &mut AnyConnection,
    user: &str,
    update: &LoginProfileUpdate,
) -> StoreResult<()> {
    let key = require_user(&mut *c, user).await?;
    if !has_login_profile(&mut *c, &key).await? {
        return Err(StoreError::not_found(Entity::LoginProfile, user));
    }
    if let Some(hash) = &update.password_hash {
        sqlx::query(
            "UPDATE iam_login_profiles SET password_hash = $2, password_set_at = $3 \
             WHERE user_key = $1",
        )
        .bind(&key)
        .bind(hash)
        .bind(update.password_set_at)
        .execute(&mut *c)
        .await
        .map_err(err)?;
    }
    if let Some(reset) = update.password_reset_required {
        sqlx::query(
            "UPDATE iam_login_profiles SET password_reset_required = $2 WHERE user_key = $1",
        )
        .bind(&key)
        .bind(flag(reset))
        .execute(&mut *c)
        .await
        .map_err(err)?;
    }
    Ok(())
}

pub(crate) async fn delete_login_profile(c: &mut AnyConnection, user: &str) -> StoreResult<()> {
    let key = require_user(&mut *c, user).await?;
    let done = sqlx::query("DELETE FROM iam_login_profiles WHERE user_key = $1")
        .bind(&key)
        .execute(c)
        .await
        .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found(Entity::LoginProfile, user));
    }
    Ok(())
}

pub(crate) async fn append_events(
    c: &mut AnyConnection,
    events: &[CredentialEvent],
    keep: u64,
) -> StoreResult<()> {
    for e in events {
        sqlx::query(INSERT_EVENT)
            .bind(e.at)
            .bind(&e.request_id)
            .bind(flag(e.issued))
            .bind(e.status)
            .bind(&e.certificate_id)
            .bind(&e.thing)
            .bind(&e.role_alias)
            .bind(&e.role)
            .bind(&e.access_key_id)
            .bind(&e.expiration)
            .bind(&e.reason)
            .bind(&e.statement)
            .bind(&e.source_ip)
            .execute(&mut *c)
            .await
            .map_err(err)?;
    }
    sqlx::query(PRUNE_EVENTS)
        .bind(i64::try_from(keep).unwrap_or(i64::MAX))
        .execute(c)
        .await
        .map_err(err)?;
    Ok(())
}

pub(crate) async fn events(
    c: &mut AnyConnection,
    filter: &CredentialEventFilter,
) -> StoreResult<Vec<CredentialEvent>> {
    let limit = i64::from(filter.limit.clamp(1, 1000));
    let rows = sqlx::query(SELECT_EVENTS)
        .bind(limit)
        .bind(filter.thing.as_deref())
        .bind(filter.certificate_id.as_deref())
        .bind(filter.role_alias.as_deref())
        .bind(filter.issued.map(flag))
        .bind(filter.before_seq)
        .fetch_all(c)
        .await
        .map_err(err)?;
    rows.iter()
        .map(|r| {
            Ok(CredentialEvent {
                seq: r.int("seq")?,
                at: r.int("decided_at")?,
                request_id: r.text("request_id")?,
                issued: r.flag("issued")?,
                status: r.int("status")?,
                certificate_id: r.text("certificate_id")?,
                thing: r.text("thing")?,
                role_alias: r.text("role_alias")?,
                role: r.text("role_name")?,
                access_key_id: r.text("access_key_id")?,
                expiration: r.text("expiration")?,
                reason: r.text("reason")?,
                statement: r.text("statement")?,
                source_ip: r.text("source_ip")?,
            })
        })
        .collect()
}
