//! Bucket mapping: explicit map, prefix, unmapped names refused (or allowed), and every answer
//! naming buckets the way the device does.

use http::Method;

use crate::common::Env;

fn names(list: &crate::common::Resp) -> Vec<String> {
    list.all("Name")
}

#[tokio::test]
async fn explicit_map_and_prefix() {
    let env = Env::start_with(|c| {
        c.buckets.insert("firmware".into(), "prod-fw-7f3a".into());
    })
    .await;
    let (dev, up) = (env.device(), env.upstream());
    up.create_bucket("prod-fw-7f3a").await.ok();
    dev.create_bucket("images").await.ok();
    // the device writes through its names; the objects are where the mapping says
    dev.put("firmware", "v1.bin", "firmware v1").await.ok();
    dev.put("images", "cat.jpg", "meow").await.ok();
    assert_eq!(
        up.get("prod-fw-7f3a", "v1.bin").await.ok().body,
        "firmware v1"
    );
    assert_eq!(up.get("gw-images", "cat.jpg").await.ok().body, "meow");
    assert_eq!(dev.get("firmware", "v1.bin").await.ok().body, "firmware v1");
    // the prefixed name of an explicitly mapped bucket is not a second way in
    up.create_bucket("gw-firmware").await.ok();
    up.put("gw-firmware", "other.bin", "shadow").await.ok();
    dev.get("firmware", "other.bin").await.err(404, "NoSuchKey");
    // listings name the device bucket
    let l = dev.list("firmware", &[]).await;
    l.ok();
    assert_eq!(l.one("Name").as_deref(), Some("firmware"));
    assert_eq!(l.all("Key"), ["v1.bin"]);
    let l1 = dev.req(Method::GET, "images", None).send().await;
    assert_eq!(l1.ok().one("Name").as_deref(), Some("images"));
    let lv = dev
        .req(Method::GET, "images", None)
        .q("versions", "")
        .send()
        .await;
    assert_eq!(lv.ok().one("Name").as_deref(), Some("images"));
    for r in [&l, &l1, &lv] {
        assert!(
            !r.text().contains("prod-fw") && !r.text().contains("gw-"),
            "{}",
            r.text()
        );
    }
}

#[tokio::test]
async fn list_buckets_shows_only_mapped_buckets_under_device_names() {
    let env = Env::start_with(|c| {
        c.buckets.insert("firmware".into(), "prod-fw-7f3a".into());
    })
    .await;
    let (dev, up) = (env.device(), env.upstream());
    for b in [
        "gw-one",
        "gw-two",
        "gw-three",
        "prod-fw-7f3a",
        "gw-firmware",
        "unrelated",
        "gw-ab",
    ] {
        up.create_bucket(b).await.ok();
    }
    let all = dev.req(Method::GET, "", None).send().await;
    all.ok();
    // gw-firmware is hidden (firmware is mapped elsewhere), gw-ab would be "ab" (not a bucket
    // name), unrelated has no device name
    assert_eq!(names(&all), ["firmware", "one", "three", "two"]);
    assert!(
        !all.text().contains("gw-") && !all.text().contains("prod-fw"),
        "{}",
        all.text()
    );
    assert!(all.one("CreationDate").is_some());
    // the upstream's owner (the gateway's account there) is not shown
    assert_eq!(all.one("Owner"), None);
    let t = dev.req(Method::GET, "", None).q("prefix", "t").send().await;
    assert_eq!(names(t.ok()), ["three", "two"]);
    let p1 = dev
        .req(Method::GET, "", None)
        .q("max-buckets", "2")
        .send()
        .await;
    assert_eq!(names(p1.ok()), ["firmware", "one"]);
    let token = p1.one("ContinuationToken").expect("token");
    let p2 = dev
        .req(Method::GET, "", None)
        .q("max-buckets", "2")
        .q("continuation-token", &token)
        .send()
        .await;
    assert_eq!(names(p2.ok()), ["three", "two"]);
    assert_eq!(p2.one("ContinuationToken"), None);
    let other_region = dev
        .req(Method::GET, "", None)
        .q("bucket-region", "eu-west-1")
        .send()
        .await;
    assert!(names(other_region.ok()).is_empty());
    dev.req(Method::GET, "", None)
        .q("max-buckets", "0")
        .send()
        .await
        .err(400, "InvalidArgument");
}

#[tokio::test]
async fn unmapped_names_do_not_exist() {
    let env = Env::start_with(|c| {
        c.bucket_prefix = None;
        c.buckets.insert("firmware".into(), "prod-fw-7f3a".into());
    })
    .await;
    let (dev, up) = (env.device(), env.upstream());
    up.create_bucket("prod-fw-7f3a").await.ok();
    up.create_bucket("secret-bucket").await.ok();
    up.put("secret-bucket", "k", "hidden").await.ok();
    dev.get("secret-bucket", "k").await.err(404, "NoSuchBucket");
    dev.put("secret-bucket", "k", "overwrite")
        .await
        .err(404, "NoSuchBucket");
    dev.list("secret-bucket", &[])
        .await
        .err(404, "NoSuchBucket");
    assert_eq!(
        dev.req(Method::HEAD, "secret-bucket", None)
            .send()
            .await
            .status,
        404
    );
    dev.create_bucket("brand-new")
        .await
        .err(404, "NoSuchBucket");
    dev.req(Method::DELETE, "secret-bucket", None)
        .send()
        .await
        .err(404, "NoSuchBucket");
    // a copy source in an unmapped bucket does not exist either
    dev.req(Method::PUT, "firmware", Some("stolen"))
        .h("x-amz-copy-source", "/secret-bucket/k")
        .send()
        .await
        .err(404, "NoSuchBucket");
    assert_eq!(up.get("secret-bucket", "k").await.ok().body, "hidden");
    assert_eq!(
        up.req(Method::HEAD, "brand-new", None).send().await.status,
        404
    );
    let all = dev.req(Method::GET, "", None).send().await;
    assert_eq!(names(all.ok()), ["firmware"]);
}

#[tokio::test]
async fn allow_unmapped_uses_upstream_names_except_explicit_targets() {
    let env = Env::start_with(|c| {
        c.bucket_prefix = None;
        c.allow_unmapped = true;
        c.buckets.insert("firmware".into(), "prod-fw-7f3a".into());
    })
    .await;
    let (dev, up) = (env.device(), env.upstream());
    up.create_bucket("prod-fw-7f3a").await.ok();
    dev.create_bucket("plain").await.ok();
    dev.put("plain", "k", "v").await.ok();
    assert_eq!(up.get("plain", "k").await.ok().body, "v");
    // the target of an explicit entry has one name only
    dev.get("prod-fw-7f3a", "k").await.err(404, "NoSuchBucket");
    let all = dev.req(Method::GET, "", None).send().await;
    assert_eq!(names(all.ok()), ["firmware", "plain"]);
}

#[tokio::test]
async fn copy_sources_name_device_buckets() {
    let env = Env::start_with(|c| {
        c.buckets.insert("firmware".into(), "prod-fw-7f3a".into());
    })
    .await;
    let (dev, up) = (env.device(), env.upstream());
    up.create_bucket("prod-fw-7f3a").await.ok();
    dev.create_bucket("staging").await.ok();
    dev.put("staging", "build 42.bin", "artifact").await.ok();
    // from a prefixed bucket into the explicitly mapped one, key with a space
    let r = dev
        .req(Method::PUT, "firmware", Some("release.bin"))
        .h("x-amz-copy-source", "/staging/build%2042.bin")
        .send()
        .await;
    r.ok();
    assert_eq!(
        r.one("ETag").as_deref(),
        Some(format!("\"{}\"", crate::common::md5_hex(b"artifact")).as_str())
    );
    assert_eq!(
        up.get("prod-fw-7f3a", "release.bin").await.ok().body,
        "artifact"
    );
    // and back, as an UploadPartCopy source
    let id = dev.create_upload("staging", "assembled").await;
    let pc = dev
        .req(Method::PUT, "staging", Some("assembled"))
        .q("partNumber", "1")
        .q("uploadId", &id)
        .h("x-amz-copy-source", "firmware/release.bin")
        .send()
        .await;
    pc.ok();
    let etag = pc.one("ETag").expect("etag");
    dev.complete("staging", "assembled", &id, &[(1, &etag)])
        .await
        .ok();
    assert_eq!(dev.get("staging", "assembled").await.ok().body, "artifact");
    // the upstream name of a bucket is not a copy source the device can name
    dev.req(Method::PUT, "staging", Some("x"))
        .h("x-amz-copy-source", "/prod-fw-7f3a/release.bin")
        .send()
        .await
        .err(404, "NoSuchBucket");
    dev.req(Method::PUT, "staging", Some("x"))
        .h(
            "x-amz-copy-source",
            "/staging/build%2042.bin?versionId=3HL4kqtJlcpXroDTDmJ",
        )
        .send()
        .await
        .err(400, "InvalidArgument");
}
