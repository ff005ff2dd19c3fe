//! The credentials endpoint: the seed's success, then one test per row of the error table
//! (`../shared/spec/aws-credentials-provider.md` §4 and §10), asserting status, body and headers.

use std::time::Duration;

use iotcreds_pki::CertificateAuthority;
use iotcreds_pki::ca::aws_device_not_after;
use iotcreds_store::CaCertificate;
use iotcreds_types::{
    AutoRegistrationStatus, CaCertificateStatus, CertificateMode, CertificateStatus,
};
use time::OffsetDateTime;

use crate::common::*;

fn assert_error(a: &Answer, status: u16, error_type: &str, message: &str) {
    assert_eq!(
        a.status,
        status,
        "body: {:?}",
        String::from_utf8_lossy(&a.body)
    );
    assert_eq!(a.message(), message);
    assert_eq!(
        a.json().as_object().unwrap().len(),
        1,
        "only `message` in error bodies"
    );
    assert_eq!(a.header("x-amzn-errortype"), Some(error_type));
    assert_common_headers(a);
}

fn assert_common_headers(a: &Answer) {
    assert_eq!(a.header("content-type"), Some("application/json"));
    let id = a.header("x-amzn-requestid").expect("x-amzn-RequestId");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "request id {id}");
    let date = a.header("date").expect("Date");
    assert!(date.ends_with(" GMT"), "{date}");
}

#[tokio::test]
async fn seed_step_5_issues_exactly_the_four_fields() {
    let s = TestServer::start().await;
    let device = s.seed().await;
    let a = s.credentials(Some(&device), ALIAS, Some(THING)).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_common_headers(&a);
    assert!(a.header("x-amzn-errortype").is_none());
    assert!(a.body.len() <= 2048, "body is {} bytes", a.body.len());
    let text = std::str::from_utf8(&a.body).unwrap();
    assert!(
        text.starts_with(r#"{"credentials":{"accessKeyId":"#),
        "field order as AWS documents it: {text}"
    );
    let json = a.json();
    let top = json.as_object().unwrap();
    assert_eq!(top.len(), 1);
    let c = top["credentials"].as_object().unwrap();
    let mut keys: Vec<&str> = c.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "accessKeyId",
            "expiration",
            "secretAccessKey",
            "sessionToken"
        ]
    );
    let akid = c["accessKeyId"].as_str().unwrap();
    assert!(
        akid.starts_with("ASIA")
            && akid.len() == 20
            && akid[4..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    );
    assert_eq!(c["secretAccessKey"].as_str().unwrap().len(), 40);
    let exp = c["expiration"].as_str().unwrap();
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let parsed = time::PrimitiveDateTime::parse(exp, format)
        .expect("YYYY-MM-DDTHH:MM:SSZ")
        .assume_utc();
    let left = parsed - OffsetDateTime::now_utc();
    assert!(
        left > time::Duration::seconds(3590) && left <= time::Duration::seconds(3600),
        "{left}"
    );

    // The token opens on this server and carries the session.
    let ring = s.registry().keyring();
    let claims = ring
        .open_for(c["sessionToken"].as_str().unwrap(), akid, now_ms())
        .unwrap();
    assert_eq!(claims.session_name, device.id);
    assert_eq!(claims.certificate_id.as_deref(), Some(device.id.as_str()));
    assert_eq!(claims.thing_name.as_deref(), Some(THING));
    assert_eq!(claims.role_name, ROLE);
    assert_eq!(
        ring.secret_for(akid).unwrap().expose(),
        c["secretAccessKey"].as_str().unwrap()
    );
}

#[tokio::test]
async fn without_the_thing_header_credentials_carry_no_thing() {
    let s = TestServer::start().await;
    let device = s.seed().await;
    let a = s.credentials(Some(&device), ALIAS, None).await;
    assert_eq!(a.status, 200);
    let c = &a.json()["credentials"];
    let claims = s
        .registry()
        .keyring()
        .open(c["sessionToken"].as_str().unwrap(), now_ms())
        .unwrap();
    assert_eq!(claims.thing_name, None);
    assert_eq!(claims.certificate_id.as_deref(), Some(device.id.as_str()));
}

#[tokio::test]
async fn no_client_certificate_is_a_clear_403() {
    let s = TestServer::start().await;
    s.seed().await;
    let a = s.credentials(None, ALIAS, Some(THING)).await;
    assert_error(
        &a,
        403,
        "AccessDeniedException",
        "Missing client certificate",
    );
}

#[tokio::test]
async fn unregistered_certificate_is_invalid_on_this_endpoint() {
    let s = TestServer::start().await;
    s.seed().await;
    // Signed by the built-in CA but never registered.
    let now = OffsetDateTime::now_utc();
    let issued = s
        .registry()
        .ca()
        .issue_device(
            iotcreds_pki::KeyKind::EcdsaP256,
            "x",
            now,
            aws_device_not_after(),
        )
        .unwrap();
    let stranger = Device {
        cert_pem: issued.cert_pem,
        key_pem: issued.private_key_pem.unwrap(),
        id: String::new(),
        arn: String::new(),
    };
    let a = s.credentials(Some(&stranger), ALIAS, Some(THING)).await;
    assert_error(
        &a,
        403,
        "AccessDeniedException",
        "Certificate is invalid on this endpoint",
    );
}

#[tokio::test]
async fn inactive_and_revoked_certificates_are_refused_on_their_next_request() {
    let s = TestServer::start().await;
    let device = s.seed().await;
    assert_eq!(
        s.credentials(Some(&device), ALIAS, Some(THING))
            .await
            .status,
        200
    );
    for status in [
        CertificateStatus::Inactive,
        CertificateStatus::Revoked,
        CertificateStatus::PendingTransfer,
    ] {
        let r = s.registry();
        r.mutate(
            r.store()
                .update_certificate_status(&device.id, status, "g2", now_ms()),
        )
        .await
        .unwrap();
        let a = s.credentials(Some(&device), ALIAS, Some(THING)).await;
        assert_error(&a, 403, "AccessDeniedException", "Access Denied");
    }
    let r = s.registry();
    r.mutate(r.store().update_certificate_status(
        &device.id,
        CertificateStatus::Active,
        "g3",
        now_ms(),
    ))
    .await
    .unwrap();
    assert_eq!(
        s.credentials(Some(&device), ALIAS, Some(THING))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn expired_and_not_yet_valid_certificates_are_refused() {
    let s = TestServer::start().await;
    s.seed().await;
    let now = OffsetDateTime::now_utc();
    let ca = s.registry().ca().clone();
    // Expired yesterday.
    let expired = s
        .register_device(
            &ca,
            None,
            now - time::Duration::days(10),
            now - time::Duration::days(1),
            CertificateStatus::Active,
        )
        .await;
    s.attach_policy(POLICY, &expired).await;
    let a = s.credentials(Some(&expired), ALIAS, None).await;
    assert_error(&a, 403, "AccessDeniedException", "Access Denied");
    // Valid from tomorrow (notBefore is an hour before the `now` passed in).
    let future = s
        .register_device(
            &ca,
            None,
            now + time::Duration::days(1),
            now + time::Duration::days(30),
            CertificateStatus::Active,
        )
        .await;
    s.attach_policy(POLICY, &future).await;
    let a = s.credentials(Some(&future), ALIAS, None).await;
    assert_error(&a, 403, "AccessDeniedException", "Access Denied");
}

#[tokio::test]
async fn certificates_of_an_inactive_ca_are_refused() {
    let s = TestServer::start().await;
    s.seed().await;
    let now = OffsetDateTime::now_utc();
    let ca = CertificateAuthority::generate("Operator CA", "Example", now, 1).unwrap();
    let ca_id = iotcreds_pki::certificate_id(ca.cert_der());
    let row = CaCertificate {
        id: ca_id.clone(),
        pem: ca.cert_pem().into(),
        status: CaCertificateStatus::Active,
        auto_registration: AutoRegistrationStatus::Disable,
        mode: CertificateMode::Default,
        subject: "CN=Operator CA".into(),
        not_before: 0,
        not_after: i64::MAX / 2,
        created_at: now_ms(),
        modified_at: now_ms(),
        customer_version: 1,
        generation_id: "g".into(),
        owned_by: s.registry().account_id().into(),
        crl: None,
        revocation: Default::default(),
    };
    let r = s.registry();
    r.mutate(r.store().insert_ca_certificate(&row, &[]))
        .await
        .unwrap();
    let device = s
        .register_device(
            &ca,
            Some(&ca_id),
            now,
            aws_device_not_after(),
            CertificateStatus::Active,
        )
        .await;
    s.attach_policy(POLICY, &device).await;
    assert_eq!(s.credentials(Some(&device), ALIAS, None).await.status, 200);
    r.mutate(r.store().update_ca_certificate(
        &ca_id,
        Some(CaCertificateStatus::Inactive),
        None,
        "g2",
        now_ms(),
    ))
    .await
    .unwrap();
    let a = s.credentials(Some(&device), ALIAS, None).await;
    assert_error(&a, 403, "AccessDeniedException", "Access Denied");
}

#[tokio::test]
async fn thing_name_not_attached_is_invalid() {
    let s = TestServer::start().await;
    let device = s.seed().await;
    // No such thing.
    let a = s
        .credentials(Some(&device), ALIAS, Some("NoSuchThing"))
        .await;
    assert_error(
        &a,
        403,
        "AccessDeniedException",
        "Invalid thing name passed",
    );
    // A thing that exists but is attached to another certificate.
    s.create_thing("OtherThing", &[]).await;
    let a = s
        .credentials(Some(&device), ALIAS, Some("OtherThing"))
        .await;
    assert_error(
        &a,
        403,
        "AccessDeniedException",
        "Invalid thing name passed",
    );
}

#[tokio::test]
async fn iot_policy_must_allow_assume_role_with_certificate() {
    let s = TestServer::start().await;
    s.create_role(ROLE, TRUST, 3600, Some(&s3_policy())).await;
    s.create_alias(ALIAS, ROLE, 3600).await;
    s.create_thing(THING, &[]).await;
    let device = s.device().await;
    s.attach_thing(THING, &device).await;
    // No policy at all.
    let a = s.credentials(Some(&device), ALIAS, Some(THING)).await;
    assert_error(&a, 403, "AccessDeniedException", "Access Denied");
    // A policy for another alias.
    s.allow_alias_policy("OtherAliasPolicy", "OtherAlias").await;
    s.attach_policy("OtherAliasPolicy", &device).await;
    let a = s.credentials(Some(&device), ALIAS, Some(THING)).await;
    assert_error(&a, 403, "AccessDeniedException", "Access Denied");
    // The right one.
    s.allow_alias_policy(POLICY, ALIAS).await;
    s.attach_policy(POLICY, &device).await;
    assert_eq!(
        s.credentials(Some(&device), ALIAS, Some(THING))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn an_explicit_deny_in_a_second_policy_beats_the_allow() {
    let s = TestServer::start().await;
    let device = s.seed().await;
    assert_eq!(
        s.credentials(Some(&device), ALIAS, Some(THING))
            .await
            .status,
        200
    );
    let deny = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"NoCredentials","Effect":"Deny","Action":"iot:*","Resource":"{}"}}]}}"#,
        s.alias_arn(ALIAS)
    );
    s.create_iot_policy("DenyPolicy", &deny).await;
    s.attach_policy("DenyPolicy", &device).await;
    let a = s.credentials(Some(&device), ALIAS, Some(THING)).await;
    assert_error(&a, 403, "AccessDeniedException", "Access Denied");
}

#[tokio::test]
async fn thing_policy_variables_resolve_from_the_verified_header() {
    let s = TestServer::start().await;
    s.create_role(ROLE, TRUST, 3600, None).await;
    s.create_alias(ALIAS, ROLE, 3600).await;
    s.create_thing(THING, &[("fleet", "f1")]).await;
    let device = s.device().await;
    s.attach_thing(THING, &device).await;
    // Allowed only for things of fleet f1 whose name equals the verified thing.
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:AssumeRoleWithCertificate","Resource":"{}","Condition":{{"StringEquals":{{"iot:Connection.Thing.Attributes[fleet]":"f1","iot:Connection.Thing.IsAttached":"true"}}}}}}]}}"#,
        s.alias_arn(ALIAS)
    );
    s.create_iot_policy(POLICY, &doc).await;
    s.attach_policy(POLICY, &device).await;
    assert_eq!(
        s.credentials(Some(&device), ALIAS, Some(THING))
            .await
            .status,
        200
    );
    // Without the header the thing variables are unresolved: the condition fails.
    let a = s.credentials(Some(&device), ALIAS, None).await;
    assert_error(&a, 403, "AccessDeniedException", "Access Denied");
}

#[tokio::test]
async fn missing_alias_is_404_after_the_policy_check() {
    let s = TestServer::start().await;
    s.create_role(ROLE, TRUST, 3600, None).await;
    s.create_thing(THING, &[]).await;
    let device = s.device().await;
    s.attach_thing(THING, &device).await;
    let all_aliases = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:AssumeRoleWithCertificate","Resource":"{}"}}]}}"#,
        s.alias_arn("*")
    );
    s.create_iot_policy(POLICY, &all_aliases).await;
    s.attach_policy(POLICY, &device).await;
    let a = s
        .credentials(Some(&device), "NoSuchAlias", Some(THING))
        .await;
    assert_error(
        &a,
        404,
        "ResourceNotFoundException",
        "Role alias does not exist",
    );
    // Without permission the caller learns nothing about which aliases exist.
    let other = s.device().await;
    let a = s.credentials(Some(&other), "NoSuchAlias", None).await;
    assert_error(&a, 403, "AccessDeniedException", "Access Denied");
}

const UNABLE: &str = "Unable to assume the role, or the role to assume does not exist";

#[tokio::test]
async fn missing_role_is_400() {
    let s = TestServer::start().await;
    s.create_alias(ALIAS, "NoSuchRole", 3600).await;
    s.allow_alias_policy(POLICY, ALIAS).await;
    let device = s.device().await;
    s.attach_policy(POLICY, &device).await;
    let a = s.credentials(Some(&device), ALIAS, None).await;
    assert_error(&a, 400, "InvalidRequestException", UNABLE);
}

#[tokio::test]
async fn role_that_does_not_trust_the_credentials_provider_is_400() {
    let s = TestServer::start().await;
    let trust_lambda = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    s.create_role(ROLE, trust_lambda, 3600, None).await;
    s.create_alias(ALIAS, ROLE, 3600).await;
    s.allow_alias_policy(POLICY, ALIAS).await;
    let device = s.device().await;
    s.attach_policy(POLICY, &device).await;
    let a = s.credentials(Some(&device), ALIAS, None).await;
    assert_error(&a, 400, "InvalidRequestException", UNABLE);
    // Trusted, but with an explicit deny on the action.
    let r = s.registry();
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"credentials.iot.amazonaws.com"},"Action":"sts:AssumeRole"},{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}"#;
    r.mutate(r.store().update_role_trust_policy(ROLE, deny))
        .await
        .unwrap();
    let a = s.credentials(Some(&device), ALIAS, None).await;
    assert_error(&a, 400, "InvalidRequestException", UNABLE);
    r.mutate(r.store().update_role_trust_policy(ROLE, TRUST))
        .await
        .unwrap();
    assert_eq!(s.credentials(Some(&device), ALIAS, None).await.status, 200);
}

#[tokio::test]
async fn alias_duration_above_the_role_maximum_is_400() {
    let s = TestServer::start().await;
    s.create_role(ROLE, TRUST, 3600, None).await;
    s.create_alias(ALIAS, ROLE, 7200).await;
    s.allow_alias_policy(POLICY, ALIAS).await;
    let device = s.device().await;
    s.attach_policy(POLICY, &device).await;
    let a = s.credentials(Some(&device), ALIAS, None).await;
    assert_error(
        &a,
        400,
        "InvalidRequestException",
        "The requested CredentialDurationSeconds exceeds the MaxSessionDuration set for the role",
    );
}

#[tokio::test]
async fn expiration_never_passes_the_certificate_not_after() {
    let s = TestServer::start().await;
    s.create_role(ROLE, TRUST, 43200, None).await;
    s.create_alias(ALIAS, ROLE, 43200).await;
    s.allow_alias_policy(POLICY, ALIAS).await;
    let now = OffsetDateTime::now_utc();
    let not_after = now + time::Duration::minutes(30);
    let ca = s.registry().ca().clone();
    let device = s
        .register_device(&ca, None, now, not_after, CertificateStatus::Active)
        .await;
    s.attach_policy(POLICY, &device).await;
    let a = s.credentials(Some(&device), ALIAS, None).await;
    assert_eq!(a.status, 200);
    let exp = a.json()["credentials"]["expiration"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        exp,
        iotcreds_types::time_fmt::iso8601_seconds(
            iotcreds_types::time_fmt::to_millis(not_after) / 1000 * 1000
        )
    );
}

#[tokio::test]
async fn wrong_method_and_path_get_json_errors() {
    let s = TestServer::start().await;
    let device = s.seed().await;
    let a = s
        .request(
            Some(&device),
            "POST",
            &format!("/role-aliases/{ALIAS}/credentials"),
            None,
        )
        .await;
    assert_error(&a, 405, "MethodNotAllowedException", "Method Not Allowed");
    assert_eq!(a.header("allow"), Some("GET"));
    for path in [
        "/",
        "/role-aliases",
        &format!("/role-aliases/{ALIAS}"),
        &format!("/role-aliases/{ALIAS}/credentials/"),
    ] {
        let a = s.request(Some(&device), "GET", path, None).await;
        assert_error(&a, 404, "NotFoundException", "Not Found");
    }
}

#[tokio::test]
async fn silent_clients_are_disconnected_by_the_handshake_and_header_timeouts() {
    let s = TestServer::start().await;
    let device = s.seed().await;
    // A TCP connection that never starts TLS: closed after the 2 s handshake timeout.
    let mut tcp = tokio::net::TcpStream::connect(s.running.credentials_addr)
        .await
        .unwrap();
    assert!(
        closed_within(&mut tcp, Duration::from_secs(10))
            .await
            .is_some(),
        "handshake timeout"
    );
    // A TLS connection that never sends a request: closed after the 2 s header timeout.
    let tcp = tokio::net::TcpStream::connect(s.running.credentials_addr)
        .await
        .unwrap();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new({
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        roots
            .add(
                rustls::pki_types::CertificateDer::from_pem_slice(s.root_ca_pem.as_bytes())
                    .unwrap(),
            )
            .unwrap();
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
    }));
    let mut tls = connector
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    assert!(
        closed_within(&mut tls, Duration::from_secs(10))
            .await
            .is_some(),
        "header timeout"
    );
    // And the server still serves others.
    assert_eq!(
        s.credentials(Some(&device), ALIAS, Some(THING))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn tokens_survive_a_key_rotation_until_they_expire() {
    let s = TestServer::start().await;
    let device = s.seed().await;
    let before = s
        .credentials(Some(&device), ALIAS, Some(THING))
        .await
        .json();
    let akid = before["credentials"]["accessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = before["credentials"]["sessionToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let new_id = s.registry().rotate_keys(now_ms()).await.unwrap();
    let ring = s.registry().keyring();
    assert_eq!(ring.active_id(), Some(new_id));
    assert!(
        ring.open_for(&token, &akid, now_ms()).is_ok(),
        "old token still opens"
    );
    let after = s
        .credentials(Some(&device), ALIAS, Some(THING))
        .await
        .json();
    let new_akid = after["credentials"]["accessKeyId"].as_str().unwrap();
    assert_eq!(
        iotcreds_token::KeyRing::key_id_of(new_akid).unwrap(),
        new_id
    );
    assert_ne!(iotcreds_token::KeyRing::key_id_of(&akid).unwrap(), new_id);
}

#[tokio::test]
async fn a_revoked_key_refuses_its_tokens_at_once_and_issuance_goes_on() {
    let a = TestServer::start().await;
    let b = TestServer::start_sharing_registry(&a).await;
    let device = a.seed().await;
    let issued = a
        .credentials(Some(&device), ALIAS, Some(THING))
        .await
        .json();
    let akid = issued["credentials"]["accessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = issued["credentials"]["sessionToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let old = iotcreds_token::KeyRing::key_id_of(&akid).unwrap();
    // Both instances have opened (and remember) the token.
    for s in [&a, &b] {
        iotcreds_registry::auth::resolve(s.registry(), &akid, Some(&token), now_ms())
            .await
            .expect("valid before the revocation");
    }

    // Revoking the sealing key rotates a new one in first.
    let done = a.registry().revoke_key(old, now_ms()).await.unwrap();
    assert!(!done.already_revoked);
    let new_id = done
        .rotated_to
        .expect("the active key was rotated out first");
    assert_ne!(new_id, old);
    assert_eq!(done.active, Some(new_id));
    let stored = a.registry().store().sealing_keys().await.unwrap();
    let row = stored.iter().find(|k| k.id == old).unwrap();
    assert!(
        row.revoked_at.is_some() && row.material.is_empty(),
        "material erased"
    );

    // Refused here at once, including the remembered open; no secret is derived for it.
    let refused =
        iotcreds_registry::auth::resolve(a.registry(), &akid, Some(&token), now_ms()).await;
    assert!(matches!(
        refused,
        Err(iotcreds_registry::auth::AuthError::InvalidToken)
    ));
    assert!(matches!(
        iotcreds_registry::auth::secret_of(a.registry(), &akid).await,
        Err(iotcreds_registry::auth::AuthError::InvalidToken)
    ));
    // The other instance refuses once it has noticed the change (its poll runs twice a second).
    let started = std::time::Instant::now();
    loop {
        let r = iotcreds_registry::auth::resolve(b.registry(), &akid, Some(&token), now_ms()).await;
        if matches!(r, Err(iotcreds_registry::auth::AuthError::InvalidToken)) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "B still accepts a revoked key's token after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await; // poll interval
    }

    // Issuance goes on with the new key, on both.
    for s in [&a, &b] {
        let fresh = s
            .credentials(Some(&device), ALIAS, Some(THING))
            .await
            .json();
        let new_akid = fresh["credentials"]["accessKeyId"].as_str().unwrap();
        assert_eq!(
            iotcreds_token::KeyRing::key_id_of(new_akid).unwrap(),
            new_id
        );
    }
    // Revoking again changes nothing; an unknown key is NotFound.
    let again = a.registry().revoke_key(old, now_ms()).await.unwrap();
    assert!(again.already_revoked && again.rotated_to.is_none());
    assert!(matches!(
        a.registry().revoke_key(9_999, now_ms()).await,
        Err(iotcreds_store::StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn credentials_sealed_after_a_rotation_on_another_instance_verify_at_once() {
    let a = TestServer::start().await;
    let b = TestServer::start_sharing_registry(&a).await;
    assert_eq!(a.registry().account_id(), b.registry().account_id());
    let device = a.seed().await;
    let new_id = b.registry().rotate_keys(now_ms()).await.unwrap();
    let issued = b
        .credentials(Some(&device), ALIAS, Some(THING))
        .await
        .json();
    let akid = issued["credentials"]["accessKeyId"].as_str().unwrap();
    let token = issued["credentials"]["sessionToken"].as_str().unwrap();
    assert_eq!(iotcreds_token::KeyRing::key_id_of(akid).unwrap(), new_id);
    // A has almost surely not been told yet (its change poll runs once a second): the unknown
    // key id makes it reload the ring instead of refusing.
    let (principal, _) =
        iotcreds_registry::auth::resolve(a.registry(), akid, Some(token), now_ms())
            .await
            .expect("A verifies B's new credentials");
    assert!(matches!(
        principal,
        iotcreds_registry::authz::Principal::Session { .. }
    ));
    assert!(a.registry().keyring().contains(new_id));
    // A made-up key id does not reload again within the interval, and is refused.
    let bogus = format!("ASIA{}", "7".repeat(16));
    assert!(
        iotcreds_registry::auth::secret_of(a.registry(), &bogus)
            .await
            .is_err()
    );
}
