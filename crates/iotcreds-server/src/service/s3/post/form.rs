//! Reading a `multipart/form-data` body under a byte budget: the fields before the file, then
//! (once the form is authorised) the file.
//!
//! The body reaches the parser through a `Metered` stream that hands over at most the current
//! allowance: 20 KiB while the fields are read (S3's limit for "the form data and boundaries,
//! excluding the contents of the file"), then the file's limit once the caller has verified the
//! signature, the policy and the permission. When the parser needs more than the allowance the
//! read fails at once; nothing beyond the allowance is ever pulled from the connection, so a
//! refused form costs at most the field budget however large its file.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use crate::net::unread::Watched;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http_body_util::BodyExt;

/// S3's limit for the form fields and boundaries before the file.
pub const PRE_DATA_LIMIT: u64 = 20 * 1024;

/// Fields after the file are ignored; this much of them is read (and dropped) after a
/// successful upload so the client's request completes cleanly.
const TRAILER_ALLOWANCE: u64 = 64 * 1024;

/// The budget shared by the stream and its reader.
#[derive(Default)]
struct Meter {
    allowance: AtomicU64,
    consumed: AtomicU64,
    starved: AtomicBool,
}

/// The request body, handed over up to the meter's allowance.
struct Metered {
    inner: http_body_util::BodyDataStream<Watched>,
    pending: Option<Bytes>,
    meter: Arc<Meter>,
}

impl Stream for Metered {
    type Item = Result<Bytes, hyper::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let allowance = self.meter.allowance.load(Ordering::Acquire);
        let consumed = self.meter.consumed.load(Ordering::Acquire);
        if consumed >= allowance {
            // No waker: the reader sees `starved` as soon as the parser returns `Pending`, and
            // either fails or raises the allowance and polls again.
            self.meter.starved.store(true, Ordering::Release);
            return Poll::Pending;
        }
        let mut chunk = match self.pending.take() {
            Some(c) => c,
            None => match self.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(c))) => c,
                other => return other,
            },
        };
        let room = allowance - consumed;
        if chunk.len() as u64 > room {
            // `room` is smaller than a chunk's length, so it fits in usize.
            let head = chunk.split_to(usize::try_from(room).unwrap_or(0));
            self.pending = Some(chunk);
            chunk = head;
        }
        self.meter
            .consumed
            .fetch_add(chunk.len() as u64, Ordering::AcqRel);
        Poll::Ready(Some(Ok(chunk)))
    }
}

/// Why a form could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// More than the allowance would be needed.
    OverLimit,
    /// Not well-formed `multipart/form-data` (or the connection failed mid-body).
    Malformed,
}

/// One part of the form, header information only.
pub struct PartHead {
    /// The `name` parameter of `Content-Disposition`.
    pub name: String,
    /// The `filename` parameter, when given.
    pub file_name: Option<String>,
    /// Whether the disposition type is `form-data` (only such a part named `file` is the file).
    pub form_data: bool,
}

/// A form being read.
pub struct FormReader {
    parts: multer::Multipart<'static>,
    meter: Arc<Meter>,
    boundary_len: u64,
    current: Option<multer::Field<'static>>,
}

impl FormReader {
    /// Start reading `body`, delimited by `boundary`, with the field budget.
    pub fn new(body: Watched, boundary: String) -> Self {
        let meter = Arc::new(Meter::default());
        meter.allowance.store(PRE_DATA_LIMIT, Ordering::Release);
        let boundary_len = boundary.len() as u64;
        let stream = Metered {
            inner: body.into_data_stream(),
            pending: None,
            meter: meter.clone(),
        };
        Self {
            parts: multer::Multipart::new(stream, boundary),
            meter,
            boundary_len,
            current: None,
        }
    }

    fn check<T>(&self, poll: Poll<multer::Result<T>>) -> Poll<Result<T, ReadError>> {
        match poll {
            Poll::Ready(Ok(v)) => Poll::Ready(Ok(v)),
            Poll::Ready(Err(_)) => Poll::Ready(Err(ReadError::Malformed)),
            Poll::Pending if self.meter.starved.load(Ordering::Acquire) => {
                Poll::Ready(Err(ReadError::OverLimit))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// The next part's head, or `None` at the end of the form. The previous part's data must
    /// have been read.
    pub async fn next_part(&mut self) -> Result<Option<PartHead>, ReadError> {
        self.current = None;
        let field = futures::future::poll_fn(|cx| {
            let poll = self.parts.poll_next_field(cx);
            self.check(poll)
        })
        .await?;
        let Some(field) = field else {
            return Ok(None);
        };
        let form_data = field
            .headers()
            .get(http::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .get(..9)
                    .is_some_and(|t| t.eq_ignore_ascii_case("form-data"))
            });
        let head = PartHead {
            name: field.name().ok_or(ReadError::Malformed)?.to_owned(),
            file_name: field.file_name().map(str::to_owned),
            form_data,
        };
        self.current = Some(field);
        Ok(Some(head))
    }

    /// The next chunk of the current part's data, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ReadError> {
        let Some(mut field) = self.current.take() else {
            return Ok(None);
        };
        let chunk = futures::future::poll_fn(|cx| {
            let poll = field.poll_next_unpin(cx).map(Option::transpose);
            self.check(poll)
        })
        .await;
        if matches!(chunk, Ok(Some(_))) {
            self.current = Some(field);
        }
        chunk
    }

    /// The whole value of the current part (a field before the file, within the field budget).
    pub async fn value(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut out = Vec::new();
        while let Some(c) = self.chunk().await? {
            out.extend_from_slice(&c);
        }
        Ok(out)
    }

    /// Allow the file: up to `max_file` more bytes of data plus its closing delimiter.
    pub fn allow_file(&self, max_file: u64) {
        let consumed = self.meter.consumed.load(Ordering::Acquire);
        self.raise(
            consumed
                .saturating_add(max_file)
                .saturating_add(self.boundary_len + 8),
        );
    }

    fn raise(&self, allowance: u64) {
        self.meter.allowance.store(allowance, Ordering::Release);
        self.meter.starved.store(false, Ordering::Release);
    }

    /// After the file: read (and drop) what follows, up to a small budget, so a client that is
    /// still sending its closing boundary gets a clean answer.
    pub async fn drain(&mut self) {
        let consumed = self.meter.consumed.load(Ordering::Acquire);
        self.raise(consumed.saturating_add(TRAILER_ALLOWANCE));
        while let Ok(Some(_)) = self.next_part().await {
            while let Ok(Some(_)) = self.chunk().await {}
        }
    }
}
