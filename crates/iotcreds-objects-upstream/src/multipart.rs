//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.
//!
//! Upload ids are the upstream's; the gateway keeps no state, so any instance can serve any
//! step of an upload.

use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadError;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadError;
use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadError;
use aws_sdk_s3::operation::list_multipart_uploads::ListMultipartUploadsError;
use aws_sdk_s3::operation::list_parts::ListPartsError;
use aws_sdk_s3::operation::upload_part_copy::UploadPartCopyError;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CreateMultipartUploadInput, CreateMultipartUploadOutput,
    ListMultipartUploadsInput, ListMultipartUploadsOutput, ListPartsInput, ListPartsOutput,
    UploadPartCopyInput, UploadPartCopyOutput, UploadPartInput, UploadPartOutput,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::backend::{UpstreamBackend, forward};
use crate::body::prepare_upload;
use crate::errors::Ctx;
use crate::features::Features;

fn ctx<'a>(
    op: &'static str,
    buckets: &'a [(String, String)],
    body: Option<&'a crate::body::BodyFailure>,
) -> Ctx<'a> {
    Ctx {
        op,
        not_found: "NoSuchUpload",
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

/// Path characters kept as they are in a `Location` (RFC 3986 unreserved and `/`).
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

impl UpstreamBackend {
    pub(crate) async fn create_multipart_upload_impl(
        &self,
        mut req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
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
            append: false,
        }
        .check()?;
        (i.acl, i.storage_class, i.bucket_key_enabled) = (None, None, None);
        i.expected_bucket_owner = None;
        i.request_payer = None;
        crate::features::mail_safe_metadata(&mut i.metadata);
        let device = i.bucket.clone();
        let (up, pair) = self.upstream(&device)?;
        i.bucket = up;
        let pairs = [pair];
        let mut out = forward!(
            self.proxy.create_multipart_upload(req),
            CreateMultipartUploadError,
            ctx("CreateMultipartUpload", &pairs, None)
        );
        out.bucket = Some(device);
        out.ssekms_key_id = None;
        Ok(S3Response::new(out))
    }

    pub(crate) async fn upload_part_impl(
        &self,
        mut req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let i = &mut req.input;
        if i.sse_customer_algorithm.is_some() || i.sse_customer_key.is_some() {
            return Err(sse_customer_refused());
        }
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
            .upload_part(&ctx("UploadPart", &pairs, Some(&failure)), &up, i, prepared)
            .await
    }

    pub(crate) async fn upload_part_copy_impl(
        &self,
        mut req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let i = &mut req.input;
        if i.sse_customer_algorithm.is_some()
            || i.sse_customer_key.is_some()
            || i.copy_source_sse_customer_algorithm.is_some()
            || i.copy_source_sse_customer_key.is_some()
        {
            return Err(sse_customer_refused());
        }
        (i.expected_bucket_owner, i.expected_source_bucket_owner) = (None, None);
        i.request_payer = None;
        let mut pairs = Vec::with_capacity(2);
        self.map_copy_source(&mut i.copy_source, &mut pairs)?;
        let (up, pair) = self.upstream(&i.bucket)?;
        i.bucket = up;
        pairs.push(pair);
        let mut out = forward!(
            self.transfer.upload_part_copy(req),
            UploadPartCopyError,
            ctx("UploadPartCopy", &pairs, None)
        );
        (out.copy_source_version_id, out.ssekms_key_id) = (None, None);
        Ok(S3Response::new(out))
    }

    pub(crate) async fn complete_multipart_upload_impl(
        &self,
        mut req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let i = &mut req.input;
        if i.sse_customer_algorithm.is_some() || i.sse_customer_key.is_some() {
            return Err(sse_customer_refused());
        }
        i.expected_bucket_owner = None;
        i.request_payer = None;
        let device = i.bucket.clone();
        let key = i.key.clone();
        let (up, pair) = self.upstream(&device)?;
        i.bucket = up;
        let pairs = [pair];
        let mut out = forward!(
            self.transfer.complete_multipart_upload(req),
            CompleteMultipartUploadError,
            ctx("CompleteMultipartUpload", &pairs, None)
        );
        // The upstream's Location names the upstream endpoint and bucket; the device gets the
        // gateway-relative path the embedded backend answers.
        out.location = Some(format!("/{device}/{}", utf8_percent_encode(&key, PATH)));
        out.bucket = Some(device);
        (out.version_id, out.ssekms_key_id) = (None, None);
        Ok(S3Response::new(out))
    }

    pub(crate) async fn abort_multipart_upload_impl(
        &self,
        mut req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let i = &mut req.input;
        i.expected_bucket_owner = None;
        i.request_payer = None;
        let (up, pair) = self.upstream(&i.bucket)?;
        i.bucket = up;
        let pairs = [pair];
        let out = forward!(
            self.proxy.abort_multipart_upload(req),
            AbortMultipartUploadError,
            ctx("AbortMultipartUpload", &pairs, None)
        );
        Ok(S3Response::new(out))
    }

    pub(crate) async fn list_parts_impl(
        &self,
        mut req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let i = &mut req.input;
        if i.sse_customer_algorithm.is_some() || i.sse_customer_key.is_some() {
            return Err(sse_customer_refused());
        }
        i.expected_bucket_owner = None;
        i.request_payer = None;
        let device = i.bucket.clone();
        let (up, pair) = self.upstream(&device)?;
        i.bucket = up;
        let pairs = [pair];
        let mut out = forward!(
            self.proxy.list_parts(req),
            ListPartsError,
            ctx("ListParts", &pairs, None)
        );
        out.bucket = Some(device);
        (out.owner, out.initiator) = (None, None);
        Ok(S3Response::new(out))
    }

    pub(crate) async fn list_multipart_uploads_impl(
        &self,
        mut req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let i = &mut req.input;
        i.expected_bucket_owner = None;
        i.request_payer = None;
        let device = i.bucket.clone();
        let (up, pair) = self.upstream(&device)?;
        i.bucket = up;
        let pairs = [pair];
        let mut out = forward!(
            self.proxy.list_multipart_uploads(req),
            ListMultipartUploadsError,
            ctx("ListMultipartUploads", &pairs, None)
        );
        out.bucket = Some(device);
        for u in out.uploads.iter_mut().flatten() {
            (u.owner, u.initiator) = (None, None);
        }
        Ok(S3Response::new(out))
    }
}
