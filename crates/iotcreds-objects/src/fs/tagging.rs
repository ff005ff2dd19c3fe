//! Object tags: GetObjectTagging, PutObjectTagging, DeleteObjectTagging, and the tag file.
//!
//! An object's tags at creation (`x-amz-tagging` on PutObject, CreateMultipartUpload or a
//! CopyObject with `REPLACE`, else the copy source's) are part of its metadata, in the object
//! file. Changing them later must not rewrite the object's data, so PutObjectTagging and
//! DeleteObjectTagging write a *tag file* beside the object file (`<sha256>.tags`, JSON),
//! which names the version it belongs to: the key, ETag and Last-Modified (nanoseconds) of the
//! object file it was written for. The tags in force are the tag file's if it belongs to the
//! current object file, else the object file's own.
//!
//! Atomicity follows the object files': a tag file is written to `tmp/`, fsynced and renamed
//! into place under the bucket lock, after checking that the object still is the version the
//! request saw, and the in-memory index is updated in the same critical section. A new version
//! of the object (PUT, copy, Complete) or its deletion removes the tag file in the critical
//! section that renames or removes the object file. A crash between the two leaves a tag file
//! that names an older version: it is ignored at open and removed by the next write, so a
//! replaced object can never inherit its predecessor's tags (which policies may grant access
//! on, through `s3:ExistingObjectTag/<key>`).

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use iotcreds_types::s3_tags::{self, TagSetError};
use s3s::dto::{
    DeleteObjectTaggingInput, DeleteObjectTaggingOutput, GetObjectTaggingInput,
    GetObjectTaggingOutput, PutObjectTaggingInput, PutObjectTaggingOutput, Tag, Tagging,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};

use super::format::ObjectMeta;
use super::list::IndexKey;
use super::read::check_version_id;
use super::write::TempFile;
use super::{Bucket, FsBackend, ObjSummary, blocking, bucket, internal, layout};

/// The suffix of a tag file's name.
const SUFFIX: &str = ".tags";

/// A tag file: the tags of one version of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TagFile {
    /// The object's key (checked as the object file's is).
    pub key: String,
    /// The version the tags belong to: its ETag and Last-Modified.
    pub etag: String,
    pub last_modified_ns: i128,
    /// The tags, in the order given.
    pub tags: Vec<(String, String)>,
}

impl TagFile {
    /// Whether this tag file belongs to the object version `summary` describes.
    pub(crate) fn belongs_to(&self, key: &str, etag: &str, last_modified_ns: i128) -> bool {
        self.key == key && self.etag == etag && self.last_modified_ns == last_modified_ns
    }
}

/// S3's answer to a tag set that breaks a rule (400, with S3's code and message); the
/// gateway's policy gate answers a malformed `x-amz-tagging` with it too.
pub fn tag_error(e: TagSetError) -> S3Error {
    let code = S3ErrorCode::from_bytes(e.code().as_bytes()).unwrap_or(S3ErrorCode::InvalidArgument);
    let mut err = S3Error::with_message(code, e.message());
    err.set_status_code(http::StatusCode::BAD_REQUEST);
    err
}

/// The tag file beside the object file at `object_path`.
pub(crate) fn tag_file_path(object_path: &Path) -> PathBuf {
    let mut name: OsString = object_path.file_name().unwrap_or_default().to_owned();
    name.push(SUFFIX);
    object_path.with_file_name(name)
}

/// Whether `name` is a tag file's name (`<sha256 hex>.tags`); then the object file's name.
pub(crate) fn object_name_of_tag_file(name: &str) -> Option<&str> {
    name.strip_suffix(SUFFIX)
        .filter(|n| layout::is_object_file_name(n))
}

/// Removes the tag file of the object file at `object_path`, if there is one (called with the
/// bucket lock held, beside the rename or removal of the object file).
pub(crate) fn remove_tag_file(object_path: &Path) -> io::Result<()> {
    match std::fs::remove_file(tag_file_path(object_path)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Reads a tag file.
pub(crate) fn read_tag_file(path: &Path) -> io::Result<TagFile> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(io::Error::other)
}

/// The tags in force for the object version `meta` (an opened object file): the index's, if
/// the index still describes that version, else the file's own.
pub(crate) fn tags_in_force(bucket: &Bucket, meta: &ObjectMeta) -> Vec<(String, String)> {
    let st = bucket.lock();
    match st.objects.get(meta.key.as_bytes()) {
        Some(s) if s.etag == meta.etag && s.last_modified_ns == meta.last_modified_ns => {
            s.tags.clone()
        }
        _ => meta.attrs.tags.clone(),
    }
}

/// The tags of a `Tagging` document (PutObjectTagging), checked: S3's `MalformedXML` for a tag
/// without key or value, the tag-set rules otherwise. The gateway's policy gate reads a
/// document's tags with it too.
pub fn document_tags(tagging: &Tagging) -> S3Result<Vec<(String, String)>> {
    let tags = tagging
        .tag_set
        .iter()
        .map(|t| match (&t.key, &t.value) {
            (Some(k), Some(v)) => Ok((k.clone(), v.clone())),
            _ => Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            )),
        })
        .collect::<S3Result<Vec<_>>>()?;
    s3_tags::check(&tags).map_err(tag_error)?;
    Ok(tags)
}

/// How often [`set_tags`] tries again when the object is replaced while its tag file is
/// being written, before answering `OperationAborted`.
const SET_TAGS_ATTEMPTS: usize = 3;

/// The version (ETag, Last-Modified) the index holds for `key`. `NoSuchKey` if none.
fn current_version(bucket: &Bucket, key: &str) -> S3Result<(String, i128)> {
    let st = bucket.lock_live()?;
    st.objects
        .get(key.as_bytes())
        .map(|s: &ObjSummary| (s.etag.clone(), s.last_modified_ns))
        .ok_or_else(super::no_such_key)
}

/// Replaces the tags of the current version of `key` (blocking). The tag file for that
/// version is written and fsynced *outside* the bucket lock (reads of the bucket never wait for
/// a disk flush); under the lock it is renamed into place and the index updated, if the object
/// is still that version. If the object was replaced meanwhile, the tags go to the new version,
/// as S3 applies a PutObjectTagging to the current one. `NoSuchKey` if there is no object.
fn set_tags(
    inner: &std::sync::Arc<super::Inner>,
    bucket: &Bucket,
    key: &str,
    tags: Vec<(String, String)>,
) -> S3Result<()> {
    let object_path = bucket.dir.join(layout::object_rel_path(key));
    let path = tag_file_path(&object_path);
    for _ in 0..SET_TAGS_ATTEMPTS {
        let (etag, last_modified_ns) = current_version(bucket, key)?;
        let file = TagFile {
            key: key.to_owned(),
            etag,
            last_modified_ns,
            tags: tags.clone(),
        };
        let tmp = TempFile::reserve(inner, "tags");
        bucket::write_json_file(tmp.path(), &file).map_err(internal)?;
        {
            let mut st = bucket.lock_live()?;
            match st.objects.get(key.as_bytes()) {
                Some(s) if file.belongs_to(key, &s.etag, s.last_modified_ns) => {}
                Some(_) => continue,
                None => return Err(super::no_such_key()),
            }
            tmp.persist(&path).map_err(internal)?;
            st.set_tags(key, file.tags);
        }
        if let Some(dir) = path.parent() {
            layout::fsync_dir(dir).map_err(internal)?;
        }
        return Ok(());
    }
    Err(s3_error!(
        OperationAborted,
        "A conflicting conditional operation is currently in progress against this resource. Please try again."
    ))
}

/// The tags in force for `key` per the index. `NoSuchKey` if there is no object.
fn indexed_tags(bucket: &Bucket, key: &str) -> S3Result<Vec<(String, String)>> {
    let st = bucket.lock_live()?;
    st.objects
        .get(key.as_bytes())
        .map(|s: &ObjSummary| s.tags.clone())
        .ok_or_else(super::no_such_key)
}

/// Applies the tag files found while scanning a bucket (at open): each one that belongs to the
/// indexed version of its object sets that object's tags; the others are left for the next
/// write of the object to remove.
pub(crate) fn apply_tag_files(
    files: Vec<PathBuf>,
    objects: &mut std::collections::BTreeMap<IndexKey, ObjSummary>,
) {
    for path in files {
        match read_tag_file(&path) {
            Ok(f) => {
                let named_right = Some(layout::key_hash(&f.key))
                    == path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(object_name_of_tag_file)
                        .map(str::to_owned);
                match objects.get_mut(f.key.as_bytes()) {
                    Some(s) if named_right && f.belongs_to(&f.key, &s.etag, s.last_modified_ns) => {
                        s.tags = f.tags;
                    }
                    _ => {
                        tracing::debug!(path = %path.display(), "ignoring a tag file of an older object version")
                    }
                }
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable tag file");
            }
        }
    }
}

impl FsBackend {
    pub(crate) async fn get_object_tagging_impl(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let i = req.input;
        let bucket = self.inner().bucket(&i.bucket)?;
        layout::check_key(&i.key)?;
        check_version_id(i.version_id.as_deref())?;
        let tags = indexed_tags(&bucket, &i.key)?;
        Ok(S3Response::new(GetObjectTaggingOutput {
            tag_set: tags
                .into_iter()
                .map(|(k, v)| Tag {
                    key: Some(k),
                    value: Some(v),
                })
                .collect(),
            version_id: None,
        }))
    }

    pub(crate) async fn put_object_tagging_impl(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let i = req.input;
        let inner = std::sync::Arc::clone(self.inner());
        let bucket = inner.bucket(&i.bucket)?;
        layout::check_key(&i.key)?;
        check_version_id(i.version_id.as_deref())?;
        let tags = document_tags(&i.tagging)?;
        let key = i.key;
        blocking(move || set_tags(&inner, &bucket, &key, tags)).await?;
        Ok(S3Response::new(PutObjectTaggingOutput::default()))
    }

    pub(crate) async fn delete_object_tagging_impl(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let i = req.input;
        let inner = std::sync::Arc::clone(self.inner());
        let bucket = inner.bucket(&i.bucket)?;
        layout::check_key(&i.key)?;
        check_version_id(i.version_id.as_deref())?;
        let key = i.key;
        blocking(move || set_tags(&inner, &bucket, &key, Vec::new())).await?;
        Ok(S3Response::new(DeleteObjectTaggingOutput::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_file_names() {
        let object = Path::new("objects/ab/cd").join("a".repeat(64));
        let tags = tag_file_path(&object);
        assert_eq!(
            tags.file_name().and_then(|n| n.to_str()),
            Some(format!("{}.tags", "a".repeat(64)).as_str())
        );
        assert_eq!(tags.parent(), object.parent());
        let name = format!("{}.tags", "a".repeat(64));
        assert_eq!(
            object_name_of_tag_file(&name),
            Some("a".repeat(64).as_str())
        );
        assert_eq!(object_name_of_tag_file("xyz.tags"), None);
        assert_eq!(object_name_of_tag_file(&"a".repeat(64)), None);
    }

    #[test]
    fn a_tag_file_belongs_to_one_version() {
        let f = TagFile {
            key: "k".into(),
            etag: "e".into(),
            last_modified_ns: 5,
            tags: vec![("a".into(), "1".into())],
        };
        assert!(f.belongs_to("k", "e", 5));
        assert!(!f.belongs_to("k", "e", 6));
        assert!(!f.belongs_to("k", "f", 5));
        assert!(!f.belongs_to("j", "e", 5));
    }

    #[test]
    fn s3_error_shapes() {
        let e = tag_error(TagSetError::TooMany);
        assert_eq!(e.code().as_str(), "BadRequest");
        assert_eq!(e.status_code(), Some(http::StatusCode::BAD_REQUEST));
        let e = tag_error(TagSetError::BadKey);
        assert_eq!(e.code().as_str(), "InvalidTag");
        assert_eq!(e.message(), Some("The TagKey you have provided is invalid"));
    }
}
