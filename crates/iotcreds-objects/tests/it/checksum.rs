use http::Method;

use crate::common::{Server, b64};

fn digests(data: &[u8]) -> Vec<(&'static str, String)> {
    use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
    vec![
        ("crc32", b64(&Crc32::checksum(data))),
        ("crc32c", b64(&Crc32c::checksum(data))),
        ("crc64nvme", b64(&Crc64Nvme::checksum(data))),
        ("sha1", b64(&Sha1::checksum(data))),
        ("sha256", b64(&Sha256::checksum(data))),
    ]
}

#[tokio::test]
async fn header_checksums() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("cks-b").await.ok();
    let data = b"the quick brown fox";
    let wrong = digests(b"something else");
    for ((name, value), (_, bad)) in digests(data).into_iter().zip(wrong) {
        let h = format!("x-amz-checksum-{name}");
        let put = c
            .req(Method::PUT, "cks-b", Some(name))
            .h(&h, &value)
            .body(&data[..])
            .send()
            .await;
        put.ok();
        assert_eq!(put.header(&h), Some(value.as_str()));
        let get = c
            .req(Method::GET, "cks-b", Some(name))
            .h("x-amz-checksum-mode", "ENABLED")
            .send()
            .await;
        assert_eq!(get.header(&h), Some(value.as_str()), "{name}");
        assert_eq!(get.header("x-amz-checksum-type"), Some("FULL_OBJECT"));
        // without checksum mode: no checksum header
        assert!(c.get("cks-b", name).await.header(&h).is_none());
        let r = c
            .req(Method::PUT, "cks-b", Some(&format!("bad-{name}")))
            .h(&h, &bad)
            .body(&data[..])
            .send()
            .await;
        r.err(400, "BadDigest");
        let algo = name.to_uppercase();
        assert_eq!(
            r.one("Message"),
            Some(format!(
                "The {algo} you specified did not match the calculated checksum."
            ))
        );
        assert_eq!(c.head("cks-b", &format!("bad-{name}")).await.status, 404);
        // overwriting with a bad checksum keeps the old object
        c.req(Method::PUT, "cks-b", Some(name))
            .h(&h, &bad)
            .body("new")
            .send()
            .await
            .err(400, "BadDigest");
        assert_eq!(c.get("cks-b", name).await.body, &data[..]);
    }
    c.req(Method::PUT, "cks-b", Some("x"))
        .h("x-amz-checksum-crc32", "notb64!")
        .body("x")
        .send()
        .await
        .err(400, "InvalidRequest");
    let two = c
        .req(Method::PUT, "cks-b", Some("x"))
        .h("x-amz-checksum-crc32", &digests(b"x")[0].1)
        .h("x-amz-checksum-sha1", &digests(b"x")[3].1)
        .body("x")
        .send()
        .await;
    two.err(400, "InvalidRequest");
    c.req(Method::PUT, "cks-b", Some("x"))
        .h("x-amz-sdk-checksum-algorithm", "CRC32")
        .body("x")
        .send()
        .await
        .err(400, "InvalidRequest");
    // no checksum asked: a CRC64NVME is computed and stored, as AWS does by default
    c.put("cks-b", "plain", &data[..]).await.ok();
    let g = c
        .req(Method::HEAD, "cks-b", Some("plain"))
        .h("x-amz-checksum-mode", "ENABLED")
        .send()
        .await;
    assert_eq!(
        g.header("x-amz-checksum-crc64nvme"),
        Some(digests(data)[2].1.as_str())
    );
    // ranged reads carry no checksum
    let r = c
        .req(Method::GET, "cks-b", Some("plain"))
        .h("x-amz-checksum-mode", "ENABLED")
        .h("range", "bytes=0-1")
        .send()
        .await;
    assert!(r.header("x-amz-checksum-crc64nvme").is_none());
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp"))
            .expect("tmp")
            .count(),
        0
    );
}

#[tokio::test]
async fn trailer_checksums() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("trl-b").await.ok();
    let data = b"streamed with a trailing checksum";
    let d = digests(data);
    let (crc32, crc32c) = (d[0].1.clone(), d[1].1.clone());
    let put = c
        .req(Method::PUT, "trl-b", Some("ok"))
        .trailer_body(data, &[("x-amz-checksum-crc32", &crc32)])
        .send()
        .await;
    put.ok();
    let get = c
        .req(Method::GET, "trl-b", Some("ok"))
        .h("x-amz-checksum-mode", "ENABLED")
        .send()
        .await;
    assert_eq!(get.body, &data[..]);
    assert_eq!(get.header("x-amz-checksum-crc32"), Some(crc32.as_str()));
    // aws-chunked is a transfer detail and is not stored as Content-Encoding
    assert!(get.header("content-encoding").is_none());
    let bad = c
        .req(Method::PUT, "trl-b", Some("bad"))
        .trailer_body(data, &[("x-amz-checksum-crc32c", &crc32)])
        .send()
        .await;
    bad.err(400, "BadDigest");
    assert_eq!(
        bad.one("Message").as_deref(),
        Some("The CRC32C you specified did not match the calculated checksum.")
    );
    assert_eq!(c.head("trl-b", "bad").await.status, 404);
    // a bad trailer over an existing key keeps the old object
    c.req(Method::PUT, "trl-b", Some("ok"))
        .trailer_body(b"other", &[("x-amz-checksum-crc32c", &crc32c)])
        .send()
        .await
        .err(400, "BadDigest");
    assert_eq!(c.get("trl-b", "ok").await.body, &data[..]);
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp"))
            .expect("tmp")
            .count(),
        0
    );
}
