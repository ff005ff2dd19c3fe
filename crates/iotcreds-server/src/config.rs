//! Server configuration: one TOML file, overridden by `IOTCREDS_*` environment variables and
//! command-line flags (the binary merges those; this module owns the shape and the defaults).
//!
//! ```toml
//! data_dir = "iotcreds-data"          # created on first start
//! region = "us-east-1"
//! # account_id = "123456789012"     # a new registry's account id (default: random, 12 digits)
//! credentials_host = "localhost"      # in the server certificate; returned by DescribeEndpoint
//! credentials_addr = "0.0.0.0:8443"   # mutual-TLS credentials endpoint
//! api_addr = "0.0.0.0:9000"           # S3, IoT, IAM, STS (SigV4)
//! admin_addr = "127.0.0.1:9001"       # /healthz, /metrics
//! console_addr = "127.0.0.1:9002"     # the web console (see [console] below)
//! # registry_url = "postgres://user@host/db"   # default: SQLite in data_dir
//! # credentials_tls_cert = "/etc/iotcreds/server.pem"  # operator PKI instead of the built-in CA
//! # credentials_tls_key = "/etc/iotcreds/server.key"
//! # api_tls_cert = "..."  api_tls_key = "..."  # HTTPS on the service endpoint
//! # virtual_host_domain = "s3.example.com"     # virtual-hosted-style S3 (bucket.s3.example.com)
//! # registry_outage_grace_secs = 300           # serve from cache this long if the database is down
//!
//! # proxy_protocol_from = ["10.0.0.5"]  # L4 balancers sending PROXY v1/v2 headers (credentials, service)
//!
//! # [credentials_proxy]            # the credentials endpoint behind a TLS-terminating proxy
//! # addr = "10.0.0.2:8444"         # plain HTTP, answered only to trusted_proxies
//! # trusted_proxies = ["10.0.0.5"]
//! # client_cert_header = "x-forwarded-client-cert"   # Envoy XFCC, or nginx $ssl_client_escaped_cert
//! # server_name_header = "x-forwarded-server-name"   # nginx $ssl_server_name (SNI_ONLY certificates)
//! # client_addr_header = "x-forwarded-for"           # the client's address (its last entry)
//!
//! # [limits]                       # what one client may cost the server (see LimitsConfig)
//! # header_timeout_secs = 10       # connection (or a request's first byte) to complete headers
//! # idle_timeout_secs = 30         # keep-alive / HTTP/2 connection without a request in progress
//! # max_connections_per_ip = 256   # per listener and client address (IPv6: per /64); 0 = off
//! # body_timeout_secs = 20         # a buffered (control-plane) request body arrives whole
//! # max_inflight_body_bytes = 67108864   # all buffered request bodies together
//! # issuance_rate_per_certificate = 200   # credentials per second per certificate (0 = off)
//! # issuance_burst_per_certificate = 1000 # … at once after a quiet period
//! # issuance_rate_per_account = 5000      # all certificates together (0 = off)
//! # issuance_burst_per_account = 20000
//!
//! # [revocation]                   # CRLs of CAs with a crlUrl (iotcreds ca set-revocation)
//! # crl_refresh_secs = 3600        # each instance fetches each CA's CRL this often
//! # crl_retry_secs = 60            # after a failure, and while the CRL's nextUpdate is near
//! # max_crl_bytes = 4194304
//!
//! # [objects]                      # default: objects in DATA/objects (the embedded backend)
//! # backend = "upstream"           # keep them in an existing S3-compatible cluster instead
//! # read_cache_mib = 64            # memory for the embedded backend's small-object cache (0: off)
//! # [objects.upstream]             # see iotcreds_objects_upstream::UpstreamConfig
//! # endpoint = "http://minio.internal:9000"
//! # access_key_id = "iotcreds-gateway"
//! # secret_access_key = "..."
//! # bucket_prefix = "fleet-"
//!
//! # [console]                      # the web console; see docs/console.md
//! # enabled = true
//! # session_ttl_secs = 28800       # a session lasts at most this long
//! # idle_timeout_secs = 3600       # and ends after this long without a request
//! # failures_per_user = 5          # failed sign-ins per user per failure_window_secs
//! # failures_per_address = 20      # … per source address (IPv6: per /64)
//! # failure_window_secs = 900
//! # max_upload_mib = 100           # largest object uploaded through the console
//! # activity_events = 10000        # credential events kept for Activity (0: off)
//! # tls_cert = "..."  tls_key = "..."  # HTTPS for the console (Secure cookies)
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use iotcreds_objects_upstream::UpstreamConfig;
use serde::Deserialize;

/// Everything `iotcreds serve` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded registry, objects, PKI and admin credentials live.
    pub data_dir: PathBuf,
    /// The AWS region iotcreds claims to be (ARNs, credential scopes, `GetBucketLocation`).
    pub region: String,
    /// The account id a new registry is created with (12 digits), so that teams moving from
    /// AWS keep the ARNs of their policies and scripts. `None`: random at first start. Once the
    /// registry has an account id, a different one here refuses to start.
    pub account_id: Option<String>,
    /// Host name of the credentials endpoint: in its server certificate and returned by
    /// `DescribeEndpoint(iot:CredentialProvider)`.
    pub credentials_host: String,
    /// Listen address of the mutual-TLS credentials endpoint.
    pub credentials_addr: SocketAddr,
    /// Listen address of the SigV4 service endpoint (S3, IoT, IAM, STS).
    pub api_addr: SocketAddr,
    /// Listen address of the admin endpoint (health, metrics). Keep it on loopback.
    pub admin_addr: SocketAddr,
    /// Listen address of the web console (its own listener: no console path can collide with
    /// an S3 bucket name). Loopback by default.
    pub console_addr: SocketAddr,
    /// L4 load balancers (addresses or networks) whose connections to the credentials and
    /// service endpoints start with a PROXY protocol v1/v2 header carrying the client's
    /// address; empty: none.
    pub proxy_protocol_from: Vec<String>,
    /// Trusted-proxy mode of the credentials endpoint (off unless configured).
    pub credentials_proxy: Option<CredentialsProxyConfig>,
    /// Registry location: `sqlite://PATH` or `postgres://...`; default `DATA/registry.db`.
    pub registry_url: Option<String>,
    /// Server certificate chain (PEM) of the credentials endpoint, replacing the generated one.
    pub credentials_tls_cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub credentials_tls_key: Option<PathBuf>,
    /// Certificate chain (PEM) for HTTPS on the service endpoint.
    pub api_tls_cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub api_tls_key: Option<PathBuf>,
    /// Base domain for virtual-hosted-style S3 requests (`BUCKET.<domain>`).
    pub virtual_host_domain: Option<String>,
    /// Apply pending PostgreSQL schema migrations at start-up (SQLite is always migrated).
    /// Turn off to upgrade schemas only with `iotcreds migrate`.
    pub registry_auto_migrate: bool,
    /// While the registry database is unreachable, keep serving cached registry entries for
    /// this many seconds (writes are refused), then refuse requests until it is back.
    pub registry_outage_grace_secs: u64,
    /// Where objects are stored.
    pub objects: ObjectsConfig,
    /// Connection and request limits.
    pub limits: LimitsConfig,
    /// Token-sealing key rotation.
    pub tokens: TokensConfig,
    /// Fetching registered CAs' CRLs from their URLs.
    pub revocation: RevocationConfig,
    /// The web console.
    pub console: ConsoleConfig,
}

/// The web console (`[console]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Serve the console on `console_addr`.
    pub enabled: bool,
    /// Longest console session, in seconds from sign-in.
    pub session_ttl_secs: u64,
    /// A session ends after this many seconds without a request.
    pub idle_timeout_secs: u64,
    /// Failed sign-ins allowed per user within the window.
    pub failures_per_user: u32,
    /// Failed sign-ins allowed per source address within the window.
    pub failures_per_address: u32,
    /// The failure window (and lock-out), in seconds.
    pub failure_window_secs: u64,
    /// Largest object uploaded through the console, in MiB.
    pub max_upload_mib: u64,
    /// Credential events kept in the registry for the Activity page (newest; 0: none).
    pub activity_events: u64,
    /// Certificate chain (PEM) for HTTPS on the console.
    pub tls_cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub tls_key: Option<PathBuf>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        let d = iotcreds_console::Settings::default();
        Self {
            enabled: true,
            session_ttl_secs: d.session_ttl.as_secs(),
            idle_timeout_secs: d.idle_timeout.as_secs(),
            failures_per_user: d.failures_per_user,
            failures_per_address: d.failures_per_address,
            failure_window_secs: d.failure_window.as_secs(),
            max_upload_mib: d.max_upload_bytes >> 20,
            activity_events: 10_000,
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl ConsoleConfig {
    /// The console's settings.
    pub fn settings(&self) -> iotcreds_console::Settings {
        iotcreds_console::Settings {
            session_ttl: Duration::from_secs(self.session_ttl_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            failures_per_user: self.failures_per_user,
            failures_per_address: self.failures_per_address,
            failure_window: Duration::from_secs(self.failure_window_secs),
            max_upload_bytes: self.max_upload_mib.saturating_mul(1 << 20),
            ..iotcreds_console::Settings::default()
        }
    }
}

/// Where the S3 endpoint keeps objects.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectsConfig {
    /// Which backend. Without it: `upstream` when `[objects.upstream]` is present, else `fs`.
    pub backend: Option<ObjectsBackend>,
    /// The upstream S3-compatible cluster (for `backend = "upstream"`).
    pub upstream: Option<UpstreamConfig>,
    /// Memory, in MiB, for the `fs` backend's cache of small objects (up to 256 KiB each);
    /// `0` turns it off. Default 64.
    pub read_cache_mib: Option<u64>,
}

/// [`ObjectsConfig::backend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectsBackend {
    /// The embedded file-system backend in `DATA/objects` (one machine).
    Fs,
    /// An existing S3-compatible cluster, called with the gateway's own credentials
    /// (scale-out: every instance sees the same objects).
    Upstream,
}

impl ObjectsConfig {
    /// [`ObjectsConfig::read_cache_mib`] in bytes.
    pub fn read_cache_bytes(&self) -> usize {
        let mib = self.read_cache_mib.unwrap_or(64);
        usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    /// The backend in effect.
    pub fn backend(&self) -> ObjectsBackend {
        self.backend.unwrap_or(if self.upstream.is_some() {
            ObjectsBackend::Upstream
        } else {
            ObjectsBackend::Fs
        })
    }
}

/// Timeouts and sizes that protect the listeners: what a client that sends nothing, sends
/// slowly or never finishes may cost before it is refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Longest TLS handshake (and, on a port serving both, longest wait for the first byte
    /// that tells TLS from plain HTTP), in seconds.
    pub handshake_timeout_secs: u64,
    /// Longest time from a connection's start (after the TLS handshake) to the complete headers
    /// of its first request, and from the first byte of a later request on a keep-alive
    /// connection to its complete headers, in seconds. Covers telling HTTP/1 from HTTP/2.
    pub header_timeout_secs: u64,
    /// Longest time a connection stays open with no request in progress after its first one
    /// (HTTP/1 keep-alive, HTTP/2 with no open stream; HTTP/2 pings do not count), in seconds.
    pub idle_timeout_secs: u64,
    /// Most concurrent connections per listener.
    pub max_connections: usize,
    /// Most concurrent connections per listener from one client address (IPv6: one /64
    /// network); `0` turns the limit off (behind a proxy or load balancer that does not
    /// preserve client addresses, every connection comes from its address).
    pub max_connections_per_ip: usize,
    /// How long `SIGTERM` waits for in-flight requests, in seconds.
    pub shutdown_grace_secs: u64,
    /// Largest control-plane (IoT/IAM/STS) request body, in bytes.
    pub max_control_body_bytes: usize,
    /// Longest time a buffered request body (the control plane reads a body whole before it
    /// can verify the signature that covers it) may take to arrive, in seconds.
    pub body_timeout_secs: u64,
    /// Most bytes of buffered request bodies held at once, all connections together. When a
    /// new body does not fit, the bodies that have been arriving longest are refused first.
    pub max_inflight_body_bytes: usize,
    /// Largest file a browser-form upload (S3 POST Object) may carry, in bytes. The file is
    /// held in memory until it is stored, and only after the form's signature, policy and
    /// permission have been checked; the fields before it are limited to 20 KiB, as on AWS.
    pub post_object_max_bytes: u64,
    /// Credentials issued per second to one certificate, sustained (`0`: no limit; below 1
    /// for slower rates, 0.1 is one every 10 s). Each instance counts on its own (see
    /// `credentials::throttle`).
    pub issuance_rate_per_certificate: f64,
    /// Credentials one certificate may get at once after a quiet period.
    pub issuance_burst_per_certificate: u32,
    /// Credentials issued per second to all certificates together, sustained (`0`: no limit).
    pub issuance_rate_per_account: f64,
    /// Credentials all certificates together may get at once after a quiet period.
    pub issuance_burst_per_account: u32,
}

/// The credentials endpoint behind a TLS-terminating proxy (`[credentials_proxy]`): a
/// plain-HTTP listener that answers only the proxy's addresses and takes the client
/// certificate from a header (see `credentials::proxy`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsProxyConfig {
    /// Where the proxy connects (plain HTTP: keep it on a private network).
    pub addr: SocketAddr,
    /// The proxy's addresses or networks (`10.0.0.5`, `10.0.0.0/24`, `::1`); required.
    pub trusted_proxies: Vec<String>,
    /// The header with the client certificate: Envoy's XFCC or nginx's
    /// `$ssl_client_escaped_cert` [default: `x-forwarded-client-cert`].
    #[serde(default = "default_client_cert_header")]
    pub client_cert_header: String,
    /// The header with the server name the client asked for (nginx `$ssl_server_name`), for
    /// certificates registered without a CA (SNI_ONLY).
    pub server_name_header: Option<String>,
    /// The header with the client's address (`X-Forwarded-For`: its last entry), for
    /// `aws:SourceIp` and the audit line; without it, the proxy's address is used.
    pub client_addr_header: Option<String>,
}

fn default_client_cert_header() -> String {
    "x-forwarded-client-cert".into()
}

/// An address (`10.0.0.5`, a network of one) or a network (`10.0.0.0/24`).
fn parse_network(key: &'static str, text: &str) -> Result<ipnet::IpNet, ConfigError> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| ConfigError::Invalid {
            key,
            message: format!("{text:?} is not an IP address or network"),
        })
}

impl Config {
    /// `proxy_protocol_from`, parsed.
    pub fn proxy_protocol_networks(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.proxy_protocol_from
            .iter()
            .map(|t| parse_network("proxy_protocol_from", t))
            .collect()
    }
}

impl CredentialsProxyConfig {
    /// The checked settings.
    pub fn settings(&self) -> Result<crate::credentials::proxy::ProxySettings, ConfigError> {
        let invalid = |key: &'static str, message: String| ConfigError::Invalid { key, message };
        if self.trusted_proxies.is_empty() {
            return Err(invalid(
                "credentials_proxy.trusted_proxies",
                "name at least one address or network of the proxy".into(),
            ));
        }
        let trusted = self
            .trusted_proxies
            .iter()
            .map(|t| parse_network("credentials_proxy.trusted_proxies", t))
            .collect::<Result<Vec<_>, _>>()?;
        let header = |key: &'static str, name: &str| {
            http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|_| invalid(key, format!("{name:?} is not a header name")))
        };
        Ok(crate::credentials::proxy::ProxySettings {
            trusted,
            client_cert_header: header(
                "credentials_proxy.client_cert_header",
                &self.client_cert_header,
            )?,
            server_name_header: self
                .server_name_header
                .as_deref()
                .map(|h| header("credentials_proxy.server_name_header", h))
                .transpose()?,
            client_addr_header: self
                .client_addr_header
                .as_deref()
                .map(|h| header("credentials_proxy.client_addr_header", h))
                .transpose()?,
        })
    }
}

/// Token-sealing key rotation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensConfig {
    /// Rotate the sealing key when the active one is older than this many hours (0: never
    /// automatically; `iotcreds keys rotate` still works).
    pub rotation_hours: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("iotcreds-data"),
            region: "us-east-1".into(),
            account_id: None,
            credentials_host: "localhost".into(),
            credentials_addr: SocketAddr::from(([0, 0, 0, 0], 8443)),
            api_addr: SocketAddr::from(([0, 0, 0, 0], 9000)),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 9001)),
            console_addr: SocketAddr::from(([127, 0, 0, 1], 9002)),
            registry_url: None,
            proxy_protocol_from: Vec::new(),
            credentials_proxy: None,
            credentials_tls_cert: None,
            credentials_tls_key: None,
            api_tls_cert: None,
            api_tls_key: None,
            virtual_host_domain: None,
            registry_auto_migrate: true,
            registry_outage_grace_secs: 300,
            objects: ObjectsConfig::default(),
            limits: LimitsConfig::default(),
            tokens: TokensConfig::default(),
            revocation: RevocationConfig::default(),
            console: ConsoleConfig::default(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            handshake_timeout_secs: 10,
            header_timeout_secs: 10,
            idle_timeout_secs: 30,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            shutdown_grace_secs: 30,
            max_control_body_bytes: 1 << 20,
            body_timeout_secs: 20,
            max_inflight_body_bytes: 64 << 20,
            post_object_max_bytes: 32 << 20,
            // Generous: the AWS CRT's X.509 provider asks for credentials per request, so a
            // device making requests back to back asks as often as its requests complete.
            issuance_rate_per_certificate: 200.0,
            issuance_burst_per_certificate: 1_000,
            issuance_rate_per_account: 5_000.0,
            issuance_burst_per_account: 20_000,
        }
    }
}

/// Fetching the CRLs of CAs that have a `crlUrl` (`[revocation]`; see `crl_fetch`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RevocationConfig {
    /// How often each instance fetches a CA's CRL, in seconds.
    pub crl_refresh_secs: u64,
    /// How soon a failed fetch is tried again, and how often a CRL is fetched once its
    /// `nextUpdate` falls before the next refresh, in seconds.
    pub crl_retry_secs: u64,
    /// Largest CRL fetched, in bytes.
    pub max_crl_bytes: usize,
}

impl Default for RevocationConfig {
    fn default() -> Self {
        Self {
            crl_refresh_secs: 3_600,
            crl_retry_secs: 60,
            max_crl_bytes: 4 << 20,
        }
    }
}

impl RevocationConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        for (key, v) in [
            ("revocation.crl_refresh_secs", self.crl_refresh_secs),
            ("revocation.crl_retry_secs", self.crl_retry_secs),
        ] {
            if v == 0 || v > 7 * 86_400 {
                return Err(ConfigError::Invalid {
                    key,
                    message: "must be between 1 and 604800 (a week)".into(),
                });
            }
        }
        if !(1024..=64 << 20).contains(&self.max_crl_bytes) {
            return Err(ConfigError::Invalid {
                key: "revocation.max_crl_bytes",
                message: "must be between 1024 and 67108864".into(),
            });
        }
        Ok(())
    }
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self { rotation_hours: 24 }
    }
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read or parsed.
    #[error("config file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A setting has an invalid value.
    #[error("invalid setting {key}: {message}")]
    Invalid {
        /// The setting.
        key: &'static str,
        /// The rule it broke.
        message: String,
    },
    /// A setting of `[objects.upstream]` has an invalid value (the message names it).
    #[error(transparent)]
    Upstream(#[from] iotcreds_objects_upstream::ConfigError),
}

impl Config {
    /// Read a TOML file (unknown keys are refused, missing keys take their defaults).
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Check the settings together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let region_ok = !self.region.is_empty()
            && self.region.len() <= 32
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if let Some(proxy) = &self.credentials_proxy {
            proxy.settings()?;
        }
        self.proxy_protocol_networks()?;
        if let Some(id) = &self.account_id
            && !iotcreds_types::ids::is_account_id(id)
        {
            return Err(ConfigError::Invalid {
                key: "account_id",
                message: format!("'{id}' is not an account id (12 digits)"),
            });
        }
        if !region_ok {
            return Err(ConfigError::Invalid {
                key: "region",
                message: format!(
                    "'{}' is not a region name (lowercase letters, digits and '-')",
                    self.region
                ),
            });
        }
        if self.credentials_host.is_empty() || self.credentials_host.contains(['/', ' ', ':']) {
            return Err(ConfigError::Invalid {
                key: "credentials_host",
                message: format!("'{}' is not a host name", self.credentials_host),
            });
        }
        if self.credentials_tls_cert.is_some() != self.credentials_tls_key.is_some() {
            return Err(ConfigError::Invalid {
                key: "credentials_tls_cert",
                message: "credentials_tls_cert and credentials_tls_key go together".into(),
            });
        }
        if self.api_tls_cert.is_some() != self.api_tls_key.is_some() {
            return Err(ConfigError::Invalid {
                key: "api_tls_cert",
                message: "api_tls_cert and api_tls_key go together".into(),
            });
        }
        if self.console.tls_cert.is_some() != self.console.tls_key.is_some() {
            return Err(ConfigError::Invalid {
                key: "console.tls_cert",
                message: "console.tls_cert and console.tls_key go together".into(),
            });
        }
        if self.console.session_ttl_secs == 0
            || self.console.idle_timeout_secs == 0
            || self.console.failure_window_secs == 0
        {
            return Err(ConfigError::Invalid {
                key: "console",
                message:
                    "session_ttl_secs, idle_timeout_secs and failure_window_secs must be positive"
                        .into(),
            });
        }
        let known_engine = |url: &str| {
            ["sqlite:", "postgres://", "postgresql://"]
                .iter()
                .any(|p| url.starts_with(p))
        };
        if self
            .registry_url
            .as_deref()
            .is_some_and(|url| !known_engine(url))
        {
            return Err(ConfigError::Invalid {
                key: "registry_url",
                message: "use sqlite://PATH or postgres://... (engines: sqlite, postgres)".into(),
            });
        }
        self.limits.validate()?;
        self.revocation.validate()?;
        match (self.objects.backend(), &self.objects.upstream) {
            (ObjectsBackend::Upstream, None) => {
                return Err(ConfigError::Invalid {
                    key: "objects.upstream",
                    message: "backend = \"upstream\" needs an [objects.upstream] section (endpoint, access_key_id, secret_access_key)".into(),
                });
            }
            (ObjectsBackend::Fs, Some(_)) => {
                return Err(ConfigError::Invalid {
                    key: "objects.backend",
                    message:
                        "backend = \"fs\" with an [objects.upstream] section: remove one of them"
                            .into(),
                });
            }
            (ObjectsBackend::Upstream, Some(upstream)) => {
                upstream.validate()?;
            }
            (ObjectsBackend::Fs, None) => {}
        }
        Ok(())
    }

    /// The address `DescribeEndpoint(iot:CredentialProvider)` returns: the host, with the
    /// port when it is not 443.
    pub fn credentials_endpoint_address(&self, bound_port: u16) -> String {
        if bound_port == 443 {
            self.credentials_host.clone()
        } else {
            format!("{}:{bound_port}", self.credentials_host)
        }
    }

    /// Handshake timeout.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.limits.handshake_timeout_secs)
    }

    /// Header read timeout.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.limits.header_timeout_secs)
    }
}

impl LimitsConfig {
    /// The credentials endpoint's issuance limits.
    pub fn issuance_throttle(&self) -> crate::credentials::throttle::Throttle {
        use crate::credentials::throttle::{Limit, Throttle};
        Throttle::new(
            Limit::new(
                self.issuance_rate_per_certificate,
                self.issuance_burst_per_certificate,
            ),
            Limit::new(
                self.issuance_rate_per_account,
                self.issuance_burst_per_account,
            ),
        )
    }

    /// Limits that would refuse every request, or let one request exceed the shared budget.
    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("limits.handshake_timeout_secs", self.handshake_timeout_secs),
            ("limits.header_timeout_secs", self.header_timeout_secs),
            ("limits.idle_timeout_secs", self.idle_timeout_secs),
            ("limits.body_timeout_secs", self.body_timeout_secs),
            ("limits.max_connections", self.max_connections as u64),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    key,
                    message: "must be at least 1".into(),
                });
            }
        }
        for (key, rate, burst) in [
            (
                "limits.issuance_burst_per_certificate",
                self.issuance_rate_per_certificate,
                self.issuance_burst_per_certificate,
            ),
            (
                "limits.issuance_burst_per_account",
                self.issuance_rate_per_account,
                self.issuance_burst_per_account,
            ),
        ] {
            if !(rate.is_finite() && rate >= 0.0) {
                return Err(ConfigError::Invalid {
                    key: if key.ends_with("certificate") {
                        "limits.issuance_rate_per_certificate"
                    } else {
                        "limits.issuance_rate_per_account"
                    },
                    message: "must be a number of at least 0 (0 turns the limit off)".into(),
                });
            }
            if rate > 0.0 && burst == 0 {
                return Err(ConfigError::Invalid {
                    key,
                    message:
                        "must be at least 1 while its rate is set (a rate of 0 turns the limit off)"
                            .into(),
                });
            }
        }
        if self.max_inflight_body_bytes < self.max_control_body_bytes {
            return Err(ConfigError::Invalid {
                key: "limits.max_inflight_body_bytes",
                message: format!(
                    "must be at least limits.max_control_body_bytes ({})",
                    self.max_control_body_bytes
                ),
            });
        }
        Ok(())
    }

    /// [`LimitsConfig::idle_timeout_secs`].
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// [`LimitsConfig::body_timeout_secs`].
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_file() {
        let c = Config::default();
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.credentials_addr.port(), 8443);
        assert_eq!(c.api_addr.port(), 9000);
        assert_eq!(c.admin_addr.to_string(), "127.0.0.1:9001");
        assert!(c.validate().is_ok());
        let parsed: Config =
            toml::from_str("region = \"ap-northeast-1\"\n[limits]\nheader_timeout_secs = 5\n")
                .unwrap();
        assert_eq!(parsed.region, "ap-northeast-1");
        assert_eq!(parsed.limits.header_timeout_secs, 5);
        assert_eq!(parsed.limits.handshake_timeout_secs, 10);
        assert!(toml::from_str::<Config>("nope = 1").is_err());
        assert_eq!(c.credentials_endpoint_address(443), "localhost");
        assert_eq!(c.credentials_endpoint_address(8443), "localhost:8443");
    }

    #[test]
    fn invalid_settings_are_named() {
        let c = Config {
            region: "Bad Region".into(),
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("region"));
        let c = Config {
            registry_url: Some("mysql://x".into()),
            ..Config::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("engines: sqlite, postgres")
        );
        let c = Config {
            credentials_tls_cert: Some("a".into()),
            ..Config::default()
        };
        assert!(c.validate().is_err());
        for (revocation, key) in [
            (
                RevocationConfig {
                    crl_refresh_secs: 0,
                    ..RevocationConfig::default()
                },
                "revocation.crl_refresh_secs",
            ),
            (
                RevocationConfig {
                    crl_retry_secs: 8 * 86_400,
                    ..RevocationConfig::default()
                },
                "revocation.crl_retry_secs",
            ),
            (
                RevocationConfig {
                    max_crl_bytes: 100,
                    ..RevocationConfig::default()
                },
                "revocation.max_crl_bytes",
            ),
        ] {
            let c = Config {
                revocation,
                ..Config::default()
            };
            assert!(c.validate().unwrap_err().to_string().contains(key), "{key}");
        }
        let c: Config = toml::from_str("[revocation]\ncrl_refresh_secs = 600\n").unwrap();
        assert_eq!(c.revocation.crl_refresh_secs, 600);
        assert_eq!(c.revocation.crl_retry_secs, 60);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn the_console_listens_on_loopback_with_bounded_sessions() {
        let c = Config::default();
        assert_eq!(c.console_addr.to_string(), "127.0.0.1:9002");
        assert!(c.console.enabled);
        let s = c.console.settings();
        assert_eq!(s.session_ttl.as_secs(), 8 * 3600);
        assert_eq!(s.failures_per_user, 5);
        assert_eq!(c.console.activity_events, 10_000);
        let parsed: Config = toml::from_str(
            "console_addr = \"127.0.0.1:0\"\n[console]\nsession_ttl_secs = 60\nactivity_events = 0\n",
        )
        .unwrap();
        assert_eq!(parsed.console.settings().session_ttl.as_secs(), 60);
        assert_eq!(parsed.console.activity_events, 0);
        let half: Config = toml::from_str("[console]\ntls_cert = \"c.pem\"\n").unwrap();
        assert!(
            half.validate()
                .unwrap_err()
                .to_string()
                .contains("console.tls_cert")
        );
        let zero: Config = toml::from_str("[console]\nidle_timeout_secs = 0\n").unwrap();
        assert!(zero.validate().is_err());
        assert!(toml::from_str::<Config>("[console]\nnope = 1\n").is_err());
    }

    #[test]
    fn limits_have_safe_defaults_and_refuse_unworkable_values() {
        let l = Config::default().limits;
        assert_eq!(l.header_timeout_secs, 10);
        assert_eq!(l.idle_timeout_secs, 30);
        assert_eq!(l.max_connections_per_ip, 256);
        assert!(l.max_connections_per_ip < l.max_connections / 10);
        assert_eq!(l.body_timeout_secs, 20);
        assert_eq!(l.max_inflight_body_bytes, 64 << 20);
        let parsed: Config = toml::from_str(
            "[limits]\nidle_timeout_secs = 5\nmax_connections_per_ip = 0\n\
             body_timeout_secs = 3\nmax_inflight_body_bytes = 2097152\n",
        )
        .unwrap();
        parsed.validate().unwrap();
        assert_eq!(parsed.limits.idle_timeout(), Duration::from_secs(5));
        assert_eq!(parsed.limits.body_timeout(), Duration::from_secs(3));
        // Issuance limits: on by default; integers and fractions per second; 0 is off.
        assert_eq!(l.issuance_rate_per_certificate, 200.0);
        assert_eq!(l.issuance_burst_per_account, 20_000);
        let slow: Config = toml::from_str(
            "[limits]
issuance_rate_per_certificate = 0.01
issuance_burst_per_certificate = 3
             issuance_rate_per_account = 0
issuance_burst_per_account = 0
",
        )
        .unwrap();
        slow.validate().unwrap();
        let whole: Config = toml::from_str(
            "[limits]
issuance_rate_per_account = 7
",
        )
        .unwrap();
        assert_eq!(whole.limits.issuance_rate_per_account, 7.0);
        for bad in [
            "header_timeout_secs = 0",
            "idle_timeout_secs = 0",
            "body_timeout_secs = 0",
            "max_inflight_body_bytes = 1000",
            "issuance_burst_per_certificate = 0",
            "issuance_burst_per_account = 0",
            "issuance_rate_per_certificate = -1",
            "issuance_rate_per_account = nan",
        ] {
            let c: Config = toml::from_str(&format!("[limits]\n{bad}\n")).unwrap();
            let err = c.validate().unwrap_err().to_string();
            let key = bad.split(' ').next().unwrap();
            assert!(err.contains(&format!("limits.{key}")), "{bad}: {err}");
        }
    }

    #[test]
    fn the_credentials_proxy_is_off_unless_configured_and_needs_trusted_proxies() {
        assert!(Config::default().credentials_proxy.is_none());
        let c: Config = toml::from_str(
            "[credentials_proxy]\naddr = \"127.0.0.1:8444\"\n\
             trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"::1\"]\n\
             server_name_header = \"X-Forwarded-Server-Name\"\n",
        )
        .unwrap();
        c.validate().unwrap();
        let s = c.credentials_proxy.unwrap().settings().unwrap();
        assert_eq!(s.trusted.len(), 3);
        assert_eq!(s.client_cert_header.as_str(), "x-forwarded-client-cert");
        assert_eq!(
            s.server_name_header.unwrap().as_str(),
            "x-forwarded-server-name"
        );
        for (bad, key) in [
            ("trusted_proxies = []", "trusted_proxies"),
            ("trusted_proxies = [\"everyone\"]", "trusted_proxies"),
            (
                "trusted_proxies = [\"::1\"]\nclient_cert_header = \"bad header\"",
                "client_cert_header",
            ),
        ] {
            let c: Config = toml::from_str(&format!(
                "[credentials_proxy]\naddr = \"127.0.0.1:8444\"\n{bad}\n"
            ))
            .unwrap();
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{bad}: {err}");
        }
    }

    #[test]
    fn the_deployment_example_is_a_valid_config() {
        let c: Config = toml::from_str(include_str!("../../../deploy/iotcreds.toml")).unwrap();
        c.validate().unwrap();
        assert_eq!(c.objects.backend(), ObjectsBackend::Upstream);
        assert!(c.registry_url.unwrap().starts_with("postgres://"));
        assert!(!c.registry_auto_migrate);
    }

    #[test]
    fn objects_backend_is_fs_unless_an_upstream_is_configured() {
        assert_eq!(Config::default().objects.backend(), ObjectsBackend::Fs);
        let c: Config = toml::from_str(
            "[objects.upstream]\nendpoint = \"http://127.0.0.1:9000\"\n\
             access_key_id = \"gw\"\nsecret_access_key = \"s3cr3t\"\nbucket_prefix = \"fleet-\"\n",
        )
        .unwrap();
        assert_eq!(c.objects.backend(), ObjectsBackend::Upstream);
        c.validate().unwrap();
        assert!(
            !format!("{c:?}").contains("s3cr3t"),
            "Debug redacts the secret"
        );

        let missing: Config = toml::from_str("[objects]\nbackend = \"upstream\"\n").unwrap();
        let err = missing.validate().unwrap_err().to_string();
        assert!(err.contains("objects.upstream"), "{err}");

        let both: Config = toml::from_str(
            "[objects]\nbackend = \"fs\"\n[objects.upstream]\nendpoint = \"http://h\"\n\
             access_key_id = \"gw\"\nsecret_access_key = \"s\"\n",
        )
        .unwrap();
        assert!(
            both.validate()
                .unwrap_err()
                .to_string()
                .contains("objects.backend")
        );

        let bad: Config = toml::from_str(
            "[objects.upstream]\nendpoint = \"ftp://h\"\n\
             access_key_id = \"gw\"\nsecret_access_key = \"s3cr3t\"\n",
        )
        .unwrap();
        let err = bad.validate().unwrap_err().to_string();
        assert!(
            err.contains("objects.upstream") && err.contains("http"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"));
        assert!(toml::from_str::<Config>("[objects]\nbackend = \"nfs\"\n").is_err());
    }

    #[test]
    fn the_read_cache_defaults_to_64_mib_and_can_be_turned_off() {
        let default: Config = toml::from_str("").unwrap();
        assert_eq!(default.objects.read_cache_bytes(), 64 << 20);
        let off: Config = toml::from_str("[objects]\nread_cache_mib = 0\n").unwrap();
        assert_eq!(off.objects.read_cache_bytes(), 0);
        let big: Config = toml::from_str("[objects]\nread_cache_mib = 1024\n").unwrap();
        assert_eq!(big.objects.read_cache_bytes(), 1 << 30);
        assert!(toml::from_str::<Config>("[objects]\nread_cache_mib = -1\n").is_err());
    }
}
