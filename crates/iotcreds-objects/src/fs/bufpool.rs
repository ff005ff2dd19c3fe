//! Recycled read buffers for GET bodies.
//!
//! A fresh 1 MiB allocation is served by `mmap` and its pages are faulted in and zeroed by the
//! kernel on first touch, for every read. Buffers here come back to the pool when the response
//! body has been written (the `Bytes` handed to hyper owns a [`Pooled`], whose `Drop` returns
//! the buffer), so steady-state reads reuse memory that is already mapped.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

/// Most buffers kept for reuse (each `capacity` bytes).
const MAX_POOLED: usize = 32;

/// A pool of byte buffers of one capacity.
pub(crate) struct BufPool {
    capacity: usize,
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufPool {
    /// A pool of `capacity`-byte buffers.
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            capacity,
            free: Mutex::new(Vec::new()),
        })
    }

    /// An empty buffer with at least the pool's capacity.
    pub(crate) fn take(&self) -> Vec<u8> {
        let reused = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        reused.unwrap_or_else(|| Vec::with_capacity(self.capacity))
    }

    fn give_back(&self, mut buf: Vec<u8>) {
        if buf.capacity() != self.capacity {
            return;
        }
        buf.clear();
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < MAX_POOLED {
            free.push(buf);
        }
    }

    /// Freeze a filled buffer into `Bytes` that return it to the pool when dropped.
    pub(crate) fn freeze(self: &Arc<Self>, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(Pooled {
            buf,
            pool: Arc::clone(self),
        })
    }
}

struct Pooled {
    buf: Vec<u8>,
    pool: Arc<BufPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_when_bytes_drop() {
        let pool = BufPool::new(1024);
        let mut b = pool.take();
        b.extend_from_slice(b"hello");
        let ptr = b.as_ptr();
        let bytes = pool.freeze(b);
        let slice = bytes.slice(1..3);
        assert_eq!(&slice[..], b"el");
        drop(bytes);
        assert!(
            pool.free.lock().unwrap().is_empty(),
            "still referenced by the slice"
        );
        drop(slice);
        let again = pool.take();
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.is_empty());
        // Foreign capacities are not kept.
        pool.give_back(Vec::with_capacity(10));
        assert!(pool.free.lock().unwrap().is_empty());
    }
}
