//! The key ring: sealing, opening, access key ids and derived secrets.

use aws_lc_rs::aead::{AES_256_GCM_SIV, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{hkdf, hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::public_random::fill_public;
use crate::{Claims, Secret, TokenError};
use iotcreds_types::ids::{TEMPORARY_KEY_PREFIX, base32, base32_decode};

const TOKEN_VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 2 + NONCE_LEN;
const TAG_LEN: usize = 16;
const HKDF_SALT: &[u8] = b"iotcreds/token/v1";

/// One stored sealing key, as the registry holds it.
#[derive(Clone)]
pub struct KeyMaterial {
    /// 1–65535.
    pub id: u16,
    /// 32 bytes (ignored for a revoked key, whose material is gone).
    pub material: Vec<u8>,
    /// Whether it no longer seals (it still opens).
    pub retired: bool,
    /// Whether it was revoked: it neither seals nor opens, nor derives secrets; the ring only
    /// remembers its id, so that a refusal can say why.
    pub revoked: bool,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("id", &self.id)
            .field("retired", &self.retired)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

struct RingKey {
    id: u16,
    aead: LessSafeKey,
    secrets: hmac::Key,
}

/// Every sealing key in use. Cheap to share (`Arc`), immutable: rotation builds a new ring.
pub struct KeyRing {
    keys: Vec<RingKey>,
    /// Index into `keys` of the key that seals.
    active: Option<usize>,
    /// Ids of revoked keys (not in `keys`).
    revoked: Vec<u16>,
    /// Tokens this ring has opened, by their text (see [`KeyRing::open_cached`]).
    opened: Mutex<Opened>,
}

/// Most bytes [`KeyRing::open_cached`] spends on remembered tokens; when full it starts over
/// (a fleet's active sessions re-enter on their next request). A token of a few session tags
/// costs about 1.5 KiB, so this holds some ten thousand sessions.
const OPENED_MAX_BYTES: usize = 16 << 20;
/// What one remembered token costs besides its text and claims: the map slot, the `Arc` and
/// the allocators' headers (an over-estimate).
const OPENED_ENTRY_OVERHEAD: usize = 256;

/// The opened-token memo and the bytes it holds.
#[derive(Default)]
struct Opened {
    map: HashMap<Box<str>, Arc<Claims>>,
    bytes: usize,
}

impl Opened {
    /// What remembering `token` with its `claims` costs: the text, every string of the claims
    /// with its header, and the entry itself.
    fn weight(token: &str, claims: &Claims) -> usize {
        const STRING: usize = std::mem::size_of::<String>() + 16;
        let text = |s: &str| s.len() + STRING;
        let opt = |s: &Option<String>| s.as_deref().map_or(0, text);
        token.len()
            + std::mem::size_of::<Claims>()
            + [
                &claims.access_key_id,
                &claims.account,
                &claims.role_name,
                &claims.role_id,
                &claims.role_path,
                &claims.session_name,
            ]
            .into_iter()
            .map(|s| text(s))
            .sum::<usize>()
            + [
                &claims.certificate_id,
                &claims.thing_name,
                &claims.thing_type,
                &claims.source_arn,
            ]
            .into_iter()
            .map(opt)
            .sum::<usize>()
            + claims
                .tags
                .iter()
                .map(|(k, v)| text(k) + text(v))
                .sum::<usize>()
            + OPENED_ENTRY_OVERHEAD
    }
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<u16> = self.keys.iter().map(|k| k.id).collect();
        f.debug_struct("KeyRing")
            .field("ids", &ids)
            .field("active", &self.active_id())
            .field("revoked", &self.revoked)
            .finish()
    }
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl KeyRing {
    /// Build a ring. The last unretired, unrevoked key in `keys` (callers pass them oldest
    /// first) seals. Key material must be 32 bytes (except for revoked keys) and ids non-zero
    /// and unique.
    pub fn new(keys: &[KeyMaterial]) -> Result<Self, TokenError> {
        let mut ring = Vec::with_capacity(keys.len());
        let mut active = None;
        let mut revoked = Vec::new();
        for k in keys {
            let taken = |id| ring.iter().any(|r: &RingKey| r.id == id) || revoked.contains(&id);
            if k.id == 0 || taken(k.id) {
                return Err(TokenError::UnknownKey);
            }
            if k.revoked {
                revoked.push(k.id);
                continue;
            }
            if k.material.len() != 32 {
                return Err(TokenError::UnknownKey);
            }
            let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(&k.material);
            let mut aead = [0u8; 32];
            let mut mac = [0u8; 32];
            prk.expand(&[b"seal"], Len(32))
                .and_then(|o| o.fill(&mut aead))
                .map_err(|_| TokenError::UnknownKey)?;
            prk.expand(&[b"secret"], Len(32))
                .and_then(|o| o.fill(&mut mac))
                .map_err(|_| TokenError::UnknownKey)?;
            let unbound =
                UnboundKey::new(&AES_256_GCM_SIV, &aead).map_err(|_| TokenError::UnknownKey)?;
            aead.fill(0);
            let secrets = hmac::Key::new(hmac::HMAC_SHA256, &mac);
            mac.fill(0);
            if !k.retired {
                active = Some(ring.len());
            }
            ring.push(RingKey {
                id: k.id,
                aead: LessSafeKey::new(unbound),
                secrets,
            });
        }
        Ok(KeyRing {
            keys: ring,
            active,
            revoked,
            opened: Mutex::new(Opened::default()),
        })
    }

    /// Generate fresh 32-byte key material.
    pub fn generate_material() -> Vec<u8> {
        let mut m = vec![0u8; 32];
        // The system RNG failing is unrecoverable for a credentials service.
        rand::fill(&mut m).expect("system random number generator failed");
        m
    }

    /// The id of the key that seals, if any.
    pub fn active_id(&self) -> Option<u16> {
        self.active.map(|i| self.keys[i].id)
    }

    /// Ids of every key that opens.
    pub fn ids(&self) -> Vec<u16> {
        self.keys.iter().map(|k| k.id).collect()
    }

    /// Whether the key `id` is in the ring (and opens).
    pub fn contains(&self, id: u16) -> bool {
        self.key(id).is_some()
    }

    /// Whether the key `id` was revoked.
    pub fn is_revoked(&self, id: u16) -> bool {
        self.revoked.contains(&id)
    }

    /// Ids of the revoked keys the ring knows.
    pub fn revoked_ids(&self) -> &[u16] {
        &self.revoked
    }

    /// The revoked key a temporary access key id names, if it names one.
    pub fn revoked_key_of(&self, access_key_id: &str) -> Option<u16> {
        Self::key_id_of(access_key_id)
            .ok()
            .filter(|id| self.is_revoked(*id))
    }

    fn key(&self, id: u16) -> Option<&RingKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// A fresh temporary access key id bound to the active key.
    pub fn new_access_key_id(&self) -> Result<String, TokenError> {
        let id = self.active_id().ok_or(TokenError::NoActiveKey)?;
        let mut b = [0u8; 10];
        b[..2].copy_from_slice(&id.to_be_bytes());
        fill_public(&mut b[2..]).map_err(|_| TokenError::NoActiveKey)?;
        let mut s = String::with_capacity(20);
        s.push_str(TEMPORARY_KEY_PREFIX);
        s.push_str(&base32(&b));
        Ok(s)
    }

    /// The key id written in a temporary access key id.
    pub fn key_id_of(access_key_id: &str) -> Result<u16, TokenError> {
        let rest = access_key_id
            .strip_prefix(TEMPORARY_KEY_PREFIX)
            .ok_or(TokenError::InvalidAccessKeyId)?;
        if rest.len() != 16 {
            return Err(TokenError::InvalidAccessKeyId);
        }
        let bytes = base32_decode(rest).ok_or(TokenError::InvalidAccessKeyId)?;
        match bytes.as_slice() {
            [a, b, ..] if bytes.len() == 10 => Ok(u16::from_be_bytes([*a, *b])),
            _ => Err(TokenError::InvalidAccessKeyId),
        }
    }

    /// The secret access key of a temporary access key id (derived, never stored).
    pub fn secret_for(&self, access_key_id: &str) -> Result<Secret, TokenError> {
        let id = Self::key_id_of(access_key_id)?;
        let key = self.key(id).ok_or(TokenError::InvalidAccessKeyId)?;
        let tag = hmac::sign(&key.secrets, access_key_id.as_bytes());
        Ok(Secret::new(STANDARD.encode(&tag.as_ref()[..30])))
    }

    /// Seal `claims` (whose `access_key_id` must come from [`KeyRing::new_access_key_id`] of
    /// this ring) into a session token.
    pub fn seal(&self, claims: &Claims) -> Result<String, TokenError> {
        let idx = self.active.ok_or(TokenError::NoActiveKey)?;
        let key = &self.keys[idx];
        let mut header = [0u8; HEADER_LEN];
        header[0] = TOKEN_VERSION;
        header[1..3].copy_from_slice(&key.id.to_be_bytes());
        fill_public(&mut header[3..]).map_err(|_| TokenError::NoActiveKey)?;
        let nonce =
            Nonce::try_assume_unique_for_key(&header[3..]).map_err(|_| TokenError::NoActiveKey)?;
        let mut body = claims.encode()?;
        key.aead
            .seal_in_place_append_tag(nonce, Aad::from(&header[..3]), &mut body)
            .map_err(|_| TokenError::NoActiveKey)?;
        let mut raw = Vec::with_capacity(HEADER_LEN + body.len());
        raw.extend_from_slice(&header);
        raw.extend_from_slice(&body);
        Ok(STANDARD.encode(raw))
    }

    /// Open a token: authenticate and decode it, and refuse it if expired at `now_ms`.
    pub fn open(&self, token: &str, now_ms: i64) -> Result<Claims, TokenError> {
        let mut raw = STANDARD
            .decode(token.as_bytes())
            .map_err(|_| TokenError::Invalid)?;
        if raw.len() < HEADER_LEN + TAG_LEN || raw[0] != TOKEN_VERSION {
            return Err(TokenError::Invalid);
        }
        let id = u16::from_be_bytes([raw[1], raw[2]]);
        if self.is_revoked(id) {
            return Err(TokenError::RevokedKey(id));
        }
        let key = self.key(id).ok_or(TokenError::UnknownKey)?;
        let (header, body) = raw.split_at_mut(HEADER_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(&header[3..]).map_err(|_| TokenError::Invalid)?;
        let plain = key
            .aead
            .open_in_place(nonce, Aad::from(&header[..3]), body)
            .map_err(|_| TokenError::Invalid)?;
        let claims = Claims::decode(plain)?;
        if Self::key_id_of(&claims.access_key_id).ok() != Some(id) {
            return Err(TokenError::Invalid);
        }
        if now_ms >= claims.expires_at_ms {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Open a token presented with `access_key_id`, refusing it if it belongs to another key.
    pub fn open_for(
        &self,
        token: &str,
        access_key_id: &str,
        now_ms: i64,
    ) -> Result<Claims, TokenError> {
        let claims = self.open(token, now_ms)?;
        // Both values are public (they travel in the request); no constant-time need.
        if claims.access_key_id != access_key_id {
            return Err(TokenError::AccessKeyMismatch);
        }
        Ok(claims)
    }
}

impl KeyRing {
    /// [`KeyRing::open_for`], remembering what it opened: a token this ring has opened before is
    /// not decoded and decrypted again (the hot path of every S3 request). The same checks
    /// apply on every call: the token must belong to `access_key_id` and not have expired at
    /// `now_ms`. Only tokens that opened are remembered, keyed by their whole text; the memory
    /// lives and dies with this ring, so a key retired by a reload stops opening its tokens.
    pub fn open_cached(
        &self,
        token: &str,
        access_key_id: &str,
        now_ms: i64,
    ) -> Result<Arc<Claims>, TokenError> {
        let hit = self.opened_map().map.get(token).cloned();
        let claims = match hit {
            Some(c) => c,
            None => {
                let c = Arc::new(self.open(token, now_ms)?);
                let weight = Opened::weight(token, &c);
                let mut opened = self.opened_map();
                if opened.bytes.saturating_add(weight) > OPENED_MAX_BYTES {
                    opened.map.clear();
                    opened.bytes = 0;
                }
                if opened.map.insert(token.into(), Arc::clone(&c)).is_none() {
                    opened.bytes += weight;
                }
                c
            }
        };
        // Both values are public (they travel in the request); no constant-time need.
        if claims.access_key_id != access_key_id {
            return Err(TokenError::AccessKeyMismatch);
        }
        if now_ms >= claims.expires_at_ms {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// How many bytes the opened-token memo accounts for (at most 16 MiB).
    pub fn opened_bytes(&self) -> usize {
        self.opened_map().bytes
    }

    fn opened_map(&self) -> std::sync::MutexGuard<'_, Opened> {
        // Inserts and clears only: a panic elsewhere cannot leave the map half-updated.
        self.opened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Expiry of a session issued at `now_ms` for `duration_s` seconds with a certificate valid
/// until `not_after_ms`: `now + duration`, but never later than the certificate's notAfter.
pub fn session_expiry(now_ms: i64, duration_s: i64, not_after_ms: i64) -> i64 {
    now_ms
        .saturating_add(duration_s.saturating_mul(1000))
        .min(not_after_ms)
}
