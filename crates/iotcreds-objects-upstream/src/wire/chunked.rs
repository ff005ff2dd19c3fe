//! aws-chunked framing of an upload with an unsigned checksum trailer
//! (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`), as the AWS SDKs send it: 64 KiB frames
//! (`{hex length}\r\n{data}\r\n`), then `0\r\n`, the trailer line and `\r\n`.
//!
//! The device's bytes are passed on as they come, split at frame boundaries without copying;
//! only the frame headers are new. The trailer is the checksum [`UploadBody`] computed (and,
//! for a device trailer, verified) by the time the device's stream ended, so the upstream
//! stores and checks the same checksum. The length on the wire is known in advance
//! ([`encoded_len`]), so the request carries a `Content-Length`.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::Stream;
use s3s::StdError;

use crate::body::{Algo, UploadBody};

/// Data bytes per frame (the last frame may be shorter).
pub(crate) const FRAME: u64 = 64 * 1024;

fn hex_digits(n: u64) -> u64 {
    u64::from((64 - n.leading_zeros()).div_ceil(4).max(1))
}

/// Length of a base64 checksum value of this algorithm.
fn value_len(algo: Algo) -> u64 {
    let raw: u64 = match algo {
        Algo::Crc32 | Algo::Crc32c => 4,
        Algo::Crc64Nvme => 8,
        Algo::Sha1 => 20,
        Algo::Sha256 => 32,
    };
    raw.div_ceil(3) * 4
}

/// The length on the wire of `data` bytes framed with a trailer of `algo`.
pub(crate) fn encoded_len(data: u64, algo: Algo) -> u64 {
    let frame = |n: u64| hex_digits(n) + 2 + n + 2;
    let (full, rest) = (data / FRAME, data % FRAME);
    let frames = full * frame(FRAME) + if rest > 0 { frame(rest) } else { 0 };
    let trailer = algo.header().len() as u64 + 1 + value_len(algo) + 2;
    frames + 3 + trailer + 2
}

/// See the module docs.
pub(crate) struct AwsChunked {
    inner: UploadBody,
    /// Data bytes not yet framed.
    unframed: u64,
    /// Data bytes still to send in the current frame.
    left: u64,
    /// Part of a device chunk beyond the current frame.
    pending: Option<Bytes>,
    started: bool,
    done: bool,
}

impl AwsChunked {
    pub(crate) fn new(inner: UploadBody, data_len: u64) -> Self {
        Self {
            inner,
            unframed: data_len,
            left: 0,
            pending: None,
            started: false,
            done: false,
        }
    }

    fn next_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, StdError>>> {
        if let Some(c) = self.pending.take() {
            return Poll::Ready(Some(Ok(c)));
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the upload ended inside an aws-chunked frame")]
struct Truncated;

impl Stream for AwsChunked {
    type Item = Result<Bytes, StdError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if this.left == 0 {
                let sep = if this.started { "\r\n" } else { "" };
                if this.unframed > 0 {
                    let n = this.unframed.min(FRAME);
                    this.unframed -= n;
                    this.left = n;
                    this.started = true;
                    return Poll::Ready(Some(Ok(Bytes::from(format!("{sep}{n:x}\r\n")))));
                }
                // Every data byte is framed: the device's stream must end (UploadBody checks
                // the length and the trailer there).
                match ready!(this.next_data(cx)) {
                    Some(Ok(c)) if c.is_empty() => continue,
                    Some(Ok(_)) => {
                        this.done = true;
                        return Poll::Ready(Some(Err(Box::new(Truncated))));
                    }
                    Some(Err(e)) => {
                        this.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                    None => {
                        this.done = true;
                        let Some((algo, value)) = this.inner.computed() else {
                            return Poll::Ready(Some(Err(Box::new(Truncated))));
                        };
                        let tail = format!("{sep}0\r\n{}:{value}\r\n\r\n", algo.header());
                        return Poll::Ready(Some(Ok(Bytes::from(tail))));
                    }
                }
            }
            match ready!(this.next_data(cx)) {
                Some(Ok(mut c)) => {
                    if c.is_empty() {
                        continue;
                    }
                    let left = usize::try_from(this.left).unwrap_or(usize::MAX);
                    if c.len() > left {
                        this.pending = Some(c.split_off(left));
                    }
                    this.left -= c.len() as u64;
                    return Poll::Ready(Some(Ok(c)));
                }
                Some(Err(e)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.done = true;
                    return Poll::Ready(Some(Err(Box::new(Truncated))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{BodyFailure, Checksum};
    use futures::StreamExt as _;
    use s3s::dto::StreamingBlob;

    fn blob(chunks: Vec<Bytes>) -> StreamingBlob {
        StreamingBlob::wrap(futures::stream::iter(
            chunks.into_iter().map(Ok::<_, std::io::Error>),
        ))
    }

    /// Parses aws-chunked framing back into data and trailer lines.
    fn decode(wire: &[u8]) -> (Vec<u8>, Vec<String>) {
        let mut data = Vec::new();
        let mut rest = wire;
        loop {
            let nl = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("size line");
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).expect("hex"), 16)
                .expect("size");
            rest = &rest[nl + 2..];
            if n == 0 {
                break;
            }
            assert!(n as u64 <= FRAME);
            data.extend_from_slice(&rest[..n]);
            assert_eq!(&rest[n..n + 2], b"\r\n");
            rest = &rest[n + 2..];
        }
        let text = std::str::from_utf8(rest).expect("trailer");
        assert!(text.ends_with("\r\n\r\n"), "{text:?}");
        let lines = text[..text.len() - 4]
            .split("\r\n")
            .map(str::to_owned)
            .collect();
        (data, lines)
    }

    #[tokio::test]
    async fn frames_any_chunking_and_ends_with_the_checksum() {
        for (len, piece) in [
            (0usize, 1usize),
            (1, 1),
            (4096, 4096),
            (65_536, 1000),
            (65_537, 65_537),
            (200_000, 30_000),
            (200_000, 131_072),
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let chunks = data.chunks(piece).map(Bytes::copy_from_slice).collect();
            let body = UploadBody::new(
                Some(blob(chunks)),
                len as u64,
                Some(Checksum::Compute(Algo::Crc32)),
                BodyFailure::default(),
            );
            let mut s = AwsChunked::new(body, len as u64);
            let mut wire = Vec::new();
            while let Some(item) = s.next().await {
                wire.extend_from_slice(&item.expect("frame"));
            }
            assert_eq!(
                wire.len() as u64,
                encoded_len(len as u64, Algo::Crc32),
                "{len}/{piece}"
            );
            let (got, trailer) = decode(&wire);
            assert_eq!(got, data, "{len}/{piece}");
            let mut h = Algo::Crc32.hasher();
            h.update(&data);
            let want = format!(
                "x-amz-checksum-crc32:{}",
                Algo::Crc32.finish(h).expect("crc")
            );
            assert_eq!(trailer, vec![want]);
        }
    }

    #[test]
    fn lengths_of_every_algorithm() {
        for algo in Algo::ALL {
            let mut h = algo.hasher();
            h.update(b"abc");
            let v = algo.finish(h).expect("value");
            assert_eq!(v.len() as u64, value_len(algo), "{algo:?}");
        }
        assert_eq!(hex_digits(0), 1);
        assert_eq!(hex_digits(15), 1);
        assert_eq!(hex_digits(16), 2);
        assert_eq!(hex_digits(FRAME), 5);
    }

    #[tokio::test]
    async fn a_short_device_body_ends_in_an_error_before_the_trailer() {
        let f = BodyFailure::default();
        let body = UploadBody::new(
            Some(blob(vec![Bytes::from_static(b"abc")])),
            10,
            Some(Checksum::Compute(Algo::Crc32)),
            f.clone(),
        );
        let mut s = AwsChunked::new(body, 10);
        let mut saw_error = false;
        while let Some(item) = s.next().await {
            match item {
                Ok(b) => assert!(!b.starts_with(b"0\r\n"), "no final frame"),
                Err(_) => saw_error = true,
            }
        }
        assert!(saw_error);
        assert_eq!(
            f.take().map(|e| e.code().as_str().to_owned()).as_deref(),
            Some("IncompleteBody")
        );
    }
}
