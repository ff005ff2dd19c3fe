use std::time::Duration;

use http::Method;
use iotcreds_objects::fs::{CleanupReport, FsBackend, FsConfig};

use crate::common::{Server, small_parts};

#[tokio::test]
async fn objects_and_uploads_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(dir.path()).await;
    let c = s.client();
    c.create_bucket("keep").await.ok();
    c.req(Method::PUT, "keep", Some("a/b"))
        .h("content-type", "text/x")
        .h("x-amz-meta-k", "v")
        .body("data")
        .send()
        .await
        .ok();
    c.put("keep", "a", "other").await.ok();
    let id = c.create_upload("keep", "mp").await;
    let e1 = c
        .upload_part("keep", "mp", &id, 1, "one--")
        .await
        .header("etag")
        .map(str::to_owned)
        .unwrap_or_default();
    drop(c);
    s.shutdown().await;

    let s = Server::start(dir.path()).await;
    let c = s.client();
    let g = c.get("keep", "a/b").await;
    assert_eq!(
        (
            g.body.as_ref(),
            g.header("content-type"),
            g.header("x-amz-meta-k")
        ),
        (&b"data"[..], Some("text/x"), Some("v"))
    );
    assert_eq!(c.list("keep", &[]).await.all("Key"), ["a", "a/b"]);
    let up = c
        .req(Method::GET, "keep", None)
        .q("uploads", "")
        .send()
        .await;
    assert_eq!(up.all("UploadId"), std::slice::from_ref(&id));
    let e2 = c
        .upload_part("keep", "mp", &id, 2, "two")
        .await
        .header("etag")
        .map(str::to_owned)
        .unwrap_or_default();
    c.complete("keep", "mp", &id, &[(1, &e1), (2, &e2)])
        .await
        .ok();
    assert_eq!(c.get("keep", "mp").await.body, "one--two");
    drop(c);
    s.shutdown().await;

    let s = Server::start(dir.path()).await;
    let c = s.client();
    let g = c.get("keep", "mp").await;
    assert_eq!(
        (g.body.as_ref(), g.header("x-amz-mp-parts-count")),
        (&b"one--two"[..], Some("2"))
    );
    assert!(
        c.req(Method::GET, "keep", None)
            .q("uploads", "")
            .send()
            .await
            .all("UploadId")
            .is_empty()
    );
}

#[tokio::test]
async fn open_removes_leftovers_and_ignores_junk() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let s = Server::start(dir.path()).await;
        let c = s.client();
        c.create_bucket("junk").await.ok();
        c.put("junk", "k", "kept").await.ok();
        drop(c);
        s.shutdown().await;
    }
    // what a crash mid-upload leaves: a partial temporary file, a half-built bucket dir
    std::fs::write(dir.path().join("tmp/0123.obj"), b"IOCOBJ\r\npartial").expect("write");
    std::fs::create_dir_all(dir.path().join("tmp/4567.bucket/objects")).expect("mkdir");
    // junk that is not ours inside the tree is ignored, not served
    std::fs::create_dir_all(dir.path().join("buckets/junk/objects/00/00")).expect("mkdir");
    std::fs::write(dir.path().join("buckets/junk/objects/00/00/notahash"), b"x").expect("write");
    std::fs::write(
        dir.path()
            .join("buckets/junk/objects/00/00")
            .join("0".repeat(64)),
        b"corrupt",
    )
    .expect("write");
    let s = Server::start(dir.path()).await;
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp"))
            .expect("tmp")
            .count(),
        0
    );
    let c = s.client();
    assert_eq!(c.list("junk", &[]).await.all("Key"), ["k"]);
    assert_eq!(c.get("junk", "k").await.body, "kept");
}

#[tokio::test]
async fn one_backend_per_directory() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = FsBackend::open(dir.path().to_path_buf(), FsConfig::default()).expect("open");
    let second = FsBackend::open(dir.path().to_path_buf(), FsConfig::default());
    assert_eq!(
        second.map(|_| ()).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::WouldBlock)
    );
    drop(first);
    FsBackend::open(dir.path().to_path_buf(), FsConfig::default()).expect("reopen after release");
}

#[tokio::test]
async fn cleanup_aborts_expired_uploads_and_sweeps_temp_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = FsConfig {
        multipart_max_age: Some(Duration::from_secs(3600)),
        ..small_parts()
    };
    let s = Server::start_with(dir.path(), config).await;
    let c = s.client();
    c.create_bucket("cln").await.ok();
    let fresh = c.create_upload("cln", "fresh").await;
    assert_eq!(
        s.backend.cleanup().await.expect("cleanup"),
        CleanupReport::default()
    );
    std::fs::write(dir.path().join("tmp/stray.obj"), b"x").expect("write");
    let r = s.backend.cleanup().await.expect("cleanup");
    assert_eq!(
        r,
        CleanupReport {
            aborted_uploads: 0,
            removed_temp_entries: 1
        }
    );
    drop(c);
    s.shutdown().await;

    // the same data with a zero max age: every upload is expired
    let config = FsConfig {
        multipart_max_age: Some(Duration::ZERO),
        ..small_parts()
    };
    let s = Server::start_with(dir.path(), config).await;
    let report = s.backend.cleanup().await.expect("cleanup");
    assert_eq!(report.aborted_uploads, 1);
    let c = s.client();
    c.upload_part("cln", "fresh", &fresh, 1, "x")
        .await
        .err(404, "NoSuchUpload");
    assert_eq!(
        std::fs::read_dir(dir.path().join("buckets/cln/uploads"))
            .expect("dir")
            .count(),
        0
    );
    // the background task runs the same cleanup
    let task = s.backend.spawn_cleanup(Duration::from_secs(3600));
    task.abort();
}

/// Every file and directory below the root, with its mode (permission bits only).
fn modes_below(root: &std::path::Path) -> Vec<(std::path::PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let meta = entry.metadata().expect("metadata");
            out.push((
                entry.path(),
                meta.is_dir(),
                meta.permissions().mode() & 0o7777,
            ));
            if meta.is_dir() {
                todo.push(entry.path());
            }
        }
    }
    out
}

/// Object files, parts, upload and bucket metadata, the lock and the format marker are 0600 and
/// every directory 0700, whatever the process umask (the test's umask is the usual 022, under
/// which plain `create` would give 0644/0755).
#[tokio::test]
async fn every_file_and_directory_is_private_to_the_owner() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("objects");
    let s = Server::start(&root).await;
    let c = s.client();
    c.create_bucket("private").await.ok();
    c.put("private", "a/b/c", "secret data").await.ok();
    let id = c.create_upload("private", "mp").await;
    let e1 = c
        .upload_part("private", "mp", &id, 1, "part-1")
        .await
        .header("etag")
        .map(str::to_owned)
        .unwrap_or_default();
    let pending = c.create_upload("private", "pending").await;
    c.upload_part("private", "pending", &pending, 1, "kept")
        .await
        .ok();
    c.complete("private", "mp", &id, &[(1, &e1)]).await.ok();
    drop(c);

    let found = modes_below(&root);
    let files = found.iter().filter(|(_, d, _)| !d).count();
    let dirs = found.iter().filter(|(_, d, _)| *d).count();
    assert!(files >= 6 && dirs >= 6, "{found:?}");
    for (path, is_dir, mode) in &found {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} is {mode:o}", path.display());
    }
    use std::os::unix::fs::PermissionsExt as _;
    let root_mode = std::fs::metadata(&root).expect("root").permissions().mode() & 0o777;
    assert_eq!(root_mode, 0o700);
    s.shutdown().await;
}
