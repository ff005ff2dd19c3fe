//! Notice changes made by other instances: PostgreSQL notifications when the engine pushes
//! them, and a periodic generation check as a safety net (and the only mechanism for engines
//! that cannot push).

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
                match registry.store.generation().await {
                    Ok(g) => {
                        if known != Some(g) {
                            if known.is_some() {
                                registry.on_remote_change().await;
                            }
                            known = Some(g);
                        }
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
