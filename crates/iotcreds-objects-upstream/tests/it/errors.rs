//! Error mapping, one test per class: upstream answers the device can act on pass through; the
//! gateway's own credential/permission failures become InternalError; an unreachable, slow or
//! failing upstream becomes ServiceUnavailable (SlowDown when it throttles).

use http::Method;
use iotcreds_objects_upstream::UpstreamConfig;

use crate::common::{Env, Gateway, PREFIX};
use crate::moto::{Moto, free_port};
use crate::scripted::{Scripted, error_xml};

/// A body sent to the device must not tell it anything about the gateway's upstream account.
#[track_caller]
fn reveals_nothing(text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "device response reveals {s:?}: {text}");
    }
}

fn config(endpoint: &str, ak: &str, sk: &str) -> UpstreamConfig {
    let mut c = UpstreamConfig::new(endpoint, ak, sk);
    c.bucket_prefix = Some(PREFIX.to_owned());
    c.max_attempts = 1;
    c.operation_timeout_secs = 30;
    c
}

#[tokio::test]
async fn device_errors_pass_through_from_moto() {
    let env = Env::start().await;
    let c = env.device();
    c.create_bucket("errs").await.ok();
    c.put("errs", "k", "0123456789").await.ok();
    c.get("errs", "missing").await.err(404, "NoSuchKey");
    c.get("nobucket", "k").await.err(404, "NoSuchBucket");
    c.req(Method::GET, "errs", Some("k"))
        .h("range", "bytes=100-200")
        .send()
        .await
        .err(416, "InvalidRange");
    c.req(Method::GET, "errs", Some("k"))
        .h("if-match", "\"0000\"")
        .send()
        .await
        .err(412, "PreconditionFailed");
    c.req(Method::DELETE, "errs", None)
        .send()
        .await
        .err(409, "BucketNotEmpty");
    let r = c
        .req(Method::GET, "errs", Some("k"))
        .q("uploadId", "nosuchupload")
        .send()
        .await;
    r.err(404, "NoSuchUpload");
    reveals_nothing(&r.text(), &[&env.moto.gateway.0, "gw-errs", "UPSTREAM"]);
}

/// Wrong secret, unknown key, or a user without permission: the gateway's problem, not the
/// device's. moto checks SigV4 and IAM policy because the tests start it with auth enforced.
#[tokio::test]
async fn upstream_auth_failures_are_internal_errors() {
    let moto = Moto::start();
    // set up a bucket and an object with the right credentials
    let good = Gateway::start(config(&moto.endpoint, &moto.gateway.0, &moto.gateway.1)).await;
    good.client().create_bucket("auth").await.ok();
    good.client().put("auth", "obj", "data").await.ok();
    let cases = [
        (
            "wrong secret",
            moto.gateway.0.clone(),
            "not-the-secret-0123456789".to_owned(),
        ),
        (
            "unknown key",
            "AKIAUNKNOWNKEY000000".to_owned(),
            moto.gateway.1.clone(),
        ),
        (
            "no permission",
            moto.nopolicy.0.clone(),
            moto.nopolicy.1.clone(),
        ),
    ];
    for (what, ak, sk) in cases {
        let gw = Gateway::start(config(&moto.endpoint, &ak, &sk)).await;
        let c = gw.client();
        for r in [
            c.get("auth", "obj").await,
            c.put("auth", "new", "x").await,
            c.list("auth", &[]).await,
        ] {
            assert_eq!(
                (r.status, r.code().as_deref()),
                (500, Some("InternalError")),
                "{what}: {}",
                r.text()
            );
            reveals_nothing(
                &r.text(),
                &[
                    &ak,
                    &sk,
                    "SignatureDoesNotMatch",
                    "InvalidAccessKeyId",
                    "AccessDenied",
                    "gw-auth",
                ],
            );
        }
        // HEAD has no body: the status alone says it
        assert_eq!(c.head("auth", "obj").await.status, 500, "{what}");
    }
    // nothing was written by the failing gateways
    good.client().get("auth", "new").await.err(404, "NoSuchKey");
}

#[tokio::test]
async fn unreachable_upstream_is_service_unavailable() {
    let port = free_port();
    let mut cfg = config(&format!("http://127.0.0.1:{port}"), "AKID", "SECRET");
    cfg.max_attempts = 2;
    cfg.connect_timeout_secs = 2;
    let gw = Gateway::start(cfg).await;
    let c = gw.client();
    let r = c.get("bkt", "k").await;
    r.err(503, "ServiceUnavailable");
    reveals_nothing(&r.text(), &[&port.to_string(), "127.0.0.1", "refused"]);
    c.put("bkt", "k", "data")
        .await
        .err(503, "ServiceUnavailable");
    c.create_bucket("bkt").await.err(503, "ServiceUnavailable");
}

/// An upstream that accepts the connection and never answers: the first-byte timeout (the
/// hand-written reads) and the operation timeout (the SDK's operations).
#[tokio::test]
async fn silent_upstream_times_out_as_service_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            conns.push(s);
        }
    });
    let mut cfg = config(&format!("http://{addr}"), "AKID", "SECRET");
    cfg.operation_timeout_secs = 1;
    cfg.first_byte_timeout_secs = 1;
    let gw = Gateway::start(cfg).await;
    let c = gw.client();
    for op in ["get", "head", "list", "put"] {
        let started = std::time::Instant::now();
        let r = match op {
            "get" => c.get("bkt", "k").await,
            "head" => c.head("bkt", "k").await,
            "list" => c.list("bkt", &[]).await,
            _ => c.put("bkt", "k", "data").await,
        };
        assert_eq!(r.status, 503, "{op}: {}", r.text());
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(10),
            "{op} took {took:?}"
        );
    }
    held.abort();
}

/// Upstream answers moto never gives, through the real SDK path.
#[tokio::test]
async fn scripted_upstream_answers() {
    let up = Scripted::start(|s| {
        let key = s.path.split('?').next().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned();
        let xml = |status, code: &str, msg: &str| (status, vec![("content-type", "application/xml".to_owned())], error_xml(code, msg));
        match key.as_str() {
            "slowdown" => xml(503, "SlowDown", "Please reduce your request rate."),
            "unavailable" => xml(503, "ServiceUnavailable", "upstream maintenance"),
            "internal" => xml(500, "InternalError", "disk on fire at node-7"),
            "badgateway" => (502, vec![], "<html>bad gateway</html>".to_owned()),
            "throttled" => (429, vec![], String::new()),
            "baddigest" => xml(400, "BadDigest", "The Content-MD5 you specified did not match what we received."),
            "notimpl" => xml(501, "NotImplemented", "A header you provided implies functionality that is not implemented"),
            "redirect" => xml(301, "PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint."),
            "denied" => xml(403, "AccessDenied", "User arn:aws:iam::123456789012:user/gateway is not authorized"),
            "custom" => xml(400, "XMinioInvalidObjectName", "Object name contains unsupported characters."),
            "named" => xml(404, "NoSuchBucket", "The bucket gw-named does not exist (gw-named)"),
            _ => (404, vec![], String::new()),
        }
    })
    .await;
    let gw = Gateway::start(config(&up.endpoint, "AKIDSCRIPTED", "SECRETSCRIPTED")).await;
    let c = gw.client();
    c.get("bkt", "slowdown").await.err(503, "SlowDown");
    c.get("bkt", "throttled").await.err(503, "SlowDown");
    c.get("bkt", "unavailable")
        .await
        .err(503, "ServiceUnavailable");
    let r = c.get("bkt", "internal").await;
    r.err(503, "ServiceUnavailable");
    reveals_nothing(&r.text(), &["node-7", "UPSTREAMREQID"]);
    c.get("bkt", "badgateway")
        .await
        .err(503, "ServiceUnavailable");
    let r = c.put("bkt", "baddigest", "data").await;
    r.err(400, "BadDigest");
    assert_eq!(
        r.one("Message").as_deref(),
        Some("The Content-MD5 you specified did not match what we received.")
    );
    reveals_nothing(&r.text(), &["UPSTREAMREQID", "upstream-host-id"]);
    c.get("bkt", "notimpl").await.err(501, "NotImplemented");
    c.get("bkt", "redirect").await.err(500, "InternalError");
    let r = c.get("bkt", "denied").await;
    r.err(500, "InternalError");
    reveals_nothing(&r.text(), &["123456789012", "arn:"]);
    // codes s3s does not know pass through as they are
    c.get("bkt", "custom")
        .await
        .err(400, "XMinioInvalidObjectName");
    // upstream bucket names in messages become device names
    let r = c.get("named", "named").await;
    r.err(404, "NoSuchBucket");
    assert_eq!(
        r.one("Message").as_deref(),
        Some("The bucket named does not exist (named)")
    );
    // HEAD: no body, the status decides
    assert_eq!(c.head("bkt", "nothing").await.status, 404);
    assert_eq!(c.head("bkt", "denied").await.status, 500);
    // SlowDown/5xx were not retried (max_attempts = 1): one upstream request per device request
    let slow = up
        .seen()
        .iter()
        .filter(|s| s.path.contains("slowdown"))
        .count();
    assert_eq!(slow, 1);
}

/// The SDK's standard retry: a 503 is retried up to `max_attempts`, and the device sees the
/// final answer.
#[tokio::test]
async fn transient_upstream_errors_are_retried() {
    let up = Scripted::start(|s| {
        if s.path.contains("flaky") {
            (
                503,
                vec![],
                error_xml("SlowDown", "Please reduce your request rate."),
            )
        } else {
            (
                200,
                vec![
                    ("content-length", "2".to_owned()),
                    ("etag", "\"abc\"".to_owned()),
                ],
                "ok".to_owned(),
            )
        }
    })
    .await;
    let mut cfg = config(&up.endpoint, "AKID", "SECRET");
    cfg.max_attempts = 3;
    let gw = Gateway::start(cfg).await;
    let c = gw.client();
    c.get("bkt", "flaky").await.err(503, "SlowDown");
    assert_eq!(
        up.seen()
            .iter()
            .filter(|s| s.path.contains("flaky"))
            .count(),
        3
    );
    let ok = c.get("bkt", "fine").await;
    ok.ok();
    assert_eq!(ok.body, "ok");
}
