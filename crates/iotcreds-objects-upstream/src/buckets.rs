//! Bucket operations and object listings: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
//! GetBucketLocation, ListObjectsV2, ListObjects, ListObjectVersions.

use std::collections::BTreeMap;

use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_s3::operation::delete_bucket::DeleteBucketError;
use aws_sdk_s3::operation::get_bucket_location::GetBucketLocationError;
use aws_sdk_s3::operation::head_bucket::HeadBucketError;
use aws_sdk_s3::operation::list_buckets::ListBucketsError;
use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsError;
use aws_sdk_s3::operation::list_objects::ListObjectsError;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
use s3s::dto::{
    Bucket, BucketLocationConstraint, CreateBucketConfiguration, CreateBucketInput,
    CreateBucketOutput, DeleteBucketInput, DeleteBucketOutput, GetBucketLocationInput,
    GetBucketLocationOutput, HeadBucketInput, HeadBucketOutput, ListBucketsInput,
    ListBucketsOutput, ListObjectVersionsInput, ListObjectVersionsOutput, ListObjectsInput,
    ListObjectsOutput, ListObjectsV2Input, ListObjectsV2Output,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::backend::{UpstreamBackend, forward, hide_owner};
use crate::errors::Ctx;
use crate::features::bucket_acl_refused;
use crate::names::valid_bucket_name;

/// Upper bound on upstream ListBuckets pages (10 000 buckets each on AWS).
const MAX_BUCKET_PAGES: usize = 100;

/// A request carrying only an input, for calls the gateway makes on its own.
pub(crate) fn request<T>(input: T) -> S3Request<T> {
    S3Request {
        input,
        method: http::Method::GET,
        uri: http::Uri::default(),
        headers: http::HeaderMap::new(),
        extensions: http::Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}

fn ctx<'a>(op: &'static str, buckets: &'a [(String, String)]) -> Ctx<'a> {
    Ctx {
        op,
        not_found: "NoSuchBucket",
        buckets,
        body: None,
    }
}

impl UpstreamBackend {
    /// Lists the upstream buckets that devices can see, under their device names, sorted by
    /// device name. The whole upstream list is read (it is small: AWS caps accounts at
    /// 10 000 buckets) so that prefix, paging and renaming agree.
    pub(crate) async fn list_buckets_impl(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let i = req.input;
        let max = match i.max_buckets {
            None => usize::MAX,
            Some(n) if (1..=10_000).contains(&n) => usize::try_from(n).unwrap_or(usize::MAX),
            Some(_) => {
                return Err(s3_error!(
                    InvalidArgument,
                    "Argument max-buckets must be an integer between 1 and 10000."
                ));
            }
        };
        // The token is the last device name of the previous page.
        let after = i.continuation_token.clone();
        if after.as_deref().is_some_and(|t| !valid_bucket_name(t)) {
            return Err(s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            ));
        }
        let prefix = i.prefix.clone().unwrap_or_default();
        let names = &self.inner.names;
        if i.bucket_region
            .as_ref()
            .is_some_and(|r| r != &self.inner.config.region)
        {
            return Ok(S3Response::new(ListBucketsOutput {
                buckets: Some(Vec::new()),
                prefix: i.prefix,
                ..ListBucketsOutput::default()
            }));
        }
        let mut visible: BTreeMap<String, Bucket> = BTreeMap::new();
        let mut token = None;
        for _ in 0..MAX_BUCKET_PAGES {
            let page_req = request(ListBucketsInput {
                continuation_token: token.take(),
                ..ListBucketsInput::default()
            });
            let out = forward!(
                self.proxy.list_buckets(page_req),
                ListBucketsError,
                ctx("ListBuckets", &[])
            );
            for b in out.buckets.unwrap_or_default() {
                let Some(device) = b.name.as_deref().and_then(|u| names.to_device(u)) else {
                    continue;
                };
                if device.starts_with(&prefix) && after.as_ref().is_none_or(|a| &device > a) {
                    visible.insert(
                        device.clone(),
                        Bucket {
                            name: Some(device),
                            ..b
                        },
                    );
                }
            }
            token = out.continuation_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        let truncated = visible.len() > max;
        let buckets: Vec<Bucket> = visible.into_values().take(max).collect();
        let continuation_token = if truncated {
            buckets.last().and_then(|b| b.name.clone())
        } else {
            None
        };
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            continuation_token,
            owner: None,
            prefix: i.prefix,
        }))
    }

    pub(crate) async fn create_bucket_impl(
        &self,
        mut req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let i = &mut req.input;
        if i.create_bucket_configuration
            .as_ref()
            .is_some_and(|c| c.bucket.is_some() || c.location.is_some())
        {
            return Err(s3_error!(
                NotImplemented,
                "Directory buckets are not supported by this endpoint."
            ));
        }
        if i.object_lock_enabled_for_bucket == Some(true) {
            return Err(s3_error!(
                NotImplemented,
                "Object Lock is not supported by this endpoint."
            ));
        }
        let grants = i.grant_full_control.is_some()
            || i.grant_read.is_some()
            || i.grant_read_acp.is_some()
            || i.grant_write.is_some()
            || i.grant_write_acp.is_some();
        if grants || i.acl.as_ref().is_some_and(|a| a.as_str() != "private") {
            return Err(bucket_acl_refused());
        }
        i.acl = None;
        i.object_ownership = None;
        i.object_lock_enabled_for_bucket = None;
        // Outside us-east-1 an upstream needs the constraint that names its own region.
        let region = &self.inner.config.region;
        if i.create_bucket_configuration.is_none() && region != "us-east-1" {
            i.create_bucket_configuration = Some(CreateBucketConfiguration {
                location_constraint: Some(BucketLocationConstraint::from(region.clone())),
                ..CreateBucketConfiguration::default()
            });
        }
        let device = i.bucket.clone();
        if !valid_bucket_name(&device) {
            return Err(s3_error!(
                InvalidBucketName,
                "The specified bucket is not valid."
            ));
        }
        let (up, pair) = self.upstream(&device)?;
        i.bucket = up;
        let pairs = [pair];
        forward!(
            self.proxy.create_bucket(req),
            CreateBucketError,
            ctx("CreateBucket", &pairs)
        );
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{device}")),
        }))
    }

    pub(crate) async fn head_bucket_impl(
        &self,
        mut req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let (up, pair) = self.upstream(&req.input.bucket)?;
        req.input.bucket = up;
        req.input.expected_bucket_owner = None;
        let pairs = [pair];
        let out = forward!(
            self.proxy.head_bucket(req),
            HeadBucketError,
            ctx("HeadBucket", &pairs)
        );
        Ok(S3Response::new(HeadBucketOutput {
            access_point_alias: None,
            ..out
        }))
    }

    pub(crate) async fn delete_bucket_impl(
        &self,
        mut req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let (up, pair) = self.upstream(&req.input.bucket)?;
        req.input.bucket = up;
        req.input.expected_bucket_owner = None;
        let pairs = [pair];
        let out = forward!(
            self.proxy.delete_bucket(req),
            DeleteBucketError,
            ctx("DeleteBucket", &pairs)
        );
        Ok(S3Response::new(out))
    }

    pub(crate) async fn get_bucket_location_impl(
        &self,
        mut req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let (up, pair) = self.upstream(&req.input.bucket)?;
        req.input.bucket = up;
        req.input.expected_bucket_owner = None;
        let pairs = [pair];
        let out = forward!(
            self.proxy.get_bucket_location(req),
            GetBucketLocationError,
            ctx("GetBucketLocation", &pairs)
        );
        Ok(S3Response::new(out))
    }

    pub(crate) async fn list_objects_v2_impl(
        &self,
        mut req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let device = req.input.bucket.clone();
        let (up, pair) = self.upstream(&device)?;
        let i = &mut req.input;
        // S3's rules whatever the upstream's: an empty token is refused (tokens are opaque and
        // never empty), an empty delimiter is no delimiter and is not echoed.
        if i.continuation_token.as_deref() == Some("") {
            return Err(s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            ));
        }
        i.delimiter = i.delimiter.take().filter(|d| !d.is_empty());
        i.bucket = up;
        i.expected_bucket_owner = None;
        i.request_payer = None;
        let pairs = [pair];
        let mut out = forward!(
            self.proxy.list_objects_v2(req),
            ListObjectsV2Error,
            ctx("ListObjectsV2", &pairs)
        );
        out.name = Some(device);
        hide_owner!(out.contents);
        Ok(S3Response::new(out))
    }

    pub(crate) async fn list_objects_impl(
        &self,
        mut req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let device = req.input.bucket.clone();
        let (up, pair) = self.upstream(&device)?;
        let i = &mut req.input;
        i.delimiter = i.delimiter.take().filter(|d| !d.is_empty());
        i.bucket = up;
        i.expected_bucket_owner = None;
        i.request_payer = None;
        let pairs = [pair];
        let mut out = forward!(
            self.proxy.list_objects(req),
            ListObjectsError,
            ctx("ListObjects", &pairs)
        );
        out.name = Some(device);
        hide_owner!(out.contents);
        Ok(S3Response::new(out))
    }

    pub(crate) async fn list_object_versions_impl(
        &self,
        mut req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let device = req.input.bucket.clone();
        let (up, pair) = self.upstream(&device)?;
        let i = &mut req.input;
        i.bucket = up;
        i.expected_bucket_owner = None;
        i.request_payer = None;
        let pairs = [pair];
        let mut out = forward!(
            self.proxy.list_object_versions(req),
            ListObjectVersionsError,
            ctx("ListObjectVersions", &pairs)
        );
        out.name = Some(device);
        hide_owner!(out.versions);
        hide_owner!(out.delete_markers);
        Ok(S3Response::new(out))
    }
}
