//! Console URLs: path segments and query values percent-encoded, so a name or key with `/`,
//! `?`, `#` or `..` in it stays one segment; and the only redirect targets the console accepts
//! from a client (`next=`): paths on this console.

use std::borrow::Cow;

use iotcreds_types::percent::{self, Plus};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but the RFC 3986 unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One path segment or query value, encoded.
pub fn enc(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// `/base/segment`.
pub fn path(base: &str, segment: &str) -> String {
    format!("{base}/{}", enc(segment))
}

/// `path?k=v&…` with every value encoded; pairs with empty values are left out.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = path.to_owned();
    let mut first = true;
    for (k, v) in pairs {
        if v.is_empty() {
            continue;
        }
        out.push(if first { '?' } else { '&' });
        first = false;
        out.push_str(k);
        out.push('=');
        out.push_str(&enc(v));
    }
    out
}

/// Decode a path segment; `None` if it is not UTF-8.
pub fn dec(s: &str) -> Option<String> {
    percent::decode(s.as_bytes(), Plus::Literal).map(Cow::into_owned)
}

/// The pairs of a query string or form body (`+` is a space), decoded; `None` if any is not
/// UTF-8.
pub fn pairs(q: &str) -> Option<Vec<(String, String)>> {
    let form = |s: &[u8]| percent::decode(s, Plus::Space).map(Cow::into_owned);
    percent::pairs(q.as_bytes())
        .map(|(k, v)| Some((form(k)?, form(v)?)))
        .collect()
}

/// The redirect target for a client-supplied `next`: it must be a path on this console
/// (`/…`, not `//host`, not `/\host`, no scheme, no control characters); anything else is `/`.
pub fn local_redirect(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2048
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && !next.starts_with("/signin")
        && !next.starts_with("/signout");
    if ok { next } else { "/" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_stay_segments() {
        assert_eq!(path("/things", "a/b?c#d"), "/things/a%2Fb%3Fc%23d");
        assert_eq!(path("/b", ".."), "/b/..");
        assert_eq!(enc("key with space/ü"), "key%20with%20space%2F%C3%BC");
        assert_eq!(
            with_query(
                "/activity",
                &[("thing", "T 1"), ("cert", ""), ("alias", "a&b")]
            ),
            "/activity?thing=T%201&alias=a%26b"
        );
        assert_eq!(dec("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(dec("%FF"), None);
        assert_eq!(
            pairs("a=1+2&b=%26&c").unwrap(),
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "&".into()),
                ("c".into(), String::new())
            ]
        );
    }

    #[test]
    fn only_local_redirects() {
        assert_eq!(local_redirect("/things?x=1"), "/things?x=1");
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
            "",
            "things",
            "/a\r\nSet-Cookie: x=y",
            "/signout",
            "/\t/evil.example",
        ] {
            assert_eq!(local_redirect(bad), "/", "{bad:?}");
        }
    }
}
