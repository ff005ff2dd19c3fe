//! `iotcreds serve`: flags override `IOTCREDS_*` environment variables, which override the
//! TOML config file, which overrides the defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use iotcreds_server::Config;

/// Settings of `iotcreds serve`. Every flag also reads `IOTCREDS_<NAME>`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// TOML config file.
    #[arg(long, env = "IOTCREDS_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (registry, objects, PKI, admin credentials) [default: iotcreds-data].
    #[arg(long, env = "IOTCREDS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Region [default: us-east-1].
    #[arg(long, env = "IOTCREDS_REGION")]
    region: Option<String>,
    /// Account id (12 digits) for a new registry, so ARNs match an AWS account's; refused if
    /// the registry already has another one [default: random at first start].
    #[arg(long, env = "IOTCREDS_ACCOUNT_ID")]
    account_id: Option<String>,
    /// Credentials endpoint (mutual TLS) listen address [default: 0.0.0.0:8443].
    #[arg(long, env = "IOTCREDS_CREDENTIALS_ADDR")]
    credentials_addr: Option<SocketAddr>,
    /// Service endpoint (S3, IoT, IAM, STS) listen address [default: 0.0.0.0:9000].
    #[arg(long, env = "IOTCREDS_API_ADDR")]
    api_addr: Option<SocketAddr>,
    /// Admin endpoint (health, metrics) listen address [default: 127.0.0.1:9001].
    #[arg(long, env = "IOTCREDS_ADMIN_ADDR")]
    admin_addr: Option<SocketAddr>,
    /// Web console listen address (its own listener) [default: 127.0.0.1:9002].
    #[arg(long, env = "IOTCREDS_CONSOLE_ADDR")]
    console_addr: Option<SocketAddr>,
    /// Credentials endpoint host name: in its certificate, returned by DescribeEndpoint [default: localhost].
    #[arg(long, env = "IOTCREDS_CREDENTIALS_HOST")]
    credentials_host: Option<String>,
    /// Registry URL: sqlite://PATH or postgres://... [default: DATA/registry.db].
    #[arg(long, env = "IOTCREDS_REGISTRY_URL")]
    registry_url: Option<String>,
    /// Server certificate chain (PEM) for the credentials endpoint, instead of the built-in CA's.
    #[arg(long, env = "IOTCREDS_CREDENTIALS_TLS_CERT")]
    credentials_tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --credentials-tls-cert.
    #[arg(long, env = "IOTCREDS_CREDENTIALS_TLS_KEY")]
    credentials_tls_key: Option<PathBuf>,
    /// Certificate chain (PEM) for HTTPS on the service endpoint (HTTP stays available on the same port).
    #[arg(long, env = "IOTCREDS_API_TLS_CERT")]
    api_tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --api-tls-cert.
    #[arg(long, env = "IOTCREDS_API_TLS_KEY")]
    api_tls_key: Option<PathBuf>,
    /// Base domain for virtual-hosted-style S3 requests (BUCKET.<domain>).
    #[arg(long, env = "IOTCREDS_VIRTUAL_HOST_DOMAIN")]
    virtual_host_domain: Option<String>,
    /// Log format.
    #[arg(long, env = "IOTCREDS_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

impl ServeArgs {
    /// The effective configuration.
    fn config(self) -> anyhow::Result<Config> {
        let mut c = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { c.$field = v; } )* };
        }
        macro_rules! set_opt {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { c.$field = Some(v); } )* };
        }
        set!(
            data_dir,
            region,
            credentials_addr,
            api_addr,
            admin_addr,
            console_addr,
            credentials_host
        );
        set_opt!(
            account_id,
            registry_url,
            credentials_tls_cert,
            credentials_tls_key,
            api_tls_cert,
            api_tls_key,
            virtual_host_domain
        );
        c.validate()?;
        Ok(c)
    }
}

/// Install the log subscriber (writing through [`crate::logging::BufferedStderr`]). The
/// returned guard flushes what is left when it is dropped, at exit.
pub(crate) fn init_logging(format: LogFormat) -> crate::logging::FlushGuard {
    use tracing_subscriber::EnvFilter;
    // s3s logs whole requests (with their session tokens) at debug and client errors at error:
    // keep it quiet whatever RUST_LOG says about other targets.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive("s3s=off".parse().expect("static directive"));
    let (writer, guard) = crate::logging::BufferedStderr::start();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.event_format(crate::logging::FlatJson).init(),
    }
    guard
}

/// Run until SIGTERM or SIGINT, then drain in-flight requests and return.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let _log_guard = init_logging(args.log_format);
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let running = iotcreds_server::start(config).await?;
        let token = running.shutdown_token();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: draining"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: draining"),
        }
        token.cancel();
        running.wait().await;
        tracing::info!("stopped");
        Ok(())
    })
}
