//! Percent-decoding as AWS's endpoints read their URLs and form bodies: the one definition every
//! edge uses (query strings of the Query, REST-JSON and S3 protocols, SigV4's query
//! parameters, path labels), so two edges cannot read the same bytes two ways.
//!
//! A query string or form body is `&`-separated `name=value` pairs; an empty pair is skipped and
//! a pair without `=` has an empty value ([`pairs`]). Each part is then percent-decoded
//! ([`decode`]); whether `+` means a space depends on the protocol ([`Plus`]). Decoding is on
//! bytes, and the result must be UTF-8: a caller that needs text refuses anything else (or, where
//! the decoded text only feeds a condition key, takes it lossily with [`decode_lossy`]).

use std::borrow::Cow;

use percent_encoding::percent_decode;

/// What a `+` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plus {
    /// A space: `application/x-www-form-urlencoded` (the Query protocol's bodies and query
    /// strings, as botocore and the AWS SDKs send them, and S3's query parameters).
    Space,
    /// A `+`: RFC 3986 (SigV4's canonical query, REST-JSON query strings, path segments).
    Literal,
}

/// The `name=value` pairs of a query string or form body, not yet decoded.
pub fn pairs(form: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    form.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        })
}

/// `raw` percent-decoded, or `None` if the result is not UTF-8.
pub fn decode(raw: &[u8], plus: Plus) -> Option<Cow<'_, str>> {
    match decoded_bytes(raw, plus) {
        Cow::Borrowed(b) => std::str::from_utf8(b).ok().map(Cow::Borrowed),
        Cow::Owned(b) => String::from_utf8(b).ok().map(Cow::Owned),
    }
}

/// `raw` percent-decoded, with bytes that are not UTF-8 replaced by U+FFFD.
pub fn decode_lossy(raw: &[u8], plus: Plus) -> String {
    String::from_utf8_lossy(&decoded_bytes(raw, plus)).into_owned()
}

fn decoded_bytes(raw: &[u8], plus: Plus) -> Cow<'_, [u8]> {
    let raw: Cow<'_, [u8]> = if plus == Plus::Space && raw.contains(&b'+') {
        Cow::Owned(
            raw.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    };
    match raw {
        Cow::Borrowed(b) => percent_decode(b).into(),
        Cow::Owned(b) => Cow::Owned(percent_decode(&b).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(form: &str, plus: Plus) -> Vec<(String, String)> {
        pairs(form.as_bytes())
            .map(|(k, v)| {
                (
                    decode(k, plus).unwrap().into_owned(),
                    decode(v, plus).unwrap().into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn pairs_are_split_as_aws_reads_them() {
        assert_eq!(
            all("Action=ListRoles&&MaxItems=2&Marker&a=b=c", Plus::Space),
            [
                ("Action".into(), "ListRoles".into()),
                ("MaxItems".into(), "2".into()),
                ("Marker".into(), String::new()),
                ("a".into(), "b=c".into()),
            ]
        );
        assert!(all("", Plus::Space).is_empty());
    }

    #[test]
    fn plus_is_a_space_only_in_forms() {
        assert_eq!(decode(b"a+b%2Bc%20d", Plus::Space).unwrap(), "a b+c d");
        assert_eq!(decode(b"a+b%2Bc%20d", Plus::Literal).unwrap(), "a+b+c d");
        // Nothing to decode: borrowed, not copied.
        assert!(matches!(
            decode(b"ADCTestThing", Plus::Literal),
            Some(Cow::Borrowed("ADCTestThing"))
        ));
    }

    #[test]
    fn utf8_is_required_or_replaced() {
        assert_eq!(
            decode(b"%E6%97%A5%E6%9C%AC", Plus::Literal).unwrap(),
            "日本"
        );
        assert_eq!(decode(b"%FF", Plus::Literal), None);
        assert_eq!(decode_lossy(b"a%FF+", Plus::Space), "a\u{FFFD} ");
        // A stray `%` is kept as it is, as percent-decoding does everywhere.
        assert_eq!(decode(b"100%", Plus::Literal).unwrap(), "100%");
        assert_eq!(decode(b"%zz", Plus::Literal).unwrap(), "%zz");
    }
}
