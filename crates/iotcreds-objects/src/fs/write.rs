//! The write path: temporary files, streaming a body with digests, and the atomic commit.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use futures::StreamExt as _;
use s3s::crypto::{Checksum as _, Md5};
use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};
use tokio::io::AsyncWriteExt as _;

use super::checksum::{Algo, Hasher};
use super::format::{self, ObjectMeta};
use super::list::IndexKey;
use super::{Bucket, Inner, ObjSummary, internal, layout, tagging};

/// AWS's largest single PUT / part / copy source: 5 GiB.
pub(crate) const MAX_SINGLE_UPLOAD: u64 = 5 * 1024 * 1024 * 1024;

/// A name reserved in `tmp/` for one operation. Dropping it removes whatever is at the path
/// (file or directory), unless it was moved into place with [`TempFile::persist`]. The name is
/// registered as live so that [`super::FsBackend::cleanup`] leaves it alone.
pub(crate) struct TempFile {
    inner: Arc<Inner>,
    name: OsString,
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    pub(crate) fn reserve(inner: &Arc<Inner>, what: &str) -> Self {
        let name = OsString::from(format!("{}.{what}", uuid::Uuid::new_v4().simple()));
        inner
            .live_tmp
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone());
        let path = inner.tmp.join(&name);
        Self {
            inner: Arc::clone(inner),
            name,
            path,
            armed: true,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the temporary file or directory to `dest` (replacing a file there).
    pub(crate) fn persist(mut self, dest: &Path) -> io::Result<()> {
        std::fs::rename(&self.path, dest)?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let removed = match std::fs::symlink_metadata(&self.path) {
                Ok(m) if m.is_dir() => std::fs::remove_dir_all(&self.path),
                Ok(_) => std::fs::remove_file(&self.path),
                Err(e) => Err(e),
            };
            if let Err(e) = removed
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(error = %e, "could not remove a temporary file; cleanup will retry");
            }
        }
        self.inner
            .live_tmp
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.name);
    }
}

/// A body streamed into a temporary object file (header and data written, metadata not yet).
pub(crate) struct Staged {
    pub tmp: TempFile,
    file: tokio::fs::File,
    pub size: u64,
    pub md5: [u8; 16],
    /// Base64 digest of the planned checksum algorithm.
    pub checksum: String,
}

impl Staged {
    /// Creates the temporary object file and writes the fixed header.
    pub(crate) async fn create(inner: &Arc<Inner>) -> S3Result<(TempFile, tokio::fs::File)> {
        let tmp = TempFile::reserve(inner, "obj");
        let mut file = tokio::fs::OpenOptions::from(layout::new_file())
            .open(tmp.path())
            .await
            .map_err(internal)?;
        file.write_all(&format::header()).await.map_err(internal)?;
        Ok((tmp, file))
    }

    /// Wraps a temporary object file whose data was written by the caller (assembly); no MD5 or
    /// checksum of the whole is recorded.
    pub(crate) fn from_file(tmp: TempFile, file: tokio::fs::File, size: u64) -> Self {
        Self {
            tmp,
            file,
            size,
            md5: [0; 16],
            checksum: String::new(),
        }
    }

    pub(crate) fn hex_md5(&self) -> String {
        hex::encode(self.md5)
    }

    /// Appends the metadata and footer and makes the file durable. The file is complete but
    /// still invisible: [`commit_object`] or [`TempFile::persist`] publishes it.
    pub(crate) async fn finish(mut self, meta: &ObjectMeta) -> S3Result<TempFile> {
        let trailer = format::trailer(meta).map_err(internal)?;
        self.file.write_all(&trailer).await.map_err(internal)?;
        self.file.flush().await.map_err(internal)?;
        self.file.sync_all().await.map_err(internal)?;
        Ok(self.tmp)
    }
}

/// Writes `data` chunks into a new temporary object file, computing MD5 and `algo` as they
/// pass. Nothing is buffered beyond one chunk. Fails with `EntityTooLarge` past `limit` bytes.
pub(crate) async fn stage_stream<S, E>(
    inner: &Arc<Inner>,
    mut data: S,
    algo: Algo,
    limit: u64,
) -> S3Result<Staged>
where
    S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: Into<S3Error>,
{
    let (tmp, mut file) = Staged::create(inner).await?;
    let mut md5 = Md5::new();
    let mut hasher = Hasher::new(algo);
    let mut size = 0u64;
    while let Some(chunk) = data.next().await {
        let chunk = chunk.map_err(Into::into)?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed object size."
            ));
        }
        md5.update(&chunk);
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(internal)?;
    }
    Ok(Staged {
        tmp,
        file,
        size,
        md5: md5.finalize(),
        checksum: hasher.finish_b64(),
    })
}

/// A request body error. s3s reports SigV4 chunk-signature and payload-hash failures through
/// the body stream; everything else is a body that ended early.
pub(crate) struct BodyError(s3s::StdError);

impl From<BodyError> for S3Error {
    fn from(e: BodyError) -> Self {
        let text = e.0.to_string();
        if text.contains("SignatureMismatch") {
            s3_error!(
                SignatureDoesNotMatch,
                "The request signature we calculated does not match the signature you provided."
            )
        } else if text.contains("Sha256Mismatch") {
            let mut err = S3Error::with_message(
                S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            );
            err.set_status_code(http::StatusCode::BAD_REQUEST);
            err
        } else {
            tracing::debug!(error = %text, "request body ended with an error");
            s3_error!(
                IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header."
            )
        }
    }
}

/// Streams an optional request body (absent = empty) into a temporary object file.
pub(crate) async fn stage_body(
    inner: &Arc<Inner>,
    body: Option<StreamingBlob>,
    algo: Algo,
    declared_len: Option<i64>,
) -> S3Result<Staged> {
    if let Some(len) = declared_len {
        if len < 0 {
            return Err(s3_error!(
                InvalidArgument,
                "Content-Length must not be negative."
            ));
        }
        if len.unsigned_abs() > MAX_SINGLE_UPLOAD {
            return Err(s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed object size."
            ));
        }
    }
    let staged = match body {
        Some(body) => {
            stage_stream(
                inner,
                body.map(|r| r.map_err(BodyError)),
                algo,
                MAX_SINGLE_UPLOAD,
            )
            .await?
        }
        None => {
            stage_stream(
                inner,
                futures::stream::empty::<Result<bytes::Bytes, S3Error>>(),
                algo,
                0,
            )
            .await?
        }
    };
    if let Some(len) = declared_len
        && len.unsigned_abs() != staged.size
    {
        return Err(s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        ));
    }
    Ok(staged)
}

/// The index entry for an object's metadata.
pub(crate) fn summary_of(meta: &ObjectMeta) -> ObjSummary {
    ObjSummary {
        size: meta.size,
        etag: meta.etag.clone(),
        last_modified_ns: meta.last_modified_ns,
        checksum_algorithm: meta.checksum.as_ref().map(|c| c.algorithm.clone()),
        checksum_type: meta.checksum.as_ref().map(|c| c.kind.clone()),
        tags: meta.attrs.tags.clone(),
    }
}

/// Publishes a finished temporary object file as `key`: under the bucket lock, checks that the
/// bucket still exists and runs `precondition` against the current object, renames the file
/// into place and updates the index; then fsyncs the directory. Blocking.
pub(crate) fn commit_object(
    bucket: &Bucket,
    tmp: TempFile,
    meta: &ObjectMeta,
    precondition: impl FnOnce(Option<&ObjSummary>) -> S3Result<()>,
) -> S3Result<()> {
    let rel = layout::object_rel_path(&meta.key);
    let dest = bucket.dir.join(&rel);
    let parent = dest
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| internal("object path has no parent"))?;
    {
        let mut st = bucket.lock_live()?;
        let key = IndexKey::new(meta.key.clone());
        precondition(st.objects.get(&key))?;
        if let Some(fan) = rel.parent() {
            layout::ensure_dir(&bucket.dir, fan).map_err(internal)?;
        }
        tmp.persist(&dest).map_err(internal)?;
        // A new version starts with its own tags: the previous version's tag file goes.
        tagging::remove_tag_file(&dest).map_err(internal)?;
        st.put_object(bucket, key, summary_of(meta));
    }
    layout::fsync_dir(&parent).map_err(internal)
}

/// Checks PUT-style conditional headers against the current object (run under the lock):
/// `If-None-Match: *` fails if the object exists; `If-Match` fails if it is absent or differs.
pub(crate) fn write_precondition(
    if_match: Option<&s3s::dto::ETagCondition>,
    if_none_match: Option<&s3s::dto::ETagCondition>,
    current: Option<&ObjSummary>,
) -> S3Result<()> {
    if let Some(cond) = if_none_match {
        if !cond.is_any() {
            return Err(s3_error!(
                NotImplemented,
                "A header you provided implies functionality that is not implemented"
            ));
        }
        if current.is_some() {
            return Err(precondition_failed());
        }
    }
    if let Some(cond) = if_match {
        let Some(cur) = current else {
            return Err(super::no_such_key());
        };
        if let Some(etag) = cond.as_etag()
            && etag.value() != cur.etag
        {
            return Err(precondition_failed());
        }
    }
    Ok(())
}

pub(crate) fn precondition_failed() -> S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold"
    )
}
