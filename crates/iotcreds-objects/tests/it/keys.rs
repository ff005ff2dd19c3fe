use std::path::Path;

use crate::common::Server;

fn all_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            all_files(&p, out)
        } else {
            out.push(p)
        }
    }
}

#[tokio::test]
async fn any_key_stays_inside_the_bucket() {
    let root = tempfile::tempdir().expect("tmp");
    let data = root.path().join("data");
    let s = Server::start(&data).await;
    let c = s.client();
    c.create_bucket("keys").await.ok();
    let k1024 = "k".repeat(1024);
    let keys = [
        "../../etc/passwd",
        "../outside",
        "a/../b",
        "//x",
        "/leading",
        ".",
        "..",
        "a",
        "a/",
        "a/b",
        "a//b",
        "ünïcödé/日本語/🦀",
        "spaces and +plus+ & ?query=1#frag",
        "%2F..%2F",
        k1024.as_str(),
    ];
    for (i, k) in keys.iter().enumerate() {
        c.put("keys", k, format!("body-{i}")).await.ok();
    }
    for (i, k) in keys.iter().enumerate() {
        let g = c.get("keys", k).await;
        assert_eq!(g.body, format!("body-{i}").as_bytes(), "key {k:?}");
    }
    let mut sorted: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    sorted.sort();
    assert_eq!(c.list("keys", &[]).await.all("Key"), sorted);
    // 1025 bytes is refused before anything is written
    c.put("keys", &"k".repeat(1025), "x")
        .await
        .err(400, "KeyTooLongError");
    // nothing escaped: every file is inside the data directory, object files have hex names
    let mut files = Vec::new();
    all_files(root.path(), &mut files);
    for f in &files {
        assert!(f.starts_with(&data), "{}", f.display());
    }
    let objects: Vec<_> = files
        .iter()
        .filter(|f| f.starts_with(data.join("buckets/keys/objects")))
        .collect();
    assert_eq!(objects.len(), keys.len());
    for f in objects {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(
            name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name}"
        );
    }
    assert!(!root.path().join("etc").exists() && !root.path().join("outside").exists());
    // deleting "a" leaves "a/" and "a/b"
    c.delete("keys", "a").await.ok();
    assert_eq!(c.get("keys", "a/").await.status, 200);
    assert_eq!(c.get("keys", "a/b").await.status, 200);
    c.get("keys", "a").await.err(404, "NoSuchKey");
}
