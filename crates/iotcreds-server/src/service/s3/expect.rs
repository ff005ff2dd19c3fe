//! `Expect: 100-continue` requests answered without their body.
//!
//! botocore and the AWS SDKs send PutObject and UploadPart with `Expect: 100-continue` and wait
//! for `100 Continue` before sending the body. hyper sends it when the body is first read. A
//! request refused before that (a policy denial, a malformed `x-amz-tagging`, a bad
//! precondition) gets its final answer instead, and the client, as RFC 9110 §10.1.1 allows,
//! never sends the body, leaving it to the server to "close the connection or read and discard
//! the body" (botocore's own comment). hyper keeps the connection open to read a body that is
//! not coming: if the client's next request arrives meanwhile, its first bytes are taken for
//! the old body and the rest answered `400 Bad Request` with no S3 error at all (seen with
//! boto3 about once in ten refused uploads). So a response to such a request whose body was
//! never read closes the connection, and the client opens a new one.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

/// Whether a request asks for `100 Continue` before sending its body.
pub(crate) fn expects_continue(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
}

/// A request body that records whether it was ever read.
pub(crate) struct Watched {
    inner: Incoming,
    read: Arc<AtomicBool>,
}

impl Watched {
    /// `body`, and the flag that becomes true when it is first read.
    pub(crate) fn new(body: Incoming) -> (Self, Arc<AtomicBool>) {
        let read = Arc::new(AtomicBool::new(false));
        (
            Self {
                inner: body,
                read: read.clone(),
            },
            read,
        )
    }
}

impl Body for Watched {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        self.read.store(true, Ordering::Relaxed);
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Close the connection after `resp` if the body it answers was never read.
pub(crate) fn close_unless_read<B>(resp: &mut Response<B>, read: &AtomicBool) {
    if !read.load(Ordering::Relaxed) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}
