//! Activity: the credentials endpoint's recent decisions, newest first, filterable by thing,
//! certificate, role alias and outcome; each refusal with its reason and the deciding
//! statement. Reading it is authorised as CloudTrail's `cloudtrail:LookupEvents` on `*` (the
//! AWS action for reading an account's recent events).

use http::{HeaderValue, Response, StatusCode, header};
use iotcreds_store::{CredentialEvent, CredentialEventFilter};

use super::Cx;
use crate::Body;
use crate::api::Failure;
use crate::html::Html;
use crate::url::{path, with_query};

/// The IAM action that reads the activity.
pub const ACTION: &str = "cloudtrail:LookupEvents";
/// Events per page.
const PAGE: u32 = 50;

fn opt(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.trim().to_owned())
}

/// Read events for the signed-in principal.
pub async fn events(
    cx: &Cx<'_>,
    filter: &CredentialEventFilter,
) -> Result<Vec<CredentialEvent>, Failure> {
    cx.caller
        .authorize(ACTION, &iotcreds_control::Resource::any())
        .map_err(|e| Failure {
            status: e.status,
            code: e.code.to_owned(),
            message: e.message,
        })?;
    cx.console
        .control
        .registry
        .store()
        .credential_events(filter)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "console: credential events unavailable");
            Failure {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "ServiceUnavailable".into(),
                message: "The activity cannot be read right now.".into(),
            }
        })
}

/// `GET /activity?thing=&cert=&alias=&outcome=&before=`.
pub async fn show(cx: &Cx<'_>) -> Response<Body> {
    let filter = CredentialEventFilter {
        thing: opt(cx.q("thing")),
        certificate_id: opt(cx.q("cert")),
        role_alias: opt(cx.q("alias")),
        issued: match cx.q("outcome") {
            "issued" => Some(true),
            "refused" => Some(false),
            _ => None,
        },
        before_seq: cx.q("before").parse().ok(),
        limit: PAGE,
    };
    let mut h = Html::new();
    h.h1("Activity");
    h.note("Credentials issued and refused by the credentials endpoint (of every instance sharing this registry), newest first.");
    h.open(
        "form",
        &[
            ("method", "get"),
            ("action", "/activity"),
            ("class", "filters"),
            ("id", "activity-filter"),
        ],
    );
    h.input("Thing", "thing", cx.q("thing"), &[("id", "filter-thing")]);
    h.input(
        "Certificate ID",
        "cert",
        cx.q("cert"),
        &[("id", "filter-cert")],
    );
    h.input(
        "Role alias",
        "alias",
        cx.q("alias"),
        &[("id", "filter-alias")],
    );
    h.select(
        "Outcome",
        "outcome",
        &[
            (String::new(), "all".to_owned()),
            ("issued".to_owned(), "issued".to_owned()),
            ("refused".to_owned(), "refused".to_owned()),
        ],
        cx.q("outcome"),
    );
    h.el("button", &[("type", "submit")], "Filter");
    h.close("form");
    let list = match events(cx, &filter).await {
        Ok(l) => l,
        Err(f) => {
            h.message("error", &f.display());
            return cx.page_status(f.status, "Activity", "/activity", h);
        }
    };
    h.table(
        &[
            "Time",
            "Outcome",
            "Thing",
            "Certificate",
            "Role alias",
            "Details",
            "Source",
        ],
        |h| {
            for e in &list {
                let class = if e.issued { "allow" } else { "deny" };
                h.open(
                    "tr",
                    &[("class", class), ("data-request-id", &e.request_id)],
                );
                h.el("td", &[("class", "nowrap")], &super::fmt_ms(e.at));
                h.open("td", &[]).el(
                    "strong",
                    &[("class", "outcome")],
                    &if e.issued {
                        "issued".to_owned()
                    } else {
                        format!("refused ({})", e.status)
                    },
                );
                h.close("td");
                h.open("td", &[]);
                if !e.thing.is_empty() {
                    h.link(&with_query("/activity", &[("thing", &e.thing)]), &e.thing);
                }
                h.close("td").open("td", &[("class", "mono")]);
                if !e.certificate_id.is_empty() {
                    let short: String = e.certificate_id.chars().take(12).collect();
                    h.el(
                        "a",
                        &[
                            ("href", &path("/certificates", &e.certificate_id)),
                            ("title", &e.certificate_id),
                        ],
                        &format!("{short}…"),
                    );
                }
                h.close("td");
                h.open("td", &[])
                    .link(
                        &with_query("/activity", &[("alias", &e.role_alias)]),
                        &e.role_alias,
                    )
                    .close("td");
                h.open("td", &[("class", "details")]);
                if e.issued {
                    h.text("role ")
                        .code(&e.role)
                        .text(", key ")
                        .code(&e.access_key_id);
                    h.text(", expires ").text(&e.expiration);
                } else {
                    h.el("span", &[("class", "reason")], &e.reason);
                    if !e.statement.is_empty() {
                        h.raw("<br>").text("Deciding statement: ").el(
                            "span",
                            &[("class", "statement")],
                            &e.statement,
                        );
                    }
                }
                h.close("td");
                h.el("td", &[("class", "mono")], &e.source_ip).close("tr");
            }
        },
    );
    if list.is_empty() {
        h.note("No matching events.");
    }
    if list.len() as u32 == PAGE
        && let Some(last) = list.last()
    {
        let before = last.seq.to_string();
        h.p("").link(
            &with_query(
                "/activity",
                &[
                    ("thing", cx.q("thing")),
                    ("cert", cx.q("cert")),
                    ("alias", cx.q("alias")),
                    ("outcome", cx.q("outcome")),
                    ("before", &before),
                ],
            ),
            "Older events",
        );
    }
    cx.page("Activity", "/activity", h)
}

/// The state of a device's first credentials, as the connect flow polls it: the newest
/// issuance for the certificate and alias, or else the newest refusal with its reason.
pub async fn device_state(
    cx: &Cx<'_>,
    cert: &str,
    alias: &str,
) -> Result<serde_json::Value, Failure> {
    let filter = |issued| CredentialEventFilter {
        certificate_id: Some(cert.to_owned()),
        role_alias: opt(alias),
        issued,
        limit: 1,
        ..CredentialEventFilter::default()
    };
    if let Some(e) = events(cx, &filter(Some(true))).await?.first() {
        return Ok(serde_json::json!({
            "state": "issued",
            "at": super::fmt_ms(e.at),
            "thing": e.thing,
            "accessKeyId": e.access_key_id,
            "expiration": e.expiration,
        }));
    }
    if let Some(e) = events(cx, &filter(Some(false))).await?.first() {
        return Ok(serde_json::json!({
            "state": "refused",
            "at": super::fmt_ms(e.at),
            "status": e.status,
            "reason": e.reason,
            "statement": e.statement,
        }));
    }
    Ok(serde_json::json!({ "state": "waiting" }))
}

/// `GET /activity/check?cert=&alias=`: [`device_state`] as JSON.
pub async fn check(cx: &Cx<'_>) -> Response<Body> {
    let (status, v) = match device_state(cx, cx.q("cert"), cx.q("alias")).await {
        Ok(v) => (StatusCode::OK, v),
        Err(f) => (
            f.status,
            serde_json::json!({ "state": "error", "message": f.display() }),
        ),
    };
    let mut r = Response::new(crate::body(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
