//! The container credentials protocol (what `AWS_CONTAINER_CREDENTIALS_FULL_URI` points SDKs
//! at), Greengrass's token exchange path, and the agent's status and metrics.
//!
//! | path | method | token | answer |
//! |---|---|---|---|
//! | `/credentials/{alias}` | GET | the alias's | container JSON |
//! | `/2016-11-01/credentialprovider/` (exactly) | GET | the default alias's | container JSON |
//! | `/status` | GET | any alias's | what the agent holds, no secrets |
//! | `/metrics` | GET | none | Prometheus text |
//!
//! The token is the whole `Authorization` header, as SDKs send it. Missing: 401; wrong: 403;
//! both with `{"Code","Message"}` and nothing about what the right token looks like.

use http::{Method, Request, StatusCode, header};

use super::{Body, Kind, error, guard, json, text};
use crate::agent::{Agent, AliasSlot};
use crate::authtoken::TokenDigest;
use crate::metrics::served;
use crate::schedule::{Answer, ErrorClass};

/// Greengrass's token exchange service path.
pub const TES_PATH: &str = "/2016-11-01/credentialprovider/";

enum Auth {
    Missing,
    Ok(TokenDigest),
}

fn presented<B>(req: &Request<B>) -> Auth {
    match req.headers().get(header::AUTHORIZATION) {
        None => Auth::Missing,
        Some(v) if v.is_empty() => Auth::Missing,
        Some(v) => Auth::Ok(TokenDigest::of(v.as_bytes())),
    }
}

fn unauthorized(protocol: &'static str, auth: &Auth) -> http::Response<Body> {
    match auth {
        Auth::Missing => {
            served(protocol, "unauthorized");
            error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "An Authorization header with the agent's token is required",
            )
        }
        _ => {
            served(protocol, "forbidden");
            error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "The authorization token is not valid for this resource",
            )
        }
    }
}

/// Check the token against `slot` in constant time.
fn authorised(slot: &AliasSlot, auth: &Auth) -> bool {
    matches!(auth, Auth::Ok(d) if slot.token_matches(d))
}

async fn credentials(
    agent: &Agent,
    slot: &AliasSlot,
    protocol: &'static str,
) -> http::Response<Body> {
    match agent.answer(slot).await {
        Answer::Serve(h) => {
            served(protocol, "ok");
            json(
                StatusCode::OK,
                h.creds.container_json(agent.config.account_id.as_deref()),
            )
        }
        Answer::Unavailable { reason, class } => {
            served(protocol, "unavailable");
            let (status, code) = match class {
                Some(ErrorClass::Refused) => (StatusCode::BAD_GATEWAY, "CredentialsRefused"),
                _ => (StatusCode::SERVICE_UNAVAILABLE, "CredentialsUnavailable"),
            };
            error(
                status,
                code,
                &format!("role alias {}: {reason}", slot.config.name),
            )
        }
        Answer::Wait => unreachable_wait(protocol),
    }
}

fn unreachable_wait(protocol: &'static str) -> http::Response<Body> {
    // `Agent::answer` turns a wait into an answer; kept total for safety.
    served(protocol, "unavailable");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "CredentialsUnavailable",
        "Credentials are being fetched",
    )
}

fn only_get(protocol: &'static str) -> http::Response<Body> {
    served(protocol, "method_not_allowed");
    let mut r = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "Only GET is allowed",
    );
    r.headers_mut()
        .insert(header::ALLOW, http::HeaderValue::from_static("GET"));
    r
}

/// Answer one request on the container listener.
pub async fn handle<B>(agent: &Agent, req: &Request<B>) -> http::Response<Body> {
    if let Err(r) = guard(req, agent, Kind::Container) {
        served("container", "bad_request");
        return *r;
    }
    let path = req.uri().path();
    let auth = presented(req);
    if path == TES_PATH {
        if req.method() != Method::GET {
            return only_get("tes");
        }
        let slot = &agent.aliases[0];
        if !authorised(slot, &auth) {
            return unauthorized("tes", &auth);
        }
        return credentials(agent, slot, "tes").await;
    }
    if path.starts_with("/2016-11-01/credentialprovider") {
        // TES answers exactly one path.
        served("tes", "bad_request");
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidPath",
            "Use the exact path /2016-11-01/credentialprovider/",
        );
    }
    if let Some(alias) = path.strip_prefix("/credentials/") {
        if req.method() != Method::GET {
            return only_get("container");
        }
        // Authenticate before saying whether the alias exists.
        if !agent.aliases.iter().any(|s| authorised(s, &auth)) {
            return unauthorized("container", &auth);
        }
        let alias = percent_encoding::percent_decode_str(alias).decode_utf8_lossy();
        let Some(slot) = agent.alias(&alias) else {
            served("container", "not_found");
            return error(
                StatusCode::NOT_FOUND,
                "NotFound",
                "The agent serves no such role alias",
            );
        };
        if !authorised(slot, &auth) {
            return unauthorized("container", &auth);
        }
        return credentials(agent, slot, "container").await;
    }
    match path {
        "/status" => {
            if req.method() != Method::GET {
                return only_get("status");
            }
            if !agent.aliases.iter().any(|s| authorised(s, &auth)) {
                return unauthorized("status", &auth);
            }
            served("status", "ok");
            json(
                StatusCode::OK,
                serde_json::to_string(&agent.status()).unwrap_or_default(),
            )
        }
        "/metrics" => {
            if req.method() != Method::GET {
                return only_get("metrics");
            }
            if let Ok(t) = agent.imds_tokens.lock() {
                crate::metrics::imds_tokens(t.len());
            }
            text(StatusCode::OK, crate::metrics::handle().render())
        }
        _ => {
            served("container", "not_found");
            error(StatusCode::NOT_FOUND, "NotFound", "No such path")
        }
    }
}
