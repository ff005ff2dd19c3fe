//! Concurrent writers racing a rule: the rule must hold whatever the interleaving, across two
//! independent handles (pools) on the same database.

use std::sync::Arc;

use iotcreds_store::*;

use crate::Harness;
use crate::fixtures::*;

/// Run `n` calls of `call(store, i)` at once, alternating between two handles; returns the
/// results in call order.
async fn race<H, T, F, Fut>(h: &H, n: usize, call: F) -> Vec<StoreResult<T>>
where
    H: Harness,
    T: Send + 'static,
    F: Fn(Arc<dyn Store>, usize) -> Fut,
    Fut: Future<Output = StoreResult<T>> + Send + 'static,
{
    let handles = [h.store(), h.reopen().await];
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let fut = call(handles[i % 2].clone(), i);
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            fut.await
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.expect("task panicked"));
    }
    out
}

/// Count the `Ok`s and check every error is `variant` about `entity`.
fn oks<T: std::fmt::Debug>(
    results: Vec<StoreResult<T>>,
    variant_name: &str,
    about: Entity,
) -> usize {
    let mut ok = 0;
    for r in results {
        match r {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(
                    (variant(&e), entity(&e)),
                    (variant_name, Some(about)),
                    "{e:?}"
                );
            }
        }
    }
    ok
}

/// 20 concurrent `insert_iot_policy_version` calls never take a policy past 5 versions.
pub async fn concurrent_policy_versions_never_exceed_limit<H: Harness>() {
    let h = H::create(Limits::default()).await;
    h.store()
        .insert_iot_policy("p", &doc("1"), "g", 1, &[])
        .await
        .unwrap();
    let results = race(&h, 20, |s, i| async move {
        s.insert_iot_policy_version("p", &doc(&i.to_string()), i % 3 == 0, "g", i as i64)
            .await
    })
    .await;
    assert_eq!(oks(results, "LimitExceeded", Entity::IotPolicy), 4);
    let versions = h.store().list_iot_policy_versions("p").await.unwrap();
    let ids: Vec<i64> = versions.iter().map(|v| v.version_id).collect();
    assert_eq!(ids, vec![5, 4, 3, 2, 1], "ids are unique and dense");
    assert_eq!(versions.iter().filter(|v| v.is_default).count(), 1);
}

/// 20 concurrent attaches of different policies to one target never exceed 10.
pub async fn concurrent_iot_attaches_never_exceed_limit<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    for i in 0..20 {
        s.insert_iot_policy(&format!("p{i:02}"), &doc("x"), "g", 1, &[])
            .await
            .unwrap();
    }
    let target = cert_arn(&cert_id(1));
    let t = target.clone();
    let results = race(&h, 20, move |s, i| {
        let t = t.clone();
        async move { s.attach_iot_policy(&format!("p{i:02}"), &t).await }
    })
    .await;
    assert_eq!(oks(results, "LimitExceeded", Entity::IotPolicy), 10);
    let page = s
        .list_target_iot_policies(&target, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 10);
}

/// 20 concurrent attaches of different managed policies to one role never exceed 10.
pub async fn concurrent_managed_attaches_never_exceed_limit<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    s.insert_role(&role("r", "/")).await.unwrap();
    for i in 0..20 {
        s.insert_managed_policy(&managed(&format!("m{i:02}"), "/"), &doc("x"))
            .await
            .unwrap();
    }
    let results = race(&h, 20, |s, i| async move {
        s.attach_managed_policy(
            PolicyHolder::Role("r"),
            &policy_arn("/", &format!("m{i:02}")),
        )
        .await
    })
    .await;
    assert_eq!(oks(results, "LimitExceeded", Entity::PolicyAttachment), 10);
    let page = s
        .list_attached_managed_policies(PolicyHolder::Role("R"), &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 10);
}

/// 10 concurrent `insert_access_key` calls for one user never exceed 2 keys.
pub async fn concurrent_access_keys_never_exceed_limit<H: Harness>() {
    let h = H::create(Limits::default()).await;
    h.store().insert_user(&user("u", "/")).await.unwrap();
    let results = race(&h, 10, |s, i| async move {
        s.insert_access_key(&access_key(&format!("AKIA{i:016}"), "u"))
            .await
    })
    .await;
    assert_eq!(oks(results, "LimitExceeded", Entity::AccessKey), 2);
    assert_eq!(h.store().list_access_keys("u").await.unwrap().len(), 2);
}

/// Concurrent creates of one role name in different cases: exactly one wins.
pub async fn concurrent_creates_one_wins_regardless_of_case<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let spellings = [
        "devicerole",
        "DeviceRole",
        "DEVICEROLE",
        "deviceRole",
        "Devicerole",
        "dEVICEROLE",
    ];
    let results = race(&h, 12, move |s, i| async move {
        s.insert_role(&role(spellings[i % spellings.len()], "/"))
            .await
    })
    .await;
    assert_eq!(oks(results, "AlreadyExists", Entity::Role), 1);
    assert_eq!(
        h.store()
            .list_roles(None, &PageRequest::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

/// Writers on two handles all succeed (no busy or serialization failures leak out), and each
/// moves the generation exactly once.
pub async fn concurrent_writers_on_two_handles<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let g0 = h.store().generation().await.unwrap();
    let results = race(&h, 40, |s, i| async move {
        s.insert_thing(&thing(&format!("t{i:02}"), None, &[("n", "1")]))
            .await?;
        s.update_thing(
            &format!("t{i:02}"),
            1,
            &ThingUpdate {
                thing_type: None,
                attributes: Default::default(),
                modified_at: 2,
            },
        )
        .await
    })
    .await;
    for r in results {
        assert_eq!(r.unwrap().version, 2);
    }
    assert_eq!(h.store().generation().await.unwrap(), g0 + 80);
    let listed = h
        .store()
        .list_things(&ThingFilter::default(), &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 40);
}
