//! The last use of long-term access keys (IAM `GetAccessKeyLastUsed`).
//!
//! Request handling notes each verified use of an IAM user's access key here
//! ([`KeyUses::note`]: a map update under a short lock, no I/O), and one writer task
//! ([`KeyUseWriter::run`]) stores the latest use of each key every few seconds, in one
//! transaction that leaves the registry generation (and so every cache) alone. A use is noted
//! only after the request's signature was verified, so the map holds at most one entry per
//! existing access key: an anonymous client cannot grow it. A failed write keeps nothing (the
//! next use is noted again); the answer of `GetAccessKeyLastUsed` on this instance also sees
//! uses not yet written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iotcreds_store::{AccessKeyUse, Store, StoreResult};

/// Time between two writes of the noted uses.
const FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// Uses noted since the last write, latest per key.
#[derive(Default)]
pub struct KeyUses {
    pending: Mutex<HashMap<String, AccessKeyUse>>,
}

impl KeyUses {
    /// Note that `access_key_id` signed a verified request for `service` in `region` at `at_ms`.
    pub fn note(&self, access_key_id: &str, service: &str, region: &str, at_ms: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.get_mut(access_key_id) {
            Some(u) if u.at >= at_ms => {}
            Some(u) => {
                u.at = at_ms;
                if u.service != service {
                    service.clone_into(&mut u.service);
                }
                if u.region != region {
                    region.clone_into(&mut u.region);
                }
            }
            None => {
                pending.insert(
                    access_key_id.to_owned(),
                    AccessKeyUse {
                        access_key_id: access_key_id.to_owned(),
                        at: at_ms,
                        service: service.to_owned(),
                        region: region.to_owned(),
                    },
                );
            }
        }
    }

    /// A use of `access_key_id` noted here and not yet written.
    pub fn pending(&self, access_key_id: &str) -> Option<AccessKeyUse> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.get(access_key_id).cloned()
    }

    /// The latest use of `access_key_id`: the one noted here or the one stored, whichever is
    /// later.
    pub async fn last_used(
        &self,
        store: &dyn Store,
        access_key_id: &str,
    ) -> StoreResult<Option<AccessKeyUse>> {
        let stored = store.access_key_last_used(access_key_id).await?;
        let noted = self.pending(access_key_id);
        Ok(match (stored, noted) {
            (Some(s), Some(n)) => Some(if n.at > s.at { n } else { s }),
            (s, n) => s.or(n),
        })
    }

    fn take(&self) -> Vec<AccessKeyUse> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.drain().map(|(_, u)| u).collect()
    }
}

/// The task that writes the noted uses to the store.
pub struct KeyUseWriter {
    uses: Arc<KeyUses>,
    store: Arc<dyn Store>,
}

impl KeyUseWriter {
    /// A writer of `uses` to `store`.
    pub fn new(uses: Arc<KeyUses>, store: Arc<dyn Store>) -> Self {
        Self { uses, store }
    }

    /// Write the noted uses every few seconds until `shutdown` resolves; then write what is
    /// left and return.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(FLUSH_INTERVAL) => self.write().await,
            }
        }
        self.write().await;
    }

    async fn write(&self) {
        let uses = self.uses.take();
        if uses.is_empty() {
            return;
        }
        if let Err(e) = self.store.record_access_key_uses(&uses).await {
            tracing::warn!(error = %e, keys = uses.len(), "access key last-use times not stored");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_use_of_each_key_is_kept() {
        let uses = KeyUses::default();
        uses.note("AKIAADCTEST000000001", "s3", "ap-northeast-1", 2_000);
        uses.note("AKIAADCTEST000000001", "iam", "us-east-1", 1_000); // older: ignored
        uses.note("AKIAADCTEST000000002", "sts", "ap-northeast-1", 1_500);
        let one = uses.pending("AKIAADCTEST000000001").unwrap();
        assert_eq!((one.at, one.service.as_str()), (2_000, "s3"));
        uses.note("AKIAADCTEST000000001", "iot", "ap-northeast-1", 3_000);
        let one = uses.pending("AKIAADCTEST000000001").unwrap();
        assert_eq!((one.at, one.service.as_str()), (3_000, "iot"));
        let mut taken = uses.take();
        taken.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
        assert_eq!(taken.len(), 2);
        assert!(uses.pending("AKIAADCTEST000000001").is_none());
        assert!(uses.take().is_empty());
    }
}
