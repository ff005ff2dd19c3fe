//! S3's request ids: every S3 answer carries `x-amz-request-id` and `x-amz-id-2` (the S3 API
//! reference's common response headers), and an error body carries the same two values as
//! `<RequestId>` and `<HostId>` (its error responses), so a support request quoting either one
//! finds the audit line of that request.
//!
//! An id is made for each request without a system call or a lock: a per-process random key and
//! a counter go through a bijective mix (splitmix64's finaliser), so ids never repeat within a
//! process and do not reveal how many requests came before. `x-amz-id-2` adds the instance's
//! random id, which tells which instance of a scaled-out deployment answered. Neither is a
//! secret, nor derived from one.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue, Response, header};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-amz-request-id");
const ID_2: HeaderName = HeaderName::from_static("x-amz-id-2");

/// Makes the ids of one process.
pub struct RequestIds {
    key: u64,
    counter: AtomicU64,
    instance: [u8; 16],
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestIds {
    /// A maker with fresh random keys.
    pub fn new() -> Self {
        let random = uuid::Uuid::new_v4().as_u128();
        Self::with_keys(random as u64, *uuid::Uuid::new_v4().as_bytes())
    }

    fn with_keys(key: u64, instance: [u8; 16]) -> Self {
        Self {
            key,
            counter: AtomicU64::new(0),
            instance,
        }
    }

    /// The ids of the next request.
    pub fn next(&self) -> RequestId {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let id = mix(n ^ self.key);
        let mut host = [0u8; 24];
        host[..16].copy_from_slice(&self.instance);
        host[16..].copy_from_slice(&id.to_be_bytes());
        RequestId {
            // S3's request ids are 16 upper-case hexadecimal digits.
            request_id: format!("{id:016X}"),
            host_id: base64::engine::general_purpose::STANDARD.encode(host),
        }
    }
}

/// splitmix64's output function: a bijection on u64 that spreads every input bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The ids of one request.
#[derive(Debug, Clone)]
pub struct RequestId {
    request_id: String,
    host_id: String,
}

impl RequestId {
    /// `x-amz-request-id` and `<RequestId>`.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// `x-amz-id-2` and `<HostId>`.
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// Put the ids on an answer: both headers (replacing any a backend or upstream set, so the
    /// header and the body always agree), and, in an XML error body, `<RequestId>` and
    /// `<HostId>` (replacing any already there).
    pub fn stamp<B>(&self, resp: &mut Response<B>)
    where
        B: BodyBytes,
    {
        let headers = resp.headers_mut();
        // Both ids are hex and base64: always valid header values.
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            headers.insert(REQUEST_ID, v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.host_id) {
            headers.insert(ID_2, v);
        }
        let is_error = resp.status().is_client_error() || resp.status().is_server_error();
        let is_xml = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("xml"));
        if !is_error || !is_xml {
            return;
        }
        let Some(body) = resp.body().whole() else {
            return;
        };
        if let Some(stamped) = self.stamp_error_body(&body) {
            let len = stamped.len();
            *resp.body_mut() = B::from_bytes(stamped);
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
    }

    /// The error document with this request's `<RequestId>` and `<HostId>`, or `None` when
    /// `body` is not one `<Error>` element.
    fn stamp_error_body(&self, body: &[u8]) -> Option<Bytes> {
        const END: &[u8] = b"</Error>";
        let trimmed = body.trim_ascii_end();
        if !trimmed.ends_with(END) || find(body, b"<Error>").is_none() {
            return None;
        }
        let mut inner = &trimmed[..trimmed.len() - END.len()];
        // Drop ids already there (an error written before the request reached this layer);
        // AWS writes them last, in this order.
        for element in [&b"<HostId>"[..], b"<RequestId>"] {
            if let Some(at) = find(inner, element) {
                inner = &inner[..at];
            }
        }
        let mut out = BytesMut::with_capacity(body.len() + 96);
        out.extend_from_slice(inner);
        out.extend_from_slice(b"<RequestId>");
        out.extend_from_slice(self.request_id.as_bytes());
        out.extend_from_slice(b"</RequestId><HostId>");
        out.extend_from_slice(self.host_id.as_bytes());
        out.extend_from_slice(b"</HostId></Error>");
        Some(out.freeze())
    }
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// Run `fut` (the handling of one S3 request) with `id` as its request id, so its audit lines
/// can name it ([`current`]).
pub async fn scope<F: std::future::Future>(id: &RequestId, fut: F) -> F::Output {
    CURRENT.scope(id.clone(), fut).await
}

/// The request id of the S3 request being handled on this task, for its audit lines.
pub fn current() -> String {
    CURRENT
        .try_with(|id| id.request_id.clone())
        .unwrap_or_default()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A response body that may be held whole in memory (errors are; object bodies stream).
pub trait BodyBytes {
    /// The whole body, if it is in memory.
    fn whole(&self) -> Option<Bytes>;
    /// A body of these bytes.
    fn from_bytes(bytes: Bytes) -> Self;
}

impl BodyBytes for s3s::Body {
    fn whole(&self) -> Option<Bytes> {
        self.bytes()
    }

    fn from_bytes(bytes: Bytes) -> Self {
        s3s::Body::from(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use std::collections::HashSet;

    fn ids() -> RequestIds {
        RequestIds::with_keys(0x5eed, [7; 16])
    }

    fn error(body: &str) -> Response<s3s::Body> {
        let mut resp = Response::new(s3s::Body::from(Bytes::from(body.to_owned())));
        *resp.status_mut() = StatusCode::NOT_FOUND;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        resp
    }

    fn body(resp: &Response<s3s::Body>) -> String {
        String::from_utf8(resp.body().bytes().unwrap().to_vec()).unwrap()
    }

    #[test]
    fn ids_have_s3_shape_and_never_repeat() {
        let maker = ids();
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = maker.next();
            assert_eq!(id.request_id().len(), 16);
            assert!(
                id.request_id()
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
            );
            let host = base64::engine::general_purpose::STANDARD
                .decode(id.host_id())
                .unwrap();
            assert_eq!(&host[..16], &[7; 16], "x-amz-id-2 names the instance");
            assert!(seen.insert(id.request_id().to_owned()));
        }
    }

    #[test]
    fn consecutive_ids_do_not_count_up() {
        let maker = ids();
        let a = u64::from_str_radix(maker.next().request_id(), 16).unwrap();
        let b = u64::from_str_radix(maker.next().request_id(), 16).unwrap();
        assert!((a ^ b).count_ones() > 8, "{a:016X} {b:016X}");
    }

    #[test]
    fn an_error_body_gets_both_ids_after_its_other_elements() {
        let id = ids().next();
        let mut resp = error(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a</Key></Error>",
        );
        id.stamp(&mut resp);
        let text = body(&resp);
        assert_eq!(
            text,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a</Key><RequestId>{}</RequestId><HostId>{}</HostId></Error>",
                id.request_id(),
                id.host_id()
            )
        );
        assert_eq!(resp.headers()["x-amz-request-id"], id.request_id());
        assert_eq!(resp.headers()["x-amz-id-2"], id.host_id());
        assert_eq!(
            resp.headers()[header::CONTENT_LENGTH],
            text.len().to_string().as_str()
        );
    }

    #[test]
    fn ids_already_in_a_body_or_headers_are_replaced_so_both_agree() {
        let id = ids().next();
        let mut resp = error(
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>OLD</RequestId><HostId>OLDHOST</HostId></Error>\n",
        );
        resp.headers_mut()
            .insert("x-amz-request-id", HeaderValue::from_static("UPSTREAM"));
        id.stamp(&mut resp);
        let text = body(&resp);
        assert!(!text.contains("OLD"), "{text}");
        assert_eq!(text.matches("<RequestId>").count(), 1);
        assert!(text.contains(&format!("<RequestId>{}</RequestId>", id.request_id())));
        assert_eq!(resp.headers()["x-amz-request-id"], id.request_id());
    }

    #[test]
    fn successes_and_bodies_that_are_not_one_error_keep_their_bytes() {
        let id = ids().next();
        let listing = "<ListBucketResult></ListBucketResult>";
        let mut ok = error(listing);
        *ok.status_mut() = StatusCode::OK;
        id.stamp(&mut ok);
        assert_eq!(body(&ok), listing);
        assert_eq!(ok.headers()["x-amz-request-id"], id.request_id());

        for not_error in ["", "not xml", "<Error>unterminated", "</Error>"] {
            let mut resp = error(not_error);
            id.stamp(&mut resp);
            assert_eq!(body(&resp), not_error);
        }

        let mut plain = error("<Error></Error>");
        plain
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        id.stamp(&mut plain);
        assert_eq!(body(&plain), "<Error></Error>");
    }
}
