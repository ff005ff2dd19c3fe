//! Object tags: GetObjectTagging, PutObjectTagging and DeleteObjectTagging, forwarded through
//! the SDK (the long tail: a request each, small bodies). The gateway has authorised them
//! already; the upstream keeps the tags and checks the tag set by its own rules.

use aws_sdk_s3::operation::delete_object_tagging::DeleteObjectTaggingError;
use aws_sdk_s3::operation::get_object_tagging::GetObjectTaggingError;
use aws_sdk_s3::operation::put_object_tagging::PutObjectTaggingError;
use s3s::dto::{
    DeleteObjectTaggingInput, DeleteObjectTaggingOutput, GetObjectTaggingInput,
    GetObjectTaggingOutput, PutObjectTaggingInput, PutObjectTaggingOutput,
};
use s3s::{S3Request, S3Response, S3Result};

use crate::backend::{UpstreamBackend, forward};
use crate::features;
use crate::objects::ctx;

impl UpstreamBackend {
    pub(crate) async fn get_object_tagging_impl(
        &self,
        mut req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let i = &mut req.input;
        features::version_id(i.version_id.take())?;
        (i.expected_bucket_owner, i.request_payer) = (None, None);
        let (up, pair) = self.upstream(&i.bucket)?;
        i.bucket = up;
        let pairs = [pair];
        let mut out = forward!(
            self.proxy.get_object_tagging(req),
            GetObjectTaggingError,
            ctx("GetObjectTagging", &pairs, None)
        );
        out.version_id = None;
        Ok(S3Response::new(out))
    }

    pub(crate) async fn put_object_tagging_impl(
        &self,
        mut req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let i = &mut req.input;
        features::version_id(i.version_id.take())?;
        (i.expected_bucket_owner, i.request_payer) = (None, None);
        let (up, pair) = self.upstream(&i.bucket)?;
        i.bucket = up;
        let pairs = [pair];
        let mut out = forward!(
            self.proxy.put_object_tagging(req),
            PutObjectTaggingError,
            ctx("PutObjectTagging", &pairs, None)
        );
        out.version_id = None;
        Ok(S3Response::new(out))
    }

    pub(crate) async fn delete_object_tagging_impl(
        &self,
        mut req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let i = &mut req.input;
        features::version_id(i.version_id.take())?;
        i.expected_bucket_owner = None;
        let (up, pair) = self.upstream(&i.bucket)?;
        i.bucket = up;
        let pairs = [pair];
        let mut out = forward!(
            self.proxy.delete_object_tagging(req),
            DeleteObjectTaggingError,
            ctx("DeleteObjectTagging", &pairs, None)
        );
        out.version_id = None;
        Ok(S3Response::new(out))
    }
}
