//! The shape of an access key id, checked before anything is looked up with it.
//!
//! An access key id arrives in every signed request before anything about the caller is known,
//! so its shape is the first thing checked: AWS's model allows 16–128 characters of `[\w]`
//! (`accessKeyIdType`), and the ids this server issues are narrower still: `AKIA…` for
//! long-term keys, `ASIA` + 16 base-32 characters (a sealing key id and 8 random bytes) for
//! temporary ones. Anything else is refused without a look-up, so a made-up id costs a
//! comparison, never a cache entry or a database query.

use iotcreds_types::ids::{LONG_TERM_KEY_PREFIX, TEMPORARY_KEY_PREFIX};

use crate::KeyRing;

/// Fewest characters of an access key id (AWS `accessKeyIdType`).
pub const MIN_ACCESS_KEY_ID_LEN: usize = 16;
/// Most characters of an access key id (AWS `accessKeyIdType`).
pub const MAX_ACCESS_KEY_ID_LEN: usize = 128;

/// Which kind of key a well-formed access key id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKeyKind {
    /// `AKIA…`: the account's root key or an IAM user's key, looked up in the registry.
    LongTerm,
    /// `ASIA…`: a session's key; its secret is derived by the key ring.
    Temporary,
}

/// The kind of `access_key_id` if it has the shape of a key this server issues: 16–128
/// characters of `[A-Za-z0-9_]` starting `AKIA`, or `ASIA` followed by exactly the 16 base-32
/// characters of a temporary key. `None` for anything else.
pub fn access_key_kind(access_key_id: &str) -> Option<AccessKeyKind> {
    let len = access_key_id.len();
    if !(MIN_ACCESS_KEY_ID_LEN..=MAX_ACCESS_KEY_ID_LEN).contains(&len)
        || !access_key_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return None;
    }
    if access_key_id.starts_with(TEMPORARY_KEY_PREFIX) {
        return KeyRing::key_id_of(access_key_id)
            .is_ok()
            .then_some(AccessKeyKind::Temporary);
    }
    access_key_id
        .starts_with(LONG_TERM_KEY_PREFIX)
        .then_some(AccessKeyKind::LongTerm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(
            access_key_kind("AKIAIOSFODNN7EXAMPLE"),
            Some(AccessKeyKind::LongTerm)
        );
        assert_eq!(
            access_key_kind("ASIAAAAQAAAAAAAAAAAA"),
            Some(AccessKeyKind::Temporary)
        );
        for bad in [
            "",
            "AKIA",
            "AKIA12345678901",       // 15 characters
            "AKIDEXAMPLE0123456",    // not ours
            "AKIA-IOSFODNN7EXAMPLE", // not \w
            "AKIAIOSFODNN7EXAMPLÉ",  // not ASCII
            "ASIAIOSFODNN7EXAMPLE1", // 17 after the prefix
            "ASIA0000000000000000",  // 0 and 1 are not base 32
            "asiaAAAQAAAAAAAAAAAA",  // prefixes are upper case
        ] {
            assert_eq!(access_key_kind(bad), None, "{bad}");
        }
        assert_eq!(
            access_key_kind(&format!("AKIA{}", "A".repeat(124))),
            Some(AccessKeyKind::LongTerm)
        );
        assert_eq!(access_key_kind(&format!("AKIA{}", "A".repeat(125))), None);
        assert_eq!(
            access_key_kind(&format!("AKIA{}", "A".repeat(300_000))),
            None
        );
    }
}
