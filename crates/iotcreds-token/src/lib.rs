//! Temporary credentials and sealed session tokens.
//!
//! A device session is *stateless*: everything a gateway needs to verify a request signed with
//! temporary credentials, and to evaluate policy for it, travels in the session token, sealed
//! with an AEAD under a key that every instance can read from the registry. No database row is
//! written when credentials are issued and none is read when they are used.
//!
//! # The three values
//!
//! - **Access key id**: `ASIA` + 16 base-32 characters encoding 10 bytes: the sealing key id
//!   (2 bytes, big-endian) and 8 random bytes. The key id lets a verifier that sees only the
//!   access key id (S3's `S3Auth` does) derive the secret.
//! - **Secret access key**: 40 characters, `base64(HMAC-SHA256(secret_key(key_id), akid)[..30])`.
//!   Derived, never stored.
//! - **Session token**: `base64(0x01 || key_id:u16 || nonce[12] || AEAD(claims))` with
//!   AES-256-GCM-SIV (nonce-misuse resistant, so random nonces are safe at any volume), the
//!   header as associated data. The claims are a compact binary record ([`claims`]) that starts
//!   with the access key id, so a token only opens together with the access key it was issued
//!   for (callers compare; see [`KeyRing::open_for`]).
//!
//! # Keys and rotation
//!
//! A [`KeyRing`] holds every stored sealing key. Each key's 32-byte material is split with HKDF
//! into an AEAD key and a secret-derivation key. The newest unretired key seals; every key in the
//! ring opens. Rotation adds a key and retires the others; a retired key stays in the ring (and
//! its tokens keep working) until its last token has expired, then the server deletes it, and
//! tokens sealed under it stop opening. A *revoked* key (an emergency: its material may have
//! leaked) stops at once: the ring keeps only its id, refuses its tokens with
//! [`TokenError::RevokedKey`] and derives no secret for its access key ids.
//!
//! # Security
//!
//! - One changed byte anywhere in a token fails authentication ([`TokenError::Invalid`]).
//! - Secrets are compared by the signature check in constant time (the SigV4 crate); this crate
//!   never logs or formats a secret: [`Secret`]'s `Debug` is redacted and it is wiped on drop.
//! - Expiry is checked on open, against the caller's clock.

mod access_key;
pub mod claims;
mod keyring;
pub mod public_random;
mod secret;

pub use access_key::{
    AccessKeyKind, MAX_ACCESS_KEY_ID_LEN, MIN_ACCESS_KEY_ID_LEN, access_key_kind,
};
pub use claims::{Claims, SessionKind};
pub use keyring::{KeyMaterial, KeyRing, session_expiry};
pub use secret::Secret;

/// Longest session a token may carry (12 hours, the IoT and STS maximum), in milliseconds.
pub const MAX_SESSION_MS: i64 = 43_200_000;

/// Why a token or access key id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token we issued: bad encoding, unknown version, failed authentication, or a
    /// malformed record. Deliberately one variant, so a caller cannot tell which.
    #[error("The security token included in the request is invalid.")]
    Invalid,
    /// The token's key is not (or no longer) in the ring.
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// The token's key was revoked (`iotcreds keys revoke`): the id says which.
    #[error("The security token included in the request is invalid.")]
    RevokedKey(u16),
    /// The token has expired.
    #[error("The security token included in the request is expired")]
    Expired,
    /// The token was issued for another access key id.
    #[error("The security token included in the request is invalid.")]
    AccessKeyMismatch,
    /// The access key id is not one of ours (`ASIA` + 16 base-32 characters).
    #[error("The AWS Access Key Id you provided does not exist in our records.")]
    InvalidAccessKeyId,
    /// The ring has no key that may seal.
    #[error("no active sealing key")]
    NoActiveKey,
    /// A claim does not fit the record (a string longer than 65535 bytes, too many tags).
    #[error("claims too large: {0}")]
    ClaimsTooLarge(&'static str),
}
