//! Wire helpers of the rest-json protocol: query strings, JSON bodies, paging parameters and
//! markers, enum and tag inputs, and success responses.

use std::str::FromStr;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use iotcreds_store::{Page, PageRequest, Tag};
use iotcreds_types::ValidationError;
use iotcreds_types::names::check_range;
use iotcreds_types::percent::{self, Plus};
use iotcreds_types::time_fmt;
use serde::Deserialize;
use serde_json::Value;

use super::errors::{invalid, validation};
use crate::ApiError;

/// Largest page size of IoT lists (`PageSize`, `RegistryMaxResults`: 1–250).
pub(super) const MAX_PAGE: i64 = 250;

/// The decoded query string of a request.
#[derive(Debug, Default)]
pub(super) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parse `a=b&c=d` (percent-decoded; `+` is kept, as botocore encodes spaces as `%20`).
    pub(super) fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut pairs = Vec::new();
        for (k, v) in percent::pairs(raw.unwrap_or_default().as_bytes()) {
            let decode = |s: &[u8]| {
                percent::decode(s, Plus::Literal)
                    .map(|c| c.into_owned())
                    .ok_or_else(|| invalid("The query string is not valid UTF-8 after decoding."))
            };
            pairs.push((decode(k)?, decode(v)?));
        }
        Ok(Self { pairs })
    }

    /// The last value of `name`.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`true`/`false`).
    pub(super) fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(validation(ValidationError::new(
                name,
                v,
                "Member must be a boolean (true or false)",
            ))),
        }
    }

    /// An integer parameter.
    pub(super) fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                validation(ValidationError::new(name, v, "Member must be an integer"))
            }),
        }
    }
}

/// Parse a JSON request body; an empty body is `{}`.
pub(super) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| invalid(format!("The request body could not be parsed: {e}")))
}

/// A 200 answer with a JSON body.
pub(super) fn ok(value: Value) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from(serde_json::to_vec(&value).unwrap_or_default()));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A 200 answer of an operation without output: `{}`.
pub(super) fn ok_empty() -> Response<Bytes> {
    ok(Value::Object(serde_json::Map::new()))
}

/// A timestamp as rest-json writes it: epoch seconds with a fraction.
pub(super) fn timestamp(ms: i64) -> Value {
    serde_json::Number::from_f64(time_fmt::epoch_seconds(ms))
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Remove `null` members of a JSON object (optional outputs are omitted, not null).
pub(super) fn compact(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
    }
    value
}

/// A value of a wire enumeration, with AWS's validation message naming `field`.
pub(super) fn parse_enum<T: FromStr<Err = ValidationError>>(
    field: &str,
    value: &str,
) -> Result<T, ApiError> {
    value
        .parse()
        .map_err(|e: ValidationError| validation(ValidationError::new(field, value, e.constraint)))
}

/// A required input member.
pub(super) fn required<T>(field: &str, value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| {
        validation(ValidationError::new(
            field,
            "null",
            "Member must not be null",
        ))
    })
}

/// A string's length must lie in `min..=max` characters.
pub(super) fn check_length(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), ApiError> {
    iotcreds_types::names::check_length(field, value, min, max).map_err(validation)
}

/// A page size parameter (`pageSize`, `maxResults`): 1–250, default 250.
fn page_size(query: &Query, name: &str) -> Result<u32, ApiError> {
    let size = query.int(name)?.unwrap_or(MAX_PAGE);
    check_range(name, size, 1, MAX_PAGE).map_err(validation)?;
    Ok(u32::try_from(size).unwrap_or(1))
}

/// Paging of the `marker`/`pageSize`/`isAscendingOrder` lists. Markers are standard base64
/// on the wire (the model's pattern `[A-Za-z0-9+/]+={0,2}`) and URL-safe base64 in the store.
pub(super) fn marker_page(query: &Query) -> Result<PageRequest, ApiError> {
    let marker = match query.get("marker") {
        None => None,
        Some(m) => Some(marker_from_wire(m)?),
    };
    Ok(PageRequest {
        marker,
        limit: page_size(query, "pageSize")?,
        ascending: query.bool("isAscendingOrder")?.unwrap_or(true),
    })
}

/// Paging of the `nextToken`/`maxResults` lists (the token is passed through).
pub(super) fn token_page(query: &Query) -> Result<PageRequest, ApiError> {
    Ok(PageRequest {
        marker: query.get("nextToken").map(str::to_owned),
        limit: page_size(query, "maxResults")?,
        ascending: true,
    })
}

/// A store marker as the wire writes it (standard base64 alphabet).
pub(super) fn marker_to_wire<T>(page: &Page<T>) -> Value {
    match &page.next_marker {
        None => Value::Null,
        Some(m) => Value::String(m.replace('-', "+").replace('_', "/")),
    }
}

/// A wire marker back to the store's form; the model's pattern and length are checked.
pub(super) fn marker_from_wire(m: &str) -> Result<String, ApiError> {
    const PATTERN: &str = "Member must satisfy regular expression pattern: [A-Za-z0-9+/]+={0,2}";
    check_length("marker", m, 1, 1024)?;
    let body = m.trim_end_matches('=');
    let padding = m.len() - body.len();
    if body.is_empty()
        || padding > 2
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    {
        return Err(validation(ValidationError::new("marker", m, PATTERN)));
    }
    Ok(body.replace('+', "-").replace('/', "_"))
}

/// A `{Key, Value}` tag of the IoT model.
#[derive(Debug, Deserialize)]
pub(super) struct TagInput {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value", default)]
    value: Option<String>,
}

/// Tags one IoT resource can carry (AWS: 50).
pub(super) const MAX_TAGS: usize = 50;

/// Validate IoT tags (at most 50; key 1–128 of letters, digits, spaces and `_.:/=+-@`; value
/// ≤ 256; keys unique) and return them sorted by key.
pub(super) fn check_tags(tags: Option<Vec<TagInput>>) -> Result<Vec<Tag>, ApiError> {
    const KEY_PATTERN: &str =
        "Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$";
    let tags = tags.unwrap_or_default();
    if tags.len() > MAX_TAGS {
        return Err(invalid(format!(
            "A resource can have at most {MAX_TAGS} tags"
        )));
    }
    let mut out: Vec<Tag> = Vec::new();
    for t in tags {
        check_length("tags.member.Key", &t.key, 1, 128)?;
        if !iotcreds_types::names::is_tag_text(&t.key) {
            return Err(validation(ValidationError::new(
                "tags.member.Key",
                &t.key,
                KEY_PATTERN,
            )));
        }
        let value = t.value.unwrap_or_default();
        check_length("tags.member.Value", &value, 0, 256)?;
        if out.iter().any(|o| o.key == t.key) {
            return Err(invalid(format!("Duplicate tag key: {}", t.key)));
        }
        out.push(Tag { key: t.key, value });
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings() {
        let q = Query::parse(Some(
            "endpointType=iot%3ACredentialProvider&a=1&a=2&flag=TRUE&x",
        ))
        .unwrap();
        assert_eq!(q.get("endpointType"), Some("iot:CredentialProvider"));
        assert_eq!(q.get("a"), Some("2"));
        assert_eq!(q.get("x"), Some(""));
        assert_eq!(q.bool("flag").unwrap(), Some(true));
        assert_eq!(q.bool("missing").unwrap(), None);
        assert_eq!(q.int("a").unwrap(), Some(2));
        assert_eq!(q.bool("a").unwrap_err().code, "InvalidRequestException");
        assert!(q.int("endpointType").is_err());
        assert!(Query::parse(Some("a=%FF")).is_err());
        assert_eq!(Query::parse(None).unwrap().get("a"), None);
        // `+` is not a space.
        assert_eq!(Query::parse(Some("k=a+b")).unwrap().get("k"), Some("a+b"));
    }

    #[test]
    fn paging_parameters() {
        let p =
            marker_page(&Query::parse(Some("pageSize=2&isAscendingOrder=false")).unwrap()).unwrap();
        assert_eq!((p.limit, p.ascending, p.marker), (2, false, None));
        let p = marker_page(&Query::default()).unwrap();
        assert_eq!((p.limit, p.ascending), (250, true));
        let e = marker_page(&Query::parse(Some("pageSize=251")).unwrap()).unwrap_err();
        assert!(
            e.message.contains("less than or equal to 250"),
            "{}",
            e.message
        );
        assert!(token_page(&Query::parse(Some("maxResults=0")).unwrap()).is_err());
        let t = token_page(&Query::parse(Some("nextToken=ab-_c&maxResults=5")).unwrap()).unwrap();
        assert_eq!((t.marker.as_deref(), t.limit), (Some("ab-_c"), 5));
    }

    #[test]
    fn markers_round_trip_between_alphabets() {
        let page: Page<()> = Page {
            items: vec![],
            next_marker: Some("a-b_c".into()),
        };
        let wire = marker_to_wire(&page);
        assert_eq!(wire, Value::String("a+b/c".into()));
        assert_eq!(marker_from_wire("a+b/c").unwrap(), "a-b_c");
        assert_eq!(marker_from_wire("YWI=").unwrap(), "YWI");
        assert!(marker_from_wire("a-b").is_err());
        assert!(marker_from_wire("===").is_err());
        assert!(marker_from_wire("ab===").is_err());
        assert!(marker_from_wire(&"a".repeat(1025)).is_err());
        let none: Page<()> = Page {
            items: vec![],
            next_marker: None,
        };
        assert_eq!(marker_to_wire(&none), Value::Null);
    }

    #[test]
    fn bodies_and_responses() {
        #[derive(Deserialize, Debug)]
        #[serde(rename_all = "camelCase")]
        struct In {
            role_arn: Option<String>,
        }
        let v: In = parse_body(b"").unwrap();
        assert!(v.role_arn.is_none());
        let v: In = parse_body(br#"{"roleArn":"x","other":1}"#).unwrap();
        assert_eq!(v.role_arn.as_deref(), Some("x"));
        let e = parse_body::<In>(br#"{"roleArn":5}"#).unwrap_err();
        assert_eq!(e.code, "InvalidRequestException");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(parse_body::<In>(b"{").is_err());

        let resp = ok(serde_json::json!({"a": 1}));
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(&resp.body()[..], br#"{"a":1}"#);
        assert_eq!(&ok_empty().body()[..], b"{}");
        assert_eq!(timestamp(1_570_558_643_221).to_string(), "1570558643.221");
        let c = compact(serde_json::json!({"a": null, "b": 2}));
        assert_eq!(c, serde_json::json!({"b": 2}));
    }

    #[test]
    fn enums_and_tags() {
        let s: iotcreds_types::CertificateStatus = parse_enum("newStatus", "ACTIVE").unwrap();
        assert_eq!(s, iotcreds_types::CertificateStatus::Active);
        let e = parse_enum::<iotcreds_types::CertificateStatus>("newStatus", "ON").unwrap_err();
        assert!(
            e.message
                .starts_with("Value 'ON' at 'newStatus' failed to satisfy constraint")
        );

        let tags: Vec<TagInput> = serde_json::from_str(
            r#"[{"Key":"b","Value":"2"},{"Key":"a b:c","Value":"1"},{"Key":"n"}]"#,
        )
        .unwrap();
        let out = check_tags(Some(tags)).unwrap();
        let keys: Vec<_> = out.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["a b:c", "b", "n"]);
        assert_eq!(out[2].value, "");
        let dup: Vec<TagInput> =
            serde_json::from_str(r#"[{"Key":"a","Value":"1"},{"Key":"a","Value":"2"}]"#).unwrap();
        assert!(check_tags(Some(dup)).is_err());
        let bad: Vec<TagInput> = serde_json::from_str(r#"[{"Key":"a*"}]"#).unwrap();
        assert!(check_tags(Some(bad)).is_err());
        let empty: Vec<TagInput> = serde_json::from_str(r#"[{"Key":""}]"#).unwrap();
        assert!(check_tags(Some(empty)).is_err());
        assert!(check_tags(None).unwrap().is_empty());
    }

    #[test]
    fn required_members() {
        let e = required::<String>("certificatePem", None).unwrap_err();
        assert_eq!(e.code, "InvalidRequestException");
        assert!(e.message.contains("'certificatePem'"));
        assert_eq!(required("x", Some(1)).unwrap(), 1);
    }

    #[test]
    fn lengths() {
        assert!(check_length("f", "abc", 1, 3).is_ok());
        assert!(check_length("f", "", 1, 3).is_err());
        assert!(check_length("f", "abcd", 1, 3).is_err());
    }
}
