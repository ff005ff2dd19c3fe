//! A read-through cache of the registry, dropped whole whenever anything changes.
//!
//! The hot paths (the credentials endpoint, every signed request) read certificates, things,
//! attachments, compiled policies, aliases, roles and keys from here. Writes are rare, so
//! invalidation is deliberately simple and obviously correct: any change anywhere (a write
//! through this process, a PostgreSQL notification, a moved generation counter) bumps the
//! epoch and empties every map.
//!
//! **Invariant:** a value read from the store before an invalidation is never inserted after
//! it. Readers note the epoch before loading and insert under the map's write lock only if the
//! epoch has not moved; the invalidator bumps the epoch first and then clears every map under
//! its write lock, so an insert either fails the check or is cleared.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Most bytes one map is charged for (keys, entries, and the allocations behind them); a full
/// map is emptied rather than evicted entry by entry. Keys are client input (access key ids,
/// names, ARNs), and absent rows are cached too, so the bound is in bytes, not entries.
pub const MAX_BYTES_PER_MAP: usize = 16 << 20;

/// What every entry is charged besides its key's text: the map slot (key and value), the
/// allocation headers, and the hash table's spare capacity (an over-estimate).
const ENTRY_OVERHEAD: usize = 64;

/// The heap bytes a key holds.
pub trait Weigh {
    /// Bytes of text the key owns.
    fn weight(&self) -> usize;
}

impl Weigh for String {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weigh for (String, String) {
    fn weight(&self) -> usize {
        self.0.len() + self.1.len()
    }
}

/// One map of the cache.
pub struct Map<K, V> {
    inner: RwLock<Inner<K, V>>,
}

struct Inner<K, V> {
    map: HashMap<K, V>,
    bytes: usize,
}

impl<K: Eq + Hash + Weigh, V: Clone> Default for Map<K, V> {
    fn default() -> Self {
        Self {
            inner: RwLock::new(Inner {
                map: HashMap::new(),
                bytes: 0,
            }),
        }
    }
}

impl<K: Eq + Hash + Weigh, V: Clone> Map<K, V> {
    /// The cached value, if any.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // A poisoned lock only means another thread panicked mid-insert; the map is still a
        // valid cache, so keep using it.
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .get(key)
            .cloned()
    }

    /// What an entry for `key` is charged.
    fn weight(key: &K) -> usize {
        key.weight() + std::mem::size_of::<(K, V)>() + ENTRY_OVERHEAD
    }

    fn insert_if(&self, key: K, value: V, epoch: &AtomicU64, seen: u64) {
        let weight = Self::weight(&key);
        if weight > MAX_BYTES_PER_MAP {
            return;
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if epoch.load(Ordering::Acquire) != seen {
            return;
        }
        if let Some(v) = inner.map.get_mut(&key) {
            // Same key, same charge: replace the value only.
            *v = value;
            return;
        }
        if inner.bytes + weight > MAX_BYTES_PER_MAP {
            inner.map.clear();
            inner.bytes = 0;
        }
        inner.bytes += weight;
        inner.map.insert(key, value);
    }

    /// How many bytes the map is charged for.
    pub fn bytes(&self) -> usize {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).bytes
    }

    fn clear(&self) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.map.clear();
        inner.bytes = 0;
    }
}

/// The epoch counter shared by every map of one cache.
#[derive(Default)]
pub struct Epoch(AtomicU64);

impl Epoch {
    /// The current epoch (read before loading from the store).
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Insert `value` into `map` unless the epoch moved since `seen`.
    pub fn insert<K: Eq + Hash + Weigh, V: Clone>(
        &self,
        map: &Map<K, V>,
        key: K,
        value: V,
        seen: u64,
    ) {
        map.insert_if(key, value, &self.0, seen);
    }

    /// Start an invalidation: bump the epoch. Then clear every map with [`Map`]'s `clear`.
    fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// Implemented by the struct that holds the maps, so one call bumps and clears them all.
pub trait Maps {
    /// The epoch of these maps.
    fn epoch(&self) -> &Epoch;
    /// Clear every map (called after the epoch was bumped).
    fn clear_all(&self);

    /// Drop everything.
    fn invalidate(&self) {
        self.epoch().bump();
        self.clear_all();
    }
}

/// Clear a map (for [`Maps::clear_all`] implementations).
pub fn clear<K: Eq + Hash + Weigh, V: Clone>(map: &Map<K, V>) {
    map.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Two {
        epoch: Epoch,
        a: Map<String, u32>,
    }
    impl Maps for Two {
        fn epoch(&self) -> &Epoch {
            &self.epoch
        }
        fn clear_all(&self) {
            clear(&self.a);
        }
    }

    #[test]
    fn maps_are_bounded_in_bytes() {
        let c = Two::default();
        // Absent-looking entries under made-up 128-character keys, far more than fit.
        let per = Map::<String, u32>::weight(&"k".repeat(128));
        let fit = MAX_BYTES_PER_MAP / per;
        for i in 0..fit + fit / 2 {
            let seen = c.epoch.current();
            c.epoch.insert(&c.a, format!("{i:0>128}"), 1, seen);
            assert!(c.a.bytes() <= MAX_BYTES_PER_MAP);
        }
        assert!(c.a.bytes() > 0);
        // A key larger than the budget is never kept.
        let seen = c.epoch.current();
        c.epoch.insert(&c.a, "x".repeat(MAX_BYTES_PER_MAP), 1, seen);
        assert!(c.a.get("x".repeat(MAX_BYTES_PER_MAP).as_str()).is_none());
        // Replacing a value does not charge twice; clearing resets the charge.
        let c = Two::default();
        for v in 0..3 {
            let seen = c.epoch.current();
            c.epoch.insert(&c.a, "k".into(), v, seen);
        }
        assert_eq!(c.a.bytes(), Map::<String, u32>::weight(&"k".to_owned()));
        c.invalidate();
        assert_eq!(c.a.bytes(), 0);
    }

    #[test]
    fn stale_inserts_are_refused() {
        let c = Two::default();
        let seen = c.epoch.current();
        c.epoch.insert(&c.a, "k".into(), 1, seen);
        assert_eq!(c.a.get("k"), Some(1));
        // A reader loads before an invalidation and inserts after it: refused.
        let seen = c.epoch.current();
        c.invalidate();
        c.epoch.insert(&c.a, "k".into(), 2, seen);
        assert_eq!(c.a.get("k"), None);
        let seen = c.epoch.current();
        c.epoch.insert(&c.a, "k".into(), 3, seen);
        assert_eq!(c.a.get("k"), Some(3));
    }
}
