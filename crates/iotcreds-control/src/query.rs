//! The AWS query protocol shared by IAM and STS: request parameters (a form body or the query
//! string, with `Name.member.N…` lists as botocore's `QuerySerializer` writes them), the
//! `Action`/`Version` check, validation errors in AWS's words, paging, the XML response writer
//! (`<OpResponse><OpResult>…</OpResult><ResponseMetadata>…`, lists as `<member>`), and the
//! RFC 3986 encoding IAM applies to policy documents in its answers.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use iotcreds_types::ValidationError;
use iotcreds_types::percent::{self, Plus};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::{ApiError, xml_escape};

/// Default `MaxItems` of IAM list calls.
pub const DEFAULT_MAX_ITEMS: u32 = 100;

/// The parameters of one call: flat `name → value` pairs, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    map: BTreeMap<String, String>,
}

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "MalformedQueryString", message)
}

/// A `ValidationError` answer (400) with one detail, worded as AWS words it:
/// `1 validation error detected: Value '…' at '…' failed to satisfy constraint: …`.
pub fn validation(detail: impl Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "ValidationError",
        format!("1 validation error detected: {detail}"),
    )
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        validation(e)
    }
}

/// A required parameter that is absent.
pub fn missing(field: &str) -> ApiError {
    validation(format_args!(
        "Value null at '{field}' failed to satisfy constraint: Member must not be null"
    ))
}

/// The `InvalidAction` answer for an unknown (or missing) action or an unknown version.
pub fn invalid_action(action: &str, version: &str) -> ApiError {
    let action: String = action.chars().take(128).collect();
    let version: String = version.chars().take(32).collect();
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "InvalidAction",
        format!("Could not find operation {action} for version {version}"),
    )
}

/// `Action` and `Version` of a call to a service whose API version is `version`: a missing
/// `Version` is `MissingParameter`; a missing action, or a version other than `version`, is
/// `InvalidAction`, as AWS answers (the operation is looked up by action and version).
pub fn action_of<'a>(p: &'a Params, version: &str) -> Result<&'a str, ApiError> {
    let action = p.get("Action").unwrap_or("");
    match p.get("Version") {
        None => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            "The request must contain the parameter Version",
        )),
        Some(v) if v != version => Err(invalid_action(action, v)),
        Some(_) if action.is_empty() => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            "The request must contain the parameter Action",
        )),
        Some(_) => Ok(action),
    }
}

fn decode_component(raw: &[u8]) -> Result<String, ApiError> {
    percent::decode(raw, Plus::Space)
        .map(Cow::into_owned)
        .ok_or_else(|| malformed("The query string is not valid percent-encoded UTF-8."))
}

impl Params {
    /// The parameters of a request: the query string (without SigV4 `X-Amz-*` parameters)
    /// and, when there is one, the `application/x-www-form-urlencoded` body. A parameter given
    /// twice is refused rather than guessed at.
    pub fn from_request(parts: &http::request::Parts, body: &[u8]) -> Result<Self, ApiError> {
        let mut params = Params::default();
        if let Some(q) = parts.uri.query() {
            params.add_form(q.as_bytes(), true)?;
        }
        if !body.is_empty() {
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap_or(""));
            if content_type.is_some_and(|ct| {
                !ct.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            }) {
                return Err(malformed(
                    "The request body must be application/x-www-form-urlencoded.",
                ));
            }
            params.add_form(body, false)?;
        }
        Ok(params)
    }

    /// Parameters from a form-encoded string (tests, and the parts of a request).
    pub fn from_form(form: &str) -> Result<Self, ApiError> {
        let mut params = Params::default();
        params.add_form(form.as_bytes(), false)?;
        Ok(params)
    }

    fn add_form(&mut self, form: &[u8], skip_signature: bool) -> Result<(), ApiError> {
        for (k, v) in percent::pairs(form) {
            let key = decode_component(k)?;
            if skip_signature
                && key
                    .get(..6)
                    .is_some_and(|k| k.eq_ignore_ascii_case("x-amz-"))
            {
                continue;
            }
            let value = decode_component(v)?;
            if self.map.contains_key(&key) {
                let shown: String = key.chars().take(128).collect();
                return Err(malformed(format!(
                    "The parameter {shown} is given more than once."
                )));
            }
            self.map.insert(key, value);
        }
        Ok(())
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// A required parameter (`field` is its wire name in validation messages, `roleName`).
    pub fn required(&self, name: &str, field: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| missing(field))
    }

    /// An optional Boolean (`true`/`false`).
    pub fn bool(&self, name: &str, field: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ValidationError::new(field, v, "Member must be a boolean").into()),
        }
    }

    /// An optional integer.
    pub fn int(&self, name: &str, field: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ValidationError::new(field, v, "Member must be a number").into()),
        }
    }

    /// Whether a list parameter was given at all (`Name=` for an empty list, or members).
    pub fn has_list(&self, name: &str) -> bool {
        self.map.contains_key(name) || !self.members_raw(name).is_empty()
    }

    fn members_raw(&self, name: &str) -> Vec<(&str, &str)> {
        let prefix = format!("{name}.member.");
        self.map
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (&k[prefix.len()..], v.as_str()))
            .collect()
    }

    /// The members of the list `name` (`Name.member.1…`), in index order, each as the
    /// parameters under it: a scalar member has the single key `""`; a structure member has
    /// its fields (`Key`, `Value`, `ContextKeyValues.member.1`, …).
    pub fn members(&self, name: &str) -> Result<Vec<Params>, ApiError> {
        let mut out: BTreeMap<u32, Params> = BTreeMap::new();
        for (rest, value) in self.members_raw(name) {
            let (index, sub) = rest.split_once('.').unwrap_or((rest, ""));
            let n = index
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1 && !index.starts_with('0'))
                .ok_or_else(|| {
                    let shown: String = name.chars().take(128).collect();
                    malformed(format!("Invalid list index in parameter {shown}."))
                })?;
            out.entry(n)
                .or_default()
                .map
                .insert(sub.to_owned(), value.to_owned());
        }
        Ok(out.into_values().collect())
    }

    /// A list of strings (`Name.member.N=value`).
    pub fn strings(&self, name: &str) -> Result<Vec<String>, ApiError> {
        self.members(name)?
            .into_iter()
            .map(|m| match (m.map.len(), m.get("")) {
                (1, Some(v)) => Ok(v.to_owned()),
                _ => Err(malformed(format!(
                    "The list {} must hold strings.",
                    name.chars().take(128).collect::<String>()
                ))),
            })
            .collect()
    }

    /// Tags (`Name.member.N.Key`, `.Value`), validated as IAM and STS validate them: at most
    /// `max`, key 1–128 and value 0–256 characters of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, no key
    /// twice (keys compared regardless of case).
    pub fn tags(&self, name: &str, max: usize) -> Result<Vec<(String, String)>, ApiError> {
        let members = self.members(name)?;
        if members.len() > max {
            return Err(validation(format_args!(
                "Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {max}"
            )));
        }
        let mut tags: Vec<(String, String)> = Vec::with_capacity(members.len());
        for (i, m) in members.iter().enumerate() {
            let n = i + 1;
            let key = m.required("Key", &format!("tags.{n}.member.key"))?;
            let value = m.required("Value", &format!("tags.{n}.member.value"))?;
            check_tag_text(&format!("tags.{n}.member.key"), key, 1, 128)?;
            check_tag_text(&format!("tags.{n}.member.value"), value, 0, 256)?;
            if tags
                .iter()
                .any(|(k, _)| k.to_lowercase() == key.to_lowercase())
            {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidInput",
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
                ));
            }
            tags.push((key.to_owned(), value.to_owned()));
        }
        Ok(tags)
    }
}

/// A model length constraint: `value` (the content of `field`) has `min..=max` characters.
pub fn check_length(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    Ok(iotcreds_types::names::check_length(field, value, min, max)?)
}

/// Check a tag key or value against IAM's `tagKeyType`/`tagValueType`
/// ([`iotcreds_types::names::check_tag_text`]).
pub fn check_tag_text(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    Ok(iotcreds_types::names::check_tag_text(
        field, value, min, max,
    )?)
}

/// `Marker` and `MaxItems` of a list call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    /// The marker of the previous answer.
    pub marker: Option<String>,
    /// Page size, 1..=1000 (default 100).
    pub max_items: u32,
}

impl Paging {
    /// Read and validate `Marker` (1–320 characters of U+0020–U+00FF) and `MaxItems`.
    pub fn from_params(p: &Params) -> Result<Self, ApiError> {
        let marker = match p.get("Marker") {
            None => None,
            Some(m) => {
                check_length("marker", m, 1, 320)?;
                if !m.chars().all(|c| ('\u{20}'..='\u{ff}').contains(&c)) {
                    return Err(ValidationError::new(
                        "marker",
                        m,
                        "Member must satisfy regular expression pattern: [\\u0020-\\u00FF]+",
                    )
                    .into());
                }
                Some(m.to_owned())
            }
        };
        let max_items = match p.int("MaxItems", "maxItems")? {
            None => DEFAULT_MAX_ITEMS,
            Some(n) => {
                iotcreds_types::names::check_range("maxItems", n, 1, 1000)?;
                // In range 1..=1000, so it fits.
                n as u32
            }
        };
        Ok(Self { marker, max_items })
    }

    /// The store's page request for this paging.
    pub fn page_request(&self) -> iotcreds_store::PageRequest {
        iotcreds_store::PageRequest {
            marker: self.marker.clone(),
            limit: self.max_items,
            ascending: true,
        }
    }

    /// A page of an in-memory list (the marker is the offset of the next item), and the
    /// marker of the next page if any.
    pub fn slice<'a, T>(&self, items: &'a [T]) -> Result<(&'a [T], Option<String>), ApiError> {
        let start = match &self.marker {
            None => 0,
            Some(m) => m
                .parse::<usize>()
                .ok()
                .filter(|&n| n <= items.len())
                .ok_or_else(invalid_marker)?,
        };
        let end = start
            .saturating_add(self.max_items as usize)
            .min(items.len());
        let next = (end < items.len()).then(|| end.to_string());
        Ok((&items[start..end], next))
    }
}

/// The answer to a marker that was not issued by this service.
pub fn invalid_marker() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "InvalidInput",
        "Invalid Marker: pass the Marker of the previous response unchanged.",
    )
}

/// Writes the XML of a result. Element names come from the service model; text is escaped.
#[derive(Debug, Default)]
pub struct Xml {
    buf: String,
}

impl Xml {
    /// An empty document fragment.
    pub fn new() -> Self {
        Self::default()
    }

    /// `<tag>text</tag>`.
    pub fn text(&mut self, tag: &str, value: &str) -> &mut Self {
        let _ = write!(self.buf, "<{tag}>{}</{tag}>", xml_escape(value));
        self
    }

    /// `<tag>text</tag>` when there is a value.
    pub fn opt(&mut self, tag: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.text(tag, v);
        }
        self
    }

    /// An integer element.
    pub fn int(&mut self, tag: &str, value: i64) -> &mut Self {
        let _ = write!(self.buf, "<{tag}>{value}</{tag}>");
        self
    }

    /// A Boolean element (`true`/`false`).
    pub fn bool(&mut self, tag: &str, value: bool) -> &mut Self {
        let _ = write!(self.buf, "<{tag}>{value}</{tag}>");
        self
    }

    /// A timestamp element, ISO 8601 with milliseconds (`2018-01-18T09:18:06.123Z`).
    pub fn time(&mut self, tag: &str, ms: i64) -> &mut Self {
        let _ = write!(
            self.buf,
            "<{tag}>{}</{tag}>",
            iotcreds_types::time_fmt::iso8601_millis(ms)
        );
        self
    }

    /// A policy document, RFC 3986-encoded as IAM sends documents.
    pub fn document(&mut self, tag: &str, document: &str) -> &mut Self {
        self.text(tag, &encode_document(document))
    }

    /// A structure element: `<tag>` + what `f` writes + `</tag>`.
    pub fn node(&mut self, tag: &str, f: impl FnOnce(&mut Xml)) -> &mut Self {
        let _ = write!(self.buf, "<{tag}>");
        f(self);
        let _ = write!(self.buf, "</{tag}>");
        self
    }

    /// A list element: `<tag><member>…</member>…</tag>`, each member written by `f`.
    pub fn list<I: IntoIterator>(
        &mut self,
        tag: &str,
        items: I,
        mut f: impl FnMut(&mut Xml, I::Item),
    ) -> &mut Self {
        let _ = write!(self.buf, "<{tag}>");
        for item in items {
            self.buf.push_str("<member>");
            f(self, item);
            self.buf.push_str("</member>");
        }
        let _ = write!(self.buf, "</{tag}>");
        self
    }

    /// A list of strings.
    pub fn strings<S: AsRef<str>>(
        &mut self,
        tag: &str,
        items: impl IntoIterator<Item = S>,
    ) -> &mut Self {
        self.list(tag, items, |x, s| {
            x.buf.push_str(&xml_escape(s.as_ref()));
        })
    }

    /// Tags as `<tag><member><Key/><Value/></member>…</tag>`.
    pub fn tags<'a>(
        &mut self,
        tag: &str,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> &mut Self {
        self.list(tag, tags, |x, (k, v)| {
            x.text("Key", k).text("Value", v);
        })
    }

    /// `IsTruncated`, and `Marker` when there is a next page.
    pub fn truncation(&mut self, next_marker: Option<&str>) -> &mut Self {
        self.bool("IsTruncated", next_marker.is_some())
            .opt("Marker", next_marker)
    }

    /// The XML written so far.
    pub fn finish(self) -> String {
        self.buf
    }
}

/// The characters RFC 3986 leaves unencoded: `A–Z a–z 0–9 - . _ ~`.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A policy document as IAM returns it: every byte but the RFC 3986 unreserved characters
/// percent-encoded (botocore decodes it with `unquote` and parses the JSON).
pub fn encode_document(document: &str) -> String {
    utf8_percent_encode(document, RFC3986).to_string()
}

/// A successful answer: `<ActionResponse xmlns=…>`, `<ActionResult>` holding `result` when the
/// operation has an output, and `<ResponseMetadata><RequestId>`.
pub fn response(
    action: &str,
    xmlns: &str,
    request_id: &str,
    result: Option<String>,
) -> Response<Bytes> {
    let mut body = format!("<{action}Response xmlns=\"{xmlns}\">\n");
    if let Some(result) = result {
        let _ = writeln!(body, "  <{action}Result>{result}</{action}Result>");
    }
    let _ = write!(
        body,
        "  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n",
        xml_escape(request_id)
    );
    let mut resp = Response::new(Bytes::from(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, content_type: Option<&str>) -> http::request::Parts {
        let mut b = http::Request::post(uri);
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn form_body_is_decoded_like_botocore_encodes_it() {
        let body = "Action=CreateRole&Version=2010-05-08&RoleName=ADCTestRole\
                    &AssumeRolePolicyDocument=%7B%22Version%22%3A+%222012-10-17%22%7D\
                    &Tags.member.1.Key=team&Tags.member.1.Value=a+b&Tags.member.2.Key=x&Tags.member.2.Value=";
        let p = Params::from_request(
            &parts(
                "/",
                Some("application/x-www-form-urlencoded; charset=utf-8"),
            ),
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(p.get("Action"), Some("CreateRole"));
        assert_eq!(
            p.get("AssumeRolePolicyDocument"),
            Some("{\"Version\": \"2012-10-17\"}")
        );
        assert_eq!(action_of(&p, "2010-05-08").unwrap(), "CreateRole");
        let tags = p.tags("Tags", 50).unwrap();
        assert_eq!(
            tags,
            vec![("team".into(), "a b".into()), ("x".into(), String::new())]
        );
    }

    #[test]
    fn query_string_params_skip_signature_params() {
        let p = Params::from_request(
            &parts(
                "/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Signature=abc",
                None,
            ),
            b"",
        )
        .unwrap();
        assert_eq!(p.get("Action"), Some("GetCallerIdentity"));
        assert_eq!(p.get("X-Amz-Signature"), None);
    }

    #[test]
    fn multibyte_keys_do_not_panic() {
        let uri = "/?X-Am%E2%82%AC=1&%E2%82%AC%E2%82%AC%E2%82%AC=2";
        let p = Params::from_request(&parts(uri, None), b"").unwrap();
        assert_eq!(p.get("X-Am€"), Some("1"));
        assert_eq!(p.get("€€€"), Some("2"));
    }

    #[test]
    fn control_characters_never_reach_the_xml() {
        let mut x = Xml::new();
        x.text("A", "a\u{1}b\tc");
        assert_eq!(x.finish(), "<A>a\u{fffd}b\tc</A>");
        let p = Params::from_form("T.member.1.Key=a%0Bb&T.member.1.Value=v").unwrap();
        assert_eq!(p.tags("T", 50).unwrap_err().code, "ValidationError");
        let err = ApiError::new(StatusCode::BAD_REQUEST, "ValidationError", "Value 'x\u{1}'");
        let resp = crate::render_query_error(&err, "rid", "ns");
        let body = std::str::from_utf8(resp.body()).unwrap();
        assert!(body.contains("Value &apos;x\u{fffd}&apos;"), "{body}");
        assert!(!body.contains('\u{1}'));
    }

    #[test]
    fn duplicates_bad_encoding_and_other_bodies_are_refused() {
        let e = Params::from_form("A=1&A=2").unwrap_err();
        assert_eq!(e.code, "MalformedQueryString");
        assert!(Params::from_form("A=%FF").is_err());
        let e = Params::from_request(&parts("/", Some("application/json")), b"{}").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn lists_are_ordered_by_index_and_nest() {
        let p = Params::from_form(
            "ActionNames.member.10=s3:J&ActionNames.member.2=s3:B&ActionNames.member.1=s3:A\
             &ContextEntries.member.1.ContextKeyName=aws:username\
             &ContextEntries.member.1.ContextKeyValues.member.2=bob\
             &ContextEntries.member.1.ContextKeyValues.member.1=alice\
             &ContextEntries.member.1.ContextKeyType=stringList&Empty=",
        )
        .unwrap();
        assert_eq!(p.strings("ActionNames").unwrap(), ["s3:A", "s3:B", "s3:J"]);
        let entries = p.members("ContextEntries").unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].get("ContextKeyType"), Some("stringList"));
        assert_eq!(
            entries[0].strings("ContextKeyValues").unwrap(),
            ["alice", "bob"]
        );
        assert!(p.has_list("Empty"));
        assert!(p.strings("Empty").unwrap().is_empty());
        assert!(!p.has_list("Missing"));
        let bad = Params::from_form("L.member.0=x").unwrap();
        assert!(bad.members("L").is_err());
        let bad = Params::from_form("L.member.01=x").unwrap();
        assert!(bad.members("L").is_err());
    }

    #[test]
    fn version_and_action_errors() {
        let p = Params::from_form("Action=GetUser&Version=2011-01-01").unwrap();
        let e = action_of(&p, "2010-05-08").unwrap_err();
        assert_eq!(e.code, "InvalidAction");
        assert_eq!(
            e.message,
            "Could not find operation GetUser for version 2011-01-01"
        );
        let p = Params::from_form("Action=GetUser").unwrap();
        assert_eq!(
            action_of(&p, "2010-05-08").unwrap_err().code,
            "MissingParameter"
        );
        let p = Params::from_form("Version=2010-05-08").unwrap();
        let e = action_of(&p, "2010-05-08").unwrap_err();
        assert_eq!(e.code, "InvalidAction");
        assert_eq!(e.message, "The request must contain the parameter Action");
    }

    #[test]
    fn scalar_validation_messages() {
        let p = Params::from_form("B=yes&N=x").unwrap();
        let e = p.bool("B", "onlyAttached").unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert!(
            e.message
                .starts_with("1 validation error detected: Value 'yes' at 'onlyAttached'")
        );
        assert!(p.int("N", "maxItems").is_err());
        let e = p.required("RoleName", "roleName").unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn tags_are_validated() {
        let p = Params::from_form("T.member.1.Key=a!&T.member.1.Value=v").unwrap();
        let e = p.tags("T", 50).unwrap_err();
        assert!(e.message.contains("'tags.1.member.key'"), "{}", e.message);
        let p = Params::from_form(
            "T.member.1.Key=Env&T.member.1.Value=a&T.member.2.Key=env&T.member.2.Value=b",
        )
        .unwrap();
        assert_eq!(p.tags("T", 50).unwrap_err().code, "InvalidInput");
        let p = Params::from_form("T.member.1.Key=k").unwrap();
        assert!(p.tags("T", 50).unwrap_err().message.contains("Value null"));
        let p = Params::from_form(
            "T.member.1.Key=a&T.member.1.Value=b&T.member.2.Key=c&T.member.2.Value=d",
        )
        .unwrap();
        assert!(p.tags("T", 1).is_err());
    }

    #[test]
    fn paging_slices_and_checks_markers() {
        let items: Vec<u32> = (0..5).collect();
        let p = Params::from_form("MaxItems=2").unwrap();
        let paging = Paging::from_params(&p).unwrap();
        let (page, next) = paging.slice(&items).unwrap();
        assert_eq!(page, [0, 1]);
        assert_eq!(next.as_deref(), Some("2"));
        let p = Params::from_form("MaxItems=2&Marker=4").unwrap();
        let (page, next) = Paging::from_params(&p).unwrap().slice(&items).unwrap();
        assert_eq!(page, [4]);
        assert_eq!(next, None);
        let p = Params::from_form("Marker=9").unwrap();
        assert!(Paging::from_params(&p).unwrap().slice(&items).is_err());
        assert!(Paging::from_params(&Params::from_form("MaxItems=0").unwrap()).is_err());
        assert!(Paging::from_params(&Params::from_form("MaxItems=1001").unwrap()).is_err());
        assert_eq!(
            Paging::from_params(&Params::default()).unwrap().max_items,
            DEFAULT_MAX_ITEMS
        );
    }

    #[test]
    fn documents_are_rfc3986_encoded() {
        let doc = "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Resource\": \"arn:aws:s3:::b/*\", \"Sid\": \"a~b_c.d-e\"}]}";
        let enc = encode_document(doc);
        assert_eq!(
            enc,
            "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Resource%22%3A%20%22arn%3Aaws%3As3%3A%3A%3Ab%2F%2A%22%2C%20%22Sid%22%3A%20%22a~b_c.d-e%22%7D%5D%7D"
        );
        let back = percent_encoding::percent_decode_str(&enc)
            .decode_utf8()
            .unwrap();
        assert_eq!(back, doc);
        assert_eq!(encode_document("é"), "%C3%A9");
    }

    #[test]
    fn xml_shapes_and_escaping() {
        let mut x = Xml::new();
        x.node("Role", |x| {
            x.text("RoleName", "a<b&c")
                .int("MaxSessionDuration", 3600)
                .tags("Tags", [("k", "v\"")]);
        })
        .strings("PolicyNames", ["p1", "p&2"])
        .truncation(Some("m"));
        assert_eq!(
            x.finish(),
            "<Role><RoleName>a&lt;b&amp;c</RoleName><MaxSessionDuration>3600</MaxSessionDuration>\
             <Tags><member><Key>k</Key><Value>v&quot;</Value></member></Tags></Role>\
             <PolicyNames><member>p1</member><member>p&amp;2</member></PolicyNames>\
             <IsTruncated>true</IsTruncated><Marker>m</Marker>"
        );
        let resp = response(
            "GetRole",
            "https://iam.amazonaws.com/doc/2010-05-08/",
            "rid<",
            Some("<X/>".into()),
        );
        let body = std::str::from_utf8(resp.body()).unwrap();
        assert!(
            body.starts_with(
                "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
            )
        );
        assert!(body.contains("<GetRoleResult><X/></GetRoleResult>"));
        assert!(body.contains("<RequestId>rid&lt;</RequestId>"));
        let resp = response("DeleteRole", "ns", "rid", None);
        let body = std::str::from_utf8(resp.body()).unwrap();
        assert!(!body.contains("DeleteRoleResult"));
        assert_eq!(resp.headers()["content-type"], "text/xml");
    }
}
