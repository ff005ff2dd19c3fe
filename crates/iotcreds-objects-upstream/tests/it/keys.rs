//! Object keys arrive at the upstream byte for byte: `..` and `.` segments, `//`, percent
//! signs and percent-encodings, reserved characters and non-ASCII keys are stored under exactly
//! the name the device used, by PutObject and by a multipart upload, and read back under it.
//! The test lists moto directly (what the upstream really stores).

use http::Method;

use crate::common::Env;

const KEYS: &[&str] = &[
    "a/../b",
    "../up",
    "./here",
    "x//y",
    "//lead",
    "trail/",
    "dots/.../x",
    "100%",
    "pre%2Fencoded",
    "%41%42",
    "sp ace+plus",
    "q?x#y&z=1;k=v",
    "été/日本語.txt",
    "emoji-😀",
    "tilde~_-.!*'()",
];

#[tokio::test]
async fn keys_arrive_at_the_upstream_byte_for_byte() {
    let env = Env::start().await;
    let (c, up) = (env.device(), env.upstream());
    c.create_bucket("keys").await.ok();
    for key in KEYS {
        c.put("keys", key, format!("body of {key}")).await.ok();
    }
    // one more through a multipart upload (UploadPart is sent by hand too)
    let mp = "multi//part/../é%20";
    let id = c.create_upload("keys", mp).await;
    let part = c.upload_part("keys", mp, &id, 1, "only part").await;
    part.ok();
    let etag = part.header("etag").expect("etag").to_owned();
    c.complete("keys", mp, &id, &[(1, &etag)]).await.ok();

    let listing = up.list("gw-keys", &[]).await;
    listing.ok();
    let mut stored = listing.all("Key");
    stored.sort();
    let mut want: Vec<String> = KEYS.iter().map(|k| (*k).to_owned()).collect();
    want.push(mp.to_owned());
    want.sort();
    assert_eq!(stored, want);

    for key in KEYS {
        let direct = up.get("gw-keys", key).await;
        assert_eq!(direct.ok().body, format!("body of {key}"), "{key}");
        let through = c.get("keys", key).await;
        assert_eq!(through.ok().body, format!("body of {key}"), "{key}");
        assert_eq!(c.head("keys", key).await.status, 200, "{key}");
    }
    assert_eq!(c.get("keys", mp).await.ok().body, "only part");
    // the device's listing names them the same way
    let mut listed = c.list("keys", &[]).await.all("Key");
    listed.sort();
    assert_eq!(listed, want);
    // a near miss is another key
    c.req(Method::GET, "keys", Some("a/b"))
        .send()
        .await
        .err(404, "NoSuchKey");
}
