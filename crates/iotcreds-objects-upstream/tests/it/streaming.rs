//! Streaming: a 64 MiB object goes up through the gateway and comes back while the process's
//! peak resident memory grows by far less than the object.
//!
//! The measurement needs a process of its own (other tests running in parallel would move the
//! peak), so the test re-runs itself in a child process (`--exact`, one thread) with
//! `IOTCREDS_UPSTREAM_MEMORY_CHILD` set; the child resets the peak (`/proc/self/clear_refs`),
//! moves the object, and reads `VmHWM` from `/proc/self/status`. The device side of the test
//! generates the upload chunk by chunk and hashes the download chunk by chunk, so the only
//! place where 64 MiB could pile up is the gateway (s3s, s3s-aws, the SDK, hyper) — and moto,
//! which is another process.

use std::process::Command;

use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt as _;
use s3s::crypto::{Checksum as _, Md5};

use crate::common::Env;

const CHILD: &str = "IOTCREDS_UPSTREAM_MEMORY_CHILD";
const MIB: u64 = 1024 * 1024;
const SIZE: u64 = 64 * MIB;
const CHUNK: u64 = 64 * 1024;
/// The peak may grow by at most this much while 64 MiB pass through.
const LIMIT: u64 = 16 * MIB;
const TEST: &str = "streaming::put_and_get_64_mib_in_bounded_memory";

fn chunk(i: u64) -> Bytes {
    Bytes::from(vec![
        u8::try_from(i % 251).unwrap_or(0);
        usize::try_from(CHUNK).unwrap_or(0)
    ])
}

/// `VmHWM` (peak resident set) in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM line");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value");
    kb * 1024
}

#[test]
fn put_and_get_64_mib_in_bounded_memory() {
    if std::env::var_os(CHILD).is_some() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(measure());
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("run the measurement in a child process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    let Some(at) = stdout.find("streaming memory:") else {
        panic!("the child did not run the measurement:\n{stdout}\n{stderr}");
    };
    println!("{}", stdout[at..].lines().next().unwrap_or_default());
}

async fn measure() {
    let env = Env::start().await;
    let c = env.device();
    c.create_bucket("stream").await.ok();
    // Reset the peak to the current RSS (Linux >= 4.0), so that start-up does not count.
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM via /proc/self/clear_refs");
    let before = peak_rss();

    let chunks =
        futures::stream::iter((0..SIZE / CHUNK).map(|i| Ok::<_, std::io::Error>(chunk(i))));
    let put = c
        .req(Method::PUT, "stream", Some("big.bin"))
        .stream_body(SIZE, chunks)
        .send()
        .await;
    put.ok();
    let mut md5 = Md5::new();
    for i in 0..SIZE / CHUNK {
        md5.update(&chunk(i));
    }
    let expected = hex::encode(md5.finalize());
    assert_eq!(put.header("etag"), Some(format!("\"{expected}\"").as_str()));
    let after_put = peak_rss();

    let (status, headers, mut body) = c
        .req(Method::GET, "stream", Some("big.bin"))
        .send_streaming()
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-length").and_then(|v| v.to_str().ok()),
        Some(SIZE.to_string().as_str())
    );
    let (mut got, mut md5) = (0u64, Md5::new());
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("body frame").into_data() {
            got += data.len() as u64;
            md5.update(&data);
        }
    }
    assert_eq!(got, SIZE);
    assert_eq!(hex::encode(md5.finalize()), expected);
    let after_get = peak_rss();

    let growth = after_get.saturating_sub(before);
    println!(
        "streaming memory: peak RSS {:.1} MiB before, {:.1} MiB after PUT, {:.1} MiB after GET: +{:.1} MiB for a {} MiB object (limit {} MiB)",
        before as f64 / MIB as f64,
        after_put as f64 / MIB as f64,
        after_get as f64 / MIB as f64,
        growth as f64 / MIB as f64,
        SIZE / MIB,
        LIMIT / MIB
    );
    assert!(
        growth < LIMIT,
        "peak RSS grew by {growth} bytes moving {SIZE} bytes"
    );
    // the upstream really holds it all
    let head = env.upstream().head("gw-stream", "big.bin").await;
    assert_eq!(
        head.header("content-length"),
        Some(SIZE.to_string().as_str())
    );
}
