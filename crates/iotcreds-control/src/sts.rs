//! STS (query protocol, version `2011-06-15`, signing name `sts`): `GetCallerIdentity` (no
//! permission needed) and `AssumeRole` for IAM users, the root key and role sessions (role
//! chaining), issuing the same sealed session tokens as the credentials endpoint.
//!
//! `AssumeRole` is allowed when the caller's identity policies allow `sts:AssumeRole` on the
//! role's own ARN (the role is looked up first; the root key always passes this check) *and*
//! the role's trust policy allows the caller as principal. The `RoleArn` must name the role
//! exactly as its ARN reads (STS role names are case-sensitive): a differently cased spelling
//! is refused like a missing role, after the identity check on the role it would have named. A
//! missing role is refused exactly like an untrusting one, so callers cannot probe which roles
//! exist. `DurationSeconds` is 900 to the role's
//! `MaxSessionDuration` (3600 when chaining). Session tags (`Tags`) need `sts:TagSession` from
//! both the identity and the trust policy, as in STS; `ExternalId` is offered to the trust
//! policy as `sts:ExternalId`. Parameters the token cannot honour (session policies, source
//! identity, transitive tags, MFA, provided contexts) are refused, never ignored.

use bytes::Bytes;
use http::{Response, StatusCode};
use iotcreds_policy::Context;
use iotcreds_registry::CachedRole;
use iotcreds_registry::authz::Principal;
use iotcreds_registry::sessions::{self, NewSession, OversizedTags, SessionError};
use iotcreds_token::SessionKind;
use iotcreds_types::names::{ROLE_SESSION_NAME, check_range};
use iotcreds_types::{ValidationError, arn};

use crate::query::{self, Params, Xml};
use crate::resource::{self, Lookup};
use crate::{ApiError, Caller, ControlContext};

/// XML namespace of STS answers.
pub const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The STS API version.
pub const VERSION: &str = "2011-06-15";

/// STS's internal-failure code.
const INTERNAL_FAILURE: &str = "InternalFailure";
/// Longest session of a role assumed by another role session.
const CHAINED_MAX_SECONDS: i64 = 3600;
/// Default and bounds of `DurationSeconds`.
const DEFAULT_SECONDS: i64 = 3600;
const MIN_SECONDS: i64 = 900;
const MAX_SECONDS: i64 = 43200;
/// STS's limit on session tags.
const MAX_SESSION_TAGS: usize = 50;
/// The packed size (bytes of keys and values) that counts as 100 % in `PackedPolicySize`.
const PACKED_TAGS_CAPACITY: usize = 2048;
/// The largest encoded claims record an `AssumeRole` session token seals (the tags take most
/// of it); larger tag sets are refused with `PackedPolicyTooLarge`.
const MAX_CLAIMS_BYTES: usize = 8192;

/// Answer one authenticated STS request.
pub async fn handle(
    ctx: &ControlContext,
    caller: &Caller,
    parts: &http::request::Parts,
    body: Bytes,
) -> Response<Bytes> {
    match dispatch(ctx, caller, parts, &body).await {
        Ok((action, result)) => query::response(action, XMLNS, &caller.request_id, result),
        Err(err) => crate::render_query_error(&err, &caller.request_id, XMLNS),
    }
}

/// One STS operation: its name, and the IAM action it is authorised as (none for
/// `GetCallerIdentity`, which needs no permission).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// `AssumeRole`.
    pub name: &'static str,
    /// `sts:AssumeRole`.
    pub action: Option<&'static str>,
}

/// Every STS operation this server answers.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        name: "GetCallerIdentity",
        action: None,
    },
    Operation {
        name: "AssumeRole",
        action: Some(ASSUME_ROLE),
    },
];

/// The action of `AssumeRole`.
const ASSUME_ROLE: &str = "sts:AssumeRole";

/// Every arm has its row in [`OPERATIONS`], which the authorization table test reads: an
/// operation added here without one is not tested, so add both.
async fn dispatch(
    ctx: &ControlContext,
    caller: &Caller,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<(&'static str, Option<String>), ApiError> {
    let p = Params::from_request(parts, body)?;
    match query::action_of(&p, VERSION)? {
        "GetCallerIdentity" => Ok(("GetCallerIdentity", Some(get_caller_identity(caller)))),
        "AssumeRole" => Ok(("AssumeRole", Some(assume_role(ctx, caller, &p).await?))),
        other => Err(query::invalid_action(other, VERSION)),
    }
}

fn get_caller_identity(caller: &Caller) -> String {
    let p = &caller.principal;
    let mut x = Xml::new();
    x.text("UserId", &p.user_id())
        .text("Account", p.account())
        .text("Arn", &p.arn());
    x.finish()
}

/// STS's `ValidationError` (400) with a plain message.
fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "ValidationError", message)
}

/// A parameter the session token cannot honour: refused, never ignored.
fn refused(parameter: &str, why: &str) -> ApiError {
    invalid(format!(
        "The parameter {parameter} is not supported by this server: {why}."
    ))
}

/// Session tags, key and value.
type Tags = Vec<(String, String)>;

/// The transitive tags of the calling session (role chaining): passed on, and still transitive.
fn inherited(caller: &Caller) -> Tags {
    match &caller.principal {
        Principal::Session { claims, .. } => claims
            .tags
            .iter()
            .filter(|(k, _)| claims.transitive_keys.contains(k))
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

fn inherited_key(caller: &Caller, key: &str) -> bool {
    matches!(&caller.principal, Principal::Session { claims, .. }
        if claims.transitive_keys.iter().any(|k| k == key))
}

/// The new session's tags and transitive keys, as AWS's session-tags docs state them: the
/// calling session's transitive tags first (they cannot be overridden: passing a tag with one
/// of their keys fails), then the passed tags; `TransitiveTagKeys` must name passed tags (keys
/// compared regardless of case) and the inherited keys stay transitive. At most 50 tags in all.
fn session_tags(
    caller: &Caller,
    passed: Tags,
    transitive: Vec<String>,
) -> Result<(Tags, Vec<String>), ApiError> {
    if transitive.len() > MAX_SESSION_TAGS {
        return Err(ValidationError::new(
            "transitiveTagKeys",
            &format!("{} keys", transitive.len()),
            format!("Member must have length less than or equal to {MAX_SESSION_TAGS}"),
        )
        .into());
    }
    let mut keys = Vec::new();
    for key in &transitive {
        let Some((k, _)) = passed.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) else {
            return Err(invalid(format!(
                "The transitive tag key {} is not the key of a session tag of this request.",
                key.chars().take(128).collect::<String>()
            )));
        };
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let mut tags = inherited(caller);
    let mut all_keys: Vec<String> = tags.iter().map(|(k, _)| k.clone()).collect();
    for (k, v) in passed {
        if tags.iter().any(|(t, _)| t.eq_ignore_ascii_case(&k)) {
            return Err(invalid(format!(
                "The session tag {k} cannot be set: the calling session passes on a transitive tag with that key, which a role chain cannot override."
            )));
        }
        tags.push((k, v));
    }
    if tags.len() > MAX_SESSION_TAGS {
        return Err(invalid(format!(
            "A session has at most {MAX_SESSION_TAGS} session tags, including the transitive tags it inherits; this one would have {}.",
            tags.len()
        )));
    }
    all_keys.extend(keys);
    Ok((tags, all_keys))
}

/// The `AccessDenied` of a refused `AssumeRole` (identity checks word their own).
fn not_trusted(caller: &Caller, role_arn: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "AccessDenied",
        format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            caller.principal.arn()
        ),
    )
}

/// Whether the trust policy of `role` allows the caller to perform `action` with `ctx`.
fn trusts(role: &CachedRole, caller: &Caller, action: &str, ctx: &Context) -> bool {
    role.trusts(&caller.principal.as_request_principal(), action, ctx)
}

/// `ExternalId`: 2–1224 characters of `[\w+=,.@:\/-]`.
fn external_id(p: &Params) -> Result<Option<&str>, ApiError> {
    let Some(id) = p.get("ExternalId") else {
        return Ok(None);
    };
    query::check_length("externalId", id, 2, 1224)?;
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | ':' | '/' | '-')
    };
    if !id.chars().all(allowed) {
        return Err(ValidationError::new(
            "externalId",
            id,
            "Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*",
        )
        .into());
    }
    Ok(Some(id))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(INTERNAL_FAILURE, e)
}

async fn assume_role(
    ctx: &ControlContext,
    caller: &Caller,
    p: &Params,
) -> Result<String, ApiError> {
    // 1. The request, as the model constrains it.
    let role_arn = p.required("RoleArn", "roleArn")?;
    query::check_length("roleArn", role_arn, 20, 2048)?;
    let session_name = p.required("RoleSessionName", "roleSessionName")?;
    ROLE_SESSION_NAME.check("roleSessionName", session_name)?;
    let duration = p.int("DurationSeconds", "durationSeconds")?;
    if let Some(d) = duration {
        check_range("durationSeconds", d, MIN_SECONDS, MAX_SECONDS)?;
    }
    let external_id = external_id(p)?;
    let tags = p.tags("Tags", MAX_SESSION_TAGS)?;
    if p.get("Policy").is_some() || p.has_list("PolicyArns") {
        return Err(refused(
            "Policy/PolicyArns",
            "session policies cannot be carried by the session token yet, so they are refused rather than ignored",
        ));
    }
    for (name, why) in [
        ("SourceIdentity", "source identities are not recorded"),
        ("SerialNumber", "no MFA devices exist"),
        ("TokenCode", "no MFA devices exist"),
    ] {
        if p.get(name).is_some() {
            return Err(refused(name, why));
        }
    }
    if p.has_list("ProvidedContexts") {
        return Err(refused(
            "ProvidedContexts",
            "no context providers are trusted",
        ));
    }
    let requested_transitive = p.strings("TransitiveTagKeys")?;
    let (tags, transitive_keys) = session_tags(caller, tags, requested_transitive.clone())?;
    if arn::split_iam(role_arn, "role", None).is_none() {
        return Err(ValidationError::new(
            "roleArn",
            role_arn,
            "Member must be the ARN of an IAM role (arn:aws:iam::ACCOUNT:role/NAME)",
        )
        .into());
    }

    // 2. The role the ARN designates, and the caller's identity policies on that role's own
    //    ARN (not on the caller's spelling of it).
    let lookup = resource::iam_role_by_arn(&ctx.registry, role_arn)
        .await
        .map_err(|e| {
            if e.is_unavailable() {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    "Service Unavailable",
                )
            } else {
                internal(e)
            }
        })?;
    let target = lookup.resource();
    // The tags the caller passes (`aws:RequestTag`, `aws:TagKeys`) and the keys it makes
    // transitive (`sts:TransitiveTagKeys`); tags inherited in a role chain are not requested.
    let requested: Vec<&(String, String)> = tags
        .iter()
        .filter(|(k, _)| !inherited_key(caller, k))
        .collect();
    let tag_ctx = |c: &mut Context| {
        for (k, v) in &requested {
            c.insert(&format!("aws:RequestTag/{k}"), v.clone());
        }
        if !requested.is_empty() {
            c.insert_multi(
                "aws:TagKeys",
                requested.iter().map(|(k, _)| k.clone()).collect(),
            );
        }
        if !requested_transitive.is_empty() {
            c.insert_multi("sts:TransitiveTagKeys", requested_transitive.clone());
        }
    };
    caller.authorize_with(ASSUME_ROLE, target, |c| tag_ctx(c))?;
    // sts:TagSession is for passing tags (or making them transitive); the transitive tags a
    // role chain carries pass on without it, as in AWS's role-chaining example.
    let passes_tags = !requested.is_empty() || !requested_transitive.is_empty();
    if passes_tags {
        caller.authorize_with("sts:TagSession", target, |c| tag_ctx(c))?;
    }

    // 3. The role is named exactly (STS role names are case-sensitive) and its trust policy
    //    allows the caller.
    let mut trust_ctx = caller.context();
    trust_ctx.insert("sts:RoleSessionName", session_name);
    if let Some(id) = external_id {
        trust_ctx.insert("sts:ExternalId", id);
    }
    tag_ctx(&mut trust_ctx);
    let role = match &lookup {
        Lookup::Found(r, canonical) if canonical.arn() == role_arn => Some(r),
        _ => None,
    };
    let trusted = role.is_some_and(|r| {
        trusts(r, caller, "sts:AssumeRole", &trust_ctx)
            && (!passes_tags || trusts(r, caller, "sts:TagSession", &trust_ctx))
    });
    let Some(role) = role.filter(|_| trusted) else {
        tracing::info!(
            target: "iotcreds::audit",
            event = "assume_role",
            decision = "deny",
            request_id = %caller.request_id,
            principal = %caller.principal.arn(),
            role = %target,
            reason = if lookup.found().is_some() && role.is_none() {
                "the role ARN is not spelled as the role's own ARN"
            } else {
                "role absent or its trust policy does not allow the caller"
            },
        );
        return Err(not_trusted(caller, target.arn()));
    };

    // 4. The duration fits the role (one hour when chaining).
    let chaining = matches!(caller.principal, Principal::Session { .. });
    let duration = duration.unwrap_or(DEFAULT_SECONDS);
    if chaining && duration > CHAINED_MAX_SECONDS {
        return Err(invalid(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }

    // 5. Issue (the shared session pipeline, which also checks the duration against the role).
    let session = sessions::issue(
        &ctx.registry,
        NewSession {
            kind: SessionKind::AssumeRole,
            role,
            session_name: session_name.to_owned(),
            now_ms: caller.now_ms,
            duration_secs: duration,
            not_after_ms: None,
            certificate_id: None,
            thing_name: None,
            thing_type: None,
            source_arn: Some(caller.principal.arn()),
            tags: tags.clone(),
            transitive_keys,
            max_claims_bytes: MAX_CLAIMS_BYTES,
            oversized_tags: OversizedTags::Refuse,
        },
    )
    .map_err(|e| match e {
        SessionError::DurationExceedsMax { .. } => invalid(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ),
        SessionError::TagsTooLarge { bytes, max } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "PackedPolicyTooLarge",
            format!(
                "Packed size of session tags exceeds the limit ({}% of the allotted space).",
                (bytes * 100).div_ceil(max)
            ),
        ),
        SessionError::Internal(e) => internal(e),
    })?;
    let (claims, access_key_id, secret, session_token) = (
        session.claims,
        session.access_key_id,
        session.secret_access_key,
        session.session_token,
    );
    tracing::info!(
        target: "iotcreds::audit",
        event = "assume_role",
        decision = "allow",
        request_id = %caller.request_id,
        principal = %caller.principal.arn(),
        role = %role.arn,
        session_name = %session_name,
        access_key_id = %access_key_id,
        expires_at_ms = claims.expires_at_ms,
    );

    let mut x = Xml::new();
    x.node("Credentials", |x| {
        x.text("AccessKeyId", &access_key_id)
            .text("SecretAccessKey", secret.expose())
            .text("SessionToken", &session_token)
            .time("Expiration", claims.expires_at_ms);
    })
    .node("AssumedRoleUser", |x| {
        x.text("AssumedRoleId", &claims.user_id())
            .text("Arn", &claims.assumed_role_arn());
    });
    if !tags.is_empty() {
        let packed: usize = tags.iter().map(|(k, v)| k.len() + v.len()).sum();
        let percent = (packed * 100).div_ceil(PACKED_TAGS_CAPACITY).max(1);
        x.int(
            "PackedPolicySize",
            i64::try_from(percent).unwrap_or(i64::MAX),
        );
    }
    Ok(x.finish())
}
