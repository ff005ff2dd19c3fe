//! Canonical request construction: URI, query string, headers, and the string to sign.
//!
//! Everything here writes into a caller-provided `Vec<u8>` so the verifier can reuse one buffer
//! per request; nothing allocates unless a component actually needs re-encoding or sorting.

use std::borrow::Cow;

use aws_lc_rs::digest;

use crate::{ALGORITHM, RequestParts, SigV4Error};

/// How the canonical URI is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// Every AWS service except S3 (here: IoT, IAM, STS). The path as received on the wire is
    /// URI-encoded once more ("each path segment URI-encoded twice" counting the client's own
    /// encoding), after removing `.`/`..` segments and empty segments when `normalize_path`.
    Generic {
        /// Remove `.` and `..` segments and collapse `//`, as AWS services do (`true` for real
        /// traffic; the test suite has cases signed without it).
        normalize_path: bool,
    },
    /// S3: no normalisation; each path segment is percent-decoded and URI-encoded exactly once.
    S3,
}

impl Rules {
    /// `Generic { normalize_path: true }`, what non-S3 AWS services use.
    pub const GENERIC: Self = Self::Generic {
        normalize_path: true,
    };
}

/// Which query parameters are left out of the canonical query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryExclusion {
    /// Header authentication: every parameter is signed.
    None,
    /// Presigned: `X-Amz-Signature` is not part of what it signs.
    Signature,
    /// Presigned, token appended after signing: `X-Amz-Signature` and `X-Amz-Security-Token`.
    SignatureAndToken,
}

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `bytes` URI-encoded the SigV4 way: everything but `A-Za-z0-9-._~` becomes `%XY`
/// (uppercase hex).
pub(crate) fn push_uri_encoded(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.iter().all(|&b| is_unreserved(b)) {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        if is_unreserved(b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[
                b'%',
                HEX_UPPER[usize::from(b >> 4)],
                HEX_UPPER[usize::from(b & 15)],
            ]);
        }
    }
}

/// URI-encodes a string into a new `String` (for building query strings when signing).
pub(crate) fn uri_encode(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len() + 8);
    push_uri_encoded(&mut out, s.as_bytes());
    // Only ASCII is ever written.
    String::from_utf8(out).unwrap_or_default()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Appends the percent-decoding of `s` (`%XY` with valid hex becomes the byte; anything else,
/// including `+`, is kept literally) URI-encoded once.
fn push_decoded_reencoded(out: &mut Vec<u8>, s: &[u8]) {
    let mut rest = s;
    while let Some(pct) = rest.iter().position(|&b| b == b'%') {
        push_uri_encoded(out, &rest[..pct]);
        rest = &rest[pct..];
        if rest.len() > 2
            && let (Some(h), Some(l)) = (hex_val(rest[1]), hex_val(rest[2]))
        {
            push_uri_encoded(out, &[(h << 4) | l]);
            rest = &rest[3..];
        } else {
            out.extend_from_slice(b"%25");
            rest = &rest[1..];
        }
    }
    push_uri_encoded(out, rest);
}

/// Whether `s` is already in canonical form: unreserved bytes and `%XY` escapes (uppercase hex)
/// of bytes that must be escaped.
fn is_canonical_component(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if is_unreserved(b) {
            i += 1;
        } else if b == b'%' && i + 2 < s.len() {
            let (h, l) = (s[i + 1], s[i + 2]);
            let upper = |c: u8| c.is_ascii_digit() || (b'A'..=b'F').contains(&c);
            if !upper(h) || !upper(l) {
                return false;
            }
            let (Some(hv), Some(lv)) = (hex_val(h), hex_val(l)) else {
                return false;
            };
            if is_unreserved((hv << 4) | lv) {
                return false;
            }
            i += 3;
        } else {
            return false;
        }
    }
    true
}

pub(crate) fn canonical_component(s: &[u8]) -> Cow<'_, [u8]> {
    if is_canonical_component(s) {
        Cow::Borrowed(s)
    } else {
        let mut out = Vec::with_capacity(s.len() + 8);
        push_decoded_reencoded(&mut out, s);
        Cow::Owned(out)
    }
}

/// Writes the canonical URI for `path` (raw, as on the wire, without the query).
pub(crate) fn write_canonical_uri(out: &mut Vec<u8>, path: &str, rules: Rules) {
    let path = path.as_bytes();
    if path.is_empty() {
        out.push(b'/');
        return;
    }
    if rules
        == (Rules::Generic {
            normalize_path: true,
        })
        && needs_normalization(path)
    {
        write_normalized(out, path);
        return;
    }
    if path[0] != b'/' {
        out.push(b'/');
    }
    match rules {
        Rules::S3 => {
            let mut first = true;
            for seg in path.split(|&b| b == b'/') {
                if !first {
                    out.push(b'/');
                }
                first = false;
                push_decoded_reencoded(out, seg);
            }
        }
        Rules::Generic { .. } => write_segments_encoded(out, path),
    }
}

fn write_segments_encoded(out: &mut Vec<u8>, path: &[u8]) {
    let mut first = true;
    for seg in path.split(|&b| b == b'/') {
        if !first {
            out.push(b'/');
        }
        first = false;
        push_uri_encoded(out, seg);
    }
}

fn needs_normalization(path: &[u8]) -> bool {
    path.windows(2).any(|w| w == b"//")
        || path.split(|&b| b == b'/').any(|s| s == b"." || s == b"..")
}

/// RFC 3986 dot-segment removal plus collapsing of empty segments; a trailing `/` (or a final
/// `.`/`..` segment) keeps the result ending in `/`.
fn write_normalized(out: &mut Vec<u8>, path: &[u8]) {
    let mut stack: Vec<&[u8]> = Vec::new();
    let mut last: &[u8] = b"";
    for seg in path.split(|&b| b == b'/') {
        last = seg;
        match seg {
            b"" | b"." => {}
            b".." => {
                stack.pop();
            }
            s => stack.push(s),
        }
    }
    let trailing = last.is_empty() || last == b"." || last == b"..";
    out.push(b'/');
    for (i, seg) in stack.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        push_uri_encoded(out, seg);
    }
    if trailing && !stack.is_empty() {
        out.push(b'/');
    }
}

/// One query parameter, key and value in canonical (encoded) form.
type QueryPair<'q> = (Cow<'q, [u8]>, Cow<'q, [u8]>);

/// Writes the canonical query string for `query` (raw, without `?`).
pub(crate) fn write_canonical_query(out: &mut Vec<u8>, query: &str, exclusion: QueryExclusion) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<QueryPair<'_>> = Vec::new();
    for part in query.as_bytes().split(|&b| b == b'&') {
        if part.is_empty() {
            continue;
        }
        let (k, v) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        let key = canonical_component(k);
        let excluded = match exclusion {
            QueryExclusion::None => false,
            QueryExclusion::Signature => &*key == b"X-Amz-Signature",
            QueryExclusion::SignatureAndToken => {
                &*key == b"X-Amz-Signature" || &*key == b"X-Amz-Security-Token"
            }
        };
        if !excluded {
            pairs.push((key, canonical_component(v)));
        }
    }
    pairs.sort_unstable();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(k);
        out.push(b'=');
        out.extend_from_slice(v);
    }
}

/// Appends a header value trimmed, with every run of ASCII whitespace (space, tab, CR, LF,
/// including obsolete line folding) collapsed to one space. Bytes are kept as they are.
pub(crate) fn push_header_value(out: &mut Vec<u8>, value: &[u8]) {
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c);
    // Common case: nothing to trim or collapse (single spaces between words are kept).
    let clean = value.first().is_none_or(|&b| !is_ws(b))
        && value.last().is_none_or(|&b| !is_ws(b))
        && !value
            .windows(2)
            .any(|w| is_ws(w[0]) && (w[0] != b' ' || is_ws(w[1])));
    if clean {
        out.extend_from_slice(value);
        return;
    }
    let mut pending_space = false;
    let mut wrote = false;
    for &b in value {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c) {
            pending_space = wrote;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            wrote = true;
        }
    }
}

/// Writes `name:v1,v2\n` for one signed header (all request headers of that name, in order).
/// Returns `false` when the request has no header of that name.
pub(crate) fn write_canonical_header(
    out: &mut Vec<u8>,
    name: &str,
    headers: &[(&str, &[u8])],
) -> bool {
    let mut found = false;
    for (n, v) in headers {
        if n.eq_ignore_ascii_case(name) {
            if found {
                out.push(b',');
            } else {
                out.extend_from_slice(name.as_bytes());
                out.push(b':');
                found = true;
            }
            push_header_value(out, v);
        }
    }
    if found {
        out.push(b'\n');
    }
    found
}

/// Everything that goes into one canonical request.
pub(crate) struct CanonicalSpec<'a> {
    pub rules: Rules,
    pub exclusion: QueryExclusion,
    /// `a;b;c`, lowercase, as signed.
    pub signed_headers: &'a str,
    pub payload_hash: &'a str,
}

/// Writes the canonical request into `out` (cleared first).
pub(crate) fn write_canonical_request(
    out: &mut Vec<u8>,
    req: &RequestParts<'_>,
    spec: &CanonicalSpec<'_>,
) -> Result<(), SigV4Error> {
    out.clear();
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    write_canonical_uri(out, req.path, spec.rules);
    out.push(b'\n');
    write_canonical_query(out, req.query, spec.exclusion);
    out.push(b'\n');
    for name in spec.signed_headers.split(';') {
        if !write_canonical_header(out, name, req.headers) {
            return Err(SigV4Error::incomplete(
                "A header listed in SignedHeaders is not present in the request.",
            ));
        }
    }
    out.push(b'\n');
    out.extend_from_slice(spec.signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(spec.payload_hash.as_bytes());
    Ok(())
}

/// Lowercase hex of SHA-256, on the stack.
pub(crate) fn sha256_hex(data: &[u8]) -> [u8; 64] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 64];
    // 32 bytes always encode into 64.
    let _ = hex::encode_to_slice(d.as_ref(), &mut out);
    out
}

/// Writes the string to sign for a canonical request into `out` (cleared first).
pub(crate) fn write_string_to_sign(
    out: &mut Vec<u8>,
    amz_date: &str,
    scope: &str,
    canonical_request: &[u8],
) {
    let hash = sha256_hex(canonical_request);
    out.clear();
    out.extend_from_slice(ALGORITHM.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(amz_date.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(scope.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&hash);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(path: &str, rules: Rules) -> String {
        let mut out = Vec::new();
        write_canonical_uri(&mut out, path, rules);
        String::from_utf8(out).expect("ascii")
    }

    fn query(q: &str) -> String {
        let mut out = Vec::new();
        write_canonical_query(&mut out, q, QueryExclusion::None);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn generic_uri_encodes_the_wire_path_again() {
        let g = Rules::GENERIC;
        assert_eq!(
            uri("/documents%20and%20settings/", g),
            "/documents%2520and%2520settings/"
        );
        assert_eq!(uri("/things/my%3Athing", g), "/things/my%253Athing");
        assert_eq!(uri("/example space/", g), "/example%20space/");
        assert_eq!(uri("", g), "/");
        assert_eq!(uri("x", g), "/x");
    }

    #[test]
    fn generic_uri_normalisation() {
        let g = Rules::GENERIC;
        let raw = Rules::Generic {
            normalize_path: false,
        };
        for (input, normalized) in [
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./", "/"),
            ("//", "/"),
            ("/./example", "/example"),
            ("//example//", "/example/"),
            ("/a/b/..", "/a/"),
            ("/a/b/.", "/a/b/"),
            ("/../a", "/a"),
            ("/a/.b/..c", "/a/.b/..c"),
        ] {
            assert_eq!(uri(input, g), normalized, "{input}");
            assert_eq!(uri(input, raw), input, "{input}");
        }
    }

    #[test]
    fn s3_uri_is_encoded_once() {
        assert_eq!(uri("/test$file.text", Rules::S3), "/test%24file.text");
        assert_eq!(uri("/test%24file.text", Rules::S3), "/test%24file.text");
        assert_eq!(uri("/a%2fb/c", Rules::S3), "/a%2Fb/c");
        assert_eq!(uri("//a/../b/./", Rules::S3), "//a/../b/./");
        assert_eq!(uri("/%zz%4", Rules::S3), "/%25zz%254");
        assert_eq!(uri("/%41", Rules::S3), "/A");
    }

    #[test]
    fn query_canonicalisation() {
        assert_eq!(
            query("Param2=value2&Param1=value1"),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(query("c+d"), "c%2Bd=");
        assert_eq!(query("a=b&a=a&A=c"), "A=c&a=a&a=b");
        assert_eq!(query("%e1%88%b4=1&Param=2"), "%E1%88%B4=1&Param=2");
        assert_eq!(query("k=%41%2f"), "k=A%2F");
        assert_eq!(query("&&x&"), "x=");
        assert_eq!(query("sp=a b"), "sp=a%20b");
        assert_eq!(query("pct=%"), "pct=%25");
        assert_eq!(query("pct=%4"), "pct=%254");
    }

    #[test]
    fn canonical_component_detection() {
        assert!(is_canonical_component(b"abc-._~%2F%E1"));
        assert!(!is_canonical_component(b"%2f"));
        assert!(!is_canonical_component(b"%41"));
        assert!(!is_canonical_component(b"%4"));
        assert!(!is_canonical_component(b"%"));
        assert!(!is_canonical_component(b"a+b"));
    }

    #[test]
    fn header_values() {
        let mut out = Vec::new();
        push_header_value(&mut out, b"  a   b \t c\n  d  ");
        assert_eq!(out, b"a b c d");
        out.clear();
        push_header_value(&mut out, b" \xff\xfe ");
        assert_eq!(out, b"\xff\xfe");
        for (input, expected) in [
            (&b"a b"[..], &b"a b"[..]),
            (b"a\tb", b"a b"),
            (b"a  b", b"a b"),
            (b"a \tb", b"a b"),
            (b"ab\t", b"ab"),
            (b"\t", b""),
            (b"", b""),
            (b"x", b"x"),
        ] {
            out.clear();
            push_header_value(&mut out, input);
            assert_eq!(out, expected, "{input:?}");
        }
    }
}
