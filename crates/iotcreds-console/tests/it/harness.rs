//! A console on a fresh registry, and a tiny browser: cookies, form tokens, redirects.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use iotcreds_console::objects::{
    BucketEntry, ByteStream, Download, ObjectPage, Objects, ObjectsError,
};
use iotcreds_console::{Console, Peer, Settings};
use iotcreds_control::{Caller, ControlContext};
use iotcreds_registry::Registry;

/// S3 is not what these tests are about: every operation is refused.
pub struct NoObjects;

#[async_trait::async_trait]
impl Objects for NoObjects {
    async fn list_buckets(&self, _: &Caller) -> Result<Vec<BucketEntry>, ObjectsError> {
        Ok(Vec::new())
    }
    async fn create_bucket(&self, _: &Caller, _: &str) -> Result<(), ObjectsError> {
        Err(ObjectsError::new("AccessDenied", "Access Denied"))
    }
    async fn list_objects(
        &self,
        _: &Caller,
        _: &str,
        _: &str,
        _: Option<&str>,
    ) -> Result<ObjectPage, ObjectsError> {
        Ok(ObjectPage::default())
    }
    async fn get_object(&self, _: &Caller, _: &str, _: &str) -> Result<Download, ObjectsError> {
        Err(ObjectsError::new(
            "NoSuchKey",
            "The specified key does not exist.",
        ))
    }
    async fn put_object(
        &self,
        _: &Caller,
        _: &str,
        _: &str,
        _: u64,
        _: ByteStream,
    ) -> Result<(), ObjectsError> {
        Err(ObjectsError::new("AccessDenied", "Access Denied"))
    }
    async fn delete_object(&self, _: &Caller, _: &str, _: &str) -> Result<(), ObjectsError> {
        Err(ObjectsError::new("AccessDenied", "Access Denied"))
    }
}

/// A console on a fresh registry.
pub struct Env {
    pub console: Arc<Console>,
    pub registry: Arc<Registry>,
    _dir: tempfile::TempDir,
}

pub fn now_ms() -> i64 {
    iotcreds_types::time_fmt::to_millis(time::OffsetDateTime::now_utc())
}

impl Env {
    pub async fn new() -> Self {
        Self::with(Settings::default()).await
    }

    pub async fn with(settings: Settings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = iotcreds_store_sqlite::open(
            &dir.path().join("registry.db"),
            iotcreds_store::Limits::default(),
        )
        .await
        .unwrap();
        let (registry, _) = iotcreds_registry::open(Arc::new(store), "ap-northeast-1", now_ms())
            .await
            .unwrap();
        let registry = Arc::new(registry);
        let control = ControlContext {
            registry: registry.clone(),
            region: "ap-northeast-1".into(),
            credentials_endpoint: "localhost:8443".into(),
            data_endpoint: "localhost".into(),
        };
        let console = Arc::new(Console::new(control, Arc::new(NoObjects), settings));
        Self {
            console,
            registry,
            _dir: dir,
        }
    }

    pub fn root_keys(&self) -> (String, String) {
        let r = self.registry.root();
        (r.access_key_id.clone(), r.secret.expose().to_owned())
    }

    /// A browser from `ip`.
    pub fn browser(&self, ip: &str) -> Browser {
        Browser {
            console: self.console.clone(),
            peer: Peer {
                ip: ip.parse::<IpAddr>().unwrap(),
                tls: false,
            },
            cookies: Vec::new(),
        }
    }

    /// Make an IAM user `name` with a console password and inline policy `policy` (as root,
    /// through the console's own pages).
    pub async fn user(&self, name: &str, password: &str, policy: Option<&str>) {
        let mut b = self.browser("10.9.9.9");
        b.sign_in_root(self).await;
        let r = b
            .post("/users", &[("name", name), ("password", password)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = b.get(&format!("/users/{name}")).await;
        assert!(
            page.body.contains("Must be changed at next sign-in"),
            "{}",
            page.body
        );
        if let Some(doc) = policy {
            let r = b
                .post(
                    &format!("/users/{name}/put-inline"),
                    &[("policy", "console"), ("document", doc)],
                )
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER);
            let page = b.follow(&r).await;
            assert!(
                page.body.contains("Inline policy console saved."),
                "{}",
                page.body
            );
        }
    }
}

/// An answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value of hidden input `name` in the page.
    pub fn hidden(&self, name: &str) -> String {
        let needle = format!("name=\"{name}\" value=\"");
        let i = self
            .body
            .find(&needle)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body));
        let rest = &self.body[i + needle.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

/// Cookies and requests.
pub struct Browser {
    pub console: Arc<Console>,
    pub peer: Peer,
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Answer {
        let resp = self.console.handle(self.peer, req).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !attrs.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub fn request(&self, method: Method, uri: &str) -> http::request::Builder {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "console.test");
        if !cookie.is_empty() {
            b = b.header(header::COOKIE, cookie.join("; "));
        }
        b
    }

    pub async fn get(&mut self, uri: &str) -> Answer {
        let req = self
            .request(Method::GET, uri)
            .body(Full::new(Bytes::new()))
            .unwrap();
        self.send(req).await
    }

    /// Follow a redirect.
    pub async fn follow(&mut self, a: &Answer) -> Answer {
        assert!(a.status.is_redirection(), "{} {}", a.status, a.body);
        let to = a.location().to_owned();
        self.get(&to).await
    }

    /// A form post with the session's CSRF token (read from a page) and this origin.
    pub async fn post(&mut self, uri: &str, fields: &[(&str, &str)]) -> Answer {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf", &token)];
        all.extend_from_slice(fields);
        self.post_raw(uri, &all, Some("http://console.test")).await
    }

    /// A form post exactly as given.
    pub async fn post_raw(
        &mut self,
        uri: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Answer {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        let mut b = self
            .request(Method::POST, uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        let req = b.body(Full::new(Bytes::from(body.join("&")))).unwrap();
        self.send(req).await
    }

    /// The session's CSRF token, from the sign-out form of the home page.
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/").await;
        assert_eq!(
            page.status,
            StatusCode::OK,
            "not signed in: {}",
            page.location()
        );
        page.hidden("csrf")
    }

    /// Sign in with the sign-in form.
    pub async fn sign_in(&mut self, fields: &[(&str, &str)]) -> Answer {
        let form = self.get("/signin").await;
        let token = form.hidden("csrf");
        let mut all: Vec<(&str, &str)> = vec![("csrf", &token)];
        all.extend_from_slice(fields);
        self.post_raw("/signin", &all, Some("http://console.test"))
            .await
    }

    pub async fn sign_in_root(&mut self, env: &Env) {
        let (akid, secret) = env.root_keys();
        let r = self
            .sign_in(&[
                ("kind", "root"),
                ("access_key_id", &akid),
                ("secret_access_key", &secret),
            ])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.location(), "/");
    }

    pub async fn sign_in_user(&mut self, user: &str, password: &str) -> Answer {
        self.sign_in(&[("kind", "user"), ("user", user), ("password", password)])
            .await
    }
}

pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
