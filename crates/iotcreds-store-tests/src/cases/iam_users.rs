//! IAM users, their inline policies and access keys.

use iotcreds_store::*;
use iotcreds_types::AccessKeyStatus;

use crate::Harness;
use crate::fixtures::*;

/// User names are unique and found regardless of case; lists filter by path prefix.
pub async fn user_names_ignore_case_and_paths<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let mut admin = user("Admin", "/ops/");
    admin.tags = vec![tag("team", "ops")];
    s.insert_user(&admin).await.unwrap();
    assert_eq!(s.user("ADMIN").await.unwrap(), Some(admin.clone()));
    expect_err_key(
        s.insert_user(&user("admin", "/")).await,
        "AlreadyExists",
        Entity::User,
        "admin",
    );
    assert_eq!(s.user("nobody").await.unwrap(), None);
    for (n, p) in [("bob", "/"), ("Carol", "/ops/night/"), ("dave", "/opsx/")] {
        s.insert_user(&user(n, p)).await.unwrap();
    }
    let names = async |prefix: Option<&str>| {
        collect(
            1,
            true,
            |u: &User| u.name.clone(),
            async |p| s.list_users(prefix, &p).await,
        )
        .await
    };
    assert_eq!(names(None).await, vec!["Admin", "bob", "Carol", "dave"]);
    assert_eq!(names(Some("/ops/")).await, vec!["Admin", "Carol"]);
    let listed = s
        .list_users(Some("/ops/"), &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.items[0], admin, "listed users carry their tags");
    // Users and roles are separate namespaces.
    s.insert_role(&role("admin", "/")).await.unwrap();
}

/// Inline policies of users (the same rules as for roles).
pub async fn user_inline_policies<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let inline = |n: &str, d: &str| InlinePolicy {
        name: n.into(),
        document: doc(d),
    };
    expect_err(
        s.put_user_policy("u", &inline("p", "1")).await,
        "NotFound",
        Entity::User,
    );
    expect_err(s.user_policy("u", "p").await, "NotFound", Entity::User);
    expect_err(
        s.list_user_policies("u", &PageRequest::default()).await,
        "NotFound",
        Entity::User,
    );
    expect_err(
        s.delete_user_policy("u", "p").await,
        "NotFound",
        Entity::User,
    );
    s.insert_user(&user("U", "/")).await.unwrap();
    s.put_user_policy("u", &inline("b", "1")).await.unwrap();
    s.put_user_policy("u", &inline("a", "2")).await.unwrap();
    s.put_user_policy("U", &inline("b", "3")).await.unwrap();
    assert_eq!(
        s.user_policy("u", "b").await.unwrap(),
        Some(inline("b", "3"))
    );
    assert_eq!(s.user_policy("u", "c").await.unwrap(), None);
    let all = collect(
        1,
        true,
        |p: &InlinePolicy| p.clone(),
        async |p| s.list_user_policies("u", &p).await,
    )
    .await;
    assert_eq!(all, vec![inline("a", "2"), inline("b", "3")]);
    s.delete_user_policy("u", "a").await.unwrap();
    expect_err_key(
        s.delete_user_policy("u", "a").await,
        "NotFound",
        Entity::InlinePolicy,
        "a",
    );
    // A role with the same name has its own inline policies.
    s.insert_role(&role("u", "/")).await.unwrap();
    assert!(
        s.list_role_policies("u", &PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// Access keys: owner must exist, ids unique, at most `access_keys_per_user`, found by id with
/// the owner's stored name, listed by id, status changes and deletes only by their owner.
pub async fn access_keys_lifecycle<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    expect_err(
        s.insert_access_key(&access_key("AKIA0000000000000001", "u"))
            .await,
        "NotFound",
        Entity::User,
    );
    s.insert_user(&user("Alice", "/")).await.unwrap();
    s.insert_user(&user("bob", "/")).await.unwrap();
    let k2 = access_key("AKIA0000000000000002", "alice");
    let k1 = access_key("AKIA0000000000000001", "ALICE");
    s.insert_access_key(&k2).await.unwrap();
    s.insert_access_key(&k1).await.unwrap();
    expect_err_key(
        s.insert_access_key(&access_key("AKIA0000000000000003", "alice"))
            .await,
        "LimitExceeded",
        Entity::AccessKey,
        "alice",
    );
    expect_err_key(
        s.insert_access_key(&access_key("AKIA0000000000000001", "bob"))
            .await,
        "AlreadyExists",
        Entity::AccessKey,
        "AKIA0000000000000001",
    );

    let got = s.access_key("AKIA0000000000000002").await.unwrap().unwrap();
    assert_eq!(got.user_name, "Alice", "the owner's stored name");
    assert_eq!(
        (got.secret.as_str(), got.status, got.created_at),
        (k2.secret.as_str(), AccessKeyStatus::Active, k2.created_at)
    );
    assert_eq!(s.access_key("AKIA9999999999999999").await.unwrap(), None);
    let ids: Vec<String> = s
        .list_access_keys("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.access_key_id)
        .collect();
    assert_eq!(ids, vec!["AKIA0000000000000001", "AKIA0000000000000002"]);
    assert!(s.list_access_keys("bob").await.unwrap().is_empty());
    expect_err(s.list_access_keys("ghost").await, "NotFound", Entity::User);

    s.update_access_key("alice", &k1.access_key_id, AccessKeyStatus::Inactive)
        .await
        .unwrap();
    assert_eq!(
        s.access_key(&k1.access_key_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AccessKeyStatus::Inactive
    );
    expect_err(
        s.update_access_key("bob", &k1.access_key_id, AccessKeyStatus::Active)
            .await,
        "NotFound",
        Entity::AccessKey,
    );
    expect_err(
        s.update_access_key("ghost", &k1.access_key_id, AccessKeyStatus::Active)
            .await,
        "NotFound",
        Entity::User,
    );
    expect_err(
        s.update_access_key("alice", "AKIA9999999999999999", AccessKeyStatus::Active)
            .await,
        "NotFound",
        Entity::AccessKey,
    );

    expect_err(
        s.delete_access_key("bob", &k1.access_key_id).await,
        "NotFound",
        Entity::AccessKey,
    );
    expect_err(
        s.delete_access_key("ghost", &k1.access_key_id).await,
        "NotFound",
        Entity::User,
    );
    s.delete_access_key("Alice", &k1.access_key_id)
        .await
        .unwrap();
    assert_eq!(s.access_key(&k1.access_key_id).await.unwrap(), None);
    s.insert_access_key(&access_key("AKIA0000000000000003", "alice"))
        .await
        .unwrap();
}

/// Deleting a user: absent, access keys, inline policies, attached policies, then fine.
pub async fn user_delete_rules<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    expect_err_key(s.delete_user("u").await, "NotFound", Entity::User, "u");
    let mut u = user("u", "/");
    u.tags = vec![tag("k", "v")];
    s.insert_user(&u).await.unwrap();
    s.insert_access_key(&access_key("AKIA0000000000000001", "u"))
        .await
        .unwrap();
    expect_err_key(s.delete_user("U").await, "Conflict", Entity::User, "U");
    s.delete_access_key("u", "AKIA0000000000000001")
        .await
        .unwrap();
    s.put_user_policy(
        "u",
        &InlinePolicy {
            name: "i".into(),
            document: doc("i"),
        },
    )
    .await
    .unwrap();
    expect_err(s.delete_user("u").await, "Conflict", Entity::User);
    s.delete_user_policy("u", "i").await.unwrap();
    s.insert_managed_policy(&managed("m", "/"), &doc("m"))
        .await
        .unwrap();
    s.attach_managed_policy(PolicyHolder::User("u"), &policy_arn("/", "m"))
        .await
        .unwrap();
    expect_err(s.delete_user("u").await, "Conflict", Entity::User);
    s.detach_managed_policy(PolicyHolder::User("u"), &policy_arn("/", "m"))
        .await
        .unwrap();
    s.delete_user("U").await.unwrap();
    assert_eq!(s.user("u").await.unwrap(), None);
    s.insert_user(&user("u", "/")).await.unwrap();
    assert!(
        s.user("u").await.unwrap().unwrap().tags.is_empty(),
        "old tags are gone"
    );
}

/// User tags are added or replaced by key, removed by key, capped at `tags_per_role`, and go
/// with the user; a refused call changes nothing.
pub async fn user_tags_and_limit<H: Harness>() {
    let h = H::create(small_limits()).await;
    let s = h.store();
    s.insert_user(&user("ADCTestUser", "/")).await.unwrap();
    s.tag_user("adctestuser", &[tag("site", "tokyo"), tag("env", "dev")])
        .await
        .unwrap();
    s.tag_user("ADCTestUser", &[tag("site", "osaka"), tag("cost", "1")])
        .await
        .unwrap();
    assert_eq!(
        s.user("ADCTestUser").await.unwrap().unwrap().tags,
        vec![tag("cost", "1"), tag("env", "dev"), tag("site", "osaka")]
    );
    expect_err_key(
        s.tag_user("ADCTestUser", &[tag("more", "x")]).await,
        "LimitExceeded",
        Entity::User,
        "ADCTestUser",
    );
    assert_eq!(s.user("ADCTestUser").await.unwrap().unwrap().tags.len(), 3);
    s.untag_user("ADCTestUser", &["env".into(), "absent".into()])
        .await
        .unwrap();
    assert_eq!(
        s.user("ADCTestUser").await.unwrap().unwrap().tags,
        vec![tag("cost", "1"), tag("site", "osaka")]
    );
    expect_err(
        s.tag_user("ghost", &[tag("a", "b")]).await,
        "NotFound",
        Entity::User,
    );
    expect_err(
        s.untag_user("ghost", &["a".into()]).await,
        "NotFound",
        Entity::User,
    );
    // A user made again under the same name starts without the old one's tags.
    s.delete_user("ADCTestUser").await.unwrap();
    s.insert_user(&user("ADCTestUser", "/")).await.unwrap();
    assert!(
        s.user("ADCTestUser")
            .await
            .unwrap()
            .unwrap()
            .tags
            .is_empty()
    );
}

/// A role's and a user's permissions boundary: given at creation, set, replaced, removed; an
/// absent role or user is `NotFound` and nothing changes.
pub async fn permissions_boundaries<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let first = policy_arn("/", "FirstBoundary");
    let second = policy_arn("/", "SecondBoundary");
    let mut u = user("ADCTestUser", "/");
    u.permissions_boundary = Some(first.clone());
    s.insert_user(&u).await.unwrap();
    s.insert_role(&role("ADCTestRole", "/")).await.unwrap();
    async fn boundary_of_user(s: &dyn Store) -> Option<String> {
        s.user("ADCTestUser")
            .await
            .unwrap()
            .unwrap()
            .permissions_boundary
    }
    assert_eq!(boundary_of_user(&*s).await, Some(first.clone()));
    s.set_user_permissions_boundary("adctestuser", Some(&second))
        .await
        .unwrap();
    assert_eq!(boundary_of_user(&*s).await, Some(second.clone()));
    s.set_user_permissions_boundary("ADCTestUser", None)
        .await
        .unwrap();
    assert_eq!(boundary_of_user(&*s).await, None);
    assert_eq!(
        s.role("ADCTestRole")
            .await
            .unwrap()
            .unwrap()
            .permissions_boundary,
        None
    );
    s.set_role_permissions_boundary("ADCTESTROLE", Some(&first))
        .await
        .unwrap();
    assert_eq!(
        s.role("ADCTestRole")
            .await
            .unwrap()
            .unwrap()
            .permissions_boundary,
        Some(first.clone())
    );
    let listed = s.list_users(None, &page(10, None)).await.unwrap();
    assert_eq!(listed.items[0].permissions_boundary, None);
    s.set_role_permissions_boundary("ADCTestRole", None)
        .await
        .unwrap();
    assert_eq!(
        s.role("ADCTestRole")
            .await
            .unwrap()
            .unwrap()
            .permissions_boundary,
        None
    );
    let before = s.generation().await.unwrap();
    expect_err(
        s.set_user_permissions_boundary("Ghost", Some(&first)).await,
        "NotFound",
        Entity::User,
    );
    expect_err(
        s.set_role_permissions_boundary("Ghost", Some(&first)).await,
        "NotFound",
        Entity::Role,
    );
    assert_eq!(
        s.generation().await.unwrap(),
        before,
        "a refused call changes nothing"
    );
}

/// `UpdateUser`: a rename moves the user with its id, access keys, console password, inline and
/// attached policies, tags and boundary; the old name is gone; a case-only rename keeps the key;
/// a taken name or an absent user is refused and changes nothing.
pub async fn user_rename_keeps_everything<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let boundary = policy_arn("/", "Boundary");
    let mut u = user("ADCTestUser", "/");
    u.permissions_boundary = Some(boundary.clone());
    u.tags = vec![tag("site", "tokyo")];
    s.insert_user(&u).await.unwrap();
    s.insert_user(&user("Taken", "/")).await.unwrap();
    s.insert_access_key(&access_key("AKIAADCTESTUSER00001", "ADCTestUser"))
        .await
        .unwrap();
    s.insert_login_profile(&LoginProfile {
        user_name: "ADCTestUser".into(),
        password_hash: "h".into(),
        password_reset_required: false,
        created_at: 1,
        password_set_at: 1,
    })
    .await
    .unwrap();
    let inline = InlinePolicy {
        name: "read".into(),
        document: doc("read"),
    };
    s.put_user_policy("ADCTestUser", &inline).await.unwrap();
    let m = managed("Attached", "/");
    s.insert_managed_policy(&m, &doc("m")).await.unwrap();
    s.attach_managed_policy(PolicyHolder::User("ADCTestUser"), &m.arn)
        .await
        .unwrap();

    s.update_user("adctestuser", Some("ADCTestOperator"), Some("/fleet/"))
        .await
        .unwrap();
    assert_eq!(s.user("ADCTestUser").await.unwrap(), None);
    let moved = s.user("adctestoperator").await.unwrap().unwrap();
    assert_eq!(
        (moved.name.as_str(), moved.path.as_str(), moved.id.as_str()),
        ("ADCTestOperator", "/fleet/", u.id.as_str())
    );
    assert_eq!(moved.tags, vec![tag("site", "tokyo")]);
    assert_eq!(moved.permissions_boundary, Some(boundary));
    let key = s.access_key("AKIAADCTESTUSER00001").await.unwrap().unwrap();
    assert_eq!(key.user_name, "ADCTestOperator");
    assert_eq!(
        s.list_access_keys("ADCTestOperator").await.unwrap().len(),
        1
    );
    assert!(s.login_profile("ADCTestOperator").await.unwrap().is_some());
    assert_eq!(
        s.user_policy("ADCTestOperator", "read").await.unwrap(),
        Some(inline)
    );
    let effective = s
        .effective_policies(PolicyHolder::User("ADCTestOperator"))
        .await
        .unwrap();
    assert_eq!(effective.len(), 2, "{effective:?}");
    assert_eq!(
        s.list_managed_policy_holders(&m.arn).await.unwrap(),
        vec![("user".to_owned(), "ADCTestOperator".to_owned())]
    );

    // Only the case: the same key, the new spelling; only the path.
    s.update_user("ADCTestOperator", Some("adctestoperator"), None)
        .await
        .unwrap();
    assert_eq!(
        s.user("ADCTESTOPERATOR").await.unwrap().unwrap().name,
        "adctestoperator"
    );
    s.update_user("adctestoperator", None, Some("/"))
        .await
        .unwrap();
    assert_eq!(s.user("adctestoperator").await.unwrap().unwrap().path, "/");

    let before = s.generation().await.unwrap();
    expect_err_key(
        s.update_user("adctestoperator", Some("TAKEN"), None).await,
        "AlreadyExists",
        Entity::User,
        "TAKEN",
    );
    expect_err(
        s.update_user("Ghost", Some("Other"), None).await,
        "NotFound",
        Entity::User,
    );
    assert_eq!(
        s.generation().await.unwrap(),
        before,
        "a refused call changes nothing"
    );
    assert!(s.user("adctestoperator").await.unwrap().is_some());
}

/// The last use of an access key: none at first; a later use replaces an earlier one, an older
/// one is ignored, an unknown key is skipped; recording leaves the generation alone.
pub async fn access_key_last_use<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    s.insert_user(&user("ADCTestUser", "/")).await.unwrap();
    let id = "AKIAADCTESTUSER00001";
    s.insert_access_key(&access_key(id, "ADCTestUser"))
        .await
        .unwrap();
    assert_eq!(s.access_key_last_used(id).await.unwrap(), None);
    let used = |at: i64, service: &str| AccessKeyUse {
        access_key_id: id.into(),
        at,
        service: service.into(),
        region: "ap-northeast-1".into(),
    };
    let before = s.generation().await.unwrap();
    s.record_access_key_uses(&[
        used(2_000, "s3"),
        AccessKeyUse {
            access_key_id: "AKIAUNKNOWN000000000".into(),
            ..used(2_000, "s3")
        },
    ])
    .await
    .unwrap();
    assert_eq!(
        s.access_key_last_used(id).await.unwrap(),
        Some(used(2_000, "s3"))
    );
    s.record_access_key_uses(&[used(1_000, "iam")])
        .await
        .unwrap();
    assert_eq!(
        s.access_key_last_used(id).await.unwrap(),
        Some(used(2_000, "s3"))
    );
    s.record_access_key_uses(&[used(3_000, "sts")])
        .await
        .unwrap();
    assert_eq!(
        s.access_key_last_used(id).await.unwrap(),
        Some(used(3_000, "sts"))
    );
    assert_eq!(
        s.generation().await.unwrap(),
        before,
        "uses do not move the generation"
    );
    assert_eq!(
        s.access_key_last_used("AKIAUNKNOWN000000000")
            .await
            .unwrap(),
        None
    );
}
