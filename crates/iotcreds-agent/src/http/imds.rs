//! IMDSv2 emulation, for software that only knows the EC2 instance metadata service
//! (`AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT`).
//!
//! - `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds: 1..=21600` → a
//!   session token (bounded table, see [`crate::authtoken::ImdsTokens`]).
//! - With `X-aws-ec2-metadata-token`: `GET /latest/meta-data/iam/security-credentials/` → the
//!   default role alias's name; `…/NAME` → IMDS's credentials document (`Code`,
//!   `LastUpdated`, `Type`, keys, `Expiration`). The `-extended` paths of newer SDKs answer
//!   the same, with `AccountId` when configured.
//! - No token (IMDSv1) → 401. `X-Forwarded-For` (a proxy relaying someone else) → 403.
//!
//! Any local process may use IMDS, as on EC2: enable it only where every local user may
//! have the default alias's role.

use http::{HeaderValue, Method, Request, StatusCode};

use super::{Body, Kind, error, guard, json, text};
use crate::agent::Agent;
use crate::metrics::served;
use crate::schedule::Answer;

const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// The longest session token lifetime IMDS grants.
pub const MAX_TTL_SECS: u64 = 21_600;

fn plain_error(status: StatusCode, outcome: &'static str) -> http::Response<Body> {
    served("imds", outcome);
    let reason = status.canonical_reason().unwrap_or("Error");
    text(status, reason.to_owned())
}

/// Answer one request on the IMDS listener.
pub async fn handle<B>(agent: &Agent, req: &Request<B>) -> http::Response<Body> {
    if let Err(r) = guard(req, agent, Kind::Imds) {
        served("imds", "bad_request");
        return *r;
    }
    if req.headers().contains_key("x-forwarded-for") {
        served("imds", "forbidden");
        return error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Forwarded requests are not served",
        );
    }
    let path = req.uri().path();
    if path == "/latest/api/token" {
        if req.method() != Method::PUT {
            return plain_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        }
        let ttl = req
            .headers()
            .get(TTL_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|t| (1..=MAX_TTL_SECS).contains(t));
        let Some(ttl) = ttl else {
            return plain_error(StatusCode::BAD_REQUEST, "bad_request");
        };
        let now = agent.now();
        let issued = agent
            .imds_tokens
            .lock()
            .map_err(|_| ())
            .and_then(|mut t| t.issue(now, now + ttl * 1000).map_err(|_| ()));
        let Ok(token) = issued else {
            return plain_error(StatusCode::INTERNAL_SERVER_ERROR, "error");
        };
        served("imds_token", "ok");
        let mut r = text(StatusCode::OK, token);
        if let Ok(v) = HeaderValue::from_str(&ttl.to_string()) {
            r.headers_mut().insert(TTL_HEADER, v);
        }
        return r;
    }
    if req.method() != Method::GET {
        return plain_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
    let token_ok = req.headers().get(TOKEN_HEADER).is_some_and(|t| {
        agent
            .imds_tokens
            .lock()
            .is_ok_and(|tokens| tokens.check(t.as_bytes(), agent.now()))
    });
    if !token_ok {
        return plain_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let rest = if let Some(r) = path
        .strip_prefix("/latest/meta-data/iam/security-credentials-extended/")
        .or_else(|| path.strip_prefix("/latest/meta-data/iam/security-credentials/"))
    {
        r
    } else {
        return plain_error(StatusCode::NOT_FOUND, "not_found");
    };
    if rest.is_empty() {
        served("imds", "ok");
        return text(StatusCode::OK, agent.aliases[0].config.name.clone());
    }
    let name = percent_encoding::percent_decode_str(rest).decode_utf8_lossy();
    let Some(slot) = agent.alias(&name) else {
        return plain_error(StatusCode::NOT_FOUND, "not_found");
    };
    match agent.answer(slot).await {
        Answer::Serve(h) => {
            served("imds", "ok");
            json(
                StatusCode::OK,
                h.creds
                    .imds_json(h.fetched_wall_ms, agent.config.account_id.as_deref()),
            )
        }
        Answer::Unavailable { reason, .. } => {
            served("imds", "unavailable");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "CredentialsUnavailable",
                &format!("role alias {}: {reason}", slot.config.name),
            )
        }
        Answer::Wait => plain_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    }
}
