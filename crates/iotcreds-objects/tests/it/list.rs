use http::Method;

use crate::common::Server;

async fn setup(c: &crate::common::Client, keys: &[&str]) {
    c.create_bucket("lst").await.ok();
    for k in keys {
        c.put("lst", k, "x").await.ok();
    }
}

const KEYS: [&str; 10] = [
    "a", "a/1", "a/2", "a/b/c", "b", "b/", "c d/e", "c+d", "z/é/1", "é",
];

#[tokio::test]
async fn list_v2_prefix_delimiter_paging() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    setup(&c, &KEYS).await;
    let all = c.list("lst", &[]).await;
    assert_eq!(all.all("Key"), KEYS);
    assert_eq!(all.one("KeyCount").as_deref(), Some("10"));
    assert_eq!(all.one("IsTruncated").as_deref(), Some("false"));
    assert!(all.one("Owner").is_none());
    let d = c.list("lst", &[("delimiter", "/")]).await;
    assert_eq!(d.all("Key"), ["a", "b", "c+d", "é"]);
    assert_eq!(d.all("Prefix")[1..], ["a/", "b/", "c d/", "z/"]);
    assert_eq!(d.one("KeyCount").as_deref(), Some("8"));
    let p = c.list("lst", &[("prefix", "a/"), ("delimiter", "/")]).await;
    assert_eq!(p.all("Key"), ["a/1", "a/2"]);
    assert_eq!(p.all("Prefix"), ["a/", "a/b/"]);
    // paging with max-keys 2 over prefixes and keys, continuation tokens
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = vec![("delimiter", "/"), ("max-keys", "2")];
        if let Some(t) = &token {
            params.push(("continuation-token", t.as_str()));
        }
        let r = c.list("lst", &params).await;
        r.ok();
        let mut page: Vec<String> = r.all("Key");
        page.extend(
            r.all("Prefix")
                .into_iter()
                .skip(1)
                .map(|p| format!("P:{p}")),
        );
        assert!(page.len() <= 2);
        seen.extend(page);
        if r.one("IsTruncated").as_deref() == Some("true") {
            token = Some(r.one("NextContinuationToken").expect("token"));
        } else {
            assert!(r.one("NextContinuationToken").is_none());
            break;
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        ["P:a/", "P:b/", "P:c d/", "P:z/", "a", "b", "c+d", "é"]
    );
    // start-after, fetch-owner, max-keys 0
    let sa = c
        .list("lst", &[("start-after", "b/"), ("fetch-owner", "true")])
        .await;
    assert_eq!(sa.all("Key"), ["c d/e", "c+d", "z/é/1", "é"]);
    assert!(sa.one("Owner").is_some());
    let zero = c.list("lst", &[("max-keys", "0")]).await;
    assert!(zero.all("Key").is_empty());
    assert_eq!(zero.one("IsTruncated").as_deref(), Some("false"));
    c.list("lst", &[("continuation-token", "!!!")])
        .await
        .err(400, "InvalidArgument");
    c.list("lst", &[("encoding-type", "base64")])
        .await
        .err(400, "InvalidArgument");
    c.list("lst", &[("max-keys", "-1")])
        .await
        .err(400, "InvalidArgument");
    // encoding-type=url encodes keys, prefixes and the delimiter
    let u = c
        .list(
            "lst",
            &[
                ("encoding-type", "url"),
                ("delimiter", "/"),
                ("prefix", "z/"),
            ],
        )
        .await;
    assert_eq!(u.all("Prefix"), ["z/", "z/%C3%A9/"]);
    let u = c
        .list("lst", &[("encoding-type", "url"), ("prefix", "c")])
        .await;
    assert_eq!(u.all("Key"), ["c+d/e", "c%2Bd"]);
    // a multi-character delimiter
    let m = c.list("lst", &[("delimiter", "/b/")]).await;
    assert!(m.all("Prefix").contains(&"a/b/".to_owned()));
}

#[tokio::test]
async fn list_v1_markers() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    setup(&c, &KEYS).await;
    let r = c
        .req(Method::GET, "lst", None)
        .q("max-keys", "3")
        .send()
        .await;
    assert_eq!(r.all("Key"), ["a", "a/1", "a/2"]);
    assert_eq!(r.one("IsTruncated").as_deref(), Some("true"));
    assert!(
        r.one("NextMarker").is_none(),
        "no NextMarker without a delimiter"
    );
    assert!(r.one("Owner").is_some(), "v1 always reports the owner");
    let r = c
        .req(Method::GET, "lst", None)
        .q("marker", "a/2")
        .q("max-keys", "2")
        .send()
        .await;
    assert_eq!(r.all("Key"), ["a/b/c", "b"]);
    let r = c
        .req(Method::GET, "lst", None)
        .q("delimiter", "/")
        .q("max-keys", "2")
        .send()
        .await;
    assert_eq!(r.all("Key"), ["a"]);
    assert_eq!(r.one("NextMarker").as_deref(), Some("a/"));
    let r2 = c
        .req(Method::GET, "lst", None)
        .q("delimiter", "/")
        .q("marker", "a/")
        .send()
        .await;
    assert_eq!(r2.all("Key"), ["b", "c+d", "é"]);
    assert_eq!(r2.all("Prefix")[1..], ["b/", "c d/", "z/"]);
}

#[tokio::test]
async fn list_versions_of_unversioned_bucket() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    setup(&c, &["a", "b", "c"]).await;
    let r = c
        .req(Method::GET, "lst", None)
        .q("versions", "")
        .q("max-keys", "2")
        .send()
        .await;
    r.ok();
    assert_eq!(r.all("Key"), ["a", "b"]);
    assert_eq!(r.all("VersionId"), ["null", "null"]);
    assert_eq!(r.all("IsLatest"), ["true", "true"]);
    assert_eq!(r.one("NextKeyMarker").as_deref(), Some("b"));
    assert_eq!(r.one("NextVersionIdMarker").as_deref(), Some("null"));
    let r = c
        .req(Method::GET, "lst", None)
        .q("versions", "")
        .q("key-marker", "b")
        .q("version-id-marker", "null")
        .send()
        .await;
    assert_eq!(r.all("Key"), ["c"]);
    assert_eq!(r.one("IsTruncated").as_deref(), Some("false"));
    c.req(Method::GET, "lst", None)
        .q("versions", "")
        .q("version-id-marker", "null")
        .send()
        .await
        .err(400, "InvalidArgument");
    c.req(Method::GET, "lst", None)
        .q("versions", "")
        .q("key-marker", "a")
        .q("version-id-marker", "v2")
        .send()
        .await
        .err(400, "InvalidArgument");
}
