//! S3 user metadata values outside US-ASCII on the wire: "Values of such headers are character
//! decoded as per RFC 2047 before storing and encoded as per RFC 2047 to make them mail-safe
//! before returning" (S3 User Guide, "Working with object metadata").
//!
//! s3s does both at the device's edge. What iotcreds itself sends on (the upstream backend's
//! requests to its S3 server) is encoded here, the way SDK users send such values to S3: one or
//! more UTF-8 `B` encoded words of at most 75 characters (RFC 2047 section 2), split at
//! character boundaries, separated by a space (which decoders drop between encoded words).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Bytes of text per encoded word: `=?UTF-8?B?` + base64 of 45 bytes (60) + `?=` is 72.
const WORD_BYTES: usize = 45;

/// `value` as it may travel in a header: as it is when it is printable US-ASCII (tab allowed),
/// else as UTF-8 `B` encoded words.
pub fn encode(value: &str) -> Cow<'_, str> {
    if value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() * 2);
    let mut rest = value;
    while !rest.is_empty() {
        let mut end = rest.len().min(WORD_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str("=?UTF-8?B?");
        STANDARD.encode_string(&rest.as_bytes()[..end], &mut out);
        out.push_str("?=");
        rest = &rest[end..];
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_stays_and_the_rest_becomes_utf8_b_words() {
        assert!(matches!(encode("ADCTestThing\tsite ~"), Cow::Borrowed(_)));
        assert_eq!(encode("café"), "=?UTF-8?B?Y2Fmw6k=?=");
        assert_eq!(encode("日本"), "=?UTF-8?B?5pel5pys?=");
        // A control character is not mail-safe either.
        assert_eq!(encode("a\u{1}"), "=?UTF-8?B?YQE=?=");
    }

    #[test]
    fn long_values_are_split_into_words_of_75_characters_at_most() {
        let value = "日本".repeat(20); // 120 bytes
        let encoded = encode(&value);
        let words: Vec<&str> = encoded.split(' ').collect();
        assert_eq!(words.len(), 3);
        let mut decoded = Vec::new();
        for w in words {
            assert!(w.len() <= 75, "{w}");
            let b64 = w
                .strip_prefix("=?UTF-8?B?")
                .unwrap()
                .strip_suffix("?=")
                .unwrap();
            let part = STANDARD.decode(b64).unwrap();
            // Each word is whole characters.
            assert!(std::str::from_utf8(&part).is_ok());
            decoded.extend(part);
        }
        assert_eq!(String::from_utf8(decoded).unwrap(), value);
    }
}
