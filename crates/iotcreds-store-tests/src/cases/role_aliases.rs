//! Role aliases.

use iotcreds_store::*;

use crate::Harness;
use crate::fixtures::*;

fn mapping(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Create (with tags and a session-tag mapping), read, update partially, delete.
pub async fn role_alias_lifecycle<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let role_arn = iotcreds_types::arn::iam_role(ACCOUNT, "/", "ADCTestRole");
    let mut a = alias("ADCTestRoleAlias", &role_arn);
    a.tags = vec![tag("z", "1"), tag("a", "2")];
    a.session_tags = mapping(&[
        ("site", "iot:Connection.Thing.Attributes[site]"),
        ("device", "iot:Connection.Thing.ThingName"),
    ]);
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
                session_tags: None,
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
                session_tags: None,
                modified_at: 13_000,
            },
        )
        .await
        .unwrap();
    want.role_arn = other;
    want.modified_at = 13_000;
    assert_eq!(got, want);
    assert_eq!(
        s.role_alias("ADCTestRoleAlias").await.unwrap(),
        Some(want.clone())
    );
    // A mapping given replaces the mapping; an empty one removes it.
    for m in [
        mapping(&[("cn", "iot:Certificate.Subject.CommonName")]),
        mapping(&[]),
    ] {
        let got = s
            .update_role_alias(
                "ADCTestRoleAlias",
                &RoleAliasUpdate {
                    role_arn: None,
                    credential_duration_seconds: None,
                    session_tags: Some(m.clone()),
                    modified_at: 14_000,
                },
            )
            .await
            .unwrap();
        want.session_tags = m;
        want.modified_at = 14_000;
        assert_eq!(got, want);
        assert_eq!(
            s.list_role_aliases(&PageRequest::default())
                .await
                .unwrap()
                .items,
            vec![want.clone()]
        );
    }
    expect_err_key(
        s.update_role_alias(
            "ghost",
            &RoleAliasUpdate {
                role_arn: None,
                credential_duration_seconds: None,
                session_tags: None,
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

/// Tags of the taggable IoT resources (CA certificate, IoT policy, role alias, thing type):
/// given at creation, added or replaced by key, removed by key, capped at `tags_per_role`,
/// kept apart per resource (two kinds may share a key), and gone with the resource; a refused
/// call changes nothing; an absent resource is `NotFound` and has no tags.
pub async fn iot_resource_tags_lifecycle<H: Harness>() {
    let h = H::create(small_limits()).await;
    let s = h.store();
    let ca_id = cert_id(7);
    let role_arn = iotcreds_types::arn::iam_role(ACCOUNT, "/", "ADCTestRole");
    s.insert_ca_certificate(&ca(&ca_id, "CN=Fleet"), &[tag("site", "tokyo")])
        .await
        .unwrap();
    s.insert_iot_policy(
        "ADCTestPolicy",
        &doc("p"),
        "g",
        1,
        &[tag("b", "2"), tag("a", "1")],
    )
    .await
    .unwrap();
    s.insert_role_alias(&alias("ADCTestPolicy", &role_arn))
        .await
        .unwrap();
    s.insert_thing_type(&thing_type("ADCTestThingType"), &[])
        .await
        .unwrap();
    let ca_r = IotTagged::CaCertificate(&ca_id);
    let policy = IotTagged::Policy("ADCTestPolicy");
    let alias_r = IotTagged::RoleAlias("ADCTestPolicy");
    let tt = IotTagged::ThingType("ADCTestThingType");
    assert_eq!(
        s.iot_resource_tags(ca_r).await.unwrap(),
        Some(vec![tag("site", "tokyo")])
    );
    assert_eq!(
        s.iot_resource_tags(policy).await.unwrap(),
        Some(vec![tag("a", "1"), tag("b", "2")]),
        "sorted by key"
    );
    assert_eq!(
        s.iot_resource_tags(alias_r).await.unwrap(),
        Some(vec![]),
        "a role alias of the same name as the policy has its own (no) tags"
    );
    assert_eq!(s.iot_resource_tags(tt).await.unwrap(), Some(vec![]));

    s.tag_iot_resource(tt, &[tag("env", "dev"), tag("site", "osaka")])
        .await
        .unwrap();
    s.tag_iot_resource(tt, &[tag("site", "kyoto")])
        .await
        .unwrap();
    assert_eq!(
        s.iot_resource_tags(tt).await.unwrap(),
        Some(vec![tag("env", "dev"), tag("site", "kyoto")])
    );
    s.tag_iot_resource(tt, &[tag("cost", "1")]).await.unwrap();
    expect_err_key(
        s.tag_iot_resource(tt, &[tag("more", "x")]).await,
        "LimitExceeded",
        Entity::ThingType,
        "ADCTestThingType",
    );
    assert_eq!(s.iot_resource_tags(tt).await.unwrap().unwrap().len(), 3);
    s.untag_iot_resource(tt, &["env".into(), "absent".into()])
        .await
        .unwrap();
    assert_eq!(
        s.iot_resource_tags(tt).await.unwrap(),
        Some(vec![tag("cost", "1"), tag("site", "kyoto")])
    );

    // Absent resources: names are case-sensitive, CA ids are stored in lower case.
    for absent in [
        IotTagged::Policy("adctestpolicy"),
        IotTagged::RoleAlias("Ghost"),
        IotTagged::ThingType("Ghost"),
        IotTagged::CaCertificate(&cert_id(8)),
    ] {
        assert_eq!(s.iot_resource_tags(absent).await.unwrap(), None);
        expect_err(
            s.tag_iot_resource(absent, &[tag("a", "b")]).await,
            "NotFound",
            absent.entity(),
        );
        expect_err(
            s.untag_iot_resource(absent, &["a".into()]).await,
            "NotFound",
            absent.entity(),
        );
    }

    // Deleting a resource deletes its tags: one made again under the same key has none.
    s.update_ca_certificate(
        &ca_id,
        Some(iotcreds_types::CaCertificateStatus::Inactive),
        None,
        "g2",
        2,
    )
    .await
    .unwrap();
    s.delete_ca_certificate(&ca_id).await.unwrap();
    s.insert_ca_certificate(&ca(&ca_id, "CN=Fleet"), &[])
        .await
        .unwrap();
    assert_eq!(s.iot_resource_tags(ca_r).await.unwrap(), Some(vec![]));
    s.delete_iot_policy("ADCTestPolicy").await.unwrap();
    s.insert_iot_policy("ADCTestPolicy", &doc("p"), "g", 3, &[])
        .await
        .unwrap();
    assert_eq!(s.iot_resource_tags(policy).await.unwrap(), Some(vec![]));
    s.tag_iot_resource(alias_r, &[tag("a", "1")]).await.unwrap();
    s.delete_role_alias("ADCTestPolicy").await.unwrap();
    s.insert_role_alias(&alias("ADCTestPolicy", &role_arn))
        .await
        .unwrap();
    assert_eq!(s.iot_resource_tags(alias_r).await.unwrap(), Some(vec![]));
    s.delete_thing_type("ADCTestThingType").await.unwrap();
    s.insert_thing_type(&thing_type("ADCTestThingType"), &[])
        .await
        .unwrap();
    assert_eq!(s.iot_resource_tags(tt).await.unwrap(), Some(vec![]));
}
