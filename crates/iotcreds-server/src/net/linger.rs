//! Lingering close: a connection that hyper closes is half-closed (our FIN goes out after the
//! last response byte) and what the client still sends is read and thrown away until it closes
//! too, or a deadline passes, before the socket is released.
//!
//! Without this, closing a socket whose receive queue holds unread bytes makes the kernel
//! answer with a reset (RFC 1122 4.2.2.13; Linux does so at `close`) and drop what it had not
//! yet sent. That is every answer given before a request was fully read: a PUT refused before
//! its body (no `Expect: 100-continue`), a request head too large for us (431), a body too
//! large. The client, still uploading, sees "connection reset" instead of the 403 or 431, and
//! most SDKs then retry the upload. Apache (`lingering_close`) and nginx (`lingering_close`,
//! `lingering_time`) do the same; hyper leaves it to the I/O it is given.
//!
//! What it costs us: a connection that is refused keeps its slot (per-listener and per-address
//! limits) for at most [`LINGER_TIME`], and the bytes it sends meanwhile are read into a stack
//! buffer and dropped, so memory does not grow with them. A client cannot make it longer: the
//! deadline is fixed when the close starts.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// The longest a closing connection is read from before it is released (nginx's
/// `lingering_timeout` is 5 s; its `lingering_time`, the bound on the whole, is 30 s).
pub const LINGER_TIME: Duration = Duration::from_secs(5);

/// How much is read per call while lingering: enough to keep up with a client that is
/// uploading, small enough for the stack.
const DISCARD_CHUNK: usize = 16 * 1024;

/// An I/O whose `poll_shutdown` lingers (see the module docs).
#[derive(Debug)]
pub struct Linger<T> {
    inner: T,
    state: State,
    linger_time: Duration,
}

#[derive(Debug)]
enum State {
    Open,
    /// Our write side is shut; reading until the client's end, an error, or the deadline.
    Lingering(Pin<Box<Sleep>>),
    Closed,
}

impl<T> Linger<T> {
    /// Wrap an accepted connection.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            state: State::Open,
            linger_time: LINGER_TIME,
        }
    }
}

/// Why lingering ended, for the metric.
fn done(outcome: &'static str) -> Poll<io::Result<()>> {
    metrics::counter!("iotcreds_connections_lingered_total", "outcome" => outcome).increment(1);
    Poll::Ready(Ok(()))
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Linger<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Linger<T> {
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
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Open => {
                    // Everything written goes out first, then our FIN (for TLS: close_notify).
                    ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
                    this.state = State::Lingering(Box::pin(tokio::time::sleep(this.linger_time)));
                }
                State::Lingering(deadline) => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        this.state = State::Closed;
                        return done("deadline");
                    }
                    let mut scratch = [0u8; DISCARD_CHUNK];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                            this.state = State::Closed;
                            return done("eof");
                        }
                        // Read and dropped; the deadline is checked again before the next
                        // read, and tokio's cooperative budget ends a long run of ready reads.
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(_)) => {
                            this.state = State::Closed;
                            return done("error");
                        }
                    }
                }
                State::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// The server answers before reading the upload and closes; the client, which only reads
    /// once it has sent everything (as Python's http.client does), sends all of it without an
    /// error, then reads the whole answer and a clean end of stream, not a reset.
    async fn refused_upload(linger: bool) -> io::Result<Vec<u8>> {
        // More than the two sockets' buffers on loopback can hold, so the client is still
        // sending when the server closes.
        const BODY: usize = 32 * 1024 * 1024;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (closing_tx, closing_rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut conn = Linger::new(tcp);
            let mut head = [0u8; 64];
            conn.read_exact(&mut head).await.unwrap();
            conn.write_all(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await
            .unwrap();
            if linger {
                closing_tx.send(()).unwrap();
                conn.shutdown().await.unwrap();
            } else {
                // A plain close: what arrives afterwards is answered with a reset.
                drop(conn);
                closing_tx.send(()).unwrap();
            }
        });
        let mut client = TcpStream::connect(addr).await?;
        client.write_all(&[b'h'; 64]).await?;
        closing_rx.await.unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..BODY / chunk.len() {
            client.write_all(&chunk).await?;
        }
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await?;
        drop(client);
        server.await.unwrap();
        Ok(answer)
    }

    #[tokio::test]
    async fn a_refused_upload_reads_the_answer_and_a_clean_end() {
        let answer = refused_upload(true).await.unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
    }

    /// The control: without lingering the same exchange fails at the client, so the test
    /// above proves the lingering.
    #[tokio::test]
    async fn without_lingering_the_client_sees_a_reset() {
        let err = refused_upload(false).await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "{err:?}"
        );
    }

    /// A client that keeps the connection open and silent (or keeps sending) holds it only
    /// until the deadline.
    #[tokio::test]
    async fn a_client_that_never_closes_is_released_at_the_deadline() {
        const DEADLINE: Duration = Duration::from_millis(300);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        for chatty in [false, true] {
            let mut client = TcpStream::connect(addr).await.unwrap();
            let (tcp, _) = listener.accept().await.unwrap();
            let mut conn = Linger {
                linger_time: DEADLINE,
                ..Linger::new(tcp)
            };
            let sender = tokio::spawn(async move {
                while chatty && client.write_all(&[b'x'; 4096]).await.is_ok() {}
                client
            });
            let started = std::time::Instant::now();
            conn.shutdown().await.unwrap();
            let took = started.elapsed();
            assert!(took >= DEADLINE && took < LINGER_TIME, "{took:?}");
            drop(conn);
            drop(sender.await.unwrap());
        }
    }
}
