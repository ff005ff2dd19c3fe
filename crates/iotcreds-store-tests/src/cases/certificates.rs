//! CA certificates and device certificates.

use iotcreds_store::*;
use iotcreds_types::{
    AutoRegistrationStatus, CaCertificateStatus, CertificateStatus, OcspMode, ThingPrincipalType,
};

use crate::Harness;
use crate::fixtures::*;

/// Register, read, update (status, auto-registration, version, generation id) and delete a CA.
pub async fn ca_certificate_lifecycle<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let id = cert_id(1);
    let mut c = ca(&id, "CN=Root");
    s.insert_ca_certificate(&c, &[]).await.unwrap();
    assert_eq!(s.ca_certificate(&id).await.unwrap(), Some(c.clone()));
    assert_eq!(s.ca_certificate(&cert_id(2)).await.unwrap(), None);
    expect_err_key(
        s.insert_ca_certificate(&c, &[]).await,
        "AlreadyExists",
        Entity::CaCertificate,
        &id,
    );

    let updated = s
        .update_ca_certificate(
            &id,
            None,
            Some(AutoRegistrationStatus::Enable),
            "gen-ca-2",
            20_000,
        )
        .await
        .unwrap();
    c.auto_registration = AutoRegistrationStatus::Enable;
    c.customer_version = 2;
    c.generation_id = "gen-ca-2".to_owned();
    c.modified_at = 20_000;
    assert_eq!(updated, c);
    assert_eq!(s.ca_certificate(&id).await.unwrap(), Some(c.clone()));

    expect_err_key(
        s.delete_ca_certificate(&id).await,
        "InvalidState",
        Entity::CaCertificate,
        &id,
    );
    let updated = s
        .update_ca_certificate(
            &id,
            Some(CaCertificateStatus::Inactive),
            None,
            "gen-ca-3",
            30_000,
        )
        .await
        .unwrap();
    assert_eq!(updated.status, CaCertificateStatus::Inactive);
    assert_eq!(
        updated.auto_registration,
        AutoRegistrationStatus::Enable,
        "left unchanged"
    );
    assert_eq!(updated.customer_version, 3);

    expect_err_key(
        s.update_ca_certificate(&cert_id(9), Some(CaCertificateStatus::Active), None, "g", 1)
            .await,
        "NotFound",
        Entity::CaCertificate,
        &cert_id(9),
    );

    // Certificates it issued stay registered when it goes.
    s.insert_certificate(&cert(&cert_id(100), 1, Some(&id)))
        .await
        .unwrap();
    s.delete_ca_certificate(&id).await.unwrap();
    assert_eq!(s.ca_certificate(&id).await.unwrap(), None);
    expect_err(
        s.delete_ca_certificate(&id).await,
        "NotFound",
        Entity::CaCertificate,
    );
    assert!(s.certificate(&cert_id(100)).await.unwrap().is_some());
}

/// At most `ca_certificates_per_subject` CAs share a subject.
pub async fn ca_certificates_per_subject_limit<H: Harness>() {
    let h = H::create(small_limits()).await;
    let s = h.store();
    s.insert_ca_certificate(&ca(&cert_id(1), "CN=Same"), &[])
        .await
        .unwrap();
    s.insert_ca_certificate(&ca(&cert_id(2), "CN=Same"), &[])
        .await
        .unwrap();
    expect_err_key(
        s.insert_ca_certificate(&ca(&cert_id(3), "CN=Same"), &[])
            .await,
        "LimitExceeded",
        Entity::CaCertificate,
        &cert_id(3),
    );
    assert_eq!(s.ca_certificate(&cert_id(3)).await.unwrap(), None);
    s.insert_ca_certificate(&ca(&cert_id(3), "CN=Other"), &[])
        .await
        .unwrap();
}

/// A CA's CRL: stored with the CA, read back with it (get and list), replaced only by a CRL
/// issued later (by cRLNumber, else thisUpdate: an older one, or another of the same second,
/// would un-revoke), removed, and gone with the CA.
pub async fn ca_crl_replaces_forward_only<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let id = cert_id(1);
    s.insert_ca_certificate(&ca(&id, "CN=Fleet"), &[])
        .await
        .unwrap();
    let crl = |this_update: i64, serials: &[&str]| CaCrl {
        der: vec![0x30, 0x03, 0x02, 0x01, this_update as u8],
        this_update,
        number: None,
        next_update: Some(this_update + 86_400_000),
        revoked_serials: serials.iter().map(|s| (*s).to_owned()).collect(),
        imported_at: this_update + 5,
    };
    let first = crl(1_000, &["0a", "7f00"]);
    let got = s.set_ca_crl(&id, Some(&first)).await.unwrap();
    assert_eq!(got.crl.as_ref(), Some(&first));
    assert_eq!(
        s.ca_certificate(&id).await.unwrap().unwrap().crl,
        Some(first.clone())
    );
    assert_eq!(
        s.list_ca_certificates(&PageRequest::default())
            .await
            .unwrap()
            .items[0]
            .crl,
        Some(first.clone())
    );
    // An empty list of revoked serials and no nextUpdate round-trip too.
    let second = CaCrl {
        next_update: None,
        ..crl(2_000, &[])
    };
    s.set_ca_crl(&id, Some(&second)).await.unwrap();
    assert_eq!(
        s.ca_certificate(&id).await.unwrap().unwrap().crl,
        Some(second.clone())
    );
    expect_err_key(
        s.set_ca_crl(&id, Some(&first)).await,
        "Conflict",
        Entity::CaCertificate,
        &id,
    );
    assert_eq!(
        s.ca_certificate(&id).await.unwrap().unwrap().crl,
        Some(second.clone())
    );
    // A different CRL of the same second is not later without cRLNumbers...
    let same_second = CaCrl {
        der: vec![0x30, 0x01, 0x00],
        ..second.clone()
    };
    expect_err_key(
        s.set_ca_crl(&id, Some(&same_second)).await,
        "Conflict",
        Entity::CaCertificate,
        &id,
    );
    // ...and ordered by them when both have one; the number round-trips.
    let numbered = |number: &str, der_tail: u8| CaCrl {
        der: vec![0x30, 0x03, 0x02, 0x01, der_tail],
        number: Some(number.to_owned()),
        ..crl(3_000, &["0a"])
    };
    s.set_ca_crl(&id, Some(&numbered("0a", 1))).await.unwrap();
    s.set_ca_crl(&id, Some(&numbered("0b", 2))).await.unwrap();
    expect_err_key(
        s.set_ca_crl(&id, Some(&numbered("09", 3))).await,
        "Conflict",
        Entity::CaCertificate,
        &id,
    );
    assert_eq!(
        s.ca_certificate(&id).await.unwrap().unwrap().crl,
        Some(numbered("0b", 2))
    );
    expect_err_key(
        s.set_ca_crl(&cert_id(9), Some(&first)).await,
        "NotFound",
        Entity::CaCertificate,
        &cert_id(9),
    );
    assert_eq!(s.set_ca_crl(&id, None).await.unwrap().crl, None);
    // Without a CRL, any CRL may be imported again.
    s.set_ca_crl(&id, Some(&first)).await.unwrap();
    s.update_ca_certificate(&id, Some(CaCertificateStatus::Inactive), None, "g", 3_000)
        .await
        .unwrap();
    s.delete_ca_certificate(&id).await.unwrap();
    assert_eq!(s.ca_certificate(&id).await.unwrap(), None);
}

/// A CA's online revocation settings: registered with the CA, replaced whole, read back with
/// it (get and list), untouched by a CRL import, and refused for an absent CA.
pub async fn ca_revocation_config_round_trips<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let id = cert_id(1);
    let registered = CaRevocationConfig {
        ocsp: OcspMode::FailOpen,
        ocsp_responder_url: None,
        crl_url: Some("http://pki.example/fleet.crl".into()),
    };
    s.insert_ca_certificate(
        &CaCertificate {
            revocation: registered.clone(),
            ..ca(&id, "CN=Fleet")
        },
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        s.ca_certificate(&id).await.unwrap().unwrap().revocation,
        registered
    );
    let config = CaRevocationConfig {
        ocsp: OcspMode::FailClosed,
        ocsp_responder_url: Some("http://ocsp.example/".into()),
        crl_url: None,
    };
    let got = s.set_ca_revocation_config(&id, &config).await.unwrap();
    assert_eq!(got.revocation, config);
    let crl = CaCrl {
        der: vec![0x30, 0x00],
        this_update: 1_000,
        number: None,
        next_update: None,
        revoked_serials: Default::default(),
        imported_at: 1_001,
    };
    s.set_ca_crl(&id, Some(&crl)).await.unwrap();
    assert_eq!(
        s.list_ca_certificates(&PageRequest::default())
            .await
            .unwrap()
            .items[0]
            .revocation,
        config
    );
    let off = s
        .set_ca_revocation_config(&id, &CaRevocationConfig::default())
        .await
        .unwrap();
    assert_eq!(off.revocation.ocsp, OcspMode::Off);
    assert_eq!(off.crl, Some(crl));
    expect_err_key(
        s.set_ca_revocation_config(&cert_id(9), &config).await,
        "NotFound",
        Entity::CaCertificate,
        &cert_id(9),
    );
}

/// CA lists are by id, ascending or descending, in pages.
pub async fn ca_certificates_list_pages_both_ways<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    for n in [5, 3, 9, 1, 7] {
        s.insert_ca_certificate(&ca(&cert_id(n), &format!("CN={n}")), &[])
            .await
            .unwrap();
    }
    let want: Vec<String> = [1, 3, 5, 7, 9].iter().map(|n| cert_id(*n)).collect();
    let asc = collect(
        2,
        true,
        |c: &CaCertificate| c.id.clone(),
        async |p| s.list_ca_certificates(&p).await,
    )
    .await;
    assert_eq!(asc, want);
    let desc = collect(
        2,
        false,
        |c: &CaCertificate| c.id.clone(),
        async |p| s.list_ca_certificates(&p).await,
    )
    .await;
    assert_eq!(desc, want.iter().rev().cloned().collect::<Vec<_>>());
}

/// Registering: duplicates refused, an issuing CA must exist, CA-less (SNI_ONLY) allowed.
pub async fn certificate_insert_rules<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let ca_id = cert_id(1);
    s.insert_ca_certificate(&ca(&ca_id, "CN=Root"), &[])
        .await
        .unwrap();

    let c = cert(&cert_id(10), 100, Some(&ca_id));
    s.insert_certificate(&c).await.unwrap();
    assert_eq!(s.certificate(&c.id).await.unwrap(), Some(c.clone()));
    expect_err_key(
        s.insert_certificate(&c).await,
        "AlreadyExists",
        Entity::Certificate,
        &c.id,
    );

    let orphan = cert(&cert_id(11), 100, Some(&cert_id(2)));
    expect_err_key(
        s.insert_certificate(&orphan).await,
        "NotFound",
        Entity::CaCertificate,
        &cert_id(2),
    );
    assert_eq!(s.certificate(&orphan.id).await.unwrap(), None);

    let sni = cert(&cert_id(12), 100, None);
    s.insert_certificate(&sni).await.unwrap();
    assert_eq!(s.certificate(&sni.id).await.unwrap(), Some(sni));
    assert_eq!(s.certificate(&cert_id(13)).await.unwrap(), None);
}

/// Status changes bump the customer version and replace the generation id.
pub async fn certificate_update_status_bumps_version<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let mut c = cert(&cert_id(1), 100, None);
    s.insert_certificate(&c).await.unwrap();
    let got = s
        .update_certificate_status(&c.id, CertificateStatus::Revoked, "gen-2", 500)
        .await
        .unwrap();
    c.status = CertificateStatus::Revoked;
    c.customer_version = 2;
    c.generation_id = "gen-2".to_owned();
    c.modified_at = 500;
    assert_eq!(got, c);
    assert_eq!(s.certificate(&c.id).await.unwrap(), Some(c.clone()));
    expect_err_key(
        s.update_certificate_status(&cert_id(2), CertificateStatus::Active, "g", 1)
            .await,
        "NotFound",
        Entity::Certificate,
        &cert_id(2),
    );
}

/// Deleting: absent, ACTIVE, attached to a thing, attached to a policy, then fine.
pub async fn certificate_delete_rules<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let id = cert_id(1);
    let arn = cert_arn(&id);
    expect_err_key(
        s.delete_certificate(&id, &arn).await,
        "NotFound",
        Entity::Certificate,
        &id,
    );
    s.insert_certificate(&cert(&id, 100, None)).await.unwrap();
    expect_err_key(
        s.delete_certificate(&id, &arn).await,
        "InvalidState",
        Entity::Certificate,
        &id,
    );
    s.update_certificate_status(&id, CertificateStatus::Inactive, "g2", 200)
        .await
        .unwrap();

    s.insert_thing(&thing("dev", None, &[])).await.unwrap();
    s.attach_thing_principal(&attachment(
        "dev",
        &arn,
        ThingPrincipalType::NonExclusiveThing,
    ))
    .await
    .unwrap();
    expect_err_key(
        s.delete_certificate(&id, &arn).await,
        "Conflict",
        Entity::Certificate,
        &id,
    );
    s.detach_thing_principal("dev", &arn).await.unwrap();

    s.insert_iot_policy("p", &doc("p"), "g", 1, &[])
        .await
        .unwrap();
    s.attach_iot_policy("p", &arn).await.unwrap();
    expect_err_key(
        s.delete_certificate(&id, &arn).await,
        "Conflict",
        Entity::Certificate,
        &id,
    );
    s.detach_iot_policy("p", &arn).await.unwrap();

    assert!(
        s.certificate(&id).await.unwrap().is_some(),
        "refused deletes keep it"
    );
    s.delete_certificate(&id, &arn).await.unwrap();
    assert_eq!(s.certificate(&id).await.unwrap(), None);
}

/// Certificate lists sort by creation time then id, page both ways, and filter by CA.
pub async fn certificates_list_by_creation_time<H: Harness>() {
    let h = H::create(Limits::default()).await;
    let s = h.store();
    let ca_a = cert_id(1000);
    let ca_b = cert_id(2000);
    s.insert_ca_certificate(&ca(&ca_a, "CN=A"), &[])
        .await
        .unwrap();
    s.insert_ca_certificate(&ca(&ca_b, "CN=B"), &[])
        .await
        .unwrap();
    // (id, created_at, ca): equal times are ordered by id.
    let rows = [
        (5, 300, Some(&ca_a)),
        (1, 300, Some(&ca_b)),
        (9, 100, None),
        (3, 200, Some(&ca_a)),
        (7, 300, Some(&ca_a)),
        (2, 400, None),
    ];
    for (n, t, ca) in rows {
        s.insert_certificate(&cert(&cert_id(n), t, ca.map(String::as_str)))
            .await
            .unwrap();
    }
    let want: Vec<String> = [9, 3, 1, 5, 7, 2].iter().map(|n| cert_id(*n)).collect();
    for size in [1, 2, 4, 10] {
        let asc = collect(
            size,
            true,
            |c: &Certificate| c.id.clone(),
            async |p| s.list_certificates(None, &p).await,
        )
        .await;
        assert_eq!(asc, want, "page size {size}");
        let desc = collect(
            size,
            false,
            |c: &Certificate| c.id.clone(),
            async |p| s.list_certificates(None, &p).await,
        )
        .await;
        assert_eq!(
            desc,
            want.iter().rev().cloned().collect::<Vec<_>>(),
            "page size {size}"
        );
    }
    let of_a = collect(
        2,
        true,
        |c: &Certificate| c.id.clone(),
        async |p| s.list_certificates(Some(&ca_a), &p).await,
    )
    .await;
    assert_eq!(of_a, vec![cert_id(3), cert_id(5), cert_id(7)]);
    let of_none = s
        .list_certificates(Some(&cert_id(1)), &PageRequest::default())
        .await
        .unwrap();
    assert!(of_none.items.is_empty() && of_none.next_marker.is_none());
}
