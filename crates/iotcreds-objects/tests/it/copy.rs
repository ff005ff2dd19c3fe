use http::Method;

use crate::common::{Server, aws_encode, md5_hex};

#[tokio::test]
async fn copy_object() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("src").await.ok();
    c.create_bucket("dst").await.ok();
    let key = "dir/ü name+1.txt";
    c.req(Method::PUT, "src", Some(key))
        .h("content-type", "text/plain")
        .h("x-amz-meta-a", "1")
        .body("payload")
        .send()
        .await
        .ok();
    let source = format!("/src/{}", aws_encode(key, true));
    // COPY (default): data and metadata carried over
    let r = c
        .req(Method::PUT, "dst", Some("copy"))
        .h("x-amz-copy-source", &source)
        .send()
        .await;
    r.ok();
    assert_eq!(r.one("ETag"), Some(format!("\"{}\"", md5_hex(b"payload"))));
    assert!(r.one("LastModified").is_some());
    let g = c.get("dst", "copy").await;
    assert_eq!(g.body, "payload");
    assert_eq!(g.header("content-type"), Some("text/plain"));
    assert_eq!(g.header("x-amz-meta-a"), Some("1"));
    // REPLACE, and versionId=null on the source
    let r = c
        .req(Method::PUT, "dst", Some("copy2"))
        .h("x-amz-copy-source", &format!("{source}?versionId=null"))
        .h("x-amz-metadata-directive", "REPLACE")
        .h("content-type", "application/json")
        .h("x-amz-meta-b", "2")
        .send()
        .await;
    r.ok();
    let g = c.get("dst", "copy2").await;
    assert_eq!(g.header("content-type"), Some("application/json"));
    assert_eq!(g.header("x-amz-meta-b"), Some("2"));
    assert!(g.header("x-amz-meta-a").is_none());
    // onto itself: illegal without REPLACE, fine with it
    let selfsrc = "/dst/copy";
    let r = c
        .req(Method::PUT, "dst", Some("copy"))
        .h("x-amz-copy-source", selfsrc)
        .send()
        .await;
    r.err(400, "InvalidRequest");
    assert!(
        r.one("Message")
            .unwrap_or_default()
            .contains("copy an object to itself")
    );
    c.req(Method::PUT, "dst", Some("copy"))
        .h("x-amz-copy-source", selfsrc)
        .h("x-amz-metadata-directive", "REPLACE")
        .h("x-amz-meta-c", "3")
        .send()
        .await
        .ok();
    let g = c.get("dst", "copy").await;
    assert_eq!(
        (g.body.as_ref(), g.header("x-amz-meta-c")),
        (&b"payload"[..], Some("3"))
    );
    // errors
    c.req(Method::PUT, "dst", Some("x"))
        .h("x-amz-copy-source", "/src/missing")
        .send()
        .await
        .err(404, "NoSuchKey");
    c.req(Method::PUT, "dst", Some("x"))
        .h("x-amz-copy-source", "/nobucket/k")
        .send()
        .await
        .err(404, "NoSuchBucket");
    c.req(Method::PUT, "dst", Some("x"))
        .h("x-amz-copy-source", &format!("{source}?versionId=abc"))
        .send()
        .await
        .err(400, "InvalidArgument");
    c.req(Method::PUT, "dst", Some("x"))
        .h("x-amz-copy-source", &source)
        .h("x-amz-metadata-directive", "MERGE")
        .send()
        .await
        .err(400, "InvalidArgument");
    let etag = format!("\"{}\"", md5_hex(b"payload"));
    let past = crate::common::http_date(time::OffsetDateTime::now_utc() - time::Duration::hours(1));
    let cp = |h: &'static str, v: String| {
        c.req(Method::PUT, "dst", Some("cond"))
            .h("x-amz-copy-source", &source)
            .h(h, &v)
            .send()
    };
    cp("x-amz-copy-source-if-match", "\"nope\"".into())
        .await
        .err(412, "PreconditionFailed");
    cp("x-amz-copy-source-if-none-match", etag.clone())
        .await
        .err(412, "PreconditionFailed");
    cp("x-amz-copy-source-if-unmodified-since", past.clone())
        .await
        .err(412, "PreconditionFailed");
    cp("x-amz-copy-source-if-match", etag.clone()).await.ok();
    cp("x-amz-copy-source-if-modified-since", past).await.ok();
    assert_eq!(
        c.list("dst", &[]).await.all("Key"),
        ["cond", "copy", "copy2"]
    );
}
