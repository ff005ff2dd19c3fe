//! Object operations: GetObject, HeadObject, PutObject, DeleteObject, DeleteObjects,
//! CopyObject, and the copy-source mapping shared with UploadPartCopy.

use aws_sdk_s3::operation::copy_object::CopyObjectError;
use aws_sdk_s3::operation::delete_object::DeleteObjectError;
use aws_sdk_s3::operation::delete_objects::DeleteObjectsError;
use aws_sdk_s3::operation::get_object_attributes::GetObjectAttributesError;
use s3s::dto::{
    CopyObjectInput, CopyObjectOutput, CopySource, DeleteObjectInput, DeleteObjectOutput,
    DeleteObjectsInput, DeleteObjectsOutput, Error as ObjectError, GetObjectAttributesInput,
    GetObjectAttributesOutput, GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput,
    ObjectAttributes, PutObjectInput, PutObjectOutput,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::backend::{UpstreamBackend, forward};
use crate::body::{BodyFailure, prepare_upload};
use crate::errors::{self, Ctx};
use crate::features::{self, Features};

pub(crate) fn ctx<'a>(
    op: &'static str,
    buckets: &'a [(String, String)],
    body: Option<&'a BodyFailure>,
) -> Ctx<'a> {
    Ctx {
        op,
        not_found: "NoSuchKey",
        buckets,
        body,
    }
}

fn sse_customer_refused() -> s3s::S3Error {
    s3_error!(
        NotImplemented,
        "Server-side encryption is not supported by this endpoint."
    )
}

impl UpstreamBackend {
    /// Maps a copy source (`x-amz-copy-source` names a device bucket) to its upstream bucket and
    /// records the pair for error messages.
    pub(crate) fn map_copy_source(
        &self,
        source: &mut CopySource,
        pairs: &mut Vec<(String, String)>,
    ) -> S3Result<()> {
        let CopySource::Bucket {
            bucket, version_id, ..
        } = source
        else {
            return Err(s3_error!(
                NotImplemented,
                "Access point and Outpost copy sources are not supported by this endpoint."
            ));
        };
        features::version_id(version_id.take().map(String::from))?;
        let (up, pair) = self.upstream(bucket)?;
        *bucket = up.into_boxed_str();
        pairs.push(pair);
        Ok(())
    }

    pub(crate) async fn get_object_impl(
        &self,
        mut req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let i = &mut req.input;
        features::version_id(i.version_id.take())?;
        if i.sse_customer_algorithm.is_some() || i.sse_customer_key.is_some() {
            return Err(sse_customer_refused());
        }
        i.expected_bucket_owner = None;
        i.request_payer = None;
        let (up, pair) = self.upstream(&i.bucket)?;
        let pairs = [pair];
        self.inner
            .wire
            .get_object(&ctx("GetObject", &pairs, None), &up, i)
            .await
    }

    pub(crate) async fn head_object_impl(
        &self,
        mut req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let i = &mut req.input;
        features::version_id(i.version_id.take())?;
        if i.sse_customer_algorithm.is_some() || i.sse_customer_key.is_some() {
            return Err(sse_customer_refused());
        }
        i.expected_bucket_owner = None;
        i.request_payer = None;
        let (up, pair) = self.upstream(&i.bucket)?;
        let pairs = [pair];
        self.inner
            .wire
            .head_object(&ctx("HeadObject", &pairs, None), &up, i)
            .await
    }

    /// `GetObjectAttributes`: the long tail, through the SDK (the upstream answers it, or says
    /// it does not implement it).
    pub(crate) async fn get_object_attributes_impl(
        &self,
        mut req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let i = &mut req.input;
        features::version_id(i.version_id.take())?;
        if i.sse_customer_algorithm.is_some() || i.sse_customer_key.is_some() {
            return Err(sse_customer_refused());
        }
        i.expected_bucket_owner = None;
        i.request_payer = None;
        // One attribute per list element: s3s keeps the SDKs' comma-separated header as one,
        // and the SDK would quote it whole on the way out.
        i.object_attributes = i
            .object_attributes
            .iter()
            .flat_map(|a| a.as_str().split(','))
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| ObjectAttributes::from(a.to_owned()))
            .collect();
        let (up, pair) = self.upstream(&i.bucket)?;
        i.bucket = up;
        let pairs = [pair];
        let out = forward!(
            self.proxy.get_object_attributes(req),
            GetObjectAttributesError,
            ctx("GetObjectAttributes", &pairs, None)
        );
        Ok(S3Response::new(out))
    }

    pub(crate) async fn put_object_impl(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let i = &mut req.input;
        Features {
            acl: i.acl.as_ref(),
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
            storage_class: i.storage_class.as_ref(),
            append: i.write_offset_bytes.is_some(),
        }
        .check()?;
        (i.acl, i.storage_class, i.bucket_key_enabled) = (None, None, None);
        i.expected_bucket_owner = None;
        i.request_payer = None;
        let header_checksum = i.checksum_crc32.is_some()
            || i.checksum_crc32c.is_some()
            || i.checksum_crc64nvme.is_some()
            || i.checksum_sha1.is_some()
            || i.checksum_sha256.is_some();
        let prepared = prepare_upload(
            &req.headers,
            req.trailing_headers.clone(),
            i.body.take(),
            i.content_length,
            header_checksum,
            i.checksum_algorithm.as_ref(),
            self.inner.wire.gateway_crc32,
        )?;
        let (up, pair) = self.upstream(&i.bucket)?;
        let pairs = [pair];
        let failure = prepared.failure.clone();
        self.inner
            .wire
            .put_object(&ctx("PutObject", &pairs, Some(&failure)), &up, i, prepared)
            .await
    }

    pub(crate) async fn delete_object_impl(
        &self,
        mut req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let i = &mut req.input;
        features::version_id(i.version_id.take())?;
        (i.mfa, i.bypass_governance_retention) = (None, None);
        i.expected_bucket_owner = None;
        i.request_payer = None;
        let (up, pair) = self.upstream(&i.bucket)?;
        i.bucket = up;
        let pairs = [pair];
        let mut out = forward!(
            self.proxy.delete_object(req),
            DeleteObjectError,
            ctx("DeleteObject", &pairs, None)
        );
        out.version_id = None;
        Ok(S3Response::new(out))
    }

    /// Entries with a version id other than `null` are answered here (`InvalidArgument` in the
    /// result's errors, as the embedded backend does); the rest go upstream in one call.
    pub(crate) async fn delete_objects_impl(
        &self,
        mut req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let i = &mut req.input;
        (i.mfa, i.bypass_governance_retention) = (None, None);
        i.expected_bucket_owner = None;
        i.request_payer = None;
        let objects = std::mem::take(&mut i.delete.objects);
        if objects.is_empty() || objects.len() > 1000 {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        let mut refused = Vec::new();
        for mut o in objects {
            match o.version_id.take() {
                None => i.delete.objects.push(o),
                Some(v) if v == "null" => i.delete.objects.push(o),
                Some(v) => refused.push(ObjectError {
                    code: Some("InvalidArgument".to_owned()),
                    key: Some(o.key),
                    message: Some(features::INVALID_VERSION.to_owned()),
                    version_id: Some(v),
                }),
            }
        }
        let (up, pair) = self.upstream(&i.bucket)?;
        i.bucket = up;
        let pairs = [pair];
        let mut out = if i.delete.objects.is_empty() {
            DeleteObjectsOutput::default()
        } else {
            forward!(
                self.proxy.delete_objects(req),
                DeleteObjectsError,
                ctx("DeleteObjects", &pairs, None)
            )
        };
        for d in out.deleted.iter_mut().flatten() {
            (d.version_id, d.delete_marker_version_id) = (None, None);
        }
        for e in out.errors.iter_mut().flatten() {
            e.version_id = None;
            // a per-key AccessDenied is the gateway's permission at the upstream, as for
            // whole requests
            if errors::is_gateway_code(e.code.as_deref()) {
                tracing::error!(
                    code = e.code.as_deref(),
                    message = e.message.as_deref(),
                    "upstream refused a key of DeleteObjects to the gateway"
                );
                let internal = errors::internal();
                e.code = Some(internal.code().as_str().to_owned());
                e.message = internal.message().map(str::to_owned);
            }
        }
        if !refused.is_empty() {
            out.errors.get_or_insert_with(Vec::new).extend(refused);
        }
        Ok(S3Response::new(out))
    }

    pub(crate) async fn copy_object_impl(
        &self,
        mut req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let i = &mut req.input;
        Features {
            acl: i.acl.as_ref(),
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
            storage_class: i.storage_class.as_ref(),
            append: false,
        }
        .check()?;
        (i.acl, i.storage_class, i.bucket_key_enabled) = (None, None, None);
        (i.expected_bucket_owner, i.expected_source_bucket_owner) = (None, None);
        i.request_payer = None;
        features::mail_safe_metadata(&mut i.metadata);
        let mut pairs = Vec::with_capacity(2);
        self.map_copy_source(&mut i.copy_source, &mut pairs)?;
        let (up, pair) = self.upstream(&i.bucket)?;
        i.bucket = up;
        pairs.push(pair);
        let mut out = forward!(
            self.transfer.copy_object(req),
            CopyObjectError,
            ctx("CopyObject", &pairs, None)
        );
        (
            out.version_id,
            out.copy_source_version_id,
            out.ssekms_key_id,
        ) = (None, None, None);
        Ok(S3Response::new(out))
    }
}
