//! IAM decides every page and action; what pages echo is escaped.

use http::StatusCode;

use crate::harness::Env;

const READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Describe*","iot:List*","iot:Get*","iam:Get*","iam:List*"],"Resource":"*"}]}"#;

#[tokio::test]
async fn a_read_only_user_reads_and_is_denied_writes_with_aws_message() {
    let env = Env::new().await;
    let account = env.registry.account_id().to_owned();
    let mut admin = env.browser("192.0.2.40");
    admin.sign_in_root(&env).await;
    let r = admin.post("/things", &[("name", "ADCTestThing")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    env.user("reader", "Correct-horse1", Some(READ_ONLY)).await;

    let mut b = env.browser("192.0.2.41");
    assert_eq!(
        b.sign_in_user("reader", "Correct-horse1").await.status,
        StatusCode::SEE_OTHER
    );
    let things = b.get("/things").await;
    assert_eq!(things.status, StatusCode::OK);
    assert!(things.body.contains("ADCTestThing"));
    let r = b.post("/things", &[("name", "Intruder")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = b.follow(&r).await;
    let want = format!(
        "AccessDeniedException: User: arn:aws:iam::{account}:user/reader is not authorized to perform: iot:CreateThing on resource: arn:aws:iot:ap-northeast-1:{account}:thing/Intruder because no identity-based policy allows the iot:CreateThing action"
    );
    assert!(page.body.contains(&want), "{}", page.body);
    assert!(
        env.registry
            .store()
            .thing("Intruder")
            .await
            .unwrap()
            .is_none()
    );
    // IAM writes too.
    let r = b.post("/users", &[("name", "mallory")]).await;
    let page = b.follow(&r).await;
    assert!(page.body.contains(&format!("AccessDenied: User: arn:aws:iam::{account}:user/reader is not authorized to perform: iam:CreateUser")), "{}", page.body);
    // The Activity page needs cloudtrail:LookupEvents, which this user lacks.
    let a = b.get("/activity").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(
        a.body
            .contains("is not authorized to perform: cloudtrail:LookupEvents on resource: *")
    );
}

#[tokio::test]
async fn echoed_values_are_escaped() {
    let env = Env::new().await;
    let mut b = env.browser("192.0.2.50");
    b.sign_in_root(&env).await;
    // An invalid name is echoed in the API's validation message.
    let r = b
        .post("/things", &[("name", "<script>alert(1)</script>")])
        .await;
    let page = b.follow(&r).await;
    assert!(
        page.body.contains("ValidationException") || page.body.contains("InvalidRequestException"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<script>alert(1)"));
    // A role description is free text: it comes back escaped.
    let desc = "\"><img src=x onerror=alert(1)>";
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"credentials.iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let r = b
        .post(
            "/roles",
            &[("name", "R1"), ("description", desc), ("trust", trust)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get("/roles/R1").await;
    assert!(
        page.body
            .contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<img src=x"));
    // A malformed policy: the document comes back in the editor, escaped, with IAM's message.
    let doc = "{\"Statement\": \"</textarea><script>alert(2)</script>\"}";
    let r = b
        .post("/policies", &[("name", "P1"), ("document", doc)])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("MalformedPolicyException"), "{}", r.body);
    assert!(
        r.body
            .contains("&lt;/textarea&gt;&lt;script&gt;alert(2)&lt;/script&gt;")
    );
    assert!(!r.body.contains("</textarea><script>"));
    // Path segments stay segments: a name with slashes and dots cannot walk elsewhere.
    let r = b.get("/things/..%2Fusers").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("<h1>../users</h1>") && r.body.contains("at &#39;thingName&#39;"));
}

#[tokio::test]
async fn the_pages_render_for_root() {
    let env = Env::new().await;
    let mut b = env.browser("192.0.2.60");
    b.sign_in_root(&env).await;
    for path in [
        "/",
        "/things",
        "/thing-types",
        "/certificates",
        "/ca-certificates",
        "/policies",
        "/role-aliases",
        "/roles",
        "/iam-policies",
        "/users",
        "/buckets",
        "/simulator",
        "/activity",
        "/connect",
        "/connect/certificate?thing=T",
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert!(r.body.starts_with("<!doctype html>"), "{path}");
    }
    assert_eq!(b.get("/nope").await.status, StatusCode::NOT_FOUND);
    let ca = b.get("/root-ca.pem").await;
    assert!(ca.body.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(
        ca.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
}

#[tokio::test]
async fn one_click_certificate_downloads_once() {
    let env = Env::new().await;
    let mut b = env.browser("192.0.2.61");
    b.sign_in_root(&env).await;
    let r = b.post("/certificates", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.follow(&r).await;
    assert!(page.body.contains("Certificate created"));
    let link = |name: &str| {
        let needle = "href=\"/certificates/download/";
        let i = page.body.find(needle).unwrap();
        let rest = &page.body[i + 6..];
        let url = &rest[..rest.find('"').unwrap()];
        let base = url.rsplit_once('/').unwrap().0;
        format!("{base}/{name}")
    };
    let key = b.get(&link("private.key")).await;
    assert_eq!(key.status, StatusCode::OK);
    assert!(key.body.contains("PRIVATE KEY"));
    assert_eq!(key.headers["content-type"], "application/octet-stream");
    assert!(
        key.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("private.key")
    );
    assert_eq!(
        b.get(&link("private.key")).await.status,
        StatusCode::GONE,
        "only once"
    );
    let cert = b.get(&link("cert.pem")).await;
    assert!(cert.body.starts_with("-----BEGIN CERTIFICATE-----"));
    // Another session cannot take this session's files.
    let mut other = env.browser("192.0.2.62");
    other.sign_in_root(&env).await;
    assert_eq!(other.get(&link("cert.pem")).await.status, StatusCode::GONE);
}
