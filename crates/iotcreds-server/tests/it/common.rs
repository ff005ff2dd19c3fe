//! Test harness: start a server, seed the registry the way the walkthrough does, and talk to
//! the credentials endpoint over mutual TLS.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use iotcreds_pki::CertificateAuthority;
use iotcreds_pki::ca::{KeyKind, aws_device_not_after};
use iotcreds_pki::inspect::CertInfo;
use iotcreds_server::{Config, Running};
use iotcreds_store::{Certificate, InlinePolicy, Role, RoleAlias, Thing, ThingPrincipal};
use iotcreds_types::{CertificateMode, CertificateStatus, ThingPrincipalType, arn, time_fmt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

pub const REGION: &str = "ap-northeast-1";
pub const THING: &str = "ADCTestThing";
pub const ROLE: &str = "ADCTestRole";
pub const ALIAS: &str = "ADCTestRoleAlias";
pub const POLICY: &str = "ADCTestPolicy";
pub const BUCKET: &str = "adc-test-2020-08-26";

pub const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"credentials.iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

pub fn s3_policy() -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::{BUCKET}"}},{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{BUCKET}/*"}}]}}"#
    )
}

pub fn now_ms() -> i64 {
    time_fmt::to_millis(time::OffsetDateTime::now_utc())
}

/// A running server in a temporary directory.
pub struct TestServer {
    pub running: Running,
    pub root_ca_pem: String,
    _dir: tempfile::TempDir,
}

/// A device: its certificate and key, as the registry knows it.
#[derive(Clone)]
pub struct Device {
    pub cert_pem: String,
    pub key_pem: String,
    pub id: String,
    pub arn: String,
}

/// What the credentials endpoint answered.
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn message(&self) -> String {
        self.json()["message"].as_str().expect("message").to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn test_config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        data_dir: dir.join("data"),
        region: REGION.into(),
        credentials_addr: "127.0.0.1:0".parse().unwrap(),
        api_addr: "127.0.0.1:0".parse().unwrap(),
        admin_addr: "127.0.0.1:0".parse().unwrap(),
        console_addr: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    c.limits.handshake_timeout_secs = 2;
    c.limits.header_timeout_secs = 2;
    c.limits.shutdown_grace_secs = 5;
    c
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path());
        let running = iotcreds_server::start(config).await.expect("server starts");
        let root_ca_pem = running.registry.ca().cert_pem().to_owned();
        TestServer {
            running,
            root_ca_pem,
            _dir: dir,
        }
    }

    /// A second instance on this one's registry (its own data directory and listeners), as
    /// in a scale-out deployment.
    pub async fn start_sharing_registry(first: &TestServer) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        let registry_db = first._dir.path().join("data").join("registry.db");
        config.registry_url = Some(format!("sqlite://{}", registry_db.display()));
        let running = iotcreds_server::start(config).await.expect("server starts");
        let root_ca_pem = running.registry.ca().cert_pem().to_owned();
        TestServer {
            running,
            root_ca_pem,
            _dir: dir,
        }
    }

    pub fn registry(&self) -> &iotcreds_registry::Registry {
        &self.running.registry
    }

    pub fn alias_arn(&self, alias: &str) -> String {
        self.registry().role_alias_arn(alias)
    }

    pub fn role_arn(&self, role: &str) -> String {
        arn::iam_role(self.registry().account_id(), "/", role)
    }

    pub async fn create_role(
        &self,
        name: &str,
        trust: &str,
        max_session: i64,
        policy: Option<&str>,
    ) {
        let r = self.registry();
        let role = Role {
            name: name.into(),
            id: iotcreds_types::ids::unique_id("AROA", |b| aws_lc_rs::rand::fill(b).unwrap()),
            path: "/".into(),
            trust_policy: trust.into(),
            description: None,
            max_session_duration: max_session,
            permissions_boundary: None,
            created_at: now_ms(),
            tags: vec![],
        };
        r.mutate(r.store().insert_role(&role)).await.unwrap();
        if let Some(doc) = policy {
            let p = InlinePolicy {
                name: "s3".into(),
                document: doc.into(),
            };
            r.mutate(r.store().put_role_policy(name, &p)).await.unwrap();
        }
    }

    pub async fn create_alias(&self, alias: &str, role: &str, duration: i64) {
        let r = self.registry();
        let a = RoleAlias {
            name: alias.into(),
            role_arn: self.role_arn(role),
            credential_duration_seconds: duration,
            owner: r.account_id().into(),
            created_at: now_ms(),
            modified_at: now_ms(),
            tags: vec![],
            session_tags: Default::default(),
        };
        r.mutate(r.store().insert_role_alias(&a)).await.unwrap();
    }

    pub async fn create_iot_policy(&self, name: &str, document: &str) {
        let r = self.registry();
        r.mutate(
            r.store()
                .insert_iot_policy(name, document, "g", now_ms(), &[]),
        )
        .await
        .unwrap();
    }

    pub async fn allow_alias_policy(&self, name: &str, alias: &str) {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:AssumeRoleWithCertificate","Resource":"{}"}}]}}"#,
            self.alias_arn(alias)
        );
        self.create_iot_policy(name, &doc).await;
    }

    pub async fn attach_policy(&self, policy: &str, device: &Device) {
        let r = self.registry();
        r.mutate(r.store().attach_iot_policy(policy, &device.arn))
            .await
            .unwrap();
    }

    pub async fn create_thing(&self, name: &str, attributes: &[(&str, &str)]) {
        let r = self.registry();
        let t = Thing {
            name: name.into(),
            id: uuid::Uuid::new_v4().to_string(),
            thing_type: None,
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            version: 1,
            created_at: now_ms(),
            modified_at: now_ms(),
            sessions_revoked_before: None,
        };
        r.mutate(r.store().insert_thing(&t)).await.unwrap();
    }

    pub async fn attach_thing(&self, thing: &str, device: &Device) {
        let r = self.registry();
        let a = ThingPrincipal {
            thing_name: thing.into(),
            principal: device.arn.clone(),
            kind: ThingPrincipalType::NonExclusiveThing,
            created_at: now_ms(),
        };
        r.mutate(r.store().attach_thing_principal(&a))
            .await
            .unwrap();
    }

    /// Issue a device certificate from `ca` valid until `not_after`, and register it.
    pub async fn register_device(
        &self,
        ca: &CertificateAuthority,
        ca_id: Option<&str>,
        now: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
        status: CertificateStatus,
    ) -> Device {
        let issued = ca
            .issue_device(KeyKind::EcdsaP256, "AWS IoT Certificate", now, not_after)
            .unwrap();
        let info = CertInfo::from_pem(&issued.cert_pem).unwrap();
        let cert = Certificate {
            id: info.id.clone(),
            pem: issued.cert_pem.clone(),
            status,
            ca_certificate_id: ca_id.map(str::to_owned),
            mode: CertificateMode::Default,
            not_before: info.not_before_ms,
            not_after: info.not_after_ms,
            created_at: now_ms(),
            modified_at: now_ms(),
            customer_version: 1,
            generation_id: "g".into(),
            owned_by: self.registry().account_id().into(),
        };
        let r = self.registry();
        r.mutate(r.store().insert_certificate(&cert)).await.unwrap();
        Device {
            cert_pem: issued.cert_pem,
            key_pem: issued.private_key_pem.unwrap(),
            arn: r.certificate_arn(&info.id),
            id: info.id,
        }
    }

    /// A device certificate from the built-in CA, registered ACTIVE.
    pub async fn device(&self) -> Device {
        let now = time::OffsetDateTime::now_utc();
        self.register_device(
            self.registry().ca(),
            None,
            now,
            aws_device_not_after(),
            CertificateStatus::Active,
        )
        .await
    }

    /// The walkthrough's set-up: role with the seed trust and S3 policy, alias, IoT policy,
    /// thing, device certificate, attachments.
    pub async fn seed(&self) -> Device {
        self.create_role(ROLE, TRUST, 3600, Some(&s3_policy()))
            .await;
        self.create_alias(ALIAS, ROLE, 3600).await;
        self.allow_alias_policy(POLICY, ALIAS).await;
        self.create_thing(THING, &[]).await;
        let device = self.device().await;
        self.attach_policy(POLICY, &device).await;
        self.attach_thing(THING, &device).await;
        device
    }

    fn client_config(&self, device: Option<&Device>) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.root_ca_pem.as_bytes()).unwrap())
            .unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        match device {
            None => builder.with_no_client_auth(),
            Some(d) => {
                let chain = vec![CertificateDer::from_pem_slice(d.cert_pem.as_bytes()).unwrap()];
                let key = PrivateKeyDer::from_pem_slice(d.key_pem.as_bytes()).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
        }
    }

    /// Send one request to the credentials endpoint over a new TLS connection.
    pub async fn request(
        &self,
        device: Option<&Device>,
        method: &str,
        path: &str,
        thing: Option<&str>,
    ) -> Answer {
        let tcp = TcpStream::connect(self.running.credentials_addr)
            .await
            .unwrap();
        let connector = TlsConnector::from(Arc::new(self.client_config(device)));
        let tls = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("TLS handshake");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(conn);
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        if let Some(t) = thing {
            req = req.header("x-amzn-iot-thingname", t);
        }
        let resp = sender
            .send_request(req.body(Empty::<Bytes>::new()).unwrap())
            .await
            .unwrap();
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    /// `GET /role-aliases/ALIAS/credentials`.
    pub async fn credentials(
        &self,
        device: Option<&Device>,
        alias: &str,
        thing: Option<&str>,
    ) -> Answer {
        self.request(
            device,
            "GET",
            &format!("/role-aliases/{alias}/credentials"),
            thing,
        )
        .await
    }
}

/// Read until the peer closes; `None` if it is still open after `limit`.
pub async fn closed_within<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    limit: Duration,
) -> Option<()> {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 256];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}
