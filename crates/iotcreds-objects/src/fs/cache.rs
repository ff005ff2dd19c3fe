//! The read cache: small objects (metadata and data) kept in memory, so that a GET or HEAD of a
//! hot small object costs a hash look-up instead of an `open`, a `pread` of the whole file, a
//! JSON parse of its metadata and a `close` (together about a fifth of a signed 4 KiB GET).
//!
//! # Why it can never serve a stale object
//!
//! Each bucket's cache lives in its [`BucketState`](super::BucketState), under the bucket lock
//! that every rename into (and removal from) the bucket's object directory also holds. Every
//! such change of the index drops the key's entry and advances the cache's epoch, in the same
//! critical section as the rename ([`ReadCache::invalidate`]). A reader that misses notes the
//! epoch under the lock ([`ReadCache::lookup`]), reads the file without the lock, and stores what
//! it read only if the epoch has not moved meanwhile ([`ReadCache::store`]): then no rename or
//! removal happened between its look-up and its store, so the file it read is the one the index
//! names now, and any later change will drop the entry again. The data directory is locked to
//! one process (`.lock`), so no other writer can change a file behind the index.
//!
//! # Memory
//!
//! The backend's budget ([`FsConfig::read_cache_bytes`](super::FsConfig), shared by all buckets)
//! bounds the sum of entry costs (data, key and a fixed allowance for the metadata). An entry
//! larger than an eighth of the budget is never stored. When a store would exceed the budget,
//! entries of the same bucket are evicted (in the hash map's order, which is unrelated to use)
//! until it fits; if the bucket has none left to give, the new entry is not stored.
//!
//! # Metrics
//!
//! `iotcreds_s3_read_cache_hits_total` and `iotcreds_s3_read_cache_misses_total` (reads of a
//! small object answered from memory, and from its file), `iotcreds_s3_read_cache_bytes` (the
//! accounted size of all entries), through the `metrics` facade: whatever recorder the process
//! installed before the backend was opened.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use super::format::ObjectMeta;

/// Accounted cost of an entry beyond its data and the strings of its metadata: the structs,
/// the map slot and the allocator's rounding.
const ENTRY_OVERHEAD: usize = 512;

/// Accounted cost of each metadata string, part and user-metadata pair beyond its bytes.
const ITEM_OVERHEAD: usize = 48;

/// The heap the parsed metadata holds, approximately (user metadata alone can be 2 KB).
fn meta_cost(m: &ObjectMeta) -> usize {
    let a = &m.attrs;
    let text = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() + ITEM_OVERHEAD);
    m.key.len()
        + m.etag.len()
        + text(&a.content_type)
        + text(&a.content_encoding)
        + text(&a.content_disposition)
        + text(&a.content_language)
        + text(&a.cache_control)
        + text(&a.website_redirect_location)
        + a.metadata
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2 * ITEM_OVERHEAD)
            .sum::<usize>()
        + m.checksum.as_ref().map_or(0, |c| {
            c.algorithm.len() + c.kind.len() + c.value.len() + 3 * ITEM_OVERHEAD
        })
        + m.parts
            .iter()
            .map(|p| p.etag.len() + p.checksum.as_ref().map_or(0, String::len) + 2 * ITEM_OVERHEAD)
            .sum::<usize>()
}

/// The backend-wide budget of all read caches.
pub(crate) struct CacheBudget {
    limit: usize,
    used: AtomicUsize,
    hits: metrics::Counter,
    misses: metrics::Counter,
    bytes: metrics::Gauge,
}

impl CacheBudget {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            used: AtomicUsize::new(0),
            hits: metrics::counter!("iotcreds_s3_read_cache_hits_total"),
            misses: metrics::counter!("iotcreds_s3_read_cache_misses_total"),
            bytes: metrics::gauge!("iotcreds_s3_read_cache_bytes"),
        }
    }

    /// A read of a small object was answered from memory.
    pub(crate) fn hit(&self) {
        self.hits.increment(1);
    }

    /// A read of a small object went to its file.
    pub(crate) fn miss(&self) {
        self.misses.increment(1);
    }

    fn add(&self, cost: usize) {
        let now = self.used.fetch_add(cost, Ordering::Relaxed) + cost;
        #[allow(clippy::cast_precision_loss)] // a gauge; bytes well below 2^53
        self.bytes.set(now as f64);
    }

    fn sub(&self, cost: usize) {
        let now = self.used.fetch_sub(cost, Ordering::Relaxed) - cost;
        #[allow(clippy::cast_precision_loss)]
        self.bytes.set(now as f64);
    }

    /// Bytes accounted to entries now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// A cached object: its metadata and all of its data.
#[derive(Clone)]
pub(crate) struct Cached {
    pub meta: Arc<ObjectMeta>,
    pub data: Bytes,
}

impl Cached {
    fn cost(&self) -> usize {
        // The key twice: in the metadata and as the map's key.
        self.data.len() + self.meta.key.len() + meta_cost(&self.meta) + ENTRY_OVERHEAD
    }
}

/// One bucket's cache (see the module docs). Lives under the bucket lock.
#[derive(Default)]
pub(crate) struct ReadCache {
    entries: HashMap<String, Cached>,
    /// Advanced by every change of the bucket's object index.
    epoch: u64,
}

/// What a look-up found: the entry, or the epoch a later [`ReadCache::store`] must match.
pub(crate) enum Lookup {
    Hit(Cached),
    Miss { epoch: u64 },
}

impl ReadCache {
    pub(crate) fn lookup(&self, key: &str) -> Lookup {
        match self.entries.get(key) {
            Some(c) => Lookup::Hit(c.clone()),
            None => Lookup::Miss { epoch: self.epoch },
        }
    }

    /// `key`'s object was replaced or removed: drop its entry and advance the epoch. Called in
    /// the critical section that renames or removes the object file.
    pub(crate) fn invalidate(&mut self, budget: &CacheBudget, key: &str) {
        self.epoch += 1;
        if let Some(old) = self.entries.remove(key) {
            budget.sub(old.cost());
        }
    }

    /// Store what a reader read after a miss at `epoch`, if nothing changed since and it fits
    /// the budget. `data` is copied, so the entry holds exactly the object's bytes.
    pub(crate) fn store(
        &mut self,
        budget: &CacheBudget,
        epoch: u64,
        meta: &Arc<ObjectMeta>,
        data: &[u8],
    ) {
        if epoch != self.epoch || self.entries.contains_key(&meta.key) {
            return;
        }
        let entry = Cached {
            meta: Arc::clone(meta),
            data: Bytes::copy_from_slice(data),
        };
        let cost = entry.cost();
        if cost > budget.limit / 8 {
            return;
        }
        while budget.used.load(Ordering::Relaxed) + cost > budget.limit {
            let Some(victim) = self.entries.keys().next().cloned() else {
                return;
            };
            if let Some(old) = self.entries.remove(&victim) {
                budget.sub(old.cost());
            }
        }
        budget.add(cost);
        self.entries.insert(meta.key.clone(), entry);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, size: u64) -> Arc<ObjectMeta> {
        Arc::new(ObjectMeta {
            key: key.to_owned(),
            size,
            etag: "0".repeat(32),
            last_modified_ns: 0,
            attrs: Default::default(),
            checksum: None,
            parts: Vec::new(),
            part_number: None,
            upload_id: None,
        })
    }

    #[test]
    fn a_store_after_a_change_is_refused() {
        let budget = CacheBudget::new(1 << 20);
        let mut c = ReadCache::default();
        let Lookup::Miss { epoch } = c.lookup("a") else {
            panic!("empty cache hit")
        };
        // A PUT of any key in the bucket between the reader's look-up and its store.
        c.invalidate(&budget, "b");
        c.store(&budget, epoch, &meta("a", 3), b"old");
        assert!(matches!(c.lookup("a"), Lookup::Miss { .. }));
        assert_eq!(budget.used(), 0);
        let Lookup::Miss { epoch } = c.lookup("a") else {
            panic!("hit")
        };
        c.store(&budget, epoch, &meta("a", 3), b"new");
        let Lookup::Hit(hit) = c.lookup("a") else {
            panic!("miss after store")
        };
        assert_eq!(&hit.data[..], b"new");
        c.invalidate(&budget, "a");
        assert!(matches!(c.lookup("a"), Lookup::Miss { .. }));
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn the_budget_bounds_the_entries() {
        let budget = CacheBudget::new(64 * 1024);
        let mut c = ReadCache::default();
        let data = vec![7u8; 4096];
        for i in 0..100 {
            let key = format!("k{i}");
            let Lookup::Miss { epoch } = c.lookup(&key) else {
                panic!("hit")
            };
            c.store(&budget, epoch, &meta(&key, 4096), &data);
            assert!(budget.used() <= 64 * 1024);
        }
        assert!(c.len() >= 10, "kept {}", c.len());
        // Larger than an eighth of the budget: never stored.
        let Lookup::Miss { epoch } = c.lookup("big") else {
            panic!("hit")
        };
        c.store(&budget, epoch, &meta("big", 9000), &vec![0; 9000]);
        assert!(matches!(c.lookup("big"), Lookup::Miss { .. }));
    }

    #[test]
    fn user_metadata_counts_against_the_budget() {
        let plain = Cached {
            meta: meta("k", 1),
            data: Bytes::from_static(b"x"),
        };
        let mut rich = (*meta("k", 1)).clone();
        for i in 0..20 {
            rich.attrs
                .metadata
                .insert(format!("name-{i}"), "v".repeat(100));
        }
        let rich = Cached {
            meta: Arc::new(rich),
            data: Bytes::from_static(b"x"),
        };
        assert!(
            rich.cost() >= plain.cost() + 20 * 106,
            "{} vs {}",
            rich.cost(),
            plain.cost()
        );
    }

    #[test]
    fn a_zero_budget_stores_nothing() {
        let budget = CacheBudget::new(0);
        let mut c = ReadCache::default();
        c.store(&budget, 0, &meta("a", 1), b"x");
        assert_eq!(c.len(), 0);
    }
}
