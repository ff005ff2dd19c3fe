//! PutObject, DeleteObject, DeleteObjects, and the request checks they share with copy and
//! multipart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use s3s::dto::{
    DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, DeletedObject,
    ETag, Metadata, PutObjectInput, PutObjectOutput, Timestamp,
};
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::checksum::{self, Algo};
use super::format::{Attrs, ObjectMeta, StoredChecksum};
use super::list::IndexKey;
use super::read::{check_version_id, set_checksum};
use super::write::{commit_object, precondition_failed, stage_body, write_precondition};
use super::{Bucket, FsBackend, ObjSummary, blocking, internal, layout, now_ns, tagging};

/// AWS: user metadata (keys and values, UTF-8 bytes) is limited to 2 KB.
const MAX_USER_METADATA: usize = 2048;

/// Request features this backend does not provide. Each is refused with AWS's answer for a
/// bucket that lacks the feature (or `NotImplemented`), never silently ignored.
#[derive(Default)]
pub(crate) struct Unsupported<'a> {
    pub acl: Option<&'a str>,
    pub grants: bool,
    pub sse: bool,
    pub sse_customer: bool,
    pub object_lock: bool,
    pub storage_class: Option<&'a str>,
}

impl Unsupported<'_> {
    pub(crate) fn check(&self) -> S3Result<()> {
        if self.grants
            || self
                .acl
                .is_some_and(|a| a != "private" && a != "bucket-owner-full-control")
        {
            return Err(s3_error!(
                AccessControlListNotSupported,
                "The bucket does not allow ACLs"
            ));
        }
        if self.sse || self.sse_customer {
            return Err(s3_error!(
                NotImplemented,
                "Server-side encryption is not supported by this endpoint."
            ));
        }
        if self.object_lock {
            return Err(s3_error!(
                InvalidRequest,
                "Bucket is missing Object Lock Configuration"
            ));
        }
        if self.storage_class.is_some_and(|c| c != "STANDARD") {
            return Err(s3_error!(
                InvalidStorageClass,
                "The storage class you specified is not valid"
            ));
        }
        Ok(())
    }
}

/// Content headers of a write request.
pub(crate) struct AttrInput<'a> {
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub content_disposition: Option<&'a str>,
    pub content_language: Option<&'a str>,
    pub cache_control: Option<&'a str>,
    pub expires: Option<&'a Timestamp>,
    pub website_redirect_location: Option<&'a str>,
    pub metadata: Option<&'a Metadata>,
    /// `x-amz-tagging`.
    pub tagging: Option<&'a str>,
}

/// Builds the stored attributes: drops `aws-chunked` from Content-Encoding (a transfer detail,
/// as S3 does), enforces the 2 KB user-metadata limit and checks the tags. User metadata arrives as text: s3s
/// decodes RFC 2047 encoded words in `x-amz-meta-*` headers, and encodes values that are not
/// US-ASCII on the way out, as S3 does.
pub(crate) fn attrs_from(a: &AttrInput<'_>) -> S3Result<Attrs> {
    let nonempty = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
    let content_encoding = a.content_encoding.and_then(|enc| {
        let kept: Vec<&str> = enc
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
            .collect();
        (!kept.is_empty()).then(|| kept.join(","))
    });
    let metadata: BTreeMap<String, String> = a
        .metadata
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let meta_size: usize = metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if meta_size > MAX_USER_METADATA {
        return Err(s3_error!(
            MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size"
        ));
    }
    let tags = a
        .tagging
        .map(iotcreds_types::s3_tags::parse_header)
        .transpose()
        .map_err(tagging::tag_error)?
        .unwrap_or_default();
    Ok(Attrs {
        tags,
        content_type: nonempty(a.content_type),
        content_encoding,
        content_disposition: nonempty(a.content_disposition),
        content_language: nonempty(a.content_language),
        cache_control: nonempty(a.cache_control),
        expires: a
            .expires
            .map(|t| time::OffsetDateTime::from(t.clone()).unix_timestamp()),
        website_redirect_location: nonempty(a.website_redirect_location),
        metadata,
    })
}

/// Writes a checksum into the five `checksum_*` output fields of a DTO.
macro_rules! put_checksum {
    ($out:expr, $algo:expr, $value:expr) => {
        set_checksum($algo, $value, |algo, v| match algo {
            "CRC32" => $out.checksum_crc32 = Some(v),
            "CRC32C" => $out.checksum_crc32c = Some(v),
            "CRC64NVME" => $out.checksum_crc64nvme = Some(v),
            "SHA1" => $out.checksum_sha1 = Some(v),
            _ => $out.checksum_sha256 = Some(v),
        })
    };
}
pub(crate) use put_checksum;

/// Removes `key` under the bucket lock (blocking). Returns the directory to fsync, if a file
/// was removed.
fn remove_locked(
    bucket: &Bucket,
    st: &mut super::BucketState,
    key: &str,
) -> S3Result<Option<std::path::PathBuf>> {
    let path = bucket.dir.join(layout::object_rel_path(key));
    let removed = match std::fs::remove_file(&path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(internal(e)),
    };
    tagging::remove_tag_file(&path).map_err(internal)?;
    st.remove_object(bucket, key);
    Ok(removed
        .then(|| path.parent().map(Path::to_path_buf))
        .flatten())
}

impl FsBackend {
    pub(crate) async fn put_object_impl(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let mut req = req;
        let inner = self.inner().clone();
        let bucket = inner.bucket(&req.input.bucket)?;
        let i = &req.input;
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
        if i.write_offset_bytes.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "Appending to objects is not supported by this endpoint."
            ));
        }
        let content_md5 = checksum::parse_content_md5(i.content_md5.as_deref())?;
        let values = [
            i.checksum_crc32.as_deref(),
            i.checksum_crc32c.as_deref(),
            i.checksum_crc64nvme.as_deref(),
            i.checksum_sha1.as_deref(),
            i.checksum_sha256.as_deref(),
        ];
        let plan = checksum::plan(&req, values, i.checksum_algorithm.as_ref(), Algo::Crc64Nvme)?;
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
        let meta = ObjectMeta {
            key: req.input.key.clone(),
            size: staged.size,
            etag: staged.hex_md5(),
            last_modified_ns: now_ns(),
            attrs,
            checksum: Some(StoredChecksum {
                algorithm: plan.algo.name().to_owned(),
                kind: "FULL_OBJECT".to_owned(),
                value: staged.checksum.clone(),
            }),
            parts: Vec::new(),
            part_number: None,
            upload_id: None,
        };
        let tmp = staged.finish(&meta).await?;
        let if_match = req.input.if_match.clone();
        let if_none_match = req.input.if_none_match.clone();
        let meta2 = meta.clone();
        blocking(move || {
            commit_object(&bucket, tmp, &meta2, |cur| {
                write_precondition(if_match.as_ref(), if_none_match.as_ref(), cur)
            })
        })
        .await?;
        let mut out = PutObjectOutput {
            e_tag: Some(ETag::Strong(meta.etag.clone())),
            checksum_type: Some("FULL_OBJECT".to_owned().into()),
            ..PutObjectOutput::default()
        };
        let c = meta.checksum.clone();
        put_checksum!(
            out,
            c.as_ref().map(|c| c.algorithm.as_str()),
            c.as_ref().map(|c| c.value.clone())
        );
        Ok(S3Response::new(out))
    }

    pub(crate) async fn delete_object_impl(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let i = req.input;
        let bucket = self.inner().bucket(&i.bucket)?;
        layout::check_key(&i.key)?;
        check_version_id(i.version_id.as_deref())?;
        let cond = DeleteCondition {
            if_match: i.if_match,
            size: i.if_match_size,
            last_modified: i.if_match_last_modified_time,
        };
        blocking(move || {
            let dir = {
                let mut st = bucket.lock_live()?;
                cond.check(st.objects.get(&IndexKey::new(i.key.clone())))?;
                remove_locked(&bucket, &mut st, &i.key)?
            };
            if let Some(dir) = dir {
                layout::fsync_dir(&dir).map_err(internal)?;
            }
            Ok(())
        })
        .await?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    pub(crate) async fn delete_objects_impl(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let i = req.input;
        let bucket = self.inner().bucket(&i.bucket)?;
        let objects = i.delete.objects;
        if objects.is_empty() || objects.len() > 1000 {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        let quiet = i.delete.quiet.unwrap_or(false);
        blocking(move || {
            let mut deleted = Vec::new();
            let mut errors = Vec::new();
            let mut dirs = BTreeSet::new();
            {
                let mut st = bucket.lock_live()?;
                for o in objects {
                    let result = layout::check_key(&o.key)
                        .and_then(|()| check_version_id(o.version_id.as_deref()))
                        .and_then(|()| {
                            let cond = DeleteCondition {
                                if_match: o.e_tag.clone().map(s3s::dto::ETagCondition::ETag),
                                size: o.size,
                                last_modified: o.last_modified_time.clone(),
                            };
                            cond.check(st.objects.get(&IndexKey::new(o.key.clone())))
                        })
                        .and_then(|()| remove_locked(&bucket, &mut st, &o.key));
                    match result {
                        Ok(dir) => {
                            dirs.extend(dir);
                            if !quiet {
                                deleted.push(DeletedObject {
                                    key: Some(o.key),
                                    version_id: o.version_id,
                                    ..DeletedObject::default()
                                });
                            }
                        }
                        Err(e) => errors.push(error_entry(&e, o.key, o.version_id)),
                    }
                }
            }
            for d in dirs {
                layout::fsync_dir(&d).map_err(internal)?;
            }
            Ok(DeleteObjectsOutput {
                deleted: (!deleted.is_empty()).then_some(deleted),
                errors: (!errors.is_empty()).then_some(errors),
                ..DeleteObjectsOutput::default()
            })
        })
        .await
        .map(S3Response::new)
    }
}

fn error_entry(e: &S3Error, key: String, version_id: Option<String>) -> s3s::dto::Error {
    s3s::dto::Error {
        code: Some(e.code().as_str().to_owned()),
        message: e.message().map(str::to_owned),
        key: Some(key),
        version_id,
    }
}

/// Conditional delete: `If-Match` (and, as for directory buckets, size and Last-Modified).
struct DeleteCondition {
    if_match: Option<s3s::dto::ETagCondition>,
    size: Option<i64>,
    last_modified: Option<Timestamp>,
}

impl DeleteCondition {
    fn check(&self, current: Option<&ObjSummary>) -> S3Result<()> {
        if self.if_match.is_none() && self.size.is_none() && self.last_modified.is_none() {
            return Ok(());
        }
        let Some(cur) = current else {
            return Err(super::no_such_key());
        };
        if let Some(etag) = self
            .if_match
            .as_ref()
            .and_then(s3s::dto::ETagCondition::as_etag)
            && etag.value() != cur.etag
        {
            return Err(precondition_failed());
        }
        if self
            .size
            .is_some_and(|s| s.unsigned_abs() != cur.size || s < 0)
        {
            return Err(precondition_failed());
        }
        if let Some(t) = &self.last_modified {
            let secs = i128::from(time::OffsetDateTime::from(t.clone()).unix_timestamp());
            if secs != cur.last_modified_ns.div_euclid(1_000_000_000) {
                return Err(precondition_failed());
            }
        }
        Ok(())
    }
}
