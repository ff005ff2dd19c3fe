//! IAM roles, their tags and inline policies.

use iotcreds_store::*;

use crate::Harness;
use crate::fixtures::*;

/// Role names are unique and found regardless of case; the stored name keeps its case.
pub async fn role_names_ignore_case<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let mut r = role("ADCTestRole", "/iot/");
    r.description = Some("devices".into());
    r.permissions_boundary = Some(policy_arn("/", "Boundary"));
    r.tags = vec![tag("b", "2"), tag("a", "1")];
    s.insert_role(&r).await.unwrap();
    let mut want = r.clone();
    want.tags = vec![tag("a", "1"), tag("b", "2")];
    for name in ["ADCTestRole", "adctestrole", "ADCTESTROLE"] {
        assert_eq!(s.role(name).await.unwrap(), Some(want.clone()), "{name}");
    }
    expect_err_key(
        s.insert_role(&role("adctestROLE", "/")).await,
        "AlreadyExists",
        Entity::Role,
        "adctestROLE",
    );
    assert_eq!(s.role("x").await.unwrap(), None);
    let listed = s.list_roles(None, &PageRequest::default()).await.unwrap();
    assert_eq!(listed.items, vec![want]);
}

/// `update_role` changes only what it is given (`Some("")` clears the description);
/// `update_role_trust_policy` replaces the trust policy.
pub async fn role_update_and_trust_policy<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    s.insert_role(&role("r", "/")).await.unwrap();
    s.update_role(
        "R",
        &RoleUpdate {
            description: Some("hello".into()),
            max_session_duration: None,
        },
    )
    .await
    .unwrap();
    let got = s.role("r").await.unwrap().unwrap();
    assert_eq!(
        (got.description.as_deref(), got.max_session_duration),
        (Some("hello"), 3600)
    );
    s.update_role(
        "r",
        &RoleUpdate {
            description: None,
            max_session_duration: Some(7200),
        },
    )
    .await
    .unwrap();
    let got = s.role("r").await.unwrap().unwrap();
    assert_eq!(
        (got.description.as_deref(), got.max_session_duration),
        (Some("hello"), 7200)
    );
    s.update_role(
        "r",
        &RoleUpdate {
            description: Some(String::new()),
            max_session_duration: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(s.role("r").await.unwrap().unwrap().description, None);
    expect_err_key(
        s.update_role("ghost", &RoleUpdate::default()).await,
        "NotFound",
        Entity::Role,
        "ghost",
    );

    s.update_role_trust_policy("r", &doc("trust-2"))
        .await
        .unwrap();
    assert_eq!(
        s.role("r").await.unwrap().unwrap().trust_policy,
        doc("trust-2")
    );
    expect_err_key(
        s.update_role_trust_policy("ghost", TRUST).await,
        "NotFound",
        Entity::Role,
        "ghost",
    );
}

/// Tags are added or replaced by key, removed by key, and capped at `tags_per_role`.
pub async fn role_tags_and_limit<H: Harness>() {
    let h = H::create(small_limits()).await;
    let s = h.store();
    s.insert_role(&role("r", "/")).await.unwrap();
    s.tag_role("r", &[tag("team", "a"), tag("env", "dev")])
        .await
        .unwrap();
    s.tag_role("R", &[tag("team", "b")]).await.unwrap();
    assert_eq!(
        s.role("r").await.unwrap().unwrap().tags,
        vec![tag("env", "dev"), tag("team", "b")]
    );
    // Replacing two and adding one makes three: at the limit, allowed.
    s.tag_role(
        "r",
        &[tag("team", "c"), tag("env", "prod"), tag("cost", "1")],
    )
    .await
    .unwrap();
    expect_err_key(
        s.tag_role("r", &[tag("more", "x")]).await,
        "LimitExceeded",
        Entity::Role,
        "r",
    );
    assert_eq!(
        s.role("r").await.unwrap().unwrap().tags.len(),
        3,
        "a refused tag call changes nothing"
    );
    s.untag_role("r", &["env".into(), "absent".into()])
        .await
        .unwrap();
    assert_eq!(
        s.role("r").await.unwrap().unwrap().tags,
        vec![tag("cost", "1"), tag("team", "c")]
    );
    s.tag_role("r", &[tag("more", "x")]).await.unwrap();
    expect_err(
        s.tag_role("ghost", &[tag("a", "b")]).await,
        "NotFound",
        Entity::Role,
    );
    expect_err(
        s.untag_role("ghost", &["a".into()]).await,
        "NotFound",
        Entity::Role,
    );

    // Tags created with the role count too.
    let mut full = role("full", "/");
    full.tags = vec![tag("1", "1"), tag("2", "2"), tag("3", "3")];
    s.insert_role(&full).await.unwrap();
    expect_err(
        s.tag_role("full", &[tag("4", "4")]).await,
        "LimitExceeded",
        Entity::Role,
    );
}

/// `list_roles` sorts by name regardless of case, filters by path prefix, pages.
pub async fn roles_list_by_path_and_pages<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let rows = [
        ("b", "/"),
        ("A", "/iot/"),
        ("c", "/iot/edge/"),
        ("D", "/iotx/"),
        ("e", "/other/"),
    ];
    for (n, p) in rows {
        let mut r = role(n, p);
        r.tags = vec![tag("name", n)];
        s.insert_role(&r).await.unwrap();
    }
    let names = async |prefix: Option<&str>| {
        collect(
            2,
            true,
            |r: &Role| r.name.clone(),
            async |p| s.list_roles(prefix, &p).await,
        )
        .await
    };
    assert_eq!(names(None).await, vec!["A", "b", "c", "D", "e"]);
    assert_eq!(names(Some("/iot/")).await, vec!["A", "c"]);
    assert_eq!(names(Some("/iot")).await, vec!["A", "c", "D"]);
    assert_eq!(names(Some("/")).await, vec!["A", "b", "c", "D", "e"]);
    assert!(names(Some("/none/")).await.is_empty());
    let desc = collect(
        3,
        false,
        |r: &Role| r.name.clone(),
        async |p| s.list_roles(None, &p).await,
    )
    .await;
    assert_eq!(desc, vec!["e", "D", "c", "b", "A"]);
    // Listed roles carry their tags.
    let all = s.list_roles(None, &PageRequest::default()).await.unwrap();
    assert!(
        all.items
            .iter()
            .all(|r| r.tags == vec![tag("name", &r.name)])
    );
}

/// Inline policies: put (add or replace), get, list, delete, and the errors of each.
pub async fn role_inline_policies<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let inline = |n: &str, d: &str| InlinePolicy {
        name: n.into(),
        document: doc(d),
    };
    expect_err(
        s.put_role_policy("r", &inline("p", "1")).await,
        "NotFound",
        Entity::Role,
    );
    expect_err(s.role_policy("r", "p").await, "NotFound", Entity::Role);
    expect_err(
        s.list_role_policies("r", &PageRequest::default()).await,
        "NotFound",
        Entity::Role,
    );
    expect_err(
        s.delete_role_policy("r", "p").await,
        "NotFound",
        Entity::Role,
    );

    s.insert_role(&role("Role", "/")).await.unwrap();
    s.put_role_policy("role", &inline("s3", "1")).await.unwrap();
    s.put_role_policy("ROLE", &inline("kms", "2"))
        .await
        .unwrap();
    s.put_role_policy("Role", &inline("s3", "3")).await.unwrap();
    assert_eq!(
        s.role_policy("Role", "s3").await.unwrap(),
        Some(inline("s3", "3"))
    );
    assert_eq!(s.role_policy("Role", "S3").await.unwrap(), None);
    let all = collect(
        1,
        true,
        |p: &InlinePolicy| p.clone(),
        async |p| s.list_role_policies("role", &p).await,
    )
    .await;
    assert_eq!(all, vec![inline("kms", "2"), inline("s3", "3")]);

    s.delete_role_policy("Role", "kms").await.unwrap();
    expect_err_key(
        s.delete_role_policy("Role", "kms").await,
        "NotFound",
        Entity::InlinePolicy,
        "kms",
    );
    assert_eq!(
        s.list_role_policies("Role", &PageRequest::default())
            .await
            .unwrap()
            .items,
        vec![inline("s3", "3")]
    );
}

/// Deleting a role: absent, inline policies, attached policies, then fine (tags go with it).
pub async fn role_delete_rules<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    expect_err_key(s.delete_role("r").await, "NotFound", Entity::Role, "r");
    let mut r = role("r", "/");
    r.tags = vec![tag("k", "v")];
    s.insert_role(&r).await.unwrap();
    s.put_role_policy(
        "r",
        &InlinePolicy {
            name: "i".into(),
            document: doc("i"),
        },
    )
    .await
    .unwrap();
    expect_err_key(s.delete_role("R").await, "Conflict", Entity::Role, "R");
    s.delete_role_policy("r", "i").await.unwrap();
    s.insert_managed_policy(&managed("m", "/"), &doc("m"))
        .await
        .unwrap();
    s.attach_managed_policy(PolicyHolder::Role("r"), &policy_arn("/", "m"))
        .await
        .unwrap();
    expect_err(s.delete_role("r").await, "Conflict", Entity::Role);
    s.detach_managed_policy(PolicyHolder::Role("r"), &policy_arn("/", "m"))
        .await
        .unwrap();
    s.delete_role("R").await.unwrap();
    assert_eq!(s.role("r").await.unwrap(), None);
    s.insert_role(&role("R", "/")).await.unwrap();
    assert!(
        s.role("r").await.unwrap().unwrap().tags.is_empty(),
        "old tags are gone"
    );
}
