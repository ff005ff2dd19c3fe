//! What the console needs from the S3 endpoint: the port [`Objects`], implemented by the server
//! over its object backend with the S3 endpoint's own authorisation (the same operation →
//! action and resource mapping, the same policy evaluation and the same audit line as a
//! signed S3 request). The console never reads or writes objects any other way.

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use iotcreds_control::Caller;

/// A stream of body bytes.
pub type ByteStream =
    Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static>>;

/// An S3 error: its code and message (`AccessDenied`, `Access Denied`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectsError {
    /// The S3 error code.
    pub code: String,
    /// The message.
    pub message: String,
}

impl ObjectsError {
    /// An error with `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// A bucket in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketEntry {
    /// Its name.
    pub name: String,
    /// Creation time (ms), if known.
    pub created_ms: Option<i64>,
}

/// An object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    /// Its key.
    pub key: String,
    /// Size in bytes.
    pub size: i64,
    /// Last change (ms), if known.
    pub modified_ms: Option<i64>,
}

/// One page of a bucket listing with `/` as delimiter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectPage {
    /// "Folders": common prefixes under the prefix.
    pub prefixes: Vec<String>,
    /// Objects directly under the prefix.
    pub objects: Vec<ObjectEntry>,
    /// Continuation token of the next page.
    pub next: Option<String>,
}

/// An object being downloaded.
pub struct Download {
    /// Its size, if known.
    pub length: Option<u64>,
    /// The bytes.
    pub body: ByteStream,
}

/// The S3 operations of the console, each authorised for `caller` as S3 authorises them.
#[async_trait::async_trait]
pub trait Objects: Send + Sync + 'static {
    /// `ListBuckets` (`s3:ListAllMyBuckets`).
    async fn list_buckets(&self, caller: &Caller) -> Result<Vec<BucketEntry>, ObjectsError>;
    /// `CreateBucket` (`s3:CreateBucket`).
    async fn create_bucket(&self, caller: &Caller, bucket: &str) -> Result<(), ObjectsError>;
    /// `ListObjectsV2` with delimiter `/` (`s3:ListBucket`, with `s3:prefix`).
    async fn list_objects(
        &self,
        caller: &Caller,
        bucket: &str,
        prefix: &str,
        continuation: Option<&str>,
    ) -> Result<ObjectPage, ObjectsError>;
    /// `GetObject` (`s3:GetObject`).
    async fn get_object(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
    ) -> Result<Download, ObjectsError>;
    /// `PutObject` of `length` bytes (`s3:PutObject`).
    async fn put_object(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        length: u64,
        body: ByteStream,
    ) -> Result<(), ObjectsError>;
    /// `DeleteObject` (`s3:DeleteObject`).
    async fn delete_object(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
    ) -> Result<(), ObjectsError>;
}
