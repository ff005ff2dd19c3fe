//! Back-pressure and the upstream's time limits.
//!
//! * A slow upstream slows the device down instead of making the gateway buffer: 48 MiB PUT
//!   to an upstream that takes 24 MiB/s, and 48 MiB GET by a device that reads 24 MiB/s from a
//!   fast upstream, while the process's peak RSS grows by far less than the object (measured in
//!   a child process, as `streaming` does).
//! * An upstream that stops taking an upload, or stops sending a download, is given up after
//!   `idle_timeout_secs`: the upload is answered `ServiceUnavailable`, the download ends early.

use std::convert::Infallible;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Response};
use http_body::Frame;
use http_body_util::{BodyExt as _, StreamBody};
use hyper_util::rt::{TokioExecutor, TokioIo};
use iotcreds_objects_upstream::UpstreamConfig;

use crate::common::{Gateway, PREFIX};

const CHILD: &str = "IOTCREDS_UPSTREAM_BACKPRESSURE_CHILD";
const TEST: &str = "backpressure::slow_upstream_and_slow_device_in_bounded_memory";
const MIB: u64 = 1024 * 1024;
const SIZE: u64 = 48 * MIB;
const RATE: u64 = 24 * MIB;
const LIMIT: u64 = 16 * MIB;
const CHUNK: usize = 64 * 1024;

/// What the test upstream does with a request.
#[derive(Clone, Copy)]
enum Mode {
    /// Reads uploads at `RATE`, serves `SIZE` bytes to GETs as fast as asked.
    Slow,
    /// Reads 1 MiB of an upload and then nothing; sends 1 MiB of a download and then nothing.
    Stall,
}

async fn upstream(mode: Mode, received: Arc<AtomicU64>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let received = Arc::clone(&received);
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let received = Arc::clone(&received);
                        async move {
                            let get = req.method() == Method::GET;
                            let mut body = req.into_body();
                            if !get {
                                while let Some(frame) = body.frame().await {
                                    let n = frame
                                        .ok()
                                        .and_then(|f| f.into_data().ok())
                                        .map_or(0, |d| d.len() as u64);
                                    let total = received.fetch_add(n, Ordering::Relaxed) + n;
                                    match mode {
                                        Mode::Slow => {
                                            tokio::time::sleep(Duration::from_secs_f64(
                                                n as f64 / RATE as f64,
                                            ))
                                            .await
                                        }
                                        Mode::Stall if total >= MIB => {
                                            std::future::pending::<()>().await
                                        }
                                        Mode::Stall => {}
                                    }
                                }
                                return Ok::<_, Infallible>(
                                    Response::builder()
                                        .header("etag", "\"slow\"")
                                        .body(http_body_util::Either::Left(
                                            http_body_util::Empty::new(),
                                        ))
                                        .expect("response"),
                                );
                            }
                            let chunks = (0..SIZE / CHUNK as u64).map(|i| {
                                Ok::<_, Infallible>(Frame::data(Bytes::from(vec![
                                    (i % 251) as u8;
                                    CHUNK
                                ])))
                            });
                            let stream: std::pin::Pin<
                                Box<
                                    dyn futures::Stream<Item = Result<Frame<Bytes>, Infallible>>
                                        + Send,
                                >,
                            > = match mode {
                                Mode::Slow => Box::pin(futures::stream::iter(chunks)),
                                Mode::Stall => Box::pin(futures::StreamExt::chain(
                                    futures::stream::iter(chunks.take(16)),
                                    futures::stream::pending(),
                                )),
                            };
                            Ok(Response::builder()
                                .header("content-length", SIZE.to_string())
                                .header("etag", "\"big\"")
                                .body(http_body_util::Either::Right(StreamBody::new(stream)))
                                .expect("response"))
                        }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

fn config(endpoint: &str) -> UpstreamConfig {
    let mut c = UpstreamConfig::new(endpoint, "AKIDSLOW", "SECRETSLOW");
    c.bucket_prefix = Some(PREFIX.to_owned());
    c.max_attempts = 1;
    c
}

fn chunks(
    total: u64,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
    futures::stream::iter(
        (0..total / CHUNK as u64).map(|i| Ok(Bytes::from(vec![(i % 251) as u8; CHUNK]))),
    )
}

fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    kb * 1024
}

#[test]
fn slow_upstream_and_slow_device_in_bounded_memory() {
    if std::env::var_os(CHILD).is_some() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(measure());
        return;
    }
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let at = stdout
        .find("back-pressure memory:")
        .unwrap_or_else(|| panic!("no measurement:\n{stdout}"));
    println!("{}", stdout[at..].lines().next().unwrap_or_default());
}

async fn measure() {
    let received = Arc::new(AtomicU64::new(0));
    let endpoint = upstream(Mode::Slow, Arc::clone(&received)).await;
    let gw = Gateway::start(config(&endpoint)).await;
    let c = gw.client();
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    let before = peak_rss();

    let started = Instant::now();
    let put = c
        .req(Method::PUT, "slow", Some("big.bin"))
        .stream_body(SIZE, chunks(SIZE))
        .send()
        .await;
    put.ok();
    let put_secs = started.elapsed().as_secs_f64();
    let got = received.load(Ordering::Relaxed);
    assert!(got >= SIZE, "the upstream received {got} of {SIZE} bytes");
    // the device was held to the upstream's pace
    assert!(
        put_secs >= 0.8 * SIZE as f64 / RATE as f64,
        "PUT took {put_secs:.2}s"
    );
    let after_put = peak_rss();

    let (status, _, mut body) = c
        .req(Method::GET, "slow", Some("big.bin"))
        .send_streaming()
        .await;
    assert_eq!(status, 200);
    let (mut got, started) = (0u64, Instant::now());
    while let Some(frame) = body.frame().await {
        if let Ok(d) = frame.expect("frame").into_data() {
            got += d.len() as u64;
            // the device reads at RATE
            let due = Duration::from_secs_f64(got as f64 / RATE as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    assert_eq!(got, SIZE);
    let after_get = peak_rss();
    let growth = after_get.saturating_sub(before);
    println!(
        "back-pressure memory: peak RSS +{:.1} MiB after a {} MiB PUT to a {} MiB/s upstream ({put_secs:.1}s), +{:.1} MiB after a {} MiB GET read at {} MiB/s (limit {} MiB)",
        after_put.saturating_sub(before) as f64 / MIB as f64,
        SIZE / MIB,
        RATE / MIB,
        growth as f64 / MIB as f64,
        SIZE / MIB,
        RATE / MIB,
        LIMIT / MIB
    );
    assert!(growth < LIMIT, "peak RSS grew by {growth} bytes");
}

#[tokio::test]
async fn a_stalled_upstream_is_given_up_after_the_idle_timeout() {
    let received = Arc::new(AtomicU64::new(0));
    let endpoint = upstream(Mode::Stall, Arc::clone(&received)).await;
    let mut cfg = config(&endpoint);
    cfg.idle_timeout_secs = 1;
    let gw = Gateway::start(cfg).await;
    let c = gw.client();

    // an upload the upstream stops taking
    let started = Instant::now();
    let (status, _, body) = c
        .req(Method::PUT, "stall", Some("up.bin"))
        .stream_body(SIZE, chunks(SIZE))
        .send_streaming()
        .await;
    let text = String::from_utf8_lossy(
        &body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default(),
    )
    .into_owned();
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("<Code>ServiceUnavailable</Code>"), "{text}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(received.load(Ordering::Relaxed) < SIZE);

    // a download the upstream stops sending: the device's response ends early
    let started = Instant::now();
    let (status, headers, body) = c
        .req(Method::GET, "stall", Some("down.bin"))
        .send_streaming()
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-length").and_then(|v| v.to_str().ok()),
        Some(SIZE.to_string().as_str())
    );
    assert!(
        body.collect().await.is_err(),
        "the body must end in an error"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}
