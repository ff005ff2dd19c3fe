//! A GetObject body on its way from the upstream to the device: [`Download`].
//!
//! The upstream's response body is read only when the device's connection asks for more (so a
//! slow device slows the upstream down through TCP flow control, and nothing piles up in the
//! gateway). While the gateway waits for the upstream, an idle timer runs: an upstream that sends
//! nothing for `idle_timeout` ends the response early. With a full-object checksum to check,
//! the bytes are hashed as they pass and compared at the end; a mismatch also ends the response
//! early, before its last bytes, so the device never receives a complete wrong object (a check
//! needs the upstream's `Content-Length`, which S3 always sends for a GetObject).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use http_body::Body as _;
use hyper::body::Incoming;
use s3s::StdError;
use s3s::checksum::ChecksumHasher;
use s3s::stream::{ByteStream, RemainingLength};
use tokio::time::{Instant, Sleep};

use crate::body::Algo;

/// A full-object checksum to compare with at the end.
pub(crate) struct Check {
    pub algo: Algo,
    pub expected: String,
    hasher: ChecksumHasher,
}

impl Check {
    pub(crate) fn new(algo: Algo, expected: String) -> Self {
        Self {
            algo,
            expected,
            hasher: algo.hasher(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum DownloadError {
    #[error("the upstream sent nothing for {0:?}")]
    Stalled(Duration),
    #[error("the object's {0} checksum does not match its bytes")]
    Checksum(&'static str),
    #[error("the upstream's response ended early")]
    Short,
}

/// See the module docs.
pub(crate) struct Download {
    inner: Incoming,
    remaining: Option<u64>,
    idle: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
    check: Option<Check>,
    op: &'static str,
    done: bool,
}

impl Download {
    pub(crate) fn new(
        inner: Incoming,
        len: Option<u64>,
        idle: Duration,
        check: Option<Check>,
        op: &'static str,
    ) -> Self {
        Self {
            inner,
            remaining: len,
            idle,
            timer: None,
            armed: false,
            check,
            op,
            done: false,
        }
    }

    fn fail(&mut self, e: DownloadError) -> Poll<Option<Result<Bytes, StdError>>> {
        tracing::warn!(op = self.op, error = %e, "upstream response body failed; the device's response ends early");
        self.done = true;
        Poll::Ready(Some(Err(Box::new(e))))
    }

    /// Waits for the upstream: starts the idle timer if it is not running, and fails when it
    /// fires.
    fn idle(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, StdError>>> {
        let deadline = Instant::now() + self.idle;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.armed {
            timer.as_mut().reset(deadline);
            self.armed = true;
        }
        if timer.as_mut().poll(cx).is_ready() {
            return self.fail(DownloadError::Stalled(self.idle));
        }
        Poll::Pending
    }
}

impl Stream for Download {
    type Item = Result<Bytes, StdError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return this.idle(cx),
                Poll::Ready(Some(Ok(frame))) => {
                    this.armed = false;
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if data.is_empty() {
                        continue;
                    }
                    if let Some(r) = this.remaining.as_mut() {
                        *r = r.saturating_sub(data.len() as u64);
                    }
                    if let Some(c) = this.check.as_mut() {
                        c.hasher.update(&data);
                    }
                    // The last bytes go to the device only if the whole object checks out.
                    if this.remaining == Some(0)
                        && let Some(c) = this.check.take()
                        && c.algo.finish(c.hasher).as_deref() != Some(c.expected.as_str())
                    {
                        return this.fail(DownloadError::Checksum(c.algo.name()));
                    }
                    return Poll::Ready(Some(Ok(data)));
                }
                Poll::Ready(Some(Err(e))) => {
                    tracing::warn!(op = this.op, error = %e, "upstream response body failed; the device's response ends early");
                    this.done = true;
                    return Poll::Ready(Some(Err(Box::new(e))));
                }
                Poll::Ready(None) => {
                    if this.remaining.is_some_and(|r| r > 0) {
                        return this.fail(DownloadError::Short);
                    }
                    this.done = true;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl ByteStream for Download {
    fn remaining_length(&self) -> RemainingLength {
        match self.remaining {
            Some(n) => usize::try_from(n)
                .map_or_else(|_| RemainingLength::unknown(), RemainingLength::new_exact),
            None => RemainingLength::unknown(),
        }
    }
}
