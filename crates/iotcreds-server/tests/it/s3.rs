//! The S3 endpoint through the whole pipeline (SigV4 → session token → policy → storage), with
//! requests signed by the project's SigV4 signer so each refusal can be crafted exactly. The
//! real clients (aws-cli, boto3) are exercised by the interop tests.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use iotcreds_sigv4::{Rules, SigningParams, UNSIGNED_PAYLOAD, payload_sha256};
use iotcreds_token::{Claims, SessionKind};
use time::OffsetDateTime;

use crate::common::*;

/// Credentials a client signs with.
#[derive(Clone)]
struct Creds {
    akid: String,
    secret: String,
    token: Option<String>,
}

struct Resp {
    status: u16,
    body: String,
}

impl Resp {
    fn code(&self) -> String {
        self.body
            .split("<Code>")
            .nth(1)
            .and_then(|s| s.split("</Code>").next())
            .unwrap_or_default()
            .to_owned()
    }
}

fn root(s: &TestServer) -> Creds {
    let r = s.registry().root();
    Creds {
        akid: r.access_key_id.clone(),
        secret: r.secret.expose().to_owned(),
        token: None,
    }
}

async fn device_creds(s: &TestServer, device: &Device, thing: Option<&str>) -> Creds {
    let a = s.credentials(Some(device), ALIAS, thing).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let c = &a.json()["credentials"];
    Creds {
        akid: c["accessKeyId"].as_str().unwrap().into(),
        secret: c["secretAccessKey"].as_str().unwrap().into(),
        token: Some(c["sessionToken"].as_str().unwrap().into()),
    }
}

/// How to sign (and then spoil) a request.
#[derive(Clone, Copy, Default)]
struct Twist {
    /// Sign at this offset from now.
    skew_secs: i64,
    /// Flip the last signature digit.
    tamper_signature: bool,
    /// Drop the session token header after signing.
    drop_token: bool,
    /// Send no authentication at all.
    unsigned: bool,
    /// Add an unsigned `x-amz-meta-*` header after signing.
    unsigned_amz_header: bool,
    /// Sign for another region.
    other_region: bool,
}

async fn send(
    s: &TestServer,
    method: &str,
    path: &str,
    body: &[u8],
    creds: &Creds,
    twist: Twist,
) -> Resp {
    let host = s.running.api_addr.to_string();
    let hash = payload_sha256(body);
    let headers = [("host", host.as_bytes())];
    let parts = iotcreds_sigv4::RequestParts {
        method,
        path,
        query: "",
        headers: &headers,
    };
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    let parts = iotcreds_sigv4::RequestParts {
        path: path_only,
        query,
        ..parts
    };
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", &host);
    if !twist.unsigned {
        let signed = iotcreds_sigv4::sign(
            &parts,
            &SigningParams {
                access_key_id: &creds.akid,
                secret_access_key: &creds.secret,
                session_token: creds.token.as_deref(),
                region: if twist.other_region {
                    "us-west-2"
                } else {
                    REGION
                },
                service: "s3",
                time: OffsetDateTime::now_utc() + time::Duration::seconds(twist.skew_secs),
                rules: Rules::S3,
                payload_hash: hash.as_str(),
                content_sha256_header: true,
            },
        )
        .unwrap();
        for (name, mut value) in signed.headers {
            if twist.drop_token && name.eq_ignore_ascii_case("x-amz-security-token") {
                continue;
            }
            if twist.tamper_signature && name == "Authorization" {
                let last = value.pop().unwrap();
                value.push(if last == '0' { '1' } else { '0' });
            }
            req = req.header(name, value);
        }
    }
    if twist.unsigned_amz_header {
        req = req.header("x-amz-meta-sneaky", "1");
    }
    request(
        s,
        req.body(Full::new(Bytes::copy_from_slice(body))).unwrap(),
    )
    .await
}

/// CreateBucket's body for this region (AWS requires it outside us-east-1).
fn location() -> Vec<u8> {
    format!(
        r#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>{REGION}</LocationConstraint></CreateBucketConfiguration>"#
    )
    .into_bytes()
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
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Root makes the seed bucket with `test.txt`; the seed role may list it and read objects.
async fn seeded(s: &TestServer) -> Device {
    let device = s.seed().await;
    let root = root(s);
    let r = send(
        s,
        "PUT",
        &format!("/{BUCKET}"),
        &location(),
        &root,
        Twist::default(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        s,
        "PUT",
        &format!("/{BUCKET}/test.txt"),
        b"hello from iotcreds\n",
        &root,
        Twist::default(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    device
}

#[tokio::test]
async fn the_seed_role_reads_and_lists_and_nothing_else() {
    let s = TestServer::start().await;
    let device = seeded(&s).await;
    let creds = device_creds(&s, &device, Some(THING)).await;
    let r = send(
        &s,
        "GET",
        &format!("/{BUCKET}/test.txt"),
        b"",
        &creds,
        Twist::default(),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello from iotcreds\n"));
    let r = send(
        &s,
        "GET",
        &format!("/{BUCKET}?list-type=2"),
        b"",
        &creds,
        Twist::default(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<Key>test.txt</Key>"));
    // Not allowed: writing, deleting, another bucket, listing buckets.
    for (method, path) in [
        ("PUT", format!("/{BUCKET}/new.txt")),
        ("DELETE", format!("/{BUCKET}/test.txt")),
        ("GET", "/other-bucket/test.txt".to_owned()),
        ("GET", "/other-bucket?list-type=2".to_owned()),
        ("GET", "/".to_owned()),
        ("PUT", "/device-made-bucket".to_owned()),
    ] {
        let r = send(&s, method, &path, b"x", &creds, Twist::default()).await;
        assert_eq!(
            (r.status, r.code()),
            (403, "AccessDenied".to_owned()),
            "{method} {path}: {}",
            r.body
        );
    }
    // Nothing was written by the refused PUT.
    let r = send(
        &s,
        "GET",
        &format!("/{BUCKET}/new.txt"),
        b"",
        &root(&s),
        Twist::default(),
    )
    .await;
    assert_eq!(r.code(), "NoSuchKey");
}

#[tokio::test]
async fn per_thing_prefixes_with_credentials_iot_thing_name() {
    let s = TestServer::start().await;
    let prefix_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::{BUCKET}/${{credentials-iot:ThingName}}/*"}}]}}"#
    );
    s.create_role(ROLE, TRUST, 3600, Some(&prefix_policy)).await;
    s.create_alias(ALIAS, ROLE, 3600).await;
    s.allow_alias_policy(POLICY, ALIAS).await;
    let root = root(&s);
    assert_eq!(
        send(
            &s,
            "PUT",
            &format!("/{BUCKET}"),
            &location(),
            &root,
            Twist::default()
        )
        .await
        .status,
        200
    );
    let mut creds = Vec::new();
    for thing in ["Thing1", "Thing2"] {
        s.create_thing(thing, &[]).await;
        let d = s.device().await;
        s.attach_policy(POLICY, &d).await;
        s.attach_thing(thing, &d).await;
        creds.push((thing, device_creds(&s, &d, Some(thing)).await));
    }
    for (thing, c) in &creds {
        let own = format!("/{BUCKET}/{thing}/log.txt");
        assert_eq!(
            send(&s, "PUT", &own, thing.as_bytes(), c, Twist::default())
                .await
                .status,
            200
        );
        assert_eq!(
            send(&s, "GET", &own, b"", c, Twist::default()).await.status,
            200
        );
    }
    let (_, c1) = &creds[0];
    let r = send(
        &s,
        "GET",
        &format!("/{BUCKET}/Thing2/log.txt"),
        b"",
        c1,
        Twist::default(),
    )
    .await;
    assert_eq!(r.code(), "AccessDenied");
    let r = send(
        &s,
        "PUT",
        &format!("/{BUCKET}/Thing2/evil.txt"),
        b"x",
        c1,
        Twist::default(),
    )
    .await;
    assert_eq!(r.code(), "AccessDenied");
}

#[tokio::test]
async fn refusals_have_the_right_s3_errors() {
    let s = TestServer::start().await;
    let device = seeded(&s).await;
    let creds = device_creds(&s, &device, Some(THING)).await;
    let get = format!("/{BUCKET}/test.txt");
    let cases: Vec<(&str, Creds, Twist, u16, &str)> = vec![
        (
            "tampered signature",
            creds.clone(),
            Twist {
                tamper_signature: true,
                ..Default::default()
            },
            403,
            "SignatureDoesNotMatch",
        ),
        (
            "skewed clock",
            creds.clone(),
            Twist {
                skew_secs: -20 * 60,
                ..Default::default()
            },
            403,
            "RequestTimeTooSkewed",
        ),
        (
            "clock in the future",
            creds.clone(),
            Twist {
                skew_secs: 20 * 60,
                ..Default::default()
            },
            403,
            "RequestTimeTooSkewed",
        ),
        (
            "unsigned request",
            creds.clone(),
            Twist {
                unsigned: true,
                ..Default::default()
            },
            403,
            "AccessDenied",
        ),
        (
            "unsigned x-amz header",
            creds.clone(),
            Twist {
                unsigned_amz_header: true,
                ..Default::default()
            },
            403,
            "AccessDenied",
        ),
        (
            "other region",
            creds.clone(),
            Twist {
                other_region: true,
                ..Default::default()
            },
            400,
            "AuthorizationHeaderMalformed",
        ),
        (
            "unknown access key",
            Creds {
                akid: "AKIAIOSFODNN7EXAMPLE".into(),
                secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
                token: None,
            },
            Twist::default(),
            403,
            "InvalidAccessKeyId",
        ),
        (
            "temporary key without its token",
            Creds {
                token: None,
                ..creds.clone()
            },
            Twist::default(),
            403,
            "InvalidAccessKeyId",
        ),
    ];
    for (what, c, twist, status, code) in cases {
        let r = send(&s, "GET", &get, b"", &c, twist).await;
        assert_eq!(
            (r.status, r.code()),
            (status, code.to_owned()),
            "{what}: {}",
            r.body
        );
    }
    // The token dropped after signing: the signature no longer matches what was sent.
    let r = send(
        &s,
        "GET",
        &get,
        b"",
        &creds,
        Twist {
            drop_token: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test]
async fn tampered_foreign_and_expired_tokens_are_refused() {
    let s = TestServer::start().await;
    let device = seeded(&s).await;
    let creds = device_creds(&s, &device, Some(THING)).await;
    let get = format!("/{BUCKET}/test.txt");
    // One changed character in the token.
    let mut token = creds.token.clone().unwrap();
    let c = token.pop().unwrap();
    token.push(if c == 'A' { 'B' } else { 'A' });
    let r = send(
        &s,
        "GET",
        &get,
        b"",
        &Creds {
            token: Some(token),
            ..creds.clone()
        },
        Twist::default(),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidToken".to_owned()),
        "{}",
        r.body
    );
    // Another session's token with this session's key.
    let other = device_creds(&s, &device, Some(THING)).await;
    let r = send(
        &s,
        "GET",
        &get,
        b"",
        &Creds {
            token: other.token,
            ..creds.clone()
        },
        Twist::default(),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidToken".to_owned()),
        "{}",
        r.body
    );
    // A token that expired a second ago, sealed by this server's ring.
    let ring = s.registry().keyring();
    let akid = ring.new_access_key_id().unwrap();
    let role = s.registry().role(ROLE).await.unwrap().unwrap();
    let claims = Claims {
        access_key_id: akid.clone(),
        kind: SessionKind::IotCertificate,
        account: s.registry().account_id().into(),
        role_name: ROLE.into(),
        role_id: role.role.id.clone(),
        role_path: "/".into(),
        session_name: device.id.clone(),
        issued_at_ms: now_ms() - 3_601_000,
        expires_at_ms: now_ms() - 1_000,
        certificate_id: Some(device.id.clone()),
        thing_name: Some(THING.into()),
        thing_type: None,
        source_arn: None,
        tags: vec![],
        transitive_keys: vec![],
    };
    let expired = Creds {
        akid: akid.clone(),
        secret: ring.secret_for(&akid).unwrap().expose().into(),
        token: Some(ring.seal(&claims).unwrap()),
    };
    let r = send(&s, "GET", &get, b"", &expired, Twist::default()).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "ExpiredToken".to_owned()),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn presigned_urls_expire_and_are_capped_at_seven_days() {
    let s = TestServer::start().await;
    let device = seeded(&s).await;
    let creds = device_creds(&s, &device, Some(THING)).await;
    let host = s.running.api_addr.to_string();
    let headers = [("host", host.as_bytes())];
    let path = format!("/{BUCKET}/test.txt");
    let presign = |at: OffsetDateTime, expires: u32| {
        let parts = iotcreds_sigv4::RequestParts {
            method: "GET",
            path: &path,
            query: "",
            headers: &headers,
        };
        iotcreds_sigv4::presign(
            &parts,
            &SigningParams {
                access_key_id: &creds.akid,
                secret_access_key: &creds.secret,
                session_token: creds.token.as_deref(),
                region: REGION,
                service: "s3",
                time: at,
                rules: Rules::S3,
                payload_hash: UNSIGNED_PAYLOAD,
                content_sha256_header: false,
            },
            expires,
        )
        .unwrap()
        .query
    };
    let get = |query: String| {
        http::Request::get(format!("{path}?{query}"))
            .header("host", &host)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let now = OffsetDateTime::now_utc();
    let r = request(&s, get(presign(now, 300))).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello from iotcreds\n"));
    let r = request(&s, get(presign(now - time::Duration::hours(2), 3600))).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "AccessDenied".to_owned()),
        "{}",
        r.body
    );
    assert!(r.body.contains("Request has expired"), "{}", r.body);

    // Correctly signed, but for longer than the 7-day maximum.
    let date = iotcreds_types::time_fmt::iso8601_seconds(now_ms()).replace(['-', ':'], "");
    let scope = format!("{}/{REGION}/s3/aws4_request", &date[..8]);
    let enc = |v: &str| {
        percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={date}&X-Amz-Expires=604801&X-Amz-Security-Token={}&X-Amz-SignedHeaders=host",
        enc(&format!("{}/{scope}", creds.akid)),
        enc(creds.token.as_deref().unwrap()),
    );
    let parts = iotcreds_sigv4::RequestParts {
        method: "GET",
        path: &path,
        query: &query,
        headers: &headers,
    };
    let creq = iotcreds_sigv4::canonical_request(&parts, Rules::S3, "host", UNSIGNED_PAYLOAD, true)
        .unwrap();
    let sts = iotcreds_sigv4::string_to_sign(&date, &scope, &creq);
    let key = iotcreds_sigv4::SigningKey::derive(&creds.secret, &date[..8], REGION, "s3");
    let signature = key.sign(&sts);
    let r = request(
        &s,
        get(format!("{query}&X-Amz-Signature={}", signature.as_str())),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.code(), "AuthorizationQueryParametersError", "{}", r.body);
}

#[tokio::test]
async fn sigv2_is_refused() {
    let s = TestServer::start().await;
    let host = s.running.api_addr.to_string();
    let req = http::Request::get(format!("/{BUCKET}/test.txt"))
        .header("host", &host)
        .header(
            "authorization",
            "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
        )
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = request(&s, req).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidRequest".to_owned()),
        "{}",
        r.body
    );
}
