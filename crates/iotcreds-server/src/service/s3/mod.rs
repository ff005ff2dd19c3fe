//! The S3 endpoint: s3s parses S3 and verifies SigV4 (headers, presigned URLs, aws-chunked
//! bodies with chunk and trailer signatures); this module supplies the secrets ([`Auth`]) and
//! the access hook ([`Access`]) that turns a verified request into a [`Principal`] and asks the
//! policy engine before any storage is touched.
//!
//! s3s 0.14 leaves gaps that the access hook closes (see `../shared/style/rust-stack-trial.md`
//! §4.1): the session token (required for `ASIA` keys, bound to its access key, unexpired);
//! every `x-amz-*` header must be signed; presigned URLs expire within 7 days; the credential
//! scope must name this endpoint's region. SigV2 is refused before s3s sees the request
//! ([`is_sigv2`]). Access checks run for unsigned requests too, because an auth provider is
//! always configured; anonymous requests are denied.

pub mod actions;
pub mod console;
pub mod fast;
pub mod gate;
pub mod host;
pub mod post;
pub mod request_id;
mod tags;

use std::sync::Arc;

use iotcreds_sigv4::{AuthKind, ParsedAuth, RequestParts, SigV4Error};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{
    CopyObjectInput, CopySource, DeleteObjectsInput, PutObjectTaggingInput, UploadPartCopyInput,
};
use s3s::dto::{Error as ObjectError, ObjectIdentifier};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result, s3_error};

use crate::net::ConnInfo;
use iotcreds_registry::Registry;
use iotcreds_registry::auth::{AuthError, resolve_principal, secret_of};
use iotcreds_registry::authz::{self, Principal};

/// What must be refused before s3s sees the request, as `(status, code, message)`: Signature
/// Version 2 (iotcreds accepts only SigV4), and presigned URLs valid for more than 7 days
/// (s3s refuses those too, but not with AWS's error).
pub fn precheck(
    parts: &http::request::Parts,
) -> Option<(http::StatusCode, &'static str, &'static str)> {
    if is_sigv2(parts) {
        return Some((
            http::StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ));
    }
    let expires = query_param(parts, "X-Amz-Expires");
    if expires.is_some_and(|e| {
        e.parse::<u64>().map_or(true, |e| {
            e > u64::from(iotcreds_sigv4::MAX_PRESIGNED_EXPIRES)
        })
    }) {
        return Some((
            http::StatusCode::BAD_REQUEST,
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    None
}

/// Whether a request uses Signature Version 2, which iotcreds does not accept.
pub fn is_sigv2(parts: &http::request::Parts) -> bool {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if header.is_some_and(|h| h.starts_with("AWS ")) {
        return true;
    }
    query_param(parts, "AWSAccessKeyId").is_some()
}

/// The first value of the query parameter `name`, both decoded (so `X-Amz-%45xpires` is
/// `X-Amz-Expires`, as the SigV4 verifier reads it).
fn query_param(parts: &http::request::Parts, name: &str) -> Option<String> {
    use iotcreds_types::percent::{Plus, decode_lossy, pairs};
    pairs(parts.uri.query()?.as_bytes())
        .find(|(k, _)| decode_lossy(k, Plus::Literal) == name)
        .map(|(_, v)| decode_lossy(v, Plus::Literal))
}

fn auth_error(e: AuthError) -> S3Error {
    match e {
        AuthError::UnknownAccessKey => {
            s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )
        }
        AuthError::InvalidToken => s3_error!(
            InvalidToken,
            "The provided token is malformed or otherwise invalid."
        ),
        AuthError::ExpiredToken => s3_error!(ExpiredToken, "The provided token has expired."),
        AuthError::RoleGone => s3_error!(AccessDenied, "Access Denied"),
        AuthError::Unavailable(e) => {
            tracing::warn!(error = %e, "registry unavailable");
            s3_error!(ServiceUnavailable, "Please reduce your request rate.")
        }
        AuthError::Internal(e) => {
            tracing::error!(error = %e, "internal error authenticating an S3 request");
            s3_error!(InternalError)
        }
        AuthError::Sig(e) => {
            S3Error::with_message(S3ErrorCode::SignatureDoesNotMatch, e.to_string())
        }
    }
}

/// The S3 answer to a SigV4 problem s3s let through (its checks are a subset of ours).
fn sig_error(e: SigV4Error) -> S3Error {
    let code = match &e {
        SigV4Error::AuthorizationQueryParametersError(_) => {
            S3ErrorCode::AuthorizationQueryParametersError
        }
        SigV4Error::RequestExpired
        | SigV4Error::UnsignedAmzHeader(_)
        | SigV4Error::MissingAuthenticationToken => S3ErrorCode::AccessDenied,
        SigV4Error::RequestTimeTooSkewed => S3ErrorCode::RequestTimeTooSkewed,
        SigV4Error::IncompleteSignature(_) | SigV4Error::InvalidScope(_) => {
            S3ErrorCode::AuthorizationHeaderMalformed
        }
        SigV4Error::UnsupportedAlgorithm(_) | SigV4Error::MissingContentSha256 => {
            S3ErrorCode::InvalidRequest
        }
        SigV4Error::InvalidContentSha256 => S3ErrorCode::InvalidArgument,
        SigV4Error::ContentSha256Mismatch => S3ErrorCode::BadDigest,
        _ => S3ErrorCode::SignatureDoesNotMatch,
    };
    S3Error::with_message(code, e.to_string())
}

/// The secrets of access keys, for s3s's signature check.
pub struct Auth {
    registry: Arc<Registry>,
}

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let secret = secret_of(&self.registry, access_key)
            .await
            .map_err(auth_error)?;
        Ok(SecretKey::from(secret.expose().to_owned()))
    }
}

/// The access hook: principal resolution, the s3s gap checks, and policy evaluation.
pub struct Access {
    registry: Arc<Registry>,
    region: String,
    /// The storage backend, asked for an object's tags when a policy refers to them.
    backend: Arc<dyn s3s::S3>,
}

/// The principal of an authorised S3 request, kept in the request's extensions for the
/// per-operation hooks.
#[derive(Clone)]
struct Authorized {
    principal: Principal,
    context: iotcreds_policy::Context,
}

fn decoded_query(uri: &http::Uri) -> Vec<(String, String)> {
    uri.query().map(url_pairs).unwrap_or_default()
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    use iotcreds_types::percent::{Plus, decode_lossy, pairs};
    pairs(q.as_bytes())
        .map(|(k, v)| (decode_lossy(k, Plus::Space), decode_lossy(v, Plus::Space)))
        .collect()
}

/// The condition keys of an S3 request (none are needed when no policy of the principal has
/// conditions): the global keys, the principal's, and the operation's.
fn policy_context(
    principal: &Principal,
    now_ms: i64,
    conn: Option<&ConnInfo>,
    op: &str,
    query: &[(String, String)],
    headers: &http::HeaderMap,
    presigned: bool,
) -> iotcreds_policy::Context {
    let mut context = iotcreds_policy::Context::new();
    if principal.needs_context() {
        authz::insert_global_keys(
            &mut context,
            now_ms,
            conn.map(|c| c.remote.ip()),
            conn.is_some_and(|c| c.tls.is_some()),
        );
        principal.insert_keys(&mut context);
        actions::insert_condition_keys(&mut context, op, query, headers, presigned);
    }
    context
}

/// Ask the policy engine whether `principal` may do `action` on `resource`; a refusal is
/// written to the audit log and answered `AccessDenied`.
pub(crate) fn authorize(
    principal: &Principal,
    context: &iotcreds_policy::Context,
    action: &str,
    resource: &str,
) -> S3Result<()> {
    let decision = principal.authorize(action, resource, context);
    if decision.is_allowed() {
        return Ok(());
    }
    tracing::info!(
        target: "iotcreds::audit",
        event = "authorize",
        request_id = %request_id::current(),
        decision = decision.effect.as_str(),
        principal = %principal.arn(),
        access_key_id = %principal.access_key_id(),
        action,
        resource,
        reason = %authz::explain(&decision),
    );
    Err(s3_error!(AccessDenied, "Access Denied"))
}

/// The form-upload answer to a failed authentication (the same codes as the s3s path).
pub(crate) fn auth_refusal(e: AuthError) -> post::answer::Refusal {
    post::answer::Refusal::from_s3(&auth_error(e))
}

impl Access {
    fn deny(&self, authorized: &Authorized, action: &str, resource: &str) -> S3Result<()> {
        authorize(&authorized.principal, &authorized.context, action, resource)
    }
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        let access_key = credentials.access_key.clone();
        let headers: Vec<(&str, &[u8])> = cx
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let req = RequestParts {
            method: cx.method().as_str(),
            path: cx.uri().path(),
            query: cx.uri().query().unwrap_or(""),
            headers: &headers,
        };
        // s3s has verified the signature; parse again for what it does not check.
        let auth = ParsedAuth::parse(&req).map_err(sig_error)?;
        let presigned = auth.kind() == AuthKind::Presigned;
        if auth.scope().region != self.region {
            let msg = format!(
                "The authorization header is malformed; the region '{}' is wrong; expecting '{}'",
                auth.scope().region.chars().take(64).collect::<String>(),
                self.region
            );
            let code = if presigned {
                S3ErrorCode::AuthorizationQueryParametersError
            } else {
                S3ErrorCode::AuthorizationHeaderMalformed
            };
            return Err(S3Error::with_message(code, msg));
        }
        for (name, _) in cx.headers() {
            let n = name.as_str();
            if n.starts_with("x-amz-")
                && !auth.is_signed(n)
                && !(presigned && n == "x-amz-content-sha256")
            {
                return Err(s3_error!(
                    AccessDenied,
                    "There were headers present in the request which were not signed"
                ));
            }
        }
        if auth
            .expires()
            .is_some_and(|e| e > iotcreds_sigv4::MAX_PRESIGNED_EXPIRES)
        {
            return Err(s3_error!(
                AuthorizationQueryParametersError,
                "X-Amz-Expires must be less than a week (in seconds) that is 604800"
            ));
        }
        if access_key.starts_with(iotcreds_types::ids::TEMPORARY_KEY_PREFIX)
            && auth.session_token().is_none()
        {
            return Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            ));
        }
        let now_ms = crate::credentials::now_ms();
        let principal =
            resolve_principal(&self.registry, &access_key, auth.session_token(), now_ms)
                .await
                .map_err(auth_error)?;
        // s3s verified the signature before this hook: a verified use of the key.
        self.registry
            .note_key_use(&principal, "s3", self.registry.region(), now_ms);

        let op = cx.s3_op().name().to_owned();
        if op == "PostObject" {
            // Form uploads are answered by `post` before s3s sees them; s3s's own form path
            // reads the file before this hook runs and trusts an unverified Authorization
            // header, so it must never serve one.
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        let query = decoded_query(cx.uri());
        let conn = cx.extensions_mut().get::<Arc<ConnInfo>>().cloned();
        let mut context = policy_context(
            &principal,
            now_ms,
            conn.as_deref(),
            &op,
            &query,
            cx.headers(),
            presigned,
        );
        let (bucket, key) = match cx.s3_path() {
            s3s::path::S3Path::Root => (None, None),
            s3s::path::S3Path::Bucket { bucket } => (Some(bucket.as_ref()), None),
            s3s::path::S3Path::Object { bucket, key } => {
                (Some(bucket.as_ref()), Some(key.as_ref()))
            }
        };
        let has_version = query.iter().any(|(k, v)| k == "versionId" && v != "null");
        // The tags a write sets (checked here, so no backend stores tags the decision did not
        // see) and the tags of the object a read acts on (see `tags`).
        let request_tags = if actions::tags_header_applies(&op) {
            tags::from_header(cx.headers())?
        } else {
            None
        };
        if let Some(t) = &request_tags
            && principal.needs_context()
        {
            actions::insert_request_tags(&mut context, t);
        }
        if let (Some(b), Some(k)) = (bucket, key)
            && actions::existing_tags_apply(&op)
            && principal.refers_to(actions::EXISTING_TAG_KEYS)
        {
            let existing = tags::existing(self.backend.as_ref(), b, k).await?;
            actions::insert_existing_tags(&mut context, &existing);
        }
        let defer = op == "PutObjectTagging" && principal.refers_to(actions::REQUEST_TAG_KEYS);
        let authorized = Authorized { principal, context };
        let requirement = actions::requirement(&op, bucket, key, has_version);
        // DeleteObjects is decided on each key (by `delete_objects` below), never on the bucket;
        // a PutObjectTagging whose decision depends on its tags, once they are parsed.
        if defer {
            cx.extensions_mut().insert(tags::Deferred {
                action: requirement.action,
                resource: requirement.resource,
            });
        } else if op != "DeleteObjects" {
            self.deny(&authorized, &requirement.action, &requirement.resource)?;
            if let Some(also) = requirement.also {
                self.deny(&authorized, also, &requirement.resource)?;
            }
            if request_tags.is_some() {
                self.deny(&authorized, "s3:PutObjectTagging", &requirement.resource)?;
            }
        }
        cx.extensions_mut().insert(authorized);
        Ok(())
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        self.check_copy_source(&req.extensions, &req.input.copy_source)
            .await
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        self.check_copy_source(&req.extensions, &req.input.copy_source)
            .await
    }

    /// The document's tags are checked here, whichever backend stores them (S3's rules, not
    /// the upstream's); then the decision `check` deferred because it depends on them.
    async fn put_object_tagging(&self, req: &mut S3Request<PutObjectTaggingInput>) -> S3Result<()> {
        let request_tags = iotcreds_objects::fs::document_tags(&req.input.tagging)?;
        let Some(deferred) = req.extensions.remove::<tags::Deferred>() else {
            return Ok(());
        };
        let mut authorized = req
            .extensions
            .get::<Authorized>()
            .ok_or_else(|| s3_error!(AccessDenied, "Access Denied"))?
            .clone();
        actions::insert_request_tags(&mut authorized.context, &request_tags);
        self.deny(&authorized, &deferred.action, &deferred.resource)
    }

    /// Each key on its own, as S3 does: a key the caller may not delete is taken out of the
    /// request and answered as an `AccessDenied` entry of the result ([`gate`]).
    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let authorized = req
            .extensions
            .get::<Authorized>()
            .ok_or_else(|| s3_error!(AccessDenied, "Access Denied"))?
            .clone();
        let objects = &mut req.input.delete.objects;
        if objects.is_empty() || objects.len() > 1000 {
            // Malformed: the backend refuses the whole request.
            return Ok(());
        }
        let mut refused = Vec::new();
        let requested: Vec<ObjectIdentifier> = std::mem::take(objects);
        for object in requested {
            let action = if object.version_id.as_deref().is_some_and(|v| v != "null") {
                "s3:DeleteObjectVersion"
            } else {
                "s3:DeleteObject"
            };
            let resource = actions::object_arn(&req.input.bucket, &object.key);
            match self.deny(&authorized, action, &resource) {
                Ok(()) => req.input.delete.objects.push(object),
                Err(_) => refused.push(ObjectError {
                    code: Some("AccessDenied".to_owned()),
                    key: Some(object.key),
                    message: Some("Access Denied".to_owned()),
                    version_id: object.version_id,
                }),
            }
        }
        if !refused.is_empty() {
            req.extensions.insert(gate::RefusedDeletes(refused));
        }
        Ok(())
    }
}

impl Access {
    /// `s3:GetObject` on the copy source, with the source's tags as
    /// `s3:ExistingObjectTag/<key>` when the principal's policies refer to them.
    async fn check_copy_source(
        &self,
        extensions: &http::Extensions,
        source: &CopySource,
    ) -> S3Result<()> {
        let authorized = extensions
            .get::<Authorized>()
            .ok_or_else(|| s3_error!(AccessDenied, "Access Denied"))?;
        let mut with_tags;
        let authorized = match source {
            CopySource::Bucket { bucket, key, .. }
                if authorized.principal.refers_to(actions::EXISTING_TAG_KEYS) =>
            {
                with_tags = authorized.clone();
                let existing = tags::existing(self.backend.as_ref(), bucket, key).await?;
                actions::insert_existing_tags(&mut with_tags.context, &existing);
                &with_tags
            }
            _ => authorized,
        };
        match source {
            CopySource::Bucket {
                bucket,
                key,
                version_id,
            } => {
                let action = if version_id.as_deref().is_some_and(|v| v != "null") {
                    "s3:GetObjectVersion"
                } else {
                    "s3:GetObject"
                };
                self.deny(authorized, action, &actions::object_arn(bucket, key))
            }
            _ => Err(s3_error!(
                NotImplemented,
                "Copying from access points or outposts is not supported"
            )),
        }
    }
}

/// Build the S3 service over `backend`. `post_object_max_bytes` also bounds s3s's own form
/// handling, which the endpoint never routes a request to (see [`post`]).
pub fn service(
    registry: Arc<Registry>,
    backend: Arc<dyn s3s::S3>,
    region: &str,
    virtual_host_domain: Option<&str>,
    post_object_max_bytes: u64,
) -> anyhow::Result<s3s::service::S3Service> {
    let mut builder = s3s::service::S3ServiceBuilder::new(gate::Gate::new(backend.clone()));
    let mut config = s3s::config::S3Config::default();
    config.post_object_max_file_size = post_object_max_bytes;
    let fields = usize::try_from(post::form::PRE_DATA_LIMIT).unwrap_or(usize::MAX);
    config.form_max_field_size = fields;
    config.form_max_fields_size = fields;
    config.form_max_parts = 64;
    builder.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(
        config,
    ))));
    builder.set_auth(Auth {
        registry: registry.clone(),
    });
    builder.set_access(Access {
        registry,
        region: region.to_owned(),
        backend,
    });
    if let Some(domain) = virtual_host_domain {
        builder.set_host(host::VirtualHostDomain::new(domain)?);
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigv2_is_recognised() {
        let p = http::Request::get("/b/k")
            .header("authorization", "AWS AKID:sig")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert!(is_sigv2(&p));
        let p = http::Request::get("/b/k?AWSAccessKeyId=A&Signature=s&Expires=1")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert!(is_sigv2(&p));
        let p = http::Request::get("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert!(!is_sigv2(&p));
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            url_pairs("prefix=ADCTestThing%2F&delimiter=%2F&list-type=2"),
            vec![
                ("prefix".to_owned(), "ADCTestThing/".to_owned()),
                ("delimiter".to_owned(), "/".to_owned()),
                ("list-type".to_owned(), "2".to_owned())
            ]
        );
    }
}
