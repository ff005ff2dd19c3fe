//! Who verifies the device's checksums: headers (Content-MD5, x-amz-checksum-*) are forwarded
//! and verified by the upstream; trailing checksums (aws-chunked) are verified by the gateway
//! before the last byte goes upstream.

use http::Method;

use crate::common::{Env, Gateway, PREFIX, crc32_b64, md5_b64};
use crate::scripted::{Scripted, error_xml};

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The headers reach the upstream unchanged, and the upstream's BadDigest reaches the device.
#[tokio::test]
async fn checksum_headers_are_forwarded_for_the_upstream_to_verify() {
    let up = Scripted::start(|s| {
        if s.headers
            .get("content-md5")
            .is_some_and(|v| v == "AAAAAAAAAAAAAAAAAAAAAA==")
        {
            (
                400,
                vec![],
                error_xml(
                    "BadDigest",
                    "The Content-MD5 you specified did not match what we received.",
                ),
            )
        } else {
            (200, vec![("etag", "\"e\"".to_owned())], String::new())
        }
    })
    .await;
    let mut cfg = iotcreds_objects_upstream::UpstreamConfig::new(&up.endpoint, "AKID", "SECRET");
    cfg.bucket_prefix = Some(PREFIX.to_owned());
    cfg.max_attempts = 1;
    let gw = Gateway::start(cfg).await;
    let c = gw.client();
    let body = b"checksummed body";
    c.req(Method::PUT, "bkt", Some("good"))
        .h("content-md5", &md5_b64(body))
        .h("x-amz-checksum-crc32", &crc32_b64(body))
        .body(&body[..])
        .send()
        .await
        .ok();
    let seen = up.seen();
    let put = seen.last().expect("forwarded");
    // (the SDK adds `x-id=PutObject` to the query)
    assert_eq!(
        (&put.method, put.path.split('?').next()),
        (&Method::PUT, Some("/gw-bkt/good"))
    );
    assert_eq!(
        put.headers.get("content-md5").map(|v| v.as_bytes()),
        Some(md5_b64(body).as_bytes())
    );
    assert_eq!(
        put.headers
            .get("x-amz-checksum-crc32")
            .map(|v| v.as_bytes()),
        Some(crc32_b64(body).as_bytes())
    );
    // plain body: the device's checksum is the one the upstream checks, no SDK trailer
    assert_eq!(put.body, &body[..]);
    assert!(put.headers.get("x-amz-trailer").is_none());
    c.req(Method::PUT, "bkt", Some("bad"))
        .h("content-md5", "AAAAAAAAAAAAAAAAAAAAAA==")
        .body(&body[..])
        .send()
        .await
        .err(400, "BadDigest");
    // an UploadPart carries its headers the same way
    c.req(Method::PUT, "bkt", Some("mp"))
        .q("partNumber", "1")
        .q("uploadId", "u1")
        .h("content-md5", "AAAAAAAAAAAAAAAAAAAAAA==")
        .body(&body[..])
        .send()
        .await
        .err(400, "BadDigest");
    // without a device checksum the SDK adds its own CRC32 as an aws-chunked trailer
    c.put("bkt", "plain", &body[..]).await.ok();
    let plain = up.seen().last().cloned().expect("forwarded");
    assert_eq!(
        plain.headers.get("x-amz-trailer").map(|v| v.as_bytes()),
        Some(&b"x-amz-checksum-crc32"[..])
    );
    let text = String::from_utf8_lossy(&plain.body).into_owned();
    assert!(
        text.contains(&format!("x-amz-checksum-crc32:{}", crc32_b64(body))),
        "{text}"
    );
}

#[tokio::test]
async fn trailing_checksum_verified_by_the_gateway() {
    let env = Env::start().await;
    let (c, up) = (env.device(), env.upstream());
    c.create_bucket("trl").await.ok();
    let body = data(200 * 1024);
    let good = crc32_b64(&body);
    let r = c
        .req(Method::PUT, "trl", Some("good"))
        .trailer_body(&body, 64 * 1024, &[("x-amz-checksum-crc32", &good)])
        .send()
        .await;
    r.ok();
    assert_eq!(r.header("x-amz-checksum-crc32"), Some(good.as_str()));
    assert_eq!(up.get("gw-trl", "good").await.ok().body, body);
    // the upstream stored the device's algorithm and value
    let g = c
        .req(Method::GET, "trl", Some("good"))
        .h("x-amz-checksum-mode", "ENABLED")
        .send()
        .await;
    assert_eq!(g.ok().header("x-amz-checksum-crc32"), Some(good.as_str()));
    assert_eq!(g.body, body);

    // wrong trailer: BadDigest, and the upstream never got a complete body
    let bad = crc32_b64(b"something else");
    c.req(Method::PUT, "trl", Some("bad"))
        .trailer_body(&body, 64 * 1024, &[("x-amz-checksum-crc32", &bad)])
        .send()
        .await
        .err(400, "BadDigest");
    up.get("gw-trl", "bad").await.err(404, "NoSuchKey");
    // ... and an existing object is left as it was
    c.req(Method::PUT, "trl", Some("good"))
        .trailer_body(&data(10), 4, &[("x-amz-checksum-crc32", &bad)])
        .send()
        .await
        .err(400, "BadDigest");
    assert_eq!(up.get("gw-trl", "good").await.ok().body, body);

    // announced but not sent; a header and a trailer at once
    c.req(Method::PUT, "trl", Some("missing"))
        .trailer_body(&body, 64 * 1024, &[])
        .h("x-amz-trailer", "x-amz-checksum-crc32")
        .send()
        .await
        .err(400, "InvalidRequest");
    c.req(Method::PUT, "trl", Some("both"))
        .trailer_body(&body, 64 * 1024, &[("x-amz-checksum-crc32", &good)])
        .h("x-amz-checksum-crc32", &good)
        .send()
        .await
        .err(400, "InvalidRequest");
    up.get("gw-trl", "missing").await.err(404, "NoSuchKey");

    // UploadPart verifies the same way
    let id = c.create_upload("trl", "mp").await;
    c.req(Method::PUT, "trl", Some("mp"))
        .q("partNumber", "1")
        .q("uploadId", &id)
        .trailer_body(&body, 64 * 1024, &[("x-amz-checksum-crc32", &bad)])
        .send()
        .await
        .err(400, "BadDigest");
    let p = c
        .req(Method::PUT, "trl", Some("mp"))
        .q("partNumber", "1")
        .q("uploadId", &id)
        .trailer_body(&body, 64 * 1024, &[("x-amz-checksum-crc32", &good)])
        .send()
        .await;
    let etag = p.ok().header("etag").expect("etag").to_owned();
    assert_eq!(p.header("x-amz-checksum-crc32"), Some(good.as_str()));
    c.complete("trl", "mp", &id, &[(1, &etag)]).await.ok();
    assert_eq!(c.get("trl", "mp").await.ok().body, body);
}

/// moto does not verify Content-MD5 or x-amz-checksum-* headers (it stores whatever it is
/// given); AWS, MinIO and Ceph answer `400 BadDigest`, which the scripted-upstream test above
/// shows reaching the device. Recorded here so that a moto that starts verifying is noticed.
#[tokio::test]
async fn moto_deviation_header_checksums_not_verified() {
    let env = Env::start().await;
    let c = env.device();
    c.create_bucket("dev").await.ok();
    let r = c
        .req(Method::PUT, "dev", Some("k"))
        .h("content-md5", &md5_b64(b"other bytes"))
        .body("the bytes")
        .send()
        .await;
    assert_eq!(
        r.status,
        200,
        "moto now verifies Content-MD5 (AWS: 400 BadDigest): {}",
        r.text()
    );
}
