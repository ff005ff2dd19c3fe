//! The credential event log: the writer task, the Activity page and the connect flow's check.

use std::sync::Arc;

use http::StatusCode;
use iotcreds_registry::activity::ActivityLog;
use iotcreds_store::{CredentialEvent, CredentialEventFilter};

use crate::harness::{Env, now_ms};

fn event(n: u32, issued: bool) -> CredentialEvent {
    CredentialEvent {
        at: now_ms(),
        request_id: format!("req-{n}"),
        issued,
        status: if issued { 200 } else { 403 },
        certificate_id: "c0ffee".repeat(10) + "c0ff",
        thing: if issued {
            "ADCTestThing".into()
        } else {
            "WrongThing".into()
        },
        role_alias: "ADCTestRoleAlias".into(),
        role: if issued {
            "ADCTestRole".into()
        } else {
            String::new()
        },
        access_key_id: if issued {
            "ASIAEXAMPLE000000001".into()
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
            "thing \"WrongThing\" not attached to the certificate".into()
        },
        statement: String::new(),
        source_ip: "127.0.0.1".into(),
        seq: 0,
    }
}

#[tokio::test]
async fn the_writer_stores_batches_and_the_queue_is_bounded() {
    let env = Env::new().await;
    let store = env.registry.store().clone();
    let (log, writer) = ActivityLog::new(store.clone(), 100, 3);
    // The queue holds three; the fourth and fifth are dropped and counted.
    for n in 0..5 {
        let queued = log.record(event(n, true));
        assert_eq!(queued, n < 3, "event {n}");
    }
    assert_eq!(log.dropped(), 2);
    let log = Arc::new(log);
    // Stopping the writer still writes what was queued.
    writer.run(async {}).await;
    let got = store
        .credential_events(&CredentialEventFilter::default())
        .await
        .unwrap();
    let ids: Vec<&str> = got.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["req-2", "req-1", "req-0"]);
    // Once the writer is gone, recording drops without blocking.
    assert!(!log.record(event(9, true)));
    assert!(!ActivityLog::disabled().record(event(10, true)));
}

#[tokio::test]
async fn activity_shows_issuances_and_refusals_with_their_reasons() {
    let env = Env::new().await;
    env.registry
        .store()
        .append_credential_events(&[event(1, true), event(2, false)], 100)
        .await
        .unwrap();
    let mut b = env.browser("192.0.2.70");
    b.sign_in_root(&env).await;
    let page = b.get("/activity").await;
    assert_eq!(page.status, StatusCode::OK);
    let refused = page.body.find("req-2").unwrap();
    let issued = page.body.find("req-1").unwrap();
    assert!(refused < issued, "newest first");
    assert!(page.body.contains("refused (403)"));
    assert!(
        page.body
            .contains("thing &quot;WrongThing&quot; not attached to the certificate")
    );
    assert!(page.body.contains("ASIAEXAMPLE000000001"));
    let only_refused = b.get("/activity?outcome=refused").await;
    assert!(only_refused.body.contains("req-2") && !only_refused.body.contains("req-1"));
    let by_thing = b.get("/activity?thing=ADCTestThing").await;
    assert!(by_thing.body.contains("req-1") && !by_thing.body.contains("req-2"));
    let check = b
        .get(&format!(
            "/activity/check?cert={}&alias=ADCTestRoleAlias",
            "c0ffee".repeat(10) + "c0ff"
        ))
        .await;
    assert_eq!(check.headers["content-type"], "application/json");
    let v: serde_json::Value = serde_json::from_str(&check.body).unwrap();
    assert_eq!(v["state"], "issued");
    let none = b
        .get("/activity/check?cert=beef&alias=ADCTestRoleAlias")
        .await;
    let v: serde_json::Value = serde_json::from_str(&none.body).unwrap();
    assert_eq!(v["state"], "waiting");
}
