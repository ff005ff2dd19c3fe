//! The service endpoint: one port for S3 (rest-xml), IoT (rest-json), IAM and STS (query),
//! routed by the service name in the signed credential scope.
//!
//! **One pipeline:** every request is SigV4-verified, resolved to a [`Principal`], and
//! authorised by the policy engine before it touches state. S3 requests take that path through
//! s3s ([`s3`]); the others through [`auth::authenticate`] and the [`control`] handlers.

pub mod body;
pub mod preauth;
pub mod s3;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use iotcreds_sigv4::SigV4Error;

use crate::config::{Config, ObjectsBackend};
use crate::data_dir::DataDir;
use crate::net::ConnInfo;
use crate::net::unread::{self, Watched};
use iotcreds_control::{self as control, ApiError, Caller, ControlContext};
use iotcreds_registry::Registry;
use iotcreds_registry::auth::{self, AuthError};
use iotcreds_registry::authz::Principal;

/// The non-S3 APIs of the service endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// IoT control plane, rest-json, signing name `iot`.
    Iot,
    /// IAM, query protocol, signing name `iam`.
    Iam,
    /// STS, query protocol, signing name `sts`.
    Sts,
}

/// The service endpoint's request handler.
pub struct ServiceEndpoint {
    s3: s3s::service::S3Service,
    /// Plain whole-object GETs with path-style addressing.
    fast_get: Option<s3::fast::FastGet>,
    /// Browser-form uploads, answered before s3s.
    post: s3::post::PostObject,
    control: ControlContext,
    bodies: body::BodyLimits,
    /// The same backend, for the web console's S3 operations.
    objects: Arc<dyn s3s::S3>,
    /// `x-amz-request-id` and `x-amz-id-2` of every S3 answer.
    request_ids: s3::request_id::RequestIds,
}

impl ServiceEndpoint {
    /// Build the endpoint: the S3 service over the configured object backend (embedded or
    /// upstream), and the control plane.
    pub async fn new(
        registry: Arc<Registry>,
        config: &Config,
        data: &DataDir,
        credentials_port: u16,
    ) -> anyhow::Result<Self> {
        let domain = config.virtual_host_domain.as_deref();
        let post_max = config.limits.post_object_max_bytes;
        let mut fast_get = None;
        let backend: Arc<dyn s3s::S3> = match (config.objects.backend(), &config.objects.upstream) {
            (ObjectsBackend::Upstream, Some(upstream)) => {
                let backend = iotcreds_objects_upstream::UpstreamBackend::new(upstream.clone())?;
                tracing::info!(endpoint = %upstream.endpoint, "objects are kept upstream");
                if domain.is_none() {
                    fast_get = Some(s3::fast::FastGet::new(
                        registry.clone(),
                        s3::fast::FastBackend::Upstream(backend.clone()),
                        &config.region,
                    ));
                }
                Arc::new(backend)
            }
            _ => {
                // The backend registers its cache metrics when it opens: recorder first.
                crate::admin::metrics_handle();
                let backend = iotcreds_objects::fs::FsBackend::open(
                    data.objects_dir(),
                    iotcreds_objects::fs::FsConfig {
                        region: config.region.clone(),
                        read_cache_bytes: config.objects.read_cache_bytes(),
                        ..Default::default()
                    },
                )?;
                if domain.is_none() {
                    fast_get = Some(s3::fast::FastGet::new(
                        registry.clone(),
                        s3::fast::FastBackend::Embedded(backend.clone()),
                        &config.region,
                    ));
                }
                Arc::new(backend)
            }
        };
        let objects = backend.clone();
        let s3 = s3::service(
            registry.clone(),
            backend.clone(),
            &config.region,
            domain,
            post_max,
        )?;
        let post =
            s3::post::PostObject::new(registry.clone(), backend, &config.region, domain, post_max)?;
        let control = ControlContext {
            registry,
            region: config.region.clone(),
            credentials_endpoint: config.credentials_endpoint_address(credentials_port),
            data_endpoint: config.credentials_host.clone(),
        };
        Ok(Self {
            s3,
            fast_get,
            post,
            control,
            bodies: body::BodyLimits {
                max_bytes: config.limits.max_control_body_bytes,
                timeout: config.limits.body_timeout(),
                budget: body::BodyBudget::new(config.limits.max_inflight_body_bytes),
            },
            objects,
            request_ids: s3::request_id::RequestIds::new(),
        })
    }

    /// The web console's S3 operations, on this endpoint's backend and authorisation.
    pub fn console_objects(&self) -> Arc<dyn iotcreds_console::objects::Objects> {
        Arc::new(s3::console::ConsoleObjects::new(
            self.objects.clone(),
            &self.control.region,
        ))
    }

    /// Answer one request.
    pub async fn handle(&self, conn: Arc<ConnInfo>, req: Request<Incoming>) -> Response<s3s::Body> {
        // An answer given before the body was read to its end closes the connection (see
        // `net::unread`).
        unread::answer(req, |req| {
            let (parts, body) = req.into_parts();
            self.route(conn, parts, body)
        })
        .await
    }

    async fn route(
        &self,
        conn: Arc<ConnInfo>,
        parts: http::request::Parts,
        body: Watched,
    ) -> Response<s3s::Body> {
        let service = auth::signed_service(&parts);
        let api = match service.as_deref() {
            Some("iot") => Api::Iot,
            Some("iam") => Api::Iam,
            Some("sts") => Api::Sts,
            None if looks_like_query_protocol(&parts) => {
                let err = ApiError::new(
                    StatusCode::FORBIDDEN,
                    "MissingAuthenticationToken",
                    "Request is missing Authentication Token",
                );
                return control::render_query_error(
                    &err,
                    &uuid::Uuid::new_v4().to_string(),
                    control::iam::XMLNS,
                )
                .map(s3s::Body::from);
            }
            // S3, and what is refused in S3's words.
            _ => {
                let id = self.request_ids.next();
                let resp = self.s3(service.as_deref(), conn, parts, body);
                let mut resp = s3::request_id::scope(&id, resp).await;
                id.stamp(&mut resp);
                return resp;
            }
        };
        self.control(api, &conn, parts, body).await
    }

    /// Answer an S3 request (or one signed for a service this endpoint does not serve).
    async fn s3(
        &self,
        service: Option<&str>,
        conn: Arc<ConnInfo>,
        mut parts: http::request::Parts,
        body: Watched,
    ) -> Response<s3s::Body> {
        if let Some(other) = service.filter(|s| *s != "s3") {
            let msg = format!(
                "Credential should be scoped to a valid service ('s3', 'iot', 'iam' or 'sts'), not '{}'.",
                other.chars().take(32).collect::<String>()
            );
            return s3_xml_error(StatusCode::FORBIDDEN, "SignatureDoesNotMatch", &msg);
        }
        if let Some((status, code, message)) = s3::precheck(&parts) {
            return s3_xml_error(status, code, message);
        }
        if s3::post::is_form_post(&parts) {
            return self.post.handle(&conn, &parts, body).await;
        }
        if let Some(fast) = &self.fast_get
            && let Some(resp) = fast.try_serve(&conn, &parts).await
        {
            return resp;
        }
        if conn.sendfile && parts.version <= http::Version::HTTP_11 {
            // An HTTP/1 response body goes to the socket as written: large object
            // reads may be mapped and sent from the file.
            parts
                .extensions
                .insert(iotcreds_objects::zerocopy::Sendfile);
        }
        parts.extensions.insert(conn);
        let body = if body.is_done() {
            s3s::Body::empty()
        } else {
            s3s::Body::http_body(body)
        };
        match self.s3.call(Request::from_parts(parts, body)).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::error!(error = ?e, "S3 service error");
                s3_xml_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                )
            }
        }
    }

    async fn control(
        &self,
        api: Api,
        conn: &ConnInfo,
        parts: http::request::Parts,
        body: Watched,
    ) -> Response<s3s::Body> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.bodies.max_bytes as u64) {
            return body_error(api, body::BodyError::TooLarge, &request_id);
        }
        let now = time::OffsetDateTime::now_utc();
        let us_east_1 = "us-east-1";
        let regions: &[&str] = match api {
            Api::Iot => &[&self.control.region],
            // IAM is global and signed for us-east-1; STS also has a global endpoint.
            Api::Iam | Api::Sts => &[&self.control.region, us_east_1],
        };
        let service = match api {
            Api::Iot => "iot",
            Api::Iam => "iam",
            Api::Sts => "sts",
        };
        let refuse = |e: AuthError| {
            let err = auth_api_error(api, e);
            tracing::info!(
                target: "iotcreds::audit",
                event = "authenticate",
                decision = "deny",
                request_id = %request_id,
                service,
                code = err.code,
                source_ip = %conn.remote.ip(),
            );
            render(api, &err, &request_id)
        };
        // Everything that does not need the body first: an unauthenticated client costs no
        // buffered body.
        let registry = &self.control.registry;
        if let Err(e) = preauth::before_body(registry, &parts, service, regions, now).await {
            return refuse(e);
        }
        let (body, _held) = match body::read(body, declared, &self.bodies).await {
            Ok(read) => read,
            Err(e) => return body_error(api, e, &request_id),
        };
        let principal: Principal =
            match auth::authenticate(registry, &parts, &body, service, regions, now).await {
                Ok(p) => p,
                Err(e) => return refuse(e),
            };
        let caller = Caller {
            principal,
            source_ip: conn.remote.ip(),
            secure: conn.tls.is_some(),
            request_id: request_id.clone(),
            now_ms: iotcreds_types::time_fmt::to_millis(now),
        };
        let resp = match api {
            Api::Iot => control::iot::handle(&self.control, &caller, &parts, body).await,
            Api::Iam => control::iam::handle(&self.control, &caller, &parts, body).await,
            Api::Sts => control::sts::handle(&self.control, &caller, &parts, body).await,
        };
        let mut resp = resp.map(s3s::Body::from);
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers_mut().entry("x-amzn-RequestId").or_insert(v);
        }
        resp
    }
}

/// An unsigned form POST: an IAM or STS call without credentials.
fn looks_like_query_protocol(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::POST
        && parts.uri.path() == "/"
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

/// The answer to a body that was not read: too large, too slow (or evicted to make room for
/// prompter ones), or cut short. The connection is closed after the answer (`handle`), since
/// the rest of the body is still on its way.
fn body_error(api: Api, e: body::BodyError, request_id: &str) -> Response<s3s::Body> {
    let iot = api == Api::Iot;
    let err = match e {
        body::BodyError::TooLarge => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            if iot {
                "RequestEntityTooLargeException"
            } else {
                "RequestEntityTooLarge"
            },
            "Request body too large",
        ),
        body::BodyError::Timeout => ApiError::new(
            StatusCode::BAD_REQUEST,
            if iot {
                "RequestTimeoutException"
            } else {
                "RequestTimeout"
            },
            "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
        ),
        body::BodyError::Incomplete => ApiError::new(
            StatusCode::BAD_REQUEST,
            if iot {
                "RequestAbortedException"
            } else {
                "IncompleteBody"
            },
            "The request body terminated unexpectedly.",
        ),
    };
    render(api, &err, request_id)
}

fn render(api: Api, err: &ApiError, request_id: &str) -> Response<s3s::Body> {
    match api {
        Api::Iot => control::render_json_error(err, request_id),
        Api::Iam => control::render_query_error(err, request_id, control::iam::XMLNS),
        Api::Sts => control::render_query_error(err, request_id, control::sts::XMLNS),
    }
    .map(s3s::Body::from)
}

/// The protocol's answer to a failed authentication (IoT names from API Gateway-style
/// services, IAM/STS names from the query protocol).
fn auth_api_error(api: Api, e: AuthError) -> ApiError {
    let iot = api == Api::Iot;
    let forbidden = StatusCode::FORBIDDEN;
    match e {
        AuthError::Sig(SigV4Error::MissingAuthenticationToken) => ApiError::new(
            forbidden,
            if iot {
                "MissingAuthenticationTokenException"
            } else {
                "MissingAuthenticationToken"
            },
            if iot {
                "Missing Authentication Token"
            } else {
                "Request is missing Authentication Token"
            },
        ),
        AuthError::Sig(e @ (SigV4Error::SignatureDoesNotMatch | SigV4Error::InvalidScope(_))) => {
            ApiError::new(
                forbidden,
                if iot {
                    "InvalidSignatureException"
                } else {
                    "SignatureDoesNotMatch"
                },
                e.to_string(),
            )
        }
        AuthError::Sig(SigV4Error::RequestTimeTooSkewed | SigV4Error::RequestExpired) => {
            ApiError::new(
                forbidden,
                if iot {
                    "InvalidSignatureException"
                } else {
                    "SignatureDoesNotMatch"
                },
                "Signature expired: the request time is more than 15 minutes away from the server time.",
            )
        }
        AuthError::Sig(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            if iot {
                "IncompleteSignatureException"
            } else {
                "IncompleteSignature"
            },
            e.to_string(),
        ),
        AuthError::UnknownAccessKey | AuthError::InvalidToken => ApiError::new(
            forbidden,
            if iot {
                "UnrecognizedClientException"
            } else {
                "InvalidClientTokenId"
            },
            "The security token included in the request is invalid.",
        ),
        AuthError::ExpiredToken => ApiError::new(
            forbidden,
            if iot {
                "ExpiredTokenException"
            } else {
                "ExpiredToken"
            },
            "The security token included in the request is expired",
        ),
        AuthError::RoleGone => ApiError::new(
            forbidden,
            "AccessDenied",
            "The role of this session no longer exists.",
        ),
        AuthError::Unavailable(e) => {
            tracing::warn!(error = %e, "registry unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                if iot {
                    "ServiceUnavailableException"
                } else {
                    "ServiceUnavailable"
                },
                "Service Unavailable",
            )
        }
        AuthError::Internal(e) => ApiError::internal(
            if iot {
                "InternalFailureException"
            } else {
                "ServiceFailure"
            },
            e,
        ),
    }
}

/// An S3-style XML error for requests refused before s3s sees them (its request ids are added
/// with every S3 answer's, by [`s3::request_id::RequestId::stamp`]).
pub(crate) fn s3_xml_error(status: StatusCode, code: &str, message: &str) -> Response<s3s::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
        control::xml_escape(code),
        control::xml_escape(message),
    );
    let mut resp = Response::new(s3s::Body::from(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}
