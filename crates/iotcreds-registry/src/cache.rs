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

/// Most entries per map; a full map is emptied rather than evicted entry by entry.
const MAX_ENTRIES: usize = 200_000;

/// One map of the cache.
pub struct Map<K, V> {
    inner: RwLock<HashMap<K, V>>,
}

impl<K: Eq + Hash, V: Clone> Default for Map<K, V> {
    fn default() -> Self {
        Self {
            inner: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Map<K, V> {
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
            .get(key)
            .cloned()
    }

    fn insert_if(&self, key: K, value: V, epoch: &AtomicU64, seen: u64) {
        let mut map = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if epoch.load(Ordering::Acquire) != seen {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, value);
    }

    fn clear(&self) {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
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
    pub fn insert<K: Eq + Hash, V: Clone>(&self, map: &Map<K, V>, key: K, value: V, seen: u64) {
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
pub fn clear<K: Eq + Hash, V: Clone>(map: &Map<K, V>) {
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
