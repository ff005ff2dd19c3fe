//! Listing: the sorted index and the prefix / delimiter / marker walk over it.
//!
//! S3 lists keys in the binary order of their UTF-8 bytes, which is Rust's `str` order. The
//! walk seeks in the `BTreeMap` instead of scanning: after returning a common prefix it jumps
//! past every key under it, so a page costs O(page · log n) however many keys a prefix holds.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::ops::Bound;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use s3s::{S3Result, s3_error};

/// An index key: a `String` that can also be looked up by raw bytes (for successor bounds).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct IndexKey(String);

impl IndexKey {
    pub(crate) fn new(s: String) -> Self {
        Self(s)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<[u8]> for IndexKey {
    fn borrow(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// One listing entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry<'a, V> {
    Key(&'a str, &'a V),
    Prefix(String),
}

impl<V> Entry<'_, V> {
    /// The string this entry sorts (and pages) by.
    pub(crate) fn marker(&self) -> &str {
        match self {
            Entry::Key(k, _) => k,
            Entry::Prefix(p) => p,
        }
    }
}

/// The smallest byte string greater than every string starting with `p` (None: no bound).
fn successor(p: &[u8]) -> Option<Vec<u8>> {
    let mut v = p.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xFF {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

/// Walks `map` in order from a start position, grouping keys by `delimiter` after `prefix`.
pub(crate) struct Walk<'a, V> {
    map: &'a BTreeMap<IndexKey, V>,
    prefix: &'a str,
    delimiter: Option<&'a str>,
    /// A common prefix equal to this was returned on an earlier page: skip its group.
    skip_prefix: Option<&'a str>,
    cursor: Option<Bound<Vec<u8>>>,
}

impl<'a, V> Walk<'a, V> {
    /// Starts after `marker` (exclusive) or at `prefix`, whichever is later. A key whose common
    /// prefix equals `marker` is skipped: that group was the last entry of the previous page.
    pub(crate) fn new(
        map: &'a BTreeMap<IndexKey, V>,
        prefix: &'a str,
        delimiter: Option<&'a str>,
        marker: Option<&'a str>,
    ) -> Self {
        let delimiter = delimiter.filter(|d| !d.is_empty());
        let cursor = match marker {
            Some(m) if m >= prefix => Bound::Excluded(m.as_bytes().to_vec()),
            _ => Bound::Included(prefix.as_bytes().to_vec()),
        };
        Self {
            map,
            prefix,
            delimiter,
            skip_prefix: marker,
            cursor: Some(cursor),
        }
    }

    /// Like [`Walk::new`] but starting *at* `key` (inclusive); used by ListMultipartUploads
    /// when an upload-id marker continues inside one key.
    pub(crate) fn starting_at(
        map: &'a BTreeMap<IndexKey, V>,
        prefix: &'a str,
        delimiter: Option<&'a str>,
        key: &'a str,
    ) -> Self {
        let mut w = Self::new(map, prefix, delimiter, Some(key));
        if key >= prefix {
            w.cursor = Some(Bound::Included(key.as_bytes().to_vec()));
        }
        w
    }
}

impl<'a, V> Iterator for Walk<'a, V> {
    type Item = Entry<'a, V>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let cursor = self.cursor.take()?;
            let bound = match &cursor {
                Bound::Included(v) => Bound::Included(v.as_slice()),
                Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
                Bound::Unbounded => Bound::Unbounded,
            };
            let (k, v) = self
                .map
                .range::<[u8], _>((bound, Bound::Unbounded))
                .next()?;
            let key = k.as_str();
            if !key.starts_with(self.prefix) {
                // Keys are sorted and the walk starts at or after `prefix`: nothing more matches.
                return None;
            }
            let rest = &key[self.prefix.len()..];
            if let Some(d) = self.delimiter
                && let Some(i) = rest.find(d)
            {
                let cp = &key[..self.prefix.len() + i + d.len()];
                self.cursor = successor(cp.as_bytes()).map(Bound::Included);
                if self.skip_prefix == Some(cp) {
                    continue;
                }
                return Some(Entry::Prefix(cp.to_owned()));
            }
            self.cursor = Some(Bound::Excluded(key.as_bytes().to_vec()));
            return Some(Entry::Key(key, v));
        }
    }
}

/// One page of a walk: up to `max` entries, and whether more follow.
pub(crate) fn page<'a, V>(walk: Walk<'a, V>, max: usize) -> (Vec<Entry<'a, V>>, bool) {
    if max == 0 {
        return (Vec::new(), false);
    }
    let mut entries: Vec<_> = walk.take(max + 1).collect();
    let truncated = entries.len() > max;
    entries.truncate(max);
    (entries, truncated)
}

/// S3's `encoding-type=url`: form-style percent-encoding of UTF-8 bytes, keeping
/// `A-Z a-z 0-9 - _ . * /`, and space as `+`.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push_str(&format!("{b:02X}"));
            }
        }
    }
    out
}

/// Validates `encoding-type`; returns whether values must be URL-encoded.
pub(crate) fn url_encoding(encoding: Option<&s3s::dto::EncodingType>) -> S3Result<bool> {
    match encoding.map(s3s::dto::EncodingType::as_str) {
        None => Ok(false),
        Some(e) if e.eq_ignore_ascii_case("url") => Ok(true),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "Invalid Encoding Method specified in Request"
        )),
    }
}

/// An opaque continuation token: the marker of the last entry returned.
pub(crate) fn encode_token(marker: &str) -> String {
    URL_SAFE_NO_PAD.encode(marker.as_bytes())
}

pub(crate) fn decode_token(token: &str) -> S3Result<String> {
    let invalid = || {
        s3_error!(
            InvalidArgument,
            "The continuation token provided is incorrect"
        )
    };
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    if raw.is_empty() {
        return Err(invalid());
    }
    String::from_utf8(raw).map_err(|_| invalid())
}

/// `max-keys`/`max-uploads`/`max-parts`: default 1000, capped at 1000, negative rejected.
pub(crate) fn max_items(v: Option<i32>, name: &str) -> S3Result<usize> {
    match v {
        None => Ok(1000),
        Some(n) if n < 0 => Err(s3_error!(
            InvalidArgument,
            "Provided {name} not an integer or within integer range"
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(1000).min(1000)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(keys: &[&str]) -> BTreeMap<IndexKey, ()> {
        keys.iter()
            .map(|k| (IndexKey::new((*k).to_owned()), ()))
            .collect()
    }

    fn names(entries: &[Entry<'_, ()>]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e {
                Entry::Key(k, ()) => (*k).to_owned(),
                Entry::Prefix(p) => format!("P:{p}"),
            })
            .collect()
    }

    #[test]
    fn delimiter_groups_and_skips() {
        let m = map(&["a", "a/b", "a/c/d", "a/c/e", "b", "b/", "c//x"]);
        let all: Vec<_> = Walk::new(&m, "", Some("/"), None).collect();
        assert_eq!(names(&all), ["a", "P:a/", "b", "P:b/", "P:c/"]);
        let under_a: Vec<_> = Walk::new(&m, "a/", Some("/"), None).collect();
        assert_eq!(names(&under_a), ["a/b", "P:a/c/"]);
        // continuing after a common prefix skips its whole group
        let after: Vec<_> = Walk::new(&m, "", Some("/"), Some("a/")).collect();
        assert_eq!(names(&after), ["b", "P:b/", "P:c/"]);
        // multi-character delimiter
        let m2 = map(&["x--y--z", "x--w", "xy"]);
        let d: Vec<_> = Walk::new(&m2, "x--", Some("--"), None).collect();
        assert_eq!(names(&d), ["x--w", "P:x--y--"]);
    }

    #[test]
    fn paging() {
        let m = map(&["a", "b", "c"]);
        let (p, more) = page(Walk::new(&m, "", None, None), 2);
        assert_eq!(
            (names(&p), more),
            (vec!["a".to_owned(), "b".to_owned()], true)
        );
        let (p, more) = page(Walk::new(&m, "", None, Some("b")), 2);
        assert_eq!((names(&p), more), (vec!["c".to_owned()], false));
        assert!(!page(Walk::new(&m, "", None, None), 0).1);
    }

    #[test]
    fn encoding_and_tokens() {
        assert_eq!(url_encode("a b/c(1)~é*"), "a+b/c%281%29%7E%C3%A9*");
        assert_eq!(decode_token(&encode_token("ü/x")).expect("token"), "ü/x");
        assert!(decode_token("!!").is_err());
        assert!(decode_token("").is_err());
        assert_eq!(successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(successor(&[0xFF]), None);
    }

    /// The naive model: every matching key or its common prefix, deduplicated, sorted.
    fn model(
        keys: &std::collections::BTreeSet<String>,
        prefix: &str,
        delim: Option<&str>,
    ) -> Vec<String> {
        let mut out: Vec<String> = keys
            .iter()
            .filter(|k| k.starts_with(prefix))
            .map(
                |k| match delim.and_then(|d| k[prefix.len()..].find(d).map(|i| (i, d))) {
                    Some((i, d)) => format!("P:{}", &k[..prefix.len() + i + d.len()]),
                    None => k.clone(),
                },
            )
            .collect();
        out.sort_by(|a, b| a.trim_start_matches("P:").cmp(b.trim_start_matches("P:")));
        out.dedup();
        out
    }

    proptest::proptest! {
        /// Random puts and deletes, then a paged listing (each page continuing after the
        /// previous page's last entry, as the continuation token does) equals the model.
        #[test]
        fn paged_listing_matches_model(
            ops in proptest::collection::vec((proptest::bool::weighted(0.8), "[ab/é]{0,6}"), 0..60),
            prefix in "[ab/]{0,2}",
            delim in proptest::option::of(proptest::sample::select(vec!["/", "b", "a/", "é"])),
            max in 1usize..5,
        ) {
            let mut keys = std::collections::BTreeSet::new();
            let mut m: BTreeMap<IndexKey, ()> = BTreeMap::new();
            for (put, k) in ops {
                if k.is_empty() { continue; }
                if put {
                    keys.insert(k.clone());
                    m.insert(IndexKey::new(k), ());
                } else {
                    keys.remove(&k);
                    m.remove(&IndexKey::new(k));
                }
            }
            let mut got = Vec::new();
            let mut marker: Option<String> = None;
            for pages in 0.. {
                // a walk that fails to move past its marker would page forever
                proptest::prop_assert!(pages <= keys.len() + 1, "paging does not terminate");
                let (entries, more) = page(Walk::new(&m, &prefix, delim, marker.as_deref()), max);
                proptest::prop_assert!(entries.len() <= max);
                proptest::prop_assert!(!more || entries.len() == max);
                got.extend(names(&entries));
                if !more { break; }
                marker = entries.last().map(|e| e.marker().to_owned());
            }
            proptest::prop_assert_eq!(got, model(&keys, &prefix, delim));
        }
    }
}
