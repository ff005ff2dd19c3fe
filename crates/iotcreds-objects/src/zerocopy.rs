//! File-backed response bodies that a plain-TCP connection can send with `sendfile(2)`.
//!
//! hyper 1 writes a response body by handing the connection the body's bytes (`writev`); it has
//! no way to pass a file descriptor down. So a large object's data is not read into a buffer:
//! its byte range is memory-mapped (read-only, never touched by us) and the mapping becomes the
//! body chunk ([`map`]). Every live mapping is registered here with the file it maps. The
//! plain-TCP connection wrapper of the server asks [`locate`] about each slice hyper gives it;
//! a slice inside a registered mapping is sent with `sendfile` from the file instead of being
//! copied from memory, so the object's bytes go from the page cache to the socket without a
//! pass through user space (what nginx does with `sendfile on`). Any other writer (TLS, HTTP/2,
//! a test reading the body) just reads the mapping, which holds the same bytes: the fast path
//! can only change how the bytes travel, never which bytes.
//!
//! Why a mapping is safe here: object files are immutable once renamed into place (every write
//! is a new file and a `rename`, see [`crate::fs`]), so a mapped file is never truncated or
//! rewritten under us; an overwrite or delete unlinks the name while the mapping (and the open
//! descriptor) keep the old inode alive until the response is sent.
//!
//! [`Sendfile`] is the marker a connection puts in a request's extensions to say it sends
//! registered mappings with `sendfile`; backends map large reads only then, and otherwise keep
//! their buffered reads (a TLS connection must encrypt in user space anyway).

use std::collections::BTreeMap;
use std::fs::File;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

/// Request extension: the connection sends file-backed bodies with `sendfile`.
#[derive(Debug, Clone, Copy)]
pub struct Sendfile;

/// A registered mapping: its length, the file and the file offset of its first byte.
struct Entry {
    len: usize,
    file: Arc<File>,
    offset: u64,
}

/// How many mappings are live: [`locate`] skips the lock when none is.
static LIVE_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Live mappings by start address. A handful at a time (one per large response in flight).
fn live() -> MutexGuard<'static, BTreeMap<usize, Entry>> {
    static LIVE: Mutex<BTreeMap<usize, Entry>> = Mutex::new(BTreeMap::new());
    // A panic while holding the lock cannot leave the map inconsistent (single inserts and
    // removes), so a poisoned lock is still usable.
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The owner of a mapping inside a [`Bytes`]: unregisters and unmaps when the last clone of
/// the body chunk is dropped.
struct Mapped {
    map: memmap2::Mmap,
}

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        let mut map = live();
        if map.remove(&(self.map.as_ptr() as usize)).is_some() {
            LIVE_COUNT.fetch_sub(1, Ordering::Release);
        }
    }
}

/// Map `len` bytes of `file` from `offset` read-only and return them as a body chunk that a
/// [`Sendfile`] connection sends straight from the file. `len` must be at least 1.
pub fn map(file: Arc<File>, offset: u64, len: usize) -> std::io::Result<Bytes> {
    if len == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty mapping",
        ));
    }
    let map = map_readonly(&file, offset, len)?;
    let mut live = live();
    live.insert(map.as_ptr() as usize, Entry { len, file, offset });
    LIVE_COUNT.fetch_add(1, Ordering::Release);
    drop(live);
    Ok(Bytes::from_owner(Mapped { map }))
}

// The one `unsafe` in the workspace. `Mmap::map` is unsafe because the mapped file could be
// changed or truncated by someone else while mapped (undefined behaviour in Rust's model, a
// SIGBUS in practice). Object files are never modified after they are renamed into place (see
// the module docs): writers create new files, so the mapped bytes cannot change under a reader.
#[allow(unsafe_code)]
fn map_readonly(file: &File, offset: u64, len: usize) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: see above; the file is opened read-only and only ever replaced by rename.
    unsafe {
        memmap2::MmapOptions::new()
            .offset(offset)
            .len(len)
            .map(file)
    }
}

/// If `buf` lies inside a live mapping made by [`map`], the mapped file and the file offset of
/// `buf[0]`. The mapping cannot go away while `buf` borrows it.
pub fn locate(buf: &[u8]) -> Option<(Arc<File>, u64)> {
    // A slice inside a live mapping keeps that mapping (and its count) alive while we look.
    if LIVE_COUNT.load(Ordering::Acquire) == 0 {
        return None;
    }
    let start = buf.as_ptr() as usize;
    let map = live();
    let (&base, entry) = map.range(..=start).next_back()?;
    let within = start - base;
    (within + buf.len() <= entry.len)
        .then(|| (Arc::clone(&entry.file), entry.offset + within as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn a_mapping_holds_the_file_bytes_and_is_located_until_dropped() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        f.write_all(&data).unwrap();
        let file = Arc::new(f);
        let body = map(Arc::clone(&file), 1234, 50_000).unwrap();
        assert_eq!(&body[..], &data[1234..51_234]);
        let (located, offset) = locate(&body[100..200]).unwrap();
        assert!(Arc::ptr_eq(&located, &file));
        assert_eq!(offset, 1334);
        assert!(locate(&body[..]).is_some());
        // A slice of ordinary memory is not a mapping.
        assert!(locate(&data[..10]).is_none());
        let base = body.as_ptr() as usize;
        let clone = body.slice(10..20);
        drop(body);
        // A clone keeps the mapping registered; the last drop unregisters it.
        assert_eq!(locate(&clone).map(|(_, o)| o), Some(1244));
        drop(clone);
        assert!(!live().contains_key(&base));
    }

    #[test]
    fn an_empty_mapping_is_refused() {
        let file = Arc::new(tempfile::tempfile().unwrap());
        assert!(map(file, 0, 0).is_err());
    }
}
