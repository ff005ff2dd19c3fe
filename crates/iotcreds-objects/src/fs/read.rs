//! The read path: GetObject and HeadObject (conditionals, ranges, part numbers, overrides).

use std::fs::File;
use std::future::Future as _;
use std::io::{Read as _, Seek as _};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use http::{HeaderMap, HeaderValue, StatusCode};
use s3s::dto::{ETag, Timestamp};
use s3s::dto::{
    ETagCondition, GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput, Range,
    StreamingBlob,
};
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::bufpool::BufPool;
use super::cache::Lookup;
use super::format::{self, ObjectMeta};
use super::write::precondition_failed;
use super::{Bucket, FsBackend, blocking, internal, layout, no_such_key, timestamp};
use crate::zerocopy;

/// Objects up to this size are read whole in the same blocking call that opens them: one trip
/// to the blocking pool per small GET.
const INLINE_READ: u64 = 256 * 1024;

/// Room for an object's metadata when reading a small object whole in one go; a larger
/// metadata block (many user-metadata headers) falls back to piecewise reads.
const SMALL_META_GUESS: u64 = 4096;

/// On a [`zerocopy::Sendfile`] connection, selections of at least this many bytes that were
/// not read with the metadata are mapped and sent from the file.
const MAP_MIN: u64 = 64 * 1024;

/// Larger objects are streamed in reads of this size, one trip to the blocking pool each.
const READ_CHUNK: u64 = 1 << 20;

/// An object opened for reading, with its metadata. The open descriptor pins this version:
/// a concurrent overwrite or delete does not affect what is read from it.
pub(crate) struct OpenObject {
    /// `None` when the object came from the read cache: `data` then holds all of it.
    pub file: Option<File>,
    pub meta: Arc<ObjectMeta>,
    /// The first bytes of the data, when asked for (see [`open_object`]): the whole object
    /// when it is small, else its first `READ_CHUNK` bytes.
    pub data: Option<Bytes>,
}

/// Opens `key` in `bucket` (blocking) and, with `read_data`, reads the start of its data too
/// (all of it up to `INLINE_READ` bytes, else the first `READ_CHUNK`), saving the response its
/// first trip to the blocking pool. `NoSuchKey` if absent.
pub(crate) fn open_object(bucket: &Bucket, key: &str, read_data: bool) -> S3Result<OpenObject> {
    open_object_sized(bucket, key, read_data, None)
}

/// [`open_object`], knowing the data size from the index: a small object is then read whole
/// with a single positional read (metadata included) instead of three plus a `stat`.
fn open_object_sized(
    bucket: &Bucket,
    key: &str,
    read_data: bool,
    size_hint: Option<u64>,
) -> S3Result<OpenObject> {
    layout::check_key(key)?;
    let path = bucket.dir.join(layout::object_rel_path(key));
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_key()),
        Err(e) => return Err(internal(e)),
    };
    if let Some(size) = size_hint.filter(|s| read_data && *s <= INLINE_READ) {
        // Data, then metadata (a few hundred bytes of JSON), framed by header and footer.
        let max =
            usize::try_from(format::HEADER_LEN + size + SMALL_META_GUESS + format::FOOTER_LEN)
                .map_err(internal)?;
        if let Some((meta, data)) = format::read_small(&file, max).map_err(internal)? {
            if meta.key != key {
                return Err(no_such_key());
            }
            return Ok(OpenObject {
                file: Some(file),
                meta: Arc::new(meta),
                data: Some(data),
            });
        }
    }
    let sized = match size_hint {
        Some(size) => {
            format::read_meta_sized(&file, size, SMALL_META_GUESS as usize).map_err(internal)?
        }
        None => None,
    };
    let meta = match sized {
        Some(meta) => meta,
        None => format::read_meta(&file).map_err(internal)?,
    };
    if meta.key != key {
        return Err(no_such_key());
    }
    let data = if read_data {
        let len = if meta.size <= INLINE_READ {
            meta.size
        } else {
            READ_CHUNK.min(meta.size)
        };
        Some(read_chunk(&file, format::HEADER_LEN, len).map_err(internal)?)
    } else {
        None
    };
    Ok(OpenObject {
        file: Some(file),
        meta: Arc::new(meta),
        data,
    })
}

/// The open file of an [`OpenObject`] whose data is needed beyond what was read with it (only
/// objects read from their file can be: a cached object's data is whole).
pub(crate) fn file_of(file: Option<File>) -> S3Result<File> {
    file.ok_or_else(|| internal("a cached object has no file"))
}

/// Only the version `null` exists (no versioning).
pub(crate) fn check_version_id(version_id: Option<&str>) -> S3Result<()> {
    match version_id {
        None | Some("null") => Ok(()),
        Some(_) => Err(s3_error!(InvalidArgument, "Invalid version id specified")),
    }
}

fn seconds(ns: i128) -> i128 {
    ns.div_euclid(1_000_000_000)
}

fn ts_seconds(t: &Timestamp) -> i128 {
    i128::from(time::OffsetDateTime::from(t.clone()).unix_timestamp())
}

fn etag_matches(cond: &ETagCondition, etag: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == etag,
    }
}

/// The four conditional headers of a read, in AWS's (RFC 9110's) precedence: `If-Match`
/// decides and `If-Unmodified-Since` is ignored when `If-Match` is present; likewise
/// `If-None-Match` over `If-Modified-Since`. Dates compare at one-second resolution.
pub(crate) struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

pub(crate) enum Outcome {
    Proceed,
    PreconditionFailed,
    NotModified,
}

impl Conditions<'_> {
    pub(crate) fn evaluate(&self, meta: &ObjectMeta) -> Outcome {
        let lm = seconds(meta.last_modified_ns);
        if let Some(c) = self.if_match {
            if !etag_matches(c, &meta.etag) {
                return Outcome::PreconditionFailed;
            }
        } else if let Some(t) = self.if_unmodified_since
            && lm > ts_seconds(t)
        {
            return Outcome::PreconditionFailed;
        }
        if let Some(c) = self.if_none_match {
            if etag_matches(c, &meta.etag) {
                return Outcome::NotModified;
            }
        } else if let Some(t) = self.if_modified_since
            && lm <= ts_seconds(t)
        {
            return Outcome::NotModified;
        }
        Outcome::Proceed
    }

    /// Read semantics: 412 or 304 (with the object's ETag and Last-Modified).
    fn check_read(&self, meta: &ObjectMeta) -> S3Result<()> {
        match self.evaluate(meta) {
            Outcome::Proceed => Ok(()),
            Outcome::PreconditionFailed => Err(precondition_failed()),
            Outcome::NotModified => {
                let mut err = s3_error!(NotModified, "Not Modified");
                let mut h = HeaderMap::new();
                if let Ok(v) = ETag::Strong(meta.etag.clone()).to_http_header() {
                    h.insert(http::header::ETAG, v);
                }
                if let Ok(v) = HeaderValue::from_str(&http_date(meta.last_modified_ns)) {
                    h.insert(http::header::LAST_MODIFIED, v);
                }
                err.set_headers(h);
                Err(err)
            }
        }
    }
}

fn http_date(ns: i128) -> String {
    let ms = i64::try_from(ns.div_euclid(1_000_000)).unwrap_or_default();
    iotcreds_types::time_fmt::http_date(ms)
}

/// The byte range to serve: (start, length, Content-Range, parts count).
struct Selection {
    start: u64,
    len: u64,
    content_range: Option<String>,
    parts_count: Option<i32>,
}

fn select(
    meta: &ObjectMeta,
    range: Option<&Range>,
    part_number: Option<i32>,
) -> S3Result<Selection> {
    let size = meta.size;
    let multipart_count = i32::try_from(meta.parts.len()).ok().filter(|n| *n > 0);
    match (range, part_number) {
        (Some(_), Some(_)) => Err(s3_error!(
            InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter"
        )),
        (None, Some(n)) => {
            if !(1..=10_000).contains(&n) {
                return Err(s3_error!(
                    InvalidArgument,
                    "Part number must be an integer between 1 and 10000, inclusive"
                ));
            }
            let idx = usize::try_from(n - 1).map_err(internal)?;
            let (start, len) = if meta.parts.is_empty() {
                if n != 1 {
                    return Err(invalid_part_number());
                }
                (0, size)
            } else {
                let Some(part) = meta.parts.get(idx) else {
                    return Err(invalid_part_number());
                };
                let start: u64 = meta.parts[..idx].iter().map(|p| p.size).sum();
                (start, part.size)
            };
            let content_range =
                (len > 0).then(|| format!("bytes {start}-{}/{size}", start + len - 1));
            Ok(Selection {
                start,
                len,
                content_range,
                parts_count: multipart_count,
            })
        }
        (Some(r), None) => {
            let ok = if size == 0 { None } else { r.check(size).ok() };
            let Some(span) = ok else {
                let mut err = s3_error!(InvalidRange, "The requested range is not satisfiable");
                let mut h = HeaderMap::new();
                h.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/xml"),
                );
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    h.insert(http::header::CONTENT_RANGE, v);
                }
                err.set_headers(h);
                return Err(err);
            };
            let content_range = Some(format!("bytes {}-{}/{size}", span.start, span.end - 1));
            Ok(Selection {
                start: span.start,
                len: span.end - span.start,
                content_range,
                parts_count: multipart_count,
            })
        }
        (None, None) => Ok(Selection {
            start: 0,
            len: size,
            content_range: None,
            parts_count: multipart_count,
        }),
    }
}

fn invalid_part_number() -> S3Error {
    let mut err = S3Error::with_message(
        s3s::S3ErrorCode::Custom("InvalidPartNumber".into()),
        "The requested partnumber is not satisfiable",
    );
    err.set_status_code(StatusCode::RANGE_NOT_SATISFIABLE);
    err
}

/// The checksum headers of a response: only with `x-amz-checksum-mode: ENABLED`, never for a
/// byte range; a part's own checksum for `partNumber` of a multipart object.
fn checksum_for(
    meta: &ObjectMeta,
    mode: bool,
    range: bool,
    part_number: Option<i32>,
) -> Option<(String, String, String)> {
    if !mode || range {
        return None;
    }
    let c = meta.checksum.as_ref()?;
    if let Some(n) = part_number
        && !meta.parts.is_empty()
    {
        let part = meta.parts.get(usize::try_from(n - 1).ok()?)?;
        return Some((
            c.algorithm.clone(),
            part.checksum.clone()?,
            "COMPOSITE".to_owned(),
        ))
        .filter(|_| c.kind == "COMPOSITE");
    }
    let value = if c.kind == "COMPOSITE" {
        format!("{}-{}", c.value, meta.parts.len())
    } else {
        c.value.clone()
    };
    Some((c.algorithm.clone(), value, c.kind.clone()))
}

/// Output fields shared by GET and HEAD.
pub(crate) struct Common {
    pub etag: ETag,
    pub last_modified: Timestamp,
    pub content_length: i64,
    pub content_range: Option<String>,
    pub parts_count: Option<i32>,
    pub checksum: Option<(String, String, String)>,
    pub meta: Arc<ObjectMeta>,
    /// The number of tags in force (`x-amz-tagging-count`, on GetObject only).
    pub tag_count: usize,
}

struct ReadArgs<'a> {
    bucket: &'a str,
    key: &'a str,
    version_id: Option<&'a str>,
    cond: Conditions<'a>,
    range: Option<&'a Range>,
    part_number: Option<i32>,
    checksum_mode: bool,
}

impl FsBackend {
    /// Open the object and check the conditions. With `with_data`, the start of the data is
    /// read too, except (with `map_large`) for an object the index knows to be large: that
    /// one's data is mapped by the caller instead (see [`crate::zerocopy`]).
    async fn open_for_read(
        &self,
        a: ReadArgs<'_>,
        with_data: bool,
        map_large: bool,
    ) -> S3Result<(OpenObject, Common, u64)> {
        check_version_id(a.version_id)?;
        let bucket = self.inner().bucket(a.bucket)?;
        let key = a.key.to_owned();
        let (found, cached) = bucket.indexed(&key);
        let size = found.map(|(size, _)| size);
        let tag_count = found.map_or(0, |(_, tags)| tags);
        let with_data = with_data && !(map_large && size.is_some_and(|n| n > INLINE_READ));
        // A small object (by the index) is opened and read right here: an open and a pread
        // of a few pages from the page cache cost microseconds, less than the two thread
        // switches of a trip to the blocking pool (what nginx does on its event loop). Larger
        // objects, and objects the index does not know, are opened on the blocking pool,
        // unless none of their data is to be read (a HEAD, or data sent from the file):
        // opening them is then the same few small reads.
        let obj = match cached {
            Lookup::Hit(c) => {
                bucket.read_budget.hit();
                OpenObject {
                    file: None,
                    meta: c.meta,
                    data: Some(c.data),
                }
            }
            Lookup::Miss { epoch } if size.is_some_and(|n| n <= INLINE_READ || !with_data) => {
                let obj = open_object_sized(&bucket, &key, with_data, size)?;
                if let Some(data) = &obj.data
                    && data.len() as u64 == obj.meta.size
                {
                    bucket.read_budget.miss();
                    bucket.cache_store(epoch, &obj.meta, data);
                }
                obj
            }
            Lookup::Miss { .. } => {
                blocking(move || open_object_sized(&bucket, &key, with_data, size)).await?
            }
        };
        a.cond.check_read(&obj.meta)?;
        let sel = select(&obj.meta, a.range, a.part_number)?;
        let meta = obj.meta.clone();
        let common = Common {
            etag: ETag::Strong(meta.etag.clone()),
            last_modified: timestamp(meta.last_modified_ns),
            content_length: i64::try_from(sel.len).map_err(internal)?,
            content_range: sel.content_range,
            parts_count: sel.parts_count,
            checksum: checksum_for(&meta, a.checksum_mode, a.range.is_some(), a.part_number),
            meta,
            tag_count,
        };
        Ok((obj, common, sel.start))
    }

    pub(crate) async fn get_object_impl(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let i = &req.input;
        let args = ReadArgs {
            bucket: &i.bucket,
            key: &i.key,
            version_id: i.version_id.as_deref(),
            cond: Conditions {
                if_match: i.if_match.as_ref(),
                if_none_match: i.if_none_match.as_ref(),
                if_modified_since: i.if_modified_since.as_ref(),
                if_unmodified_since: i.if_unmodified_since.as_ref(),
            },
            range: i.range.as_ref(),
            part_number: i.part_number,
            checksum_mode: i
                .checksum_mode
                .as_ref()
                .is_some_and(|m| m.as_str() == "ENABLED"),
        };
        let sendfile = req.extensions.get::<zerocopy::Sendfile>().is_some();
        let (obj, c, start) = self.open_for_read(args, true, sendfile).await?;
        let len = c.content_length.unsigned_abs();
        let prefix = obj.data.unwrap_or_default();
        let end = start + len;
        let body = if end <= prefix.len() as u64 {
            // The selection lies within the bytes already read.
            FileBody::Inline(Some(prefix.slice(
                usize::try_from(start).map_err(internal)?
                    ..usize::try_from(end).map_err(internal)?,
            )))
        } else if sendfile && prefix.is_empty() && len >= MAP_MIN {
            // The connection sends it from the file: map instead of reading.
            let len = usize::try_from(len).map_err(internal)?;
            let offset = format::HEADER_LEN + start;
            FileBody::Inline(Some(
                zerocopy::map(Arc::new(file_of(obj.file)?), offset, len).map_err(internal)?,
            ))
        } else {
            let (first, from) = if start < prefix.len() as u64 {
                (
                    Some(prefix.slice(usize::try_from(start).map_err(internal)?..)),
                    prefix.len() as u64,
                )
            } else {
                (None, start)
            };
            FileBody::Chunks {
                file: Arc::new(file_of(obj.file)?),
                first,
                offset: format::HEADER_LEN + from,
                remaining: end - from,
                pending: None,
            }
        };
        let a = &c.meta.attrs;
        let (ck_algo, ck_value, ck_type) = c
            .checksum
            .clone()
            .map_or((None, None, None), |(a, v, t)| (Some(a), Some(v), Some(t)));
        let mut out = GetObjectOutput {
            body: Some(StreamingBlob::new(body)),
            accept_ranges: Some("bytes".to_owned()),
            content_length: Some(c.content_length),
            content_range: c.content_range.clone(),
            e_tag: Some(c.etag.clone()),
            last_modified: Some(c.last_modified.clone()),
            parts_count: c.parts_count,
            content_type: Some(
                a.content_type
                    .clone()
                    .unwrap_or_else(|| "binary/octet-stream".to_owned()),
            ),
            content_encoding: a.content_encoding.clone(),
            content_disposition: a.content_disposition.clone(),
            content_language: a.content_language.clone(),
            cache_control: a.cache_control.clone(),
            expires: a
                .expires
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                .map(Into::into),
            website_redirect_location: a.website_redirect_location.clone(),
            metadata: (!a.metadata.is_empty()).then(|| {
                a.metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }),
            checksum_type: ck_type.map(Into::into),
            tag_count: (c.tag_count > 0).then(|| i32::try_from(c.tag_count).unwrap_or(i32::MAX)),
            ..GetObjectOutput::default()
        };
        set_checksum(ck_algo.as_deref(), ck_value, |algo, v| match algo {
            "CRC32" => out.checksum_crc32 = Some(v),
            "CRC32C" => out.checksum_crc32c = Some(v),
            "CRC64NVME" => out.checksum_crc64nvme = Some(v),
            "SHA1" => out.checksum_sha1 = Some(v),
            _ => out.checksum_sha256 = Some(v),
        });
        let i = &req.input;
        override_str(&mut out.content_type, i.response_content_type.as_ref());
        override_str(
            &mut out.content_language,
            i.response_content_language.as_ref(),
        );
        override_str(&mut out.cache_control, i.response_cache_control.as_ref());
        override_str(
            &mut out.content_disposition,
            i.response_content_disposition.as_ref(),
        );
        override_str(
            &mut out.content_encoding,
            i.response_content_encoding.as_ref(),
        );
        if let Some(e) = &i.response_expires {
            out.expires = Some(e.clone());
        }
        Ok(S3Response::new(out))
    }

    /// The stored metadata of an object (what `GetObjectAttributes` answers from).
    pub(super) async fn meta_of(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<Arc<ObjectMeta>> {
        let args = ReadArgs {
            bucket,
            key,
            version_id,
            cond: Conditions {
                if_match: None,
                if_none_match: None,
                if_modified_since: None,
                if_unmodified_since: None,
            },
            range: None,
            part_number: None,
            checksum_mode: false,
        };
        let (_obj, c, _) = self.open_for_read(args, false, false).await?;
        Ok(c.meta)
    }

    pub(crate) async fn head_object_impl(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let i = &req.input;
        let args = ReadArgs {
            bucket: &i.bucket,
            key: &i.key,
            version_id: i.version_id.as_deref(),
            cond: Conditions {
                if_match: i.if_match.as_ref(),
                if_none_match: i.if_none_match.as_ref(),
                if_modified_since: i.if_modified_since.as_ref(),
                if_unmodified_since: i.if_unmodified_since.as_ref(),
            },
            range: i.range.as_ref(),
            part_number: i.part_number,
            checksum_mode: i
                .checksum_mode
                .as_ref()
                .is_some_and(|m| m.as_str() == "ENABLED"),
        };
        let (_obj, c, _) = self.open_for_read(args, false, false).await?;
        let a = &c.meta.attrs;
        let (ck_algo, ck_value, ck_type) = c
            .checksum
            .clone()
            .map_or((None, None, None), |(a, v, t)| (Some(a), Some(v), Some(t)));
        let partial = c.content_range.is_some();
        let mut out = HeadObjectOutput {
            accept_ranges: Some("bytes".to_owned()),
            content_length: Some(c.content_length),
            content_range: c.content_range,
            e_tag: Some(c.etag),
            last_modified: Some(c.last_modified),
            parts_count: c.parts_count,
            content_type: Some(
                a.content_type
                    .clone()
                    .unwrap_or_else(|| "binary/octet-stream".to_owned()),
            ),
            content_encoding: a.content_encoding.clone(),
            content_disposition: a.content_disposition.clone(),
            content_language: a.content_language.clone(),
            cache_control: a.cache_control.clone(),
            expires: a
                .expires
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                .map(Into::into),
            website_redirect_location: a.website_redirect_location.clone(),
            metadata: (!a.metadata.is_empty()).then(|| {
                a.metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }),
            checksum_type: ck_type.map(Into::into),
            ..HeadObjectOutput::default()
        };
        set_checksum(ck_algo.as_deref(), ck_value, |algo, v| match algo {
            "CRC32" => out.checksum_crc32 = Some(v),
            "CRC32C" => out.checksum_crc32c = Some(v),
            "CRC64NVME" => out.checksum_crc64nvme = Some(v),
            "SHA1" => out.checksum_sha1 = Some(v),
            _ => out.checksum_sha256 = Some(v),
        });
        let i = &req.input;
        override_str(&mut out.content_type, i.response_content_type.as_ref());
        override_str(
            &mut out.content_language,
            i.response_content_language.as_ref(),
        );
        override_str(&mut out.cache_control, i.response_cache_control.as_ref());
        override_str(
            &mut out.content_disposition,
            i.response_content_disposition.as_ref(),
        );
        override_str(
            &mut out.content_encoding,
            i.response_content_encoding.as_ref(),
        );
        if let Some(e) = &i.response_expires {
            out.expires = Some(e.clone());
        }
        let mut resp = S3Response::new(out);
        if partial {
            resp.status = Some(StatusCode::PARTIAL_CONTENT);
        }
        Ok(resp)
    }
}

pub(crate) fn set_checksum(
    algo: Option<&str>,
    value: Option<String>,
    mut set: impl FnMut(&str, String),
) {
    if let (Some(a), Some(v)) = (algo, value) {
        set(a, v);
    }
}

fn override_str(field: &mut Option<String>, value: Option<&String>) {
    if let Some(v) = value {
        *field = Some(v.clone());
    }
}

/// The response body: the object's data range, read from the pinned descriptor, with an exact
/// length so that hyper sends `Content-Length`.
enum FileBody {
    /// A small object read with its metadata (`None` once sent).
    Inline(Option<Bytes>),
    /// A larger one: the bytes already read, then `READ_CHUNK` pieces read on the blocking
    /// pool (`offset` and `remaining` count from after `first`).
    Chunks {
        file: Arc<File>,
        first: Option<Bytes>,
        offset: u64,
        remaining: u64,
        pending: Option<tokio::task::JoinHandle<std::io::Result<Bytes>>>,
    },
}

/// The pool of `READ_CHUNK`-byte read buffers.
fn read_buffers() -> &'static Arc<BufPool> {
    static POOL: std::sync::OnceLock<Arc<BufPool>> = std::sync::OnceLock::new();
    // READ_CHUNK is 1 MiB: it fits a usize.
    POOL.get_or_init(|| BufPool::new(READ_CHUNK as usize))
}

/// Read `len` (at most `READ_CHUNK`) bytes at `offset` of a descriptor this response owns,
/// into a recycled buffer. `read_to_end` fills the buffer's spare capacity without zeroing it.
fn read_chunk(file: &File, offset: u64, len: u64) -> std::io::Result<Bytes> {
    // Small reads come from the heap; large ones from the pool (a fresh large allocation is
    // an mmap whose pages the kernel must fault in and zero).
    let pooled = len > 64 * 1024;
    let mut buf = if pooled {
        read_buffers().take()
    } else {
        Vec::with_capacity(usize::try_from(len).map_err(std::io::Error::other)?)
    };
    let mut f = file;
    f.seek(std::io::SeekFrom::Start(offset))?;
    f.take(len).read_to_end(&mut buf)?;
    if buf.len() as u64 != len {
        // The file is shorter than its metadata says (a damaged disk): fail the response
        // instead of sending it short.
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(if pooled {
        read_buffers().freeze(buf)
    } else {
        Bytes::from(buf)
    })
}

impl Stream for FileBody {
    type Item = Result<Bytes, s3s::StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut *self {
            FileBody::Inline(data) => Poll::Ready(data.take().filter(|d| !d.is_empty()).map(Ok)),
            FileBody::Chunks {
                file,
                first,
                offset,
                remaining,
                pending,
            } => {
                if let Some(b) = first.take() {
                    return Poll::Ready(Some(Ok(b)));
                }
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let handle = pending.get_or_insert_with(|| {
                    let (file, at, len) = (Arc::clone(file), *offset, (*remaining).min(READ_CHUNK));
                    tokio::task::spawn_blocking(move || read_chunk(&file, at, len))
                });
                match Pin::new(handle).poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(result) => {
                        *pending = None;
                        match result.map_err(std::io::Error::other).and_then(|r| r) {
                            Ok(b) => {
                                *offset += b.len() as u64;
                                *remaining -= b.len() as u64;
                                Poll::Ready(Some(Ok(b)))
                            }
                            Err(e) => {
                                *remaining = 0;
                                Poll::Ready(Some(Err(Box::new(e))))
                            }
                        }
                    }
                }
            }
        }
    }
}

impl ByteStream for FileBody {
    fn remaining_length(&self) -> RemainingLength {
        let remaining = match self {
            FileBody::Inline(data) => data.as_ref().map_or(0, |d| d.len() as u64),
            FileBody::Chunks {
                first, remaining, ..
            } => first.as_ref().map_or(0, |b| b.len() as u64) + *remaining,
        };
        usize::try_from(remaining)
            .map_or_else(|_| RemainingLength::unknown(), RemainingLength::new_exact)
    }
}
