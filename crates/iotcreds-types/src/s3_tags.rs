//! S3 object tags: the rules of a tag set and the `x-amz-tagging` header, once for the embedded
//! store, the upstream backend and the policy gate (`s3:RequestObjectTag/<key>`).
//!
//! The rules, from the S3 User Guide ("Categorizing your objects using tags"): at most 10 tags
//! per object; keys of 1 to 128 and values of 0 to 256 Unicode characters, case-sensitive;
//! unique keys; the characters AWS allows in tags everywhere ([`names::TAG_PATTERN`]); keys
//! starting with `aws:` (in any case) are reserved. The header form is a URL query string
//! (`Key1=Value1&Key2=Value2`), UTF-8 then percent-encoded, as the PutObject reference states.
//! The error codes and messages are the ones S3 answers.

use crate::names;
use crate::percent::{self, Plus};

/// At most this many tags per object.
pub const MAX_TAGS: usize = 10;

/// Why a tag set was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagSetError {
    /// More than [`MAX_TAGS`] tags.
    TooMany,
    /// Two tags with one key (in a `Tagging` document).
    DuplicateKey,
    /// A key that is empty, too long or has a character tags may not use.
    BadKey,
    /// A value that is too long or has a character tags may not use.
    BadValue,
    /// A key starting with `aws:`.
    ReservedKey,
    /// An `x-amz-tagging` header that is not a UTF-8 query string of unique keys.
    BadHeader,
}

impl TagSetError {
    /// S3's error code.
    pub fn code(self) -> &'static str {
        match self {
            TagSetError::TooMany => "BadRequest",
            TagSetError::BadHeader => "InvalidArgument",
            _ => "InvalidTag",
        }
    }

    /// S3's message.
    pub fn message(self) -> &'static str {
        match self {
            TagSetError::TooMany => "Object tags cannot be greater than 10",
            TagSetError::DuplicateKey => "Cannot provide multiple Tags with the same key",
            TagSetError::BadKey => "The TagKey you have provided is invalid",
            TagSetError::BadValue => "The TagValue you have provided is invalid",
            TagSetError::ReservedKey => "Your TagKey cannot be prefixed with aws:",
            TagSetError::BadHeader => {
                "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."
            }
        }
    }
}

impl std::fmt::Display for TagSetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for TagSetError {}

/// Check a tag set (key, value pairs in the caller's order).
///
/// # Errors
/// The first rule the set breaks.
pub fn check(tags: &[(String, String)]) -> Result<(), TagSetError> {
    if tags.len() > MAX_TAGS {
        return Err(TagSetError::TooMany);
    }
    for (i, (key, value)) in tags.iter().enumerate() {
        let key_len = key.chars().count();
        if key_len == 0 || key_len > 128 || !names::is_tag_text(key) {
            return Err(TagSetError::BadKey);
        }
        if value.chars().count() > 256 || !names::is_tag_text(value) {
            return Err(TagSetError::BadValue);
        }
        if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
            return Err(TagSetError::ReservedKey);
        }
        if tags[..i].iter().any(|(k, _)| k == key) {
            return Err(TagSetError::DuplicateKey);
        }
    }
    Ok(())
}

/// Parse and check an `x-amz-tagging` header: `Key1=Value1&Key2=Value2`, percent-encoded
/// (`+` is a space, as in the query strings the SDKs write). A key without `=` has an empty
/// value. An empty header is an empty set.
///
/// # Errors
/// [`TagSetError::BadHeader`] for text that does not decode to UTF-8 or repeats a key; the
/// rules of [`check`] otherwise.
pub fn parse_header(header: &str) -> Result<Vec<(String, String)>, TagSetError> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for (k, v) in percent::pairs(header.as_bytes()) {
        let key = percent::decode(k, Plus::Space).ok_or(TagSetError::BadHeader)?;
        let value = percent::decode(v, Plus::Space).ok_or(TagSetError::BadHeader)?;
        if tags.iter().any(|(existing, _)| *existing == key) {
            return Err(TagSetError::BadHeader);
        }
        tags.push((key.into_owned(), value.into_owned()));
    }
    check(&tags)?;
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_header_decodes_as_a_query_string() {
        assert_eq!(
            parse_header("site=tokyo&team=device%20fleet&empty=&bare").unwrap(),
            set(&[
                ("site", "tokyo"),
                ("team", "device fleet"),
                ("empty", ""),
                ("bare", "")
            ])
        );
        assert_eq!(parse_header("a+b=c+d").unwrap(), set(&[("a b", "c d")]));
        assert_eq!(parse_header("").unwrap(), Vec::new());
        assert_eq!(
            parse_header("k=%E6%9D%B1%E4%BA%AC").unwrap(),
            set(&[("k", "東京")])
        );
    }

    #[test]
    fn bad_headers_are_refused_with_s3s_words() {
        assert_eq!(parse_header("a=1&a=2"), Err(TagSetError::BadHeader));
        assert_eq!(parse_header("a=%FF"), Err(TagSetError::BadHeader));
        assert_eq!(parse_header("=v"), Err(TagSetError::BadKey));
        assert_eq!(parse_header("a=%3Cscript%3E"), Err(TagSetError::BadValue));
        assert_eq!(parse_header("aws:x=1"), Err(TagSetError::ReservedKey));
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert_eq!(parse_header(&eleven.join("&")), Err(TagSetError::TooMany));
        assert_eq!(TagSetError::TooMany.code(), "BadRequest");
        assert_eq!(TagSetError::BadHeader.code(), "InvalidArgument");
        assert_eq!(TagSetError::BadKey.code(), "InvalidTag");
    }

    #[test]
    fn the_set_rules() {
        let ten: Vec<(String, String)> = (0..10).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(check(&ten), Ok(()));
        assert_eq!(
            check(&set(&[("a", "1"), ("a", "2")])),
            Err(TagSetError::DuplicateKey)
        );
        // Keys are case-sensitive: "a" and "A" are two tags.
        assert_eq!(check(&set(&[("a", "1"), ("A", "2")])), Ok(()));
        let long_key = "k".repeat(129);
        assert_eq!(check(&set(&[(&long_key, "")])), Err(TagSetError::BadKey));
        assert_eq!(check(&set(&[(&"k".repeat(128), "")])), Ok(()));
        let long_value = "é".repeat(257);
        assert_eq!(
            check(&set(&[("k", &long_value)])),
            Err(TagSetError::BadValue)
        );
        assert_eq!(check(&set(&[("k", &"é".repeat(256))])), Ok(()));
        assert_eq!(check(&set(&[("k", "a\tb")])), Err(TagSetError::BadValue));
        assert_eq!(
            check(&set(&[("AWS:k", "v")])),
            Err(TagSetError::ReservedKey)
        );
        assert_eq!(check(&set(&[("awsk", "v")])), Ok(()));
        assert_eq!(
            check(&set(&[("aws:k", "v")])),
            Err(TagSetError::ReservedKey)
        );
    }

    proptest::proptest! {
        /// Any header text is parsed or refused, never a panic; what parses is a valid set.
        #[test]
        fn any_header_is_parsed_or_refused(header in ".{0,200}") {
            if let Ok(tags) = parse_header(&header) {
                proptest::prop_assert_eq!(check(&tags), Ok(()));
            }
        }

        /// A valid set written as a header (percent-encoded as the SDKs do) reads back as
        /// itself, in order.
        #[test]
        fn a_valid_set_round_trips_through_the_header(
            set in proptest::collection::btree_map("[a-zA-Z0-9 _.:/=+@-]{1,20}", "[a-zA-Z0-9 _.:/=+@-]{0,20}", 0..=10)
        ) {
            let tags: Vec<(String, String)> = set
                .into_iter()
                .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("aws:"))
                .collect();
            let enc = |s: &str| {
                s.bytes()
                    .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
                    .collect::<String>()
            };
            let header: Vec<String> = tags.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
            proptest::prop_assert_eq!(parse_header(&header.join("&")), Ok(tags));
        }
    }
}
