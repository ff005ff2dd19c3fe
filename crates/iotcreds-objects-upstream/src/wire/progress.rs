//! The watchdog of an upload: who the gateway is waiting for, and since when.
//!
//! The upload body ([`crate::transport::OutBody::Upload`]) records each step: polled by the
//! connection (the upstream took what came before; now the gateway waits for the device),
//! a chunk handed over (now it waits for the upstream to take it), the whole body handed over
//! (now it waits for the response headers). [`Progress::stalled`] resolves once the upstream
//! has kept the gateway waiting longer than allowed: `idle_timeout` for a chunk,
//! `first_byte_timeout` for the response. Time spent waiting for the device never counts
//! (the device's own pace is the server's business).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

const DEVICE: u64 = u64::MAX;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Progress {
    base: Instant,
    /// Milliseconds after `base` since which the gateway waits for the upstream, or `DEVICE`.
    since: AtomicU64,
    /// The whole body was handed over.
    sent: AtomicBool,
    /// Wakes the watchdog when the body is sent (its deadline may move earlier).
    sent_notify: tokio::sync::Notify,
}

impl Progress {
    /// A request about to be sent: waiting for the upstream (connect, handshake) from now.
    pub(crate) fn new() -> Self {
        Self {
            base: Instant::now(),
            since: AtomicU64::new(0),
            sent: AtomicBool::new(false),
            sent_notify: tokio::sync::Notify::new(),
        }
    }

    /// Milliseconds since `base`, rounded up: a deadline counted from it is never earlier than
    /// the limit after the moment it stands for (rounded down, a limit ended up to 1 ms short).
    fn now_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_micros().div_ceil(1000)).unwrap_or(DEVICE - 1)
    }

    pub(crate) fn waiting_for_device(&self) {
        self.since.store(DEVICE, Ordering::Relaxed);
    }

    pub(crate) fn waiting_for_upstream(&self) {
        self.since.store(self.now_ms(), Ordering::Relaxed);
    }

    pub(crate) fn sent(&self) {
        self.sent.store(true, Ordering::Relaxed);
        self.waiting_for_upstream();
        self.sent_notify.notify_one();
    }

    /// Resolves when the upstream has stalled for longer than allowed (see the module docs).
    pub(crate) async fn stalled(&self, idle: Duration, first_byte: Duration) {
        loop {
            let since = self.since.load(Ordering::Relaxed);
            if since == DEVICE {
                tokio::time::sleep(idle).await;
                continue;
            }
            let limit = if self.sent.load(Ordering::Relaxed) {
                first_byte
            } else {
                idle
            };
            let deadline = self.base + Duration::from_millis(since) + limit;
            if Instant::now() >= deadline {
                return;
            }
            // Later progress only moves the deadline later (checked on waking); sending the
            // last byte may move it earlier (first_byte < idle), so it wakes us.
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = self.sent_notify.notified() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_waiting_for_the_upstream_counts() {
        let p = Progress::new();
        // far apart, so that a loaded machine's scheduling delays cannot mix them up
        let idle = Duration::from_millis(100);
        let first = Duration::from_millis(1500);
        // waiting for the device, longer than both limits: no stall
        p.waiting_for_device();
        let r = tokio::time::timeout(Duration::from_millis(400), p.stalled(idle, first)).await;
        assert!(r.is_err());
        // a chunk the upstream does not take: stalls after `idle`
        p.waiting_for_upstream();
        let t = Instant::now();
        p.stalled(idle, first).await;
        let waited = t.elapsed();
        assert!(waited >= idle && waited < first, "{waited:?}");
        // sending the last byte while the watchdog waits on a longer idle limit: the shorter
        // first-byte limit applies from then
        let p = std::sync::Arc::new(Progress::new());
        let p2 = std::sync::Arc::clone(&p);
        let t = Instant::now();
        let watch = tokio::spawn(async move { p2.stalled(Duration::from_secs(30), first).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        p.sent();
        watch.await.expect("watchdog");
        let waited = t.elapsed();
        assert!(
            waited >= first && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        // the body is sent: the response may take `first_byte`, counted from the send (so the
        // clock starts before it)
        let t = Instant::now();
        p.sent();
        p.stalled(idle, first).await;
        assert!(t.elapsed() >= first, "{:?}", t.elapsed());
    }
}
