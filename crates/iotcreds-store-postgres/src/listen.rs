//! Change notifications: `LISTEN iotcreds_registry` on a dedicated connection.
//!
//! This goes through sqlx's PostgreSQL driver directly (`PgListener`); the `Any` driver cannot
//! listen. `PgListener` re-establishes a lost connection (and its `LISTEN`) by itself; the
//! notifications sent meanwhile are lost, so after every reconnect the stream yields `None`
//! and subscribers must assume anything changed.

use std::time::Duration;

use async_trait::async_trait;
use iotcreds_store::tokio_stream_like::ChangeStream;
use iotcreds_store::{StoreError, StoreResult};
use iotcreds_store_sql::{CHANGE_CHANNEL, ChangeSource, map_sqlx_error};
use sqlx::Executor;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

/// Buffered notifications per subscriber before the listener waits for it.
const BUFFER: usize = 256;

/// Longest pause between attempts to re-establish a lost `LISTEN` connection.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Opens [`listen`] streams on one database (the store's `ChangeSource`).
pub struct PgChangeSource {
    url: String,
}

impl PgChangeSource {
    /// A source listening on the database at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
        }
    }
}

impl std::fmt::Debug for PgChangeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("PgChangeSource").finish_non_exhaustive()
    }
}

#[async_trait]
impl ChangeSource for PgChangeSource {
    async fn subscribe(&self) -> StoreResult<ChangeStream> {
        listen(&self.url).await
    }
}

/// Listen for registry changes on the database at `url`.
///
/// Returns once `LISTEN` is in effect, so any write committed afterwards is reported. The
/// stream yields `Some(generation)` per committed write and `None` after the connection was
/// lost and re-established; it ends when the receiver is dropped (which closes the connection).
pub async fn listen(url: &str) -> StoreResult<ChangeStream> {
    let mut listener = PgListener::connect(url).await.map_err(map_sqlx_error)?;
    listener
        .listen(CHANGE_CHANNEL)
        .await
        .map_err(map_sqlx_error)?;
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::spawn(forward(listener, tx));
    Ok(rx)
}

/// Forward notifications until the receiver goes away.
async fn forward(mut listener: PgListener, tx: mpsc::Sender<Option<i64>>) {
    loop {
        let received = tokio::select! {
            _ = tx.closed() => return,
            r = listener.try_recv() => r,
        };
        let item = match received {
            Ok(Some(n)) => n.payload().parse::<i64>().ok(),
            // Lost and already re-established (eager reconnect): anything may have changed.
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %map_sqlx_error(e), "registry change listener lost its connection");
                if !relisten(&mut listener, &tx).await {
                    return;
                }
                None
            }
        };
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

/// Reconnect with backoff until it works (any statement on the listener reconnects and re-issues
/// its `LISTEN`s first); `false` if the receiver went away meanwhile.
async fn relisten(listener: &mut PgListener, tx: &mpsc::Sender<Option<i64>>) -> bool {
    let mut backoff = Duration::from_millis(100);
    loop {
        tokio::select! {
            _ = tx.closed() => return false,
            _ = tokio::time::sleep(backoff) => {}
        }
        match (&mut *listener).execute("SELECT 1").await {
            Ok(_) => {
                tracing::info!("registry change listener reconnected");
                return true;
            }
            Err(e) => {
                let e: StoreError = map_sqlx_error(e);
                tracing::warn!(error = %e, "registry change listener cannot reconnect yet");
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
