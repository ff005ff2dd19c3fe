//! The AWS IoT control plane (rest-json, SigV4 signing name `iot`).
//!
//! [`handle`] routes one authenticated request by method and path (`routes`), and runs the
//! operation's handler. Every handler follows the same order: parse and validate the input
//! (AWS's shape constraints), authorise the action on its resource ARN with
//! [`Caller::authorize`], and only then read or write the registry (writes wrapped in
//! [`iotcreds_registry::Registry::mutate`]). A refused request therefore changes nothing.
//!
//! Bindings, shapes and error names follow the botocore model `iot/2015-05-28`; statuses and
//! identifiers follow `../shared/spec/aws-credentials-provider.md` §7. Errors are [`ApiError`]s
//! rendered by [`super::render_json_error`] (`x-amzn-ErrorType` and `{"message": …}`).

mod ca_certificates;
mod certificates;
mod endpoint;
mod errors;
mod json;
mod pkcs8;
mod policies;
mod policy_targets;
mod role_aliases;
mod routes;
mod thing_principals;
mod thing_types;
mod things;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use iotcreds_registry::Registry;
use iotcreds_store::{Store, StoreResult};
use iotcreds_types::arn;

use self::json::Query;
use self::routes::{Op, Route};
use super::{ApiError, Caller, ControlContext};

/// The result of a handler: a success response or an error to render.
type Reply = Result<Response<Bytes>, ApiError>;

/// Dispatch one authenticated IoT request.
pub async fn handle(
    ctx: &ControlContext,
    caller: &Caller,
    parts: &http::request::Parts,
    body: Bytes,
) -> Response<Bytes> {
    let result = match routes::route(parts.method.as_str(), parts.uri.path()) {
        Route::Found(op, labels) => match Query::parse(parts.uri.query()) {
            Ok(query) => {
                let req = Req {
                    ctx,
                    caller,
                    labels,
                    query,
                    headers: &parts.headers,
                    body,
                };
                tracing::debug!(op = op.name(), request_id = %caller.request_id, "iot request");
                dispatch(op, &req).await
            }
            Err(e) => Err(e),
        },
        Route::MethodNotAllowed(allowed) => {
            let err = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowedException",
                format!(
                    "The method {} is not allowed on this resource.",
                    parts.method
                ),
            );
            let mut resp = super::render_json_error(&err, &caller.request_id);
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
            return resp;
        }
        Route::NotFound => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "The requested operation does not exist in the AWS IoT API.",
        )),
    };
    match result {
        Ok(resp) => resp,
        Err(err) => {
            caller.audit_refusal(&err);
            super::render_json_error(&err, &caller.request_id)
        }
    }
}

async fn dispatch(op: Op, req: &Req<'_>) -> Reply {
    match op {
        Op::DescribeEndpoint => endpoint::describe_endpoint(req).await,
        Op::CreateThing => things::create(req).await,
        Op::DescribeThing => things::describe(req).await,
        Op::UpdateThing => things::update(req).await,
        Op::DeleteThing => things::delete(req).await,
        Op::ListThings => things::list(req).await,
        Op::CreateThingType => thing_types::create(req).await,
        Op::DescribeThingType => thing_types::describe(req).await,
        Op::ListThingTypes => thing_types::list(req).await,
        Op::DeprecateThingType => thing_types::deprecate(req).await,
        Op::DeleteThingType => thing_types::delete(req).await,
        Op::CreateKeysAndCertificate => certificates::create_keys_and_certificate(req).await,
        Op::CreateCertificateFromCsr => certificates::create_from_csr(req).await,
        Op::RegisterCertificate => certificates::register(req).await,
        Op::RegisterCertificateWithoutCa => certificates::register_without_ca(req).await,
        Op::UpdateCertificate => certificates::update(req).await,
        Op::DescribeCertificate => certificates::describe(req).await,
        Op::ListCertificates => certificates::list(req).await,
        Op::ListCertificatesByCa => certificates::list_by_ca(req).await,
        Op::DeleteCertificate => certificates::delete(req).await,
        Op::RegisterCaCertificate => ca_certificates::register(req).await,
        Op::GetRegistrationCode => ca_certificates::registration_code(req).await,
        Op::UpdateCaCertificate => ca_certificates::update(req).await,
        Op::DescribeCaCertificate => ca_certificates::describe(req).await,
        Op::ListCaCertificates => ca_certificates::list(req).await,
        Op::DeleteCaCertificate => ca_certificates::delete(req).await,
        Op::AttachThingPrincipal => thing_principals::attach(req).await,
        Op::DetachThingPrincipal => thing_principals::detach(req).await,
        Op::ListThingPrincipals => thing_principals::list_thing_principals(req).await,
        Op::ListPrincipalThings => thing_principals::list_principal_things(req).await,
        Op::CreatePolicy => policies::create(req).await,
        Op::GetPolicy => policies::get(req).await,
        Op::DeletePolicy => policies::delete(req).await,
        Op::ListPolicies => policies::list(req).await,
        Op::CreatePolicyVersion => policies::create_version(req).await,
        Op::GetPolicyVersion => policies::get_version(req).await,
        Op::ListPolicyVersions => policies::list_versions(req).await,
        Op::SetDefaultPolicyVersion => policies::set_default_version(req).await,
        Op::DeletePolicyVersion => policies::delete_version(req).await,
        Op::AttachPolicy => policy_targets::attach_policy(req).await,
        Op::DetachPolicy => policy_targets::detach_policy(req).await,
        Op::ListAttachedPolicies => policy_targets::list_attached_policies(req).await,
        Op::ListTargetsForPolicy => policy_targets::list_targets_for_policy(req).await,
        Op::AttachPrincipalPolicy => policy_targets::attach_principal_policy(req).await,
        Op::DetachPrincipalPolicy => policy_targets::detach_principal_policy(req).await,
        Op::ListPrincipalPolicies => policy_targets::list_principal_policies(req).await,
        Op::ListPolicyPrincipals => policy_targets::list_policy_principals(req).await,
        Op::CreateRoleAlias => role_aliases::create(req).await,
        Op::DescribeRoleAlias => role_aliases::describe(req).await,
        Op::UpdateRoleAlias => role_aliases::update(req).await,
        Op::DeleteRoleAlias => role_aliases::delete(req).await,
        Op::ListRoleAliases => role_aliases::list(req).await,
    }
}

/// One routed request, as the handlers see it.
struct Req<'a> {
    ctx: &'a ControlContext,
    caller: &'a Caller,
    /// The decoded `{label}` segments of the path, in order.
    labels: Vec<String>,
    query: Query,
    headers: &'a HeaderMap,
    body: Bytes,
}

impl Req<'_> {
    /// The `i`-th path label (the router guarantees it exists).
    fn label(&self, i: usize) -> &str {
        self.labels.get(i).map(String::as_str).unwrap_or_default()
    }

    fn registry(&self) -> &Registry {
        &self.ctx.registry
    }

    fn store(&self) -> &Arc<dyn Store> {
        self.ctx.registry.store()
    }

    /// Run a registry write and drop the caches.
    async fn write<T>(&self, fut: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        self.ctx.registry.mutate(fut).await
    }

    fn account(&self) -> &str {
        self.ctx.registry.account_id()
    }

    fn region(&self) -> &str {
        self.ctx.registry.region()
    }

    fn now_ms(&self) -> i64 {
        self.caller.now_ms
    }

    /// Authorise `action` (`iot:CreateThing`) on `resource` (an ARN or `*`).
    fn authorize(&self, action: &str, resource: &str) -> Result<(), ApiError> {
        self.caller.authorize(action, resource)
    }

    /// A request header as text (absent, or not visible ASCII: `None`).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The JSON body (an empty body is `{}`).
    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        json::parse_body(&self.body)
    }

    fn thing_arn(&self, name: &str) -> String {
        arn::iot_thing(self.region(), self.account(), name)
    }

    fn thing_type_arn(&self, name: &str) -> String {
        arn::iot_thing_type(self.region(), self.account(), name)
    }

    fn policy_arn(&self, name: &str) -> String {
        arn::iot_policy(self.region(), self.account(), name)
    }

    fn cert_arn(&self, id: &str) -> String {
        self.ctx.registry.certificate_arn(id)
    }

    fn ca_cert_arn(&self, id: &str) -> String {
        arn::iot_ca_certificate(self.region(), self.account(), id)
    }

    fn role_alias_arn(&self, name: &str) -> String {
        self.ctx.registry.role_alias_arn(name)
    }
}
