//! The gateway under test: an in-process s3s service over [`UpstreamBackend`] on 127.0.0.1:0,
//! and a small SigV4-signing HTTP client (hyper) that talks to it as a device would, or to moto
//! directly (to look at the upstream side). Auth is configured on the service (SimpleAuth) only
//! because s3s decodes aws-chunked bodies and exposes trailers for signed requests; policy is
//! the gateway's business and is not tested here. Adapted from `iotcreds-objects`' tests.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_lc_rs::{digest, hmac};
use bytes::Bytes;
use futures::Stream;
use http::{HeaderMap, Method, Request};
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use iotcreds_objects_upstream::{UpstreamBackend, UpstreamConfig};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::task::JoinSet;

use crate::moto::Moto;

/// The device's credentials at the gateway.
pub const AK: &str = "AKIDEXAMPLE";
pub const SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const REGION: &str = "us-east-1";
/// The prefix of the default test mapping: device bucket `b` is upstream bucket `gw-b`.
pub const PREFIX: &str = "gw-";

pub type Body = BoxBody<Bytes, std::io::Error>;

/// An in-process gateway; stops serving when dropped.
pub struct Gateway {
    pub addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
    conns: Arc<Mutex<JoinSet<()>>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.accept.abort();
        if let Ok(mut set) = self.conns.lock() {
            set.abort_all();
        }
    }
}

impl Gateway {
    pub async fn start(config: UpstreamConfig) -> Self {
        let backend = UpstreamBackend::new(config).expect("valid config");
        let mut b = S3ServiceBuilder::new(backend);
        b.set_auth(SimpleAuth::from_single(AK, SK));
        let service = b.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let conns = Arc::new(Mutex::new(JoinSet::new()));
        let c2 = Arc::clone(&conns);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let svc = service.clone();
                c2.lock().expect("conns").spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self {
            addr,
            accept,
            conns,
        }
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr, AK, SK)
    }
}

/// moto plus a gateway in front of it.
pub struct Env {
    pub gw: Gateway,
    pub moto: Moto,
}

impl Env {
    /// moto and a gateway with the default mapping (`bucket_prefix = "gw-"`).
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(f: impl FnOnce(&mut UpstreamConfig)) -> Self {
        let moto = Moto::start();
        let mut config = upstream_config(&moto);
        f(&mut config);
        let gw = Gateway::start(config).await;
        Self { gw, moto }
    }

    /// The device's client (through the gateway).
    pub fn device(&self) -> Client {
        self.gw.client()
    }

    /// A client of moto itself, with the gateway's upstream credentials.
    pub fn upstream(&self) -> Client {
        Client::new(
            SocketAddr::from(([127, 0, 0, 1], self.moto.port)),
            &self.moto.gateway.0,
            &self.moto.gateway.1,
        )
    }
}

/// The default test configuration: moto, the `gateway` user, prefix `gw-`, small timeouts.
pub fn upstream_config(moto: &Moto) -> UpstreamConfig {
    let mut c = UpstreamConfig::new(&moto.endpoint, &moto.gateway.0, &moto.gateway.1);
    c.bucket_prefix = Some(PREFIX.to_owned());
    c.operation_timeout_secs = 30;
    // moto takes its time over large aws-chunked bodies on a loaded machine (over a minute for
    // 64 MiB); the time-out tests use their own settings.
    c.first_byte_timeout_secs = 600;
    c
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Values of every `<tag>…</tag>` in the body, in order (XML entities decoded).
    pub fn all(&self, tag: &str) -> Vec<String> {
        let text = self.text();
        let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
        let mut out = Vec::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find(&open) {
            rest = &rest[i + open.len()..];
            if rest.starts_with("/>") {
                out.push(String::new());
                continue;
            }
            if !(rest.starts_with('>') || rest.starts_with(' ')) {
                continue;
            }
            let Some(gt) = rest.find('>') else { break };
            rest = &rest[gt + 1..];
            let Some(j) = rest.find(&close) else { break };
            out.push(unescape(&rest[..j]));
            rest = &rest[j + close.len()..];
        }
        out
    }

    pub fn one(&self, tag: &str) -> Option<String> {
        self.all(tag).into_iter().next()
    }

    pub fn code(&self) -> Option<String> {
        self.one("Code")
    }

    /// Asserts an error status and code.
    #[track_caller]
    pub fn err(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_deref()),
            (status, Some(code)),
            "{}",
            self.text()
        );
    }

    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert!(
            (200..300).contains(&self.status),
            "status {}: {}",
            self.status,
            self.text()
        );
        self
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// AWS SigV4 URI encoding (unreserved characters kept; `/` kept when `keep_slash`).
pub fn aws_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn md5_hex(data: &[u8]) -> String {
    use s3s::crypto::Checksum as _;
    hex::encode(s3s::crypto::Md5::checksum(data))
}

pub fn b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub fn md5_b64(data: &[u8]) -> String {
    use s3s::crypto::Checksum as _;
    b64(&s3s::crypto::Md5::checksum(data))
}

pub fn crc32_b64(data: &[u8]) -> String {
    use s3s::crypto::Checksum as _;
    b64(&s3s::crypto::Crc32::checksum(data))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

pub struct Client {
    http: HyperClient<HttpConnector, Body>,
    addr: SocketAddr,
    ak: String,
    sk: String,
}

/// A request under construction. `path` is the object path (`bucket` or `bucket/key`), raw.
pub struct Req<'a> {
    client: &'a Client,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Body>,
    payload_hash: Option<String>,
}

impl Client {
    pub fn new(addr: SocketAddr, ak: &str, sk: &str) -> Self {
        Self {
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
            addr,
            ak: ak.to_owned(),
            sk: sk.to_owned(),
        }
    }

    pub fn req(&self, method: Method, bucket: &str, key: Option<&str>) -> Req<'_> {
        let mut path = format!("/{bucket}");
        if let Some(k) = key {
            path.push('/');
            path.push_str(&aws_encode(k, true));
        }
        Req {
            client: self,
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            payload_hash: None,
        }
    }

    pub async fn create_bucket(&self, bucket: &str) -> Resp {
        self.req(Method::PUT, bucket, None).send().await
    }

    pub async fn put(&self, bucket: &str, key: &str, data: impl Into<Bytes>) -> Resp {
        self.req(Method::PUT, bucket, Some(key))
            .body(data)
            .send()
            .await
    }

    pub async fn get(&self, bucket: &str, key: &str) -> Resp {
        self.req(Method::GET, bucket, Some(key)).send().await
    }

    pub async fn head(&self, bucket: &str, key: &str) -> Resp {
        self.req(Method::HEAD, bucket, Some(key)).send().await
    }

    pub async fn delete(&self, bucket: &str, key: &str) -> Resp {
        self.req(Method::DELETE, bucket, Some(key)).send().await
    }

    /// ListObjectsV2 with the given extra query parameters.
    pub async fn list(&self, bucket: &str, params: &[(&str, &str)]) -> Resp {
        let mut r = self.req(Method::GET, bucket, None).q("list-type", "2");
        for (k, v) in params {
            r = r.q(k, v);
        }
        r.send().await
    }

    /// Starts a multipart upload, returns its id.
    pub async fn create_upload(&self, bucket: &str, key: &str) -> String {
        let r = self
            .req(Method::POST, bucket, Some(key))
            .q("uploads", "")
            .send()
            .await;
        r.ok();
        r.one("UploadId").expect("upload id")
    }

    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        n: u32,
        data: impl Into<Bytes>,
    ) -> Resp {
        self.req(Method::PUT, bucket, Some(key))
            .q("partNumber", &n.to_string())
            .q("uploadId", id)
            .body(data)
            .send()
            .await
    }

    pub async fn complete(&self, bucket: &str, key: &str, id: &str, parts: &[(u32, &str)]) -> Resp {
        self.req(Method::POST, bucket, Some(key))
            .q("uploadId", id)
            .body(complete_xml(parts))
            .send()
            .await
    }
}

pub fn complete_xml(parts: &[(u32, &str)]) -> String {
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (n, etag) in parts {
        xml.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    xml
}

impl Req<'_> {
    pub fn q(mut self, k: &str, v: &str) -> Self {
        self.query.push((k.to_owned(), v.to_owned()));
        self
    }

    /// Sets a header (replacing an earlier value of the same name).
    pub fn h(mut self, k: &str, v: &str) -> Self {
        let k = k.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != k);
        self.headers.push((k, v.to_owned()));
        self
    }

    pub fn body(mut self, b: impl Into<Bytes>) -> Self {
        let b: Bytes = b.into();
        self.body = Some(Full::new(b).map_err(|e: Infallible| match e {}).boxed());
        self
    }

    /// A body produced chunk by chunk while it is sent (never held whole); `Content-Length` is
    /// set to `len`.
    pub fn stream_body<S>(mut self, len: u64, chunks: S) -> Self
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static,
    {
        use futures::StreamExt as _;
        self.body = Some(http_body_util::BodyExt::boxed(StreamBody::new(
            chunks.map(|c| c.map(Frame::data)),
        )));
        self.h("content-length", &len.to_string())
    }

    /// Sends `data` as `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (aws-chunked, in `chunk`-byte
    /// chunks) with the given trailing headers.
    pub fn trailer_body(mut self, data: &[u8], chunk: usize, trailers: &[(&str, &str)]) -> Self {
        let names: Vec<&str> = trailers.iter().map(|(k, _)| *k).collect();
        let mut body = Vec::new();
        for c in data.chunks(chunk) {
            body.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            body.extend_from_slice(c);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n");
        for (k, v) in trailers {
            body.extend_from_slice(format!("{k}:{v}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        self.payload_hash = Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER".to_owned());
        self.body(body)
            .h("content-encoding", "aws-chunked")
            .h("x-amz-decoded-content-length", &data.len().to_string())
            .h("x-amz-trailer", &names.join(","))
    }

    /// Sends the request; returns status, headers and the response body still streaming.
    pub async fn send_streaming(self) -> (u16, HeaderMap, hyper::body::Incoming) {
        self.try_send_streaming().await.expect("http")
    }

    /// [`Self::send_streaming`], with a connection failure as an error.
    pub async fn try_send_streaming(
        self,
    ) -> Result<(u16, HeaderMap, hyper::body::Incoming), hyper_util::client::legacy::Error> {
        let c = self.client;
        let now = time::OffsetDateTime::now_utc();
        let amz_date = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let date = &amz_date[..8];
        let payload = self
            .payload_hash
            .clone()
            .unwrap_or_else(|| "UNSIGNED-PAYLOAD".to_owned());
        let host = c.addr.to_string();
        let mut headers = self.headers.clone();
        headers.push(("host".into(), host));
        headers.push(("x-amz-date".into(), amz_date.clone()));
        headers.push(("x-amz-content-sha256".into(), payload.clone()));
        headers.sort();
        let mut query: Vec<(String, String)> = self
            .query
            .iter()
            .map(|(k, v)| (aws_encode(k, false), aws_encode(v, false)))
            .collect();
        query.sort();
        let qs = query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let canonical_headers: String = headers
            .iter()
            .map(|(k, v)| format!("{k}:{}\n", v.trim()))
            .collect();
        let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        let signed = signed.join(";");
        let creq = format!(
            "{}\n{}\n{qs}\n{canonical_headers}\n{signed}\n{payload}",
            self.method, self.path
        );
        let scope = format!("{date}/{REGION}/s3/aws4_request");
        let sts = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            sha256_hex(creq.as_bytes())
        );
        let mut key = hmac(format!("AWS4{}", c.sk).as_bytes(), date.as_bytes());
        for part in [REGION, "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let sig = hex::encode(hmac(&key, sts.as_bytes()));
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={sig}",
            c.ak
        );
        let uri = if qs.is_empty() {
            format!("http://{}{}", c.addr, self.path)
        } else {
            format!("http://{}{}?{qs}", c.addr, self.path)
        };
        let mut rb = Request::builder().method(self.method.clone()).uri(uri);
        for (k, v) in &headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        rb = rb.header("authorization", auth);
        let body = self.body.unwrap_or_else(|| {
            Full::new(Bytes::new())
                .map_err(|e: Infallible| match e {})
                .boxed()
        });
        let req = rb.body(body).expect("request");
        let resp = c.http.request(req).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        Ok((status, headers, resp.into_body()))
    }

    pub async fn send(self) -> Resp {
        let (status, headers, body) = self.send_streaming().await;
        let body = body.collect().await.expect("body").to_bytes();
        Resp {
            status,
            headers,
            body,
        }
    }
}

/// An HTTP date for conditional headers.
pub fn http_date(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .expect("format")
}
