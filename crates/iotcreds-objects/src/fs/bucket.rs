//! Bucket operations: CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation, ListBuckets.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use s3s::dto::{
    Bucket as BucketDto, BucketLocationConstraint, CreateBucketInput, CreateBucketOutput,
    DeleteBucketInput, DeleteBucketOutput, GetBucketLocationInput, GetBucketLocationOutput,
    HeadBucketInput, HeadBucketOutput, ListBucketsInput, ListBucketsOutput, Owner,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};

use super::list::{decode_token, encode_token};
use super::write::TempFile;
use super::{
    Bucket, BucketState, FsBackend, Inner, blocking, internal, layout, no_such_bucket, now_ns,
    timestamp,
};

/// `bucket.json`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BucketMeta {
    pub name: String,
    pub created_ns: i128,
}

pub(crate) fn owner(inner: &Inner) -> Owner {
    Owner {
        id: Some(inner.config.owner_id.clone()),
        display_name: Some(inner.config.owner_display_name.clone()),
    }
}

/// Writes a small JSON file durably (used inside not-yet-visible temporary directories).
pub(crate) fn write_json_file(
    path: &std::path::Path,
    value: &impl Serialize,
) -> std::io::Result<()> {
    let mut f = layout::new_file().open(path)?;
    f.write_all(&serde_json::to_vec(value).map_err(std::io::Error::other)?)?;
    f.sync_all()
}

/// AWS's LocationConstraint rules for an endpoint that serves exactly one region.
fn check_location(region: &str, constraint: Option<&str>) -> S3Result<()> {
    let constraint = constraint.filter(|c| !c.is_empty());
    match constraint {
        None if region == "us-east-1" => Ok(()),
        None => Err(s3_error!(
            IllegalLocationConstraintException,
            "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to."
        )),
        Some("us-east-1") if region == "us-east-1" => Err(s3_error!(
            InvalidLocationConstraint,
            "The specified location-constraint is not valid"
        )),
        Some(c) if c == region || (c == "EU" && region == "eu-west-1") => Ok(()),
        Some(c) => Err(s3_error!(
            IllegalLocationConstraintException,
            "The {c} location constraint is incompatible for the region specific endpoint this request was sent to."
        )),
    }
}

impl FsBackend {
    pub(crate) async fn create_bucket_impl(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let i = req.input;
        let inner = Arc::clone(self.inner());
        if !layout::valid_bucket_name(&i.bucket) {
            return Err(s3_error!(
                InvalidBucketName,
                "The specified bucket is not valid."
            ));
        }
        let cfg = i.create_bucket_configuration.as_ref();
        if cfg.is_some_and(|c| c.bucket.is_some() || c.location.is_some()) {
            return Err(s3_error!(
                NotImplemented,
                "Directory buckets are not supported by this endpoint."
            ));
        }
        let constraint = cfg
            .and_then(|c| c.location_constraint.as_ref())
            .map(BucketLocationConstraint::as_str);
        check_location(&inner.config.region, constraint)?;
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
            let mut err = s3s::S3Error::with_message(
                s3s::S3ErrorCode::Custom("InvalidBucketAclWithObjectOwnership".into()),
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
            );
            err.set_status_code(http::StatusCode::BAD_REQUEST);
            return Err(err);
        }
        let name = i.bucket;
        let location = format!("/{name}");
        blocking(move || {
            let mut map = inner.buckets.write().unwrap_or_else(PoisonError::into_inner);
            if map.contains_key(&name) {
                // AWS keeps a legacy answer in us-east-1: re-creating your own bucket is 200 OK.
                if inner.config.region == "us-east-1" {
                    return Ok(());
                }
                return Err(s3_error!(
                    BucketAlreadyOwnedByYou,
                    "Your previous request to create the named bucket succeeded and you already own it."
                ));
            }
            let created_ns = now_ns();
            let tmp = TempFile::reserve(&inner, "bucket");
            let build = || -> std::io::Result<()> {
                layout::create_dir(tmp.path())?;
                layout::create_dir(&tmp.path().join(layout::OBJECTS_DIR))?;
                layout::create_dir(&tmp.path().join(layout::UPLOADS_DIR))?;
                write_json_file(&tmp.path().join(layout::BUCKET_META), &BucketMeta { name: name.clone(), created_ns })?;
                layout::fsync_dir(tmp.path())
            };
            build().map_err(internal)?;
            let dir = inner.buckets_dir.join(&name);
            tmp.persist(&dir).map_err(internal)?;
            layout::fsync_dir(&inner.buckets_dir).map_err(internal)?;
            map.insert(
                name.clone(),
                Arc::new(Bucket {
                    dir,
                    created_ns,
                    state: Mutex::new(BucketState::default()),
                    read_budget: Arc::clone(&inner.read_cache),
                }),
            );
            Ok(())
        })
        .await?;
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(location),
        }))
    }

    pub(crate) async fn delete_bucket_impl(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let name = req.input.bucket;
        let inner = Arc::clone(self.inner());
        inner.bucket(&name)?;
        blocking(move || {
            let trash = {
                let mut map = inner
                    .buckets
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                let bucket = map.get(&name).cloned().ok_or_else(no_such_bucket)?;
                let mut st = bucket.lock();
                if !st.objects.is_empty() {
                    return Err(s3_error!(
                        BucketNotEmpty,
                        "The bucket you tried to delete is not empty"
                    ));
                }
                // In-progress multipart uploads do not keep a general-purpose bucket alive on
                // AWS: they are discarded with it.
                let trash = TempFile::reserve(&inner, "trash");
                std::fs::rename(&bucket.dir, trash.path()).map_err(internal)?;
                layout::fsync_dir(&inner.buckets_dir).map_err(internal)?;
                st.deleted = true;
                st.uploads.clear();
                drop(st);
                map.remove(&name);
                trash
            };
            drop(trash); // removes the old directory tree outside the locks
            Ok(())
        })
        .await?;
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    pub(crate) async fn head_bucket_impl(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.inner().bucket(&req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.inner().config.region.clone()),
            ..HeadBucketOutput::default()
        }))
    }

    pub(crate) async fn get_bucket_location_impl(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.inner().bucket(&req.input.bucket)?;
        let region = &self.inner().config.region;
        // us-east-1 is reported as an empty LocationConstraint, as AWS does.
        let location_constraint =
            (region != "us-east-1").then(|| BucketLocationConstraint::from(region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    pub(crate) async fn list_buckets_impl(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let i = req.input;
        let inner = self.inner();
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
        let after = i
            .continuation_token
            .as_deref()
            .map(decode_token)
            .transpose()?;
        let prefix = i.prefix.clone().unwrap_or_default();
        if let Some(r) = &i.bucket_region
            && r != &inner.config.region
        {
            return Ok(S3Response::new(ListBucketsOutput {
                owner: Some(owner(inner)),
                prefix: i.prefix,
                ..ListBucketsOutput::default()
            }));
        }
        let map = inner.buckets.read().unwrap_or_else(PoisonError::into_inner);
        let matching: Vec<(&String, &Arc<Bucket>)> = map
            .iter()
            .filter(|(n, _)| n.starts_with(&prefix) && after.as_ref().is_none_or(|a| *n > a))
            .take(max.saturating_add(1))
            .collect();
        let truncated = matching.len() > max;
        let buckets: Vec<BucketDto> = matching
            .iter()
            .take(max)
            .map(|(n, b)| BucketDto {
                name: Some((*n).clone()),
                creation_date: Some(timestamp(b.created_ns)),
                bucket_region: Some(inner.config.region.clone()),
            })
            .collect();
        let continuation_token = truncated
            .then(|| {
                buckets
                    .last()
                    .and_then(|b| b.name.as_deref())
                    .map(encode_token)
            })
            .flatten();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            continuation_token,
            owner: Some(owner(inner)),
            prefix: i.prefix,
        }))
    }
}

/// Reads `bucket.json` (open / rebuild).
pub(crate) fn read_bucket_meta(path: &std::path::Path) -> std::io::Result<BucketMeta> {
    serde_json::from_slice(&std::fs::read(path)?).map_err(std::io::Error::other)
}

/// Used by the startup scan to register a bucket found on disk.
pub(crate) fn loaded_bucket(
    dir: std::path::PathBuf,
    created_ns: i128,
    state: BucketState,
    read_budget: Arc<super::cache::CacheBudget>,
) -> Arc<Bucket> {
    Arc::new(Bucket {
        dir,
        created_ns,
        state: Mutex::new(state),
        read_budget,
    })
}

/// Keeps the type in one place for the scan.
pub(crate) type BucketMap = BTreeMap<String, Arc<Bucket>>;
