//! Role aliases.

use iotcreds_store::*;

use crate::Harness;
use crate::fixtures::*;

/// Create (with tags), read, update partially, delete.
pub async fn role_alias_lifecycle<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let role_arn = iotcreds_types::arn::iam_role(ACCOUNT, "/", "ADCTestRole");
    let mut a = alias("ADCTestRoleAlias", &role_arn);
    a.tags = vec![tag("z", "1"), tag("a", "2")];
    s.insert_role_alias(&a).await.unwrap();
    let mut want = a.clone();
    want.tags = vec![tag("a", "2"), tag("z", "1")];
    assert_eq!(
        s.role_alias("ADCTestRoleAlias").await.unwrap(),
        Some(want.clone())
    );
    assert_eq!(
        s.role_alias("adctestrolealias").await.unwrap(),
        None,
        "names are case-sensitive"
    );
    expect_err_key(
        s.insert_role_alias(&a).await,
        "AlreadyExists",
        Entity::RoleAlias,
        "ADCTestRoleAlias",
    );

    let got = s
        .update_role_alias(
            "ADCTestRoleAlias",
            &RoleAliasUpdate {
                role_arn: None,
                credential_duration_seconds: Some(900),
                modified_at: 12_000,
            },
        )
        .await
        .unwrap();
    want.credential_duration_seconds = 900;
    want.modified_at = 12_000;
    assert_eq!(got, want);
    let other = iotcreds_types::arn::iam_role(ACCOUNT, "/x/", "Other");
    let got = s
        .update_role_alias(
            "ADCTestRoleAlias",
            &RoleAliasUpdate {
                role_arn: Some(other.clone()),
                credential_duration_seconds: None,
                modified_at: 13_000,
            },
        )
        .await
        .unwrap();
    want.role_arn = other;
    want.modified_at = 13_000;
    assert_eq!(got, want);
    assert_eq!(s.role_alias("ADCTestRoleAlias").await.unwrap(), Some(want));
    expect_err_key(
        s.update_role_alias(
            "ghost",
            &RoleAliasUpdate {
                role_arn: None,
                credential_duration_seconds: None,
                modified_at: 1,
            },
        )
        .await,
        "NotFound",
        Entity::RoleAlias,
        "ghost",
    );

    s.delete_role_alias("ADCTestRoleAlias").await.unwrap();
    assert_eq!(s.role_alias("ADCTestRoleAlias").await.unwrap(), None);
    expect_err_key(
        s.delete_role_alias("ADCTestRoleAlias").await,
        "NotFound",
        Entity::RoleAlias,
        "ADCTestRoleAlias",
    );
    s.insert_role_alias(&alias("ADCTestRoleAlias", &role_arn))
        .await
        .unwrap();
    assert!(
        s.role_alias("ADCTestRoleAlias")
            .await
            .unwrap()
            .unwrap()
            .tags
            .is_empty(),
        "old tags are gone"
    );
}

/// Role alias lists page ascending and descending by name.
pub async fn role_aliases_list_both_ways<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let names = ["b-alias", "A-alias", "c-alias", "a-alias", "B-alias"];
    for n in names {
        let mut a = alias(n, "arn:aws:iam::123456789012:role/r");
        a.tags = vec![tag("n", n)];
        s.insert_role_alias(&a).await.unwrap();
    }
    let mut want: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    want.sort();
    for size in [1, 2, 5, 6] {
        let asc = collect(
            size,
            true,
            |a: &RoleAlias| a.name.clone(),
            async |p| s.list_role_aliases(&p).await,
        )
        .await;
        assert_eq!(asc, want, "page size {size}");
        let desc = collect(
            size,
            false,
            |a: &RoleAlias| a.name.clone(),
            async |p| s.list_role_aliases(&p).await,
        )
        .await;
        assert_eq!(
            desc,
            want.iter().rev().cloned().collect::<Vec<_>>(),
            "page size {size}"
        );
    }
    let listed = s.list_role_aliases(&PageRequest::default()).await.unwrap();
    assert!(
        listed
            .items
            .iter()
            .all(|a| a.tags == vec![tag("n", &a.name)]),
        "listed aliases carry their tags"
    );
}
