//! A registry seeded with one of every kind of resource (the walkthrough's names, plus bare
//! ones that operations such as deletes can act on), and a way to call the control plane as
//! the root key or as the IAM user `caller`, whose only policy the test sets.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use iotcreds_control::{Caller, ControlContext, iam, iot, sts};
use iotcreds_pki::CertificateAuthority;
use iotcreds_pki::ca::{KeyKind, aws_device_not_after};
use iotcreds_registry::Registry;
use iotcreds_registry::authz::Principal;
use iotcreds_store::{InlinePolicy, Limits};
use serde_json::{Value, json};

pub const REGION: &str = "ap-northeast-1";
/// The user whose policy each test sets.
pub const CALLER: &str = "caller";
pub const THING: &str = "ADCTestThing";
pub const BARE_THING: &str = "BareThing";
pub const THING_TYPE: &str = "ADCTestThingType";
pub const DEPRECATED_TYPE: &str = "DeprecatedType";
pub const IOT_POLICY: &str = "ADCTestPolicy";
pub const BARE_IOT_POLICY: &str = "BareIotPolicy";
pub const ALIAS: &str = "ADCTestRoleAlias";
pub const ROLE: &str = "ADCTestRole";
pub const BARE_ROLE: &str = "BareRole";
pub const USER: &str = "ADCTestUser";
pub const BARE_USER: &str = "BareUser";
/// The console password of the fixture's users (`USER` has a login profile, `BARE_USER` none).
pub const PASSWORD: &str = "ADCTest-console-passw0rd";
pub const MANAGED: &str = "ADCTestManagedPolicy";
pub const BARE_MANAGED: &str = "BareManagedPolicy";
/// The IAM path of the seeded roles, users and managed policies.
pub const PATH: &str = "/fleet/";

pub const IOT_DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;
pub const IAM_DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

/// Certificates made once for every fixture (the registries differ; the PEMs can be shared).
pub struct Pki {
    /// A CA registered ACTIVE in every fixture.
    pub fleet_ca: CertificateAuthority,
    /// A CA registered INACTIVE (SNI_ONLY) in every fixture.
    pub old_ca_pem: String,
    /// A CA registered nowhere (for `RegisterCACertificate`).
    pub new_ca: CertificateAuthority,
    /// Registered ACTIVE, attached to the thing and to the IoT policy.
    pub cert_pem: String,
    /// Registered INACTIVE, attached to nothing.
    pub bare_cert_pem: String,
    /// Issued by the fleet CA, registered nowhere (for `RegisterCertificate`).
    pub unregistered_pem: String,
    /// Issued by an unregistered CA, registered nowhere (`RegisterCertificateWithoutCA`).
    pub foreign_pem: String,
    /// A certificate signing request.
    pub csr_pem: String,
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let now = time::OffsetDateTime::now_utc();
        let fleet_ca =
            CertificateAuthority::generate("Fleet CA", "iotcreds tests", now, 2).unwrap();
        let old_ca = CertificateAuthority::generate("Old CA", "iotcreds tests", now, 2).unwrap();
        let new_ca = CertificateAuthority::generate("New CA", "iotcreds tests", now, 2).unwrap();
        let foreign = CertificateAuthority::generate("Foreign", "iotcreds tests", now, 2).unwrap();
        let device = |ca: &CertificateAuthority, cn: &str| {
            ca.issue_device(KeyKind::EcdsaP256, cn, now, aws_device_not_after())
                .unwrap()
                .cert_pem
        };
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "csr device");
        let csr_pem = params.serialize_request(&key).unwrap().pem().unwrap();
        Pki {
            cert_pem: device(&fleet_ca, "ADCTestThing"),
            bare_cert_pem: device(&fleet_ca, "bare"),
            unregistered_pem: device(&fleet_ca, "unregistered"),
            foreign_pem: device(&foreign, "foreign"),
            old_ca_pem: old_ca.cert_pem().to_owned(),
            fleet_ca,
            new_ca,
            csr_pem,
        }
    })
}

/// Which API a call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Iot,
    Iam,
    Sts,
}

/// A request, as it travels.
#[derive(Debug, Clone)]
pub struct Call {
    pub api: Api,
    pub method: &'static str,
    /// Path and query, raw (percent-encoding as sent).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Call {
    /// An IoT call with a JSON body (`Value::Null`: none).
    pub fn iot(method: &'static str, target: impl Into<String>, body: Value) -> Self {
        Self {
            api: Api::Iot,
            method,
            target: target.into(),
            headers: Vec::new(),
            body: if body.is_null() {
                Vec::new()
            } else {
                serde_json::to_vec(&body).unwrap()
            },
        }
    }

    /// The same call with a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A query-protocol call: `Action` and the parameters, each already form-encoded (see
    /// [`enc`]); spelled values are passed as they are to be sent.
    pub fn query(api: Api, action: &str, params: &[(&str, String)]) -> Self {
        let version = match api {
            Api::Sts => "2011-06-15",
            _ => "2010-05-08",
        };
        let mut body = format!("Action={action}&Version={version}");
        for (k, v) in params {
            body.push('&');
            body.push_str(k);
            body.push('=');
            body.push_str(v);
        }
        Self {
            api,
            method: "POST",
            target: "/".into(),
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            )],
            body: body.into_bytes(),
        }
    }

    pub fn iam(action: &str, params: &[(&str, String)]) -> Self {
        Self::query(Api::Iam, action, params)
    }
}

/// Form-encode a value (every byte but the unreserved ones).
pub fn enc(value: &str) -> String {
    percent_encode_all_but_unreserved(value)
}

fn percent_encode_all_but_unreserved(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encode every byte (what "percent-encoded once" means in the variants).
pub fn encode_every_byte(value: &str) -> String {
    value.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// What the control plane answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The error code (`AccessDenied`, `AccessDeniedException`, ...), if an error.
    pub code: Option<String>,
    pub message: String,
    pub body: String,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn access_denied(&self) -> bool {
        self.status == 403
            && matches!(
                self.code.as_deref(),
                Some("AccessDenied" | "AccessDeniedException")
            )
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The text of the first `<tag>` of a query-protocol answer.
    pub fn xml(&self, tag: &str) -> Option<String> {
        between(&self.body, &format!("<{tag}>"), &format!("</{tag}>")).map(str::to_owned)
    }
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let len = s[start..].find(close)?;
    Some(&s[start..start + len])
}

/// A seeded registry.
pub struct Fixture {
    pub registry: Arc<Registry>,
    pub ctx: ControlContext,
    pub account: String,
    /// Certificate ids (lower-case hex).
    pub cert_id: String,
    pub bare_cert_id: String,
    pub fleet_ca_id: String,
    /// A CRL of the fleet CA (nothing revoked), PEM.
    pub fleet_crl_pem: String,
    pub old_ca_id: String,
    /// The access key of `ADCTestUser`.
    pub user_key_id: String,
    /// A verification certificate of `Pki::new_ca` for this registry's registration code.
    pub verification_pem: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub async fn new() -> Self {
        let pki = pki();
        let dir = tempfile::tempdir().unwrap();
        let store = iotcreds_store_sqlite::open(&dir.path().join("registry.db"), Limits::default())
            .await
            .unwrap();
        let now = iotcreds_types::time_fmt::to_millis(time::OffsetDateTime::now_utc());
        let (registry, _) = iotcreds_registry::open(Arc::new(store), REGION, now)
            .await
            .unwrap();
        let registry = Arc::new(registry);
        let account = registry.account_id().to_owned();
        let ctx = ControlContext {
            registry: registry.clone(),
            region: REGION.into(),
            credentials_endpoint: "credentials.example:8443".into(),
            data_endpoint: "data.example".into(),
        };
        let verification_pem = pki
            .new_ca
            .issue_verification(
                registry.registration_code(),
                time::OffsetDateTime::now_utc(),
            )
            .unwrap()
            .cert_pem;
        let mut fx = Fixture {
            registry,
            ctx,
            account,
            cert_id: String::new(),
            bare_cert_id: String::new(),
            fleet_ca_id: String::new(),
            fleet_crl_pem: String::new(),
            old_ca_id: String::new(),
            user_key_id: String::new(),
            verification_pem,
            _dir: dir,
        };
        fx.seed().await;
        fx
    }

    pub fn role_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:role{PATH}{name}", self.account)
    }

    pub fn user_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:user{PATH}{name}", self.account)
    }

    pub fn managed_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:policy{PATH}{name}", self.account)
    }

    pub fn iot_arn(&self, kind: &str, name: &str) -> String {
        format!("arn:aws:iot:{REGION}:{}:{kind}/{name}", self.account)
    }

    pub fn trust(&self) -> String {
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:user/{CALLER}", self.account)}, "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Principal": {"Service": "credentials.iot.amazonaws.com"}, "Action": "sts:AssumeRole"},
            ]
        })
        .to_string()
    }

    async fn root(&self, call: Call) -> Answer {
        let a = self.send(self.root_principal(), &call).await;
        assert!(a.ok(), "seeding {} {}: {a:?}", call.method, call.target);
        a
    }

    async fn seed(&mut self) {
        let pki = pki();
        // IAM.
        for name in [MANAGED, BARE_MANAGED] {
            self.root(Call::iam(
                "CreatePolicy",
                &[
                    ("PolicyName", name.into()),
                    ("Path", enc(PATH)),
                    ("PolicyDocument", enc(IAM_DOC)),
                ],
            ))
            .await;
        }
        self.root(Call::iam(
            "CreatePolicyVersion",
            &[
                ("PolicyArn", enc(&self.managed_arn(MANAGED))),
                ("PolicyDocument", enc(IAM_DOC)),
            ],
        ))
        .await;
        for role in [ROLE, BARE_ROLE] {
            self.root(Call::iam(
                "CreateRole",
                &[
                    ("RoleName", role.into()),
                    ("Path", enc(PATH)),
                    ("AssumeRolePolicyDocument", enc(&self.trust())),
                    ("Tags.member.1.Key", "team".into()),
                    ("Tags.member.1.Value", "fleet".into()),
                ],
            ))
            .await;
        }
        for user in [USER, BARE_USER] {
            self.root(Call::iam(
                "CreateUser",
                &[("UserName", user.into()), ("Path", enc(PATH))],
            ))
            .await;
        }
        self.root(Call::iam("CreateUser", &[("UserName", CALLER.into())]))
            .await;
        for (kind, name) in [("Role", ROLE), ("User", USER)] {
            self.root(Call::iam(
                &format!("Put{kind}Policy"),
                &[
                    (&format!("{kind}Name"), name.into()),
                    ("PolicyName", "inline".into()),
                    ("PolicyDocument", enc(IAM_DOC)),
                ],
            ))
            .await;
            self.root(Call::iam(
                &format!("Attach{kind}Policy"),
                &[
                    (&format!("{kind}Name"), name.into()),
                    ("PolicyArn", enc(&self.managed_arn(MANAGED))),
                ],
            ))
            .await;
        }
        let key = self
            .root(Call::iam("CreateAccessKey", &[("UserName", USER.into())]))
            .await;
        self.user_key_id = key.xml("AccessKeyId").unwrap();
        self.root(Call::iam(
            "CreateLoginProfile",
            &[("UserName", USER.into()), ("Password", enc(PASSWORD))],
        ))
        .await;

        // IoT.
        for t in [THING_TYPE, DEPRECATED_TYPE] {
            self.root(Call::iot("POST", format!("/thing-types/{t}"), json!({})))
                .await;
        }
        self.root(Call::iot(
            "POST",
            format!("/thing-types/{DEPRECATED_TYPE}/deprecate"),
            json!({}),
        ))
        .await;
        for t in [THING, BARE_THING] {
            self.root(Call::iot("POST", format!("/things/{t}"), json!({})))
                .await;
        }
        let register = |pem: &str, status: &str| {
            Call::iot(
                "POST",
                "/certificate/register-no-ca",
                json!({"certificatePem": pem, "status": status}),
            )
        };
        let a = self.root(register(&pki.cert_pem, "ACTIVE")).await;
        self.cert_id = a.json()["certificateId"].as_str().unwrap().to_owned();
        let a = self.root(register(&pki.bare_cert_pem, "INACTIVE")).await;
        self.bare_cert_id = a.json()["certificateId"].as_str().unwrap().to_owned();
        let cert_arn = self.iot_arn("cert", &self.cert_id);
        self.root(
            Call::iot("PUT", format!("/things/{THING}/principals"), Value::Null)
                .header("x-amzn-principal", &cert_arn),
        )
        .await;
        for p in [IOT_POLICY, BARE_IOT_POLICY] {
            self.root(Call::iot(
                "POST",
                format!("/policies/{p}"),
                json!({"policyDocument": IOT_DOC}),
            ))
            .await;
        }
        self.root(Call::iot(
            "POST",
            format!("/policies/{IOT_POLICY}/version"),
            json!({"policyDocument": IOT_DOC}),
        ))
        .await;
        self.root(Call::iot(
            "PUT",
            format!("/target-policies/{IOT_POLICY}"),
            json!({"target": cert_arn}),
        ))
        .await;
        let fleet_verification = pki
            .fleet_ca
            .issue_verification(
                self.registry.registration_code(),
                time::OffsetDateTime::now_utc(),
            )
            .unwrap()
            .cert_pem;
        let a = self
            .root(Call::iot(
                "POST",
                "/cacertificate?setAsActive=true",
                json!({"caCertificate": pki.fleet_ca.cert_pem(), "verificationCertificate": fleet_verification}),
            ))
            .await;
        self.fleet_ca_id = a.json()["certificateId"].as_str().unwrap().to_owned();
        let now = time::OffsetDateTime::now_utc();
        self.fleet_crl_pem = pki
            .fleet_ca
            .issue_crl(
                &[],
                1,
                now - time::Duration::hours(1),
                now + time::Duration::days(1),
            )
            .unwrap();
        let a = self
            .root(Call::iot(
                "POST",
                "/cacertificate",
                json!({"caCertificate": pki.old_ca_pem, "certificateMode": "SNI_ONLY"}),
            ))
            .await;
        self.old_ca_id = a.json()["certificateId"].as_str().unwrap().to_owned();
        self.root(Call::iot(
            "POST",
            format!("/role-aliases/{ALIAS}"),
            json!({"roleArn": self.role_arn(ROLE)}),
        ))
        .await;
    }

    /// The account's root key.
    pub fn root_principal(&self) -> Principal {
        Principal::Root {
            account: self.account.clone(),
            access_key_id: self.registry.root().access_key_id.clone(),
        }
    }

    /// The user `caller` as it is now.
    pub async fn caller(&self) -> Principal {
        Principal::User {
            user: self.registry.user(CALLER).await.unwrap().unwrap(),
            account: self.account.clone(),
            access_key_id: "AKIACALLERTESTKEY000".into(),
        }
    }

    /// Replace the caller's only policy.
    pub async fn set_caller_policy(&self, document: &Value) {
        let policy = InlinePolicy {
            name: "under-test".into(),
            document: document.to_string(),
        };
        self.registry
            .mutate(self.registry.store().put_user_policy(CALLER, &policy))
            .await
            .unwrap();
    }

    /// The registry's generation: it moves with every committed write.
    pub async fn generation(&self) -> i64 {
        self.registry.store().generation().await.unwrap()
    }

    /// Send `call` as `principal`.
    pub async fn send(&self, principal: Principal, call: &Call) -> Answer {
        let caller = Caller {
            principal,
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            secure: true,
            request_id: "authz-table".into(),
            now_ms: iotcreds_types::time_fmt::to_millis(time::OffsetDateTime::now_utc()),
        };
        let mut b = http::Request::builder()
            .method(call.method)
            .uri(call.target.as_str());
        for (k, v) in &call.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let (parts, ()) = b.body(()).unwrap().into_parts();
        let body = Bytes::from(call.body.clone());
        let resp = match call.api {
            Api::Iot => iot::handle(&self.ctx, &caller, &parts, body).await,
            Api::Iam => iam::handle(&self.ctx, &caller, &parts, body).await,
            Api::Sts => sts::handle(&self.ctx, &caller, &parts, body).await,
        };
        let status = resp.status().as_u16();
        let text = String::from_utf8_lossy(resp.body()).into_owned();
        let (code, message) = match call.api {
            Api::Iot => (
                resp.headers()
                    .get("x-amzn-ErrorType")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v["message"].as_str().map(str::to_owned))
                    .unwrap_or_default(),
            ),
            _ => (
                between(&text, "<Code>", "</Code>").map(str::to_owned),
                between(&text, "<Message>", "</Message>")
                    .unwrap_or_default()
                    .to_owned(),
            ),
        };
        Answer {
            status,
            code: if (200..300).contains(&status) {
                None
            } else {
                code
            },
            message,
            body: text,
        }
    }
}
