//! What the hand-written operations send upstream and pass back, checked on a scripted
//! upstream that records every request: range, conditional and checksum headers, content
//! headers and metadata, `response-*` overrides and part numbers go upstream as the device sent
//! them (and signed); the upstream's object headers come back, and nothing else (request ids,
//! version ids, KMS key ids, vendor headers).

use http::Method;

use crate::common::{Gateway, PREFIX, crc32_b64, md5_b64};
use crate::scripted::{Scripted, Seen};
use iotcreds_objects_upstream::{ChecksumCalculation, UpstreamConfig};

fn object_answer(s: &Seen) -> crate::scripted::Answer {
    let mut headers = vec![
        ("etag", "\"0123456789abcdef0123456789abcdef\"".to_owned()),
        ("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
        ("content-type", "text/plain".to_owned()),
        ("accept-ranges", "bytes".to_owned()),
        ("x-amz-meta-colour", "blue".to_owned()),
        ("x-amz-version-id", "3HL4kqtJlcpXroDTDmJ".to_owned()),
        ("x-amz-request-id", "UPSTREAMREQID".to_owned()),
        ("x-amz-id-2", "upstream-host-id".to_owned()),
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            "arn:aws:kms:key".to_owned(),
        ),
        ("x-amz-checksum-crc32", crc32_b64(b"0123456789")),
        ("x-amz-checksum-type", "FULL_OBJECT".to_owned()),
        ("x-minio-internal", "secret".to_owned()),
        ("server", "UpstreamS3/1.0".to_owned()),
    ];
    if s.method == Method::PUT {
        return (200, headers.drain(..1).collect(), String::new());
    }
    if s.headers.contains_key("range") {
        headers.push(("content-range", "bytes 2-5/10".to_owned()));
        return (206, headers, "2345".to_owned());
    }
    (200, headers, "0123456789".to_owned())
}

fn config(endpoint: &str) -> UpstreamConfig {
    let mut c = UpstreamConfig::new(endpoint, "AKIDFORWARD", "SECRETFORWARD");
    c.bucket_prefix = Some(PREFIX.to_owned());
    c.max_attempts = 1;
    c
}

#[tokio::test]
async fn read_requests_carry_the_devices_headers() {
    let up = Scripted::start(object_answer).await;
    let gw = Gateway::start(config(&up.endpoint)).await;
    let c = gw.client();
    let r = c
        .req(Method::GET, "bkt", Some("dir/obj"))
        .h("range", "bytes=2-5")
        .h("if-match", "\"0123456789abcdef0123456789abcdef\"")
        .h("if-unmodified-since", "Wed, 21 Oct 2037 07:28:00 GMT")
        .h("x-amz-checksum-mode", "ENABLED")
        .q("response-content-type", "application/x-device")
        .q("response-cache-control", "no-store")
        .send()
        .await;
    assert_eq!(r.status, 206, "{}", r.text());
    assert_eq!(r.body, "2345");
    assert_eq!(r.header("content-range"), Some("bytes 2-5/10"));
    // the device's override wins; the upstream's other object headers pass
    assert_eq!(r.header("content-type"), Some("application/x-device"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-amz-meta-colour"), Some("blue"));
    assert_eq!(
        r.header("etag"),
        Some("\"0123456789abcdef0123456789abcdef\"")
    );
    assert_eq!(
        r.header("last-modified"),
        Some("Wed, 21 Oct 2015 07:28:00 GMT")
    );
    assert_eq!(
        r.header("x-amz-checksum-crc32"),
        Some(crc32_b64(b"0123456789").as_str())
    );
    for hidden in [
        "x-amz-version-id",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-minio-internal",
    ] {
        assert_eq!(r.header(hidden), None, "{hidden}");
    }
    assert_ne!(r.header("x-amz-request-id"), Some("UPSTREAMREQID"));

    let seen = up.seen();
    let s = seen.last().expect("one request");
    assert_eq!(s.method, Method::GET);
    assert_eq!(
        s.path,
        "/gw-bkt/dir/obj?response-cache-control=no-store&response-content-type=application%2Fx-device"
    );
    let h = |n: &str| {
        s.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(h("range").as_deref(), Some("bytes=2-5"));
    assert_eq!(
        h("if-match").as_deref(),
        Some("\"0123456789abcdef0123456789abcdef\"")
    );
    assert_eq!(
        h("if-unmodified-since").as_deref(),
        Some("Wed, 21 Oct 2037 07:28:00 GMT")
    );
    assert_eq!(h("x-amz-checksum-mode").as_deref(), Some("ENABLED"));
    assert_eq!(
        h("x-amz-content-sha256").as_deref(),
        Some("UNSIGNED-PAYLOAD")
    );
    let auth = h("authorization").expect("signed");
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDFORWARD/"),
        "{auth}"
    );
    for signed in [
        "host",
        "if-match",
        "if-unmodified-since",
        "range",
        "x-amz-checksum-mode",
        "x-amz-date",
    ] {
        assert!(auth.contains(signed), "{signed} unsigned: {auth}");
    }
    // the device's credentials never go upstream
    assert!(!auth.contains(crate::common::AK));
    assert!(h("x-amz-security-token").is_none());

    // HEAD with a part number and If-None-Match / If-Modified-Since
    let r = c
        .req(Method::HEAD, "bkt", Some("dir/obj"))
        .q("partNumber", "2")
        .h("if-none-match", "\"other\"")
        .h("if-modified-since", "Wed, 21 Oct 2015 07:28:00 GMT")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("10"));
    // not asked for: no checksum headers
    assert_eq!(r.header("x-amz-checksum-crc32"), None);
    let seen = up.seen();
    let s = seen.last().expect("head");
    assert_eq!(
        (s.method.as_str(), s.path.as_str()),
        ("HEAD", "/gw-bkt/dir/obj?partNumber=2")
    );
    assert_eq!(
        s.headers.get("if-none-match").and_then(|v| v.to_str().ok()),
        Some("\"other\"")
    );
    assert_eq!(
        s.headers
            .get("if-modified-since")
            .and_then(|v| v.to_str().ok()),
        Some("Wed, 21 Oct 2015 07:28:00 GMT")
    );
}

#[tokio::test]
async fn uploads_carry_content_headers_metadata_and_checksums() {
    let up = Scripted::start(object_answer).await;
    let mut cfg = config(&up.endpoint);
    cfg.checksum_calculation = ChecksumCalculation::WhenRequired;
    let gw = Gateway::start(cfg).await;
    let c = gw.client();
    let data = b"device bytes".to_vec();
    let r = c
        .req(Method::PUT, "bkt", Some("up/obj"))
        .h("content-type", "application/octet-stream")
        .h("cache-control", "max-age=60")
        .h("content-disposition", "attachment; filename=\"x.bin\"")
        .h("content-language", "de")
        .h("expires", "Wed, 21 Oct 2037 07:28:00 GMT")
        .h("content-md5", &md5_b64(&data))
        .h("x-amz-checksum-crc32", &crc32_b64(&data))
        .h("x-amz-sdk-checksum-algorithm", "CRC32")
        .h("x-amz-meta-thing", "ADCTestThing")
        .h("if-none-match", "*")
        .h("x-amz-website-redirect-location", "/other")
        .body(data.clone())
        .send()
        .await;
    r.ok();
    assert_eq!(
        r.header("etag"),
        Some("\"0123456789abcdef0123456789abcdef\"")
    );
    let seen = up.seen();
    let s = seen.last().expect("put");
    assert_eq!(
        (s.method.as_str(), s.path.as_str()),
        ("PUT", "/gw-bkt/up/obj")
    );
    assert_eq!(s.body, data);
    let h = |n: &str| {
        s.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    for (name, want) in [
        ("content-type", "application/octet-stream"),
        ("cache-control", "max-age=60"),
        ("content-disposition", "attachment; filename=\"x.bin\""),
        ("content-language", "de"),
        ("expires", "Wed, 21 Oct 2037 07:28:00 GMT"),
        ("content-md5", md5_b64(&data).as_str()),
        ("x-amz-checksum-crc32", crc32_b64(&data).as_str()),
        ("x-amz-sdk-checksum-algorithm", "CRC32"),
        ("x-amz-meta-thing", "ADCTestThing"),
        ("if-none-match", "*"),
        ("x-amz-website-redirect-location", "/other"),
        ("content-length", "12"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    ] {
        assert_eq!(h(name).as_deref(), Some(want), "{name}");
    }
    assert!(h("content-encoding").is_none());

    // UploadPart: part number and upload id in the query, the part's checksum in a header
    let r = c
        .req(Method::PUT, "bkt", Some("up/obj"))
        .q("partNumber", "3")
        .q("uploadId", "id/with+chars=")
        .h("x-amz-checksum-crc32", &crc32_b64(&data))
        .body(data.clone())
        .send()
        .await;
    r.ok();
    let seen = up.seen();
    let s = seen.last().expect("part");
    assert_eq!(
        s.path,
        "/gw-bkt/up/obj?partNumber=3&uploadId=id%2Fwith%2Bchars%3D"
    );
    assert_eq!(
        s.headers
            .get("x-amz-checksum-crc32")
            .and_then(|v| v.to_str().ok()),
        Some(crc32_b64(&data).as_str())
    );
    assert_eq!(s.body, data);
}

/// With `checksum_calculation = "when_supported"` an upload without a device checksum goes
/// upstream as aws-chunked with the gateway's CRC32 in a trailer; a device's trailing checksum
/// goes as the same kind of trailer.
#[tokio::test]
async fn uploads_without_a_device_checksum_get_the_gateways_crc32_trailer() {
    let up = Scripted::start(object_answer).await;
    let gw = Gateway::start(config(&up.endpoint)).await;
    let c = gw.client();
    let data: Vec<u8> = (0..150_000u32).map(|i| (i % 253) as u8).collect();
    c.put("bkt", "chunked", data.clone()).await.ok();
    let seen = up.seen();
    let s = seen.last().expect("put");
    let h = |n: &str| {
        s.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        h("x-amz-content-sha256").as_deref(),
        Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    );
    assert_eq!(h("content-encoding").as_deref(), Some("aws-chunked"));
    assert_eq!(h("x-amz-decoded-content-length").as_deref(), Some("150000"));
    assert_eq!(h("x-amz-trailer").as_deref(), Some("x-amz-checksum-crc32"));
    assert_eq!(
        h("content-length").map(|v| v.parse::<usize>().ok()),
        Some(Some(s.body.len()))
    );
    let (decoded, trailer) = decode_chunked(&s.body);
    assert_eq!(decoded, data);
    assert_eq!(
        trailer,
        format!("x-amz-checksum-crc32:{}", crc32_b64(&data))
    );

    // the device's own trailing SHA256 becomes the upstream's trailer
    use s3s::crypto::Checksum as _;
    let sha = crate::common::b64(&s3s::crypto::Sha256::checksum(&data));
    c.req(Method::PUT, "bkt", Some("trailer"))
        .trailer_body(&data, 40_000, &[("x-amz-checksum-sha256", &sha)])
        .send()
        .await
        .ok();
    let seen = up.seen();
    let s = seen.last().expect("put");
    assert_eq!(
        s.headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()),
        Some("x-amz-checksum-sha256")
    );
    let (decoded, trailer) = decode_chunked(&s.body);
    assert_eq!(decoded, data);
    assert_eq!(trailer, format!("x-amz-checksum-sha256:{sha}"));
}

/// Undoes aws-chunked framing: the data and the (single) trailer line.
fn decode_chunked(wire: &[u8]) -> (Vec<u8>, String) {
    let mut data = Vec::new();
    let mut rest = wire;
    loop {
        let nl = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("size line");
        let n = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).expect("hex"), 16)
            .expect("size");
        rest = &rest[nl + 2..];
        if n == 0 {
            break;
        }
        data.extend_from_slice(&rest[..n]);
        rest = &rest[n + 2..];
    }
    let text = std::str::from_utf8(rest).expect("trailer");
    (data, text.trim_end().to_owned())
}

/// A GetObject whose bytes do not match the upstream's full-object checksum: the device's
/// response ends before its last byte.
#[tokio::test]
async fn a_corrupt_download_never_arrives_whole() {
    let up = Scripted::start(|_| {
        (
            200,
            vec![
                ("etag", "\"e\"".to_owned()),
                ("x-amz-checksum-crc32", crc32_b64(b"the right bytes")),
            ],
            "the wrong bytes".to_owned(),
        )
    })
    .await;
    let gw = Gateway::start(config(&up.endpoint)).await;
    // The connection breaks: before the headers (the body is small enough to go with them)
    // or inside the body; never a complete response.
    match gw
        .client()
        .req(Method::GET, "bkt", Some("corrupt"))
        .try_send_streaming()
        .await
    {
        Err(_) => {}
        Ok((status, _, body)) => {
            use http_body_util::BodyExt as _;
            let got = body.collect().await;
            assert!(
                got.is_err(),
                "status {status}, the body must end in an error: {got:?}"
            );
        }
    }
    // the gateway asked for the checksum on its own
    let seen = up.seen();
    assert_eq!(
        seen.last()
            .and_then(|s| s.headers.get("x-amz-checksum-mode"))
            .and_then(|v| v.to_str().ok()),
        Some("ENABLED")
    );
}
