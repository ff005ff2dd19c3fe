//! `iotcreds device agent`: the device side of iotcreds.
//!
//! The agent holds the device's certificate and key (a PEM file or a PKCS#11 token), fetches
//! credentials for one or more role aliases from one or more credentials endpoints, refreshes
//! them before they expire (one fetch in flight per alias, errors backed off), and hands them
//! to local software through the protocols AWS SDKs already speak: the container credentials
//! protocol (and Greengrass's token exchange path), IMDSv2, a shared-credentials file, and
//! `credential_process` (through the CLI).
//!
//! Modules: [`config`] (TOML + flags), [`identity`] (certificates, PEM and PKCS#11 keys,
//! rotation), [`fetch`] (the mutual-TLS request, failover), [`schedule`] (pure refresh and
//! backoff rules), [`agent`] (the tasks and state), [`http`] (the local endpoints),
//! [`authtoken`] (local tokens), [`creds`] (every output shape), [`credfile`], [`usercache`],
//! [`client`], [`metrics`].

pub mod agent;
pub mod authtoken;
pub mod client;
pub mod config;
pub mod credfile;
pub mod creds;
pub mod fetch;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod schedule;
pub mod usercache;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::Semaphore;

pub use agent::{Agent, StartError};
pub use config::AgentConfig;

/// The process's crypto provider (aws-lc-rs), installed as rustls's default.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    let p = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let _ = rustls::crypto::CryptoProvider::install_default((*p).clone());
    p
}

/// Where a started agent listens.
#[derive(Debug, Clone)]
pub struct Bound {
    /// Container-protocol listeners.
    pub container: Vec<SocketAddr>,
    /// IMDS listeners.
    pub imds: Vec<SocketAddr>,
}

/// Run the agent until SIGTERM or SIGINT; SIGHUP re-reads the files and retries failed
/// set-ups at once. `on_ready` is called once every listener is bound.
pub async fn run(config: AgentConfig, on_ready: impl FnOnce(&Bound)) -> Result<(), StartError> {
    use tokio::signal::unix::{SignalKind, signal};
    let agent = Agent::new(config, provider())?;
    let listeners = http::bind(&agent)
        .await
        .map_err(|e| StartError(format!("cannot listen: {e}")))?;
    let bound = Bound {
        container: listeners
            .container
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect(),
        imds: listeners
            .imds
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect(),
    };
    metrics::handle();
    agent.spawn();
    let limit = Arc::new(Semaphore::new(agent.config.max_connections));
    for l in listeners.container {
        tokio::spawn(http::serve(
            agent.clone(),
            l,
            http::Kind::Container,
            limit.clone(),
        ));
    }
    for l in listeners.imds {
        tokio::spawn(http::serve(
            agent.clone(),
            l,
            http::Kind::Imds,
            limit.clone(),
        ));
    }
    on_ready(&bound);
    let mut term = signal(SignalKind::terminate()).map_err(|e| StartError(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| StartError(e.to_string()))?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| StartError(e.to_string()))?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: re-reading certificates and tokens, retrying now");
                agent.reload_now().await;
            }
        }
    }
    tracing::info!("agent stopping");
    agent.shutdown();
    Ok(())
}
