//! Engine-wide behaviour: ping, generation, change notification, reopening, account settings
//! and sealing keys.

use std::time::Duration;

use iotcreds_store::*;

use crate::Harness;
use crate::fixtures::*;

/// `ping` answers and `engine` names the engine.
pub async fn ping_and_engine_name<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    s.ping().await.unwrap();
    assert_eq!(s.engine(), H::ENGINE);
    assert_eq!(
        s.generation().await.unwrap(),
        0,
        "a fresh registry starts at generation 0"
    );
}

/// Every successful write moves the generation by one; reads, failed writes and no-ops don't.
pub async fn generation_moves_on_writes_only<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let g0 = s.generation().await.unwrap();
    let gen_now = || async { s.generation().await.unwrap() };

    // Reads.
    s.setting("account_id").await.unwrap();
    s.thing("t").await.unwrap();
    s.list_things(&ThingFilter::default(), &PageRequest::default())
        .await
        .unwrap();
    s.role("r").await.unwrap();
    s.sealing_keys().await.unwrap();
    s.attached_iot_policies(&["x"]).await.unwrap();
    assert_eq!(gen_now().await, g0);

    // Writes.
    s.put_setting("k", "v").await.unwrap();
    assert_eq!(gen_now().await, g0 + 1);
    s.insert_thing(&thing("t1", None, &[("a", "1")]))
        .await
        .unwrap();
    assert_eq!(gen_now().await, g0 + 2);
    s.insert_iot_policy("p", &doc("p"), "g", 1, &[])
        .await
        .unwrap();
    s.attach_iot_policy("p", "target").await.unwrap();
    assert_eq!(gen_now().await, g0 + 4);

    // Failed writes.
    expect_err(
        s.insert_thing(&thing("t1", None, &[])).await,
        "AlreadyExists",
        Entity::Thing,
    );
    expect_err(
        s.delete_thing("nope", None).await,
        "NotFound",
        Entity::Thing,
    );
    expect_err(
        s.delete_iot_policy("p").await,
        "Conflict",
        Entity::IotPolicy,
    );
    assert_eq!(gen_now().await, g0 + 4);
    assert!(
        s.thing("t1").await.unwrap().is_some(),
        "a failed write changes nothing"
    );

    // No-ops.
    s.attach_iot_policy("p", "target").await.unwrap();
    s.detach_iot_policy("p", "other-target").await.unwrap();
    assert_eq!(s.init_setting("k", "other").await.unwrap(), "v");
    s.retire_sealing_keys(1, 5).await.unwrap();
    assert_eq!(gen_now().await, g0 + 4);

    // A write after the no-ops.
    s.detach_iot_policy("p", "target").await.unwrap();
    assert_eq!(gen_now().await, g0 + 5);
}

/// On engines that push, a write through one handle reaches another handle's stream within a
/// second, in commit order, and failed writes announce nothing; elsewhere `subscribe` is `None`.
pub async fn subscribe_reports_other_handles_writes<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    if !H::PUSHES_CHANGES {
        assert!(s.subscribe().await.unwrap().is_none());
        return;
    }
    let other = h.reopen().await;
    let mut remote = other.subscribe().await.unwrap().expect("a change stream");
    let mut local = s.subscribe().await.unwrap().expect("a change stream");
    let g = s.generation().await.unwrap();

    s.put_setting("a", "1").await.unwrap();
    expect_err(s.delete_role("nope").await, "NotFound", Entity::Role);
    other.put_setting("b", "2").await.unwrap();
    for rx in [&mut remote, &mut local] {
        for want in [g + 1, g + 2] {
            let got = tokio::time::timeout(Duration::from_secs(1), rx.recv())
                .await
                .expect("a notification within 1 s")
                .expect("the stream is open");
            assert_eq!(got, Some(want));
        }
    }
    assert_eq!(s.generation().await.unwrap(), g + 2);
}

/// A second handle (another process, in effect) sees what the first committed, and the other
/// way round.
pub async fn reopened_handle_sees_committed_state<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    s.insert_thing(&thing("dev-1", None, &[("room", "7")]))
        .await
        .unwrap();
    s.insert_iot_policy("p", &doc("p"), "g", 1, &[])
        .await
        .unwrap();
    s.put_setting("account_id", ACCOUNT).await.unwrap();

    let other = h.reopen().await;
    assert_eq!(
        other.thing("dev-1").await.unwrap(),
        Some(thing("dev-1", None, &[("room", "7")]))
    );
    assert_eq!(
        other.iot_policy("p").await.unwrap().unwrap().document,
        doc("p")
    );
    assert_eq!(
        other.setting("account_id").await.unwrap().as_deref(),
        Some(ACCOUNT)
    );
    assert_eq!(
        other.generation().await.unwrap(),
        s.generation().await.unwrap()
    );

    other.insert_role(&role("r", "/")).await.unwrap();
    assert!(s.role("R").await.unwrap().is_some());
    expect_err(
        s.insert_role(&role("r", "/")).await,
        "AlreadyExists",
        Entity::Role,
    );
}

/// `setting` / `put_setting`: absent, set, replaced.
pub async fn settings_put_and_get<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    assert_eq!(s.setting("registration_code").await.unwrap(), None);
    s.put_setting("registration_code", "abc").await.unwrap();
    assert_eq!(
        s.setting("registration_code").await.unwrap().as_deref(),
        Some("abc")
    );
    s.put_setting("registration_code", "def").await.unwrap();
    assert_eq!(
        s.setting("registration_code").await.unwrap().as_deref(),
        Some("def")
    );
    assert_eq!(
        s.setting("Registration_Code").await.unwrap(),
        None,
        "keys are exact"
    );
}

/// `init_setting` stores only the first value and always returns the stored one.
pub async fn init_setting_first_value_wins<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    assert_eq!(
        s.init_setting("account_id", "111111111111").await.unwrap(),
        "111111111111"
    );
    assert_eq!(
        s.init_setting("account_id", "222222222222").await.unwrap(),
        "111111111111"
    );
    assert_eq!(
        s.setting("account_id").await.unwrap().as_deref(),
        Some("111111111111")
    );
    s.put_setting("account_id", "333333333333").await.unwrap();
    assert_eq!(
        s.init_setting("account_id", "444444444444").await.unwrap(),
        "333333333333"
    );
}

/// Concurrent first starts agree on one value.
pub async fn init_setting_concurrent_callers_agree<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let other = h.reopen().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let store = if i % 2 == 0 { s.clone() } else { other.clone() };
        tasks.spawn(async move { store.init_setting("account_id", &format!("{i:012}")).await });
    }
    let results: Vec<String> = tasks
        .join_all()
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let stored = s.setting("account_id").await.unwrap().unwrap();
    assert!(
        results.iter().all(|r| *r == stored),
        "{results:?} vs {stored}"
    );
    assert_eq!(
        s.generation().await.unwrap(),
        1,
        "only the first init writes"
    );
}

/// Sealing keys: oldest first, duplicates refused, retiring spares one key and keeps earlier
/// retirement times, deleting.
pub async fn sealing_keys_lifecycle<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    assert!(s.sealing_keys().await.unwrap().is_empty());
    let key = |id: u16, created_at: i64| SealingKey {
        id,
        material: vec![id as u8; 32],
        created_at,
        retired_at: None,
        revoked_at: None,
    };
    s.insert_sealing_key(&key(7, 300)).await.unwrap();
    s.insert_sealing_key(&key(65535, 100)).await.unwrap();
    s.insert_sealing_key(&key(1, 200)).await.unwrap();
    expect_err_key(
        s.insert_sealing_key(&key(7, 400)).await,
        "AlreadyExists",
        Entity::SealingKey,
        "7",
    );

    let keys = s.sealing_keys().await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![65535, 1, 7]
    );
    assert_eq!(keys[0].material, vec![255u8; 32]);

    s.retire_sealing_keys(7, 1_000).await.unwrap();
    let retired: Vec<_> = s
        .sealing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.id, k.retired_at))
        .collect();
    assert_eq!(
        retired,
        vec![(65535, Some(1_000)), (1, Some(1_000)), (7, None)]
    );

    s.insert_sealing_key(&key(8, 500)).await.unwrap();
    s.retire_sealing_keys(8, 2_000).await.unwrap();
    let retired: Vec<_> = s
        .sealing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.id, k.retired_at))
        .collect();
    assert_eq!(
        retired,
        vec![
            (65535, Some(1_000)),
            (1, Some(1_000)),
            (7, Some(2_000)),
            (8, None)
        ]
    );

    s.delete_sealing_key(65535).await.unwrap();
    expect_err_key(
        s.delete_sealing_key(65535).await,
        "NotFound",
        Entity::SealingKey,
        "65535",
    );
    assert_eq!(s.sealing_keys().await.unwrap().len(), 3);
}

/// Revoking a sealing key erases its material and marks it revoked (and retired, keeping an
/// earlier retirement time), visibly to another handle; a repeat changes nothing (generation
/// included); an unknown key is `NotFound`; the revoked row is deleted like any other.
pub async fn sealing_key_revocation<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let key = |id: u16, created_at: i64, retired_at: Option<i64>| SealingKey {
        id,
        material: vec![id as u8; 32],
        created_at,
        retired_at,
        revoked_at: None,
    };
    s.insert_sealing_key(&key(1, 100, Some(150))).await.unwrap();
    s.insert_sealing_key(&key(2, 200, None)).await.unwrap();
    s.insert_sealing_key(&key(3, 300, None)).await.unwrap();

    let g0 = s.generation().await.unwrap();
    s.revoke_sealing_key(1, 1_000).await.unwrap();
    s.revoke_sealing_key(3, 2_000).await.unwrap();
    assert_eq!(s.generation().await.unwrap(), g0 + 2);

    let other = h.reopen().await;
    let keys = other.sealing_keys().await.unwrap();
    let summary: Vec<_> = keys
        .iter()
        .map(|k| (k.id, k.material.len(), k.retired_at, k.revoked_at))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, 0, Some(150), Some(1_000)),
            (2, 32, None, None),
            (3, 0, Some(2_000), Some(2_000)),
        ]
    );
    assert_eq!(keys[1].material, vec![2u8; 32], "other keys are untouched");

    // Idempotent: the first revocation time stays and the generation does not move.
    let g1 = s.generation().await.unwrap();
    s.revoke_sealing_key(3, 9_000).await.unwrap();
    assert_eq!(s.generation().await.unwrap(), g1);
    let k3 = s.sealing_keys().await.unwrap().pop().unwrap();
    assert_eq!((k3.id, k3.revoked_at), (3, Some(2_000)));

    expect_err_key(
        s.revoke_sealing_key(9, 1).await,
        "NotFound",
        Entity::SealingKey,
        "9",
    );
    assert_eq!(s.generation().await.unwrap(), g1);

    // Retiring the others later does not touch a revoked key's times.
    s.retire_sealing_keys(2, 5_000).await.unwrap();
    s.delete_sealing_key(1).await.unwrap();
    let left: Vec<_> = s
        .sealing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.id, k.retired_at, k.revoked_at))
        .collect();
    assert_eq!(left, vec![(2, None, None), (3, Some(2_000), Some(2_000))]);
}
