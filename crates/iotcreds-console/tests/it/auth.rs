//! Sign-in, sessions, sign-out, CSRF, origins, session fixation, redirects, limits.

use std::time::Duration;

use http::{Method, StatusCode, header};
use iotcreds_console::{CSP, Settings};

use crate::harness::Env;

const GOOD: &str = "Correct-horse1";

#[tokio::test]
async fn anonymous_requests_go_to_sign_in_and_cost_nothing() {
    let env = Env::new().await;
    let mut b = env.browser("192.0.2.1");
    let r = b.get("/things").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/signin?next=%2Fthings");
    // A POST without a session changes nothing and goes to sign-in too.
    let r = b
        .post_raw("/things", &[("name", "x")], Some("http://console.test"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/signin"));
    // A forged session cookie finds nothing.
    b.cookies.push(("iotcreds-console".into(), "A".repeat(43)));
    assert!(b.get("/").await.location().starts_with("/signin"));
    // Assets are public, embedded, and reach no other host.
    for (path, ctype) in [
        ("/assets/console.css", "text/css"),
        ("/assets/console.js", "text/javascript"),
        ("/assets/icon.svg", "image/svg+xml"),
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            r.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(ctype)
        );
        assert!(
            !r.body.contains("http://") && !r.body.contains("https://") || path.ends_with(".svg"),
            "{path} names another host"
        );
        assert!(
            !r.body.contains("//cdn") && !r.body.contains("@import"),
            "{path}"
        );
    }
    let r = b.get("/signin").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-security-policy"], CSP);
    assert!(CSP.contains("frame-ancestors 'none'") && !CSP.contains("unsafe-inline"));
    assert_eq!(r.headers["x-frame-options"], "DENY");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["referrer-policy"], "same-origin");
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    assert!(!r.body.contains("<script>"), "no inline script");
    assert!(!r.body.contains(" style="), "no inline style");
    // Other methods are refused.
    let req = b
        .request(Method::DELETE, "/things")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    assert_eq!(b.send(req).await.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn root_sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_it() {
    let env = Env::new().await;
    let mut b = env.browser("192.0.2.2");
    let (akid, secret) = env.root_keys();
    let r = b
        .sign_in(&[
            ("kind", "root"),
            ("access_key_id", &akid),
            ("secret_access_key", &secret),
        ])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let set = r.set_cookies().join("\n");
    let session = set
        .lines()
        .find(|c| c.starts_with("iotcreds-console="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=29100"] {
        assert!(session.contains(attr), "{session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: no Secure");
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body
            .contains(&format!("arn:aws:iam::{}:root", env.registry.account_id()))
    );
    let cookie = b.cookie("iotcreds-console").unwrap().to_owned();
    let r = b.post("/signout", &[]).await;
    assert_eq!(r.location(), "/signin?out=1");
    assert!(
        r.set_cookies()
            .iter()
            .any(|c| c.starts_with("iotcreds-console=;") && c.contains("Max-Age=0"))
    );
    // The old cookie is dead even if replayed.
    b.cookies.push(("iotcreds-console".into(), cookie));
    assert!(b.get("/").await.location().starts_with("/signin"));
    // A wrong secret, or a wrong key id, is AWS's message and no cookie.
    let r = b
        .sign_in(&[
            ("kind", "root"),
            ("access_key_id", &akid),
            ("secret_access_key", "x"),
        ])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.body
            .contains("Your authentication information is incorrect. Please try again.")
    );
    assert!(
        !r.set_cookies()
            .iter()
            .any(|c| c.starts_with("iotcreds-console="))
    );
}

#[tokio::test]
async fn over_tls_cookies_are_secure_host_prefixed() {
    let env = Env::new().await;
    let mut b = env.browser("192.0.2.3");
    b.peer.tls = true;
    let (akid, secret) = env.root_keys();
    let form = b.get("/signin").await;
    assert!(form.set_cookies()[0].starts_with("__Host-iotcreds-signin="));
    assert!(form.set_cookies()[0].contains("; Secure"));
    assert!(form.headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    let token = form.hidden("csrf");
    let r = b
        .post_raw(
            "/signin",
            &[
                ("csrf", &token),
                ("kind", "root"),
                ("access_key_id", &akid),
                ("secret_access_key", &secret),
            ],
            Some("https://console.test"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let c = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-iotcreds-console="))
        .unwrap();
    assert!(c.contains("; Secure") && c.contains("HttpOnly") && c.contains("SameSite=Strict"));
}

#[tokio::test]
async fn csrf_and_origin_are_checked_on_every_write() {
    let env = Env::new().await;
    let mut b = env.browser("192.0.2.4");
    b.sign_in_root(&env).await;
    let token = b.csrf().await;
    // No token, a wrong token, a foreign origin, a cross-site fetch: refused, nothing made.
    for (fields, origin) in [
        (vec![("name", "T1")], Some("http://console.test")),
        (
            vec![("csrf", "nope"), ("name", "T1")],
            Some("http://console.test"),
        ),
        (
            vec![("csrf", token.as_str()), ("name", "T1")],
            Some("http://evil.example"),
        ),
        (vec![("csrf", token.as_str()), ("name", "T1")], Some("null")),
    ] {
        let r = b.post_raw("/things", &fields, origin).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{fields:?} {origin:?}");
        assert!(r.body.contains("CSRF"));
    }
    let req = b
        .request(Method::POST, "/things")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .body(http_body_util::Full::new(bytes::Bytes::from(format!(
            "csrf={token}&name=T1"
        ))))
        .unwrap();
    assert_eq!(b.send(req).await.status, StatusCode::FORBIDDEN);
    assert!(env.registry.store().thing("T1").await.unwrap().is_none());
    // The right token from this origin works.
    let r = b
        .post_raw(
            "/things",
            &[("csrf", &token), ("name", "T1")],
            Some("http://console.test"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(env.registry.store().thing("T1").await.unwrap().is_some());
    // The token is the session's: another session's token is refused.
    let mut other = env.browser("192.0.2.5");
    other.sign_in_root(&env).await;
    let r = other
        .post_raw(
            "/things",
            &[("csrf", &token), ("name", "T2")],
            Some("http://console.test"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A cross-site sign-in post (no form cookie) is refused.
    let mut fresh = env.browser("192.0.2.6");
    let (akid, secret) = env.root_keys();
    let r = fresh
        .post_raw(
            "/signin",
            &[
                ("csrf", "x"),
                ("kind", "root"),
                ("access_key_id", &akid),
                ("secret_access_key", &secret),
            ],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(fresh.cookie("iotcreds-console").is_none());
}

#[tokio::test]
async fn session_fixation_and_open_redirects() {
    let env = Env::new().await;
    let mut b = env.browser("192.0.2.7");
    // A cookie planted before sign-in is never adopted.
    b.cookies
        .push(("iotcreds-console".into(), "planted-by-attacker".into()));
    b.sign_in_root(&env).await;
    let issued = b.cookie("iotcreds-console").unwrap().to_owned();
    assert_ne!(issued, "planted-by-attacker");
    assert_eq!(issued.len(), 43);
    // Signing in again replaces the session.
    b.sign_in_root(&env).await;
    let second = b.cookie("iotcreds-console").unwrap().to_owned();
    assert_ne!(second, issued);
    let mut replay = env.browser("192.0.2.7");
    replay.cookies.push(("iotcreds-console".into(), issued));
    assert!(replay.get("/").await.location().starts_with("/signin"));
    // `next` may only lead to a local page.
    let (akid, secret) = env.root_keys();
    for (next, want) in [
        ("/things", "/things"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
    ] {
        let mut c = env.browser("192.0.2.8");
        let r = c
            .sign_in(&[
                ("kind", "root"),
                ("access_key_id", &akid),
                ("secret_access_key", &secret),
                ("next", next),
            ])
            .await;
        assert_eq!(r.location(), want, "{next}");
    }
}

#[tokio::test]
async fn iam_users_sign_in_with_their_password_and_failures_are_limited() {
    let env = Env::with(Settings {
        failures_per_user: 3,
        failures_per_address: 5,
        failure_window: Duration::from_secs(600),
        ..Settings::default()
    })
    .await;
    env.user("alice", GOOD, None).await;
    let mut b = env.browser("192.0.2.10");
    let r = b.sign_in_user("alice", GOOD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let home = b.get("/").await;
    assert!(home.body.contains(&format!(
        "arn:aws:iam::{}:user/alice",
        env.registry.account_id()
    )));

    // Three wrong passwords for alice (from different addresses) lock alice out…
    for i in 0..3 {
        let mut m = env.browser(&format!("198.51.100.{i}"));
        let r = m.sign_in_user("alice", "Wrong-pass1").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(
            r.body
                .contains("Your authentication information is incorrect.")
        );
    }
    let mut m = env.browser("198.51.100.9");
    let r = m.sign_in_user("ALICE", GOOD).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even with the right password"
    );
    assert!(r.body.contains("Too many failed sign-in attempts"));
    assert!(m.cookie("iotcreds-console").is_none());

    // …and five failures from one address lock that address, whatever the user name.
    let mut a = env.browser("203.0.113.7");
    for i in 0..5 {
        let r = a.sign_in_user(&format!("nobody{i}"), "Wrong-pass1").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = a.sign_in_user("someone-else", "Wrong-pass1").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // An unknown user and a wrong password look the same.
    let mut c = env.browser("203.0.113.8");
    let unknown = c.sign_in_user("nobody", "Wrong-pass1").await;
    let wrong = c.sign_in_user("bob", "Wrong-pass1").await;
    assert_eq!(unknown.status, wrong.status);
    // The password never appears in a page.
    assert!(!wrong.body.contains("Wrong-pass1"));
}

#[tokio::test]
async fn a_session_ends_when_its_user_or_password_changes() {
    let env = Env::new().await;
    env.user("carol", GOOD, None).await;
    let mut b = env.browser("192.0.2.20");
    assert_eq!(
        b.sign_in_user("carol", GOOD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(b.get("/").await.status, StatusCode::OK);
    // An administrator sets a new password: the session ends.
    let mut admin = env.browser("192.0.2.21");
    admin.sign_in_root(&env).await;
    let r = admin
        .post("/users/carol/password", &[("password", "Another-pass2")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = b.get("/").await;
    assert_eq!(r.location(), "/signin?ended=1");
    assert_eq!(
        b.sign_in_user("carol", "Another-pass2").await.status,
        StatusCode::SEE_OTHER
    );
    // The password is removed: the session ends.
    admin.post("/users/carol/delete-password", &[]).await;
    assert_eq!(b.get("/").await.location(), "/signin?ended=1");
    assert_eq!(
        b.sign_in_user("carol", "Another-pass2").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_required_reset_needs_iam_change_password() {
    let env = Env::new().await;
    env.user("dave", GOOD, None).await;
    let mut admin = env.browser("192.0.2.30");
    admin.sign_in_root(&env).await;
    admin
        .post("/users/dave/password", &[("reset", "true")])
        .await;
    let mut b = env.browser("192.0.2.31");
    let r = b.sign_in_user("dave", GOOD).await;
    assert_eq!(r.location(), "/password");
    // Every other page leads back to the change.
    assert_eq!(b.get("/things").await.location(), "/password");
    let page = b.get("/password").await;
    let token = page.hidden("csrf");
    let change = [
        ("csrf", token.as_str()),
        ("password", "Brand-new-pw3"),
        ("confirm", "Brand-new-pw3"),
    ];
    // Without iam:ChangePassword on itself, IAM refuses as AWS does.
    let r = b
        .post_raw("/password", &change, Some("http://console.test"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains(&format!(
        "User: arn:aws:iam::{}:user/dave is not authorized to perform: iam:ChangePassword on resource: arn:aws:iam::{}:user/dave because no identity-based policy allows the iam:ChangePassword action",
        env.registry.account_id(),
        env.registry.account_id()
    )), "{}", r.body);
    // AWS's IAMUserChangePassword policy.
    admin
        .post(
            "/users/dave/put-inline",
            &[("policy", "change"), ("document", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ChangePassword","Resource":"arn:aws:iam::*:user/${aws:username}"}]}"#)],
        )
        .await;
    let weak = [
        ("csrf", token.as_str()),
        ("password", "short"),
        ("confirm", "short"),
    ];
    let r = b
        .post_raw("/password", &weak, Some("http://console.test"))
        .await;
    assert!(
        r.body
            .contains("Password does not conform to the account password policy.")
    );
    let r = b
        .post_raw("/password", &change, Some("http://console.test"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        b.get("/").await.status,
        StatusCode::OK,
        "the session goes on"
    );
    let mut again = env.browser("192.0.2.32");
    assert_eq!(
        again.sign_in_user("dave", "Brand-new-pw3").await.location(),
        "/"
    );
}
