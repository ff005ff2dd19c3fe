//! Thing types, things and thing-principal attachments.

use std::collections::BTreeMap;

use iotcreds_store::*;
use iotcreds_types::ThingPrincipalType::{ExclusiveThing, NonExclusiveThing};

use crate::Harness;
use crate::fixtures::*;

/// Create, read, list, deprecate, undeprecate and delete a thing type.
pub async fn thing_type_lifecycle<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let mut t = thing_type("sensor");
    t.searchable_attributes = vec!["zeta".into(), "alpha".into(), "mid".into()];
    s.insert_thing_type(&t, &[]).await.unwrap();
    assert_eq!(
        s.thing_type("sensor").await.unwrap(),
        Some(t.clone()),
        "attribute order is kept"
    );
    expect_err_key(
        s.insert_thing_type(&t, &[]).await,
        "AlreadyExists",
        Entity::ThingType,
        "sensor",
    );
    let mut bare = thing_type("bare");
    bare.description = None;
    bare.searchable_attributes.clear();
    s.insert_thing_type(&bare, &[]).await.unwrap();
    assert_eq!(s.thing_type("bare").await.unwrap(), Some(bare.clone()));
    assert_eq!(
        s.thing_type("Sensor").await.unwrap(),
        None,
        "names are case-sensitive"
    );

    let listed = s.list_thing_types(&PageRequest::default()).await.unwrap();
    assert_eq!(listed.items, vec![bare, t.clone()]);

    s.deprecate_thing_type("sensor", Some(99)).await.unwrap();
    let got = s.thing_type("sensor").await.unwrap().unwrap();
    assert!(got.deprecated);
    assert_eq!(got.deprecated_at, Some(99));
    s.deprecate_thing_type("sensor", None).await.unwrap();
    assert_eq!(s.thing_type("sensor").await.unwrap(), Some(t));
    expect_err_key(
        s.deprecate_thing_type("nope", Some(1)).await,
        "NotFound",
        Entity::ThingType,
        "nope",
    );

    s.insert_thing(&thing("dev", Some("sensor"), &[]))
        .await
        .unwrap();
    expect_err_key(
        s.delete_thing_type("sensor").await,
        "Conflict",
        Entity::ThingType,
        "sensor",
    );
    s.delete_thing("dev", None).await.unwrap();
    s.delete_thing_type("sensor").await.unwrap();
    assert_eq!(s.thing_type("sensor").await.unwrap(), None);
    expect_err_key(
        s.delete_thing_type("sensor").await,
        "NotFound",
        Entity::ThingType,
        "sensor",
    );

    // The name can be reused, with fresh searchable attributes.
    let again = thing_type("sensor");
    s.insert_thing_type(&again, &[]).await.unwrap();
    assert_eq!(s.thing_type("sensor").await.unwrap(), Some(again));
}

/// Creating a thing: duplicate names, unknown and deprecated types.
pub async fn thing_insert_rules<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let t = thing("ADCTestThing", None, &[("serial", "42"), ("room", "7")]);
    s.insert_thing(&t).await.unwrap();
    assert_eq!(s.thing("ADCTestThing").await.unwrap(), Some(t.clone()));
    assert_eq!(
        s.thing("adctestthing").await.unwrap(),
        None,
        "names are case-sensitive"
    );
    expect_err_key(
        s.insert_thing(&t).await,
        "AlreadyExists",
        Entity::Thing,
        "ADCTestThing",
    );

    let typed = thing("typed", Some("sensor"), &[]);
    expect_err_key(
        s.insert_thing(&typed).await,
        "NotFound",
        Entity::ThingType,
        "sensor",
    );
    s.insert_thing_type(&thing_type("sensor"), &[])
        .await
        .unwrap();
    s.deprecate_thing_type("sensor", Some(1)).await.unwrap();
    expect_err_key(
        s.insert_thing(&typed).await,
        "InvalidState",
        Entity::ThingType,
        "sensor",
    );
    assert_eq!(s.thing("typed").await.unwrap(), None);
    s.deprecate_thing_type("sensor", None).await.unwrap();
    s.insert_thing(&typed).await.unwrap();
    assert_eq!(s.thing("typed").await.unwrap(), Some(typed));
}

/// `update_thing` is a compare-and-swap on the version and replaces type and attributes.
pub async fn thing_update_compare_and_swap<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    s.insert_thing_type(&thing_type("sensor"), &[])
        .await
        .unwrap();
    s.insert_thing(&thing("dev", None, &[("a", "1"), ("b", "2")]))
        .await
        .unwrap();

    let attributes: BTreeMap<String, String> = [
        ("b".to_owned(), "3".to_owned()),
        ("c".to_owned(), "4".to_owned()),
    ]
    .into();
    let update = ThingUpdate {
        thing_type: Some("sensor".into()),
        attributes: attributes.clone(),
        modified_at: 50_000,
    };
    let got = s.update_thing("dev", 1, &update).await.unwrap();
    assert_eq!(got.version, 2);
    assert_eq!(got.thing_type.as_deref(), Some("sensor"));
    assert_eq!(got.attributes, attributes);
    assert_eq!(got.modified_at, 50_000);
    assert_eq!(got.created_at, 6_000);
    assert_eq!(s.thing("dev").await.unwrap(), Some(got));

    expect_err_key(
        s.update_thing("dev", 1, &update).await,
        "VersionConflict",
        Entity::Thing,
        "dev",
    );
    expect_err_key(
        s.update_thing("nope", 1, &update).await,
        "NotFound",
        Entity::Thing,
        "nope",
    );
    let bad_type = ThingUpdate {
        thing_type: Some("ghost".into()),
        ..update.clone()
    };
    expect_err_key(
        s.update_thing("dev", 2, &bad_type).await,
        "NotFound",
        Entity::ThingType,
        "ghost",
    );
    assert_eq!(
        s.thing("dev").await.unwrap().unwrap().version,
        2,
        "failed updates change nothing"
    );

    let cleared = ThingUpdate {
        thing_type: None,
        attributes: BTreeMap::new(),
        modified_at: 60_000,
    };
    let got = s.update_thing("dev", 2, &cleared).await.unwrap();
    assert_eq!(
        (got.version, got.thing_type, got.attributes.len()),
        (3, None, 0)
    );
}

/// Deleting a thing: absent, version mismatch, principals attached.
pub async fn thing_delete_rules<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    expect_err_key(
        s.delete_thing("dev", None).await,
        "NotFound",
        Entity::Thing,
        "dev",
    );
    s.insert_thing(&thing("dev", None, &[("a", "1")]))
        .await
        .unwrap();
    expect_err_key(
        s.delete_thing("dev", Some(2)).await,
        "VersionConflict",
        Entity::Thing,
        "dev",
    );
    let arn = cert_arn(&cert_id(1));
    s.attach_thing_principal(&attachment("dev", &arn, NonExclusiveThing))
        .await
        .unwrap();
    expect_err_key(
        s.delete_thing("dev", Some(1)).await,
        "Conflict",
        Entity::Thing,
        "dev",
    );
    s.detach_thing_principal("dev", &arn).await.unwrap();
    s.delete_thing("dev", Some(1)).await.unwrap();
    assert_eq!(s.thing("dev").await.unwrap(), None);
    // Recreated without the old attributes.
    s.insert_thing(&thing("dev", None, &[])).await.unwrap();
    assert!(s.thing("dev").await.unwrap().unwrap().attributes.is_empty());
}

/// `list_things` filters by type, name prefix and attribute, alone and together, in pages.
pub async fn things_list_filters_and_pages<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    s.insert_thing_type(&thing_type("cam"), &[]).await.unwrap();
    s.insert_thing_type(&thing_type("lamp"), &[]).await.unwrap();
    let rows = [
        thing("cam-1", Some("cam"), &[("site", "berlin")]),
        thing("cam-2", Some("cam"), &[("site", "paris")]),
        thing("cam-3", Some("cam"), &[("site", "berlin"), ("floor", "2")]),
        thing("lamp-1", Some("lamp"), &[("site", "berlin")]),
        thing("Cam-4", None, &[("site", "berlin")]),
        thing("camera", None, &[]),
        thing("x%_", None, &[("site", "berlin%")]),
    ];
    for t in &rows {
        s.insert_thing(t).await.unwrap();
    }
    let names = async |f: ThingFilter| {
        collect(
            2,
            true,
            |t: &Thing| t.name.clone(),
            async |p| s.list_things(&f, &p).await,
        )
        .await
    };
    assert_eq!(
        names(ThingFilter::default()).await,
        vec![
            "Cam-4", "cam-1", "cam-2", "cam-3", "camera", "lamp-1", "x%_"
        ]
    );
    assert_eq!(
        names(ThingFilter {
            thing_type: Some("cam".into()),
            ..Default::default()
        })
        .await,
        vec!["cam-1", "cam-2", "cam-3"]
    );
    assert_eq!(
        names(ThingFilter {
            name_prefix: Some("cam".into()),
            ..Default::default()
        })
        .await,
        vec!["cam-1", "cam-2", "cam-3", "camera"],
        "prefixes are case-sensitive"
    );
    assert_eq!(
        names(ThingFilter {
            name_prefix: Some("x%".into()),
            ..Default::default()
        })
        .await,
        vec!["x%_"],
        "no wildcards in prefixes"
    );
    assert!(
        names(ThingFilter {
            name_prefix: Some("%".into()),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        names(ThingFilter {
            attribute: Some(("site".into(), "berlin".into())),
            ..Default::default()
        })
        .await,
        vec!["Cam-4", "cam-1", "cam-3", "lamp-1"]
    );
    assert_eq!(
        names(ThingFilter {
            attribute: Some(("site".into(), "berlin".into())),
            thing_type: Some("cam".into()),
            name_prefix: Some("cam-".into()),
        })
        .await,
        vec!["cam-1", "cam-3"]
    );
    assert!(
        names(ThingFilter {
            thing_type: Some("ghost".into()),
            ..Default::default()
        })
        .await
        .is_empty()
    );

    // Listed things carry their attributes.
    let page = s
        .list_things(&ThingFilter::default(), &page(10, None))
        .await
        .unwrap();
    let cam3 = page.items.iter().find(|t| t.name == "cam-3").unwrap();
    assert_eq!(
        cam3,
        &thing("cam-3", Some("cam"), &[("site", "berlin"), ("floor", "2")])
    );
}

/// Attach (idempotent), list both ways, check, detach.
pub async fn thing_principal_attach_detach<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let (a, b) = (cert_arn(&cert_id(1)), cert_arn(&cert_id(2)));
    expect_err_key(
        s.attach_thing_principal(&attachment("dev", &a, NonExclusiveThing))
            .await,
        "NotFound",
        Entity::Thing,
        "dev",
    );
    for t in ["dev", "dev-2"] {
        s.insert_thing(&thing(t, None, &[])).await.unwrap();
    }
    s.attach_thing_principal(&attachment("dev", &b, NonExclusiveThing))
        .await
        .unwrap();
    s.attach_thing_principal(&attachment("dev", &a, NonExclusiveThing))
        .await
        .unwrap();
    let g = s.generation().await.unwrap();
    s.attach_thing_principal(&attachment("dev", &a, NonExclusiveThing))
        .await
        .unwrap();
    assert_eq!(
        s.generation().await.unwrap(),
        g,
        "attaching again is a no-op"
    );
    s.attach_thing_principal(&attachment("dev-2", &a, NonExclusiveThing))
        .await
        .unwrap();

    let of_dev = s
        .list_thing_principals("dev", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        of_dev.items,
        vec![
            attachment("dev", &a, NonExclusiveThing),
            attachment("dev", &b, NonExclusiveThing)
        ]
    );
    let of_a = collect(
        1,
        true,
        |p: &ThingPrincipal| p.thing_name.clone(),
        async |p| s.list_principal_things(&a, &p).await,
    )
    .await;
    assert_eq!(of_a, vec!["dev", "dev-2"]);
    assert!(
        s.list_thing_principals("ghost", &PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    assert!(s.is_thing_attached("dev", &a).await.unwrap());
    assert!(
        !s.is_thing_attached("dev", &cert_arn(&cert_id(3)))
            .await
            .unwrap()
    );
    assert!(!s.is_thing_attached("ghost", &a).await.unwrap());

    s.detach_thing_principal("dev", &a).await.unwrap();
    assert!(!s.is_thing_attached("dev", &a).await.unwrap());
    assert!(s.is_thing_attached("dev-2", &a).await.unwrap());
    expect_err_key(
        s.detach_thing_principal("dev", &a).await,
        "NotFound",
        Entity::ThingPrincipal,
        &a,
    );
    expect_err(
        s.detach_thing_principal("ghost", &a).await,
        "NotFound",
        Entity::ThingPrincipal,
    );
}

/// Exclusive attachments: only one thing per principal, in both directions.
pub async fn thing_principal_exclusive_rules<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    for t in ["one", "two", "three"] {
        s.insert_thing(&thing(t, None, &[])).await.unwrap();
    }
    let p = cert_arn(&cert_id(1));
    s.attach_thing_principal(&attachment("one", &p, ExclusiveThing))
        .await
        .unwrap();
    s.attach_thing_principal(&attachment("one", &p, ExclusiveThing))
        .await
        .unwrap();
    expect_err_key(
        s.attach_thing_principal(&attachment("two", &p, NonExclusiveThing))
            .await,
        "Conflict",
        Entity::ThingPrincipal,
        &p,
    );
    expect_err(
        s.attach_thing_principal(&attachment("two", &p, ExclusiveThing))
            .await,
        "Conflict",
        Entity::ThingPrincipal,
    );

    let q = cert_arn(&cert_id(2));
    s.attach_thing_principal(&attachment("one", &q, NonExclusiveThing))
        .await
        .unwrap();
    s.attach_thing_principal(&attachment("two", &q, NonExclusiveThing))
        .await
        .unwrap();
    expect_err(
        s.attach_thing_principal(&attachment("three", &q, ExclusiveThing))
            .await,
        "Conflict",
        Entity::ThingPrincipal,
    );
    expect_err(
        s.attach_thing_principal(&attachment("one", &q, ExclusiveThing))
            .await,
        "Conflict",
        Entity::ThingPrincipal,
    );
    assert!(!s.is_thing_attached("three", &q).await.unwrap());

    // Alone on its thing, a non-exclusive attachment can become exclusive.
    s.detach_thing_principal("two", &q).await.unwrap();
    s.attach_thing_principal(&attachment("one", &q, ExclusiveThing))
        .await
        .unwrap();
    let listed = s
        .list_principal_things(&q, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].kind, ExclusiveThing);
    expect_err(
        s.attach_thing_principal(&attachment("two", &q, NonExclusiveThing))
            .await,
        "Conflict",
        Entity::ThingPrincipal,
    );
}

/// `RevokeThingSessions`: the time is kept on the thing, a later one replaces an earlier one
/// and an earlier one changes nothing; the thing's version stays; an absent thing is
/// `NotFound`; a thing made again under the same name starts without one.
pub async fn thing_session_revocation<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    s.insert_thing(&thing("ADCTestThing", None, &[]))
        .await
        .unwrap();
    assert_eq!(
        s.thing("ADCTestThing")
            .await
            .unwrap()
            .unwrap()
            .sessions_revoked_before,
        None
    );
    assert_eq!(
        s.revoke_thing_sessions("ADCTestThing", 5_000)
            .await
            .unwrap(),
        5_000
    );
    assert_eq!(
        s.revoke_thing_sessions("ADCTestThing", 4_000)
            .await
            .unwrap(),
        5_000
    );
    assert_eq!(
        s.revoke_thing_sessions("ADCTestThing", 7_000)
            .await
            .unwrap(),
        7_000
    );
    let t = s.thing("ADCTestThing").await.unwrap().unwrap();
    assert_eq!((t.sessions_revoked_before, t.version), (Some(7_000), 1));
    let listed = s
        .list_things(&ThingFilter::default(), &page(10, None))
        .await
        .unwrap();
    assert_eq!(listed.items[0].sessions_revoked_before, Some(7_000));
    expect_err(
        s.revoke_thing_sessions("adctestthing", 1).await,
        "NotFound",
        Entity::Thing,
    );
    s.delete_thing("ADCTestThing", None).await.unwrap();
    s.insert_thing(&thing("ADCTestThing", None, &[]))
        .await
        .unwrap();
    assert_eq!(
        s.thing("ADCTestThing")
            .await
            .unwrap()
            .unwrap()
            .sessions_revoked_before,
        None
    );
}
