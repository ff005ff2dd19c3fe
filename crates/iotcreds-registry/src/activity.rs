//! The credential event log behind the console's Activity page: the credentials endpoint
//! records each decision here without waiting ([`ActivityLog::record`]), and one writer task
//! ([`ActivityWriter::run`]) appends them to the registry database in batches, keeping only
//! the newest events. With PostgreSQL every instance appends to the same table, so the console
//! of any instance shows the decisions of all of them.
//!
//! Memory is bounded: events wait in a channel of fixed capacity, and an event that finds it
//! full is dropped and counted (issuance never waits for the log). The database is written at
//! most a few times a second, whatever the issuance rate, and a failed write loses that batch
//! (logged) rather than holding it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use iotcreds_store::{CredentialEvent, Store};
use tokio::sync::mpsc;

/// Most events taken into one database write.
const BATCH: usize = 512;
/// Shortest time between two database writes (events arriving meanwhile join the next batch).
const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// Where the credentials endpoint records its decisions. Cheap to call: it never blocks.
pub struct ActivityLog {
    tx: Option<mpsc::Sender<CredentialEvent>>,
    dropped: AtomicU64,
}

impl ActivityLog {
    /// A log that records nothing (`[console] activity_events = 0`).
    pub fn disabled() -> Self {
        Self {
            tx: None,
            dropped: AtomicU64::new(0),
        }
    }

    /// A log whose events `writer` appends to `store`, keeping the newest `keep`; at most
    /// `capacity` events wait for the writer.
    pub fn new(store: Arc<dyn Store>, keep: u64, capacity: usize) -> (Self, ActivityWriter) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let log = Self {
            tx: Some(tx),
            dropped: AtomicU64::new(0),
        };
        (log, ActivityWriter { rx, store, keep })
    }

    /// Whether events are recorded at all.
    pub fn is_enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Record `event` unless the queue is full (then it is dropped and counted). Returns
    /// whether it was queued.
    pub fn record(&self, event: CredentialEvent) -> bool {
        let Some(tx) = &self.tx else {
            return false;
        };
        match tx.try_send(event) {
            Ok(()) => true,
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Events dropped because the queue was full or the writer had stopped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The task that appends recorded events to the store.
pub struct ActivityWriter {
    rx: mpsc::Receiver<CredentialEvent>,
    store: Arc<dyn Store>,
    keep: u64,
}

impl ActivityWriter {
    /// Append events as they come, in batches, until `shutdown` resolves; then write what is
    /// still queued and return.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                n = self.rx.recv_many(&mut batch, BATCH) => {
                    if n == 0 {
                        return; // every sender is gone
                    }
                }
            }
            self.write(&mut batch).await;
            // Let the next batch fill: at most a few writes a second under any load.
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(MIN_INTERVAL) => {}
            }
        }
        while let Ok(e) = self.rx.try_recv() {
            batch.push(e);
            if batch.len() == BATCH {
                self.write(&mut batch).await;
            }
        }
        self.write(&mut batch).await;
    }

    async fn write(&self, batch: &mut Vec<CredentialEvent>) {
        if batch.is_empty() {
            return;
        }
        if let Err(e) = self.store.append_credential_events(batch, self.keep).await {
            tracing::warn!(error = %e, events = batch.len(), "credential events not stored");
        }
        batch.clear();
    }
}
