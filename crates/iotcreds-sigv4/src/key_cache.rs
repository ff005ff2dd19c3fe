//! Signing keys already derived, so a client that signs many requests a day pays for the four
//! derivation HMACs once a day rather than on every request.
//!
//! A pure memo of [`SigningKey::derive`]: an entry is used only when the access key id, the
//! scope *and* the secret match what it was derived from, so a changed or deleted secret can
//! never verify through the cache (the caller looks the secret up as before; the cache only
//! saves the derivation). Entries hold a SHA-256 digest of the secret, never the secret.
//! Measured on a signed 4 KiB S3 GET: derivation was 10% of the server's CPU time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::{constant_time, digest};

use crate::SigningKey;

/// Derived signing keys by access key id (one scope each; a new scope replaces the entry).
///
/// Bounded in bytes: each entry is charged for its access key id, its scope and the key itself,
/// and a cache that would pass its budget starts over. The ids are client input (a caller
/// checks their shape before looking a secret up, so they are at most 128 characters), hence a
/// byte budget rather than an entry count.
pub struct KeyCache {
    entries: Mutex<Entries>,
    max_bytes: usize,
}

#[derive(Default)]
struct Entries {
    map: HashMap<Box<str>, Entry>,
    bytes: usize,
}

struct Entry {
    secret_digest: digest::Digest,
    key: Arc<SigningKey>,
    /// What this entry is charged.
    weight: usize,
}

/// What an entry costs besides its id and scope: aws-lc's HMAC context (about 500 bytes), the
/// digest, the map slot and allocation headers (an over-estimate).
pub const ENTRY_OVERHEAD: usize = 768;

impl KeyCache {
    /// A cache of at most `max_bytes` (ids, scopes and keys); when full it starts over.
    #[must_use]
    pub fn new(max_bytes: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            max_bytes,
        }
    }

    /// The signing key of `secret_access_key` for `date/region/service`, derived unless the
    /// cache holds it for this access key id and the same secret.
    #[must_use]
    pub fn key(
        &self,
        access_key_id: &str,
        secret_access_key: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> Arc<SigningKey> {
        let secret_digest = digest::digest(&digest::SHA256, secret_access_key.as_bytes());
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(e) = entries.map.get(access_key_id)
                && e.key.is_for(date, region, service)
                && constant_time::verify_slices_are_equal(
                    e.secret_digest.as_ref(),
                    secret_digest.as_ref(),
                )
                .is_ok()
            {
                return Arc::clone(&e.key);
            }
        }
        let key = Arc::new(SigningKey::derive(secret_access_key, date, region, service));
        let weight = access_key_id.len() + key.scope().len() + ENTRY_OVERHEAD;
        if weight > self.max_bytes {
            return key;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = entries.map.remove(access_key_id) {
            entries.bytes -= old.weight;
        }
        if entries.bytes + weight > self.max_bytes {
            entries.map.clear();
            entries.bytes = 0;
        }
        entries.bytes += weight;
        entries.map.insert(
            access_key_id.into(),
            Entry {
                secret_digest,
                key: Arc::clone(&key),
                weight,
            },
        );
        key
    }

    /// How many bytes the cached entries are charged (never more than the budget).
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }

    /// How many keys are cached.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .len()
    }

    /// Whether the cache is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn same(a: &SigningKey, b: &SigningKey) -> bool {
        a.sign(b"probe").as_str() == b.sign(b"probe").as_str() && a.scope() == b.scope()
    }

    #[test]
    fn hits_give_the_derived_key() {
        let cache = KeyCache::new(64 * 1024);
        let a = cache.key("AKIDEXAMPLE", SECRET, "20150830", "us-east-1", "iam");
        let b = cache.key("AKIDEXAMPLE", SECRET, "20150830", "us-east-1", "iam");
        assert!(Arc::ptr_eq(&a, &b), "second call is a hit");
        let derived = SigningKey::derive(SECRET, "20150830", "us-east-1", "iam");
        assert!(same(&a, &derived));
    }

    #[test]
    fn another_secret_or_scope_is_derived_afresh() {
        let cache = KeyCache::new(64 * 1024);
        let a = cache.key("AKIDEXAMPLE", SECRET, "20150830", "us-east-1", "iam");
        let other = cache.key(
            "AKIDEXAMPLE",
            "another secret",
            "20150830",
            "us-east-1",
            "iam",
        );
        assert!(!Arc::ptr_eq(&a, &other));
        assert!(same(
            &other,
            &SigningKey::derive("another secret", "20150830", "us-east-1", "iam")
        ));
        for (date, region, service) in [
            ("20150831", "us-east-1", "iam"),
            ("20150830", "ap-northeast-1", "iam"),
            ("20150830", "us-east-1", "s3"),
        ] {
            let k = cache.key("AKIDEXAMPLE", SECRET, date, region, service);
            assert!(same(&k, &SigningKey::derive(SECRET, date, region, service)));
        }
    }

    #[test]
    fn bounded_in_bytes() {
        let budget = 4 * (ENTRY_OVERHEAD + 64);
        let cache = KeyCache::new(budget);
        for i in 0..10 {
            let _ = cache.key(&format!("AKID{i}"), SECRET, "20150830", "us-east-1", "s3");
            assert!(cache.bytes() <= budget);
            assert!(cache.len() <= 4);
        }
        assert!(!cache.is_empty());
        // Long ids cost more: fewer fit.
        for i in 0..10 {
            let id = format!("AKIA{i}{}", "X".repeat(120));
            let _ = cache.key(&id, SECRET, "20150830", "us-east-1", "s3");
            assert!(cache.bytes() <= budget);
            assert!(cache.len() <= 3);
        }
        // An id larger than the whole budget is derived but never kept.
        let huge = "A".repeat(budget);
        let _ = cache.key(&huge, SECRET, "20150830", "us-east-1", "s3");
        assert!(cache.bytes() <= budget);
        // Re-deriving for a new scope replaces the entry without double-charging it.
        let cache = KeyCache::new(budget);
        for date in ["20150830", "20150831", "20150901"] {
            let _ = cache.key("AKIDEXAMPLE", SECRET, date, "us-east-1", "s3");
        }
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.bytes(),
            "AKIDEXAMPLE".len() + "20150901/us-east-1/s3/aws4_request".len() + ENTRY_OVERHEAD
        );
    }
}
