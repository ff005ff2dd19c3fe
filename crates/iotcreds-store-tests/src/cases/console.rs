//! The console's rows: login profiles (with the user rules they add) and the credential event
//! log (order, filters, bounded retention, and no effect on the generation).

use iotcreds_store::*;

use crate::Harness;
use crate::fixtures::*;

fn profile(user: &str, hash: &str) -> LoginProfile {
    LoginProfile {
        user_name: user.into(),
        password_hash: hash.into(),
        password_reset_required: false,
        created_at: 1_000,
        password_set_at: 1_000,
    }
}

/// Create, read, update and delete a login profile; a user with one cannot be deleted.
pub async fn login_profile_lifecycle<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    expect_err(
        s.insert_login_profile(&profile("alice", "h1")).await,
        "NotFound",
        Entity::User,
    );
    expect_err(s.login_profile("alice").await, "NotFound", Entity::User);
    expect_err(
        s.update_login_profile("alice", &LoginProfileUpdate::default())
            .await,
        "NotFound",
        Entity::User,
    );
    expect_err(
        s.delete_login_profile("alice").await,
        "NotFound",
        Entity::User,
    );
    s.insert_user(&user("Alice", "/")).await.unwrap();
    assert_eq!(s.login_profile("alice").await.unwrap(), None);
    expect_err(
        s.update_login_profile("alice", &LoginProfileUpdate::default())
            .await,
        "NotFound",
        Entity::LoginProfile,
    );
    expect_err(
        s.delete_login_profile("alice").await,
        "NotFound",
        Entity::LoginProfile,
    );

    let g0 = s.generation().await.unwrap();
    s.insert_login_profile(&profile("alice", "h1"))
        .await
        .unwrap();
    assert!(
        s.generation().await.unwrap() > g0,
        "a login profile is registry state"
    );
    let got = s.login_profile("ALICE").await.unwrap().unwrap();
    assert_eq!(
        got,
        profile("Alice", "h1"),
        "the stored user name comes back"
    );
    expect_err_key(
        s.insert_login_profile(&profile("ALICE", "h2")).await,
        "AlreadyExists",
        Entity::LoginProfile,
        "ALICE",
    );
    assert!(!format!("{got:?}").contains("h1"), "Debug redacts the hash");

    // The reset flag alone, then the password alone.
    s.update_login_profile(
        "alice",
        &LoginProfileUpdate {
            password_reset_required: Some(true),
            ..LoginProfileUpdate::default()
        },
    )
    .await
    .unwrap();
    let got = s.login_profile("alice").await.unwrap().unwrap();
    assert!(got.password_reset_required);
    assert_eq!(
        (got.password_hash.as_str(), got.password_set_at),
        ("h1", 1_000)
    );
    s.update_login_profile(
        "alice",
        &LoginProfileUpdate {
            password_hash: Some("h3".into()),
            password_set_at: 2_000,
            password_reset_required: Some(false),
        },
    )
    .await
    .unwrap();
    let got = s.login_profile("alice").await.unwrap().unwrap();
    assert_eq!(
        (
            got.password_hash.as_str(),
            got.password_set_at,
            got.password_reset_required,
            got.created_at
        ),
        ("h3", 2_000, false, 1_000)
    );

    let e = expect_err(s.delete_user("alice").await, "Conflict", Entity::User);
    assert!(e.to_string().contains("login profile"), "{e}");
    s.delete_login_profile("alice").await.unwrap();
    assert_eq!(s.login_profile("alice").await.unwrap(), None);
    s.delete_user("alice").await.unwrap();
    // A user re-created under the name starts without a password.
    s.insert_user(&user("alice", "/")).await.unwrap();
    assert_eq!(s.login_profile("alice").await.unwrap(), None);
}

fn event(n: i64, issued: bool, thing: &str, cert: &str, alias: &str) -> CredentialEvent {
    CredentialEvent {
        seq: 0,
        at: 1_000 + n,
        request_id: format!("req-{n}"),
        issued,
        status: if issued { 200 } else { 403 },
        certificate_id: cert.into(),
        thing: thing.into(),
        role_alias: alias.into(),
        role: if issued {
            "ADCTestRole".into()
        } else {
            String::new()
        },
        access_key_id: if issued {
            format!("ASIA{n:016}")
        } else {
            String::new()
        },
        expiration: if issued {
            "2030-01-01T00:00:00Z".into()
        } else {
            String::new()
        },
        reason: if issued {
            String::new()
        } else {
            "thing \"x\" not attached to the certificate".into()
        },
        statement: if issued {
            String::new()
        } else {
            "ADCTestPolicy v1 statement 0 (Allow)".into()
        },
        source_ip: "127.0.0.1".into(),
    }
}

/// Events come back newest first, filtered, paged with `before_seq`, and never more than the
/// retention keeps; appending them does not move the generation.
pub async fn credential_events_filter_page_and_retain<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let all = |limit| CredentialEventFilter {
        limit,
        ..CredentialEventFilter::default()
    };
    assert!(s.credential_events(&all(10)).await.unwrap().is_empty());
    let g0 = s.generation().await.unwrap();
    s.append_credential_events(
        &[
            event(1, true, "ADCTestThing", "c1", "ADCTestRoleAlias"),
            event(2, false, "WrongThing", "c1", "ADCTestRoleAlias"),
        ],
        100,
    )
    .await
    .unwrap();
    s.append_credential_events(
        &[
            event(3, true, "Other", "c2", "OtherAlias"),
            event(4, false, "ADCTestThing", "c2", "ADCTestRoleAlias"),
        ],
        100,
    )
    .await
    .unwrap();
    assert_eq!(
        s.generation().await.unwrap(),
        g0,
        "the event log is not registry state"
    );
    let got = s.credential_events(&all(10)).await.unwrap();
    let ids: Vec<&str> = got.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["req-4", "req-3", "req-2", "req-1"]);
    assert!(got.windows(2).all(|w| w[0].seq > w[1].seq));
    let mut want = event(2, false, "WrongThing", "c1", "ADCTestRoleAlias");
    want.seq = got[2].seq;
    assert_eq!(got[2], want, "every field round-trips");

    let ids_of = async |f: CredentialEventFilter| {
        s.credential_events(&f)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.request_id)
            .collect::<Vec<_>>()
    };
    let f = |thing: Option<&str>, cert: Option<&str>, alias: Option<&str>, issued| {
        CredentialEventFilter {
            thing: thing.map(Into::into),
            certificate_id: cert.map(Into::into),
            role_alias: alias.map(Into::into),
            issued,
            before_seq: None,
            limit: 10,
        }
    };
    assert_eq!(
        ids_of(f(Some("ADCTestThing"), None, None, None)).await,
        ["req-4", "req-1"]
    );
    assert_eq!(
        ids_of(f(None, Some("c1"), None, None)).await,
        ["req-2", "req-1"]
    );
    assert_eq!(
        ids_of(f(None, None, Some("OtherAlias"), None)).await,
        ["req-3"]
    );
    assert_eq!(
        ids_of(f(None, None, None, Some(false))).await,
        ["req-4", "req-2"]
    );
    assert_eq!(
        ids_of(f(
            Some("ADCTestThing"),
            Some("c2"),
            Some("ADCTestRoleAlias"),
            Some(false)
        ))
        .await,
        ["req-4"]
    );
    assert!(
        ids_of(f(Some("ADCTestThing"), None, None, Some(true)))
            .await
            .contains(&"req-1".to_owned())
    );
    // Paging: the two newest, then what is older than the last one seen.
    let first = s.credential_events(&all(2)).await.unwrap();
    assert_eq!(first.len(), 2);
    let next = CredentialEventFilter {
        before_seq: Some(first[1].seq),
        ..all(10)
    };
    assert_eq!(ids_of(next).await, ["req-2", "req-1"]);
    // Limits are clamped, not refused.
    assert_eq!(s.credential_events(&all(0)).await.unwrap().len(), 1);

    // Retention: keep the newest 3 of everything.
    s.append_credential_events(&[event(5, true, "T", "c3", "A")], 3)
        .await
        .unwrap();
    assert_eq!(
        ids_of(all(10)).await,
        ["req-5", "req-4", "req-3"],
        "older events are dropped"
    );
    // A second handle (another instance) sees the same log.
    let other = h.reopen().await;
    assert_eq!(other.credential_events(&all(10)).await.unwrap().len(), 3);
    // An empty append is harmless.
    s.append_credential_events(&[], 3).await.unwrap();
    assert_eq!(s.credential_events(&all(10)).await.unwrap().len(), 3);
}
