//! IoT policies, their versions and their attachments to targets.

use iotcreds_store::*;

use crate::Harness;
use crate::fixtures::*;

/// Create (version 1, default), read, list.
pub async fn iot_policy_create_get_list<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let p = s
        .insert_iot_policy("PubSub", &doc("a"), "gen-1", 100, &[])
        .await
        .unwrap();
    let want = IotPolicy {
        name: "PubSub".into(),
        default_version_id: 1,
        document: doc("a"),
        created_at: 100,
        modified_at: 100,
        generation_id: "gen-1".into(),
    };
    assert_eq!(p, want);
    assert_eq!(s.iot_policy("PubSub").await.unwrap(), Some(want.clone()));
    assert_eq!(
        s.iot_policy("pubsub").await.unwrap(),
        None,
        "names are case-sensitive"
    );
    expect_err_key(
        s.insert_iot_policy("PubSub", &doc("b"), "g", 1, &[]).await,
        "AlreadyExists",
        Entity::IotPolicy,
        "PubSub",
    );
    assert_eq!(
        s.iot_policy("PubSub").await.unwrap().unwrap().document,
        doc("a")
    );

    s.insert_iot_policy("Alpha", &doc("x"), "g", 1, &[])
        .await
        .unwrap();
    let names = collect(
        1,
        true,
        |p: &IotPolicy| p.name.clone(),
        async |p| s.list_iot_policies(&p).await,
    )
    .await;
    assert_eq!(names, vec!["Alpha", "PubSub"]);
    let names = collect(
        1,
        false,
        |p: &IotPolicy| p.name.clone(),
        async |p| s.list_iot_policies(&p).await,
    )
    .await;
    assert_eq!(names, vec!["PubSub", "Alpha"]);
}

/// Versions: ids count up and are never reused, the default moves, the default cannot be
/// deleted, lists are newest first.
pub async fn iot_policy_versions_lifecycle<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    s.insert_iot_policy("p", &doc("v1"), "g1", 100, &[])
        .await
        .unwrap();
    let v2 = s
        .insert_iot_policy_version("p", &doc("v2"), false, "g2", 200)
        .await
        .unwrap();
    assert_eq!(
        (v2.version_id, v2.is_default, v2.created_at),
        (2, false, 200)
    );
    let p = s.iot_policy("p").await.unwrap().unwrap();
    assert_eq!((p.default_version_id, p.document.clone()), (1, doc("v1")));
    assert_eq!((p.modified_at, p.generation_id.as_str()), (200, "g2"));

    let v3 = s
        .insert_iot_policy_version("p", &doc("v3"), true, "g3", 300)
        .await
        .unwrap();
    assert_eq!((v3.version_id, v3.is_default), (3, true));
    let p = s.iot_policy("p").await.unwrap().unwrap();
    assert_eq!((p.default_version_id, p.document), (3, doc("v3")));

    let list = s.list_iot_policy_versions("p").await.unwrap();
    assert_eq!(
        list.iter()
            .map(|v| (v.version_id, v.is_default))
            .collect::<Vec<_>>(),
        vec![(3, true), (2, false), (1, false)]
    );
    assert_eq!(list[2].document, doc("v1"));
    assert_eq!(s.iot_policy_version("p", 2).await.unwrap(), Some(v2));
    assert_eq!(s.iot_policy_version("p", 9).await.unwrap(), None);
    assert_eq!(s.iot_policy_version("ghost", 1).await.unwrap(), None);
    expect_err(
        s.list_iot_policy_versions("ghost").await,
        "NotFound",
        Entity::IotPolicy,
    );

    s.set_default_iot_policy_version("p", 1, "g4", 400)
        .await
        .unwrap();
    let p = s.iot_policy("p").await.unwrap().unwrap();
    assert_eq!(
        (
            p.default_version_id,
            p.document,
            p.generation_id,
            p.modified_at
        ),
        (1, doc("v1"), "g4".into(), 400)
    );
    assert!(
        s.iot_policy_version("p", 1)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert!(
        !s.iot_policy_version("p", 3)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    expect_err(
        s.set_default_iot_policy_version("p", 9, "g", 1).await,
        "NotFound",
        Entity::IotPolicyVersion,
    );
    expect_err(
        s.set_default_iot_policy_version("ghost", 1, "g", 1).await,
        "NotFound",
        Entity::IotPolicy,
    );

    expect_err(
        s.delete_iot_policy_version("p", 1).await,
        "InvalidState",
        Entity::IotPolicyVersion,
    );
    expect_err(
        s.delete_iot_policy_version("p", 9).await,
        "NotFound",
        Entity::IotPolicyVersion,
    );
    expect_err(
        s.delete_iot_policy_version("ghost", 2).await,
        "NotFound",
        Entity::IotPolicy,
    );
    s.delete_iot_policy_version("p", 3).await.unwrap();
    assert_eq!(s.iot_policy_version("p", 3).await.unwrap(), None);
    let v4 = s
        .insert_iot_policy_version("p", &doc("v4"), false, "g5", 500)
        .await
        .unwrap();
    assert_eq!(v4.version_id, 4, "version ids are never reused");
}

/// At most `policy_versions` versions; the limit counts existing versions, not ids.
pub async fn iot_policy_version_limit<H: Harness>() {
    let h = H::create(small_limits()).await;
    let s = h.store();
    expect_err(
        s.insert_iot_policy_version("ghost", &doc("x"), false, "g", 1)
            .await,
        "NotFound",
        Entity::IotPolicy,
    );
    s.insert_iot_policy("p", &doc("1"), "g", 1, &[])
        .await
        .unwrap();
    s.insert_iot_policy_version("p", &doc("2"), false, "g", 2)
        .await
        .unwrap();
    s.insert_iot_policy_version("p", &doc("3"), false, "g", 3)
        .await
        .unwrap();
    expect_err_key(
        s.insert_iot_policy_version("p", &doc("4"), true, "g", 4)
            .await,
        "LimitExceeded",
        Entity::IotPolicy,
        "p",
    );
    assert_eq!(s.list_iot_policy_versions("p").await.unwrap().len(), 3);
    assert_eq!(
        s.iot_policy("p").await.unwrap().unwrap().default_version_id,
        1
    );
    s.delete_iot_policy_version("p", 2).await.unwrap();
    let v = s
        .insert_iot_policy_version("p", &doc("4"), true, "g", 4)
        .await
        .unwrap();
    assert_eq!(v.version_id, 4);
}

/// Deleting a policy: absent, attached, extra versions, then fine (with its versions).
pub async fn iot_policy_delete_rules<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    expect_err_key(
        s.delete_iot_policy("p").await,
        "NotFound",
        Entity::IotPolicy,
        "p",
    );
    s.insert_iot_policy("p", &doc("1"), "g", 1, &[])
        .await
        .unwrap();
    s.attach_iot_policy("p", "arn:target").await.unwrap();
    expect_err_key(
        s.delete_iot_policy("p").await,
        "Conflict",
        Entity::IotPolicy,
        "p",
    );
    s.detach_iot_policy("p", "arn:target").await.unwrap();
    s.insert_iot_policy_version("p", &doc("2"), true, "g", 2)
        .await
        .unwrap();
    expect_err_key(
        s.delete_iot_policy("p").await,
        "Conflict",
        Entity::IotPolicy,
        "p",
    );
    s.delete_iot_policy_version("p", 1).await.unwrap();
    s.delete_iot_policy("p").await.unwrap();
    assert_eq!(s.iot_policy("p").await.unwrap(), None);
    assert_eq!(s.iot_policy_version("p", 2).await.unwrap(), None);
    // The name is free again and starts over at version 1.
    let again = s
        .insert_iot_policy("p", &doc("new"), "g", 9, &[])
        .await
        .unwrap();
    assert_eq!(again.default_version_id, 1);
    assert_eq!(s.list_iot_policy_versions("p").await.unwrap().len(), 1);
}

/// Attaching: absent policy, idempotent, at most `iot_policies_per_target` per target;
/// detaching: absent policy, not attached.
pub async fn iot_policy_attach_rules<H: Harness>() {
    let h = H::create(small_limits()).await;
    let s = h.store();
    let target = cert_arn(&cert_id(1));
    expect_err_key(
        s.attach_iot_policy("a", &target).await,
        "NotFound",
        Entity::IotPolicy,
        "a",
    );
    for p in ["a", "b", "c"] {
        s.insert_iot_policy(p, &doc(p), "g", 1, &[]).await.unwrap();
    }
    s.attach_iot_policy("a", &target).await.unwrap();
    s.attach_iot_policy("b", &target).await.unwrap();
    s.attach_iot_policy("a", &target).await.unwrap();
    s.attach_iot_policy("b", &target).await.unwrap();
    expect_err_key(
        s.attach_iot_policy("c", &target).await,
        "LimitExceeded",
        Entity::IotPolicy,
        "c",
    );
    // The limit is per target.
    s.attach_iot_policy("c", "arn:other").await.unwrap();
    s.attach_iot_policy("a", "arn:other").await.unwrap();

    expect_err_key(
        s.detach_iot_policy("ghost", &target).await,
        "NotFound",
        Entity::IotPolicy,
        "ghost",
    );
    s.detach_iot_policy("c", &target).await.unwrap();
    s.detach_iot_policy("a", &target).await.unwrap();
    s.attach_iot_policy("c", &target).await.unwrap();
    let names: Vec<String> = s
        .list_target_iot_policies(&target, &PageRequest::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, vec!["b", "c"]);
}

/// `list_target_iot_policies` and `list_iot_policy_targets`, with paging.
pub async fn iot_policy_lists_of_attachments<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    for p in ["p3", "p1", "p2"] {
        s.insert_iot_policy(p, &doc(p), "g", 1, &[]).await.unwrap();
    }
    let targets = [
        cert_arn(&cert_id(2)),
        cert_arn(&cert_id(1)),
        "arn:aws:iot:us-east-1:1:thinggroup/g".to_owned(),
    ];
    for t in &targets {
        for p in ["p3", "p1"] {
            s.attach_iot_policy(p, t).await.unwrap();
        }
    }
    s.attach_iot_policy("p2", &targets[0]).await.unwrap();

    let of_t0 = collect(
        2,
        true,
        |p: &IotPolicy| (p.name.clone(), p.document.clone()),
        async |p| s.list_target_iot_policies(&targets[0], &p).await,
    )
    .await;
    assert_eq!(
        of_t0,
        vec![
            ("p1".into(), doc("p1")),
            ("p2".into(), doc("p2")),
            ("p3".into(), doc("p3"))
        ]
    );
    assert!(
        s.list_target_iot_policies("arn:none", &PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let mut sorted = targets.to_vec();
    sorted.sort();
    let of_p1 = collect(
        2,
        true,
        |t: &String| t.clone(),
        async |p| s.list_iot_policy_targets("p1", &p).await,
    )
    .await;
    assert_eq!(of_p1, sorted);
    let of_p2 = s
        .list_iot_policy_targets("p2", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(of_p2.items, vec![targets[0].clone()]);
    expect_err(
        s.list_iot_policy_targets("ghost", &PageRequest::default())
            .await,
        "NotFound",
        Entity::IotPolicy,
    );
}

/// `attached_iot_policies`: every policy of any target once, by name, with the default
/// version's document.
pub async fn attached_iot_policies_resolves_once_each<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let (cert, group) = (
        cert_arn(&cert_id(1)),
        "arn:aws:iot:us-east-1:1:thinggroup/g".to_owned(),
    );
    for p in ["zeta", "alpha", "mid", "unused"] {
        s.insert_iot_policy(p, &doc(p), "g", 1, &[]).await.unwrap();
    }
    s.insert_iot_policy_version("mid", &doc("mid-v2"), true, "g", 2)
        .await
        .unwrap();
    for p in ["zeta", "mid"] {
        s.attach_iot_policy(p, &cert).await.unwrap();
    }
    for p in ["mid", "alpha"] {
        s.attach_iot_policy(p, &group).await.unwrap();
    }
    let got = s
        .attached_iot_policies(&[&cert, &group, &cert])
        .await
        .unwrap();
    let want = vec![
        AttachedIotPolicy {
            name: "alpha".into(),
            version_id: 1,
            document: doc("alpha"),
        },
        AttachedIotPolicy {
            name: "mid".into(),
            version_id: 2,
            document: doc("mid-v2"),
        },
        AttachedIotPolicy {
            name: "zeta".into(),
            version_id: 1,
            document: doc("zeta"),
        },
    ];
    assert_eq!(got, want);
    assert_eq!(s.attached_iot_policies(&[&cert]).await.unwrap().len(), 2);
    assert!(s.attached_iot_policies(&[]).await.unwrap().is_empty());
    assert!(
        s.attached_iot_policies(&["arn:none"])
            .await
            .unwrap()
            .is_empty()
    );

    s.set_default_iot_policy_version("mid", 1, "g", 3)
        .await
        .unwrap();
    let got = s.attached_iot_policies(&[&group]).await.unwrap();
    assert_eq!(
        got[1],
        AttachedIotPolicy {
            name: "mid".into(),
            version_id: 1,
            document: doc("mid")
        }
    );
}

/// With AWS's quotas: 5 versions per policy, 10 policies per target.
pub async fn iot_policy_default_limits<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    s.insert_iot_policy("p", &doc("1"), "g", 1, &[])
        .await
        .unwrap();
    for v in 2..=5 {
        s.insert_iot_policy_version("p", &doc(&v.to_string()), false, "g", v)
            .await
            .unwrap();
    }
    expect_err(
        s.insert_iot_policy_version("p", &doc("6"), false, "g", 6)
            .await,
        "LimitExceeded",
        Entity::IotPolicy,
    );

    let target = cert_arn(&cert_id(1));
    for i in 0..11 {
        let name = format!("p{i:02}");
        s.insert_iot_policy(&name, &doc(&name), "g", 1, &[])
            .await
            .unwrap();
        let r = s.attach_iot_policy(&name, &target).await;
        if i < 10 {
            r.unwrap();
        } else {
            expect_err(r, "LimitExceeded", Entity::IotPolicy);
        }
    }
    assert_eq!(
        s.list_target_iot_policies(&target, &PageRequest::default())
            .await
            .unwrap()
            .items
            .len(),
        10
    );
}
