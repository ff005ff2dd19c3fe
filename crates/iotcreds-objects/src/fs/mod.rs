//! The embedded file-system object backend: [`FsBackend`], an [`s3s::S3`] implementation.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use iotcreds_objects::fs::{FsBackend, FsConfig};
//! let backend = FsBackend::open("/var/lib/iotcreds/objects".into(), FsConfig::default())?;
//! let _cleanup = backend.spawn_cleanup(std::time::Duration::from_secs(3600));
//! let service = s3s::service::S3ServiceBuilder::new(backend.clone()).build();
//! # let _ = service; Ok(()) }
//! ```
//!
//! # Data directory
//!
//! ```text
//! <root>/iotcreds-objects.json          format marker {"format":1}
//! <root>/.lock                          advisory lock: one process per root
//! <root>/tmp/                           every file or directory being written; emptied at open
//! <root>/buckets/<bucket>/bucket.json   creation date
//! <root>/buckets/<bucket>/objects/<h0h1>/<h2h3>/<sha256(key) hex>     one file per object
//! <root>/buckets/<bucket>/objects/<h0h1>/<h2h3>/<sha256(key) hex>.tags  tags set after writing
//! <root>/buckets/<bucket>/uploads/<upload-id>/upload.json            multipart upload metadata
//! <root>/buckets/<bucket>/uploads/<upload-id>/part-00001 …           staged parts
//! ```
//!
//! An object file (and a staged part) is a 16-byte header (magic, format version), the data,
//! the metadata as JSON (key, size, ETag, Last-Modified, content headers, user metadata,
//! checksum, part boundaries), and a 16-byte footer (JSON length, CRC32C of the JSON, end magic).
//! The exact layout is in the `format` module. Metadata is written after the data because the
//! digests it contains are known only at the end of the stream; the footer lets readers find it
//! without touching the data.
//!
//! # Atomicity and durability
//!
//! Every write (PutObject, CopyObject, UploadPart, UploadPartCopy, CompleteMultipartUpload,
//! bucket and upload metadata) goes the same way: stream into a new file under `tmp/` (same
//! file system) while computing MD5 and the checksum, `fsync` it, then, holding the bucket's
//! lock, check preconditions, `rename` it over the destination and update the in-memory index,
//! then `fsync` the destination directory before answering. A reader opens either the old or
//! the new file, never a mix: data and metadata are one file and change in one `rename`. A
//! crash (even SIGKILL) before the rename leaves the previous object untouched and a stray file
//! in `tmp/`, which the next open removes. Concurrent PUTs to one key each rename a complete
//! file; the last rename wins and the index, updated under the same lock, agrees with it.
//!
//! CompleteMultipartUpload assembles the parts into a temporary file, renames it over the
//! object (and fsyncs), and only then removes the upload directory. A crash before the object
//! rename leaves the previous object and the upload intact and completable; a crash between the
//! two steps leaves the new object *and* the upload, which can be completed again to the same
//! result or aborted. An upload is never lost before its object is durable.
//!
//! Listing uses a per-bucket in-memory index (`BTreeMap` keyed by the key's UTF-8 bytes, the
//! order S3 lists in) rebuilt at open from the metadata of every object file. Small objects are
//! also kept in a read cache that changes in step with the index (the `cache` module).
//!
//! # Security: path safety
//!
//! * Object keys never become paths. The file name is the hex SHA-256 of the key in two levels
//!   of hex fan-out directories, so `../../etc/passwd`, `a/../b`, `//x`, `.`, trailing slashes,
//!   NUL-free unicode, and both `a` and `a/b` are just different hashes inside the bucket's
//!   `objects/` directory. The key is stored in the file and compared on every read.
//! * Bucket names are checked against the AWS naming rules (lower-case letters, digits, `.` and
//!   `-`, no `..`, no leading `.`) before any file-system call, so a name is always a single
//!   safe path component. Upload ids must be 48 lower-case hex digits before they become a
//!   directory name; anything else is `NoSuchUpload`.
//! * Nothing from a request is ever used as a path otherwise, and no symlink is followed out of
//!   the root by construction (the backend never creates one).
//! * The backend does no authorisation: it must sit behind the gateway's SigV4 and policy checks.
//!
//! # Tags
//!
//! Object tags live in the object file when given at creation and in a tag file beside it when
//! changed later (the `tagging` module), so tagging never rewrites data.
//!
//! # Deliberate gaps
//!
//! Versioning (every object is version `null`), ACLs other than
//! `private`/`bucket-owner-full-control`, server-side encryption, object lock, storage classes
//! other than `STANDARD` and `x-amz-expected-bucket-owner` checks are not supported: requests
//! that need them are refused with AWS's error for the situation (or `NotImplemented`) rather
//! than silently ignored. Operations other than those implemented in the `s3` module (buckets,
//! objects, listings, copies, multipart uploads) return s3s's default `NotImplemented`.

mod attributes;
mod bucket;
mod bufpool;
mod cache;
mod checksum;
mod cleanup;
mod complete;
mod copy;
mod format;
mod layout;
mod list;
mod listing;
mod multipart;
mod object;
mod read;
mod s3;
mod tagging;
mod write;

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use s3s::{S3Error, S3Result, s3_error};
use time::OffsetDateTime;

pub use self::cleanup::CleanupReport;
use self::list::IndexKey;
pub use self::tagging::{document_tags, tag_error};

/// Settings of a [`FsBackend`].
#[derive(Debug, Clone)]
pub struct FsConfig {
    /// The region this endpoint answers for (GetBucketLocation, HeadBucket, CreateBucket's
    /// LocationConstraint check). Default `us-east-1`.
    pub region: String,
    /// Canonical user id reported as the owner of buckets, objects and uploads.
    pub owner_id: String,
    /// Display name reported with `owner_id`.
    pub owner_display_name: String,
    /// Minimum size of every part but the last in CompleteMultipartUpload. AWS: 5 MiB.
    pub min_part_size: u64,
    /// Multipart uploads initiated longer ago than this are aborted by [`FsBackend::cleanup`].
    /// `None` keeps them forever.
    pub multipart_max_age: Option<Duration>,
    /// Memory for the read cache of small objects (metadata and data of objects up to
    /// 256 KiB, each at most an eighth of this), shared by all buckets; `0` turns it off.
    /// Default 64 MiB.
    pub read_cache_bytes: usize,
}

impl Default for FsConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".to_owned(),
            owner_id: "69b2e3c6c6c7b3f0d8f8c0d7a5b7f6e1c9d2e4a3b1c0f9e8d7c6b5a4f3e2d1c0".to_owned(),
            owner_display_name: "iotcreds".to_owned(),
            min_part_size: 5 * 1024 * 1024,
            multipart_max_age: Some(Duration::from_secs(7 * 24 * 3600)),
            read_cache_bytes: 64 << 20,
        }
    }
}

/// The file-system backend. Cheap to clone (all clones share one state); give one clone to
/// `S3ServiceBuilder::new` and keep another for [`FsBackend::cleanup`].
#[derive(Clone)]
pub struct FsBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FsBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsBackend")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    root: PathBuf,
    tmp: PathBuf,
    buckets_dir: PathBuf,
    config: FsConfig,
    buckets: RwLock<BTreeMap<String, Arc<Bucket>>>,
    /// Names in `tmp/` that a running operation owns; everything else there is garbage.
    live_tmp: Mutex<HashSet<OsString>>,
    /// The budget of the buckets' read caches (each bucket holds a reference).
    read_cache: Arc<cache::CacheBudget>,
    /// Held for the backend's lifetime: the advisory lock on `<root>/.lock`.
    _lock: File,
}

pub(crate) struct Bucket {
    dir: PathBuf,
    created_ns: i128,
    state: Mutex<BucketState>,
    /// The backend's read-cache budget.
    read_budget: Arc<cache::CacheBudget>,
}

/// What the bucket lock protects: the indexes, the read cache and the "deleted" flag. Every
/// rename into the bucket directory happens while holding it.
#[derive(Default)]
pub(crate) struct BucketState {
    deleted: bool,
    /// Private: changed only through [`BucketState::put_object`] and
    /// [`BucketState::remove_object`], which keep the read cache in step.
    objects: BTreeMap<IndexKey, ObjSummary>,
    /// key → upload id → summary
    uploads: BTreeMap<IndexKey, BTreeMap<String, UploadSummary>>,
    cache: cache::ReadCache,
}

impl BucketState {
    /// Index `key` as `summary`: called in the critical section that renamed its new file into
    /// place (and drops any cached copy of the old one).
    pub(crate) fn put_object(&mut self, bucket: &Bucket, key: IndexKey, summary: ObjSummary) {
        self.cache.invalidate(&bucket.read_budget, key.as_str());
        self.objects.insert(key, summary);
    }

    /// Set the tags in force of `key` (the read cache holds data and the object file's metadata,
    /// not tags, so it stays valid). `false` if there is no such object.
    pub(crate) fn set_tags(&mut self, key: &str, tags: Vec<(String, String)>) -> bool {
        match self.objects.get_mut(key.as_bytes()) {
            Some(s) => {
                s.tags = tags;
                true
            }
            None => false,
        }
    }

    /// Forget `key`: called in the critical section that removed its file.
    pub(crate) fn remove_object(&mut self, bucket: &Bucket, key: &str) {
        self.cache.invalidate(&bucket.read_budget, key);
        self.objects.remove(key.as_bytes());
    }
}

/// What listings need to know about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjSummary {
    size: u64,
    etag: String,
    last_modified_ns: i128,
    checksum_algorithm: Option<String>,
    checksum_type: Option<String>,
    /// The tags in force: the object file's, or its tag file's when that belongs to this
    /// version of the object (the `tagging` module).
    tags: Vec<(String, String)>,
}

/// What ListMultipartUploads and the cleanup need to know about an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadSummary {
    initiated_ns: i128,
    checksum_algorithm: Option<String>,
    checksum_type: Option<String>,
}

impl FsBackend {
    /// Opens (or initialises) the data directory at `root`: takes the directory lock, removes
    /// leftover temporary files, and rebuilds the in-memory indexes from the object files.
    /// Blocking; its cost grows with the number of objects (one small read per object).
    ///
    /// # Errors
    /// I/O errors, an unknown format marker, or another process holding the directory.
    pub fn open(root: PathBuf, config: FsConfig) -> io::Result<Self> {
        let inner = cleanup::open_root(root, config)?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The data directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The configuration the backend was opened with.
    #[must_use]
    pub fn config(&self) -> &FsConfig {
        &self.inner.config
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }
}

impl Inner {
    pub(crate) fn bucket(&self, name: &str) -> S3Result<Arc<Bucket>> {
        if !layout::valid_bucket_name(name) {
            return Err(s3_error!(
                InvalidBucketName,
                "The specified bucket is not valid."
            ));
        }
        let map = self.buckets.read().unwrap_or_else(PoisonError::into_inner);
        map.get(name).cloned().ok_or_else(no_such_bucket)
    }
}

impl Bucket {
    pub(crate) fn lock(&self) -> MutexGuard<'_, BucketState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The indexed size and number of tags of `key`, if the object exists (the size is a hint:
    /// the file is the truth), and what the read cache holds for it.
    pub(crate) fn indexed(&self, key: &str) -> (Option<(u64, usize)>, cache::Lookup) {
        let st = self.lock();
        let found = st
            .objects
            .get(key.as_bytes())
            .map(|s| (s.size, s.tags.len()));
        (found, st.cache.lookup(key))
    }

    /// Keep what a reader read after a miss at `epoch` (see the `cache` module).
    pub(crate) fn cache_store(&self, epoch: u64, meta: &Arc<format::ObjectMeta>, data: &[u8]) {
        self.lock()
            .cache
            .store(&self.read_budget, epoch, meta, data);
    }

    /// The bucket's state if it has not been deleted meanwhile.
    pub(crate) fn lock_live(&self) -> S3Result<MutexGuard<'_, BucketState>> {
        let st = self.lock();
        if st.deleted {
            return Err(no_such_bucket());
        }
        Ok(st)
    }
}

pub(crate) fn no_such_bucket() -> S3Error {
    s3_error!(NoSuchBucket, "The specified bucket does not exist")
}

pub(crate) fn no_such_key() -> S3Error {
    s3_error!(NoSuchKey, "The specified key does not exist.")
}

pub(crate) fn no_such_upload() -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

/// An unexpected I/O error: logged here with its cause, answered as a plain `InternalError`
/// (no paths or OS details reach the client).
pub(crate) fn internal(e: impl std::fmt::Display) -> S3Error {
    tracing::error!(error = %e, "object store I/O error");
    s3_error!(
        InternalError,
        "We encountered an internal error. Please try again."
    )
}

/// Runs blocking file-system work off the async workers.
pub(crate) async fn blocking<T, F>(f: F) -> S3Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> S3Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

pub(crate) fn now_ns() -> i128 {
    OffsetDateTime::now_utc().unix_timestamp_nanos()
}

pub(crate) fn timestamp(ns: i128) -> s3s::dto::Timestamp {
    OffsetDateTime::from_unix_timestamp_nanos(ns)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .into()
}
