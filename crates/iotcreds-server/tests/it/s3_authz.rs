//! The S3 authorisation table, generated from s3s's own operation list.
//!
//! s3s 0.14.1 exposes no list of the operations it routes; its generated dispatch code
//! (`src/ops/generated.rs`, one `fn name() -> "Op"` per operation) is the list, so the test
//! reads it from the s3s source cargo resolved. Every operation must have a row here: a new one
//! (an s3s upgrade) fails the test until it has a row saying how a role scoped to its thing's
//! prefix is treated.
//!
//! The role: `s3:*` on `adc-test-2020-08-26/${credentials-iot:ThingName}/*`, and the list
//! actions on the bucket with an `s3:prefix` condition on the thing's prefix. For every
//! operation, a device of `ThingA` is refused on `ThingB/…` and in another bucket (each refusal
//! audited with the expected IAM action and resource, which also proves the request routed to
//! that operation); object and list operations pass the policy on its own prefix (and are then
//! served, or refused by design); bucket and account operations are refused for it; every
//! operation the server refuses by design is refused for the account root too.

use std::collections::BTreeMap;
use std::sync::{Mutex, Once};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use iotcreds_sigv4::{Rules, SigningParams, payload_sha256};
use time::OffsetDateTime;

use crate::common::*;

const OTHER: &str = "other-bucket-2020-08-26";

// ----- the audit log, captured -------------------------------------------------------------

type Event = BTreeMap<String, String>;
static EVENTS: Mutex<Vec<Event>> = Mutex::new(Vec::new());

struct Capture;

struct Fields<'a>(&'a mut Event);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "iotcreds::audit" {
            return;
        }
        let mut e = Event::new();
        event.record(&mut Fields(&mut e));
        EVENTS.lock().unwrap().push(e);
    }
}

fn capture_audit() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        use tracing_subscriber::layer::SubscriberExt as _;
        let _ =
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture));
    });
}

/// The audit events of `access_key_id` since the last call (taken out of the log).
fn audited(access_key_id: &str) -> Vec<Event> {
    let mut all = EVENTS.lock().unwrap();
    let (mine, rest): (Vec<Event>, Vec<Event>) = all
        .drain(..)
        .partition(|e| e.get("access_key_id").map(String::as_str) == Some(access_key_id));
    *all = rest;
    mine
}

// ----- s3s's operation list ---------------------------------------------------------------

/// The operations s3s 0.14.1 routes, read from its generated dispatch code.
pub fn s3s_operations() -> Vec<String> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "s3s" && p["version"] == "0.14.1")
        .expect("s3s 0.14.1 in the dependency graph")["manifest_path"]
        .as_str()
        .unwrap()
        .to_owned();
    let src = std::path::Path::new(&manifest)
        .parent()
        .unwrap()
        .join("src/ops/generated.rs");
    let code = std::fs::read_to_string(&src).expect("s3s's generated operations");
    let mut ops: Vec<String> = code
        .split("fn name(&self) -> &'static str {")
        .skip(1)
        .filter_map(|rest| rest.split('"').nth(1).map(str::to_owned))
        .collect();
    ops.sort();
    ops.dedup();
    assert!(ops.len() > 90, "{ops:?}");
    ops
}

fn snake(op: &str) -> String {
    let mut out = String::new();
    for (i, c) in op.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out.replace("v_2", "v2")
}

// ----- the table ------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// On an object: the role's own prefix is allowed.
    Object,
    /// A listing with `prefix=`: allowed with the thing's prefix.
    List,
    /// On the bucket itself: the prefix-scoped role has no right.
    Bucket,
    /// On the account (no bucket).
    Account,
}

/// One operation: how to send it, what S3 asks permission for, and whether the server serves
/// it (otherwise it is refused by design: `NotImplemented`).
struct Row {
    op: &'static str,
    method: &'static str,
    kind: Kind,
    query: &'static str,
    headers: &'static [(&'static str, &'static str)],
    action: &'static str,
    served: bool,
}

const fn row(
    op: &'static str,
    method: &'static str,
    kind: Kind,
    query: &'static str,
    action: &'static str,
    served: bool,
) -> Row {
    Row {
        op,
        method,
        kind,
        query,
        headers: &[],
        action,
        served,
    }
}

const COPY: &[(&str, &str)] = &[("x-amz-copy-source", "COPY_SOURCE")];
const ATTRIBUTES: &[(&str, &str)] = &[("x-amz-object-attributes", "ETag,ObjectSize")];
const ROUTE: &[(&str, &str)] = &[
    ("x-amz-request-route", "route"),
    ("x-amz-request-token", "token"),
];

use Kind::{Account, Bucket, List, Object};

/// Every operation s3s routes, with the action the S3 authorisation reference ("Actions,
/// resources, and condition keys for Amazon S3"; "Required permissions for Amazon S3 API
/// operations") gives it. `PostObject` and `DeleteObjects` have their own tests below.
#[rustfmt::skip]
const TABLE: &[Row] = &[
    row("ListBuckets", "GET", Account, "", "s3:ListAllMyBuckets", true),
    row("ListDirectoryBuckets", "GET", Account, "x-id=ListDirectoryBuckets", "s3:ListDirectoryBuckets", false),
    row("CreateBucket", "PUT", Bucket, "", "s3:CreateBucket", true),
    row("DeleteBucket", "DELETE", Bucket, "", "s3:DeleteBucket", true),
    row("HeadBucket", "HEAD", Bucket, "", "s3:ListBucket", true),
    row("GetBucketLocation", "GET", Bucket, "location", "s3:GetBucketLocation", true),
    row("ListObjects", "GET", List, "", "s3:ListBucket", true),
    row("ListObjectsV2", "GET", List, "list-type=2", "s3:ListBucket", true),
    row("ListObjectVersions", "GET", List, "versions", "s3:ListBucketVersions", true),
    row("ListMultipartUploads", "GET", List, "uploads", "s3:ListBucketMultipartUploads", true),
    row("CreateSession", "GET", Bucket, "session", "s3:CreateSession", false),
    row("GetBucketAccelerateConfiguration", "GET", Bucket, "accelerate", "s3:GetAccelerateConfiguration", false),
    row("PutBucketAccelerateConfiguration", "PUT", Bucket, "accelerate", "s3:PutAccelerateConfiguration", false),
    row("GetBucketAcl", "GET", Bucket, "acl", "s3:GetBucketAcl", false),
    row("PutBucketAcl", "PUT", Bucket, "acl", "s3:PutBucketAcl", false),
    row("GetBucketAnalyticsConfiguration", "GET", Bucket, "analytics&id=a", "s3:GetAnalyticsConfiguration", false),
    row("ListBucketAnalyticsConfigurations", "GET", Bucket, "analytics", "s3:GetAnalyticsConfiguration", false),
    row("PutBucketAnalyticsConfiguration", "PUT", Bucket, "analytics&id=a", "s3:PutAnalyticsConfiguration", false),
    row("DeleteBucketAnalyticsConfiguration", "DELETE", Bucket, "analytics&id=a", "s3:PutAnalyticsConfiguration", false),
    row("GetBucketCors", "GET", Bucket, "cors", "s3:GetBucketCORS", false),
    row("PutBucketCors", "PUT", Bucket, "cors", "s3:PutBucketCORS", false),
    row("DeleteBucketCors", "DELETE", Bucket, "cors", "s3:PutBucketCORS", false),
    row("GetBucketEncryption", "GET", Bucket, "encryption", "s3:GetEncryptionConfiguration", false),
    row("PutBucketEncryption", "PUT", Bucket, "encryption", "s3:PutEncryptionConfiguration", false),
    row("DeleteBucketEncryption", "DELETE", Bucket, "encryption", "s3:PutEncryptionConfiguration", false),
    row("GetBucketIntelligentTieringConfiguration", "GET", Bucket, "intelligent-tiering&id=a", "s3:GetIntelligentTieringConfiguration", false),
    row("ListBucketIntelligentTieringConfigurations", "GET", Bucket, "intelligent-tiering", "s3:GetIntelligentTieringConfiguration", false),
    row("PutBucketIntelligentTieringConfiguration", "PUT", Bucket, "intelligent-tiering&id=a", "s3:PutIntelligentTieringConfiguration", false),
    row("DeleteBucketIntelligentTieringConfiguration", "DELETE", Bucket, "intelligent-tiering&id=a", "s3:PutIntelligentTieringConfiguration", false),
    row("GetBucketInventoryConfiguration", "GET", Bucket, "inventory&id=a", "s3:GetInventoryConfiguration", false),
    row("ListBucketInventoryConfigurations", "GET", Bucket, "inventory", "s3:GetInventoryConfiguration", false),
    row("PutBucketInventoryConfiguration", "PUT", Bucket, "inventory&id=a", "s3:PutInventoryConfiguration", false),
    row("DeleteBucketInventoryConfiguration", "DELETE", Bucket, "inventory&id=a", "s3:PutInventoryConfiguration", false),
    row("GetBucketLifecycleConfiguration", "GET", Bucket, "lifecycle", "s3:GetLifecycleConfiguration", false),
    row("PutBucketLifecycleConfiguration", "PUT", Bucket, "lifecycle", "s3:PutLifecycleConfiguration", false),
    row("DeleteBucketLifecycle", "DELETE", Bucket, "lifecycle", "s3:PutLifecycleConfiguration", false),
    row("GetBucketLogging", "GET", Bucket, "logging", "s3:GetBucketLogging", false),
    row("PutBucketLogging", "PUT", Bucket, "logging", "s3:PutBucketLogging", false),
    row("CreateBucketMetadataTableConfiguration", "POST", Bucket, "metadataTable", "s3:CreateBucketMetadataTableConfiguration", false),
    row("GetBucketMetadataTableConfiguration", "GET", Bucket, "metadataTable", "s3:GetBucketMetadataTableConfiguration", false),
    row("DeleteBucketMetadataTableConfiguration", "DELETE", Bucket, "metadataTable", "s3:DeleteBucketMetadataTableConfiguration", false),
    row("GetBucketMetricsConfiguration", "GET", Bucket, "metrics&id=a", "s3:GetMetricsConfiguration", false),
    row("ListBucketMetricsConfigurations", "GET", Bucket, "metrics", "s3:GetMetricsConfiguration", false),
    row("PutBucketMetricsConfiguration", "PUT", Bucket, "metrics&id=a", "s3:PutMetricsConfiguration", false),
    row("DeleteBucketMetricsConfiguration", "DELETE", Bucket, "metrics&id=a", "s3:PutMetricsConfiguration", false),
    row("GetBucketNotificationConfiguration", "GET", Bucket, "notification", "s3:GetBucketNotification", false),
    row("PutBucketNotificationConfiguration", "PUT", Bucket, "notification", "s3:PutBucketNotification", false),
    row("GetBucketOwnershipControls", "GET", Bucket, "ownershipControls", "s3:GetBucketOwnershipControls", false),
    row("PutBucketOwnershipControls", "PUT", Bucket, "ownershipControls", "s3:PutBucketOwnershipControls", false),
    row("DeleteBucketOwnershipControls", "DELETE", Bucket, "ownershipControls", "s3:PutBucketOwnershipControls", false),
    row("GetBucketPolicy", "GET", Bucket, "policy", "s3:GetBucketPolicy", false),
    row("PutBucketPolicy", "PUT", Bucket, "policy", "s3:PutBucketPolicy", false),
    row("DeleteBucketPolicy", "DELETE", Bucket, "policy", "s3:DeleteBucketPolicy", false),
    row("GetBucketPolicyStatus", "GET", Bucket, "policyStatus", "s3:GetBucketPolicyStatus", false),
    row("GetBucketReplication", "GET", Bucket, "replication", "s3:GetReplicationConfiguration", false),
    row("PutBucketReplication", "PUT", Bucket, "replication", "s3:PutReplicationConfiguration", false),
    row("DeleteBucketReplication", "DELETE", Bucket, "replication", "s3:PutReplicationConfiguration", false),
    row("GetBucketRequestPayment", "GET", Bucket, "requestPayment", "s3:GetBucketRequestPayment", false),
    row("PutBucketRequestPayment", "PUT", Bucket, "requestPayment", "s3:PutBucketRequestPayment", false),
    row("GetBucketTagging", "GET", Bucket, "tagging", "s3:GetBucketTagging", false),
    row("PutBucketTagging", "PUT", Bucket, "tagging", "s3:PutBucketTagging", false),
    row("DeleteBucketTagging", "DELETE", Bucket, "tagging", "s3:PutBucketTagging", false),
    row("GetBucketVersioning", "GET", Bucket, "versioning", "s3:GetBucketVersioning", false),
    row("PutBucketVersioning", "PUT", Bucket, "versioning", "s3:PutBucketVersioning", false),
    row("GetBucketWebsite", "GET", Bucket, "website", "s3:GetBucketWebsite", false),
    row("PutBucketWebsite", "PUT", Bucket, "website", "s3:PutBucketWebsite", false),
    row("DeleteBucketWebsite", "DELETE", Bucket, "website", "s3:DeleteBucketWebsite", false),
    row("GetObjectLockConfiguration", "GET", Bucket, "object-lock", "s3:GetBucketObjectLockConfiguration", false),
    row("PutObjectLockConfiguration", "PUT", Bucket, "object-lock", "s3:PutBucketObjectLockConfiguration", false),
    row("GetPublicAccessBlock", "GET", Bucket, "publicAccessBlock", "s3:GetBucketPublicAccessBlock", false),
    row("PutPublicAccessBlock", "PUT", Bucket, "publicAccessBlock", "s3:PutBucketPublicAccessBlock", false),
    row("DeletePublicAccessBlock", "DELETE", Bucket, "publicAccessBlock", "s3:PutBucketPublicAccessBlock", false),
    Row { headers: ROUTE, ..row("WriteGetObjectResponse", "POST", Bucket, "", "s3:WriteGetObjectResponse", false) },
    row("GetObject", "GET", Object, "", "s3:GetObject", true),
    row("HeadObject", "HEAD", Object, "", "s3:GetObject", true),
    row("PutObject", "PUT", Object, "", "s3:PutObject", true),
    row("DeleteObject", "DELETE", Object, "", "s3:DeleteObject", true),
    Row { headers: COPY, ..row("CopyObject", "PUT", Object, "", "s3:PutObject", true) },
    row("CreateMultipartUpload", "POST", Object, "uploads", "s3:PutObject", true),
    row("UploadPart", "PUT", Object, "partNumber=1&uploadId=u", "s3:PutObject", true),
    Row { headers: COPY, ..row("UploadPartCopy", "PUT", Object, "partNumber=1&uploadId=u", "s3:PutObject", true) },
    row("CompleteMultipartUpload", "POST", Object, "uploadId=u", "s3:PutObject", true),
    row("AbortMultipartUpload", "DELETE", Object, "uploadId=u", "s3:AbortMultipartUpload", true),
    row("ListParts", "GET", Object, "uploadId=u", "s3:ListMultipartUploadParts", true),
    row("GetObjectAcl", "GET", Object, "acl", "s3:GetObjectAcl", false),
    row("PutObjectAcl", "PUT", Object, "acl", "s3:PutObjectAcl", false),
    Row { headers: ATTRIBUTES, ..row("GetObjectAttributes", "GET", Object, "attributes", "s3:GetObjectAttributes", true) },
    row("GetObjectLegalHold", "GET", Object, "legal-hold", "s3:GetObjectLegalHold", false),
    row("PutObjectLegalHold", "PUT", Object, "legal-hold", "s3:PutObjectLegalHold", false),
    row("GetObjectRetention", "GET", Object, "retention", "s3:GetObjectRetention", false),
    row("PutObjectRetention", "PUT", Object, "retention", "s3:PutObjectRetention", false),
    row("GetObjectTagging", "GET", Object, "tagging", "s3:GetObjectTagging", true),
    row("PutObjectTagging", "PUT", Object, "tagging", "s3:PutObjectTagging", true),
    row("DeleteObjectTagging", "DELETE", Object, "tagging", "s3:DeleteObjectTagging", true),
    row("GetObjectTorrent", "GET", Object, "torrent", "s3:GetObjectTorrent", false),
    row("RestoreObject", "POST", Object, "restore", "s3:RestoreObject", false),
    row("SelectObjectContent", "POST", Object, "select&select-type=2", "s3:GetObject", false),
];

/// Operations with a test of their own in this module.
const SPECIAL: &[&str] = &["PostObject", "DeleteObjects"];

/// The operations the server serves: (operation, request, S3 action), the table's served rows
/// and the two with tests of their own (authorised per key).
pub(crate) fn served_operations() -> Vec<(&'static str, String, &'static str)> {
    TABLE
        .iter()
        .filter(|r| r.served)
        .map(|r| {
            let path = match r.kind {
                Kind::Account => "/",
                Kind::Bucket | Kind::List => "/{Bucket}",
                Kind::Object => "/{Bucket}/{Key+}",
            };
            // The query's names (the table's values are only what the test sends).
            let query: Vec<&str> = r
                .query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    if p == "list-type=2" {
                        p
                    } else {
                        p.split('=').next().unwrap_or(p)
                    }
                })
                .collect();
            let request = if query.is_empty() {
                format!("{} {path}", r.method)
            } else {
                format!("{} {path}?{}", r.method, query.join("&"))
            };
            (r.op, request, r.action)
        })
        .chain([
            ("PostObject", "POST /{Bucket}".to_owned(), "s3:PutObject"),
            (
                "DeleteObjects",
                "POST /{Bucket}?delete".to_owned(),
                "s3:DeleteObject",
            ),
        ])
        .collect()
}

// ----- requests -----------------------------------------------------------------------------

#[derive(Clone)]
struct Creds {
    akid: String,
    secret: String,
    token: Option<String>,
}

struct Resp {
    status: u16,
    body: String,
}

impl Resp {
    fn code(&self) -> &str {
        self.body
            .split("<Code>")
            .nth(1)
            .and_then(|s| s.split("</Code>").next())
            .unwrap_or_default()
    }
}

async fn call(s: &TestServer, req: http::Request<Full<Bytes>>) -> Resp {
    let tcp = tokio::net::TcpStream::connect(s.running.api_addr)
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A header-signed request.
async fn send(
    s: &TestServer,
    c: &Creds,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Resp {
    let host = s.running.api_addr.to_string();
    let mut all: Vec<(&str, &[u8])> = vec![("host", host.as_bytes())];
    all.extend(headers.iter().map(|(n, v)| (*n, v.as_bytes())));
    let parts = iotcreds_sigv4::RequestParts {
        method,
        path,
        query,
        headers: &all,
    };
    let hash = payload_sha256(body);
    let signed = iotcreds_sigv4::sign(
        &parts,
        &SigningParams {
            access_key_id: &c.akid,
            secret_access_key: &c.secret,
            session_token: c.token.as_deref(),
            region: REGION,
            service: "s3",
            time: OffsetDateTime::now_utc(),
            rules: Rules::S3,
            payload_hash: hash.as_str(),
            content_sha256_header: true,
        },
    )
    .unwrap();
    let uri = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", &host);
    for (n, v) in headers {
        req = req.header(*n, v);
    }
    for (n, v) in signed.headers {
        req = req.header(n, v);
    }
    call(
        s,
        req.body(Full::new(Bytes::copy_from_slice(body))).unwrap(),
    )
    .await
}

fn root(s: &TestServer) -> Creds {
    let r = s.registry().root();
    Creds {
        akid: r.access_key_id.clone(),
        secret: r.secret.expose().to_owned(),
        token: None,
    }
}

fn location() -> Vec<u8> {
    format!(
        r#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>{REGION}</LocationConstraint></CreateBucketConfiguration>"#
    )
    .into_bytes()
}

/// The scoped role, two things with a device each, and both buckets (made by root).
async fn setup(s: &TestServer) -> (Creds, Creds) {
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::{BUCKET}/${{credentials-iot:ThingName}}/*"}},
            {{"Effect":"Allow","Action":["s3:ListBucket","s3:ListBucketVersions","s3:ListBucketMultipartUploads"],"Resource":"arn:aws:s3:::{BUCKET}",
              "Condition":{{"StringLike":{{"s3:prefix":["${{credentials-iot:ThingName}}/*"]}}}}}}]}}"#
    );
    s.create_role(ROLE, TRUST, 3600, Some(&policy)).await;
    s.create_alias(ALIAS, ROLE, 3600).await;
    s.allow_alias_policy(POLICY, ALIAS).await;
    let root = root(s);
    for b in [BUCKET, OTHER] {
        let r = send(s, &root, "PUT", &format!("/{b}"), "", &[], &location()).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let mut creds = Vec::new();
    for thing in ["ThingA", "ThingB"] {
        s.create_thing(thing, &[]).await;
        let d = s.device().await;
        s.attach_policy(POLICY, &d).await;
        s.attach_thing(thing, &d).await;
        let a = s.credentials(Some(&d), ALIAS, Some(thing)).await;
        assert_eq!(a.status, 200);
        let c = &a.json()["credentials"];
        creds.push(Creds {
            akid: c["accessKeyId"].as_str().unwrap().into(),
            secret: c["secretAccessKey"].as_str().unwrap().into(),
            token: Some(c["sessionToken"].as_str().unwrap().into()),
        });
    }
    let b = creds.pop().unwrap();
    (creds.pop().unwrap(), b)
}

/// `row` sent by `c` against `bucket`, on the object or prefix `ThingX/…` of `thing`.
async fn send_row(s: &TestServer, c: &Creds, row: &Row, bucket: &str, thing: &str) -> Resp {
    let (path, query) = match row.kind {
        Kind::Account => ("/".to_owned(), row.query.to_owned()),
        Kind::Bucket => (format!("/{bucket}"), row.query.to_owned()),
        Kind::List => {
            let q = if row.query.is_empty() {
                format!("prefix={thing}%2F")
            } else {
                format!("{}&prefix={thing}%2F", row.query)
            };
            (format!("/{bucket}"), q)
        }
        Kind::Object => (format!("/{bucket}/{thing}/obj.txt"), row.query.to_owned()),
    };
    // Copies read from the requester's own prefix in the same bucket.
    let headers: Vec<(&str, String)> = row
        .headers
        .iter()
        .map(|(n, v)| {
            let v = if *v == "COPY_SOURCE" {
                format!("/{bucket}/ThingA/src.txt")
            } else {
                (*v).to_owned()
            };
            (*n, v)
        })
        .collect();
    send(s, c, row.method, &path, &query, &headers, b"").await
}

fn expected_resource(row: &Row, bucket: &str, thing: &str) -> String {
    match row.kind {
        Kind::Account => "arn:aws:s3:::*".to_owned(),
        Kind::Bucket | Kind::List => format!("arn:aws:s3:::{bucket}"),
        Kind::Object => format!("arn:aws:s3:::{bucket}/{thing}/obj.txt"),
    }
}

#[tokio::test]
async fn every_routed_operation_has_a_row_and_the_gate_delegates_it() {
    let ops = s3s_operations();
    let mut rows: Vec<String> = TABLE
        .iter()
        .map(|r| r.op.to_owned())
        .chain(SPECIAL.iter().map(|s| (*s).to_owned()))
        .collect();
    rows.sort();
    let dup = rows.windows(2).find(|w| w[0] == w[1]);
    assert!(dup.is_none(), "duplicate row {dup:?}");
    assert_eq!(
        rows, ops,
        "the table must have exactly one row per operation s3s routes"
    );
    let mut gate: Vec<String> = iotcreds_server::service::s3::gate::OPERATIONS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    gate.sort();
    let mut want: Vec<String> = ops.iter().map(|o| snake(o)).collect();
    want.sort();
    assert_eq!(gate, want, "the gate must delegate every s3s operation");
    // actions.rs agrees with the table row by row.
    for r in TABLE {
        let req = iotcreds_server::service::s3::actions::requirement(
            r.op,
            Some(BUCKET),
            (r.kind == Kind::Object).then_some("k"),
            false,
        );
        assert_eq!(req.action, r.action, "{}", r.op);
    }
}

#[tokio::test]
async fn a_prefix_scoped_role_gets_its_prefix_and_nothing_else_for_every_operation() {
    capture_audit();
    let s = TestServer::start().await;
    let (a, _b) = setup(&s).await;
    let root = root(&s);
    let mut failures = Vec::new();
    for row in TABLE {
        // Refused elsewhere: another thing's prefix (bucket-level rows: the bucket itself),
        // another bucket; each refusal audited with the row's action on the right resource.
        for (bucket, thing) in [(BUCKET, "ThingB"), (OTHER, "ThingA")] {
            let _ = audited(&a.akid);
            let r = send_row(&s, &a, row, bucket, thing).await;
            let events = audited(&a.akid);
            let resource = expected_resource(row, bucket, thing);
            let ok = r.status == 403
                && (row.method == "HEAD" || r.code() == "AccessDenied")
                && events.iter().any(|e| {
                    e.get("action").map(String::as_str) == Some(row.action)
                        && e.get("resource") == Some(&resource)
                        && e.get("decision").is_some_and(|d| d != "allow")
                });
            if !ok {
                failures.push(format!(
                    "{} on {bucket}/{thing}: {} {} audit {events:?}",
                    row.op, r.status, r.body
                ));
            }
        }
        // Its own prefix.
        let r = send_row(&s, &a, row, BUCKET, "ThingA").await;
        let ok = match (row.kind, row.served) {
            (Kind::Object | Kind::List, true) => r.status != 403,
            // Past the policy, refused by the server: NotImplemented, or the input check
            // s3s runs before calling the backend.
            (Kind::Object | Kind::List, false) => r.status >= 400 && r.status != 403,
            (Kind::Bucket | Kind::Account, _) => r.status == 403,
        };
        if !ok {
            failures.push(format!(
                "{} on its own prefix: {} {}",
                row.op, r.status, r.body
            ));
        }
        // Refused by design, whoever asks.
        if !row.served {
            let r = send_row(&s, &root, row, BUCKET, "ThingA").await;
            if !(400..600).contains(&r.status) || r.status == 403 {
                failures.push(format!("{} as root: {} {}", row.op, r.status, r.body));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn delete_objects_is_decided_on_each_key() {
    capture_audit();
    let s = TestServer::start().await;
    let (a, b) = setup(&s).await;
    for (c, key) in [
        (&a, "ThingA/one.txt"),
        (&a, "ThingA/two.txt"),
        (&b, "ThingB/one.txt"),
    ] {
        let r = send(&s, c, "PUT", &format!("/{BUCKET}/{key}"), "", &[], b"x").await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let body = "<Delete><Object><Key>ThingA/one.txt</Key></Object><Object><Key>ThingB/one.txt</Key></Object><Object><Key>ThingA/two.txt</Key></Object></Delete>";
    let md5 = {
        use base64::Engine as _;
        use md5::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body.as_bytes()))
    };
    let _ = audited(&a.akid);
    let r = send(
        &s,
        &a,
        "POST",
        &format!("/{BUCKET}"),
        "delete",
        &[("content-md5", md5.clone())],
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains("<Deleted><Key>ThingA/one.txt</Key></Deleted>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<Deleted><Key>ThingA/two.txt</Key></Deleted>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("<Error><Code>AccessDenied</Code><Key>ThingB/one.txt</Key><Message>Access Denied</Message></Error>"),
        "{}",
        r.body
    );
    let events = audited(&a.akid);
    assert!(
        events.iter().any(
            |e| e.get("action").map(String::as_str) == Some("s3:DeleteObject")
                && e.get("resource").map(String::as_str)
                    == Some(&*format!("arn:aws:s3:::{BUCKET}/ThingB/one.txt"))
        ),
        "{events:?}"
    );
    // The foreign object is still there; the own ones are gone.
    assert_eq!(
        send(
            &s,
            &b,
            "GET",
            &format!("/{BUCKET}/ThingB/one.txt"),
            "",
            &[],
            b""
        )
        .await
        .status,
        200
    );
    assert_eq!(
        send(
            &s,
            &a,
            "GET",
            &format!("/{BUCKET}/ThingA/one.txt"),
            "",
            &[],
            b""
        )
        .await
        .status,
        404
    );
    // Only foreign keys: a 200 whose every entry is an error, nothing deleted.
    let body = "<Delete><Quiet>true</Quiet><Object><Key>ThingB/one.txt</Key></Object></Delete>";
    let md5 = {
        use base64::Engine as _;
        use md5::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body.as_bytes()))
    };
    let r = send(
        &s,
        &a,
        "POST",
        &format!("/{BUCKET}"),
        "delete",
        &[("content-md5", md5)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("<Code>AccessDenied</Code>") && !r.body.contains("<Deleted>"),
        "{}",
        r.body
    );
    assert_eq!(
        send(
            &s,
            &b,
            "GET",
            &format!("/{BUCKET}/ThingB/one.txt"),
            "",
            &[],
            b""
        )
        .await
        .status,
        200
    );
}

// ----- browser-form uploads ---------------------------------------------------------------

/// A multipart form: `fields` in order, then the file.
fn form(fields: &[(&str, String)], file_name: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "iotcredsformboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (n, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/plain\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The fields of a presigned POST for `key` (`starts-with` when it ends with `${filename}`),
/// with `conditions` added, signed by `c`.
fn presigned_post(
    c: &Creds,
    bucket: &str,
    key: &str,
    conditions: &[serde_json::Value],
) -> Vec<(&'static str, String)> {
    use base64::Engine as _;
    let now = OffsetDateTime::now_utc();
    let date = iotcreds_types::time_fmt::iso8601_seconds(now_ms()).replace(['-', ':'], "");
    let credential = format!("{}/{}/{REGION}/s3/aws4_request", c.akid, &date[..8]);
    let mut conds: Vec<serde_json::Value> = conditions.to_vec();
    conds.push(serde_json::json!({"bucket": bucket}));
    conds.push(match key.strip_suffix("${filename}") {
        Some(prefix) => serde_json::json!(["starts-with", "$key", prefix]),
        None => serde_json::json!({"key": key}),
    });
    conds.push(serde_json::json!({"x-amz-algorithm": "AWS4-HMAC-SHA256"}));
    conds.push(serde_json::json!({"x-amz-credential": credential}));
    conds.push(serde_json::json!({"x-amz-date": date}));
    if let Some(t) = &c.token {
        conds.push(serde_json::json!({"x-amz-security-token": t}));
    }
    let expiration = (now + time::Duration::minutes(10))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let policy = serde_json::json!({"expiration": expiration, "conditions": conds}).to_string();
    let policy = base64::engine::general_purpose::STANDARD.encode(policy);
    let key_for = iotcreds_sigv4::SigningKey::derive(&c.secret, &date[..8], REGION, "s3");
    let signature = iotcreds_sigv4::post_signature(&key_for, &policy);
    let mut fields = vec![
        ("key", key.to_owned()),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256".to_owned()),
        ("x-amz-credential", credential),
        ("x-amz-date", date),
    ];
    if let Some(t) = &c.token {
        fields.push(("x-amz-security-token", t.clone()));
    }
    fields.push(("policy", policy));
    fields.push(("x-amz-signature", signature.as_str().to_owned()));
    fields
}

async fn post_form(s: &TestServer, bucket: &str, fields: &[(&str, String)], file: &[u8]) -> Resp {
    let (ct, body) = form(fields, "log.txt", file);
    let req = http::Request::post(format!("/{bucket}"))
        .header("host", s.running.api_addr.to_string())
        .header("content-type", ct)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    call(s, req).await
}

#[tokio::test]
async fn form_uploads_are_decided_on_the_key_they_write() {
    capture_audit();
    let s = TestServer::start().await;
    let (a, b) = setup(&s).await;
    let r = send(
        &s,
        &b,
        "PUT",
        &format!("/{BUCKET}/ThingB/log.txt"),
        "",
        &[],
        b"B's log",
    )
    .await;
    assert_eq!(r.status, 200);
    // Its own prefix, with `${filename}`.
    let fields = presigned_post(&a, BUCKET, "ThingA/${filename}", &[]);
    let r = post_form(&s, BUCKET, &fields, b"A's log").await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = send(
        &s,
        &a,
        "GET",
        &format!("/{BUCKET}/ThingA/log.txt"),
        "",
        &[],
        b"",
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "A's log"));
    // Another thing's object, correctly signed by A: refused and audited on the object ARN.
    let _ = audited(&a.akid);
    let fields = presigned_post(&a, BUCKET, "ThingB/${filename}", &[]);
    let r = post_form(&s, BUCKET, &fields, b"overwritten").await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied"), "{}", r.body);
    let events = audited(&a.akid);
    assert!(
        events.iter().any(
            |e| e.get("action").map(String::as_str) == Some("s3:PutObject")
                && e.get("resource").map(String::as_str)
                    == Some(&*format!("arn:aws:s3:::{BUCKET}/ThingB/log.txt"))
        ),
        "{events:?}"
    );
    // Another bucket.
    let fields = presigned_post(&a, OTHER, "ThingA/${filename}", &[]);
    let r = post_form(&s, OTHER, &fields, b"x").await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied"), "{}", r.body);
    // B's object is unchanged.
    let r = send(
        &s,
        &b,
        "GET",
        &format!("/{BUCKET}/ThingB/log.txt"),
        "",
        &[],
        b"",
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "B's log"));
    // An Authorization header on a form changes nothing: it is never read.
    let mut fields = presigned_post(&a, BUCKET, "ThingB/x.txt", &[]);
    fields.retain(|(n, _)| !n.starts_with("x-amz-") && *n != "policy");
    let (ct, body) = form(&fields, "x.txt", b"x");
    let req = http::Request::post(format!("/{BUCKET}"))
        .header("host", s.running.api_addr.to_string())
        .header("content-type", ct)
        .header("authorization", format!("AWS4-HMAC-SHA256 Credential={}/20200101/{REGION}/s3/aws4_request, SignedHeaders=host, Signature={}", a.akid, "0".repeat(64)))
        .header("x-amz-security-token", a.token.clone().unwrap())
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let r = call(&s, req).await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied"), "{}", r.body);
    let r = send(
        &s,
        &b,
        "GET",
        &format!("/{BUCKET}/ThingB/x.txt"),
        "",
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 404);
}
