//! Multipart uploads: create, parts (upload and copy), abort, and the two listings.
//! Completion is in `complete`.

use std::path::PathBuf;
use std::sync::Arc;

use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CommonPrefix, CopyPartResult,
    CreateMultipartUploadInput, CreateMultipartUploadOutput, ETag, Initiator,
    ListMultipartUploadsInput, ListMultipartUploadsOutput, ListPartsInput, ListPartsOutput,
    MultipartUpload, Part, UploadPartCopyInput, UploadPartCopyOutput, UploadPartInput,
    UploadPartOutput,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};

use super::bucket::{owner, write_json_file};
use super::checksum::{self, Algo};
use super::copy::{CopyConditions, open_source, parse_copy_range, stage_copy};
use super::format::{self, Attrs, ObjectMeta, StoredChecksum};
use super::list::{Entry, IndexKey, Walk, max_items, url_encode, url_encoding};
use super::object::{AttrInput, Unsupported, attrs_from, put_checksum};
use super::read::set_checksum;
use super::write::{MAX_SINGLE_UPLOAD, TempFile, stage_body};
use super::{
    Bucket, BucketState, FsBackend, UploadSummary, blocking, internal, layout, no_such_upload,
    now_ns, timestamp,
};

/// `upload.json`: fixed at CreateMultipartUpload, applied to the completed object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadMeta {
    pub key: String,
    pub upload_id: String,
    pub initiated_ns: i128,
    #[serde(flatten)]
    pub attrs: Attrs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
}

impl UploadMeta {
    /// The part checksum algorithm: the upload's, or the default CRC64NVME.
    pub(crate) fn algo(&self) -> Algo {
        self.checksum_algorithm
            .as_deref()
            .and_then(Algo::from_name)
            .unwrap_or(Algo::Crc64Nvme)
    }

    pub(crate) fn summary(&self) -> UploadSummary {
        UploadSummary {
            initiated_ns: self.initiated_ns,
            checksum_algorithm: self.checksum_algorithm.clone(),
            checksum_type: self.checksum_type.clone(),
        }
    }
}

pub(crate) fn upload_dir(bucket: &Bucket, upload_id: &str) -> S3Result<PathBuf> {
    if !layout::valid_upload_id(upload_id) {
        return Err(no_such_upload());
    }
    Ok(bucket.dir.join(layout::UPLOADS_DIR).join(upload_id))
}

pub(crate) fn has_upload(st: &BucketState, key: &str, upload_id: &str) -> bool {
    st.uploads
        .get(&IndexKey::new(key.to_owned()))
        .is_some_and(|m| m.contains_key(upload_id))
}

pub(crate) fn check_part_number(n: i32) -> S3Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            )
        })
}

/// Loads an upload's metadata after checking it is live and belongs to `key` (blocking).
pub(crate) fn load_upload(bucket: &Bucket, key: &str, upload_id: &str) -> S3Result<UploadMeta> {
    layout::check_key(key)?;
    let dir = upload_dir(bucket, upload_id)?;
    if !has_upload(&*bucket.lock_live()?, key, upload_id) {
        return Err(no_such_upload());
    }
    let raw = match std::fs::read(dir.join(layout::UPLOAD_META)) {
        Ok(raw) => raw,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_upload()),
        Err(e) => return Err(internal(e)),
    };
    let meta: UploadMeta = serde_json::from_slice(&raw).map_err(internal)?;
    if meta.key != key {
        return Err(no_such_upload());
    }
    Ok(meta)
}

/// Publishes a staged part file as part `n` of a live upload (blocking).
fn commit_part(bucket: &Bucket, upload_id: &str, key: &str, n: u32, tmp: TempFile) -> S3Result<()> {
    let dir = upload_dir(bucket, upload_id)?;
    {
        let st = bucket.lock_live()?;
        if !has_upload(&st, key, upload_id) {
            return Err(no_such_upload());
        }
        tmp.persist(&dir.join(layout::part_file_name(n)))
            .map_err(internal)?;
    }
    layout::fsync_dir(&dir).map_err(internal)
}

fn part_meta(key: &str, n: u32, staged: &super::write::Staged, algo: Algo) -> ObjectMeta {
    ObjectMeta {
        key: key.to_owned(),
        size: staged.size,
        etag: staged.hex_md5(),
        last_modified_ns: now_ns(),
        attrs: Attrs::default(),
        checksum: Some(StoredChecksum {
            algorithm: algo.name().to_owned(),
            kind: "FULL_OBJECT".to_owned(),
            value: staged.checksum.clone(),
        }),
        parts: Vec::new(),
        part_number: Some(n),
        upload_id: None,
    }
}

impl FsBackend {
    pub(crate) async fn create_multipart_upload_impl(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let i = req.input;
        let inner = Arc::clone(self.inner());
        let bucket = inner.bucket(&i.bucket)?;
        layout::check_key(&i.key)?;
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
                || i.sse_customer_key_md5.is_some(),
            object_lock: i.object_lock_mode.is_some()
                || i.object_lock_retain_until_date.is_some()
                || i.object_lock_legal_hold_status.is_some(),
            storage_class: i.storage_class.as_ref().map(s3s::dto::StorageClass::as_str),
        }
        .check()?;
        let algo = match i.checksum_algorithm.as_ref() {
            Some(a) => Some(Algo::from_name(a.as_str()).ok_or_else(|| {
                s3_error!(
                    InvalidRequest,
                    "Checksum algorithm provided is unsupported."
                )
            })?),
            None => None,
        };
        let kind = match (
            algo,
            i.checksum_type.as_ref().map(s3s::dto::ChecksumType::as_str),
        ) {
            (None, Some(_)) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
                ));
            }
            (None, None) => None,
            (Some(a), None) => Some(if a.supports_composite() {
                "COMPOSITE"
            } else {
                "FULL_OBJECT"
            }),
            (Some(a), Some("FULL_OBJECT")) if a.supports_full_object() => Some("FULL_OBJECT"),
            (Some(a), Some("COMPOSITE")) if a.supports_composite() => Some("COMPOSITE"),
            (Some(a), Some(t)) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The {t} checksum type cannot be used with the {} checksum algorithm.",
                    a.name().to_lowercase()
                ));
            }
        };
        let attrs = attrs_from(&AttrInput {
            content_type: i.content_type.as_deref(),
            content_encoding: i.content_encoding.as_deref(),
            content_disposition: i.content_disposition.as_deref(),
            content_language: i.content_language.as_deref(),
            cache_control: i.cache_control.as_deref(),
            expires: i.expires.as_ref(),
            website_redirect_location: i.website_redirect_location.as_deref(),
            metadata: i.metadata.as_ref(),
            tagging: i.tagging.as_deref(),
        })?;
        let initiated_ns = now_ns();
        let meta = UploadMeta {
            key: i.key.clone(),
            upload_id: layout::new_upload_id(initiated_ns),
            initiated_ns,
            attrs,
            checksum_algorithm: algo.map(|a| a.name().to_owned()),
            checksum_type: kind.map(str::to_owned),
        };
        let m = meta.clone();
        blocking(move || {
            let tmp = TempFile::reserve(&inner, "upload");
            let build = || -> std::io::Result<()> {
                layout::create_dir(tmp.path())?;
                write_json_file(&tmp.path().join(layout::UPLOAD_META), &m)?;
                layout::fsync_dir(tmp.path())
            };
            build().map_err(internal)?;
            let uploads = bucket.dir.join(layout::UPLOADS_DIR);
            {
                let mut st = bucket.lock_live()?;
                tmp.persist(&uploads.join(&m.upload_id)).map_err(internal)?;
                st.uploads
                    .entry(IndexKey::new(m.key.clone()))
                    .or_default()
                    .insert(m.upload_id.clone(), m.summary());
            }
            layout::fsync_dir(&uploads).map_err(internal)
        })
        .await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(i.bucket),
            key: Some(meta.key),
            upload_id: Some(meta.upload_id),
            checksum_algorithm: meta.checksum_algorithm.map(Into::into),
            checksum_type: meta.checksum_type.map(Into::into),
            ..CreateMultipartUploadOutput::default()
        }))
    }

    pub(crate) async fn upload_part_impl(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let mut req = req;
        let inner = Arc::clone(self.inner());
        let i = &req.input;
        let n = check_part_number(i.part_number)?;
        let bucket = inner.bucket(&i.bucket)?;
        if i.sse_customer_algorithm.is_some() || i.sse_customer_key.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "Server-side encryption is not supported by this endpoint."
            ));
        }
        let (b, k, id) = (Arc::clone(&bucket), i.key.clone(), i.upload_id.clone());
        let upload = blocking(move || load_upload(&b, &k, &id)).await?;
        let i = &req.input;
        let content_md5 = checksum::parse_content_md5(i.content_md5.as_deref())?;
        let values = [
            i.checksum_crc32.as_deref(),
            i.checksum_crc32c.as_deref(),
            i.checksum_crc64nvme.as_deref(),
            i.checksum_sha1.as_deref(),
            i.checksum_sha256.as_deref(),
        ];
        let plan = checksum::plan(&req, values, i.checksum_algorithm.as_ref(), upload.algo())?;
        // An upload created with an algorithm takes parts of that algorithm only. One created
        // without (what the SDKs do by default) accepts a part checksum of any algorithm; it is
        // verified but not combined into an object checksum, as S3 does.
        if upload.checksum_algorithm.is_some() && plan.algo != upload.algo() {
            return Err(s3_error!(
                InvalidRequest,
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                upload.algo().name().to_lowercase(),
                plan.algo.name().to_lowercase()
            ));
        }
        let declared = i.content_length;
        let body = req.input.body.take();
        let staged = stage_body(&inner, body, plan.algo, declared).await?;
        if content_md5.is_some_and(|m| m != staged.md5) {
            return Err(s3_error!(
                BadDigest,
                "The Content-MD5 you specified did not match what we received."
            ));
        }
        checksum::verify(&req, &plan, &staged.checksum)?;
        let meta = part_meta(&req.input.key, n, &staged, plan.algo);
        let tmp = staged.finish(&meta).await?;
        let (key, id) = (req.input.key.clone(), req.input.upload_id.clone());
        blocking(move || commit_part(&bucket, &id, &key, n, tmp)).await?;
        let mut out = UploadPartOutput {
            e_tag: Some(ETag::Strong(meta.etag.clone())),
            ..UploadPartOutput::default()
        };
        if plan.requested || upload.checksum_algorithm.is_some() {
            let c = meta.checksum.clone();
            put_checksum!(
                out,
                c.as_ref().map(|c| c.algorithm.as_str()),
                c.as_ref().map(|c| c.value.clone())
            );
        }
        Ok(S3Response::new(out))
    }

    pub(crate) async fn upload_part_copy_impl(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let i = req.input;
        let inner = Arc::clone(self.inner());
        let n = check_part_number(i.part_number)?;
        let bucket = inner.bucket(&i.bucket)?;
        if i.sse_customer_algorithm.is_some() || i.copy_source_sse_customer_algorithm.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "Server-side encryption is not supported by this endpoint."
            ));
        }
        let (b, k, id) = (Arc::clone(&bucket), i.key.clone(), i.upload_id.clone());
        let upload = blocking(move || load_upload(&b, &k, &id)).await?;
        let cond = CopyConditions {
            if_match: i.copy_source_if_match.as_ref(),
            if_none_match: i.copy_source_if_none_match.as_ref(),
            if_modified_since: i.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: i.copy_source_if_unmodified_since.as_ref(),
        };
        let (_, _, src) = open_source(&inner, &i.copy_source, &cond).await?;
        let (start, len) = parse_copy_range(i.copy_source_range.as_deref(), src.meta.size)?;
        if len > MAX_SINGLE_UPLOAD {
            return Err(s3_error!(
                InvalidRequest,
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_SINGLE_UPLOAD}"
            ));
        }
        let algo = upload.algo();
        let staged = stage_copy(&inner, src, start, len, algo).await?;
        let meta = part_meta(&i.key, n, &staged, algo);
        let tmp = staged.finish(&meta).await?;
        let (key, id) = (i.key.clone(), i.upload_id.clone());
        blocking(move || commit_part(&bucket, &id, &key, n, tmp)).await?;
        let mut result = CopyPartResult {
            e_tag: Some(ETag::Strong(meta.etag.clone())),
            last_modified: Some(timestamp(meta.last_modified_ns)),
            ..CopyPartResult::default()
        };
        if upload.checksum_algorithm.is_some() {
            let c = meta.checksum.clone();
            put_checksum!(
                result,
                c.as_ref().map(|c| c.algorithm.as_str()),
                c.as_ref().map(|c| c.value.clone())
            );
        }
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(result),
            ..UploadPartCopyOutput::default()
        }))
    }

    pub(crate) async fn abort_multipart_upload_impl(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let i = req.input;
        let inner = Arc::clone(self.inner());
        let bucket = inner.bucket(&i.bucket)?;
        layout::check_key(&i.key)?;
        blocking(move || abort_upload(&inner, &bucket, &i.key, &i.upload_id)).await?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    pub(crate) async fn list_parts_impl(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let i = req.input;
        let bucket = self.inner().bucket(&i.bucket)?;
        let max = max_items(i.max_parts, "max-parts")?;
        let marker = u32::try_from(i.part_number_marker.unwrap_or(0).max(0)).unwrap_or(0);
        let (key, id) = (i.key.clone(), i.upload_id.clone());
        let (upload, metas, truncated) = blocking(move || {
            let upload = load_upload(&bucket, &key, &id)?;
            let dir = upload_dir(&bucket, &id)?;
            let mut numbers: Vec<u32> = Vec::new();
            for entry in std::fs::read_dir(&dir).map_err(internal)? {
                let entry = entry.map_err(internal)?;
                if let Some(n) = entry
                    .file_name()
                    .to_str()
                    .and_then(layout::parse_part_file_name)
                    && n > marker
                {
                    numbers.push(n);
                }
            }
            numbers.sort_unstable();
            let truncated = numbers.len() > max;
            let mut metas = Vec::new();
            for n in numbers.into_iter().take(max) {
                match std::fs::File::open(dir.join(layout::part_file_name(n))) {
                    Ok(f) => metas.push(format::read_meta(&f).map_err(internal)?),
                    // aborted or completed meanwhile
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(no_such_upload());
                    }
                    Err(e) => return Err(internal(e)),
                }
            }
            Ok((upload, metas, truncated))
        })
        .await?;
        let parts: Vec<Part> = metas
            .iter()
            .map(|m| {
                let mut p = Part {
                    e_tag: Some(ETag::Strong(m.etag.clone())),
                    last_modified: Some(timestamp(m.last_modified_ns)),
                    part_number: m.part_number.and_then(|n| i32::try_from(n).ok()),
                    size: Some(i64::try_from(m.size).unwrap_or(i64::MAX)),
                    ..Part::default()
                };
                if upload.checksum_algorithm.is_some() {
                    let c = m.checksum.clone();
                    put_checksum!(
                        p,
                        c.as_ref().map(|c| c.algorithm.as_str()),
                        c.as_ref().map(|c| c.value.clone())
                    );
                }
                p
            })
            .collect();
        let own = owner(self.inner());
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(i.upload_id),
            checksum_algorithm: upload.checksum_algorithm.map(Into::into),
            checksum_type: upload.checksum_type.map(Into::into),
            initiator: Some(Initiator {
                id: own.id.clone(),
                display_name: own.display_name.clone(),
            }),
            owner: Some(own),
            is_truncated: Some(truncated),
            max_parts: Some(i32::try_from(max).unwrap_or(1000)),
            part_number_marker: i.part_number_marker,
            next_part_number_marker: parts.last().and_then(|p| p.part_number),
            parts: (!parts.is_empty()).then_some(parts),
            storage_class: Some("STANDARD".to_owned().into()),
            ..ListPartsOutput::default()
        }))
    }

    pub(crate) async fn list_multipart_uploads_impl(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let i = req.input;
        let enc = url_encoding(i.encoding_type.as_ref())?;
        let max = max_items(i.max_uploads, "max-uploads")?;
        let bucket = self.inner().bucket(&i.bucket)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let key_marker = i.key_marker.as_deref().filter(|m| !m.is_empty());
        // upload-id-marker is ignored without key-marker, as on AWS.
        let id_marker = key_marker.and(i.upload_id_marker.as_deref().filter(|m| !m.is_empty()));
        let e = |s: &str| if enc { url_encode(s) } else { s.to_owned() };
        let own = owner(self.inner());
        let mut uploads = Vec::new();
        let mut prefixes = Vec::new();
        let mut truncated = false;
        let mut last: Option<(String, Option<String>)> = None;
        {
            let st = bucket.lock_live()?;
            let delimiter = i.delimiter.as_deref();
            let walk = match (key_marker, id_marker) {
                (Some(k), Some(_)) => Walk::starting_at(&st.uploads, &prefix, delimiter, k),
                (k, _) => Walk::new(&st.uploads, &prefix, delimiter, k),
            };
            let mut count = 0usize;
            'walk: for entry in walk {
                match entry {
                    Entry::Prefix(p) => {
                        if count == max {
                            truncated = max > 0;
                            break;
                        }
                        count += 1;
                        last = Some((p.clone(), None));
                        prefixes.push(CommonPrefix {
                            prefix: Some(e(&p)),
                        });
                    }
                    Entry::Key(k, ids) => {
                        for (id, s) in ids {
                            if Some(k) == key_marker && id_marker.is_some_and(|m| id.as_str() <= m)
                            {
                                continue;
                            }
                            if count == max {
                                truncated = max > 0;
                                break 'walk;
                            }
                            count += 1;
                            last = Some((k.to_owned(), Some(id.clone())));
                            uploads.push(MultipartUpload {
                                checksum_algorithm: s.checksum_algorithm.clone().map(Into::into),
                                checksum_type: s.checksum_type.clone().map(Into::into),
                                initiated: Some(timestamp(s.initiated_ns)),
                                initiator: Some(Initiator {
                                    id: own.id.clone(),
                                    display_name: own.display_name.clone(),
                                }),
                                key: Some(e(k)),
                                owner: Some(own.clone()),
                                storage_class: Some("STANDARD".to_owned().into()),
                                upload_id: Some(id.clone()),
                            });
                        }
                    }
                }
            }
        }
        let (next_key, next_id) = match (truncated, last) {
            (true, Some((k, id))) => (Some(e(&k)), id),
            _ => (None, None),
        };
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(i.bucket),
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            delimiter: i.delimiter.as_deref().map(&e),
            encoding_type: i.encoding_type,
            is_truncated: Some(truncated),
            key_marker: Some(i.key_marker.as_deref().map(&e).unwrap_or_default()),
            max_uploads: Some(i32::try_from(max).unwrap_or(1000)),
            next_key_marker: next_key,
            next_upload_id_marker: next_id,
            prefix: Some(e(&prefix)),
            request_charged: None,
            upload_id_marker: Some(i.upload_id_marker.unwrap_or_default()),
            uploads: (!uploads.is_empty()).then_some(uploads),
        }))
    }
}

/// Removes an upload from the index and its directory from the tree (blocking).
pub(crate) fn abort_upload(
    inner: &Arc<super::Inner>,
    bucket: &Bucket,
    key: &str,
    upload_id: &str,
) -> S3Result<()> {
    let dir = upload_dir(bucket, upload_id)?;
    let trash = TempFile::reserve(inner, "trash");
    {
        let mut st = bucket.lock_live()?;
        let k = IndexKey::new(key.to_owned());
        let ids = st.uploads.get_mut(&k).ok_or_else(no_such_upload)?;
        if !ids.contains_key(upload_id) {
            return Err(no_such_upload());
        }
        std::fs::rename(&dir, trash.path()).map_err(internal)?;
        ids.remove(upload_id);
        if ids.is_empty() {
            st.uploads.remove(&k);
        }
    }
    layout::fsync_dir(&bucket.dir.join(layout::UPLOADS_DIR)).map_err(internal)?;
    drop(trash);
    Ok(())
}
