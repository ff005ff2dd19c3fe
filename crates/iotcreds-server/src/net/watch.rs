//! Connection deadlines: how long a connection may stay open without a request in progress.
//!
//! hyper's own header timeout starts only once HTTP/1 parsing starts (after the HTTP/1-vs-2
//! sniffing, which has no deadline) and HTTP/2 has none: a connection that answers keep-alive
//! pings but never opens a stream would stay open for good. So every connection is watched here
//! instead, from the moment it is accepted (after the TLS handshake):
//!
//! - **before its first request**, its headers must be complete within the header timeout
//!   (whatever the protocol, sniffing included);
//! - **between requests** (no request in progress: HTTP/1 keep-alive, or HTTP/2 with no open
//!   stream) it may stay idle for the idle timeout; HTTP/2 pings and settings do not count;
//! - **HTTP/1 after the first byte of the next request**, that request's headers must be complete
//!   within the header timeout.
//!
//! A request is "in progress" from the moment hyper hands it to the service until its response
//! body has been sent (or dropped). The [`Activity`] of a connection is shared by three
//! wrappers: [`Watched`] (the I/O: notes the first byte read while idle), [`Tracked`] (the
//! service: counts requests in progress) and [`Guarded`] (the response body: ends the request).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Version};
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::HandlerError;

/// Why a connection's deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No complete request headers within the header timeout.
    Headers,
    /// No request within the idle timeout.
    Idle,
}

impl Expiry {
    /// The label of the closed-connections metric.
    pub fn as_str(self) -> &'static str {
        match self {
            Expiry::Headers => "header_timeout",
            Expiry::Idle => "idle_timeout",
        }
    }
}

#[derive(Debug)]
struct State {
    /// Requests handed to the service whose responses are not finished.
    in_flight: usize,
    /// Whether any request has started.
    served: bool,
    /// Whether the requests are HTTP/2 (reads then never count as activity).
    http2: bool,
    /// When the last request finished (or the connection started).
    idle_since: Instant,
    /// HTTP/1: when the first byte after `idle_since` arrived.
    first_byte: Option<Instant>,
}

/// What is known about one connection's requests.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    header_timeout: Duration,
    idle_timeout: Duration,
    state: Mutex<State>,
    /// Set while an HTTP/1 connection is idle and no byte has arrived yet, so that reads are
    /// noted with one atomic swap and no lock on the hot path.
    awaiting_first_byte: AtomicBool,
    changed: Notify,
}

impl Activity {
    /// A connection that starts now.
    pub fn new(header_timeout: Duration, idle_timeout: Duration) -> Arc<Self> {
        let now = Instant::now();
        Arc::new(Self {
            started: now,
            header_timeout,
            idle_timeout,
            state: Mutex::new(State {
                in_flight: 0,
                served: false,
                http2: false,
                idle_since: now,
                first_byte: None,
            }),
            awaiting_first_byte: AtomicBool::new(false),
            changed: Notify::new(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain counters and instants: a panic elsewhere cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Requests in progress.
    pub fn in_flight(&self) -> usize {
        self.state().in_flight
    }

    /// Whether a request was ever started on this connection.
    pub fn served(&self) -> bool {
        self.state().served
    }

    /// When the connection must close if nothing changes, and why; `None` while a request is in
    /// progress.
    fn deadline(&self) -> Option<(Instant, Expiry)> {
        let s = self.state();
        if s.in_flight > 0 {
            None
        } else if !s.served {
            Some((self.started + self.header_timeout, Expiry::Headers))
        } else if let (false, Some(t)) = (s.http2, s.first_byte) {
            Some((t + self.header_timeout, Expiry::Headers))
        } else {
            Some((s.idle_since + self.idle_timeout, Expiry::Idle))
        }
    }

    /// Resolves when the connection's deadline has passed.
    pub async fn expired(&self) -> Expiry {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.deadline() {
                None => changed.await,
                Some((at, why)) => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep_until(at) => {
                            if self.deadline().is_some_and(|(now_at, _)| now_at <= Instant::now()) {
                                return why;
                            }
                        }
                    }
                }
            }
        }
    }

    fn begin(self: &Arc<Self>, version: Version) -> RequestGuard {
        {
            let mut s = self.state();
            s.in_flight += 1;
            s.served = true;
            s.http2 = version == Version::HTTP_2;
            s.first_byte = None;
        }
        self.awaiting_first_byte.store(false, Ordering::Relaxed);
        self.changed.notify_one();
        RequestGuard {
            activity: Arc::clone(self),
        }
    }

    fn end(&self) {
        {
            let mut s = self.state();
            s.in_flight = s.in_flight.saturating_sub(1);
            if s.in_flight == 0 {
                s.idle_since = Instant::now();
                s.first_byte = None;
                if !s.http2 {
                    self.awaiting_first_byte.store(true, Ordering::Relaxed);
                }
            }
        }
        self.changed.notify_one();
    }

    fn on_read(&self) {
        if self.awaiting_first_byte.swap(false, Ordering::Relaxed) {
            {
                let mut s = self.state();
                if s.in_flight == 0 && s.first_byte.is_none() {
                    s.first_byte = Some(Instant::now());
                }
            }
            self.changed.notify_one();
        }
    }
}

/// One request in progress; dropping it ends the request.
#[derive(Debug)]
pub struct RequestGuard {
    activity: Arc<Activity>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.activity.end();
    }
}

/// A connection's I/O that tells its [`Activity`] when bytes arrive.
#[derive(Debug)]
pub struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    /// Watch `inner` for `activity`.
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A service whose requests are counted in progress until their response bodies end.
#[derive(Debug)]
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    /// Count `inner`'s requests in `activity`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S, B> hyper::service::Service<Request<Incoming>> for Tracked<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>, Error = HandlerError>,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Guarded<B>>;
    type Error = HandlerError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, HandlerError>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        // Dropped with the future if the client gives up before the response.
        let guard = self.activity.begin(req.version());
        let response = self.inner.call(req);
        Box::pin(async move {
            let resp = response.await?;
            Ok(resp.map(|body| Guarded {
                inner: body,
                guard: Some(guard),
            }))
        })
    }
}

/// A response body that ends its request when it ends (or is dropped).
#[derive(Debug)]
pub struct Guarded<B> {
    inner: B,
    guard: Option<RequestGuard>,
}

impl<B> http_body::Body for Guarded<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            this.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_millis(400);
    const IDLE: Duration = Duration::from_millis(1_200);

    /// The deadline as an offset from `from`, and its reason.
    fn due(a: &Activity, from: Instant) -> Option<(Duration, Expiry)> {
        a.deadline().map(|(at, why)| (at - from, why))
    }

    fn idle_since(a: &Activity) -> Instant {
        a.state().idle_since
    }

    #[tokio::test]
    async fn a_connection_without_a_request_gets_the_header_timeout_from_its_start() {
        let a = Activity::new(HEADER, IDLE);
        // Bytes before the first request (a sniffed preface, part of the headers) change nothing.
        a.on_read();
        assert_eq!(due(&a, a.started), Some((HEADER, Expiry::Headers)));
        assert_eq!(a.expired().await, Expiry::Headers);
        assert!(a.started.elapsed() >= HEADER);
    }

    #[tokio::test]
    async fn http1_keep_alive_idles_then_gets_the_header_timeout_from_the_first_byte() {
        let a = Activity::new(HEADER, IDLE);
        let guard = a.begin(Version::HTTP_11);
        assert_eq!(
            due(&a, a.started),
            None,
            "no deadline while a request is in progress"
        );
        drop(guard);
        let idle = idle_since(&a);
        assert_eq!(due(&a, idle), Some((IDLE, Expiry::Idle)));
        a.on_read();
        let first = a.state().first_byte.expect("first byte noted");
        assert_eq!(due(&a, first), Some((HEADER, Expiry::Headers)));
        // Later bytes of the same headers do not move it.
        a.on_read();
        assert_eq!(a.state().first_byte, Some(first));
        // The request arrives: no deadline until it is answered, then idle again.
        let again = a.begin(Version::HTTP_11);
        assert_eq!(due(&a, first), None);
        drop(again);
        let idle = idle_since(&a);
        assert_eq!(due(&a, idle), Some((IDLE, Expiry::Idle)));
        assert_eq!(a.expired().await, Expiry::Idle);
        assert!(idle.elapsed() >= IDLE);
    }

    #[tokio::test]
    async fn http2_reads_never_count_as_activity() {
        let a = Activity::new(HEADER, IDLE);
        drop(a.begin(Version::HTTP_2));
        let idle = idle_since(&a);
        a.on_read(); // a PING or SETTINGS frame
        assert_eq!(a.state().first_byte, None);
        assert_eq!(due(&a, idle), Some((IDLE, Expiry::Idle)));
    }

    #[tokio::test]
    async fn the_deadline_waits_for_every_stream_to_end() {
        let a = Activity::new(HEADER, IDLE);
        let one = a.begin(Version::HTTP_2);
        let two = a.begin(Version::HTTP_2);
        let expiry = tokio::spawn({
            let a = Arc::clone(&a);
            async move { a.expired().await }
        });
        tokio::time::sleep(HEADER * 2).await;
        drop(one);
        tokio::time::sleep(HEADER).await;
        assert_eq!(a.in_flight(), 1);
        assert!(!expiry.is_finished(), "a stream is still open");
        drop(two);
        let idle = idle_since(&a);
        assert_eq!(expiry.await.unwrap(), Expiry::Idle);
        assert!(idle.elapsed() >= IDLE);
    }
}
