//! Browser-form uploads (S3 `POST Object`), answered here rather than by s3s.
//!
//! Every `POST` whose `Content-Type` is `multipart/form-data` comes here before s3s sees it
//! ([`is_form_post`] is wider than s3s's own test), so s3s's form handling, which reads the file
//! into memory before the access hook runs, is never reached (the access hook also refuses the
//! `PostObject` operation outright). The order is S3's, and nothing is stored unless every step
//! passes:
//!
//! 1. the bucket from the path (or the virtual host); a declared body larger than the limit is
//!    refused before anything is read;
//! 2. the fields before the file, within 20 KiB ([`form`]); fields after the file are ignored;
//!    `${filename}` is expanded in every field; repeated fields are joined with commas;
//! 3. the SigV4 fields (anonymous forms are refused: no bucket is public), the credential's
//!    region and date, the secret, the signature over the policy text (constant time), the
//!    session token (bound to the key, unexpired) and the principal;
//! 4. the policy document, its expiration, every condition, and that every field is covered;
//! 5. `s3:PutObject` on `arn:aws:s3:::bucket/key` for the principal, with the form's condition
//!    keys (`s3:authType` is `POST`), audited when denied;
//! 6. only then the file, up to the smaller of the policy's `content-length-range` maximum and
//!    `[limits] post_object_max_bytes`, then the backend's `PutObject`;
//! 7. the answer `success_action_redirect` / `success_action_status` ask for.
//!
//! An anonymous or refused form therefore costs the server the field budget, whatever the size
//! of its file.

pub mod answer;
pub mod form;

use std::sync::Arc;

use crate::net::unread::Watched;
use bytes::Bytes;
use http::{Response, StatusCode, header};
use iotcreds_registry::Registry;
use iotcreds_registry::auth::{resolve_principal, secret_of};
use iotcreds_registry::authz::{self, Principal};
use iotcreds_sigv4::{PostAuth, PostAuthError, PostFields, PostPolicy, PostViolation};
use iotcreds_types::percent::{self, Plus};
use s3s::dto::{PutObjectInput, StreamingBlob, Timestamp, TimestampFormat};
use s3s::{S3, S3Request};

use self::answer::{Refusal, Stored};
use self::form::{FormReader, PRE_DATA_LIMIT, ReadError};
use super::actions;
use crate::net::ConnInfo;

/// Whether `parts` is a browser-form upload as s3s would see one: `POST` with a
/// `multipart/form-data` content type (any case, any parameters, any of several headers).
pub fn is_form_post(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::POST
        && parts.headers.get_all(header::CONTENT_TYPE).iter().any(|v| {
            v.as_bytes()
                .trim_ascii_start()
                .get(..19)
                .is_some_and(|t| t.eq_ignore_ascii_case(b"multipart/form-data"))
        })
}

/// The form-upload handler of the S3 endpoint.
pub struct PostObject {
    registry: Arc<Registry>,
    backend: Arc<dyn S3>,
    region: String,
    host: Option<super::host::VirtualHostDomain>,
    max_bytes: u64,
}

/// A form's fields: names as sent (first spelling), values joined with commas when repeated.
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn push(&mut self, name: String, value: String) {
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some((_, v)) => {
                v.push(',');
                v.push_str(&value);
            }
            None => self.0.push((name, value)),
        }
    }
}

impl PostObject {
    /// A handler storing through `backend`; `virtual_host_domain` as for the S3 service.
    pub fn new(
        registry: Arc<Registry>,
        backend: Arc<dyn S3>,
        region: &str,
        virtual_host_domain: Option<&str>,
        max_bytes: u64,
    ) -> anyhow::Result<Self> {
        let host = virtual_host_domain
            .map(super::host::VirtualHostDomain::new)
            .transpose()?;
        Ok(Self {
            registry,
            backend,
            region: region.to_owned(),
            host,
            max_bytes,
        })
    }

    /// Answer one form upload.
    pub async fn handle(
        &self,
        conn: &ConnInfo,
        parts: &http::request::Parts,
        body: Watched,
    ) -> Response<s3s::Body> {
        match self.upload(conn, parts, body).await {
            Ok(resp) => resp,
            Err(refusal) => refusal.into_response(),
        }
    }

    fn bucket(&self, parts: &http::request::Parts) -> Result<String, Refusal> {
        let path =
            percent::decode(parts.uri.path().as_bytes(), Plus::Literal).ok_or_else(|| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidURI",
                    "Couldn't parse the specified URI.",
                )
            })?;
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(http::uri::Authority::as_str));
        let parsed = match (&self.host, host) {
            (Some(domain), Some(host))
                if host.parse::<std::net::SocketAddr>().is_err()
                    && host.parse::<std::net::IpAddr>().is_err() =>
            {
                s3s::path::parse_virtual_hosted_style(domain.bucket(host).as_deref(), &path)
            }
            _ => s3s::path::parse_path_style(&path),
        };
        match parsed {
            Ok(s3s::path::S3Path::Bucket { bucket }) => Ok(bucket.into()),
            Ok(_) => Err(Refusal::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            )
            .with("Method", "POST")
            .with("ResourceType", "OBJECT")),
            Err(_) => Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "InvalidBucketName",
                "The specified bucket is not valid.",
            )),
        }
    }

    /// The URL prefix of objects in `bucket` as this request addressed it.
    fn base_url(&self, conn: &ConnInfo, parts: &http::request::Parts, bucket: &str) -> String {
        let scheme = if conn.tls.is_some() { "https" } else { "http" };
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(http::uri::Authority::as_str))
            .unwrap_or_default();
        if parts.uri.path().trim_matches('/').is_empty() {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}/{bucket}")
        }
    }

    async fn upload(
        &self,
        conn: &ConnInfo,
        parts: &http::request::Parts,
        body: Watched,
    ) -> Result<Response<s3s::Body>, Refusal> {
        let bucket = self.bucket(parts)?;
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let max_body = self.max_bytes.saturating_add(PRE_DATA_LIMIT);
        if declared.is_some_and(|n| n > max_body) {
            return Err(too_large(None, self.max_bytes));
        }
        let boundary = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(Refusal::malformed)?;
        let mut reader = FormReader::new(body, boundary);

        // The fields before the file.
        let mut fields = Fields(Vec::new());
        let file_name = loop {
            let Some(part) = reader.next_part().await.map_err(pre_data_error)? else {
                return Err(Refusal::argument(
                    "file",
                    "0",
                    "POST requires exactly one file upload per request.",
                ));
            };
            if part.form_data && part.name.eq_ignore_ascii_case("file") {
                break part.file_name;
            }
            let value = reader.value().await.map_err(pre_data_error)?;
            let value = String::from_utf8(value).map_err(|_| Refusal::malformed())?;
            fields.push(part.name, value);
        };
        if let Some(name) = &file_name {
            // Only the text after the last slash or backslash of the client's path.
            let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
            for (_, v) in &mut fields.0 {
                if v.contains("${filename}") {
                    *v = v.replace("${filename}", base);
                }
            }
        }

        // Who is asking.
        let post_fields = PostFields {
            algorithm: fields.get("x-amz-algorithm"),
            credential: fields.get("x-amz-credential"),
            date: fields.get("x-amz-date"),
            signature: fields.get("x-amz-signature"),
            policy: fields.get("policy"),
        };
        if !post_fields.is_signed() {
            if fields.get("awsaccesskeyid").is_some() || fields.get("signature").is_some() {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
                ));
            }
            // No bucket is public: an anonymous form is refused before its file is read.
            tracing::info!(
                target: "iotcreds::audit",
                event = "authenticate",
                request_id = %super::request_id::current(),
                decision = "deny",
                service = "s3",
                action = "s3:PutObject",
                reason = "anonymous form upload",
                source_ip = %conn.remote.ip(),
            );
            return Err(Refusal::denied());
        }
        let Some(raw_key) = fields.get("key") else {
            return Err(Refusal::argument(
                "key",
                "",
                "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
            ));
        };
        let auth = PostAuth::parse(&post_fields, &self.region).map_err(post_auth_error)?;
        let now = time::OffsetDateTime::now_utc();
        auth.check_time(now, iotcreds_sigv4::DEFAULT_MAX_CLOCK_SKEW)
            .map_err(post_auth_error)?;
        let access_key = auth.access_key_id();
        let token = fields.get("x-amz-security-token");
        if access_key.starts_with(iotcreds_types::ids::TEMPORARY_KEY_PREFIX) && token.is_none() {
            return Err(super::auth_refusal(
                iotcreds_registry::auth::AuthError::UnknownAccessKey,
            ));
        }
        let secret = secret_of(&self.registry, access_key)
            .await
            .map_err(super::auth_refusal)?;
        auth.verify(secret.expose())
            .map_err(|e| post_auth_error(e).with("AWSAccessKeyId", access_key))?;
        let now_ms = crate::credentials::now_ms();
        let principal = resolve_principal(&self.registry, access_key, token, now_ms)
            .await
            .map_err(super::auth_refusal)?;
        self.registry
            .note_key_use(&principal, "s3", self.registry.region(), now_ms);

        // What the policy allows.
        let policy = PostPolicy::from_base64(auth.policy()).map_err(|e| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "InvalidPolicyDocument",
                e.to_string(),
            )
        })?;
        let view: Vec<(&str, &str)> = fields
            .0
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        if fields.get("bucket").is_some_and(|b| b != bucket) {
            return Err(violation(&PostViolation::ConditionFailed(format!(
                "[\"eq\", \"$bucket\", {}]",
                serde_json::to_string(&bucket).unwrap_or_default()
            ))));
        }
        policy
            .check(&view, &bucket, now)
            .map_err(|v| violation(&v))?;
        let key = raw_key.to_owned();
        if key.is_empty() {
            return Err(Refusal::argument(
                "key",
                "",
                "User key must have a length greater than 0.",
            ));
        }
        if key.len() > 1024 {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "KeyTooLongError",
                "Your key is too long",
            ));
        }

        if fields.get("tagging").is_some() {
            // S3 takes the form's tags as a Tagging XML document; they are not supported here,
            // and are refused rather than stored without the policy seeing them.
            return Err(Refusal::new(
                StatusCode::NOT_IMPLEMENTED,
                "NotImplemented",
                "Object tagging in form uploads is not supported by this endpoint.",
            ));
        }
        // What the principal may do: s3:PutObject on the object it writes.
        let context = form_context(&principal, now_ms, conn, &fields, &parts.headers);
        authorize(
            &principal,
            &context,
            "s3:PutObject",
            &actions::object_arn(&bucket, &key),
        )?;

        // Only now the file.
        let max_file = policy
            .content_length_range()
            .map_or(self.max_bytes, |(_, max)| max.min(self.max_bytes));
        reader.allow_file(max_file);
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut size: u64 = 0;
        loop {
            match reader.chunk().await {
                Ok(Some(c)) => {
                    size += c.len() as u64;
                    if size > max_file {
                        return Err(too_large(None, max_file));
                    }
                    chunks.push(c);
                }
                Ok(None) => break,
                Err(ReadError::OverLimit) => return Err(too_large(None, max_file)),
                Err(ReadError::Malformed) => return Err(Refusal::malformed()),
            }
        }
        policy.check_size(size).map_err(|v| violation(&v))?;
        reader.drain().await;

        let input = put_input(&bucket, &key, &fields, chunks, size)?;
        let req = S3Request {
            input,
            method: http::Method::PUT,
            uri: parts.uri.clone(),
            headers: http::HeaderMap::new(),
            extensions: http::Extensions::new(),
            credentials: None,
            region: None,
            service: None,
            trailing_headers: None,
        };
        let out = self
            .backend
            .put_object(req)
            .await
            .map_err(|e| Refusal::from_s3(&e))?
            .output;
        let etag = out
            .e_tag
            .as_ref()
            .and_then(|e| e.to_http_header().ok())
            .and_then(|v| v.to_str().ok().map(str::to_owned))
            .unwrap_or_default();
        let mut headers = Vec::new();
        for (name, value) in [
            ("x-amz-checksum-crc32", &out.checksum_crc32),
            ("x-amz-checksum-crc32c", &out.checksum_crc32c),
            ("x-amz-checksum-crc64nvme", &out.checksum_crc64nvme),
            ("x-amz-checksum-sha1", &out.checksum_sha1),
            ("x-amz-checksum-sha256", &out.checksum_sha256),
        ] {
            if let Some(v) = value {
                headers.push((name, v.clone()));
            }
        }
        if let Some(t) = &out.checksum_type {
            headers.push(("x-amz-checksum-type", t.as_str().to_owned()));
        }
        let stored = Stored {
            bucket: &bucket,
            key: &key,
            etag: &etag,
            base_url: self.base_url(conn, parts, &bucket),
            headers,
        };
        let redirect = fields
            .get("success_action_redirect")
            .or_else(|| fields.get("redirect"));
        Ok(answer::success(
            &stored,
            redirect,
            fields.get("success_action_status"),
        ))
    }
}

/// A failure while reading the fields before the file.
fn pre_data_error(e: ReadError) -> Refusal {
    match e {
        ReadError::OverLimit => Refusal::new(
            StatusCode::BAD_REQUEST,
            "MaxPostPreDataLengthExceeded",
            "Your POST request fields preceding the upload file were too large.",
        )
        .with("MaxPostPreDataLengthBytes", PRE_DATA_LIMIT.to_string()),
        ReadError::Malformed => Refusal::malformed(),
    }
}

fn too_large(size: Option<u64>, max: u64) -> Refusal {
    violation(&PostViolation::TooLarge { size, max })
}

fn violation(v: &PostViolation) -> Refusal {
    let status = match v {
        PostViolation::TooLarge { .. } | PostViolation::TooSmall { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    let r = Refusal::new(status, v.code(), v.to_string());
    match v {
        PostViolation::TooLarge { size, max } => {
            let r = match size {
                Some(s) => r.with("ProposedSize", s.to_string()),
                None => r,
            };
            r.with("MaxSizeAllowed", max.to_string())
        }
        PostViolation::TooSmall { size, min } => r
            .with("ProposedSize", size.to_string())
            .with("MinSizeAllowed", min.to_string()),
        _ => r,
    }
}

fn post_auth_error(e: PostAuthError) -> Refusal {
    match &e {
        PostAuthError::InvalidArgument { argument, message } => {
            Refusal::argument(argument, "", message.clone())
        }
        PostAuthError::Expired
        | PostAuthError::TooSkewed
        | PostAuthError::SignatureDoesNotMatch => {
            Refusal::new(StatusCode::FORBIDDEN, e.code(), e.to_string())
        }
        _ => Refusal::denied(),
    }
}

/// The condition keys of a form upload: the global and principal keys, `s3:authType` `POST`,
/// and the keys S3 takes from the form's fields.
fn form_context(
    principal: &Principal,
    now_ms: i64,
    conn: &ConnInfo,
    fields: &Fields,
    headers: &http::HeaderMap,
) -> iotcreds_policy::Context {
    let mut ctx = iotcreds_policy::Context::new();
    if !principal.needs_context() {
        return ctx;
    }
    authz::insert_global_keys(&mut ctx, now_ms, Some(conn.remote.ip()), conn.tls.is_some());
    principal.insert_keys(&mut ctx);
    ctx.insert("s3:authType", "POST");
    ctx.insert("s3:signatureversion", "AWS4-HMAC-SHA256");
    for (field, key) in [
        ("acl", "s3:x-amz-acl"),
        (
            "x-amz-server-side-encryption",
            "s3:x-amz-server-side-encryption",
        ),
        ("x-amz-storage-class", "s3:x-amz-storage-class"),
    ] {
        if let Some(v) = fields.get(field) {
            ctx.insert(key, v.to_owned());
        }
    }
    for (header, key) in [
        (header::USER_AGENT, "aws:UserAgent"),
        (header::REFERER, "aws:Referer"),
    ] {
        if let Some(v) = headers.get(header).and_then(|v| v.to_str().ok()) {
            ctx.insert(key, v.to_owned());
        }
    }
    ctx
}

fn authorize(
    principal: &Principal,
    context: &iotcreds_policy::Context,
    action: &str,
    resource: &str,
) -> Result<(), Refusal> {
    super::authorize(principal, context, action, resource).map_err(|_| Refusal::denied())
}

/// The `PutObject` the form asks for: the file, and the REST headers S3 takes from fields.
fn put_input(
    bucket: &str,
    key: &str,
    fields: &Fields,
    chunks: Vec<Bytes>,
    size: u64,
) -> Result<PutObjectInput, Refusal> {
    let text = |name: &str| fields.get(name).map(str::to_owned);
    let date = |name: &str, format: TimestampFormat| -> Result<Option<Timestamp>, Refusal> {
        fields
            .get(name)
            .map(|v| {
                Timestamp::parse(format, v)
                    .map_err(|_| Refusal::argument(name, v, format!("Invalid {name} value.")))
            })
            .transpose()
    };
    let metadata: s3s::dto::Metadata = fields
        .0
        .iter()
        .filter_map(|(n, v)| {
            let lower = n.to_ascii_lowercase();
            lower
                .strip_prefix("x-amz-meta-")
                .filter(|k| !k.is_empty())
                .map(|k| (k.to_owned(), v.clone()))
        })
        .collect();
    let body = futures::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    Ok(PutObjectInput {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        body: Some(StreamingBlob::wrap(body)),
        content_length: Some(i64::try_from(size).unwrap_or(i64::MAX)),
        content_type: text("content-type"),
        cache_control: text("cache-control"),
        content_disposition: text("content-disposition"),
        content_encoding: text("content-encoding"),
        content_language: text("content-language"),
        content_md5: text("content-md5"),
        expires: date("expires", TimestampFormat::HttpDate)?,
        metadata: (!metadata.is_empty()).then_some(metadata),
        acl: text("acl").map(Into::into),
        storage_class: text("x-amz-storage-class").map(Into::into),
        website_redirect_location: text("x-amz-website-redirect-location"),
        server_side_encryption: text("x-amz-server-side-encryption").map(Into::into),
        ssekms_key_id: text("x-amz-server-side-encryption-aws-kms-key-id"),
        ssekms_encryption_context: text("x-amz-server-side-encryption-context"),
        bucket_key_enabled: fields
            .get("x-amz-server-side-encryption-bucket-key-enabled")
            .map(|v| v.eq_ignore_ascii_case("true")),
        sse_customer_algorithm: text("x-amz-server-side-encryption-customer-algorithm"),
        sse_customer_key: text("x-amz-server-side-encryption-customer-key"),
        sse_customer_key_md5: text("x-amz-server-side-encryption-customer-key-md5"),
        checksum_algorithm: text("x-amz-checksum-algorithm").map(Into::into),
        checksum_crc32: text("x-amz-checksum-crc32"),
        checksum_crc32c: text("x-amz-checksum-crc32c"),
        checksum_crc64nvme: text("x-amz-checksum-crc64nvme"),
        checksum_sha1: text("x-amz-checksum-sha1"),
        checksum_sha256: text("x-amz-checksum-sha256"),
        object_lock_mode: text("x-amz-object-lock-mode").map(Into::into),
        object_lock_legal_hold_status: text("x-amz-object-lock-legal-hold").map(Into::into),
        object_lock_retain_until_date: date(
            "x-amz-object-lock-retain-until-date",
            TimestampFormat::DateTime,
        )?,
        grant_full_control: text("x-amz-grant-full-control"),
        grant_read: text("x-amz-grant-read"),
        grant_read_acp: text("x-amz-grant-read-acp"),
        grant_write_acp: text("x-amz-grant-write-acp"),
        ..PutObjectInput::default()
    })
}
