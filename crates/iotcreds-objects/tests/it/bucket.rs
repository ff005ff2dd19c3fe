use http::Method;
use iotcreds_objects::fs::FsConfig;

use crate::common::Server;

#[tokio::test]
async fn bucket_lifecycle() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("b-one").await.ok();
    c.create_bucket("a-two").await.ok();
    let list = c.req(Method::GET, "", None).send().await;
    list.ok();
    assert_eq!(list.all("Name"), ["a-two", "b-one"]);
    assert!(list.one("ID").is_some());
    let head = c.req(Method::HEAD, "b-one", None).send().await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("x-amz-bucket-region"), Some("us-east-1"));
    // us-east-1 is an empty LocationConstraint
    let loc = c
        .req(Method::GET, "b-one", None)
        .q("location", "")
        .send()
        .await;
    loc.ok();
    assert!(
        loc.text().contains("<LocationConstraint")
            && loc.one("LocationConstraint").unwrap_or_default().is_empty()
    );
    // re-creating an owned bucket in us-east-1 is 200 (AWS legacy behaviour)
    c.create_bucket("b-one").await.ok();
    assert_eq!(
        c.req(Method::DELETE, "b-one", None).send().await.status,
        204
    );
    assert_eq!(c.req(Method::HEAD, "b-one", None).send().await.status, 404);
    c.req(Method::DELETE, "b-one", None)
        .send()
        .await
        .err(404, "NoSuchBucket");
    c.put("b-one", "k", "x").await.err(404, "NoSuchBucket");
    c.get("b-one", "k").await.err(404, "NoSuchBucket");
    c.list("b-one", &[]).await.err(404, "NoSuchBucket");
    // paging of ListBuckets
    c.create_bucket("c-three").await.ok();
    let page = c
        .req(Method::GET, "", None)
        .q("max-buckets", "1")
        .send()
        .await;
    assert_eq!(page.all("Name"), ["a-two"]);
    let token = page.one("ContinuationToken").expect("token");
    let rest = c
        .req(Method::GET, "", None)
        .q("max-buckets", "1")
        .q("continuation-token", &token)
        .send()
        .await;
    assert_eq!(rest.all("Name"), ["c-three"]);
    assert!(rest.one("ContinuationToken").is_none());
}

#[tokio::test]
async fn bucket_names_and_locations() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("Upper").await.err(400, "InvalidBucketName");
    c.create_bucket("ab").await.err(400, "InvalidBucketName");
    c.create_bucket("bad_name")
        .await
        .err(400, "InvalidBucketName");
    c.create_bucket("xn--abc")
        .await
        .err(400, "InvalidBucketName");
    let cfg = |region: &str| {
        format!(
            "<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
        )
    };
    c.req(Method::PUT, "loc-a", None)
        .body(cfg("us-east-1"))
        .send()
        .await
        .err(400, "InvalidLocationConstraint");
    c.req(Method::PUT, "loc-a", None)
        .body(cfg("eu-west-1"))
        .send()
        .await
        .err(400, "IllegalLocationConstraintException");
    c.req(Method::PUT, "loc-a", None)
        .h("x-amz-acl", "public-read")
        .send()
        .await
        .err(400, "InvalidBucketAclWithObjectOwnership");
    // nothing was created by the refused requests
    assert!(
        c.req(Method::GET, "", None)
            .send()
            .await
            .all("Name")
            .is_empty()
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("buckets"))
            .expect("dir")
            .count(),
        0
    );
}

#[tokio::test]
async fn regional_endpoint() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start_with(
        dir.path(),
        FsConfig {
            region: "eu-west-1".into(),
            ..FsConfig::default()
        },
    )
    .await;
    let c = s.client();
    c.create_bucket("reg")
        .await
        .err(400, "IllegalLocationConstraintException");
    let cfg = "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>";
    c.req(Method::PUT, "reg", None).body(cfg).send().await.ok();
    c.req(Method::PUT, "reg", None)
        .body(cfg)
        .send()
        .await
        .err(409, "BucketAlreadyOwnedByYou");
    let loc = c
        .req(Method::GET, "reg", None)
        .q("location", "")
        .send()
        .await;
    assert_eq!(loc.one("LocationConstraint").as_deref(), Some("eu-west-1"));
}

#[tokio::test]
async fn delete_bucket_rules() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("full").await.ok();
    c.put("full", "k", "x").await.ok();
    c.req(Method::DELETE, "full", None)
        .send()
        .await
        .err(409, "BucketNotEmpty");
    c.delete("full", "k").await.ok();
    // An in-progress multipart upload does not keep a general-purpose bucket alive.
    let id = c.create_upload("full", "big").await;
    c.upload_part("full", "big", &id, 1, "part").await.ok();
    assert_eq!(c.req(Method::DELETE, "full", None).send().await.status, 204);
    assert!(!dir.path().join("buckets/full").exists());
    c.create_bucket("full").await.ok();
    c.upload_part("full", "big", &id, 2, "x")
        .await
        .err(404, "NoSuchUpload");
    let uploads = c
        .req(Method::GET, "full", None)
        .q("uploads", "")
        .send()
        .await;
    assert!(uploads.all("UploadId").is_empty());
}
