//! Answers given before the request body was read to its end.
//!
//! Many refusals come before the body is read, on the service endpoint (S3, IoT, IAM, STS) and
//! the console alike: a policy denial, a bad or missing signature, a made-up key id, a
//! malformed `x-amz-tagging`, a failed precondition, a form POST refused on its policy, a body
//! too large, a console form without a session. hyper then drains what is left of the body if
//! it has already arrived, and otherwise closes the connection after the response, without
//! saying so. Two ways that went wrong:
//!
//! - botocore and the AWS SDKs send PutObject and UploadPart with `Expect: 100-continue`; a
//!   refusal is their final answer, and the client, as RFC 9110 §10.1.1 allows, never sends
//!   the body, leaving it to the server to "close the connection or read and discard the body"
//!   (botocore's own comment). If hyper kept the connection open for a body that is not
//!   coming, the client's next request was taken for the old body and answered
//!   `400 Bad Request` with no S3 error at all (seen with boto3 about once in ten refused
//!   uploads).
//! - a client that sends the body without waiting (curl with `Expect:` emptied, most HTTP
//!   libraries) had its connection closed under it when the body had not arrived with the
//!   head: its next request on the keep-alive connection was reset ("Remote end closed
//!   connection without response").
//!
//! So every answer to a request whose body was not read to its end says `Connection: close`,
//! and the client opens a new connection (what the client still sends is read and dropped:
//! [`super::linger`]). A body read to its end (the normal case) changes nothing, and a request
//! without a body is answered on a connection that stays open.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, Version, header};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

/// A request body that records whether it was read to its end.
pub struct Watched {
    inner: Incoming,
    done: Arc<AtomicBool>,
}

impl Watched {
    /// `body`, and the flag that becomes true once it has been read to its end (true from
    /// the start for a request without a body).
    pub fn new(body: Incoming) -> (Self, Arc<AtomicBool>) {
        let done = Arc::new(AtomicBool::new(body.is_end_stream()));
        (
            Self {
                inner: body,
                done: done.clone(),
            },
            done,
        )
    }

    /// Whether nothing is left to read: a request without a body, or one read to its end.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

impl Body for Watched {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        // The end is the last frame of a body whose length is known (hyper counts it down),
        // or the poll that finds no frame left (a chunked body). An error is not an end: the
        // rest of the body is still unread.
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => self.inner.is_end_stream(),
            Poll::Ready(Some(Err(_))) | Poll::Pending => false,
        };
        if ended {
            self.done.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Answer `req` with `answer`, its body watched: the response closes the connection if the
/// body was not read to its end (see [`close_unless_read`]).
pub async fn answer<F, Fut, B>(req: Request<Incoming>, answer: F) -> Response<B>
where
    F: FnOnce(Request<Watched>) -> Fut,
    Fut: Future<Output = Response<B>>,
{
    let (parts, body) = req.into_parts();
    let (body, done) = Watched::new(body);
    let version = parts.version;
    let mut resp = answer(Request::from_parts(parts, body)).await;
    close_unless_read(version, &mut resp, &done);
    resp
}

/// Close the connection after `resp` if the body it answers was not read to its end. Only on
/// HTTP/1: an HTTP/2 stream's unread body is reset on its own (`RST_STREAM`), and HTTP/2 has
/// no `Connection` header (hyper would strip it).
pub fn close_unless_read<B>(version: Version, resp: &mut Response<B>, done: &AtomicBool) {
    if version <= Version::HTTP_11 && !done.load(Ordering::Acquire) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(version: Version, done: bool) -> Option<HeaderValue> {
        let mut resp = Response::new(());
        close_unless_read(version, &mut resp, &AtomicBool::new(done));
        resp.headers().get(header::CONNECTION).cloned()
    }

    #[test]
    fn only_an_http1_answer_with_its_body_unread_closes() {
        for v in [Version::HTTP_10, Version::HTTP_11] {
            assert_eq!(answer(v, false), Some(HeaderValue::from_static("close")));
            assert_eq!(answer(v, true), None);
        }
        for v in [Version::HTTP_2, Version::HTTP_3] {
            assert_eq!(answer(v, false), None);
        }
    }
}
