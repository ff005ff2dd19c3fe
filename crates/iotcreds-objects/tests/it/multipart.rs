use http::Method;
use s3s::crypto::{Checksum as _, Md5, Sha256};

use crate::common::{Server, b64, md5_hex};

const MIB: usize = 1024 * 1024;

/// AWS's multipart ETag, computed independently from the part bodies.
fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut cat = Vec::new();
    for p in parts {
        cat.extend_from_slice(&Md5::checksum(p));
    }
    format!("\"{}-{}\"", hex::encode(Md5::checksum(&cat)), parts.len())
}

#[tokio::test]
async fn multipart_with_real_part_sizes() {
    let dir = tempfile::tempdir().expect("tmp");
    // the AWS minimum part size (5 MiB)
    let s = Server::start_with(dir.path(), iotcreds_objects::fs::FsConfig::default()).await;
    let c = s.client();
    c.create_bucket("mpu-b").await.ok();
    c.put("mpu-b", "big", "previous").await.ok();
    let p1 = vec![b'1'; 5 * MIB];
    let p2 = vec![b'2'; 5 * MIB];
    let p3 = b"tail".to_vec();
    let id = c.create_upload("mpu-b", "big").await;
    let mut etags = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2), (3, &p3)] {
        let r = c.upload_part("mpu-b", "big", &id, n, p.clone()).await;
        r.ok();
        assert_eq!(
            r.header("etag"),
            Some(format!("\"{}\"", md5_hex(p)).as_str())
        );
        etags.push(r.header("etag").expect("etag").to_owned());
    }
    // the previous object is untouched until completion
    assert_eq!(c.get("mpu-b", "big").await.body, "previous");
    // every part but the last must be >= 5 MiB
    let small = c.create_upload("mpu-b", "small").await;
    let e1 = c
        .upload_part("mpu-b", "small", &small, 1, vec![b'x'; MIB])
        .await
        .header("etag")
        .map(str::to_owned);
    let e2 = c
        .upload_part("mpu-b", "small", &small, 2, "y")
        .await
        .header("etag")
        .map(str::to_owned);
    let r = c
        .complete(
            "mpu-b",
            "small",
            &small,
            &[(1, &e1.unwrap_or_default()), (2, &e2.unwrap_or_default())],
        )
        .await;
    r.err(400, "EntityTooSmall");
    let parts: Vec<(u32, &str)> = vec![(1, &etags[0]), (2, &etags[1]), (3, &etags[2])];
    let r = c.complete("mpu-b", "big", &id, &parts).await;
    r.ok();
    let expected = multipart_etag(&[&p1, &p2, &p3]);
    assert_eq!(r.one("ETag"), Some(expected.clone()));
    let g = c.get("mpu-b", "big").await;
    assert_eq!(g.header("etag"), Some(expected.as_str()));
    assert_eq!(g.body.len(), p1.len() + p2.len() + p3.len());
    assert!(g.body[..5 * MIB] == p1[..] && g.body[10 * MIB..] == p3[..]);
    assert_eq!(g.header("x-amz-mp-parts-count"), Some("3"));
    // partNumber returns that part
    let part2 = c
        .req(Method::GET, "mpu-b", Some("big"))
        .q("partNumber", "2")
        .send()
        .await;
    assert_eq!(part2.status, 206);
    assert_eq!(part2.body.len(), 5 * MIB);
    assert_eq!(
        part2.header("content-range"),
        Some(format!("bytes {}-{}/{}", 5 * MIB, 10 * MIB - 1, 10 * MIB + 4).as_str())
    );
    assert_eq!(part2.header("x-amz-mp-parts-count"), Some("3"));
    let h3 = c
        .req(Method::HEAD, "mpu-b", Some("big"))
        .q("partNumber", "3")
        .send()
        .await;
    assert_eq!(h3.header("content-length"), Some("4"));
    c.req(Method::GET, "mpu-b", Some("big"))
        .q("partNumber", "4")
        .send()
        .await
        .err(416, "InvalidPartNumber");
    // the upload is gone
    c.upload_part("mpu-b", "big", &id, 1, "x")
        .await
        .err(404, "NoSuchUpload");
    assert_eq!(c.list("mpu-b", &[]).await.one("ETag"), Some(expected));
}

#[tokio::test]
async fn multipart_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("mpe").await.ok();
    let id = c.create_upload("mpe", "k").await;
    let e1 = c
        .upload_part("mpe", "k", &id, 1, "part-one")
        .await
        .header("etag")
        .map(str::to_owned)
        .unwrap_or_default();
    let e2 = c
        .upload_part("mpe", "k", &id, 2, "part-two")
        .await
        .header("etag")
        .map(str::to_owned)
        .unwrap_or_default();
    c.complete("mpe", "k", &id, &[(2, &e2), (1, &e1)])
        .await
        .err(400, "InvalidPartOrder");
    c.complete("mpe", "k", &id, &[(1, &e1), (1, &e1)])
        .await
        .err(400, "InvalidPartOrder");
    c.complete("mpe", "k", &id, &[(1, &e1), (3, &e2)])
        .await
        .err(400, "InvalidPart");
    c.complete("mpe", "k", &id, &[(1, &e2), (2, &e2)])
        .await
        .err(400, "InvalidPart");
    c.req(Method::POST, "mpe", Some("k"))
        .q("uploadId", &id)
        .body("<CompleteMultipartUpload></CompleteMultipartUpload>")
        .send()
        .await
        .err(400, "MalformedXML");
    c.upload_part("mpe", "k", &id, 0, "x")
        .await
        .err(400, "InvalidArgument");
    c.upload_part("mpe", "k", &id, 10001, "x")
        .await
        .err(400, "InvalidArgument");
    c.upload_part("mpe", "other-key", &id, 1, "x")
        .await
        .err(404, "NoSuchUpload");
    c.upload_part("mpe", "k", "../../etc", 1, "x")
        .await
        .err(404, "NoSuchUpload");
    c.upload_part("mpe", "k", &"0".repeat(48), 1, "x")
        .await
        .err(404, "NoSuchUpload");
    let bad_md5 = c
        .req(Method::PUT, "mpe", Some("k"))
        .q("partNumber", "3")
        .q("uploadId", &id)
        .h("content-md5", &crate::common::md5_b64(b"no"))
        .body("x")
        .send()
        .await;
    bad_md5.err(400, "BadDigest");
    // replacing a part; listing parts with paging
    let e1b = c
        .upload_part("mpe", "k", &id, 1, "part-one-again")
        .await
        .header("etag")
        .map(str::to_owned)
        .unwrap_or_default();
    c.upload_part("mpe", "k", &id, 5, "part-five").await.ok();
    let lp = c
        .req(Method::GET, "mpe", Some("k"))
        .q("uploadId", &id)
        .q("max-parts", "2")
        .send()
        .await;
    lp.ok();
    assert_eq!(lp.all("PartNumber"), ["1", "2"]);
    assert_eq!(lp.one("IsTruncated").as_deref(), Some("true"));
    assert_eq!(lp.one("NextPartNumberMarker").as_deref(), Some("2"));
    assert_eq!(lp.all("Size")[0], "part-one-again".len().to_string());
    let lp2 = c
        .req(Method::GET, "mpe", Some("k"))
        .q("uploadId", &id)
        .q("part-number-marker", "2")
        .send()
        .await;
    assert_eq!(lp2.all("PartNumber"), ["5"]);
    assert_eq!(lp2.one("IsTruncated").as_deref(), Some("false"));
    // the stale ETag of a replaced part is refused
    c.complete("mpe", "k", &id, &[(1, &e1), (2, &e2)])
        .await
        .err(400, "InvalidPart");
    let r = c.complete("mpe", "k", &id, &[(1, &e1b), (2, &e2)]).await;
    r.ok();
    assert_eq!(c.get("mpe", "k").await.body, "part-one-againpart-two");
    // abort
    let id2 = c.create_upload("mpe", "gone").await;
    c.upload_part("mpe", "gone", &id2, 1, "x").await.ok();
    assert_eq!(
        c.req(Method::DELETE, "mpe", Some("gone"))
            .q("uploadId", &id2)
            .send()
            .await
            .status,
        204
    );
    c.req(Method::DELETE, "mpe", Some("gone"))
        .q("uploadId", &id2)
        .send()
        .await
        .err(404, "NoSuchUpload");
    c.req(Method::GET, "mpe", Some("gone"))
        .q("uploadId", &id2)
        .send()
        .await
        .err(404, "NoSuchUpload");
    c.complete("mpe", "gone", &id2, &[(1, "\"x\"")])
        .await
        .err(404, "NoSuchUpload");
    assert!(!dir.path().join("buckets/mpe/uploads").join(&id2).exists());
    c.get("mpe", "gone").await.err(404, "NoSuchKey");
}

#[tokio::test]
async fn list_multipart_uploads_paging() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("lmu").await.ok();
    let mut ids = Vec::new();
    for k in ["a/1", "a/2", "b", "b", "c"] {
        ids.push((k, c.create_upload("lmu", k).await));
    }
    let all = c
        .req(Method::GET, "lmu", None)
        .q("uploads", "")
        .send()
        .await;
    all.ok();
    assert_eq!(all.all("Key"), ["a/1", "a/2", "b", "b", "c"]);
    assert_eq!(
        all.all("UploadId"),
        ids.iter().map(|(_, i)| i.clone()).collect::<Vec<_>>(),
        "same key: initiation order"
    );
    let d = c
        .req(Method::GET, "lmu", None)
        .q("uploads", "")
        .q("delimiter", "/")
        .send()
        .await;
    assert_eq!(d.all("Key"), ["b", "b", "c"]);
    assert!(d.all("Prefix").contains(&"a/".to_owned()), "{}", d.text());
    let p = c
        .req(Method::GET, "lmu", None)
        .q("uploads", "")
        .q("prefix", "a/")
        .send()
        .await;
    assert_eq!(p.all("Key"), ["a/1", "a/2"]);
    // page through with max-uploads 2
    let mut seen = Vec::new();
    let (mut km, mut um) = (String::new(), String::new());
    loop {
        let mut r = c
            .req(Method::GET, "lmu", None)
            .q("uploads", "")
            .q("max-uploads", "2");
        if !km.is_empty() {
            r = r.q("key-marker", &km).q("upload-id-marker", &um);
        }
        let r = r.send().await;
        seen.extend(r.all("UploadId"));
        if r.one("IsTruncated").as_deref() != Some("true") {
            break;
        }
        km = r.one("NextKeyMarker").expect("key marker");
        um = r.one("NextUploadIdMarker").expect("id marker");
    }
    assert_eq!(seen, ids.iter().map(|(_, i)| i.clone()).collect::<Vec<_>>());
}

#[tokio::test]
async fn upload_part_copy() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("upc").await.ok();
    let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    c.put("upc", "src", data.clone()).await.ok();
    let id = c.create_upload("upc", "dst").await;
    let copy = |n: &'static str, range: Option<&'static str>| {
        let mut r = c
            .req(Method::PUT, "upc", Some("dst"))
            .q("partNumber", n)
            .q("uploadId", &id)
            .h("x-amz-copy-source", "/upc/src");
        if let Some(range) = range {
            r = r.h("x-amz-copy-source-range", range);
        }
        r.send()
    };
    let r1 = copy("1", Some("bytes=0-99")).await;
    r1.ok();
    assert_eq!(
        r1.one("ETag"),
        Some(format!("\"{}\"", md5_hex(&data[..100])))
    );
    let r2 = copy("2", None).await;
    r2.ok();
    copy("3", Some("bytes=0-1000"))
        .await
        .err(400, "InvalidArgument");
    copy("3", Some("0-10")).await.err(400, "InvalidArgument");
    copy("3", Some("bytes=10-5"))
        .await
        .err(400, "InvalidArgument");
    c.req(Method::PUT, "upc", Some("dst"))
        .q("partNumber", "3")
        .q("uploadId", &id)
        .h("x-amz-copy-source", "/upc/src")
        .h("x-amz-copy-source-if-match", "\"no\"")
        .send()
        .await
        .err(412, "PreconditionFailed");
    let e1 = r1.one("ETag").unwrap_or_default();
    let e2 = r2.one("ETag").unwrap_or_default();
    c.complete("upc", "dst", &id, &[(1, &e1), (2, &e2)])
        .await
        .ok();
    let g = c.get("upc", "dst").await;
    let mut expected = data[..100].to_vec();
    expected.extend_from_slice(&data);
    assert_eq!(g.body, expected);
}

#[tokio::test]
async fn composite_checksum_multipart() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("cks").await.ok();
    let r = c
        .req(Method::POST, "cks", Some("k"))
        .q("uploads", "")
        .h("x-amz-checksum-algorithm", "SHA256")
        .send()
        .await;
    r.ok();
    let id = r.one("UploadId").expect("id");
    let parts: [&[u8]; 2] = [b"first part", b"second"];
    let mut xml_parts = String::new();
    for (i, p) in parts.iter().enumerate() {
        let sum = b64(&Sha256::checksum(p));
        let r = c
            .req(Method::PUT, "cks", Some("k"))
            .q("partNumber", &(i + 1).to_string())
            .q("uploadId", &id)
            .h("x-amz-checksum-sha256", &sum)
            .body(p.to_vec())
            .send()
            .await;
        r.ok();
        assert_eq!(r.header("x-amz-checksum-sha256"), Some(sum.as_str()));
        xml_parts.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag><ChecksumSHA256>{sum}</ChecksumSHA256></Part>",
            i + 1,
            r.header("etag").unwrap_or_default()
        ));
    }
    // a part with a different algorithm is refused
    c.req(Method::PUT, "cks", Some("k"))
        .q("partNumber", "3")
        .q("uploadId", &id)
        .h(
            "x-amz-checksum-crc32",
            &b64(&s3s::crypto::Crc32::checksum(b"x")),
        )
        .body("x")
        .send()
        .await
        .err(400, "InvalidRequest");
    let r = c
        .req(Method::POST, "cks", Some("k"))
        .q("uploadId", &id)
        .body(format!(
            "<CompleteMultipartUpload>{xml_parts}</CompleteMultipartUpload>"
        ))
        .send()
        .await;
    r.ok();
    let mut cat = Vec::new();
    for p in parts {
        cat.extend_from_slice(&Sha256::checksum(p));
    }
    let expected = format!("{}-2", b64(&Sha256::checksum(&cat)));
    assert_eq!(r.one("ChecksumSHA256"), Some(expected.clone()));
    let h = c
        .req(Method::HEAD, "cks", Some("k"))
        .h("x-amz-checksum-mode", "ENABLED")
        .send()
        .await;
    assert_eq!(h.header("x-amz-checksum-sha256"), Some(expected.as_str()));
    assert_eq!(h.header("x-amz-checksum-type"), Some("COMPOSITE"));
}
