//! Object tags on the file-system backend: set at creation and later, counted on GET, dropped by
//! a new version, kept across a restart, and a tag file left by a crash never applies to a
//! newer version of its object.

use http::Method;

use crate::common::{Server, md5_b64, sha256_hex};

fn tagging_xml(tags: &[(&str, &str)]) -> String {
    let tags: String = tags
        .iter()
        .map(|(k, v)| format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>"))
        .collect();
    format!("<Tagging><TagSet>{tags}</TagSet></Tagging>")
}

async fn put_tags(
    c: &crate::common::Client,
    key: &str,
    tags: &[(&str, &str)],
) -> crate::common::Resp {
    let xml = tagging_xml(tags);
    c.req(Method::PUT, "tags", Some(key))
        .q("tagging", "")
        .h("content-md5", &md5_b64(xml.as_bytes()))
        .body(xml)
        .send()
        .await
}

async fn get_tags(c: &crate::common::Client, key: &str) -> Vec<(String, String)> {
    let r = c
        .req(Method::GET, "tags", Some(key))
        .q("tagging", "")
        .send()
        .await;
    r.ok();
    r.all("Key").into_iter().zip(r.all("Value")).collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn tags_at_creation_and_later() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("tags").await.ok();
    c.req(Method::PUT, "tags", Some("a"))
        .h("x-amz-tagging", "site=tokyo&team=fleet%20one")
        .body("data")
        .send()
        .await
        .ok();
    assert_eq!(
        get_tags(&c, "a").await,
        pairs(&[("site", "tokyo"), ("team", "fleet one")])
    );
    assert_eq!(
        c.get("tags", "a").await.header("x-amz-tagging-count"),
        Some("2")
    );
    put_tags(&c, "a", &[("site", "osaka")]).await.ok();
    assert_eq!(get_tags(&c, "a").await, pairs(&[("site", "osaka")]));
    assert_eq!(
        c.get("tags", "a").await.header("x-amz-tagging-count"),
        Some("1")
    );
    // Tagging changes neither the data nor the ETag.
    let g = c.get("tags", "a").await;
    assert_eq!(g.body.as_ref(), b"data");
    c.req(Method::DELETE, "tags", Some("a"))
        .q("tagging", "")
        .send()
        .await
        .ok();
    assert_eq!(get_tags(&c, "a").await, pairs(&[]));
    assert_eq!(c.get("tags", "a").await.header("x-amz-tagging-count"), None);
    // A new version starts with its own tags.
    put_tags(&c, "a", &[("old", "1")]).await.ok();
    c.put("tags", "a", "new").await.ok();
    assert_eq!(get_tags(&c, "a").await, pairs(&[]));
    // Refusals change nothing.
    put_tags(&c, "a", &[("k", "v")]).await.ok();
    put_tags(&c, "a", &[("aws:k", "v")])
        .await
        .err(400, "InvalidTag");
    put_tags(&c, "missing", &[("k", "v")])
        .await
        .err(404, "NoSuchKey");
    c.req(Method::PUT, "tags", Some("b"))
        .h("x-amz-tagging", "k=1&k=2")
        .body("x")
        .send()
        .await
        .err(400, "InvalidArgument");
    assert_eq!(get_tags(&c, "a").await, pairs(&[("k", "v")]));
    assert_eq!(c.list("tags", &[]).await.all("Key"), ["a"]);
    drop(c);
    s.shutdown().await;
}

#[tokio::test]
async fn a_tag_file_of_an_older_version_never_applies() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("tags").await.ok();
    c.put("tags", "k", "v1").await.ok();
    put_tags(&c, "k", &[("classification", "public")])
        .await
        .ok();
    let h = sha256_hex(b"k");
    let tag_file = dir
        .path()
        .join("buckets/tags/objects")
        .join(&h[0..2])
        .join(&h[2..4])
        .join(format!("{h}.tags"));
    let old = std::fs::read(&tag_file).expect("the tag file is beside the object");
    // A new version (with tags of its own) replaces the object and removes the tag file.
    c.req(Method::PUT, "tags", Some("k"))
        .h("x-amz-tagging", "classification=secret")
        .body("v2")
        .send()
        .await
        .ok();
    assert!(!tag_file.exists());
    drop(c);
    s.shutdown().await;
    // As if the process had died between the rename of the object and the removal of the tag
    // file: the old tag file is back.
    std::fs::write(&tag_file, old).expect("write");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    assert_eq!(
        get_tags(&c, "k").await,
        pairs(&[("classification", "secret")])
    );
    // Tags set after the restart apply, and survive the next one.
    put_tags(&c, "k", &[("classification", "internal")])
        .await
        .ok();
    drop(c);
    s.shutdown().await;
    let s = Server::start(dir.path()).await;
    let c = s.client();
    assert_eq!(
        get_tags(&c, "k").await,
        pairs(&[("classification", "internal")])
    );
    drop(c);
    s.shutdown().await;
}

#[tokio::test]
async fn tagging_racing_overwrites_never_outlives_its_version() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("tags").await.ok();
    c.put("tags", "k", "v0").await.ok();
    // Overwrites (without tags) race with PutObjectTagging on one key.
    let writes = async {
        for i in 0..20 {
            c.put("tags", "k", format!("v{i}")).await.ok();
        }
    };
    let taggings = async {
        for i in 0..20 {
            let r = put_tags(&c, "k", &[("n", &i.to_string())]).await;
            assert!(
                r.status == 200 || r.code().as_deref() == Some("OperationAborted"),
                "{}",
                r.text()
            );
        }
    };
    tokio::join!(writes, taggings);
    let before = get_tags(&c, "k").await;
    drop(c);
    s.shutdown().await;
    // What the index said is what the files say.
    let s = Server::start(dir.path()).await;
    let c = s.client();
    assert_eq!(get_tags(&c, "k").await, before);
    drop(c);
    s.shutdown().await;
}
