//! Object tags in authorisation, as S3 evaluates them ("Tagging and access control policies",
//! S3 User Guide):
//!
//! * `s3:ExistingObjectTag/<key>`: the tags of the object a read (or a change of its tags, ACL,
//!   retention or legal hold) acts on. They are asked of the backend only when the principal's
//!   policies mention the key, so a fleet whose policies do not use it pays nothing; a backend
//!   that cannot answer fails the request (closed), it never evaluates without the tags.
//! * `s3:RequestObjectTag/<key>` and `s3:RequestObjectTagKeys`: the tags a request sets, from
//!   `x-amz-tagging` (PutObject, CopyObject, CreateMultipartUpload), which the gate parses and
//!   checks itself so no backend stores a tag the decision did not see, or from the
//!   PutObjectTagging document. That document is parsed by s3s after the access hook, so when
//!   the principal's policies mention these keys the decision on PutObjectTagging is deferred to
//!   the operation's own hook ([`Deferred`]), which sees the parsed tags.
//! * A write that sets tags also needs `s3:PutObjectTagging`, as S3 requires.

use iotcreds_types::s3_tags;
use s3s::dto::GetObjectTaggingInput;
use s3s::{S3, S3ErrorCode, S3Request, S3Result};

/// A PutObjectTagging decision left to the operation's hook: what to authorise, once the
/// request's tags are known.
#[derive(Debug, Clone)]
pub(crate) struct Deferred {
    pub action: String,
    pub resource: String,
}

/// A request the gateway makes of its own backend (the console's operations, tag lookups): no
/// credentials, nothing from a client's request.
pub(crate) fn internal_request<T>(input: T) -> S3Request<T> {
    S3Request {
        input,
        method: http::Method::GET,
        uri: http::Uri::from_static("/"),
        headers: http::HeaderMap::new(),
        extensions: http::Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}

/// The tags of `bucket`/`key` as the backend holds them; none when the object (or bucket) does
/// not exist (the operation then answers that itself). Any other failure refuses the request.
pub(crate) async fn existing(
    backend: &dyn S3,
    bucket: &str,
    key: &str,
) -> S3Result<Vec<(String, String)>> {
    let req = internal_request(GetObjectTaggingInput {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        ..GetObjectTaggingInput::default()
    });
    match backend.get_object_tagging(req).await {
        Ok(resp) => Ok(resp
            .output
            .tag_set
            .into_iter()
            .filter_map(|t| Some((t.key?, t.value.unwrap_or_default())))
            .collect()),
        Err(e) if matches!(e.code(), S3ErrorCode::NoSuchKey | S3ErrorCode::NoSuchBucket) => {
            Ok(Vec::new())
        }
        Err(e) => {
            tracing::warn!(code = %e.code().as_str(), "could not read an object's tags for a policy decision");
            Err(e)
        }
    }
}

/// The tags of an `x-amz-tagging` header, checked; `None` without one.
pub(crate) fn from_header(headers: &http::HeaderMap) -> S3Result<Option<Vec<(String, String)>>> {
    let Some(value) = headers.get("x-amz-tagging") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| iotcreds_objects::fs::tag_error(s3_tags::TagSetError::BadHeader))?;
    s3_tags::parse_header(text)
        .map(Some)
        .map_err(iotcreds_objects::fs::tag_error)
}
