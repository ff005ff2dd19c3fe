//! CopyObject and the copy-source handling shared with UploadPartCopy.

use std::io::SeekFrom;
use std::sync::Arc;

use futures::StreamExt as _;
use s3s::dto::{
    CopyObjectInput, CopyObjectOutput, CopyObjectResult, CopySource, ETag, ETagCondition, Timestamp,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio_util::io::ReaderStream;

use super::checksum::Algo;
use super::format::{self, ObjectMeta, StoredChecksum};
use super::object::{AttrInput, Unsupported, attrs_from, put_checksum};
use super::read::{
    Conditions, OpenObject, Outcome, check_version_id, file_of, open_object, set_checksum,
};
use super::write::{MAX_SINGLE_UPLOAD, Staged, commit_object, precondition_failed, stage_stream};
use super::{FsBackend, Inner, blocking, internal, now_ns, tagging, timestamp};

/// The `x-amz-copy-source-if-*` headers. Same precedence as reads, but every failure is 412.
pub(crate) struct CopyConditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

/// Resolves and opens a copy source (bucket/key, version `null` only) and checks the copy
/// conditionals. The returned descriptor pins the source version for the whole copy.
pub(crate) async fn open_source(
    inner: &Arc<Inner>,
    source: &CopySource,
    cond: &CopyConditions<'_>,
) -> S3Result<(String, String, OpenObject)> {
    let CopySource::Bucket {
        bucket,
        key,
        version_id,
    } = source
    else {
        return Err(s3_error!(
            NotImplemented,
            "Access point and Outpost copy sources are not supported by this endpoint."
        ));
    };
    check_version_id(version_id.as_deref())?;
    let src_bucket = inner.bucket(bucket)?;
    let k = key.to_string();
    let obj = blocking(move || open_object(&src_bucket, &k, false)).await?;
    let c = Conditions {
        if_match: cond.if_match,
        if_none_match: cond.if_none_match,
        if_modified_since: cond.if_modified_since,
        if_unmodified_since: cond.if_unmodified_since,
    };
    match c.evaluate(&obj.meta) {
        Outcome::Proceed => Ok((bucket.to_string(), key.to_string(), obj)),
        Outcome::PreconditionFailed | Outcome::NotModified => Err(precondition_failed()),
    }
}

/// Streams `len` bytes of the source's data from `start` into a new temporary object file.
pub(crate) async fn stage_copy(
    inner: &Arc<Inner>,
    src: OpenObject,
    start: u64,
    len: u64,
    algo: Algo,
) -> S3Result<Staged> {
    let mut file = tokio::fs::File::from_std(file_of(src.file)?);
    file.seek(SeekFrom::Start(format::HEADER_LEN + start))
        .await
        .map_err(internal)?;
    let stream =
        ReaderStream::with_capacity(file.take(len), 256 * 1024).map(|r| r.map_err(internal));
    let staged = stage_stream(inner, stream, algo, len).await?;
    if staged.size != len {
        return Err(internal("copy source shorter than its metadata"));
    }
    Ok(staged)
}

/// Parses `x-amz-copy-source-range: bytes=first-last` against the source size.
pub(crate) fn parse_copy_range(range: Option<&str>, size: u64) -> S3Result<(u64, u64)> {
    let Some(r) = range else { return Ok((0, size)) };
    let form = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (a, b) = r
        .strip_prefix("bytes=")
        .and_then(|s| s.split_once('-'))
        .ok_or_else(form)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return Err(form());
    }
    let (first, last): (u64, u64) = (
        a.parse().map_err(|_| form())?,
        b.parse().map_err(|_| form())?,
    );
    if first > last {
        return Err(form());
    }
    if last >= size {
        return Err(s3_error!(
            InvalidArgument,
            "Range specified is not valid for source object of size: {size}"
        ));
    }
    Ok((first, last - first + 1))
}

impl FsBackend {
    pub(crate) async fn copy_object_impl(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let i = req.input;
        let inner = Arc::clone(self.inner());
        let dst_bucket = inner.bucket(&i.bucket)?;
        super::layout::check_key(&i.key)?;
        Unsupported {
            acl: i.acl.as_ref().map(s3s::dto::ObjectCannedACL::as_str),
            grants: i.grant_full_control.is_some()
                || i.grant_read.is_some()
                || i.grant_read_acp.is_some()
                || i.grant_write_acp.is_some(),
            sse: i.server_side_encryption.is_some()
                || i.ssekms_key_id.is_some()
                || i.ssekms_encryption_context.is_some()
                || i.bucket_key_enabled == Some(true),
            sse_customer: i.sse_customer_algorithm.is_some()
                || i.sse_customer_key.is_some()
                || i.copy_source_sse_customer_algorithm.is_some()
                || i.copy_source_sse_customer_key.is_some(),
            object_lock: i.object_lock_mode.is_some()
                || i.object_lock_retain_until_date.is_some()
                || i.object_lock_legal_hold_status.is_some(),
            storage_class: i.storage_class.as_ref().map(s3s::dto::StorageClass::as_str),
        }
        .check()?;
        let replace_tags = match i
            .tagging_directive
            .as_ref()
            .map(s3s::dto::TaggingDirective::as_str)
        {
            None | Some("COPY") => false,
            Some("REPLACE") => true,
            Some(_) => return Err(s3_error!(InvalidArgument, "Unknown tagging directive.")),
        };
        let replace = match i
            .metadata_directive
            .as_ref()
            .map(s3s::dto::MetadataDirective::as_str)
        {
            None | Some("COPY") => false,
            Some("REPLACE") => true,
            Some(_) => return Err(s3_error!(InvalidArgument, "Unknown metadata directive.")),
        };
        let requested_algo = match i.checksum_algorithm.as_ref() {
            Some(a) => Some(Algo::from_name(a.as_str()).ok_or_else(|| {
                s3_error!(
                    InvalidRequest,
                    "Checksum algorithm provided is unsupported."
                )
            })?),
            None => None,
        };
        let cond = CopyConditions {
            if_match: i.copy_source_if_match.as_ref(),
            if_none_match: i.copy_source_if_none_match.as_ref(),
            if_modified_since: i.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: i.copy_source_if_unmodified_since.as_ref(),
        };
        let (src_bucket, src_key, src) = open_source(&inner, &i.copy_source, &cond).await?;
        let same = src_bucket == i.bucket && src_key == i.key;
        if same && !replace && i.website_redirect_location.is_none() && requested_algo.is_none() {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        if src.meta.size > MAX_SINGLE_UPLOAD {
            return Err(s3_error!(
                InvalidRequest,
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_SINGLE_UPLOAD}"
            ));
        }
        let mut attrs = if replace {
            attrs_from(&AttrInput {
                content_type: i.content_type.as_deref(),
                content_encoding: i.content_encoding.as_deref(),
                content_disposition: i.content_disposition.as_deref(),
                content_language: i.content_language.as_deref(),
                cache_control: i.cache_control.as_deref(),
                expires: i.expires.as_ref(),
                website_redirect_location: i.website_redirect_location.as_deref(),
                metadata: i.metadata.as_ref(),
                tagging: None,
            })?
        } else {
            let mut a = src.meta.attrs.clone();
            if let Some(w) = &i.website_redirect_location {
                a.website_redirect_location = Some(w.clone());
            }
            a
        };
        // The tags follow the tagging directive, not the metadata directive: the source's tags
        // in force (its tag file's, if any), or the request's `x-amz-tagging`.
        attrs.tags = if replace_tags {
            i.tagging
                .as_deref()
                .map(iotcreds_types::s3_tags::parse_header)
                .transpose()
                .map_err(tagging::tag_error)?
                .unwrap_or_default()
        } else {
            let source_bucket = inner.bucket(&src_bucket)?;
            tagging::tags_in_force(&source_bucket, &src.meta)
        };
        // The copy is a new single-part object: its ETag is the MD5 of the data, and its
        // checksum the requested algorithm, else the source's, else the default.
        let algo = requested_algo
            .or_else(|| {
                src.meta
                    .checksum
                    .as_ref()
                    .and_then(|c| Algo::from_name(&c.algorithm))
            })
            .unwrap_or(Algo::Crc64Nvme);
        let size = src.meta.size;
        let staged = stage_copy(&inner, src, 0, size, algo).await?;
        let meta = ObjectMeta {
            key: i.key.clone(),
            size: staged.size,
            etag: staged.hex_md5(),
            last_modified_ns: now_ns(),
            attrs,
            checksum: Some(StoredChecksum {
                algorithm: algo.name().to_owned(),
                kind: "FULL_OBJECT".to_owned(),
                value: staged.checksum.clone(),
            }),
            parts: Vec::new(),
            part_number: None,
            upload_id: None,
        };
        let tmp = staged.finish(&meta).await?;
        let meta2 = meta.clone();
        blocking(move || commit_object(&dst_bucket, tmp, &meta2, |_| Ok(()))).await?;
        let mut result = CopyObjectResult {
            e_tag: Some(ETag::Strong(meta.etag.clone())),
            last_modified: Some(timestamp(meta.last_modified_ns)),
            checksum_type: Some("FULL_OBJECT".to_owned().into()),
            ..CopyObjectResult::default()
        };
        let c = meta.checksum.clone();
        put_checksum!(
            result,
            c.as_ref().map(|c| c.algorithm.as_str()),
            c.as_ref().map(|c| c.value.clone())
        );
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(result),
            ..CopyObjectOutput::default()
        }))
    }
}
