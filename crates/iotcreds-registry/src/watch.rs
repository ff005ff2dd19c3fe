//! Notice changes made by other instances: PostgreSQL notifications when the engine pushes
//! them, and a periodic generation check as a safety net (and the only mechanism for engines
//! that cannot push).
//!
//! The same check watches the database's reachability: while it does not answer, cached
//! entries keep being served (writes fail) for the configured grace period, then the cache is
//! dropped and requests are refused; when it answers again the cache is flushed, because
//! anything may have changed meanwhile, and notifications are re-subscribed.

use std::sync::Arc;
use std::time::Duration;

use super::Registry;

/// Watch for changes until `shutdown` resolves. `poll` is the safety-net interval.
pub async fn watch(registry: Arc<Registry>, poll: Duration, shutdown: impl Future<Output = ()>) {
    let mut known = registry.store.generation().await.ok();
    let mut pushed = match registry.store.subscribe().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "registry change notifications unavailable; polling only");
            None
        }
    };
    let mut ticker = tokio::time::interval(poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticker.tick() => {
                let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
                match registry.store.generation().await {
                    Ok(g) => {
                        let recovered = registry.record_reachability(true, now_ms);
                        if recovered || known != Some(g) {
                            if known.is_some() || recovered {
                                registry.on_remote_change().await;
                            }
                            known = Some(g);
                        }
                        if recovered && pushed.is_none() {
                            pushed = registry.store.subscribe().await.ok().flatten();
                        }
                    }
                    Err(e) if e.is_unavailable() => {
                        registry.record_reachability(false, now_ms);
                    }
                    Err(e) => tracing::warn!(error = %e, "registry generation check failed"),
                }
            }
            item = async {
                match pushed.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                match item {
                    Some(Some(g)) if known == Some(g) => {}
                    Some(g) => {
                        registry.on_remote_change().await;
                        known = g.or(known);
                    }
                    None => {
                        tracing::warn!("registry change notifications ended; polling only");
                        pushed = None;
                    }
                }
            }
        }
    }
}

impl Registry {
    async fn on_remote_change(&self) {
        self.changed();
        if let Err(e) = self.reload_keyring().await {
            tracing::warn!(error = %e, "could not reload the token key ring");
        }
    }
}
