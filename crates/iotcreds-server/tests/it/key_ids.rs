//! Access key ids are checked for shape before anything is looked up with them, on every path
//! that takes one: the control plane (IAM, STS, IoT), S3 with a signed header (the GetObject
//! fast path and the s3s path) and S3 presigned URLs. A made-up id is refused as AWS refuses
//! an unknown one, and leaves nothing behind: the registry cache and the signing-key cache
//! hold exactly what they held before.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use iotcreds_sigv4::{Rules, SigningParams, UNSIGNED_PAYLOAD, payload_sha256};
use time::OffsetDateTime;

use crate::common::*;

struct Resp {
    status: u16,
    body: String,
}

impl Resp {
    fn code(&self) -> &str {
        self.body
            .split("<Code>")
            .nth(1)
            .and_then(|s| s.split("</Code>").next())
            .unwrap_or_default()
    }
}

async fn request(s: &TestServer, req: http::Request<Full<Bytes>>) -> Resp {
    let tcp = tokio::net::TcpStream::connect(s.running.api_addr)
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let mut body = String::from_utf8_lossy(&body).into_owned();
    if let Some(t) = parts.headers.get("x-amzn-ErrorType") {
        // rest-json errors carry their code in a header.
        body = format!("<Code>{}</Code>{body}", t.to_str().unwrap());
    }
    Resp { status, body }
}

/// A request signed (header-signed, or presigned when `presigned`) with `akid`.
#[allow(clippy::too_many_arguments)]
async fn signed(
    s: &TestServer,
    akid: &str,
    secret: &str,
    service: &str,
    region: &str,
    method: &str,
    path: &str,
    body: &[u8],
    presigned: bool,
) -> Resp {
    let host = s.running.api_addr.to_string();
    let headers = [("host", host.as_bytes())];
    let parts = iotcreds_sigv4::RequestParts {
        method,
        path,
        query: "",
        headers: &headers,
    };
    let hash = payload_sha256(body);
    let params = SigningParams {
        access_key_id: akid,
        secret_access_key: secret,
        session_token: None,
        region,
        service,
        time: OffsetDateTime::now_utc(),
        rules: if service == "s3" {
            Rules::S3
        } else {
            Rules::Generic {
                normalize_path: true,
            }
        },
        payload_hash: if presigned {
            UNSIGNED_PAYLOAD
        } else {
            hash.as_str()
        },
        content_sha256_header: service == "s3" && !presigned,
    };
    let mut req = http::Request::builder()
        .method(method)
        .header("host", &host);
    if presigned {
        let query = iotcreds_sigv4::presign(&parts, &params, 300).unwrap().query;
        req = req.uri(format!("{path}?{query}"));
    } else {
        req = req.uri(path);
        for (name, value) in iotcreds_sigv4::sign(&parts, &params).unwrap().headers {
            req = req.header(name, value);
        }
    }
    if service == "iam" || service == "sts" {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    request(
        s,
        req.body(Full::new(Bytes::copy_from_slice(body))).unwrap(),
    )
    .await
}

#[tokio::test]
async fn made_up_access_key_ids_are_refused_before_any_look_up() {
    let s = TestServer::start().await;
    s.seed().await;
    let root = s.registry().root();
    let (root_id, root_secret) = (root.access_key_id.clone(), root.secret.expose().to_owned());
    let location = format!(
        r#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>{REGION}</LocationConstraint></CreateBucketConfiguration>"#
    );
    let object = format!("/{BUCKET}/test.txt");
    for (method, path, body) in [
        ("PUT", format!("/{BUCKET}"), location.as_bytes()),
        ("PUT", object.clone(), b"hello".as_slice()),
    ] {
        let r = signed(
            &s,
            &root_id,
            &root_secret,
            "s3",
            REGION,
            method,
            &path,
            body,
            false,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // The legitimate paths, once each, so the caches hold what normal use puts there.
    let iam_body = b"Action=ListUsers&Version=2010-05-08";
    let r = signed(
        &s,
        &root_id,
        &root_secret,
        "iam",
        "us-east-1",
        "POST",
        "/",
        iam_body,
        false,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = signed(
        &s,
        &root_id,
        &root_secret,
        "s3",
        REGION,
        "GET",
        &object,
        b"",
        false,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello"));

    let registry = s.registry();
    let cache_before = registry.cache_bytes();
    let keys_before = registry.signing_keys().bytes();
    let opened_before = registry.keyring().opened_bytes();

    let made_up = [
        format!("AKIA{}", "Q".repeat(300 * 1024)),
        format!("AKIA{}", "Q".repeat(125)), // 129 characters
        "AKIA12345678901".to_owned(),       // 15
        "AKIDEXAMPLE123456789".to_owned(),  // not ours
        "ASIAIOSFODNN1EXAMPLE".to_owned(),  // 1 is not base 32
        format!("ASIA{}", "A".repeat(17)),  // 21 characters
        "ASIA0000000000000000".to_owned(),  // 0 is not base 32
    ];
    for akid in &made_up {
        let short = &akid[..akid.len().min(24)];
        if akid.len() > iotcreds_server::net::H1_MAX_BUF {
            // Longer than a request head may be: refused by the HTTP layer (431) before
            // anything reads the id, on the control plane and S3 alike.
            for (service, region, method, path, body) in [
                ("iam", "us-east-1", "POST", "/", iam_body.as_slice()),
                ("s3", REGION, "GET", object.as_str(), b"".as_slice()),
            ] {
                let r = signed(&s, akid, "x", service, region, method, path, body, false).await;
                assert_eq!(r.status, 431, "{service} {short}: {}", r.body);
            }
            continue;
        }
        // The control plane: InvalidClientTokenId (IAM, STS), UnrecognizedClientException (IoT).
        let r = signed(
            &s,
            akid,
            "x",
            "iam",
            "us-east-1",
            "POST",
            "/",
            iam_body,
            false,
        )
        .await;
        assert_eq!(
            (r.status, r.code()),
            (403, "InvalidClientTokenId"),
            "iam {short}: {}",
            r.body
        );
        assert!(
            r.body
                .contains("The security token included in the request is invalid.")
        );
        let sts_body = b"Action=GetCallerIdentity&Version=2011-06-15";
        let r = signed(
            &s,
            akid,
            "x",
            "sts",
            "us-east-1",
            "POST",
            "/",
            sts_body,
            false,
        )
        .await;
        assert_eq!(
            (r.status, r.code()),
            (403, "InvalidClientTokenId"),
            "sts {short}: {}",
            r.body
        );
        let r = signed(&s, akid, "x", "iot", REGION, "GET", "/things", b"", false).await;
        assert_eq!(
            (r.status, r.code()),
            (403, "UnrecognizedClientException"),
            "iot {short}: {}",
            r.body
        );
        // S3: a plain whole-object GET (the fast path's shape), a PUT (s3s), presigned.
        for (method, body) in [("GET", b"".as_slice()), ("PUT", b"x".as_slice())] {
            let r = signed(&s, akid, "x", "s3", REGION, method, &object, body, false).await;
            assert_eq!(
                (r.status, r.code()),
                (403, "InvalidAccessKeyId"),
                "s3 {method} {short}: {}",
                r.body
            );
        }
        if akid.len() < 16 * 1024 {
            // (A URI is at most 64 KiB.)
            let r = signed(&s, akid, "x", "s3", REGION, "GET", &object, b"", true).await;
            assert_eq!(
                (r.status, r.code()),
                (403, "InvalidAccessKeyId"),
                "presigned {short}: {}",
                r.body
            );
        }
    }
    // (The registry's change watcher may drop the cache meanwhile, never add to it.)
    assert!(
        registry.cache_bytes() <= cache_before,
        "the registry cache took made-up ids"
    );
    assert_eq!(
        registry.signing_keys().bytes(),
        keys_before,
        "signing keys were derived"
    );
    assert!(registry.keyring().opened_bytes() <= opened_before);

    // A well-formed id of nobody is refused the same way (its absence may be cached, within
    // the cache's byte bound).
    let nobody = "AKIAAAAAAAAAAAAAAAAA";
    let r = signed(
        &s,
        nobody,
        "x",
        "iam",
        "us-east-1",
        "POST",
        "/",
        iam_body,
        false,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "InvalidClientTokenId"),
        "{}",
        r.body
    );
    assert!(registry.cache_bytes() <= 9 * iotcreds_registry::MAX_BYTES_PER_MAP);
    // The legitimate client is served throughout.
    let r = signed(
        &s,
        &root_id,
        &root_secret,
        "s3",
        REGION,
        "GET",
        &object,
        b"",
        false,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello"));
}
