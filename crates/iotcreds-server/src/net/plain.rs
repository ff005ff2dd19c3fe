//! The plain-TCP connection: a [`TcpStream`] whose writes send slices of file mappings made by
//! [`iotcreds_objects::zerocopy`] with `sendfile(2)` instead of copying them from memory.
//!
//! hyper writes a response as a list of slices (`writev`): the head, then the body chunks. A
//! chunk that is a registered mapping of an object file is sent from the file's page cache by
//! the kernel; the head before it goes out with `MSG_MORE` so that head and data can share a
//! segment. Every other slice is written as usual. Bytes are never altered: a mapped slice holds
//! exactly the file range `sendfile` sends.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// Slices shorter than this are never looked up (a response head, a chunk-size line): a
/// mapping is at least 64 KiB, and sending a short tail of one from memory is as cheap.
const LOOKUP_MIN: usize = 4096;

/// A plain-TCP connection that sends mapped object data with `sendfile`.
#[derive(Debug)]
pub struct PlainTcp {
    inner: TcpStream,
}

impl PlainTcp {
    /// Wrap an accepted connection.
    pub fn new(inner: TcpStream) -> Self {
        Self { inner }
    }

    /// `sendfile` up to `len` bytes of `file` from `offset`.
    fn poll_sendfile(
        &self,
        cx: &mut Context<'_>,
        file: &std::fs::File,
        offset: u64,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.inner.poll_write_ready(cx))?;
            let mut at = offset;
            let sent = self.inner.try_io(Interest::WRITABLE, || {
                rustix::fs::sendfile(&self.inner, file, Some(&mut at), len).map_err(io::Error::from)
            });
            match sent {
                // End of file before the mapping's end: the file is damaged (it was mapped, so
                // it was that long); fail the connection rather than send a short body.
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Write `bufs` (the slices before a mapped one) with `MSG_MORE`.
    fn poll_send_more(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        use rustix::net::{SendAncillaryBuffer, SendFlags};
        loop {
            ready!(self.inner.poll_write_ready(cx))?;
            let sent = self.inner.try_io(Interest::WRITABLE, || {
                rustix::net::sendmsg(
                    &self.inner,
                    bufs,
                    &mut SendAncillaryBuffer::default(),
                    SendFlags::MORE | SendFlags::NOSIGNAL,
                )
                .map_err(io::Error::from)
            });
            match sent {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
        }
    }
}

impl AsyncRead for PlainTcp {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for PlainTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mapped = bufs.iter().enumerate().find_map(|(i, b)| {
            (b.len() >= LOOKUP_MIN)
                .then(|| iotcreds_objects::zerocopy::locate(b))
                .flatten()
                .map(|found| (i, found))
        });
        match mapped {
            None => Pin::new(&mut self.inner).poll_write_vectored(cx, bufs),
            Some((0, (file, offset))) => self.poll_sendfile(cx, &file, offset, bufs[0].len()),
            Some((i, _)) => self.poll_send_more(cx, &bufs[..i]),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// Head, a mapped file range (sent with sendfile) and a trailer from memory arrive in order,
    /// byte for byte, including when the peer reads slowly and sendfile returns short.
    #[tokio::test]
    async fn mapped_slices_arrive_as_their_file_bytes() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
        f.write_all(&data).unwrap();
        let body = iotcreds_objects::zerocopy::map(Arc::new(f), 123, 2_500_000).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = tokio::spawn(async move {
            let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            got
        });
        let (server, _) = listener.accept().await.unwrap();
        let mut conn = PlainTcp::new(server);
        let (head, tail) = (b"HEAD\r\n".to_vec(), b"TAIL".to_vec());
        let mut written = 0;
        let total = head.len() + body.len() + tail.len();
        while written < total {
            // What hyper does: the unwritten rest as slices.
            let mut slices = Vec::new();
            let mut at = written;
            for part in [&head[..], &body[..], &tail[..]] {
                if at < part.len() {
                    slices.push(IoSlice::new(&part[at..]));
                    at = 0;
                } else {
                    at -= part.len();
                }
            }
            written += conn.write_vectored(&slices).await.unwrap();
        }
        conn.shutdown().await.unwrap();
        drop(conn);
        let got = reader.await.unwrap();
        let mut want = head.clone();
        want.extend_from_slice(&data[123..123 + 2_500_000]);
        want.extend_from_slice(&tail);
        assert_eq!(got.len(), want.len());
        assert!(got == want);
    }
}
