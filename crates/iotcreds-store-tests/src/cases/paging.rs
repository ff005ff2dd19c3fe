//! Paging rules shared by every list: markers, page sizes, complete traversal.

use iotcreds_store::*;
use iotcreds_types::ThingPrincipalType;

use crate::Harness;
use crate::fixtures::*;

/// A marker the store did not issue is `InvalidMarker` on every paged list.
pub async fn invalid_markers_are_refused<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    s.insert_role(&role("r", "/")).await.unwrap();
    s.insert_user(&user("u", "/")).await.unwrap();
    s.insert_iot_policy("p", &doc("p"), "g", 1, &[])
        .await
        .unwrap();
    s.insert_thing(&thing("t", None, &[])).await.unwrap();
    // Not base64url; base64url of a non-UTF-8 byte; padding where none is issued.
    for bad in ["%%%", "_w", "dA=="] {
        let p = page(10, Some(bad.to_owned()));
        let fail = |what: &str, e: Option<StoreError>| {
            assert_eq!(
                e,
                Some(StoreError::InvalidMarker),
                "{what} with marker {bad:?}"
            );
        };
        fail("ca", s.list_ca_certificates(&p).await.err());
        fail("certificates", s.list_certificates(None, &p).await.err());
        fail("thing types", s.list_thing_types(&p).await.err());
        fail(
            "things",
            s.list_things(&ThingFilter::default(), &p).await.err(),
        );
        fail(
            "thing principals",
            s.list_thing_principals("t", &p).await.err(),
        );
        fail(
            "principal things",
            s.list_principal_things("x", &p).await.err(),
        );
        fail("iot policies", s.list_iot_policies(&p).await.err());
        fail(
            "target policies",
            s.list_target_iot_policies("x", &p).await.err(),
        );
        fail(
            "policy targets",
            s.list_iot_policy_targets("p", &p).await.err(),
        );
        fail("roles", s.list_roles(None, &p).await.err());
        fail("role policies", s.list_role_policies("r", &p).await.err());
        fail(
            "managed",
            s.list_managed_policies(&ManagedPolicyFilter::default(), &p)
                .await
                .err(),
        );
        fail(
            "attached",
            s.list_attached_managed_policies(PolicyHolder::Role("r"), &p)
                .await
                .err(),
        );
        fail("users", s.list_users(None, &p).await.err());
        fail("user policies", s.list_user_policies("u", &p).await.err());
        fail("role aliases", s.list_role_aliases(&p).await.err());
    }
    // A well-formed marker of the wrong shape for certificates (no creation time).
    let foreign = s.list_roles(None, &page(1, None)).await.unwrap();
    assert!(foreign.next_marker.is_none());
    s.insert_role(&role("s", "/")).await.unwrap();
    let marker = s
        .list_roles(None, &page(1, None))
        .await
        .unwrap()
        .next_marker
        .unwrap();
    assert_eq!(
        s.list_certificates(None, &page(1, Some(marker)))
            .await
            .err(),
        Some(StoreError::InvalidMarker)
    );
}

/// Page sizes are clamped to 1..=1000.
pub async fn page_size_is_clamped<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    for n in ["a", "b", "c"] {
        s.insert_thing_type(&thing_type(n), &[]).await.unwrap();
    }
    let first = s.list_thing_types(&page(0, None)).await.unwrap();
    assert_eq!(first.items.len(), 1);
    let second = s
        .list_thing_types(&page(0, first.next_marker))
        .await
        .unwrap();
    assert_eq!(second.items[0].name, "b");
    let all = s.list_thing_types(&page(u32::MAX, None)).await.unwrap();
    assert_eq!(all.items.len(), 3);
    assert_eq!(all.next_marker, None);
    // An exactly full last page has no next marker.
    let exact = s.list_thing_types(&page(3, None)).await.unwrap();
    assert_eq!((exact.items.len(), exact.next_marker), (3, None));
}

/// Paging visits every item exactly once, in order, for any page size and both directions,
/// also when items are added behind the cursor meanwhile.
pub async fn lists_page_through_everything<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let mut want = Vec::new();
    for i in 0..25 {
        let name = format!("thing-{:02}", (i * 7) % 25);
        s.insert_thing(&thing(&name, None, &[])).await.unwrap();
        s.attach_thing_principal(&attachment(
            &name,
            "arn:p",
            ThingPrincipalType::NonExclusiveThing,
        ))
        .await
        .unwrap();
        want.push(name);
    }
    want.sort();
    for size in [1, 7, 24, 25, 26, 1000] {
        let asc = collect(
            size,
            true,
            |t: &Thing| t.name.clone(),
            async |p| s.list_things(&ThingFilter::default(), &p).await,
        )
        .await;
        assert_eq!(asc, want, "page size {size}");
        let desc = collect(
            size,
            false,
            |t: &ThingPrincipal| t.thing_name.clone(),
            async |p| s.list_principal_things("arn:p", &p).await,
        )
        .await;
        assert_eq!(
            desc,
            want.iter().rev().cloned().collect::<Vec<_>>(),
            "page size {size}"
        );
    }

    // Items inserted before the cursor do not reappear; items after it show up.
    let first = s
        .list_things(&ThingFilter::default(), &page(10, None))
        .await
        .unwrap();
    s.insert_thing(&thing("thing-00a", None, &[]))
        .await
        .unwrap();
    s.insert_thing(&thing("thing-99", None, &[])).await.unwrap();
    let mut rest = Vec::new();
    let mut marker = first.next_marker;
    while let Some(m) = marker {
        let p = s
            .list_things(&ThingFilter::default(), &page(10, Some(m)))
            .await
            .unwrap();
        rest.extend(p.items.into_iter().map(|t| t.name));
        marker = p.next_marker;
    }
    let mut expected: Vec<String> = want[10..].to_vec();
    expected.push("thing-99".into());
    assert_eq!(rest, expected);
}
