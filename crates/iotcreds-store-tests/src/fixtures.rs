//! Builders of registry rows and assertions shared by the cases.

use std::collections::BTreeMap;
use std::fmt::Debug;

use iotcreds_store::*;
use iotcreds_types::{
    AccessKeyStatus, AutoRegistrationStatus, CaCertificateStatus, CertificateMode,
    CertificateStatus, ThingPrincipalType, arn,
};

/// The account of every fixture.
pub const ACCOUNT: &str = "123456789012";
/// The region of every fixture.
pub const REGION: &str = "us-east-1";

/// Limits small enough to reach in a test.
pub fn small_limits() -> Limits {
    Limits {
        policy_versions: 3,
        iot_policies_per_target: 2,
        managed_policies_per_holder: 2,
        access_keys_per_user: 1,
        tags_per_role: 3,
        ca_certificates_per_subject: 2,
    }
}

/// A 64-hex-digit certificate id made from `n`.
pub fn cert_id(n: u32) -> String {
    format!("{n:064x}")
}

/// The ARN of certificate `id`.
pub fn cert_arn(id: &str) -> String {
    arn::iot_certificate(REGION, ACCOUNT, id)
}

/// An ACTIVE CA with `subject`.
pub fn ca(id: &str, subject: &str) -> CaCertificate {
    CaCertificate {
        id: id.to_owned(),
        pem: format!("-----BEGIN CERTIFICATE-----\n{id}\n-----END CERTIFICATE-----\n"),
        status: CaCertificateStatus::Active,
        auto_registration: AutoRegistrationStatus::Disable,
        mode: CertificateMode::Default,
        subject: subject.to_owned(),
        not_before: 1_000,
        not_after: 9_000_000,
        created_at: 10_000,
        modified_at: 10_000,
        customer_version: 1,
        generation_id: "gen-ca-1".to_owned(),
        owned_by: ACCOUNT.to_owned(),
        crl: None,
        revocation: Default::default(),
    }
}

/// An ACTIVE certificate created at `created_at`, issued by `ca`.
pub fn cert(id: &str, created_at: i64, ca: Option<&str>) -> Certificate {
    Certificate {
        id: id.to_owned(),
        pem: format!("-----BEGIN CERTIFICATE-----\n{id}\n-----END CERTIFICATE-----\n"),
        status: CertificateStatus::Active,
        ca_certificate_id: ca.map(str::to_owned),
        mode: if ca.is_some() {
            CertificateMode::Default
        } else {
            CertificateMode::SniOnly
        },
        not_before: 1_000,
        not_after: 9_000_000,
        created_at,
        modified_at: created_at,
        customer_version: 1,
        generation_id: "gen-1".to_owned(),
        owned_by: ACCOUNT.to_owned(),
    }
}

/// A thing type with two searchable attributes.
pub fn thing_type(name: &str) -> ThingType {
    ThingType {
        name: name.to_owned(),
        id: format!("id-{name}"),
        description: Some(format!("{name} devices")),
        searchable_attributes: vec!["serial".to_owned(), "batch".to_owned()],
        deprecated: false,
        deprecated_at: None,
        created_at: 5_000,
    }
}

/// A thing of version 1.
pub fn thing(name: &str, thing_type: Option<&str>, attributes: &[(&str, &str)]) -> Thing {
    Thing {
        name: name.to_owned(),
        id: format!("id-{name}"),
        thing_type: thing_type.map(str::to_owned),
        attributes: attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        version: 1,
        created_at: 6_000,
        modified_at: 6_000,
        sessions_revoked_before: None,
    }
}

/// An attachment of `principal` to `thing`.
pub fn attachment(thing: &str, principal: &str, kind: ThingPrincipalType) -> ThingPrincipal {
    ThingPrincipal {
        thing_name: thing.to_owned(),
        principal: principal.to_owned(),
        kind,
        created_at: 7_000,
    }
}

/// A trust policy for the credentials provider.
pub const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"credentials.iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// A permission policy document mentioning `tag` (to tell documents apart).
pub fn doc(tag: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{tag}","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}]}}"#
    )
}

/// A role at `path` without tags.
pub fn role(name: &str, path: &str) -> Role {
    Role {
        name: name.to_owned(),
        id: format!("AROA{}", name.to_uppercase()),
        path: path.to_owned(),
        trust_policy: TRUST.to_owned(),
        description: None,
        max_session_duration: 3600,
        permissions_boundary: None,
        created_at: 8_000,
        tags: Vec::new(),
    }
}

/// A user at `path` without tags.
pub fn user(name: &str, path: &str) -> User {
    User {
        name: name.to_owned(),
        id: format!("AIDA{}", name.to_uppercase()),
        path: path.to_owned(),
        permissions_boundary: None,
        created_at: 8_500,
        tags: Vec::new(),
    }
}

/// The ARN of managed policy `name` at `path`.
pub fn policy_arn(path: &str, name: &str) -> String {
    arn::iam_policy(ACCOUNT, path, name)
}

/// A managed policy at `path` without tags.
pub fn managed(name: &str, path: &str) -> ManagedPolicy {
    ManagedPolicy {
        arn: policy_arn(path, name),
        name: name.to_owned(),
        id: format!("ANPA{}", name.to_uppercase()),
        path: path.to_owned(),
        description: None,
        default_version_id: "v1".to_owned(),
        attachment_count: 0,
        created_at: 9_000,
        updated_at: 9_000,
        tags: Vec::new(),
    }
}

/// An active access key of `user`.
pub fn access_key(id: &str, user: &str) -> AccessKey {
    AccessKey {
        access_key_id: id.to_owned(),
        user_name: user.to_owned(),
        secret: format!("secret-of-{id}-0123456789012345678901234"),
        status: AccessKeyStatus::Active,
        created_at: 9_500,
    }
}

/// A role alias for `role_arn` lasting an hour.
pub fn alias(name: &str, role_arn: &str) -> RoleAlias {
    RoleAlias {
        name: name.to_owned(),
        role_arn: role_arn.to_owned(),
        credential_duration_seconds: 3600,
        owner: ACCOUNT.to_owned(),
        created_at: 11_000,
        modified_at: 11_000,
        tags: Vec::new(),
        session_tags: Default::default(),
    }
}

/// A tag.
pub fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

/// An ascending page request of `limit` items after `marker`.
pub fn page(limit: u32, marker: Option<String>) -> PageRequest {
    PageRequest {
        marker,
        limit,
        ascending: true,
    }
}

/// A descending page request of `limit` items after `marker`.
pub fn page_desc(limit: u32, marker: Option<String>) -> PageRequest {
    PageRequest {
        marker,
        limit,
        ascending: false,
    }
}

/// Fetch every page of a list, `limit` at a time (ascending or not), checking that every page
/// but the last is full; returns the keys of all items, in order.
pub async fn collect<T, K>(
    limit: u32,
    ascending: bool,
    key: impl Fn(&T) -> K,
    mut fetch: impl AsyncFnMut(PageRequest) -> StoreResult<Page<T>>,
) -> Vec<K> {
    let mut out = Vec::new();
    let mut marker = None;
    for _ in 0..10_000 {
        let req = PageRequest {
            marker: marker.take(),
            limit,
            ascending,
        };
        let p = fetch(req).await.expect("list page");
        assert!(
            p.items.len() <= limit as usize,
            "page larger than asked for"
        );
        out.extend(p.items.iter().map(&key));
        match p.next_marker {
            Some(m) => {
                assert_eq!(
                    p.items.len(),
                    limit as usize,
                    "a page with a next marker must be full"
                );
                marker = Some(m);
            }
            None => return out,
        }
    }
    panic!("paging did not end");
}

/// The variant name of an error (for messages).
pub fn variant(e: &StoreError) -> &'static str {
    match e {
        StoreError::NotFound { .. } => "NotFound",
        StoreError::AlreadyExists { .. } => "AlreadyExists",
        StoreError::Conflict { .. } => "Conflict",
        StoreError::LimitExceeded { .. } => "LimitExceeded",
        StoreError::VersionConflict { .. } => "VersionConflict",
        StoreError::InvalidState { .. } => "InvalidState",
        StoreError::InvalidMarker => "InvalidMarker",
        StoreError::Unavailable(_) => "Unavailable",
        StoreError::Backend(_) => "Backend",
    }
}

/// The entity an error is about, if it names one.
pub fn entity(e: &StoreError) -> Option<Entity> {
    match e {
        StoreError::NotFound { entity, .. }
        | StoreError::AlreadyExists { entity, .. }
        | StoreError::Conflict { entity, .. }
        | StoreError::LimitExceeded { entity, .. }
        | StoreError::VersionConflict { entity, .. }
        | StoreError::InvalidState { entity, .. } => Some(*entity),
        _ => None,
    }
}

/// Assert `r` failed with error `variant` (e.g. `"NotFound"`) about `entity`.
#[track_caller]
pub fn expect_err<T: Debug>(r: StoreResult<T>, variant_name: &str, about: Entity) -> StoreError {
    match r {
        Err(e) if variant(&e) == variant_name && entity(&e) == Some(about) => e,
        other => panic!("expected {variant_name} about {about:?}, got {other:?}"),
    }
}

/// Assert `r` failed with error `variant` about `entity` and key `key`.
#[track_caller]
pub fn expect_err_key<T: Debug>(r: StoreResult<T>, variant_name: &str, about: Entity, key: &str) {
    let e = expect_err(r, variant_name, about);
    let got = match &e {
        StoreError::NotFound { key, .. }
        | StoreError::AlreadyExists { key, .. }
        | StoreError::Conflict { key, .. }
        | StoreError::LimitExceeded { key, .. }
        | StoreError::VersionConflict { key, .. }
        | StoreError::InvalidState { key, .. } => key.as_str(),
        _ => "",
    };
    assert_eq!(got, key, "key of {e:?}");
}
