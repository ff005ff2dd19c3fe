//! Token-sealing keys: loading the ring, rotation, emergency revocation, and pruning keys whose
//! tokens have expired.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iotcreds_store::{SealingKey, Store, StoreError, StoreResult};
use iotcreds_token::{KeyMaterial, KeyRing, MAX_SESSION_MS};

use super::Registry;

/// Clock skew allowed when deciding that every token of a retired key has expired.
const PRUNE_SLACK_MS: i64 = 15 * 60 * 1000;

/// Shortest interval between two reloads of the ring caused by access key ids naming a key the
/// ring does not hold (so that made-up key ids cannot turn into a database query each).
const MISS_RELOAD_INTERVAL: Duration = Duration::from_millis(200);

/// What [`Registry::revoke_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The revoked key.
    pub id: u16,
    /// It was revoked before (nothing changed).
    pub already_revoked: bool,
    /// The key rotated in first, because the revoked one was sealing.
    pub rotated_to: Option<u16>,
    /// The key that seals now.
    pub active: Option<u16>,
}

/// Build the ring from the stored keys (oldest first; the newest unretired key seals).
pub(crate) async fn load_ring(store: &dyn Store) -> StoreResult<KeyRing> {
    let keys = store.sealing_keys().await?;
    let material: Vec<KeyMaterial> = keys
        .iter()
        .map(|k| KeyMaterial {
            id: k.id,
            material: k.material.clone(),
            retired: k.retired_at.is_some(),
            revoked: k.revoked_at.is_some(),
        })
        .collect();
    KeyRing::new(&material)
        .map_err(|e| StoreError::Backend(format!("stored sealing keys are unusable: {e}")))
}

fn next_id(keys: &[SealingKey]) -> u16 {
    let newest = keys.iter().max_by_key(|k| k.created_at).map_or(0, |k| k.id);
    let mut id = newest;
    loop {
        id = if id == u16::MAX { 1 } else { id + 1 };
        if !keys.iter().any(|k| k.id == id) {
            return id;
        }
    }
}

impl Registry {
    /// Reload the key ring from the store (after a change anywhere).
    pub async fn reload_keyring(&self) -> StoreResult<()> {
        let ring = load_ring(self.store.as_ref()).await?;
        self.keyring.store(Arc::new(ring));
        Ok(())
    }

    /// The ring to verify `access_key_id` with. When the id names a key this ring does not hold
    /// (another instance rotated a moment ago and the change notification is still on its
    /// way), the ring is reloaded from the store first, at most once per 200 ms.
    pub async fn keyring_for(&self, access_key_id: &str) -> Arc<KeyRing> {
        let ring = self.keyring();
        let Ok(id) = KeyRing::key_id_of(access_key_id) else {
            return ring;
        };
        if ring.contains(id) || ring.is_revoked(id) {
            return ring;
        }
        {
            let mut last = self
                .keyring_miss_reload
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < MISS_RELOAD_INTERVAL) {
                return ring;
            }
            *last = Some(Instant::now());
        }
        if let Err(e) = self.reload_keyring().await {
            tracing::warn!(error = %e, "could not reload the token key ring");
        }
        self.keyring()
    }

    /// Rotate: add a new key that seals from now on, retire the others (they keep opening
    /// their tokens), and prune keys whose every token has expired. Returns the new key id.
    pub async fn rotate_keys(&self, now_ms: i64) -> StoreResult<u16> {
        let keys = self.store.sealing_keys().await?;
        let id = next_id(&keys);
        let key = SealingKey {
            id,
            material: KeyRing::generate_material(),
            created_at: now_ms,
            retired_at: None,
            revoked_at: None,
        };
        self.mutate(async {
            self.store.insert_sealing_key(&key).await?;
            self.store.retire_sealing_keys(id, now_ms).await
        })
        .await?;
        self.prune_keys(now_ms).await?;
        self.reload_keyring().await?;
        tracing::info!(key_id = id, "token sealing key rotated");
        Ok(id)
    }

    /// Revoke the key `id` at once (its material may have leaked): its material is erased and
    /// every token it sealed is refused, here now and on every other instance as soon as it
    /// notices the change. If `id` seals, a new key is rotated in first, so issuance goes on.
    /// `NotFound` for an unknown key; revoking a revoked key changes nothing.
    pub async fn revoke_key(&self, id: u16, now_ms: i64) -> StoreResult<Revoked> {
        let keys = self.store.sealing_keys().await?;
        let Some(key) = keys.iter().find(|k| k.id == id) else {
            return Err(StoreError::not_found(
                iotcreds_store::Entity::SealingKey,
                id.to_string(),
            ));
        };
        let already = key.revoked_at.is_some();
        let seals = key.retired_at.is_none() && !already;
        let rotated_to = if seals {
            Some(self.rotate_keys(now_ms).await?)
        } else {
            None
        };
        self.mutate(self.store.revoke_sealing_key(id, now_ms))
            .await?;
        self.reload_keyring().await?;
        if !already {
            tracing::warn!(
                target: "iotcreds::audit",
                event = "revoke_sealing_key",
                key_id = id,
                rotated_to,
                "token sealing key revoked: every token it sealed is refused from now on"
            );
        }
        Ok(Revoked {
            id,
            already_revoked: already,
            rotated_to,
            active: self.keyring().active_id(),
        })
    }

    /// Delete retired keys whose tokens have all expired.
    pub async fn prune_keys(&self, now_ms: i64) -> StoreResult<()> {
        for k in self.store.sealing_keys().await? {
            let expired = k
                .retired_at
                .is_some_and(|retired| retired + MAX_SESSION_MS + PRUNE_SLACK_MS < now_ms);
            if expired {
                match self.mutate(self.store.delete_sealing_key(k.id)).await {
                    Ok(()) | Err(StoreError::NotFound { .. }) => {
                        tracing::info!(key_id = k.id, "expired token sealing key deleted");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Rotate if the sealing key is older than `max_age_ms`, and prune. Called periodically.
    pub async fn maintain_keys(&self, now_ms: i64, max_age_ms: Option<i64>) -> StoreResult<()> {
        if let Some(max_age) = max_age_ms {
            let keys = self.store.sealing_keys().await?;
            let active = keys
                .iter()
                .filter(|k| k.retired_at.is_none())
                .max_by_key(|k| k.created_at);
            if active.is_none_or(|k| now_ms - k.created_at > max_age) {
                self.rotate_keys(now_ms).await?;
                return Ok(());
            }
        }
        self.prune_keys(now_ms).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u16, created_at: i64) -> SealingKey {
        SealingKey {
            id,
            material: vec![0; 32],
            created_at,
            retired_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn ids_follow_the_newest_and_wrap() {
        assert_eq!(next_id(&[]), 1);
        assert_eq!(next_id(&[key(1, 1), key(2, 2)]), 3);
        assert_eq!(next_id(&[key(u16::MAX, 5), key(1, 1)]), 2);
    }
}
