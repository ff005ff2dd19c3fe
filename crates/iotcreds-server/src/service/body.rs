//! Buffered request bodies: what reading a control-plane body may cost.
//!
//! An IoT, IAM or STS request is signed over the SHA-256 of its body, so the body must be read
//! whole before the signature can be verified: until then its sender is not authenticated.
//! Three limits bound what that costs ([`BodyLimits`]):
//!
//! - a body larger than the size limit is refused at its `Content-Length`, or as soon as it
//!   grows past it;
//! - the whole body must arrive within the body timeout (a client sending all but its last
//!   byte is answered `RequestTimeout` and its connection closed);
//! - all bodies being buffered share one byte budget ([`BodyBudget`]). When a new chunk does
//!   not fit, the bodies that have been arriving *longest* are refused first: a stalled or
//!   trickling body is the one to go, and a prompt request (the legitimate client during a
//!   slow-body attack) always gets its room. A small body is never evicted, even when it
//!   started before the attackers' (see `SPARED_FRACTION`).
//!
//! Memory is accounted as allocated (a body's buffer capacity). A body with a `Content-Length`
//! gets its whole buffer at once, and the budget counts it all from the start (a client that
//! declares a megabyte and sends a byte holds a megabyte of budget, and is the first to go).
//! A large one (from [`MAP_MIN`]) is an anonymous memory mapping of its own: its pages become
//! resident only as bytes arrive, and return to the system the moment the body is dropped, so
//! the process's resident memory follows the budget instead of the allocator's high-water mark.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt as _;
use memmap2::MmapMut;
use tokio::sync::Notify;

/// Bodies declared at least this large are read into a mapping of their own.
pub const MAP_MIN: usize = 64 * 1024;

/// A body's buffer: on the heap, or (large, with a known length) a mapping of its own.
enum Buffer {
    Heap(Vec<u8>),
    Mapped { map: MmapMut, len: usize },
}

/// A filled mapping, as the bytes of a body.
struct MappedBody {
    map: MmapMut,
    len: usize,
}

impl AsRef<[u8]> for MappedBody {
    fn as_ref(&self) -> &[u8] {
        &self.map[..self.len]
    }
}

impl Buffer {
    /// A buffer for exactly `declared` bytes, or a growing one.
    fn new(declared: Option<usize>) -> Result<Self, BodyError> {
        Ok(match declared {
            Some(n) if n >= MAP_MIN => Buffer::Mapped {
                map: MmapMut::map_anon(n).map_err(|_| BodyError::Timeout)?,
                len: 0,
            },
            Some(n) => Buffer::Heap(Vec::with_capacity(n)),
            None => Buffer::Heap(Vec::new()),
        })
    }

    fn len(&self) -> usize {
        match self {
            Buffer::Heap(v) => v.len(),
            Buffer::Mapped { len, .. } => *len,
        }
    }

    fn capacity(&self) -> usize {
        match self {
            Buffer::Heap(v) => v.capacity(),
            Buffer::Mapped { map, .. } => map.len(),
        }
    }

    /// Append `data`; the caller made room (`capacity() >= len() + data.len()` for a mapping).
    fn extend(&mut self, data: &[u8]) {
        match self {
            Buffer::Heap(v) => v.extend_from_slice(data),
            Buffer::Mapped { map, len } => {
                map[*len..*len + data.len()].copy_from_slice(data);
                *len += data.len();
            }
        }
    }

    fn freeze(self) -> Bytes {
        match self {
            Buffer::Heap(v) => Bytes::from(v),
            Buffer::Mapped { map, len } => Bytes::from_owner(MappedBody { map, len }),
        }
    }
}

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the size limit.
    TooLarge,
    /// Did not arrive within the body timeout, or was refused to make room for newer bodies.
    Timeout,
    /// The client closed the connection or sent a malformed body.
    Incomplete,
}

/// The limits on buffered bodies, shared by every connection of a listener.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    /// Largest body, in bytes.
    pub max_bytes: usize,
    /// Longest time a body may take to arrive whole.
    pub timeout: Duration,
    /// The bytes all bodies being read may hold together.
    pub budget: Arc<BodyBudget>,
}

/// A reader holding at most this fraction of the budget is never evicted to make room: it would
/// free almost nothing, and it is the small, prompt request (a legitimate `GetCallerIdentity`
/// whose body has not been polled yet on a busy machine) that eviction exists to protect. Such
/// readers still end at the body timeout.
const SPARED_FRACTION: usize = 256;

/// Bytes of buffered bodies, bounded; when full, the oldest readers (except small ones, see
/// `SPARED_FRACTION`) are evicted.
#[derive(Debug)]
pub struct BodyBudget {
    limit: usize,
    state: Mutex<BudgetState>,
}

#[derive(Debug, Default)]
struct BudgetState {
    used: usize,
    next_id: u64,
    /// By id, that is by age: the first entry is the reader that started longest ago.
    readers: BTreeMap<u64, Reader>,
}

#[derive(Debug)]
struct Reader {
    reserved: usize,
    evicted: bool,
    wake: Arc<Notify>,
}

impl BodyBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            state: Mutex::new(BudgetState::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        // Counters only; a panic elsewhere cannot leave them half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes currently reserved.
    pub fn used(&self) -> usize {
        self.state().used
    }

    /// Register a new reader (the youngest).
    pub fn reader(self: &Arc<Self>) -> Reservation {
        let wake = Arc::new(Notify::new());
        let mut s = self.state();
        let id = s.next_id;
        s.next_id += 1;
        s.readers.insert(
            id,
            Reader {
                reserved: 0,
                evicted: false,
                wake: Arc::clone(&wake),
            },
        );
        Reservation {
            budget: Arc::clone(self),
            id,
            wake,
        }
    }
}

/// One reader's share of the budget; dropping it returns the share.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<BodyBudget>,
    id: u64,
    wake: Arc<Notify>,
}

impl Reservation {
    /// Take `n` more bytes, evicting older readers if needed. `Err` if this reader was evicted,
    /// or cannot fit even after every older reader was.
    fn grow(&self, n: usize) -> Result<(), BodyError> {
        let mut s = self.budget.state();
        let limit = self.budget.limit;
        if s.readers.get(&self.id).is_none_or(|r| r.evicted) {
            return Err(BodyError::Timeout);
        }
        if s.used + n > limit {
            let older: Vec<u64> = s.readers.range(..self.id).map(|(id, _)| *id).collect();
            for id in older {
                if s.used + n <= limit {
                    break;
                }
                if let Some(victim) = s.readers.get_mut(&id)
                    && !victim.evicted
                    && victim.reserved > limit / SPARED_FRACTION
                {
                    victim.evicted = true;
                    let freed = std::mem::take(&mut victim.reserved);
                    victim.wake.notify_one();
                    s.used -= freed;
                    metrics::counter!("iotcreds_request_bodies_refused_total", "reason" => "evicted")
                        .increment(1);
                }
            }
            if s.used + n > limit {
                return Err(BodyError::Timeout);
            }
        }
        s.used += n;
        if let Some(me) = s.readers.get_mut(&self.id) {
            me.reserved += n;
        }
        Ok(())
    }

    /// Resolves once this reader has been evicted.
    async fn evicted(&self) {
        self.wake.notified().await;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut s = self.budget.state();
        if let Some(r) = s.readers.remove(&self.id) {
            s.used -= r.reserved;
        }
    }
}

/// Read `body` whole under `limits`. `declared` is its `Content-Length`, if any. The returned
/// reservation keeps the body's bytes counted until it is dropped.
pub async fn read<B>(
    body: B,
    declared: Option<u64>,
    limits: &BodyLimits,
) -> Result<(Bytes, Option<Reservation>), BodyError>
where
    B: Body<Data = Bytes> + Unpin,
{
    if declared.is_some_and(|n| n > limits.max_bytes as u64) {
        return Err(BodyError::TooLarge);
    }
    if declared == Some(0) || body.is_end_stream() {
        return Ok((Bytes::new(), None));
    }
    let reservation = limits.budget.reader();
    let deadline = tokio::time::Instant::now() + limits.timeout;
    let collect = async {
        let mut body = body;
        let declared = declared.and_then(|n| usize::try_from(n).ok());
        if let Some(n) = declared {
            reservation.grow(n)?;
        }
        let mut buf = Buffer::new(declared)?;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| BodyError::Incomplete)?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            let needed = buf.len() + data.len();
            if needed > limits.max_bytes || declared.is_some_and(|n| needed > n) {
                // hyper ends a body at its Content-Length; this is the chunked case.
                return Err(BodyError::TooLarge);
            }
            if needed > buf.capacity() {
                // Grow geometrically (few copies), within the size limit.
                let target = needed.max(buf.capacity() * 2).min(limits.max_bytes);
                reservation.grow(target - buf.capacity())?;
                if let Buffer::Heap(v) = &mut buf {
                    v.reserve_exact(target - v.len());
                }
            }
            buf.extend(&data);
        }
        Ok(buf.freeze())
    };
    let outcome = tokio::select! {
        read = collect => read,
        () = tokio::time::sleep_until(deadline) => Err(BodyError::Timeout),
        () = reservation.evicted() => Err(BodyError::Timeout),
    };
    if outcome == Err(BodyError::Timeout) {
        metrics::counter!("iotcreds_request_bodies_refused_total", "reason" => "timeout")
            .increment(1);
    }
    outcome.map(|bytes| (bytes, Some(reservation)))
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http_body::Frame;
    use tokio::sync::mpsc;

    use super::*;

    /// A body fed chunk by chunk through a channel; it ends when the sender is dropped.
    struct Fed(mpsc::UnboundedReceiver<Bytes>);

    impl Body for Fed {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            self.0
                .poll_recv(cx)
                .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
        }
    }

    fn fed() -> (mpsc::UnboundedSender<Bytes>, Fed) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, Fed(rx))
    }

    fn limits(max_bytes: usize, budget: usize, timeout_ms: u64) -> BodyLimits {
        BodyLimits {
            max_bytes,
            timeout: Duration::from_millis(timeout_ms),
            budget: BodyBudget::new(budget),
        }
    }

    #[tokio::test]
    async fn a_body_is_read_whole_and_its_bytes_counted_until_released() {
        let l = limits(1000, 4000, 5_000);
        let (tx, body) = fed();
        for part in ["ab", "cd", "e"] {
            tx.send(Bytes::from(part)).unwrap();
        }
        drop(tx);
        let (bytes, reservation) = read(body, Some(5), &l).await.unwrap();
        assert_eq!(bytes, "abcde");
        assert!(l.budget.used() >= 5);
        drop(reservation);
        assert_eq!(l.budget.used(), 0);
    }

    #[tokio::test]
    async fn too_large_is_refused_at_the_declared_length_or_when_it_grows_past_it() {
        let l = limits(10, 100, 5_000);
        let (_tx, body) = fed();
        assert_eq!(
            read(body, Some(11), &l).await.unwrap_err(),
            BodyError::TooLarge
        );
        let (tx, body) = fed();
        tx.send(Bytes::from(vec![b'x'; 8])).unwrap();
        tx.send(Bytes::from(vec![b'x'; 8])).unwrap();
        assert_eq!(read(body, None, &l).await.unwrap_err(), BodyError::TooLarge);
        assert_eq!(l.budget.used(), 0);
    }

    #[tokio::test]
    async fn a_body_that_never_finishes_times_out_and_frees_its_bytes() {
        let l = limits(1000, 4000, 200);
        let (tx, body) = fed();
        tx.send(Bytes::from(vec![b'x'; 999])).unwrap();
        let started = tokio::time::Instant::now();
        assert_eq!(
            read(body, Some(1000), &l).await.unwrap_err(),
            BodyError::Timeout
        );
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(l.budget.used(), 0);
        drop(tx);
    }

    #[tokio::test]
    async fn when_the_budget_is_full_the_oldest_readers_make_room_for_a_new_one() {
        let l = limits(1000, 2000, 60_000);
        // Two stalled readers fill the budget (1000 bytes each, one byte short).
        let mut stalled = Vec::new();
        for _ in 0..2 {
            let (tx, body) = fed();
            tx.send(Bytes::from(vec![b'x'; 999])).unwrap();
            let l2 = l.clone();
            stalled.push((
                tx,
                tokio::spawn(async move { read(body, Some(1000), &l2).await }),
            ));
        }
        // Wait until both hold their bytes.
        while l.budget.used() < 1998 {
            tokio::task::yield_now().await;
        }
        // A prompt request gets its room by evicting the oldest.
        let (tx, body) = fed();
        tx.send(Bytes::from_static(b"Action=GetCallerIdentity"))
            .unwrap();
        drop(tx);
        let (bytes, _kept) = read(body, None, &l).await.unwrap();
        assert_eq!(bytes, "Action=GetCallerIdentity");
        let (_tx0, first) = stalled.remove(0);
        assert_eq!(first.await.unwrap().unwrap_err(), BodyError::Timeout);
        let (_tx1, second) = stalled.remove(0);
        assert!(!second.is_finished(), "only as many as needed are evicted");
        assert!(l.budget.used() <= 2000);
        second.abort();
    }

    #[tokio::test]
    async fn a_small_body_that_started_first_is_not_evicted_by_later_large_ones() {
        // Budget 8192: a reader of at most 32 bytes is spared.
        let l = limits(4096, 8192, 60_000);
        // A small request whose body has not fully arrived yet (its last byte is still due).
        let (small_tx, small_body) = fed();
        small_tx
            .send(Bytes::from_static(b"Action=GetCallerIdentit"))
            .unwrap();
        let l1 = l.clone();
        let small = tokio::spawn(async move { read(small_body, Some(24), &l1).await });
        while l.budget.used() < 24 {
            tokio::task::yield_now().await;
        }
        // Then large bodies that need the whole budget between them.
        let mut large = Vec::new();
        for _ in 0..2 {
            let (tx, body) = fed();
            tx.send(Bytes::from(vec![b'x'; 4095])).unwrap();
            let l2 = l.clone();
            large.push((
                tx,
                tokio::spawn(async move { read(body, Some(4096), &l2).await }),
            ));
        }
        // The second large body made its room by evicting the first, not the older small one.
        let (_tx0, first) = large.remove(0);
        assert_eq!(first.await.unwrap().unwrap_err(), BodyError::Timeout);
        // The small one was spared; it completes.
        small_tx.send(Bytes::from_static(b"y")).unwrap();
        drop(small_tx);
        let (bytes, _kept) = small.await.unwrap().unwrap();
        assert_eq!(bytes, "Action=GetCallerIdentity");
        assert!(l.budget.used() <= 8192);
        for (_tx, h) in large {
            h.abort();
        }
    }
}
