//! Generated identifiers: account ids, IAM unique ids, access key ids, certificate ids.
//!
//! Randomness is passed in (`fill`), so this module stays pure and testable; callers pass a
//! CSPRNG (`aws_lc_rs::rand::fill`).

/// The base-32 alphabet of AWS key and unique ids (`A–Z2–7`).
pub const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Prefix of an IAM role's unique id.
pub const ROLE_ID_PREFIX: &str = "AROA";
/// Prefix of an IAM user's unique id.
pub const USER_ID_PREFIX: &str = "AIDA";
/// Prefix of a managed policy's unique id.
pub const POLICY_ID_PREFIX: &str = "ANPA";
/// Prefix of a long-term access key id.
pub const LONG_TERM_KEY_PREFIX: &str = "AKIA";
/// Prefix of a temporary (session) access key id.
pub const TEMPORARY_KEY_PREFIX: &str = "ASIA";

/// Encode `bytes` in base 32 (no padding), 5 bits per character, most significant first.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((acc >> bits) & 31) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decode base 32 written by [`base32`]; `None` on a character outside the alphabet.
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = BASE32.iter().position(|&x| x == c)? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// An IAM-style unique id: `prefix` + 17 base-32 characters (21 in all, like `AROA3XFRBF535PLBIFPI4`).
pub fn unique_id(prefix: &str, fill: impl FnOnce(&mut [u8])) -> String {
    let mut b = [0u8; 11];
    fill(&mut b);
    let mut s = String::from(prefix);
    s.push_str(&base32(&b)[..17]);
    s
}

/// A 12-digit account id that does not start with 0.
pub fn account_id(fill: impl FnOnce(&mut [u8])) -> String {
    let mut b = [0u8; 8];
    fill(&mut b);
    let n = u64::from_le_bytes(b) % 900_000_000_000 + 100_000_000_000;
    n.to_string()
}

/// Whether `s` is 12 ASCII digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` looks like a certificate id: 64 hex digits (lower case as iotcreds writes them).
pub fn is_certificate_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_round_trip() {
        for n in 0..40usize {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let s = base32(&bytes);
            assert!(s.bytes().all(|c| BASE32.contains(&c)));
            let back = base32_decode(&s).unwrap();
            assert_eq!(&back[..n], &bytes[..]);
        }
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert!(base32_decode("abc").is_none());
    }

    #[test]
    fn ids_have_aws_shapes() {
        let id = unique_id(ROLE_ID_PREFIX, |b| b.fill(0xA5));
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AROA"));
        let acct = account_id(|b| b.fill(0xff));
        assert!(is_account_id(&acct), "{acct}");
        assert!(!acct.starts_with('0'));
        assert!(is_certificate_id(&"ab".repeat(32)));
        assert!(!is_certificate_id(&"AB".repeat(32)));
    }
}
