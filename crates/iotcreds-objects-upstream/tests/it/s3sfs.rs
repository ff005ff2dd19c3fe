//! The gateway in front of another real S3 implementation: the s3s project's `s3s-fs`
//! (crates.io, pinned and installed by `scripts/upstream-tools` into `.tools/bin`, or
//! `$IOTCREDS_S3S_FS`), with SigV4 authentication on. It keeps each object as a file under its
//! root, so the test reads what the upstream really stored: names byte for byte, contents, the
//! checksum the gateway sent in its aws-chunked trailer.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use http::Method;
use iotcreds_objects_upstream::UpstreamConfig;

use crate::common::{Gateway, PREFIX, crc32_b64, md5_hex};

const AK: &str = "S3SFSGATEWAY";
const SK: &str = "s3s-fs-gateway-secret-key-0123456789";

pub struct S3sFs {
    child: Child,
    pub endpoint: String,
    pub root: PathBuf,
}

fn binary() -> PathBuf {
    let path = std::env::var_os("IOTCREDS_S3S_FS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/bin/s3s-fs"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "{} is missing: these tests run the s3s project's s3s-fs server; install it with \
         `scripts/upstream-tools` (scripts/test and .ci/run do)",
        path.display()
    );
    path
}

impl S3sFs {
    pub fn start() -> Self {
        let root = std::env::temp_dir().join(format!(
            "iotcreds-s3s-fs-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&root).expect("root");
        let mut child = Command::new(binary())
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--access-key",
                AK,
                "--secret-key",
                SK,
            ])
            .arg(&root)
            .env("RUST_LOG", "s3s_fs=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn s3s-fs");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        // It logs its address once it listens; keep draining afterwards.
        let endpoint = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("s3s-fs exited before listening");
            };
            if let Some(at) = line.find("server is running at ") {
                break line[at + "server is running at ".len()..].trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            endpoint,
            root,
        }
    }

    pub fn file(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root.join(bucket).join(key)).ok()
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn gateway_config(fs: &S3sFs) -> UpstreamConfig {
    let mut c = UpstreamConfig::new(&fs.endpoint, AK, SK);
    c.bucket_prefix = Some(PREFIX.to_owned());
    c
}

#[tokio::test]
async fn objects_and_multipart_through_s3s_fs() {
    let fs = S3sFs::start();
    let gw = Gateway::start(gateway_config(&fs)).await;
    let c = gw.client();
    c.create_bucket("fsb").await.ok();
    assert!(fs.root.join("gw-fsb").is_dir());

    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    for key in [
        "plain.bin",
        "dir/sub/file.bin",
        "sp ace+plus%25",
        "été/日本語",
    ] {
        let put = c
            .req(Method::PUT, "fsb", Some(key))
            .h("content-type", "application/x-test")
            .h("x-amz-meta-origin", "gateway-test")
            .body(data.clone())
            .send()
            .await;
        put.ok();
        assert_eq!(
            put.header("etag"),
            Some(format!("\"{}\"", md5_hex(&data)).as_str())
        );
        // the file s3s-fs wrote is the object, under the key's exact name
        assert_eq!(
            fs.file("gw-fsb", key).as_deref(),
            Some(data.as_slice()),
            "{key}"
        );
        let get = c.get("fsb", key).await;
        assert_eq!(get.ok().body, data.as_slice(), "{key}");
        assert_eq!(get.header("content-type"), Some("application/x-test"));
        assert_eq!(get.header("x-amz-meta-origin"), Some("gateway-test"));
    }
    // the gateway's CRC32 trailer reached s3s-fs, which reports it when asked
    let r = c
        .req(Method::GET, "fsb", Some("plain.bin"))
        .h("x-amz-checksum-mode", "ENABLED")
        .send()
        .await;
    assert_eq!(
        r.ok().header("x-amz-checksum-crc32"),
        Some(crc32_b64(&data).as_str())
    );
    // ranges
    let r = c
        .req(Method::GET, "fsb", Some("plain.bin"))
        .h("range", "bytes=1000-1999")
        .send()
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(r.body, data[1000..2000]);
    assert_eq!(r.header("content-range"), Some("bytes 1000-1999/300000"));
    let head = c.head("fsb", "dir/sub/file.bin").await;
    assert_eq!(
        (head.status, head.header("content-length")),
        (200, Some("300000"))
    );
    c.get("fsb", "missing").await.err(404, "NoSuchKey");
    assert_eq!(c.head("fsb", "missing").await.status, 404);
    let mut listed = c.list("fsb", &[]).await.all("Key");
    listed.sort();
    assert_eq!(
        listed,
        [
            "dir/sub/file.bin",
            "plain.bin",
            "sp ace+plus%25",
            "été/日本語"
        ]
    );

    // multipart: parts streamed through UploadPart, completed through the SDK
    let id = c.create_upload("fsb", "multi.bin").await;
    let p1 = vec![b'a'; 5 * 1024 * 1024];
    let p2 = b"tail".to_vec();
    let mut etags = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2)] {
        let r = c.upload_part("fsb", "multi.bin", &id, n, p.clone()).await;
        r.ok();
        etags.push(r.header("etag").expect("etag").to_owned());
    }
    c.complete("fsb", "multi.bin", &id, &[(1, &etags[0]), (2, &etags[1])])
        .await
        .ok();
    let mut whole = p1.clone();
    whole.extend_from_slice(&p2);
    assert_eq!(
        fs.file("gw-fsb", "multi.bin").as_deref(),
        Some(whole.as_slice())
    );
    assert_eq!(c.get("fsb", "multi.bin").await.ok().body, whole.as_slice());

    // delete
    c.delete("fsb", "plain.bin").await.ok();
    assert!(fs.file("gw-fsb", "plain.bin").is_none());
    c.get("fsb", "plain.bin").await.err(404, "NoSuchKey");

    // the gateway's key is checked by s3s-fs: a wrong one is the gateway's problem
    let mut bad = gateway_config(&fs);
    bad.secret_access_key = "not-the-secret".to_owned();
    bad.max_attempts = 1;
    let gw2 = Gateway::start(bad).await;
    gw2.client()
        .get("fsb", "dir/sub/file.bin")
        .await
        .err(500, "InternalError");
}
