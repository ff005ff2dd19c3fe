//! Account settings and token-sealing keys.

use iotcreds_store::{Entity, SealingKey, StoreError, StoreResult};
use sqlx::AnyConnection;

use crate::db::{Outcome, err, unique_as_exists};
use crate::row::RowExt;

pub(crate) async fn setting(c: &mut AnyConnection, key: &str) -> StoreResult<Option<String>> {
    sqlx::query_scalar("SELECT value FROM account_settings WHERE name = $1")
        .bind(key)
        .fetch_optional(c)
        .await
        .map_err(err)
}

pub(crate) async fn init_setting(
    c: &mut AnyConnection,
    key: &str,
    value: &str,
) -> StoreResult<Outcome<String>> {
    if let Some(existing) = setting(&mut *c, key).await? {
        return Ok(Outcome::Unchanged(existing));
    }
    sqlx::query("INSERT INTO account_settings (name, value) VALUES ($1, $2)")
        .bind(key)
        .bind(value)
        .execute(c)
        .await
        .map_err(unique_as_exists(Entity::AccountSetting, key))?;
    Ok(Outcome::Changed(value.to_owned()))
}

pub(crate) async fn put_setting(c: &mut AnyConnection, key: &str, value: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO account_settings (name, value) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(c)
    .await
    .map_err(err)?;
    Ok(())
}

pub(crate) async fn sealing_keys(c: &mut AnyConnection) -> StoreResult<Vec<SealingKey>> {
    let rows = sqlx::query(
        "SELECT id, material, created_at, retired_at, revoked_at FROM sealing_keys \
         ORDER BY created_at, id",
    )
    .fetch_all(c)
    .await
    .map_err(err)?;
    rows.iter()
        .map(|r| {
            let id = r.int("id")?;
            Ok(SealingKey {
                id: u16::try_from(id)
                    .map_err(|_| StoreError::Backend("sealing key id out of range".into()))?,
                material: r.bytes("material")?,
                created_at: r.int("created_at")?,
                retired_at: r.opt_int("retired_at")?,
                revoked_at: r.opt_int("revoked_at")?,
            })
        })
        .collect()
}

pub(crate) async fn insert_sealing_key(c: &mut AnyConnection, key: &SealingKey) -> StoreResult<()> {
    let id = i64::from(key.id);
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM sealing_keys WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(err)?;
    if taken.is_some() {
        return Err(StoreError::already_exists(
            Entity::SealingKey,
            key.id.to_string(),
        ));
    }
    sqlx::query(
        "INSERT INTO sealing_keys (id, material, created_at, retired_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(key.material.clone())
    .bind(key.created_at)
    .bind(key.retired_at)
    .bind(key.revoked_at)
    .execute(c)
    .await
    .map_err(unique_as_exists(Entity::SealingKey, &key.id.to_string()))?;
    Ok(())
}

pub(crate) async fn retire_sealing_keys(
    c: &mut AnyConnection,
    except: u16,
    at: i64,
) -> StoreResult<Outcome<()>> {
    let done = sqlx::query(
        "UPDATE sealing_keys SET retired_at = $2 WHERE retired_at IS NULL AND id <> $1",
    )
    .bind(i64::from(except))
    .bind(at)
    .execute(c)
    .await
    .map_err(err)?;
    Ok(if done.rows_affected() == 0 {
        Outcome::Unchanged(())
    } else {
        Outcome::Changed(())
    })
}

pub(crate) async fn delete_sealing_key(c: &mut AnyConnection, id: u16) -> StoreResult<()> {
    let done = sqlx::query("DELETE FROM sealing_keys WHERE id = $1")
        .bind(i64::from(id))
        .execute(c)
        .await
        .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found(Entity::SealingKey, id.to_string()));
    }
    Ok(())
}

pub(crate) async fn revoke_sealing_key(
    c: &mut AnyConnection,
    id: u16,
    at: i64,
) -> StoreResult<Outcome<()>> {
    let revoked: Option<Option<i64>> =
        sqlx::query_scalar("SELECT revoked_at FROM sealing_keys WHERE id = $1")
            .bind(i64::from(id))
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?;
    match revoked {
        None => Err(StoreError::not_found(Entity::SealingKey, id.to_string())),
        Some(Some(_)) => Ok(Outcome::Unchanged(())),
        Some(None) => {
            sqlx::query(
                "UPDATE sealing_keys SET material = $2, revoked_at = $3, \
                 retired_at = COALESCE(retired_at, $3) WHERE id = $1",
            )
            .bind(i64::from(id))
            .bind(Vec::<u8>::new())
            .bind(at)
            .execute(c)
            .await
            .map_err(err)?;
            Ok(Outcome::Changed(()))
        }
    }
}
