//! The object file format (also used for staged multipart parts).
//!
//! ```text
//! offset 0      8 bytes   magic "IOCOBJ\r\n"
//!        8      4 bytes   format version, u32 little-endian (1)
//!       12      4 bytes   zero (reserved)
//!       16      size      object data
//!  16+size      M bytes   metadata: UTF-8 JSON (ObjectMeta)
//!  end-16       8 bytes   M, u64 little-endian
//!  end-8        4 bytes   CRC32C of the metadata JSON, u32 little-endian
//!  end-4        4 bytes   end magic "IOCE"
//! ```
//!
//! The data is streamed straight after the fixed 16-byte header while MD5 and checksums are
//! computed; the metadata (which contains those digests) is appended once the data is complete.
//! A single pass, no buffering of the object, and no rewrite. Readers locate the metadata from the
//! fixed-size footer, so reading an object's metadata (at open, for HEAD, for listings) never
//! touches its data. The file is only ever made visible by `rename`, after `fsync`, so data and
//! metadata change together.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt as _;

use s3s::crypto::{Checksum as _, Crc32c};
use serde::{Deserialize, Serialize};

pub(crate) const HEAD_MAGIC: [u8; 8] = *b"IOCOBJ\r\n";
pub(crate) const END_MAGIC: [u8; 4] = *b"IOCE";
pub(crate) const FORMAT_VERSION: u32 = 1;
pub(crate) const HEADER_LEN: u64 = 16;
pub(crate) const FOOTER_LEN: u64 = 16;
/// Upper bound on the metadata JSON (10 000 parts with checksums fit comfortably).
const MAX_META_LEN: u64 = 16 << 20;

/// The fixed 16-byte header.
pub(crate) fn header() -> [u8; 16] {
    let mut h = [0u8; 16];
    h[..8].copy_from_slice(&HEAD_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

/// The metadata JSON plus footer, to append after the data.
pub(crate) fn trailer(meta: &ObjectMeta) -> io::Result<Vec<u8>> {
    let json = serde_json::to_vec(meta).map_err(io::Error::other)?;
    let mut out = Vec::with_capacity(json.len() + 16);
    out.extend_from_slice(&json);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&u32::from_be_bytes(Crc32c::checksum(&json)).to_le_bytes());
    out.extend_from_slice(&END_MAGIC);
    Ok(out)
}

/// Content headers, user metadata and tags: what a multipart upload fixes at creation, and (but
/// for the tags, which follow the tagging directive) what CopyObject's `COPY` directive carries
/// over.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Attrs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `Expires`, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_redirect_location: Option<String>,
    /// `x-amz-meta-*` (names without the prefix, lower case).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The object's tags when it was written (`x-amz-tagging`, or the copy source's), in the
    /// order given. PutObjectTagging and DeleteObjectTagging change them later through a tag
    /// file beside the object (the `tagging` module); the index holds the tags in force.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
}

/// A stored checksum. `value` is the base64 digest; for a composite multipart checksum it is
/// the base64 checksum-of-checksums without the `-N` suffix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredChecksum {
    /// `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1` or `SHA256`.
    pub algorithm: String,
    /// `FULL_OBJECT` or `COMPOSITE`.
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// Boundaries and digests of one part of a multipart object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartInfo {
    pub size: u64,
    /// Hex MD5 of the part.
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// Everything known about a stored object (or staged part), in its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ObjectMeta {
    /// The full key: checked on every read, so a (theoretical) hash collision reads as absent.
    pub key: String,
    pub size: u64,
    /// ETag value without quotes: hex MD5, or `hex(md5(md5_1‖…‖md5_N))-N`.
    pub etag: String,
    /// Last-Modified, Unix nanoseconds.
    pub last_modified_ns: i128,
    #[serde(flatten)]
    pub attrs: Attrs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<StoredChecksum>,
    /// Parts of a multipart object, in order (empty for a single-part object).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartInfo>,
    /// Set on staged part files only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_number: Option<u32>,
    /// The multipart upload the object was completed from: a CompleteMultipartUpload of that
    /// upload retried after it succeeded answers as the first one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
}

/// Reads and validates the header and footer of an object file; returns its metadata. The data
/// is at `HEADER_LEN .. HEADER_LEN + meta.size`.
pub(crate) fn read_meta(file: &File) -> io::Result<ObjectMeta> {
    let len = file.metadata()?.len();
    if len < HEADER_LEN + FOOTER_LEN {
        return Err(bad("too short"));
    }
    let mut head = [0u8; 16];
    file.read_exact_at(&mut head, 0)?;
    let mut foot = [0u8; 16];
    file.read_exact_at(&mut foot, len - FOOTER_LEN)?;
    let (meta_off, meta_len) = check_frame(&head, &foot, len)?;
    let mut json = vec![0u8; usize::try_from(meta_len).map_err(|_| bad("bad metadata length"))?];
    file.read_exact_at(&mut json, meta_off)?;
    parse_meta(&foot, &json, meta_off)
}

/// [`read_meta`] for a file whose data length the index says is `data_len`: the header and
/// everything after the data, in two positional reads (no `stat`). `None` when the file does
/// not end within `tail_guess` bytes after the data (other length, or a large metadata block):
/// the caller then uses [`read_meta`].
pub(crate) fn read_meta_sized(
    file: &File,
    data_len: u64,
    tail_guess: usize,
) -> io::Result<Option<ObjectMeta>> {
    let mut head = [0u8; 16];
    file.read_exact_at(&mut head, 0)?;
    let start = HEADER_LEN + data_len;
    let mut tail = vec![0u8; tail_guess + 1];
    let n = read_up_to(file, &mut tail, start)?;
    if n > tail_guess || (n as u64) < FOOTER_LEN {
        return Ok(None);
    }
    let len = start + n as u64;
    let foot: [u8; 16] = tail[n - 16..n].try_into().map_err(|_| bad("too short"))?;
    let (meta_off, meta_len) = check_frame(&head, &foot, len)?;
    if meta_off != start {
        return Ok(None);
    }
    // meta_len ≤ n - FOOTER_LEN: check_frame bounded it by the file length.
    let json = &tail[..usize::try_from(meta_len).map_err(|_| bad("bad metadata length"))?];
    parse_meta(&foot, json, meta_off).map(Some)
}

/// Read a whole object file of at most `max_len` bytes with one positional read and take it
/// apart in memory: its metadata and its data. `None` when the file is longer (the caller
/// then reads it piecewise).
pub(crate) fn read_small(
    file: &File,
    max_len: usize,
) -> io::Result<Option<(ObjectMeta, bytes::Bytes)>> {
    let mut buf = vec![0u8; max_len + 1];
    let n = read_up_to(file, &mut buf, 0)?;
    if n > max_len {
        return Ok(None);
    }
    buf.truncate(n);
    let len = n as u64;
    if len < HEADER_LEN + FOOTER_LEN {
        return Err(bad("too short"));
    }
    let head: [u8; 16] = buf[..16].try_into().map_err(|_| bad("too short"))?;
    let foot: [u8; 16] = buf[n - 16..].try_into().map_err(|_| bad("too short"))?;
    let (meta_off, meta_len) = check_frame(&head, &foot, len)?;
    // Both fit: they lie within the n bytes just read.
    let (off, mlen) = (meta_off as usize, meta_len as usize);
    let meta = parse_meta(&foot, &buf[off..off + mlen], meta_off)?;
    let data = bytes::Bytes::from(buf).slice(HEADER_LEN as usize..off);
    Ok(Some((meta, data)))
}

/// Fill `buf` from `offset`, or as much of it as the file has: the number of bytes read.
fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            // A regular file reads short only at its end: no second call to learn that.
            Ok(k) if n + k < buf.len() => return Ok(n + k),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("object file: {what}"))
}

/// Check the header and footer of a file of `len` bytes; the metadata's offset and length.
fn check_frame(head: &[u8; 16], foot: &[u8; 16], len: u64) -> io::Result<(u64, u64)> {
    if head[..8] != HEAD_MAGIC {
        return Err(bad("bad magic"));
    }
    let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if version != FORMAT_VERSION {
        return Err(bad("unknown format version"));
    }
    if foot[12..] != END_MAGIC {
        return Err(bad("bad end magic"));
    }
    let mut m = [0u8; 8];
    m.copy_from_slice(&foot[..8]);
    let meta_len = u64::from_le_bytes(m);
    if meta_len > MAX_META_LEN || meta_len > len - HEADER_LEN - FOOTER_LEN {
        return Err(bad("bad metadata length"));
    }
    Ok((len - FOOTER_LEN - meta_len, meta_len))
}

/// Verify the metadata's checksum (in the footer) and decode it.
fn parse_meta(foot: &[u8; 16], json: &[u8], meta_off: u64) -> io::Result<ObjectMeta> {
    let crc = u32::from_le_bytes([foot[8], foot[9], foot[10], foot[11]]);
    if crc != u32::from_be_bytes(Crc32c::checksum(json)) {
        return Err(bad("metadata checksum mismatch"));
    }
    let meta: ObjectMeta = serde_json::from_slice(json).map_err(|_| bad("bad metadata"))?;
    if meta.size != meta_off - HEADER_LEN {
        return Err(bad("size mismatch"));
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn sample() -> ObjectMeta {
        ObjectMeta {
            key: "a/../b".into(),
            size: 5,
            etag: "5d41402abc4b2a76b9719d911017c592".into(),
            last_modified_ns: 1_700_000_000_123_456_789,
            attrs: Attrs {
                content_type: Some("text/plain".into()),
                metadata: [("k".to_owned(), "v".to_owned())].into(),
                ..Attrs::default()
            },
            checksum: None,
            parts: vec![],
            part_number: None,
            upload_id: None,
        }
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        f.write_all(bytes).expect("write");
        f
    }

    #[test]
    fn round_trip() {
        let meta = sample();
        let mut bytes = header().to_vec();
        bytes.extend_from_slice(b"hello");
        bytes.extend(trailer(&meta).expect("trailer"));
        let f = write(&bytes);
        assert_eq!(read_meta(f.as_file()).expect("read"), meta);
    }

    #[test]
    fn small_files_are_read_whole_or_left_to_piecewise_reads() {
        let meta = sample();
        let mut bytes = header().to_vec();
        bytes.extend_from_slice(b"hello");
        bytes.extend(trailer(&meta).expect("trailer"));
        let f = write(&bytes);
        let (m, data) = read_small(f.as_file(), bytes.len())
            .expect("read")
            .expect("fits");
        assert_eq!((m, &data[..]), (meta.clone(), &b"hello"[..]));
        // One byte short of the room needed: not read whole.
        assert!(
            read_small(f.as_file(), bytes.len() - 1)
                .expect("read")
                .is_none()
        );
        // The same corruption checks as read_meta.
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN as usize + 6] ^= 1;
        assert!(read_small(write(&flipped).as_file(), 4096).is_err());
        assert!(read_small(write(&bytes[..bytes.len() - 1]).as_file(), 4096).is_err());
        assert!(read_small(write(b"short").as_file(), 4096).is_err());
    }

    #[test]
    fn corruption_is_detected() {
        let meta = sample();
        let mut good = header().to_vec();
        good.extend_from_slice(b"hello");
        good.extend(trailer(&meta).expect("trailer"));
        // truncated (a partial write can never be renamed in, but a damaged disk can do this)
        assert!(read_meta(write(&good[..good.len() - 1]).as_file()).is_err());
        // extra data byte: size no longer matches
        let mut extra = header().to_vec();
        extra.extend_from_slice(b"hello!");
        extra.extend(trailer(&meta).expect("trailer"));
        assert!(read_meta(write(&extra).as_file()).is_err());
        // flipped metadata byte
        let mut flipped = good.clone();
        flipped[HEADER_LEN as usize + 6] ^= 1;
        assert!(read_meta(write(&flipped).as_file()).is_err());
        // wrong magic
        let mut magic = good;
        magic[0] = b'X';
        assert!(read_meta(write(&magic).as_file()).is_err());
    }
}
