use http::Method;

use crate::common::{Server, md5_b64, md5_hex};

#[tokio::test]
async fn put_get_head_roundtrip() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("obj").await.ok();
    let data = "hello world".repeat(1000);
    let put = c
        .req(Method::PUT, "obj", Some("dir/file.txt"))
        .h("content-type", "text/plain")
        .h("content-encoding", "gzip")
        .h("content-disposition", "attachment")
        .h("content-language", "en")
        .h("cache-control", "no-cache")
        .h("expires", "Wed, 21 Oct 2037 07:28:00 GMT")
        .h("x-amz-meta-device", "thing-1")
        .h("x-amz-meta-Mixed", "Case")
        .body(data.clone())
        .send()
        .await;
    put.ok();
    let etag = format!("\"{}\"", md5_hex(data.as_bytes()));
    assert_eq!(put.header("etag"), Some(etag.as_str()));
    let get = c.get("obj", "dir/file.txt").await;
    get.ok();
    assert_eq!(get.body, data.as_bytes());
    assert_eq!(get.header("etag"), Some(etag.as_str()));
    assert_eq!(get.header("content-type"), Some("text/plain"));
    assert_eq!(get.header("content-encoding"), Some("gzip"));
    assert_eq!(get.header("content-disposition"), Some("attachment"));
    assert_eq!(get.header("content-language"), Some("en"));
    assert_eq!(get.header("cache-control"), Some("no-cache"));
    assert_eq!(get.header("expires"), Some("Wed, 21 Oct 2037 07:28:00 GMT"));
    assert_eq!(get.header("x-amz-meta-device"), Some("thing-1"));
    assert_eq!(get.header("x-amz-meta-mixed"), Some("Case"));
    assert_eq!(
        get.header("content-length"),
        Some(data.len().to_string().as_str())
    );
    assert_eq!(get.header("accept-ranges"), Some("bytes"));
    assert!(get.header("last-modified").is_some());
    let head = c.head("obj", "dir/file.txt").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(data.len().to_string().as_str())
    );
    assert_eq!(head.header("x-amz-meta-device"), Some("thing-1"));
    // default content type; empty object; overwrite
    c.put("obj", "empty", "").await.ok();
    let e = c.get("obj", "empty").await;
    assert_eq!((e.status, e.body.len()), (200, 0));
    assert_eq!(e.header("content-type"), Some("binary/octet-stream"));
    assert_eq!(
        e.header("etag"),
        Some("\"d41d8cd98f00b204e9800998ecf8427e\"")
    );
    c.put("obj", "empty", "now full").await.ok();
    assert_eq!(c.get("obj", "empty").await.body, "now full");
    c.get("obj", "missing").await.err(404, "NoSuchKey");
    assert_eq!(c.head("obj", "missing").await.status, 404);
    // versionId other than null
    c.req(Method::GET, "obj", Some("empty"))
        .q("versionId", "null")
        .send()
        .await
        .ok();
    c.req(Method::GET, "obj", Some("empty"))
        .q("versionId", "abc")
        .send()
        .await
        .err(400, "InvalidArgument");
}

#[tokio::test]
async fn content_md5_is_verified() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("md5").await.ok();
    let ok = c
        .req(Method::PUT, "md5", Some("k"))
        .h("content-md5", &md5_b64(b"data"))
        .body("data")
        .send()
        .await;
    ok.ok();
    let bad = c
        .req(Method::PUT, "md5", Some("k"))
        .h("content-md5", &md5_b64(b"other"))
        .body("new data")
        .send()
        .await;
    bad.err(400, "BadDigest");
    assert_eq!(
        bad.one("Message").as_deref(),
        Some("The Content-MD5 you specified did not match what we received.")
    );
    c.req(Method::PUT, "md5", Some("k"))
        .h("content-md5", "!!notbase64")
        .body("x")
        .send()
        .await
        .err(400, "InvalidDigest");
    c.req(Method::PUT, "md5", Some("k"))
        .h("content-md5", "AAAA")
        .body("x")
        .send()
        .await
        .err(400, "InvalidDigest");
    // nothing of the refused writes is visible, and no temporary file is left behind
    assert_eq!(c.get("md5", "k").await.body, "data");
    c.req(Method::PUT, "md5", Some("new"))
        .h("content-md5", &md5_b64(b"zz"))
        .body("x")
        .send()
        .await
        .err(400, "BadDigest");
    assert_eq!(c.head("md5", "new").await.status, 404);
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp"))
            .expect("tmp")
            .count(),
        0
    );
}

#[tokio::test]
async fn deletes() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("del").await.ok();
    for k in ["a", "b", "c"] {
        c.put("del", k, k).await.ok();
    }
    assert_eq!(c.delete("del", "a").await.status, 204);
    assert_eq!(c.delete("del", "a").await.status, 204, "idempotent");
    assert_eq!(c.delete("del", "never").await.status, 204);
    c.get("del", "a").await.err(404, "NoSuchKey");
    let long = "k".repeat(1025);
    let body = format!(
        "<Delete><Object><Key>b</Key></Object><Object><Key>zz</Key></Object><Object><Key>{long}</Key></Object><Object><Key>c</Key><VersionId>v1</VersionId></Object></Delete>"
    );
    let r = c
        .req(Method::POST, "del", None)
        .q("delete", "")
        .h("content-md5", &md5_b64(body.as_bytes()))
        .body(body)
        .send()
        .await;
    r.ok();
    let deleted = r.all("Key");
    assert!(deleted.contains(&"b".to_owned()) && deleted.contains(&"zz".to_owned()));
    assert_eq!(r.all("Code"), ["KeyTooLongError", "InvalidArgument"]);
    c.get("del", "b").await.err(404, "NoSuchKey");
    assert_eq!(c.get("del", "c").await.status, 200);
    let quiet = "<Delete><Quiet>true</Quiet><Object><Key>c</Key></Object></Delete>";
    let r = c
        .req(Method::POST, "del", None)
        .q("delete", "")
        .body(quiet)
        .send()
        .await;
    r.ok();
    assert!(
        r.all("Deleted").is_empty() && r.all("Error").is_empty(),
        "{}",
        r.text()
    );
    c.get("del", "c").await.err(404, "NoSuchKey");
    let many: String = (0..1001)
        .map(|i| format!("<Object><Key>k{i}</Key></Object>"))
        .collect();
    let r = c
        .req(Method::POST, "del", None)
        .q("delete", "")
        .body(format!("<Delete>{many}</Delete>"))
        .send()
        .await;
    r.err(400, "MalformedXML");
}

#[tokio::test]
async fn conditional_writes_and_deletes() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("cond").await.ok();
    c.req(Method::PUT, "cond", Some("k"))
        .h("if-none-match", "*")
        .body("one")
        .send()
        .await
        .ok();
    c.req(Method::PUT, "cond", Some("k"))
        .h("if-none-match", "*")
        .body("two")
        .send()
        .await
        .err(412, "PreconditionFailed");
    let etag = format!("\"{}\"", md5_hex(b"one"));
    c.req(Method::PUT, "cond", Some("k"))
        .h("if-match", "\"0000\"")
        .body("two")
        .send()
        .await
        .err(412, "PreconditionFailed");
    c.req(Method::PUT, "cond", Some("k"))
        .h("if-match", &etag)
        .body("two")
        .send()
        .await
        .ok();
    c.req(Method::PUT, "cond", Some("nope"))
        .h("if-match", &etag)
        .body("x")
        .send()
        .await
        .err(404, "NoSuchKey");
    assert_eq!(c.get("cond", "k").await.body, "two");
    c.req(Method::DELETE, "cond", Some("k"))
        .h("if-match", &etag)
        .send()
        .await
        .err(412, "PreconditionFailed");
    let etag2 = format!("\"{}\"", md5_hex(b"two"));
    assert_eq!(
        c.req(Method::DELETE, "cond", Some("k"))
            .h("if-match", &etag2)
            .send()
            .await
            .status,
        204
    );
    c.req(Method::DELETE, "cond", Some("k"))
        .h("if-match", &etag2)
        .send()
        .await
        .err(404, "NoSuchKey");
}

#[tokio::test]
async fn refused_features_write_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("feat").await.ok();
    let big = "v".repeat(2100);
    c.req(Method::PUT, "feat", Some("k"))
        .h("x-amz-meta-big", &big)
        .body("x")
        .send()
        .await
        .err(400, "MetadataTooLarge");
    c.req(Method::PUT, "feat", Some("k"))
        .h("x-amz-server-side-encryption", "AES256")
        .body("x")
        .send()
        .await
        .err(501, "NotImplemented");
    c.req(Method::PUT, "feat", Some("k"))
        .h("x-amz-storage-class", "GLACIER")
        .body("x")
        .send()
        .await
        .err(400, "InvalidStorageClass");
    c.req(Method::PUT, "feat", Some("k"))
        .h("x-amz-acl", "public-read")
        .body("x")
        .send()
        .await
        .err(400, "AccessControlListNotSupported");
    c.req(Method::PUT, "feat", Some("k"))
        .h("x-amz-tagging", "aws:a=b")
        .body("x")
        .send()
        .await
        .err(400, "InvalidTag");
    c.req(Method::PUT, "feat", Some("k"))
        .h("x-amz-storage-class", "STANDARD")
        .h("x-amz-acl", "private")
        .body("x")
        .send()
        .await
        .ok();
    // unsupported operations keep s3s's default
    c.req(Method::GET, "feat", Some("k"))
        .q("acl", "")
        .send()
        .await
        .err(501, "NotImplemented");
}

#[tokio::test]
async fn concurrent_puts_leave_one_complete_object() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = std::sync::Arc::new(s.client());
    c.create_bucket("race").await.ok();
    let bodies: Vec<Vec<u8>> = (0..8u8).map(|i| vec![b'a' + i; 256 * 1024]).collect();
    let mut tasks = Vec::new();
    for b in bodies.clone() {
        let c = std::sync::Arc::clone(&c);
        tasks.push(tokio::spawn(async move {
            c.put("race", "same", b).await.status
        }));
    }
    // a reader racing the writers sees nothing or one whole body, never a mix
    for _ in 0..20 {
        let g = c.get("race", "same").await;
        if g.status == 200 {
            assert!(bodies.iter().any(|b| g.body == b.as_slice()), "torn read");
        }
    }
    for t in tasks {
        assert_eq!(t.await.expect("join"), 200);
    }
    let g = c.get("race", "same").await;
    let winner = bodies
        .iter()
        .find(|b| g.body == b.as_slice())
        .expect("one whole body");
    let list = c.list("race", &[]).await;
    assert_eq!(list.all("Key"), ["same"]);
    assert_eq!(list.one("ETag"), Some(format!("\"{}\"", md5_hex(winner))));
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp"))
            .expect("tmp")
            .count(),
        0
    );
}
