//! Customer-managed IAM policies, their versions and attachments, and effective policies.

use iotcreds_store::*;

use crate::Harness;
use crate::fixtures::*;

/// Create and look up by ARN: the name part regardless of case, the rest exactly.
pub async fn managed_policy_create_and_lookup<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let mut m = managed("ReadBucket", "/iot/");
    m.description = Some("read".into());
    m.tags = vec![tag("z", "1"), tag("a", "2")];
    s.insert_managed_policy(&m, &doc("v1")).await.unwrap();
    let mut want = m.clone();
    want.tags = vec![tag("a", "2"), tag("z", "1")];
    assert_eq!(s.managed_policy(&m.arn).await.unwrap(), Some(want.clone()));
    assert_eq!(
        s.managed_policy(&policy_arn("/iot/", "readbucket"))
            .await
            .unwrap(),
        Some(want.clone())
    );
    assert_eq!(
        s.managed_policy(&policy_arn("/", "ReadBucket"))
            .await
            .unwrap(),
        None,
        "the path must match"
    );
    assert_eq!(
        s.managed_policy(&arn_in_account("999999999999", "/iot/", "ReadBucket"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.managed_policy("not an arn").await.unwrap(), None);

    expect_err(
        s.insert_managed_policy(&managed("READBUCKET", "/iot/"), &doc("x"))
            .await,
        "AlreadyExists",
        Entity::ManagedPolicy,
    );
    expect_err(
        s.insert_managed_policy(&managed("readbucket", "/other/"), &doc("x"))
            .await,
        "AlreadyExists",
        Entity::ManagedPolicy,
    );
    let v1 = s
        .managed_policy_version(&m.arn, "v1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (v1.version_id.as_str(), v1.is_default, v1.document.clone()),
        ("v1", true, doc("v1"))
    );
    assert_eq!(v1.policy_arn, m.arn);
}

fn arn_in_account(account: &str, path: &str, name: &str) -> String {
    iotcreds_types::arn::iam_policy(account, path, name)
}

/// Versions `v1`, `v2`, ...: default switching, newest first, never reused, capped, and the
/// default cannot be deleted.
pub async fn managed_policy_versions_lifecycle<H: Harness>() {
    let h = H::create(small_limits()).await;
    let s = h.store();
    let arn = policy_arn("/", "p");
    expect_err(
        s.insert_managed_policy_version(&arn, &doc("x"), true, 1)
            .await,
        "NotFound",
        Entity::ManagedPolicy,
    );
    s.insert_managed_policy(&managed("p", "/"), &doc("1"))
        .await
        .unwrap();
    let v2 = s
        .insert_managed_policy_version(&arn, &doc("2"), false, 100)
        .await
        .unwrap();
    assert_eq!((v2.version_id.as_str(), v2.is_default), ("v2", false));
    let v3 = s
        .insert_managed_policy_version(&policy_arn("/", "P"), &doc("3"), true, 200)
        .await
        .unwrap();
    assert_eq!(
        (
            v3.version_id.as_str(),
            v3.is_default,
            v3.policy_arn.as_str()
        ),
        ("v3", true, arn.as_str())
    );
    let p = s.managed_policy(&arn).await.unwrap().unwrap();
    assert_eq!((p.default_version_id.as_str(), p.updated_at), ("v3", 200));
    expect_err_key(
        s.insert_managed_policy_version(&arn, &doc("4"), true, 300)
            .await,
        "LimitExceeded",
        Entity::ManagedPolicy,
        &arn,
    );

    let list = s.list_managed_policy_versions(&arn).await.unwrap();
    let ids: Vec<(&str, bool)> = list
        .iter()
        .map(|v| (v.version_id.as_str(), v.is_default))
        .collect();
    assert_eq!(ids, vec![("v3", true), ("v2", false), ("v1", false)]);
    expect_err(
        s.list_managed_policy_versions(&policy_arn("/", "ghost"))
            .await,
        "NotFound",
        Entity::ManagedPolicy,
    );
    for missing in ["v9", "2", "V2", "v02", ""] {
        assert_eq!(
            s.managed_policy_version(&arn, missing).await.unwrap(),
            None,
            "{missing}"
        );
    }
    assert_eq!(
        s.managed_policy_version(&policy_arn("/", "ghost"), "v1")
            .await
            .unwrap(),
        None
    );

    s.set_default_managed_policy_version(&arn, "v1", 400)
        .await
        .unwrap();
    let p = s.managed_policy(&arn).await.unwrap().unwrap();
    assert_eq!((p.default_version_id.as_str(), p.updated_at), ("v1", 400));
    expect_err(
        s.set_default_managed_policy_version(&arn, "v7", 1).await,
        "NotFound",
        Entity::ManagedPolicyVersion,
    );
    expect_err(
        s.set_default_managed_policy_version(&policy_arn("/", "ghost"), "v1", 1)
            .await,
        "NotFound",
        Entity::ManagedPolicy,
    );

    expect_err_key(
        s.delete_managed_policy_version(&arn, "v1").await,
        "Conflict",
        Entity::ManagedPolicyVersion,
        "v1",
    );
    expect_err(
        s.delete_managed_policy_version(&arn, "v8").await,
        "NotFound",
        Entity::ManagedPolicyVersion,
    );
    s.delete_managed_policy_version(&arn, "v3").await.unwrap();
    let v4 = s
        .insert_managed_policy_version(&arn, &doc("4"), false, 500)
        .await
        .unwrap();
    assert_eq!(v4.version_id, "v4", "version ids are never reused");
}

/// Attaching to roles and users: absent holder or policy, idempotent, counted, capped;
/// detaching what is not attached is `NotFound`.
pub async fn managed_policy_attach_rules<H: Harness>() {
    let h = H::create(small_limits()).await;
    let s = h.store();
    let (a, b, c) = (
        policy_arn("/", "a"),
        policy_arn("/", "b"),
        policy_arn("/", "c"),
    );
    expect_err(
        s.attach_managed_policy(PolicyHolder::Role("r"), &a).await,
        "NotFound",
        Entity::Role,
    );
    expect_err(
        s.attach_managed_policy(PolicyHolder::User("u"), &a).await,
        "NotFound",
        Entity::User,
    );
    s.insert_role(&role("Role", "/")).await.unwrap();
    s.insert_user(&user("User", "/")).await.unwrap();
    expect_err(
        s.attach_managed_policy(PolicyHolder::Role("role"), &a)
            .await,
        "NotFound",
        Entity::ManagedPolicy,
    );
    for n in ["a", "b", "c"] {
        s.insert_managed_policy(&managed(n, "/"), &doc(n))
            .await
            .unwrap();
    }
    s.attach_managed_policy(PolicyHolder::Role("role"), &a)
        .await
        .unwrap();
    s.attach_managed_policy(PolicyHolder::Role("ROLE"), &policy_arn("/", "A"))
        .await
        .unwrap();
    s.attach_managed_policy(PolicyHolder::Role("Role"), &b)
        .await
        .unwrap();
    expect_err_key(
        s.attach_managed_policy(PolicyHolder::Role("Role"), &c)
            .await,
        "LimitExceeded",
        Entity::PolicyAttachment,
        "Role",
    );
    s.attach_managed_policy(PolicyHolder::User("user"), &a)
        .await
        .unwrap();

    assert_eq!(
        s.managed_policy(&a)
            .await
            .unwrap()
            .unwrap()
            .attachment_count,
        2
    );
    assert_eq!(
        s.managed_policy(&c)
            .await
            .unwrap()
            .unwrap()
            .attachment_count,
        0
    );
    let attached = collect(
        1,
        true,
        |p: &ManagedPolicy| p.name.clone(),
        async |p| {
            s.list_attached_managed_policies(PolicyHolder::Role("role"), &p)
                .await
        },
    )
    .await;
    assert_eq!(attached, vec!["a", "b"]);
    expect_err(
        s.list_attached_managed_policies(PolicyHolder::User("ghost"), &PageRequest::default())
            .await,
        "NotFound",
        Entity::User,
    );
    assert_eq!(
        s.list_managed_policy_holders(&a).await.unwrap(),
        vec![
            ("role".to_owned(), "Role".to_owned()),
            ("user".to_owned(), "User".to_owned())
        ]
    );
    assert!(s.list_managed_policy_holders(&c).await.unwrap().is_empty());

    expect_err(
        s.detach_managed_policy(PolicyHolder::Role("Role"), &c)
            .await,
        "NotFound",
        Entity::PolicyAttachment,
    );
    expect_err(
        s.detach_managed_policy(PolicyHolder::Role("ghost"), &a)
            .await,
        "NotFound",
        Entity::Role,
    );
    expect_err(
        s.detach_managed_policy(PolicyHolder::Role("Role"), &policy_arn("/", "ghost"))
            .await,
        "NotFound",
        Entity::ManagedPolicy,
    );
    s.detach_managed_policy(PolicyHolder::Role("role"), &a)
        .await
        .unwrap();
    assert_eq!(
        s.managed_policy(&a)
            .await
            .unwrap()
            .unwrap()
            .attachment_count,
        1
    );
    s.attach_managed_policy(PolicyHolder::Role("role"), &c)
        .await
        .unwrap();
}

/// Deleting a managed policy: absent, attached, extra versions, then fine.
pub async fn managed_policy_delete_rules<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let arn = policy_arn("/x/", "p");
    expect_err_key(
        s.delete_managed_policy(&arn).await,
        "NotFound",
        Entity::ManagedPolicy,
        &arn,
    );
    let mut m = managed("p", "/x/");
    m.tags = vec![tag("k", "v")];
    s.insert_managed_policy(&m, &doc("1")).await.unwrap();
    s.insert_user(&user("u", "/")).await.unwrap();
    s.attach_managed_policy(PolicyHolder::User("u"), &arn)
        .await
        .unwrap();
    expect_err_key(
        s.delete_managed_policy(&arn).await,
        "Conflict",
        Entity::ManagedPolicy,
        &arn,
    );
    s.detach_managed_policy(PolicyHolder::User("u"), &arn)
        .await
        .unwrap();
    s.insert_managed_policy_version(&arn, &doc("2"), true, 2)
        .await
        .unwrap();
    expect_err(
        s.delete_managed_policy(&arn).await,
        "Conflict",
        Entity::ManagedPolicy,
    );
    s.delete_managed_policy_version(&arn, "v1").await.unwrap();
    s.delete_managed_policy(&policy_arn("/x/", "P"))
        .await
        .unwrap();
    assert_eq!(s.managed_policy(&arn).await.unwrap(), None);
    s.insert_managed_policy(&managed("P", "/y/"), &doc("new"))
        .await
        .unwrap();
    let again = s
        .managed_policy(&policy_arn("/y/", "p"))
        .await
        .unwrap()
        .unwrap();
    assert!(again.tags.is_empty(), "old tags are gone");
    assert_eq!(again.default_version_id, "v1");
}

/// `list_managed_policies`: by name regardless of case, path prefix, only attached, pages.
pub async fn managed_policies_list_filters<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    for (n, p) in [
        ("b", "/"),
        ("A", "/app/"),
        ("c", "/app/sub/"),
        ("D", "/other/"),
    ] {
        s.insert_managed_policy(&managed(n, p), &doc(n))
            .await
            .unwrap();
    }
    s.insert_role(&role("r", "/")).await.unwrap();
    s.attach_managed_policy(PolicyHolder::Role("r"), &policy_arn("/app/sub/", "c"))
        .await
        .unwrap();
    s.attach_managed_policy(PolicyHolder::Role("r"), &policy_arn("/", "b"))
        .await
        .unwrap();
    let names = async |f: ManagedPolicyFilter| {
        collect(
            1,
            true,
            |p: &ManagedPolicy| p.name.clone(),
            async |p| s.list_managed_policies(&f, &p).await,
        )
        .await
    };
    assert_eq!(
        names(ManagedPolicyFilter::default()).await,
        vec!["A", "b", "c", "D"]
    );
    assert_eq!(
        names(ManagedPolicyFilter {
            path_prefix: Some("/app/".into()),
            only_attached: false
        })
        .await,
        vec!["A", "c"]
    );
    assert_eq!(
        names(ManagedPolicyFilter {
            path_prefix: None,
            only_attached: true
        })
        .await,
        vec!["b", "c"]
    );
    assert_eq!(
        names(ManagedPolicyFilter {
            path_prefix: Some("/app/".into()),
            only_attached: true
        })
        .await,
        vec!["c"]
    );
    let desc = collect(
        3,
        false,
        |p: &ManagedPolicy| p.name.clone(),
        async |p| {
            s.list_managed_policies(&ManagedPolicyFilter::default(), &p)
                .await
        },
    )
    .await;
    assert_eq!(desc, vec!["D", "c", "b", "A"]);
    let all = s
        .list_managed_policies(&ManagedPolicyFilter::default(), &PageRequest::default())
        .await
        .unwrap();
    let counts: Vec<i64> = all.items.iter().map(|p| p.attachment_count).collect();
    assert_eq!(counts, vec![0, 1, 1, 0]);
}

/// `effective_policies`: inline policies by name, then each attached managed policy's default
/// version by name; `NotFound` for an absent holder.
pub async fn effective_policies_order_and_content<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    expect_err(
        s.effective_policies(PolicyHolder::Role("r")).await,
        "NotFound",
        Entity::Role,
    );
    expect_err(
        s.effective_policies(PolicyHolder::User("u")).await,
        "NotFound",
        Entity::User,
    );
    s.insert_role(&role("Role", "/")).await.unwrap();
    s.insert_user(&user("u", "/")).await.unwrap();
    assert!(
        s.effective_policies(PolicyHolder::Role("role"))
            .await
            .unwrap()
            .is_empty()
    );

    for n in ["zz", "aa"] {
        s.put_role_policy(
            "Role",
            &InlinePolicy {
                name: n.into(),
                document: doc(n),
            },
        )
        .await
        .unwrap();
    }
    for n in ["Mz", "ma"] {
        s.insert_managed_policy(&managed(n, "/"), &doc(n))
            .await
            .unwrap();
        s.attach_managed_policy(PolicyHolder::Role("Role"), &policy_arn("/", n))
            .await
            .unwrap();
    }
    s.insert_managed_policy_version(&policy_arn("/", "Mz"), &doc("Mz-2"), true, 2)
        .await
        .unwrap();
    s.insert_managed_policy_version(&policy_arn("/", "ma"), &doc("ma-2"), false, 2)
        .await
        .unwrap();
    let got = s
        .effective_policies(PolicyHolder::Role("ROLE"))
        .await
        .unwrap();
    let want = vec![
        EffectivePolicy {
            id: "aa".into(),
            version: "inline".into(),
            document: doc("aa"),
        },
        EffectivePolicy {
            id: "zz".into(),
            version: "inline".into(),
            document: doc("zz"),
        },
        EffectivePolicy {
            id: policy_arn("/", "ma"),
            version: "v1".into(),
            document: doc("ma"),
        },
        EffectivePolicy {
            id: policy_arn("/", "Mz"),
            version: "v2".into(),
            document: doc("Mz-2"),
        },
    ];
    assert_eq!(got, want);

    // A user's own policies, not the role's.
    s.put_user_policy(
        "U",
        &InlinePolicy {
            name: "own".into(),
            document: doc("own"),
        },
    )
    .await
    .unwrap();
    s.attach_managed_policy(PolicyHolder::User("u"), &policy_arn("/", "ma"))
        .await
        .unwrap();
    let got = s.effective_policies(PolicyHolder::User("u")).await.unwrap();
    assert_eq!(
        got.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        vec!["own", policy_arn("/", "ma").as_str()]
    );
}

/// Managed policy tags: added or replaced by key, removed by key, capped at `tags_per_role`;
/// found by the policy's ARN only.
pub async fn managed_policy_tags_and_limit<H: Harness>() {
    let h = H::create(small_limits()).await;
    let s = h.store();
    let m = managed("ADCTestPolicy", "/");
    s.insert_managed_policy(&m, &doc("v1")).await.unwrap();
    s.tag_managed_policy(
        &m.arn,
        &[tag("site", "tokyo"), tag("env", "dev"), tag("cost", "1")],
    )
    .await
    .unwrap();
    expect_err(
        s.tag_managed_policy(&m.arn, &[tag("more", "x")]).await,
        "LimitExceeded",
        Entity::ManagedPolicy,
    );
    s.untag_managed_policy(&m.arn, &["env".into()])
        .await
        .unwrap();
    assert_eq!(
        s.managed_policy(&m.arn).await.unwrap().unwrap().tags,
        vec![tag("cost", "1"), tag("site", "tokyo")]
    );
    expect_err(
        s.tag_managed_policy(&policy_arn("/other/", "ADCTestPolicy"), &[tag("a", "b")])
            .await,
        "NotFound",
        Entity::ManagedPolicy,
    );
}
