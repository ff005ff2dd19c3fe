//! Starting and stopping a server: open the data directory and the registry, make sure the
//! PKI and admin files exist, bind the listeners (credentials, service, admin, console), run the
//! background tasks, and drain on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use iotcreds_pki::CertificateAuthority;
use iotcreds_pki::chain::{RegisteredCa, find_issuer};
use iotcreds_pki::inspect::CertInfo;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::AdminEndpoint;
use crate::config::Config;
use crate::credentials::{CredentialsEndpoint, now_ms};
use crate::data_dir::{DataDir, read_secret_file};
use crate::net::{self, ListenerOptions, Tls};
use crate::registry_store::RegistryLocation;
use crate::service::ServiceEndpoint;
use iotcreds_registry::activity::ActivityLog;
use iotcreds_registry::{self as registry, Registry};

/// How often the registry's change counter is checked (the safety net behind PostgreSQL's
/// notifications, and the only mechanism with SQLite): a change made elsewhere (a revoked
/// sealing key, a certificate set INACTIVE) is honoured here within a second.
const CHANGE_POLL: Duration = Duration::from_millis(500);

/// A running server.
pub struct Running {
    /// Where the credentials endpoint listens.
    pub credentials_addr: SocketAddr,
    /// Where the service endpoint listens.
    pub api_addr: SocketAddr,
    /// Where the admin endpoint listens.
    pub admin_addr: SocketAddr,
    /// Where the web console listens (`None` when it is turned off).
    pub console_addr: Option<SocketAddr>,
    /// The registry service.
    pub registry: Arc<Registry>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    _data_dir: DataDir,
}

impl Running {
    /// A token that stops the server when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Wait until the server has stopped (after the shutdown token was cancelled) and every
    /// in-flight request has finished or the grace period ended.
    pub async fn wait(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Stop and drain.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.wait().await;
    }
}

/// The credentials endpoint's certificate: the operator's, or one issued by the built-in CA
/// for `credentials_host` (re-issued when missing, for another host, issued by another CA, or
/// within 30 days of expiry).
fn credentials_identity(
    config: &Config,
    data: &DataDir,
    ca: &CertificateAuthority,
) -> anyhow::Result<(String, String)> {
    if let (Some(cert), Some(key)) = (&config.credentials_tls_cert, &config.credentials_tls_key) {
        let chain =
            std::fs::read_to_string(cert).with_context(|| format!("reading {}", cert.display()))?;
        let key = read_secret_file(key).with_context(|| format!("reading {}", key.display()))?;
        return Ok((chain, key));
    }
    let now = now_ms();
    let usable = |chain: &str| -> bool {
        let Ok(info) = CertInfo::from_pem(chain) else {
            return false;
        };
        let host_ok = info.sans.dns.iter().any(|d| d == &config.credentials_host)
            || info.sans.ip.iter().any(|i| i == &config.credentials_host);
        host_ok
            && info.not_after_ms - now > 30 * 86_400_000
            && find_issuer(
                &info.der,
                &[],
                &[RegisteredCa {
                    id: "builtin",
                    der: ca.cert_der(),
                }],
                now,
            )
            .is_ok()
    };
    if let Some((chain, key)) = data.read_credentials_tls()
        && usable(&chain)
    {
        return Ok((chain, key));
    }
    let mut hosts = vec![config.credentials_host.clone()];
    for h in ["localhost", "127.0.0.1", "::1"] {
        if !hosts.iter().any(|x| x == h) {
            hosts.push(h.to_owned());
        }
    }
    let issued = ca.issue_server(&hosts, iotcreds_types::time_fmt::from_millis(now), 825)?;
    let chain = format!("{}{}", issued.cert_pem, ca.cert_pem());
    let key = issued.private_key_pem.unwrap_or_default();
    data.write_credentials_tls(&chain, &key)?;
    tracing::info!(host = %config.credentials_host, "issued the credentials endpoint's server certificate");
    Ok((chain, key))
}

/// Whether the service endpoint exposes SigV4 over plain HTTP beyond this machine: a signed
/// request seen on the network can be replayed for as long as its signature is valid (15
/// minutes), and its body read.
fn plain_sigv4_exposed(api_addr: SocketAddr, tls: bool) -> bool {
    !tls && !api_addr.ip().is_loopback()
}

fn install_crypto_provider() {
    // Fails only if a provider is already installed, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Start a server with `config`; returns once every listener is bound and serving.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    config.validate()?;
    install_crypto_provider();
    let data = DataDir::open(&config.data_dir)
        .with_context(|| format!("opening the data directory {}", config.data_dir.display()))?;
    let store = RegistryLocation::parse(config.registry_url.as_deref(), &data.registry_path())?
        .open(config.registry_auto_migrate)
        .await?;
    let options = registry::OpenOptions {
        account_id: config.account_id.clone(),
    };
    let (registry, outcome) = registry::open_with(store, &config.region, now_ms(), &options)
        .await
        .context("opening the registry")?;
    let registry = Arc::new(registry);
    registry.set_outage_grace(Duration::from_secs(config.registry_outage_grace_secs));
    if outcome.created_account {
        tracing::info!(account_id = %registry.account_id(), "created a new account");
    }
    data.write_root_ca(registry.ca().cert_pem())?;
    let root = registry.root();
    data.write_admin_credentials(&root.access_key_id, root.secret.expose(), &config.region)?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let (chain, key) = credentials_identity(&config, &data, registry.ca())?;
    let credentials_tls = Arc::new(iotcreds_pki::tls::credentials_server_config(
        provider.clone(),
        &chain,
        &key,
    )?);
    let api_tls = match (&config.api_tls_cert, &config.api_tls_key) {
        (Some(c), Some(k)) => {
            let chain =
                std::fs::read_to_string(c).with_context(|| format!("reading {}", c.display()))?;
            let key = read_secret_file(k).with_context(|| format!("reading {}", k.display()))?;
            Tls::Optional(Arc::new(iotcreds_pki::tls::plain_server_config(
                provider.clone(),
                &chain,
                &key,
            )?))
        }
        _ => Tls::Off,
    };

    let credentials_listener = net::bind(config.credentials_addr).await.with_context(|| {
        format!(
            "binding the credentials endpoint to {}",
            config.credentials_addr
        )
    })?;
    let api_listener = net::bind(config.api_addr)
        .await
        .with_context(|| format!("binding the service endpoint to {}", config.api_addr))?;
    let admin_listener = net::bind(config.admin_addr)
        .await
        .with_context(|| format!("binding the admin endpoint to {}", config.admin_addr))?;
    let console_listener = match config.console.enabled {
        true => Some(
            net::bind(config.console_addr)
                .await
                .with_context(|| format!("binding the web console to {}", config.console_addr))?,
        ),
        false => None,
    };
    let console_addr = console_listener
        .as_ref()
        .map(|l| l.local_addr())
        .transpose()?;
    let credentials_addr = credentials_listener.local_addr()?;
    let api_addr = api_listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;
    if plain_sigv4_exposed(api_addr, !matches!(api_tls, Tls::Off)) {
        tracing::warn!(
            %api_addr,
            "the service endpoint serves SigV4 over plain HTTP on a non-loopback address: anyone \
             who can observe the traffic can read request bodies and replay signed requests for \
             up to 15 minutes; configure api_tls_cert and api_tls_key (--api-tls-cert, \
             --api-tls-key) in production (docs/deployment.md)"
        );
    }

    let shutdown = CancellationToken::new();
    let ready = Arc::new(AtomicBool::new(false));
    let options = ListenerOptions {
        handshake_timeout: config.handshake_timeout(),
        header_timeout: config.header_timeout(),
        idle_timeout: config.limits.idle_timeout(),
        max_connections: config.limits.max_connections,
        max_connections_per_ip: config.limits.max_connections_per_ip,
        http2: false,
        grace: Duration::from_secs(config.limits.shutdown_grace_secs),
        proxy_protocol_from: Arc::new(Vec::new()),
    };
    // The endpoints an L4 balancer fronts read PROXY headers from it; admin, console and the
    // credentials proxy listener never do.
    let balanced = ListenerOptions {
        proxy_protocol_from: Arc::new(config.proxy_protocol_networks()?),
        ..options.clone()
    };
    let mut tasks = Vec::new();

    tasks.push(tokio::spawn(
        iotcreds_registry::key_use::KeyUseWriter::new(
            registry.key_uses().clone(),
            registry.store().clone(),
        )
        .run(shutdown.clone().cancelled_owned()),
    ));
    let activity = match config.console.activity_events {
        0 => Arc::new(ActivityLog::disabled()),
        keep => {
            let (log, writer) = ActivityLog::new(registry.store().clone(), keep, 4096);
            tasks.push(tokio::spawn(writer.run(shutdown.clone().cancelled_owned())));
            Arc::new(log)
        }
    };
    let credentials = Arc::new(
        CredentialsEndpoint::new(registry.clone(), config.credentials_host.clone())
            .with_activity(activity)
            .with_throttle(config.limits.issuance_throttle()),
    );
    let mut credentials_proxy_addr = None;
    if let Some(proxy) = &config.credentials_proxy {
        let settings = Arc::new(proxy.settings()?);
        let listener = net::bind(proxy.addr)
            .await
            .with_context(|| format!("binding the credentials proxy listener to {}", proxy.addr))?;
        credentials_proxy_addr = Some(listener.local_addr()?);
        let endpoint = credentials.clone();
        tasks.push(tokio::spawn(net::serve(
            listener,
            Tls::Off,
            options.clone(),
            shutdown.clone(),
            move |conn| {
                let endpoint = endpoint.clone();
                let settings = settings.clone();
                hyper::service::service_fn(move |req| {
                    let (endpoint, settings, conn) =
                        (endpoint.clone(), settings.clone(), conn.clone());
                    async move { Ok(endpoint.handle_proxied(&conn, &settings, req).await) }
                })
            },
        )));
    }
    tasks.push(tokio::spawn(net::serve(
        credentials_listener,
        Tls::Required(credentials_tls),
        balanced.clone(),
        shutdown.clone(),
        move |conn| {
            let endpoint = credentials.clone();
            hyper::service::service_fn(move |req| {
                let endpoint = endpoint.clone();
                let conn = conn.clone();
                async move { Ok(endpoint.handle(&conn, req).await) }
            })
        },
    )));

    let service = Arc::new(
        ServiceEndpoint::new(registry.clone(), &config, &data, credentials_addr.port())
            .await
            .context("starting the service endpoint")?,
    );
    let console_objects = service.console_objects();
    tasks.push(tokio::spawn(net::serve(
        api_listener,
        api_tls,
        ListenerOptions {
            http2: true,
            ..balanced.clone()
        },
        shutdown.clone(),
        move |conn| {
            let endpoint = service.clone();
            hyper::service::service_fn(move |req| {
                let endpoint = endpoint.clone();
                let conn = conn.clone();
                async move { Ok(endpoint.handle(conn, req).await) }
            })
        },
    )));

    if let Some(listener) = console_listener {
        let control = iotcreds_control::ControlContext {
            registry: registry.clone(),
            region: config.region.clone(),
            credentials_endpoint: config.credentials_endpoint_address(credentials_addr.port()),
            data_endpoint: config.credentials_host.clone(),
        };
        let console = Arc::new(iotcreds_console::Console::new(
            control,
            console_objects,
            config.console.settings(),
        ));
        let tls = match (&config.console.tls_cert, &config.console.tls_key) {
            (Some(c), Some(k)) => {
                let chain = std::fs::read_to_string(c)
                    .with_context(|| format!("reading {}", c.display()))?;
                let key =
                    read_secret_file(k).with_context(|| format!("reading {}", k.display()))?;
                Tls::Required(Arc::new(iotcreds_pki::tls::plain_server_config(
                    provider.clone(),
                    &chain,
                    &key,
                )?))
            }
            _ => Tls::Off,
        };
        tasks.push(tokio::spawn(net::serve(
            listener,
            tls,
            options.clone(),
            shutdown.clone(),
            move |conn| {
                let console = console.clone();
                let peer = iotcreds_console::Peer {
                    ip: conn.remote.ip(),
                    tls: conn.tls.is_some(),
                };
                hyper::service::service_fn(move |req| {
                    let console = console.clone();
                    // A form or upload answered before its body was read to its end (no
                    // session, a refused CSRF token) closes its connection (`net::unread`).
                    async move {
                        Ok(net::unread::answer(req, |req| console.handle(peer, req)).await)
                    }
                })
            },
        )));
    }

    let admin = Arc::new(AdminEndpoint::new(registry.clone(), ready.clone()));
    tasks.push(tokio::spawn(net::serve(
        admin_listener,
        Tls::Off,
        options,
        shutdown.clone(),
        move |_conn| {
            let endpoint = admin.clone();
            hyper::service::service_fn(move |req| {
                let endpoint = endpoint.clone();
                async move { Ok(endpoint.handle(req).await) }
            })
        },
    )));

    tasks.push(tokio::spawn(registry::watch(
        registry.clone(),
        CHANGE_POLL,
        shutdown.clone().cancelled_owned(),
    )));
    let rotation = config.tokens.rotation_hours;
    let keys_registry = registry.clone();
    let keys_shutdown = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        let max_age = (rotation > 0)
            .then(|| i64::try_from(rotation).unwrap_or(i64::MAX / 3_600_000) * 3_600_000);
        let mut ticker = tokio::time::interval(Duration::from_secs(300));
        loop {
            tokio::select! {
                () = keys_shutdown.cancelled() => return,
                _ = ticker.tick() => {
                    if let Err(e) = keys_registry.maintain_keys(now_ms(), max_age).await {
                        tracing::warn!(error = %e, "token key maintenance failed");
                    }
                }
            }
        }
    }));

    tasks.push(tokio::spawn(crate::crl_fetch::run(
        registry.clone(),
        config.revocation.clone(),
        now_ms,
        shutdown.clone(),
    )));

    ready.store(true, Ordering::Release);
    tracing::info!(
        %credentials_addr, %api_addr, %admin_addr,
        console_addr = %console_addr.map(|a| a.to_string()).unwrap_or_default(),
        credentials_proxy_addr = %credentials_proxy_addr.map(|a| a.to_string()).unwrap_or_default(),
        account_id = %registry.account_id(),
        region = %config.region,
        engine = registry.store().engine(),
        objects = match config.objects.backend() {
            crate::config::ObjectsBackend::Fs => "fs",
            crate::config::ObjectsBackend::Upstream => "upstream",
        },
        "iotcreds is serving"
    );
    Ok(Running {
        credentials_addr,
        api_addr,
        admin_addr,
        console_addr,
        registry,
        shutdown,
        tasks,
        _data_dir: data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_sigv4_beyond_loopback_is_flagged() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(plain_sigv4_exposed(addr("0.0.0.0:9000"), false));
        assert!(plain_sigv4_exposed(addr("[::]:9000"), false));
        assert!(plain_sigv4_exposed(addr("192.0.2.10:9000"), false));
        assert!(!plain_sigv4_exposed(addr("0.0.0.0:9000"), true));
        assert!(!plain_sigv4_exposed(addr("127.0.0.1:9000"), false));
        assert!(!plain_sigv4_exposed(addr("127.1.2.3:9000"), false));
        assert!(!plain_sigv4_exposed(addr("[::1]:9000"), false));
    }
}
