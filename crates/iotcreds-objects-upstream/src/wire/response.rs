//! Reading the upstream's answers: the allow-list of response headers passed to the device,
//! and error responses (status, XML `Code`/`Message`, request id).

use http::{HeaderMap, HeaderName};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

use super::Wire;
use crate::errors::Answer;

/// An error body larger than this is cut (S3's are well under 1 KiB).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Object headers passed from an upstream GetObject/HeadObject response to the device. Not
/// passed: version ids, KMS key ids, SSE-C details, request ids, and everything that is not an
/// S3 object header (`Server`, `Date`, vendor headers). `Content-Length` and `Content-Range`
/// travel in the output DTO.
const OBJECT_HEADERS: &[&str] = &[
    "accept-ranges",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-type",
    "etag",
    "expires",
    "last-modified",
    "x-amz-expiration",
    "x-amz-missing-meta",
    "x-amz-mp-parts-count",
    "x-amz-object-lock-legal-hold",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-replication-status",
    "x-amz-restore",
    "x-amz-server-side-encryption",
    "x-amz-storage-class",
    "x-amz-tagging-count",
    "x-amz-website-redirect-location",
];

/// Headers passed from an upstream PutObject/UploadPart response.
const UPLOAD_HEADERS: &[&str] = &["etag", "x-amz-server-side-encryption"];

/// Is this an `x-amz-checksum-<algorithm>` or `x-amz-checksum-type` header?
pub(crate) fn is_checksum_header(name: &str) -> bool {
    name.starts_with("x-amz-checksum-") && name != "x-amz-checksum-mode"
}

/// The response headers the device gets: the allow-list, user metadata, and the checksum
/// headers when `checksums`. `skip`: names whose value the device chose (`response-*`
/// overrides, which s3s sets).
pub(crate) fn pass_headers(
    from: &HeaderMap,
    upload: bool,
    checksums: bool,
    skip: &[HeaderName],
) -> HeaderMap {
    let allowed = if upload {
        UPLOAD_HEADERS
    } else {
        OBJECT_HEADERS
    };
    let mut out = HeaderMap::with_capacity(from.len());
    for (name, value) in from {
        let n = name.as_str();
        let pass = allowed.contains(&n)
            || (!upload && n.starts_with("x-amz-meta-"))
            || (checksums && is_checksum_header(n));
        if pass && !skip.contains(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// An upstream error response, read.
pub(crate) struct Failed {
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    pub headers: HeaderMap,
}

impl Failed {
    pub(crate) fn answer(&self) -> Answer<'_> {
        Answer {
            status: self.status,
            code: self.code.as_deref(),
            message: self.message.as_deref(),
            request_id: self.request_id.as_deref(),
            headers: &self.headers,
        }
    }
}

/// The text of the first `<tag>…</tag>` of an XML document, entities decoded.
fn xml_field(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    let raw = &xml[start..end];
    Some(
        quick_xml::escape::unescape(raw)
            .map_or_else(|_| raw.to_owned(), std::borrow::Cow::into_owned),
    )
}

/// Reads an error response (at most [`MAX_ERROR_BODY`], within the first-byte timeout).
pub(crate) async fn read_error(wire: &Wire, resp: http::Response<Incoming>) -> Failed {
    let (parts, body) = resp.into_parts();
    let collected = tokio::time::timeout(
        wire.first_byte,
        http_body_util::Limited::new(body, MAX_ERROR_BODY).collect(),
    )
    .await;
    let bytes = match collected {
        Ok(Ok(c)) => c.to_bytes(),
        _ => bytes::Bytes::new(),
    };
    let text = String::from_utf8_lossy(&bytes);
    let header_id = parts
        .headers
        .get("x-amz-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Failed {
        status: parts.status.as_u16(),
        code: xml_field(&text, "Code"),
        message: xml_field(&text, "Message"),
        request_id: header_id.or_else(|| xml_field(&text, "RequestId")),
        headers: parts.headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_fields() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>a &amp; b &lt;c&gt;</Message><RequestId>R1</RequestId></Error>";
        assert_eq!(xml_field(xml, "Code").as_deref(), Some("NoSuchKey"));
        assert_eq!(xml_field(xml, "Message").as_deref(), Some("a & b <c>"));
        assert_eq!(xml_field(xml, "RequestId").as_deref(), Some("R1"));
        assert_eq!(xml_field(xml, "HostId"), None);
        assert_eq!(xml_field("<html>bad gateway</html>", "Code"), None);
    }

    #[test]
    fn headers_passed() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("etag", "\"e\""),
            ("content-type", "text/plain"),
            ("x-amz-meta-colour", "blue"),
            ("x-amz-version-id", "v1"),
            ("x-amz-request-id", "R"),
            ("x-amz-id-2", "H"),
            ("x-amz-server-side-encryption-aws-kms-key-id", "arn:k"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("x-amz-checksum-type", "FULL_OBJECT"),
            ("server", "MinIO"),
            ("x-minio-internal", "1"),
        ] {
            h.insert(k, v.parse().expect("value"));
        }
        let names = |m: HeaderMap| {
            let mut v: Vec<String> = m.keys().map(|k| k.as_str().to_owned()).collect();
            v.sort();
            v
        };
        assert_eq!(
            names(pass_headers(&h, false, false, &[])),
            ["content-type", "etag", "x-amz-meta-colour"]
        );
        assert_eq!(
            names(pass_headers(&h, false, true, &[http::header::CONTENT_TYPE])),
            [
                "etag",
                "x-amz-checksum-crc32",
                "x-amz-checksum-type",
                "x-amz-meta-colour"
            ]
        );
        assert_eq!(
            names(pass_headers(&h, true, true, &[])),
            ["etag", "x-amz-checksum-crc32", "x-amz-checksum-type"]
        );
    }
}
