//! "Connect a device": the seed's set-up as one path — thing → certificate → IoT policy →
//! role alias → the device's command — ending with a live check that the device's first
//! credential request succeeded. Each step is the same API calls as the pages it stands for.

use http::{Method, Response};
use serde_json::{Value, json};

use super::Cx;
use super::aliases::{create_alias, device_commands, endpoint, role_options};
use super::certificates::{create_certificate, download_links};
use crate::Body;
use crate::api::{Failure, s};
use crate::html::Html;
use crate::url::{path, with_query};

const STEPS: &[(&str, &str)] = &[
    ("thing", "Thing"),
    ("certificate", "Certificate"),
    ("policy", "IoT policy"),
    ("alias", "Role alias"),
    ("device", "Device"),
];

fn progress(h: &mut Html, current: &str) {
    h.open("ol", &[("class", "progress")]);
    let mut done = true;
    for (id, label) in STEPS {
        if *id == current {
            done = false;
            h.el(
                "li",
                &[("class", "current"), ("aria-current", "step")],
                label,
            );
        } else if done {
            h.el("li", &[("class", "done")], label);
        } else {
            h.el("li", &[], label);
        }
    }
    h.close("ol");
}

fn state_url(cx: &Cx<'_>, step: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> = vec![
        ("thing", cx.q("thing")),
        ("cert", cx.q("cert")),
        ("alias", cx.q("alias")),
    ];
    for (k, v) in extra {
        if let Some(slot) = pairs.iter_mut().find(|(n, _)| n == k) {
            slot.1 = v;
        } else {
            pairs.push((k, v));
        }
    }
    with_query(&path("/connect", step), &pairs)
}

/// `GET /connect`: step 1.
pub async fn thing(cx: &Cx<'_>) -> Response<Body> {
    let mut h = Html::new();
    h.h1("Connect a device");
    progress(&mut h, "thing");
    h.p("A device trades its certificate for temporary credentials of a role. Name the thing that stands for the device (an existing thing is used as it is).");
    cx.form(&mut h, &state_url(cx, "thing", &[]), |h| {
        h.input(
            "Thing name",
            "thing",
            cx.q("thing"),
            &[
                ("required", ""),
                ("id", "connect-thing"),
                ("pattern", "[a-zA-Z0-9:_-]{1,128}"),
            ],
        );
        h.submit("Next: certificate");
    });
    cx.page("Connect a device", "/connect", h)
}

/// `GET /connect/{step}`.
pub async fn step(cx: &Cx<'_>, step: &str) -> Response<Body> {
    match step {
        "certificate" => certificate(cx).await,
        "policy" => policy(cx).await,
        "alias" => alias(cx).await,
        "device" => device(cx).await,
        _ => thing(cx).await,
    }
}

async fn certificate(cx: &Cx<'_>) -> Response<Body> {
    let thing = cx.q("thing");
    let mut h = Html::new();
    h.h1("Connect a device");
    progress(&mut h, "certificate");
    h.facts(&[("Thing", thing)]);
    if cx.q("cert").is_empty() {
        h.p("The device proves who it is with a certificate and its private key.");
        cx.form(&mut h, &state_url(cx, "certificate", &[]), |h| {
            h.el(
                "button",
                &[
                    ("type", "submit"),
                    ("class", "primary"),
                    ("id", "connect-create-certificate"),
                ],
                "Create certificate and attach it",
            );
        });
        let certs = cx
            .api()
            .iot_all(
                "/certificates",
                &[("pageSize", "250")],
                "certificates",
                1000,
            )
            .await
            .unwrap_or_default();
        let opts: Vec<(String, String)> = certs
            .iter()
            .filter(|c| s(c, "status") == "ACTIVE")
            .map(|c| {
                (
                    s(c, "certificateId").to_owned(),
                    s(c, "certificateId").to_owned(),
                )
            })
            .collect();
        if !opts.is_empty() {
            h.p("Or use a certificate the device already has:");
            cx.form(&mut h, &state_url(cx, "certificate", &[]), |h| {
                h.select("Certificate", "cert", &opts, "");
                h.submit("Attach it");
            });
        }
    } else {
        h.facts(&[("Certificate", cx.q("cert"))]);
        if !cx.q("token").is_empty() {
            h.message(
                "info",
                "Download the certificate and the private key now: the key is offered once.",
            );
            download_links(cx, &mut h, cx.q("token"));
        }
        h.p("").el(
            "a",
            &[
                ("href", &state_url(cx, "policy", &[])),
                ("class", "button primary"),
                ("id", "connect-next"),
            ],
            "Next: IoT policy",
        );
    }
    cx.page("Connect a device", "/connect", h)
}

async fn policy(cx: &Cx<'_>) -> Response<Body> {
    let mut h = Html::new();
    h.h1("Connect a device");
    progress(&mut h, "policy");
    h.facts(&[("Thing", cx.q("thing")), ("Certificate", cx.q("cert"))]);
    h.p("The certificate's IoT policy must allow iot:AssumeRoleWithCertificate on the role alias the device asks for. An existing policy is attached as it is; a new one is made for the alias.");
    let aliases: Vec<String> = cx
        .api()
        .iot_all("/role-aliases", &[], "roleAliases", 1000)
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    let default_alias = aliases
        .first()
        .cloned()
        .unwrap_or_else(|| "ADCTestRoleAlias".into());
    cx.form(&mut h, &state_url(cx, "policy", &[]), |h| {
        h.input(
            "Role alias",
            "alias",
            &default_alias,
            &[
                ("required", ""),
                ("id", "connect-alias"),
                ("list", "known-aliases"),
            ],
        );
        h.open("datalist", &[("id", "known-aliases")]);
        for a in &aliases {
            h.open("option", &[("value", a)]).close("option");
        }
        h.close("datalist");
        h.input(
            "IoT policy name",
            "policy",
            &format!("{}Policy", cx.q("thing")),
            &[("required", ""), ("id", "connect-policy")],
        );
        h.submit("Next: role alias");
    });
    cx.page("Connect a device", "/connect", h)
}

async fn alias(cx: &Cx<'_>) -> Response<Body> {
    let name = cx.q("alias");
    let mut h = Html::new();
    h.h1("Connect a device");
    progress(&mut h, "alias");
    h.facts(&[
        ("Thing", cx.q("thing")),
        ("Certificate", cx.q("cert")),
        ("Role alias", name),
    ]);
    match cx
        .api()
        .iot(Method::GET, &path("/role-aliases", name), &[], None)
        .await
    {
        Ok(v) => {
            let d = v
                .get("roleAliasDescription")
                .cloned()
                .unwrap_or(Value::Null);
            let duration = d
                .get("credentialDurationSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            h.facts(&[
                ("Role", s(&d, "roleArn")),
                ("Credential duration", &format!("{duration} s")),
            ]);
            h.p("").el(
                "a",
                &[
                    ("href", &state_url(cx, "device", &[])),
                    ("class", "button primary"),
                    ("id", "connect-next"),
                ],
                "Next: the device",
            );
        }
        Err(f) if f.is_not_found() => {
            h.p("This role alias does not exist yet: choose the role its credentials are for. The role's trust policy must let credentials.iot.amazonaws.com assume it.");
            let roles = role_options(cx).await;
            cx.form(&mut h, &state_url(cx, "alias", &[]), |h| {
                h.select("Role", "role", &roles, "");
                h.input(
                    "Credential duration (seconds)",
                    "duration",
                    "3600",
                    &[("type", "number"), ("min", "900"), ("max", "43200")],
                );
                h.submit("Create role alias");
            });
            h.p("").link("/roles", "Create a role first");
        }
        Err(f) => {
            h.message("error", &f.display());
        }
    }
    cx.page("Connect a device", "/connect", h)
}

async fn device(cx: &Cx<'_>) -> Response<Body> {
    let (thing, cert, alias) = (cx.q("thing"), cx.q("cert"), cx.q("alias"));
    let mut h = Html::new();
    h.h1("Connect a device");
    progress(&mut h, "device");
    match endpoint(cx).await {
        Ok(ep) => device_commands(&mut h, &ep, alias, thing),
        Err(f) => {
            h.message("error", &f.display());
        }
    }
    h.p("").el(
        "a",
        &[("href", "/root-ca.pem"), ("download", "root-ca.pem")],
        "Download root-ca.pem",
    );
    h.h2("Live check");
    let state = super::activity::device_state(cx, cert, alias).await;
    let check_url = with_query("/activity/check", &[("cert", cert), ("alias", alias)]);
    h.open(
        "div",
        &[
            ("class", "live"),
            ("id", "live-check"),
            ("data-check", &check_url),
        ],
    );
    match state {
        Ok(v) => live_text(&mut h, &v),
        Err(f) => {
            h.message("error", &f.display());
        }
    }
    h.close("div");
    h.p("")
        .link(&state_url(cx, "device", &[]), "Check again")
        .text(" · ")
        .link(
            &with_query("/activity", &[("cert", cert)]),
            "This certificate's activity",
        );
    cx.page("Connect a device", "/connect", h)
}

/// The live check's text for a state from `device_state` (the script renders the same).
fn live_text(h: &mut Html, v: &Value) {
    match s(v, "state") {
        "issued" => h.el(
            "p",
            &[("class", "msg ok"), ("data-state", "issued")],
            &format!(
                "The device got credentials at {} (access key {}, valid until {}).",
                s(v, "at"),
                s(v, "accessKeyId"),
                s(v, "expiration")
            ),
        ),
        "refused" => h.el(
            "p",
            &[("class", "msg error"), ("data-state", "refused")],
            &format!(
                "The device's last request was refused at {}: {}{}",
                s(v, "at"),
                s(v, "reason"),
                match s(v, "statement") {
                    "" => String::new(),
                    st => format!(" (deciding statement: {st})"),
                }
            ),
        ),
        _ => h.el(
            "p",
            &[("class", "msg info"), ("data-state", "waiting")],
            "Waiting for the device's first credential request…",
        ),
    };
}

/// `POST /connect/{step}`.
pub async fn act(cx: &Cx<'_>, step: &str) -> Response<Body> {
    let api = cx.api();
    match step {
        "thing" => {
            let thing = cx.ft("thing");
            let thing_path = path("/things", thing);
            let exists = match api.iot(Method::GET, &thing_path, &[], None).await {
                Ok(_) => true,
                Err(f) if f.is_not_found() => false,
                Err(f) => return cx.failed(&state_url(cx, "thing", &[("thing", thing)]), &f),
            };
            if !exists
                && let Err(f) = api
                    .iot(Method::POST, &thing_path, &[], Some(&json!({})))
                    .await
            {
                return cx.failed(&state_url(cx, "thing", &[("thing", thing)]), &f);
            }
            let msg = if exists {
                format!("Using thing {thing}.")
            } else {
                format!("Thing {thing} created.")
            };
            cx.done(&state_url(cx, "certificate", &[("thing", thing)]), msg)
        }
        "certificate" => {
            let thing = cx.q("thing");
            let (cert, token) = match cx.ft("cert") {
                "" => match create_certificate(cx).await {
                    Ok(v) => v,
                    Err(f) => return cx.failed(&state_url(cx, "certificate", &[]), &f),
                },
                id => (id.to_owned(), String::new()),
            };
            let arn = cx.console.control.registry.certificate_arn(&cert);
            if let Err(f) = api
                .iot_full(
                    Method::PUT,
                    &format!("{}/principals", path("/things", thing)),
                    &[],
                    &[("x-amzn-principal", &arn)],
                    None,
                )
                .await
            {
                return cx.failed(
                    &state_url(cx, "certificate", &[("cert", &cert), ("token", &token)]),
                    &f,
                );
            }
            cx.done(
                &state_url(cx, "certificate", &[("cert", &cert), ("token", &token)]),
                format!("Certificate attached to {thing}."),
            )
        }
        "policy" => {
            let alias = cx.ft("alias");
            let policy = cx.ft("policy");
            let back = state_url(cx, "policy", &[]);
            let exists = match api
                .iot(Method::GET, &path("/policies", policy), &[], None)
                .await
            {
                Ok(_) => true,
                Err(f) if f.is_not_found() => false,
                Err(f) => return cx.failed(&back, &f),
            };
            if !exists {
                let doc = super::policies::template(cx, alias);
                if let Err(f) = api
                    .iot(
                        Method::POST,
                        &path("/policies", policy),
                        &[],
                        Some(&json!({ "policyDocument": doc })),
                    )
                    .await
                {
                    return cx.failed(&back, &f);
                }
            }
            let arn = cx.console.control.registry.certificate_arn(cx.q("cert"));
            if let Err(f) = api
                .iot(
                    Method::PUT,
                    &path("/target-policies", policy),
                    &[],
                    Some(&json!({ "target": arn })),
                )
                .await
            {
                return cx.failed(&back, &f);
            }
            let msg = if exists {
                format!("Policy {policy} attached to the certificate.")
            } else {
                format!(
                    "Policy {policy} created for role alias {alias} and attached to the certificate."
                )
            };
            cx.done(&state_url(cx, "alias", &[("alias", alias)]), msg)
        }
        "alias" => {
            let alias = cx.q("alias");
            match create_alias(cx, alias, cx.ft("role"), cx.ft("duration")).await {
                Ok(()) => cx.done(
                    &state_url(cx, "device", &[]),
                    format!("Role alias {alias} created."),
                ),
                Err(f) => cx.failed(&state_url(cx, "alias", &[]), &f),
            }
        }
        _ => cx.failed("/connect", &Failure::local("NotFound", "No such step.")),
    }
}
