//! Opening the data directory (lock, temp cleanup, index rebuild) and the periodic cleanup
//! (expired multipart uploads, stray temporary files).

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use super::bucket::{BucketMap, loaded_bucket, read_bucket_meta};
use super::cache::CacheBudget;
use super::format;
use super::list::IndexKey;
use super::multipart::{UploadMeta, abort_upload};
use super::write::summary_of;
use super::{BucketState, FsBackend, FsConfig, Inner, layout, now_ns, tagging};

/// What a [`FsBackend::cleanup`] run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Multipart uploads aborted because they were older than `multipart_max_age`.
    pub aborted_uploads: usize,
    /// Leftover entries removed from the temporary directory.
    pub removed_temp_entries: usize,
}

fn remove_entry(path: &Path) -> io::Result<()> {
    if fs::symlink_metadata(path)?.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

/// Removes every entry of `tmp` not in `live`; returns how many were removed.
fn sweep_tmp(tmp: &Path, live: &HashSet<std::ffi::OsString>) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(tmp)? {
        let entry = entry?;
        if live.contains(&entry.file_name()) {
            continue;
        }
        match remove_entry(&entry.path()) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

pub(crate) fn open_root(root: PathBuf, config: FsConfig) -> io::Result<Inner> {
    layout::create_dir_all(&root)?;
    let lock = {
        use std::os::unix::fs::OpenOptionsExt as _;
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(layout::FILE_MODE)
            .open(root.join(layout::LOCK_FILE))?
    };
    lock.try_lock().map_err(|e| match e {
        fs::TryLockError::WouldBlock => io::Error::new(
            io::ErrorKind::WouldBlock,
            "the object data directory is in use by another backend",
        ),
        fs::TryLockError::Error(e) => e,
    })?;
    check_format(&root)?;
    let tmp = root.join(layout::TMP_DIR);
    let buckets_dir = root.join(layout::BUCKETS_DIR);
    for d in [&tmp, &buckets_dir] {
        if !d.exists() {
            layout::create_dir(d)?;
            layout::fsync_dir(&root)?;
        }
    }
    let removed = sweep_tmp(&tmp, &HashSet::new())?;
    if removed > 0 {
        tracing::info!(removed, "removed leftover temporary files");
    }
    let read_cache = Arc::new(CacheBudget::new(config.read_cache_bytes));
    let buckets = scan_buckets(&buckets_dir, &read_cache)?;
    Ok(Inner {
        root,
        tmp,
        buckets_dir,
        config,
        buckets: RwLock::new(buckets),
        live_tmp: Mutex::new(HashSet::new()),
        read_cache,
        _lock: lock,
    })
}

fn check_format(root: &Path) -> io::Result<()> {
    let path = root.join(layout::FORMAT_FILE);
    match fs::read(&path) {
        Ok(raw) => {
            let v: serde_json::Value = serde_json::from_slice(&raw).map_err(io::Error::other)?;
            if v.get("format").and_then(serde_json::Value::as_u64)
                != Some(u64::from(format::FORMAT_VERSION))
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "unsupported object data directory format",
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let tmp = root.join(format!("{}.new", layout::FORMAT_FILE));
            let _ = fs::remove_file(&tmp);
            let mut f = layout::new_file().open(&tmp)?;
            io::Write::write_all(
                &mut f,
                format!("{{\"format\":{}}}", format::FORMAT_VERSION).as_bytes(),
            )?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            layout::fsync_dir(root)
        }
        Err(e) => Err(e),
    }
}

/// Rebuilds every bucket's index from the files (headers and footers only).
fn scan_buckets(buckets_dir: &Path, read_cache: &Arc<CacheBudget>) -> io::Result<BucketMap> {
    let mut map = BTreeMap::new();
    for entry in fs::read_dir(buckets_dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let dir = entry.path();
        if !layout::valid_bucket_name(&name) || !entry.file_type()?.is_dir() {
            tracing::warn!(entry = %name, "ignoring unexpected entry in the buckets directory");
            continue;
        }
        let meta = match read_bucket_meta(&dir.join(layout::BUCKET_META)) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(bucket = %name, error = %e, "ignoring bucket directory without valid metadata");
                continue;
            }
        };
        let mut state = BucketState::default();
        scan_objects(&dir.join(layout::OBJECTS_DIR), &mut state)?;
        scan_uploads(&dir.join(layout::UPLOADS_DIR), &mut state)?;
        map.insert(
            name,
            loaded_bucket(dir, meta.created_ns, state, Arc::clone(read_cache)),
        );
    }
    Ok(map)
}

fn scan_objects(objects: &Path, state: &mut BucketState) -> io::Result<()> {
    // Tag files are applied once every object is indexed (directory order is arbitrary).
    let mut tag_files = Vec::new();
    for l1 in read_dir_or_empty(objects)? {
        for l2 in read_dir_or_empty(&l1?.path())? {
            for f in read_dir_or_empty(&l2?.path())? {
                let f = f?;
                let path = f.path();
                let name = f.file_name();
                if name
                    .to_str()
                    .and_then(tagging::object_name_of_tag_file)
                    .is_some()
                {
                    tag_files.push(path);
                    continue;
                }
                if !name.to_str().is_some_and(layout::is_object_file_name) {
                    tracing::warn!(path = %path.display(), "ignoring unexpected file in the objects directory");
                    continue;
                }
                let meta = File::open(&path).and_then(|file| format::read_meta(&file));
                match meta {
                    Ok(m)
                        if layout::object_rel_path(&m.key).file_name()
                            == Some(name.as_os_str()) =>
                    {
                        state
                            .objects
                            .insert(IndexKey::new(m.key.clone()), summary_of(&m));
                    }
                    Ok(_) => {
                        tracing::warn!(path = %path.display(), "ignoring object file stored under the wrong name")
                    }
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable object file")
                    }
                }
            }
        }
    }
    tagging::apply_tag_files(tag_files, &mut state.objects);
    Ok(())
}

fn scan_uploads(uploads: &Path, state: &mut BucketState) -> io::Result<()> {
    for entry in read_dir_or_empty(uploads)? {
        let entry = entry?;
        let Some(id) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !layout::valid_upload_id(&id) {
            continue;
        }
        let meta: Option<UploadMeta> = fs::read(entry.path().join(layout::UPLOAD_META))
            .ok()
            .and_then(|raw| serde_json::from_slice(&raw).ok());
        match meta {
            Some(m) if m.upload_id == id => {
                state
                    .uploads
                    .entry(IndexKey::new(m.key.clone()))
                    .or_default()
                    .insert(id, m.summary());
            }
            _ => tracing::warn!(upload = %id, "ignoring upload directory without valid metadata"),
        }
    }
    Ok(())
}

fn read_dir_or_empty(dir: &Path) -> io::Result<Box<dyn Iterator<Item = io::Result<fs::DirEntry>>>> {
    match fs::read_dir(dir) {
        Ok(rd) => Ok(Box::new(rd)),
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory =>
        {
            Ok(Box::new(std::iter::empty()))
        }
        Err(e) => Err(e),
    }
}

impl FsBackend {
    /// Aborts multipart uploads initiated more than `multipart_max_age` ago and removes
    /// temporary files that no running operation owns (left by failed removals). Safe to run
    /// while the backend serves requests.
    ///
    /// # Errors
    /// The first I/O error met; what was done before it stays done.
    pub async fn cleanup(&self) -> io::Result<CleanupReport> {
        let inner = Arc::clone(self.inner());
        tokio::task::spawn_blocking(move || cleanup_blocking(&inner))
            .await
            .map_err(io::Error::other)?
    }

    /// Runs [`FsBackend::cleanup`] every `every` on the current Tokio runtime, logging the
    /// outcome. Abort the returned handle to stop it.
    #[must_use]
    pub fn spawn_cleanup(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match this.cleanup().await {
                    Ok(r) if r != CleanupReport::default() => {
                        tracing::info!(?r, "object store cleanup")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "object store cleanup failed"),
                }
            }
        })
    }
}

fn cleanup_blocking(inner: &Arc<Inner>) -> io::Result<CleanupReport> {
    let mut report = CleanupReport::default();
    if let Some(max_age) = inner.config.multipart_max_age {
        let cutoff = now_ns() - i128::try_from(max_age.as_nanos()).unwrap_or(i128::MAX);
        let buckets: Vec<_> = inner
            .buckets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for bucket in buckets {
            let expired: Vec<(String, String)> = {
                let st = bucket.lock();
                st.uploads
                    .iter()
                    .flat_map(|(k, ids)| {
                        ids.iter()
                            .filter(|(_, s)| s.initiated_ns < cutoff)
                            .map(move |(id, _)| (k.as_str().to_owned(), id.clone()))
                    })
                    .collect()
            };
            for (key, id) in expired {
                match abort_upload(inner, &bucket, &key, &id) {
                    Ok(()) => report.aborted_uploads += 1,
                    // completed, aborted or bucket deleted meanwhile
                    Err(e)
                        if e.code() == &s3s::S3ErrorCode::NoSuchUpload
                            || e.code() == &s3s::S3ErrorCode::NoSuchBucket => {}
                    Err(e) => return Err(io::Error::other(e.to_string())),
                }
            }
        }
    }
    // Snapshot the live set first: a name registered after this point was created after the
    // directory listing below started, or is skipped because it is in the snapshot.
    let live = inner
        .live_tmp
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut candidates = Vec::new();
    for entry in fs::read_dir(&inner.tmp)? {
        let entry = entry?;
        if !live.contains(&entry.file_name()) {
            candidates.push(entry.file_name());
        }
    }
    for name in candidates {
        // Re-check under the lock: only names that were never registered, or were released
        // (TempFile dropped) without their file being removed, are garbage.
        let guard = inner
            .live_tmp
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if guard.contains(&name) {
            continue;
        }
        match remove_entry(&inner.tmp.join(&name)) {
            Ok(()) => report.removed_temp_entries += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        drop(guard);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_keeps_live_entries() {
        let dir = tempfile::tempdir().expect("tmp");
        fs::write(dir.path().join("a.obj"), b"x").expect("write");
        fs::create_dir(dir.path().join("b.trash")).expect("mkdir");
        fs::write(dir.path().join("b.trash").join("f"), b"x").expect("write");
        fs::write(dir.path().join("c.obj"), b"x").expect("write");
        let live: HashSet<_> = [std::ffi::OsString::from("c.obj")].into();
        assert_eq!(sweep_tmp(dir.path(), &live).expect("sweep"), 2);
        assert!(dir.path().join("c.obj").exists());
        assert!(!dir.path().join("a.obj").exists());
    }
}
