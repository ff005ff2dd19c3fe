//! Where things live under the data directory, and the name checks that guard it.
//!
//! Nothing a client sends is used as a path component except a validated bucket name
//! ([`valid_bucket_name`]) and a validated upload id ([`valid_upload_id`]). Object keys never
//! reach the file system: an object's file name is the hex SHA-256 of its key
//! ([`object_rel_path`]), and the key itself is stored inside the file.
//!
//! Everything the store creates is private to the service user whatever the umask: files
//! [`FILE_MODE`] (0600), directories [`DIR_MODE`] (0700), so that object data does not rely on
//! the data directory's own mode alone.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use s3s::S3Result;
use s3s::crypto::{Checksum as _, Sha256};
use s3s::s3_error;

/// Scratch directory for every file or directory being written; emptied at open.
pub(crate) const TMP_DIR: &str = "tmp";
/// One directory per bucket below this one.
pub(crate) const BUCKETS_DIR: &str = "buckets";
/// Inside a bucket directory: the object files, fanned out by key hash.
pub(crate) const OBJECTS_DIR: &str = "objects";
/// Inside a bucket directory: one directory per multipart upload.
pub(crate) const UPLOADS_DIR: &str = "uploads";
/// Inside a bucket directory: its metadata (creation date).
pub(crate) const BUCKET_META: &str = "bucket.json";
/// Inside an upload directory: the upload's metadata.
pub(crate) const UPLOAD_META: &str = "upload.json";
/// The root's format marker.
pub(crate) const FORMAT_FILE: &str = "iotcreds-objects.json";
/// The root's lock file (an advisory lock keeps a second process out).
pub(crate) const LOCK_FILE: &str = ".lock";

/// S3's limit on the UTF-8 length of a key.
pub(crate) const MAX_KEY_LEN: usize = 1024;

/// Hex SHA-256 of a key: the object's file name.
pub(crate) fn key_hash(key: &str) -> String {
    hex::encode(Sha256::checksum(key.as_bytes()))
}

/// Path of the object file for `key`, relative to the bucket directory:
/// `objects/<h0h1>/<h2h3>/<sha256 hex>`. Only hex digits and `/` appear in it, so it can never
/// leave the bucket directory whatever the key is.
pub(crate) fn object_rel_path(key: &str) -> PathBuf {
    let h = key_hash(key);
    let mut p = PathBuf::from(OBJECTS_DIR);
    p.push(&h[0..2]);
    p.push(&h[2..4]);
    p.push(&h);
    p
}

/// Is `name` a file name produced by [`key_hash`]?
pub(crate) fn is_object_file_name(name: &str) -> bool {
    name.len() == 64 && is_lower_hex(name)
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// S3's bucket naming rules ([`iotcreds_types::s3_names::is_bucket_name`]). A name that passes
/// is made of `[a-z0-9.-]`, does not start with `.` and does not contain `..`, so it is a safe
/// single path component.
pub(crate) fn valid_bucket_name(name: &str) -> bool {
    iotcreds_types::s3_names::is_bucket_name(name)
}

/// Checks an object key: 1 to 1024 bytes of UTF-8 (the type guarantees UTF-8).
pub(crate) fn check_key(key: &str) -> S3Result<()> {
    if key.is_empty() {
        return Err(s3_error!(InvalidArgument, "Object key must not be empty."));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(s3_error!(KeyTooLongError, "Your key is too long"));
    }
    Ok(())
}

/// Upload ids are 16 hex digits of initiation time (ns) followed by 32 random hex digits, so
/// that their lexicographic order is their initiation order, as ListMultipartUploads wants.
pub(crate) const UPLOAD_ID_LEN: usize = 48;

pub(crate) fn new_upload_id(initiated_ns: i128) -> String {
    let ns = u64::try_from(initiated_ns.max(0)).unwrap_or(u64::MAX);
    format!("{ns:016x}{}", uuid::Uuid::new_v4().simple())
}

/// Is `id` shaped like an id from [`new_upload_id`]? Anything else is `NoSuchUpload` and never
/// becomes a path.
pub(crate) fn valid_upload_id(id: &str) -> bool {
    id.len() == UPLOAD_ID_LEN && is_lower_hex(id)
}

/// File name of part `n` inside an upload directory.
pub(crate) fn part_file_name(n: u32) -> String {
    format!("part-{n:05}")
}

/// Inverse of [`part_file_name`].
pub(crate) fn parse_part_file_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("part-")?;
    if digits.len() != 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| (1..=10_000).contains(n))
}

/// Mode of every file the store creates (owner read and write).
pub(crate) const FILE_MODE: u32 = 0o600;
/// Mode of every directory the store creates (owner only).
pub(crate) const DIR_MODE: u32 = 0o700;

/// Create the directory `path` with [`DIR_MODE`] (its parent must exist).
pub(crate) fn create_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().mode(DIR_MODE).create(path)
}

/// Create `path` and any missing parents with [`DIR_MODE`].
pub(crate) fn create_dir_all(path: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

/// Options that create a new file with [`FILE_MODE`] for writing; fails if it exists.
pub(crate) fn new_file() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true).mode(FILE_MODE);
    o
}

/// `fsync` a directory so that renames and creations inside it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and any missing parents below `base` (which must exist), fsyncing each parent
/// whose entries changed.
pub(crate) fn ensure_dir(base: &Path, rel: &Path) -> io::Result<()> {
    let mut cur = base.to_path_buf();
    for comp in rel.components() {
        let parent = cur.clone();
        cur.push(comp);
        match create_dir(&cur) {
            Ok(()) => fsync_dir(&parent)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_paths_are_hex_only() {
        for key in ["../../etc/passwd", "a/../b", "//x", ".", "a/", "ü/🦀"] {
            let p = object_rel_path(key);
            let s = p.to_str().map(str::to_owned).unwrap_or_default();
            assert!(s.starts_with("objects/"), "{s}");
            assert!(
                s["objects/".len()..]
                    .bytes()
                    .all(|b| b == b'/' || b.is_ascii_hexdigit()),
                "{s}"
            );
            assert_eq!(p.components().count(), 4);
        }
        assert_ne!(object_rel_path("a"), object_rel_path("a/"));
    }

    #[test]
    fn keys() {
        assert!(check_key("a").is_ok());
        assert!(check_key(&"k".repeat(1024)).is_ok());
        assert_eq!(
            check_key(&"k".repeat(1025))
                .map_err(|e| e.code().clone())
                .err(),
            Some(s3s::S3ErrorCode::KeyTooLongError)
        );
        assert!(check_key("").is_err());
    }

    #[test]
    fn upload_ids_and_parts() {
        let id = new_upload_id(1_700_000_000_000_000_000);
        assert!(valid_upload_id(&id));
        assert!(new_upload_id(1) < new_upload_id(2));
        assert!(!valid_upload_id("../x"));
        assert!(!valid_upload_id(&id.to_uppercase()));
        assert_eq!(parse_part_file_name(&part_file_name(42)), Some(42));
        assert_eq!(parse_part_file_name("part-00000"), None);
        assert_eq!(parse_part_file_name("part-1"), None);
    }

    proptest::proptest! {
        /// Any key (up to S3's 1024 bytes) maps to a path of hex names strictly inside the
        /// bucket's objects directory, and distinct keys map to distinct paths.
        #[test]
        fn key_paths_are_inside_and_injective(keys in proptest::collection::btree_set(".{1,300}", 1..40)) {
            let base = std::path::Path::new("/data/buckets/b");
            let mut seen = std::collections::HashSet::new();
            for key in &keys {
                proptest::prop_assume!(key.len() <= MAX_KEY_LEN);
                let rel = object_rel_path(key);
                proptest::prop_assert!(rel.is_relative());
                for c in rel.components() {
                    let std::path::Component::Normal(name) = c else {
                        return Err(proptest::test_runner::TestCaseError::fail("non-normal component"));
                    };
                    let name = name.to_str().unwrap_or("/");
                    proptest::prop_assert!(name == OBJECTS_DIR || is_lower_hex(name));
                }
                proptest::prop_assert!(base.join(&rel).starts_with(base.join(OBJECTS_DIR)));
                proptest::prop_assert!(seen.insert(rel), "two keys share a path");
            }
        }
    }
}
