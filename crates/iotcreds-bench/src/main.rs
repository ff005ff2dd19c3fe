//! `iotcreds-bench`: the load generator of the benchmark scripts in `bench/`.
//!
//! It drives a server for a fixed time with a fixed concurrency and prints one JSON line:
//! `{"requests": N, "errors": E, "seconds": S, "rps": R}`. The scripts measure the server's
//! CPU time around the run, so results are compared as requests per server CPU-second.
//!
//! - `tls`: `GET PATH` over mutual TLS (client certificate), either a new TLS connection per
//!   request (no session resumption: every request pays a full handshake) or keep-alive.
//! - `s3`: S3 `GET` or `PUT` of an object over keep-alive HTTP/1.1 connections, SigV4-signed
//!   (with a session token when given) or unsigned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Empty, Full};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;

#[derive(Parser)]
struct Cli {
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Mutual-TLS GET.
    Tls {
        /// host:port to connect to.
        #[arg(long)]
        addr: String,
        /// TLS server name.
        #[arg(long, default_value = "localhost")]
        server_name: String,
        /// Request path.
        #[arg(long)]
        path: String,
        /// Extra header `NAME: VALUE`.
        #[arg(long)]
        header: Vec<String>,
        /// CA certificate (PEM) that signed the server's certificate.
        #[arg(long)]
        ca: String,
        /// Client certificate (PEM).
        #[arg(long)]
        cert: String,
        /// Client private key (PEM).
        #[arg(long)]
        key: String,
        /// Reuse connections instead of a new TLS connection per request.
        #[arg(long)]
        keep_alive: bool,
    },
    /// S3 GET or PUT over plain HTTP keep-alive connections.
    S3 {
        /// host:port.
        #[arg(long)]
        addr: String,
        /// `/bucket/key`; a PUT from connection n writes `/bucket/key-n`.
        #[arg(long)]
        path: String,
        /// GET or PUT.
        #[arg(long, default_value = "GET")]
        method: String,
        /// PUT body size in bytes.
        #[arg(long, default_value_t = 4096)]
        size: usize,
        /// Sign with this access key id (unsigned when absent).
        #[arg(long)]
        access_key_id: Option<String>,
        /// Secret access key.
        #[arg(long)]
        secret_access_key: Option<String>,
        /// Session token.
        #[arg(long)]
        session_token: Option<String>,
        /// Region of the signature.
        #[arg(long, default_value = "us-east-1")]
        region: String,
    },
}

#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    errors: AtomicU64,
    reported: AtomicBool,
}

impl Counters {
    /// Count an error; the first one is described on stderr.
    fn error(&self, what: impl std::fmt::Display) {
        if !self.reported.swap(true, Ordering::Relaxed) {
            eprintln!("first error: {what}");
        }
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

fn tls_config(ca: &str, cert: &str, key: &str) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).context("reading --ca")? {
        roots.add(c?)?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .context("reading --cert")?
        .collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key).context("reading --key")?;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])?
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)?;
    // Every new connection is a full handshake, as for a fleet of distinct devices.
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

type Sender<B> = hyper::client::conn::http1::SendRequest<B>;

async fn connect_tls(
    addr: &str,
    name: &ServerName<'static>,
    connector: &tokio_rustls::TlsConnector,
) -> anyhow::Result<Sender<Empty<Bytes>>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let tls = connector.connect(name.clone(), tcp).await?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

#[allow(clippy::too_many_arguments)]
async fn run_tls(
    cli: &Cli,
    addr: String,
    server_name: String,
    path: String,
    headers: Vec<(String, String)>,
    config: rustls::ClientConfig,
    keep_alive: bool,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(server_name).expect("valid server name");
    let mut tasks = Vec::new();
    for _ in 0..cli.concurrency {
        let (connector, name, addr, path, headers, counters, stop) = (
            connector.clone(),
            name.clone(),
            addr.clone(),
            path.clone(),
            headers.clone(),
            counters.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut sender: Option<Sender<Empty<Bytes>>> = None;
            while !stop.load(Ordering::Relaxed) {
                let result: anyhow::Result<http::StatusCode> = async {
                    if sender.is_none() || !keep_alive {
                        sender = Some(connect_tls(&addr, &name, &connector).await?);
                    }
                    let s = sender.as_mut().expect("connected above");
                    let mut req = http::Request::get(&path).header("host", "localhost");
                    for (k, v) in &headers {
                        req = req.header(k, v);
                    }
                    if !keep_alive {
                        req = req.header("connection", "close");
                    }
                    let resp = s.send_request(req.body(Empty::new())?).await?;
                    let status = resp.status();
                    resp.into_body().collect().await?;
                    Ok(status)
                }
                .await;
                match result {
                    Ok(status) if status.is_success() => {
                        counters.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(status) => counters.error(format!("HTTP {status}")),
                    Err(e) => {
                        sender = None;
                        counters.error(format!("{e:#}"));
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

#[allow(clippy::too_many_arguments)]
fn s3_request(
    method: &str,
    host: &str,
    path: &str,
    body: &Bytes,
    creds: Option<(&str, &str, Option<&str>)>,
    region: &str,
) -> anyhow::Result<http::Request<Full<Bytes>>> {
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    if let Some((akid, secret, token)) = creds {
        let hash = iotcreds_sigv4::payload_sha256(body);
        let headers = [("host", host.as_bytes())];
        let parts = iotcreds_sigv4::RequestParts {
            method,
            path,
            query: "",
            headers: &headers,
        };
        let signed = iotcreds_sigv4::sign(
            &parts,
            &iotcreds_sigv4::SigningParams {
                access_key_id: akid,
                secret_access_key: secret,
                session_token: token,
                region,
                service: "s3",
                time: time::OffsetDateTime::now_utc(),
                rules: iotcreds_sigv4::Rules::S3,
                payload_hash: hash.as_str(),
                content_sha256_header: true,
            },
        )?;
        for (k, v) in signed.headers {
            req = req.header(k, v);
        }
    }
    Ok(req.body(Full::new(body.clone()))?)
}

#[allow(clippy::too_many_arguments)]
async fn run_s3(
    cli: &Cli,
    addr: String,
    path: String,
    method: String,
    size: usize,
    creds: Option<(String, String, Option<String>)>,
    region: String,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) {
    let body = if method == "PUT" {
        Bytes::from(vec![b'x'; size])
    } else {
        Bytes::new()
    };
    let mut tasks = Vec::new();
    for n in 0..cli.concurrency {
        // Each connection PUTs its own key, as each device writes its own objects: concurrent
        // writes of one key are no device's workload, and moto 5.2 fails them ("I/O
        // operation on closed file", a race in its key store) with 500s.
        let path = if method == "PUT" {
            format!("{path}-{n}")
        } else {
            path.clone()
        };
        let (addr, method, body, creds, region, counters, stop) = (
            addr.clone(),
            method.clone(),
            body.clone(),
            creds.clone(),
            region.clone(),
            counters.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut sender: Option<Sender<Full<Bytes>>> = None;
            while !stop.load(Ordering::Relaxed) {
                let result: anyhow::Result<http::StatusCode> = async {
                    // A server that closed the connection (moto closes it after each
                    // response) gets a new one, as any HTTP client would open.
                    if sender.as_ref().is_some_and(|s| s.is_closed()) {
                        sender = None;
                    }
                    if sender.is_none() {
                        let tcp = TcpStream::connect(&addr).await?;
                        tcp.set_nodelay(true)?;
                        let (s, conn) = hyper::client::conn::http1::handshake(
                            hyper_util::rt::TokioIo::new(tcp),
                        )
                        .await?;
                        tokio::spawn(conn);
                        sender = Some(s);
                    }
                    let c = creds
                        .as_ref()
                        .map(|(a, s, t)| (a.as_str(), s.as_str(), t.as_deref()));
                    let req = s3_request(&method, &addr, &path, &body, c, &region)?;
                    let s = sender.as_mut().expect("connected above");
                    let resp = s.send_request(req).await?;
                    let status = resp.status();
                    let closing = resp.version() < http::Version::HTTP_11
                        || resp
                            .headers()
                            .get(http::header::CONNECTION)
                            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                    resp.into_body().collect().await?;
                    if closing {
                        sender = None;
                    }
                    Ok(status)
                }
                .await;
                match result {
                    Ok(status) if status.is_success() => {
                        counters.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(status) => counters.error(format!("HTTP {status}")),
                    Err(e) => {
                        sender = None;
                        counters.error(format!("{e:#}"));
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    runtime.block_on(async {
        let stopper = {
            let stop = stop.clone();
            let secs = cli.seconds;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                stop.store(true, Ordering::Relaxed);
            })
        };
        match &cli.mode {
            Mode::Tls {
                addr,
                server_name,
                path,
                header,
                ca,
                cert,
                key,
                keep_alive,
            } => {
                let headers = header
                    .iter()
                    .map(|h| {
                        h.split_once(':')
                            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                            .context("--header NAME: VALUE")
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let config = tls_config(ca, cert, key)?;
                run_tls(
                    &cli,
                    addr.clone(),
                    server_name.clone(),
                    path.clone(),
                    headers,
                    config,
                    *keep_alive,
                    counters.clone(),
                    stop.clone(),
                )
                .await;
            }
            Mode::S3 {
                addr,
                path,
                method,
                size,
                access_key_id,
                secret_access_key,
                session_token,
                region,
            } => {
                let creds = match (access_key_id, secret_access_key) {
                    (Some(a), Some(s)) => Some((a.clone(), s.clone(), session_token.clone())),
                    _ => None,
                };
                run_s3(
                    &cli,
                    addr.clone(),
                    path.clone(),
                    method.clone(),
                    *size,
                    creds,
                    region.clone(),
                    counters.clone(),
                    stop.clone(),
                )
                .await;
            }
        }
        stopper.abort();
        anyhow::Ok(())
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let ok = counters.ok.load(Ordering::Relaxed);
    let errors = counters.errors.load(Ordering::Relaxed);
    println!(
        "{}",
        serde_json::json!({ "requests": ok, "errors": errors, "seconds": seconds, "rps": ok as f64 / seconds })
    );
    Ok(())
}
