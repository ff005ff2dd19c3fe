//! The AWS IoT control plane (rest-json, SigV4 signing name `iot`).
//!
//! [`handle`] routes one authenticated request by method and path through the operation table
//! ([`OPERATIONS`]: method, path template, name, IAM action and handler of every operation, one
//! row each), and runs the operation's handler. Every handler follows the same order: parse and
//! validate the input (AWS's shape constraints), look its resources up
//! ([`crate::resource`]), authorise the operation's action on their canonical ARNs
//! (`Req::authorize`), and only then read or write the registry, on what the look-up found
//! (writes wrapped in [`iotcreds_registry::Registry::mutate`]). A refused request therefore
//! changes nothing.
//!
//! Bindings, shapes and error names follow the botocore model `iot/2015-05-28`; statuses and
//! identifiers follow `../shared/spec/aws-credentials-provider.md` §7. Errors are [`ApiError`]s
//! rendered by [`super::render_json_error`] (`x-amzn-ErrorType` and `{"message": …}`).

mod ca_certificates;
mod ca_crls;
mod ca_revocation;
mod certificates;
mod endpoint;
mod errors;
mod json;
mod pkcs8;
mod policies;
mod policy_targets;
mod role_aliases;
mod routes;
mod tags;
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
use self::routes::Route;
pub use self::routes::{OPERATIONS, Operation};
use super::{ApiError, Caller, ControlContext, Resource};

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
                    op,
                    labels,
                    query,
                    headers: &parts.headers,
                    body,
                };
                tracing::debug!(op = op.name, request_id = %caller.request_id, "iot request");
                (op.handler)(&req).await
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

/// One routed request, as the handlers see it.
struct Req<'a> {
    ctx: &'a ControlContext,
    caller: &'a Caller,
    /// The operation being answered.
    op: &'static Operation,
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

    /// Authorise the operation's action (`iot:CreateThing`) on `resource`.
    fn authorize(&self, resource: &Resource) -> Result<(), ApiError> {
        self.caller.authorize(self.op.action, resource)
    }

    /// Authorise the operation's action on `resource` with the keys `extra` adds (tags).
    fn authorize_with(
        &self,
        resource: &Resource,
        extra: impl FnOnce(&mut iotcreds_policy::Context),
    ) -> Result<(), ApiError> {
        self.caller.authorize_with(self.op.action, resource, extra)
    }

    /// A request header as text (absent, or not visible ASCII: `None`).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The JSON body (an empty body is `{}`).
    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        json::parse_body(&self.body)
    }

    /// A thing's ARN, for answers (authorisation takes a [`Resource`]).
    fn thing_arn(&self, name: &str) -> String {
        arn::iot_thing(self.region(), self.account(), name)
    }

    /// A thing type's ARN, for answers.
    fn thing_type_arn(&self, name: &str) -> String {
        arn::iot_thing_type(self.region(), self.account(), name)
    }

    /// An IoT policy's ARN, for answers.
    fn policy_arn(&self, name: &str) -> String {
        arn::iot_policy(self.region(), self.account(), name)
    }

    /// A certificate's ARN, for answers and as the key of its attachments.
    fn cert_arn(&self, id: &str) -> String {
        self.ctx.registry.certificate_arn(id)
    }

    /// A CA certificate's ARN, for answers.
    fn ca_cert_arn(&self, id: &str) -> String {
        arn::iot_ca_certificate(self.region(), self.account(), id)
    }

    /// A role alias's ARN, for answers.
    fn role_alias_arn(&self, name: &str) -> String {
        self.ctx.registry.role_alias_arn(name)
    }
}

/// A look-up's store error, as IoT answers it.
fn lookup<T>(r: StoreResult<T>) -> Result<T, ApiError> {
    r.map_err(errors::store)
}
