//! The web console's S3 operations ([`iotcreds_console::objects::Objects`]) over the object
//! backend, authorised as the S3 endpoint authorises a signed request: the operation's action
//! and resource from [`super::actions::requirement`], the condition keys from
//! `super::policy_context`, the principal's policies evaluated, and a refusal audited with
//! the same line the access hook writes (`event=authorize`). Bucket and key names are checked
//! as s3s checks a request path. The backend is the one the S3 endpoint serves.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt as _;
use iotcreds_console::objects::{
    BucketEntry, ByteStream, Download, ObjectEntry, ObjectPage, Objects, ObjectsError,
};
use iotcreds_control::Caller;
use iotcreds_registry::authz;
use s3s::dto::{
    BucketLocationConstraint, CreateBucketConfiguration, CreateBucketInput, DeleteObjectInput,
    GetObjectInput, ListBucketsInput, ListObjectsV2Input, PutObjectInput, StreamingBlob,
};
use s3s::{S3, S3Error};

use super::tags::internal_request;
use super::{actions, policy_context};
use crate::net::{ConnInfo, TlsInfo};

/// The console's view of the S3 endpoint.
pub struct ConsoleObjects {
    backend: Arc<dyn S3>,
    region: String,
}

impl ConsoleObjects {
    /// Over `backend` (the S3 endpoint's), in `region`.
    pub fn new(backend: Arc<dyn S3>, region: &str) -> Self {
        Self {
            backend,
            region: region.to_owned(),
        }
    }
}

fn err(e: &S3Error) -> ObjectsError {
    ObjectsError::new(
        e.code().as_str(),
        e.message().unwrap_or("The request failed.").to_owned(),
    )
}

fn timestamp_ms(t: Option<s3s::dto::Timestamp>) -> Option<i64> {
    t.map(|t| iotcreds_types::time_fmt::to_millis(time::OffsetDateTime::from(t)))
}

/// Check names as the S3 endpoint does (S3's bucket naming rules, key length).
fn check_names(bucket: &str, key: Option<&str>) -> Result<(), ObjectsError> {
    if !iotcreds_types::s3_names::is_bucket_name(bucket) {
        return Err(ObjectsError::new(
            "InvalidBucketName",
            "The specified bucket is not valid.",
        ));
    }
    if let Some(k) = key
        && (k.is_empty() || k.len() > 1024)
    {
        return Err(ObjectsError::new("KeyTooLongError", "Your key is too long"));
    }
    Ok(())
}

/// Authorise `op` on `bucket`/`key` for `caller` with `query` (decoded pairs for the
/// condition keys), writing the access hook's audit line on a refusal.
fn authorize(
    caller: &Caller,
    op: &str,
    bucket: Option<&str>,
    key: Option<&str>,
    query: &[(String, String)],
    existing_tags: &[(String, String)],
) -> Result<(), ObjectsError> {
    let conn = ConnInfo {
        remote: std::net::SocketAddr::new(caller.source_ip, 0),
        tls: caller.secure.then(|| TlsInfo {
            peer_certificates: Vec::new(),
            sni: None,
            peer_certificate_id: None,
        }),
        sendfile: false,
    };
    let mut context = policy_context(
        &caller.principal,
        caller.now_ms,
        Some(&conn),
        op,
        query,
        &http::HeaderMap::new(),
        false,
    );
    actions::insert_existing_tags(&mut context, existing_tags);
    let requirement = actions::requirement(op, bucket, key, false);
    let decision = caller
        .principal
        .authorize(&requirement.action, &requirement.resource, &context);
    if decision.is_allowed() {
        return Ok(());
    }
    tracing::info!(
        target: "iotcreds::audit",
        event = "authorize",
        decision = decision.effect.as_str(),
        principal = %caller.principal.arn(),
        access_key_id = %caller.principal.access_key_id(),
        action = %requirement.action,
        resource = %requirement.resource,
        reason = %authz::explain(&decision),
    );
    Err(ObjectsError::new("AccessDenied", "Access Denied"))
}

#[async_trait::async_trait]
impl Objects for ConsoleObjects {
    async fn list_buckets(&self, caller: &Caller) -> Result<Vec<BucketEntry>, ObjectsError> {
        authorize(caller, "ListBuckets", None, None, &[], &[])?;
        let out = self
            .backend
            .list_buckets(internal_request(ListBucketsInput::default()))
            .await
            .map_err(|e| err(&e))?;
        Ok(out
            .output
            .buckets
            .unwrap_or_default()
            .into_iter()
            .map(|b| BucketEntry {
                name: b.name.unwrap_or_default(),
                created_ms: timestamp_ms(b.creation_date),
            })
            .collect())
    }

    async fn create_bucket(&self, caller: &Caller, bucket: &str) -> Result<(), ObjectsError> {
        check_names(bucket, None)?;
        authorize(caller, "CreateBucket", Some(bucket), None, &[], &[])?;
        let configuration = (self.region != "us-east-1").then(|| CreateBucketConfiguration {
            location_constraint: Some(BucketLocationConstraint::from(self.region.clone())),
            ..CreateBucketConfiguration::default()
        });
        let input = CreateBucketInput {
            bucket: bucket.to_owned(),
            create_bucket_configuration: configuration,
            ..CreateBucketInput::default()
        };
        self.backend
            .create_bucket(internal_request(input))
            .await
            .map_err(|e| err(&e))?;
        Ok(())
    }

    async fn list_objects(
        &self,
        caller: &Caller,
        bucket: &str,
        prefix: &str,
        continuation: Option<&str>,
    ) -> Result<ObjectPage, ObjectsError> {
        check_names(bucket, None)?;
        let query = vec![
            ("list-type".to_owned(), "2".to_owned()),
            ("prefix".to_owned(), prefix.to_owned()),
            ("delimiter".to_owned(), "/".to_owned()),
        ];
        authorize(caller, "ListObjectsV2", Some(bucket), None, &query, &[])?;
        let input = ListObjectsV2Input {
            bucket: bucket.to_owned(),
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            delimiter: Some("/".to_owned()),
            continuation_token: continuation.map(str::to_owned),
            max_keys: Some(1000),
            ..ListObjectsV2Input::default()
        };
        let out = self
            .backend
            .list_objects_v2(internal_request(input))
            .await
            .map_err(|e| err(&e))?
            .output;
        Ok(ObjectPage {
            prefixes: out
                .common_prefixes
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| p.prefix)
                .collect(),
            objects: out
                .contents
                .unwrap_or_default()
                .into_iter()
                .map(|o| ObjectEntry {
                    key: o.key.unwrap_or_default(),
                    size: o.size.unwrap_or(0),
                    modified_ms: timestamp_ms(o.last_modified),
                })
                .collect(),
            next: out.next_continuation_token,
        })
    }

    async fn get_object(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
    ) -> Result<Download, ObjectsError> {
        check_names(bucket, Some(key))?;
        // The object's tags, when the caller's policies decide on them.
        let existing = if caller.principal.refers_to(actions::EXISTING_TAG_KEYS) {
            super::tags::existing(self.backend.as_ref(), bucket, key)
                .await
                .map_err(|e| err(&e))?
        } else {
            Vec::new()
        };
        authorize(caller, "GetObject", Some(bucket), Some(key), &[], &existing)?;
        let input = GetObjectInput {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            ..GetObjectInput::default()
        };
        let out = self
            .backend
            .get_object(internal_request(input))
            .await
            .map_err(|e| err(&e))?
            .output;
        let length = out.content_length.and_then(|n| u64::try_from(n).ok());
        let body: ByteStream = match out.body {
            Some(blob) => Box::pin(blob.map(|r| r.map_err(std::io::Error::other))),
            None => Box::pin(futures::stream::empty::<Result<Bytes, std::io::Error>>()),
        };
        Ok(Download { length, body })
    }

    async fn put_object(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        length: u64,
        body: ByteStream,
    ) -> Result<(), ObjectsError> {
        check_names(bucket, Some(key))?;
        authorize(caller, "PutObject", Some(bucket), Some(key), &[], &[])?;
        let input = PutObjectInput {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            content_length: Some(i64::try_from(length).unwrap_or(i64::MAX)),
            body: Some(StreamingBlob::wrap(body)),
            ..PutObjectInput::default()
        };
        let mut req = internal_request(input);
        req.method = http::Method::PUT;
        self.backend.put_object(req).await.map_err(|e| err(&e))?;
        Ok(())
    }

    async fn delete_object(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
    ) -> Result<(), ObjectsError> {
        check_names(bucket, Some(key))?;
        authorize(caller, "DeleteObject", Some(bucket), Some(key), &[], &[])?;
        let input = DeleteObjectInput {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            ..DeleteObjectInput::default()
        };
        self.backend
            .delete_object(internal_request(input))
            .await
            .map_err(|e| err(&e))?;
        Ok(())
    }
}
