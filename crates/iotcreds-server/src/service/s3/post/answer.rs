//! The answers of a form upload: S3's XML errors (with their extra elements) and the success
//! forms `success_action_redirect` / `success_action_status` select.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use iotcreds_control::xml_escape;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// An S3 error for a form upload: status, code, message and the extra elements S3 adds.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub extra: Vec<(&'static str, String)>,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            extra: Vec::new(),
        }
    }

    pub fn with(mut self, element: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((element, value.into()));
        self
    }

    pub fn denied() -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied")
    }

    pub fn malformed() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MalformedPOSTRequest",
            "The body of your POST request is not well-formed multipart/form-data.",
        )
    }

    /// `InvalidArgument` naming a form field.
    pub fn argument(name: &str, value: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
            .with("ArgumentName", name)
            .with("ArgumentValue", value)
    }

    /// An error from s3s or the backend.
    pub fn from_s3(e: &s3s::S3Error) -> Self {
        Self::new(
            e.status_code().unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            e.code().as_str(),
            e.message().unwrap_or_default(),
        )
    }

    pub fn into_response(self) -> Response<s3s::Body> {
        let mut body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>",
            xml_escape(&self.code),
            xml_escape(&self.message)
        );
        for (element, value) in &self.extra {
            body.push_str(&format!("<{element}>{}</{element}>", xml_escape(value)));
        }
        // The request ids follow, added with every S3 answer's (`request_id::RequestId::stamp`).
        body.push_str("</Error>");
        let mut resp = Response::new(s3s::Body::from(Bytes::from(body)));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        resp
    }
}

/// Form encoding of a query value (`/` as `%2F`, space as `+`), as S3 writes the redirect.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b' ');

fn form_encode(s: &str) -> String {
    utf8_percent_encode(s, FORM).to_string().replace(' ', "+")
}

/// Everything but RFC 3986's unreserved characters.
const KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A key in an object URL: every reserved character encoded, `/` included (as S3's `Location`).
fn url_key(s: &str) -> String {
    utf8_percent_encode(s, KEY).to_string()
}

/// What the upload stored, for the answer.
pub struct Stored<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    /// The ETag with its quotes.
    pub etag: &'a str,
    /// `scheme://host` and, for path-style requests, `/bucket`: the object URL's prefix.
    pub base_url: String,
    /// Headers of the backend's answer (checksums) to pass on.
    pub headers: Vec<(&'static str, String)>,
}

/// The success answer: a 303 to `redirect` (when it is an absolute http(s) URL S3 can use), or
/// an empty 200/204, or the 201 XML document.
pub fn success(
    stored: &Stored<'_>,
    redirect: Option<&str>,
    status: Option<&str>,
) -> Response<s3s::Body> {
    let location = format!("{}/{}", stored.base_url, url_key(stored.key));
    if let Some(target) = redirect.and_then(|r| redirect_to(r, stored)) {
        let mut resp = Response::new(s3s::Body::empty());
        *resp.status_mut() = StatusCode::SEE_OTHER;
        resp.headers_mut().insert(header::LOCATION, target);
        return finish(resp, stored, &location);
    }
    let resp = match status {
        Some("200") => {
            let mut r = Response::new(s3s::Body::empty());
            *r.status_mut() = StatusCode::OK;
            r
        }
        Some("201") => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                xml_escape(&location),
                xml_escape(stored.bucket),
                xml_escape(stored.key),
                xml_escape(stored.etag)
            );
            let mut r = Response::new(s3s::Body::from(Bytes::from(body)));
            *r.status_mut() = StatusCode::CREATED;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            r
        }
        _ => {
            let mut r = Response::new(s3s::Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
    };
    finish(resp, stored, &location)
}

fn finish(
    mut resp: Response<s3s::Body>,
    stored: &Stored<'_>,
    location: &str,
) -> Response<s3s::Body> {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(stored.etag) {
        h.insert(header::ETAG, v);
    }
    if !h.contains_key(header::LOCATION)
        && let Ok(v) = HeaderValue::from_str(location)
    {
        h.insert(header::LOCATION, v);
    }
    for (name, value) in &stored.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(*name, v);
        }
    }
    resp
}

/// `redirect?bucket=…&key=…&etag=…`, or `None` when S3 could not interpret the URL (it then
/// acts as if the field were absent).
fn redirect_to(url: &str, stored: &Stored<'_>) -> Option<HeaderValue> {
    let uri: http::Uri = url.parse().ok()?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
        return None;
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let target = format!(
        "{url}{sep}bucket={}&key={}&etag={}",
        form_encode(stored.bucket),
        form_encode(stored.key),
        form_encode(stored.etag)
    );
    HeaderValue::from_str(&target).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> Stored<'static> {
        Stored {
            bucket: "adc-test-2020-08-26",
            key: "ADCTestThing/a b.txt",
            etag: "\"5d41402abc4b2a76b9719d911017c592\"",
            base_url: "http://127.0.0.1:9000/adc-test-2020-08-26".into(),
            headers: vec![],
        }
    }

    #[test]
    fn redirect_and_statuses() {
        let r = success(&stored(), Some("https://example.com/done?x=1"), Some("201"));
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()[header::LOCATION],
            "https://example.com/done?x=1&bucket=adc-test-2020-08-26&key=ADCTestThing%2Fa+b.txt&etag=%225d41402abc4b2a76b9719d911017c592%22"
        );
        // A URL S3 cannot use is ignored.
        for bad in ["/relative/path", "ftp://example.com/", "not a url"] {
            let r = success(&stored(), Some(bad), None);
            assert_eq!(r.status(), StatusCode::NO_CONTENT, "{bad}");
        }
        let r = success(&stored(), None, Some("200"));
        assert_eq!(r.status(), StatusCode::OK);
        let r = success(&stored(), None, Some("404"));
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            r.headers()[header::LOCATION],
            "http://127.0.0.1:9000/adc-test-2020-08-26/ADCTestThing%2Fa%20b.txt"
        );
        assert_eq!(r.headers()[header::ETAG], stored().etag);
        let r = success(&stored(), None, Some("201"));
        assert_eq!(r.status(), StatusCode::CREATED);
    }
}
