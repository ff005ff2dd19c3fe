use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use http::Method;
use iotcreds_objects::fs::FsConfig;
use time::{Duration, OffsetDateTime};

use crate::common::{Server, http_date, md5_hex};

#[tokio::test]
async fn ranges() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("rng").await.ok();
    let data: Vec<u8> = (0..100u8).collect();
    c.put("rng", "k", data.clone()).await.ok();
    let get = |r: &'static str| c.req(Method::GET, "rng", Some("k")).h("range", r).send();
    let r = get("bytes=10-19").await;
    assert_eq!((r.status, &r.body[..]), (206, &data[10..20]));
    assert_eq!(r.header("content-range"), Some("bytes 10-19/100"));
    assert_eq!(r.header("content-length"), Some("10"));
    let r = get("bytes=90-").await;
    assert_eq!((r.status, &r.body[..]), (206, &data[90..]));
    let r = get("bytes=-5").await;
    assert_eq!((r.status, &r.body[..]), (206, &data[95..]));
    assert_eq!(r.header("content-range"), Some("bytes 95-99/100"));
    let r = get("bytes=-500").await;
    assert_eq!((r.status, r.body.len()), (206, 100));
    let r = get("bytes=95-1000").await;
    assert_eq!((r.status, &r.body[..]), (206, &data[95..]));
    let r = get("bytes=0-0").await;
    assert_eq!(&r.body[..], &data[..1]);
    let r = get("bytes=100-").await;
    r.err(416, "InvalidRange");
    assert_eq!(r.header("content-range"), Some("bytes */100"));
    get("bytes=-0").await.err(416, "InvalidRange");
    // s3s 0.14 always answers HEAD with 200 (its HeadObject serializer ignores the status we
    // set); the headers carry the range.
    let h = c
        .req(Method::HEAD, "rng", Some("k"))
        .h("range", "bytes=0-9")
        .send()
        .await;
    assert_eq!(h.header("content-length"), Some("10"));
    assert_eq!(h.header("content-range"), Some("bytes 0-9/100"));
    c.put("rng", "empty", "").await.ok();
    c.req(Method::GET, "rng", Some("empty"))
        .h("range", "bytes=0-")
        .send()
        .await
        .err(416, "InvalidRange");
    // partNumber on a single-part object: part 1 is the whole object
    let p = c
        .req(Method::GET, "rng", Some("k"))
        .q("partNumber", "1")
        .send()
        .await;
    assert_eq!((p.status, p.body.len()), (206, 100));
    let p2 = c
        .req(Method::GET, "rng", Some("k"))
        .q("partNumber", "2")
        .send()
        .await;
    p2.err(416, "InvalidPartNumber");
    c.req(Method::GET, "rng", Some("k"))
        .q("partNumber", "1")
        .h("range", "bytes=0-1")
        .send()
        .await
        .err(400, "InvalidRequest");
}

#[tokio::test]
async fn conditional_reads_follow_aws_precedence() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("cnd").await.ok();
    c.put("cnd", "k", "data").await.ok();
    let etag = format!("\"{}\"", md5_hex(b"data"));
    let past = http_date(OffsetDateTime::now_utc() - Duration::hours(1));
    let future = http_date(OffsetDateTime::now_utc() + Duration::hours(1));
    let get = |h: &[(&str, &str)]| {
        let mut r = c.req(Method::GET, "cnd", Some("k"));
        for (k, v) in h {
            r = r.h(k, v);
        }
        r.send()
    };
    assert_eq!(get(&[("if-match", &etag)]).await.status, 200);
    assert_eq!(get(&[("if-match", "*")]).await.status, 200);
    get(&[("if-match", "\"abc\"")])
        .await
        .err(412, "PreconditionFailed");
    get(&[("if-unmodified-since", &past)])
        .await
        .err(412, "PreconditionFailed");
    assert_eq!(get(&[("if-unmodified-since", &future)]).await.status, 200);
    let nm = get(&[("if-none-match", &etag)]).await;
    assert_eq!(nm.status, 304);
    assert_eq!(nm.header("etag"), Some(etag.as_str()));
    assert_eq!(get(&[("if-none-match", "\"other\"")]).await.status, 200);
    assert_eq!(get(&[("if-modified-since", &future)]).await.status, 304);
    assert_eq!(get(&[("if-modified-since", &past)]).await.status, 200);
    // If-Match true + If-Unmodified-Since false => 200
    assert_eq!(
        get(&[("if-match", &etag), ("if-unmodified-since", &past)])
            .await
            .status,
        200
    );
    // If-None-Match false (matches) + If-Modified-Since true => 304
    assert_eq!(
        get(&[("if-none-match", &etag), ("if-modified-since", &past)])
            .await
            .status,
        304
    );
    // If-None-Match true (no match) + If-Modified-Since false => 200
    assert_eq!(
        get(&[("if-none-match", "\"x\""), ("if-modified-since", &future)])
            .await
            .status,
        200
    );
    // If-Match false beats If-None-Match
    get(&[("if-match", "\"x\""), ("if-none-match", &etag)])
        .await
        .err(412, "PreconditionFailed");
    let h = c
        .req(Method::HEAD, "cnd", Some("k"))
        .h("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(h.status, 304);
    let h = c
        .req(Method::HEAD, "cnd", Some("k"))
        .h("if-match", "\"x\"")
        .send()
        .await;
    assert_eq!(h.status, 412);
    // a missing key is 404 whatever the conditions
    c.req(Method::GET, "cnd", Some("missing"))
        .h("if-match", "*")
        .send()
        .await
        .err(404, "NoSuchKey");
}

#[tokio::test]
async fn response_overrides() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("ovr").await.ok();
    c.put("ovr", "k", "data").await.ok();
    let r = c
        .req(Method::GET, "ovr", Some("k"))
        .q("response-content-type", "application/json")
        .q(
            "response-content-disposition",
            "attachment; filename=\"x.json\"",
        )
        .q("response-cache-control", "max-age=60")
        .q("response-content-language", "de")
        .q("response-content-encoding", "identity")
        .q("response-expires", "Wed, 21 Oct 2037 07:28:00 GMT")
        .send()
        .await;
    r.ok();
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"x.json\"")
    );
    assert_eq!(r.header("cache-control"), Some("max-age=60"));
    assert_eq!(r.header("content-language"), Some("de"));
    assert_eq!(r.header("content-encoding"), Some("identity"));
    assert_eq!(r.header("expires"), Some("Wed, 21 Oct 2037 07:28:00 GMT"));
}

/// Objects above the inline-read size are streamed in 1 MiB reads: whole objects, ranges that
/// cross chunk boundaries and ranges inside one chunk all come back exact; and the
/// inline-read size boundary itself.
#[tokio::test]
async fn large_objects_stream_exactly_across_read_chunks() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("big").await.ok();
    let data: Vec<u8> = (0..(3 << 20) + 12345)
        .map(|i: u32| (i % 251) as u8)
        .collect();
    c.put("big", "k", data.clone()).await.ok();
    let r = c.req(Method::GET, "big", Some("k")).send().await;
    assert_eq!(r.status, 200);
    assert!(r.body[..] == data[..], "whole object differs");
    assert_eq!(
        r.header("content-length"),
        Some(data.len().to_string().as_str())
    );
    for (a, b) in [
        (0usize, 10usize),
        ((1 << 20) - 5, (1 << 20) + 5),
        (100, (2 << 20) + 7),
        ((3 << 20) + 12000, (3 << 20) + 12344),
    ] {
        let r = c
            .req(Method::GET, "big", Some("k"))
            .h("range", &format!("bytes={a}-{b}"))
            .send()
            .await;
        assert_eq!(r.status, 206, "bytes={a}-{b}");
        assert!(r.body[..] == data[a..=b], "bytes={a}-{b} differ");
    }
    for size in [(256 << 10) - 1, 256 << 10, (256 << 10) + 1] {
        let d: Vec<u8> = (0..size).map(|i: u32| (i % 7) as u8).collect();
        c.put("big", "edge", d.clone()).await.ok();
        let r = c.req(Method::GET, "big", Some("edge")).send().await;
        assert!(r.status == 200 && r.body[..] == d[..], "size {size}");
        let r = c
            .req(Method::GET, "big", Some("edge"))
            .h("range", "bytes=-3")
            .send()
            .await;
        assert!(r.body[..] == d[d.len() - 3..], "size {size} suffix");
    }
}

/// The read cache never answers with a replaced or removed object: every way an object changes
/// (PUT, CopyObject onto it, CompleteMultipartUpload, DeleteObject, DeleteObjects) is seen by the
/// next GET and HEAD, including right after the old version was read (and cached) twice.
#[tokio::test]
async fn cached_reads_follow_every_change() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("adc-test-2020-08-26").await.ok();
    let b = "adc-test-2020-08-26";
    let read_twice = |want: &'static [u8]| {
        let c = &c;
        async move {
            for _ in 0..2 {
                let g = c.get(b, "k").await;
                assert_eq!((g.status, &g.body[..]), (200, want));
                assert_eq!(
                    g.header("etag"),
                    Some(format!("\"{}\"", md5_hex(want)).as_str())
                );
                let h = c.head(b, "k").await;
                assert_eq!(
                    h.header("content-length"),
                    Some(want.len().to_string().as_str())
                );
            }
        }
    };
    c.put(b, "k", &b"first"[..]).await.ok();
    read_twice(b"first").await;
    c.put(b, "k", &b"second version"[..]).await.ok();
    read_twice(b"second version").await;

    c.put(b, "src", &b"copied in"[..]).await.ok();
    c.req(Method::PUT, b, Some("k"))
        .h("x-amz-copy-source", &format!("/{b}/src"))
        .send()
        .await
        .ok();
    read_twice(b"copied in").await;

    let id = c.create_upload(b, "k").await;
    let part = c.upload_part(b, "k", &id, 1, &b"assembled"[..]).await;
    part.ok();
    let etag = part.header("etag").expect("etag").to_owned();
    c.complete(b, "k", &id, &[(1, &etag)]).await.ok();
    let g = c.get(b, "k").await;
    assert_eq!(&g.body[..], b"assembled");
    let multipart_etag = g.header("etag").expect("etag").to_owned();
    assert!(multipart_etag.ends_with("-1\""), "{multipart_etag}");
    let g = c.get(b, "k").await;
    assert_eq!(&g.body[..], b"assembled");
    assert_eq!(g.header("etag"), Some(multipart_etag.as_str()));

    c.delete(b, "k").await;
    c.get(b, "k").await.err(404, "NoSuchKey");
    c.put(b, "k", &b"back"[..]).await.ok();
    read_twice(b"back").await;
    let del = "<Delete><Object><Key>k</Key></Object></Delete>";
    c.req(Method::POST, b, None)
        .q("delete", "")
        .h("content-md5", &crate::common::md5_b64(del.as_bytes()))
        .body(del)
        .send()
        .await
        .ok();
    c.get(b, "k").await.err(404, "NoSuchKey");
    s.shutdown().await;
}

/// Readers racing a writer: once a PUT has answered, every GET that starts afterwards returns
/// that version or a later one, never an earlier one that a concurrent reader cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cached_reads_never_go_back_in_time_under_concurrent_writes() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("race").await.ok();
    c.put("race", "k", "v0000").await.ok();
    let done = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU32::new(0));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (c, done, committed) = (s.client(), Arc::clone(&done), Arc::clone(&committed));
        readers.push(tokio::spawn(async move {
            let mut reads = 0u32;
            while !done.load(Ordering::Acquire) {
                let floor = committed.load(Ordering::Acquire);
                let g = c.get("race", "k").await;
                let text = std::str::from_utf8(&g.body).expect("utf8");
                let got: u32 = text[1..].parse().expect("version");
                assert!(got >= floor, "read v{got} after v{floor} was committed");
                reads += 1;
            }
            reads
        }));
    }
    for v in 1..=200u32 {
        c.put("race", "k", format!("v{v:04}")).await.ok();
        committed.store(v, Ordering::Release);
    }
    done.store(true, Ordering::Release);
    let mut total = 0;
    for r in readers {
        total += r.await.expect("reader");
    }
    assert!(total > 0);
    assert_eq!(&c.get("race", "k").await.body[..], b"v0200");
    s.shutdown().await;
}

/// With the cache turned off every read goes to the file, with the same answers.
#[tokio::test]
async fn reads_without_the_cache() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = FsConfig {
        read_cache_bytes: 0,
        ..crate::common::small_parts()
    };
    let s = Server::start_with(dir.path(), config).await;
    let c = s.client();
    c.create_bucket("nocache").await.ok();
    for v in ["one", "two"] {
        c.put("nocache", "k", v).await.ok();
        assert_eq!(&c.get("nocache", "k").await.body[..], v.as_bytes());
        assert_eq!(&c.get("nocache", "k").await.body[..], v.as_bytes());
    }
    s.shutdown().await;
}
