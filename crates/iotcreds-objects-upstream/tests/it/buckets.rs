//! Bucket operations through the gateway: CreateBucket, HeadBucket, GetBucketLocation,
//! DeleteBucket, and the object listings.

use http::Method;

use crate::common::Env;

#[tokio::test]
async fn bucket_lifecycle() {
    let env = Env::start().await;
    let (c, up) = (env.device(), env.upstream());
    let created = c.create_bucket("alpha").await;
    created.ok();
    assert_eq!(created.header("location"), Some("/alpha"));
    // it is the prefixed bucket upstream
    assert_eq!(
        up.req(Method::HEAD, "gw-alpha", None).send().await.status,
        200
    );
    let head = c.req(Method::HEAD, "alpha", None).send().await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("x-amz-bucket-region"), Some("us-east-1"));
    let loc = c
        .req(Method::GET, "alpha", None)
        .q("location", "")
        .send()
        .await;
    loc.ok();
    // us-east-1 is an empty LocationConstraint
    assert_eq!(loc.one("LocationConstraint").unwrap_or_default(), "");
    // moto deviation: AWS answers 200 to a re-create by the owner in us-east-1 (legacy);
    // moto answers 409 BucketAlreadyExists. Either way the device learns the upstream's answer.
    let again = c.create_bucket("alpha").await;
    assert!(
        again.status == 200 || again.status == 409,
        "{}",
        again.text()
    );
    c.put("alpha", "k", "v").await.ok();
    c.req(Method::DELETE, "alpha", None)
        .send()
        .await
        .err(409, "BucketNotEmpty");
    assert_eq!(c.delete("alpha", "k").await.status, 204);
    assert_eq!(
        c.req(Method::DELETE, "alpha", None).send().await.status,
        204
    );
    assert_eq!(c.req(Method::HEAD, "alpha", None).send().await.status, 404);
    c.req(Method::GET, "alpha", None)
        .q("location", "")
        .send()
        .await
        .err(404, "NoSuchBucket");
    c.req(Method::DELETE, "alpha", None)
        .send()
        .await
        .err(404, "NoSuchBucket");
    // a LocationConstraint naming another region is the upstream's to refuse
    let r = c
        .req(Method::PUT, "beta", None)
        .body("<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>")
        .send()
        .await;
    r.err(400, "InvalidLocationConstraint");
}

#[tokio::test]
async fn listings() {
    let env = Env::start().await;
    let c = env.device();
    c.create_bucket("lst").await.ok();
    for k in ["a/1", "a/2", "b/1", "c", "d e"] {
        c.put("lst", k, k.to_owned()).await.ok();
    }
    let all = c.list("lst", &[]).await;
    all.ok();
    assert_eq!(all.one("Name").as_deref(), Some("lst"));
    assert_eq!(all.all("Key"), ["a/1", "a/2", "b/1", "c", "d e"]);
    assert_eq!(all.all("Size"), ["3", "3", "3", "1", "3"]);
    assert_eq!(all.one("Owner"), None);
    let d = c.list("lst", &[("delimiter", "/")]).await;
    assert_eq!(d.ok().all("Key"), ["c", "d e"]);
    assert_eq!(d.all("Prefix")[1..], ["a/", "b/"]);
    let p = c.list("lst", &[("prefix", "a/"), ("max-keys", "1")]).await;
    assert_eq!(p.ok().all("Key"), ["a/1"]);
    assert_eq!(p.one("IsTruncated").as_deref(), Some("true"));
    let token = p.one("NextContinuationToken").expect("token");
    let p2 = c
        .list(
            "lst",
            &[
                ("prefix", "a/"),
                ("max-keys", "1"),
                ("continuation-token", &token),
            ],
        )
        .await;
    assert_eq!(p2.ok().all("Key"), ["a/2"]);
    let sa = c.list("lst", &[("start-after", "b/1")]).await;
    assert_eq!(sa.ok().all("Key"), ["c", "d e"]);
    let owner = c.list("lst", &[("fetch-owner", "true")]).await;
    assert_eq!(owner.ok().one("Owner"), None);
    // ListObjects (v1) with marker
    let v1 = c
        .req(Method::GET, "lst", None)
        .q("marker", "b/1")
        .send()
        .await;
    v1.ok();
    assert_eq!(v1.one("Name").as_deref(), Some("lst"));
    assert_eq!(v1.all("Key"), ["c", "d e"]);
    // ListObjectVersions
    let v = c
        .req(Method::GET, "lst", None)
        .q("versions", "")
        .q("prefix", "a/")
        .send()
        .await;
    v.ok();
    assert_eq!(v.one("Name").as_deref(), Some("lst"));
    assert_eq!(v.all("Key"), ["a/1", "a/2"]);
    assert_eq!(v.one("Owner"), None);
    // url encoding
    let enc = c
        .list("lst", &[("encoding-type", "url"), ("prefix", "d")])
        .await;
    assert_eq!(enc.ok().all("Key"), ["d%20e"]);
    c.list("missing-bucket", &[]).await.err(404, "NoSuchBucket");
}
