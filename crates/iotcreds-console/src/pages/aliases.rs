//! Role aliases: list, create, update (role, duration), delete; and what a device needs: the
//! credentials endpoint and the exact `curl` and `iotcreds device agent` commands.

use http::{Method, Response};
use serde_json::{Value, json};

use super::Cx;
use crate::Body;
use crate::api::{Failure, s, time_of};
use crate::device::Device;
use crate::html::Html;
use crate::url::path;

/// The roles as select options (ARN, name).
pub async fn role_options(cx: &Cx<'_>) -> Vec<(String, String)> {
    cx.api()
        .iam_all("ListRoles", &[], "Roles", 1000)
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r.text_of("Arn").to_owned(),
                r.text_of("RoleName").to_owned(),
            )
        })
        .collect()
}

/// The credentials endpoint (`DescribeEndpoint iot:CredentialProvider`).
pub async fn endpoint(cx: &Cx<'_>) -> Result<String, Failure> {
    cx.api()
        .iot(
            Method::GET,
            "/endpoint",
            &[("endpointType", "iot:CredentialProvider")],
            None,
        )
        .await
        .map(|v| s(&v, "endpointAddress").to_owned())
}

/// The device's commands for `alias` and `thing`, with the endpoint.
pub fn device_commands(h: &mut Html, endpoint: &str, alias: &str, thing: &str) {
    let d = Device {
        endpoint,
        role_alias: alias,
        thing_name: thing,
    };
    h.facts(&[("Credentials endpoint", endpoint), ("URL", &d.url())]);
    h.p("With curl (files from the certificate's downloads, in the current directory):");
    h.code_block("curl-command", &d.curl());
    h.p("With the iotcreds device agent (keeps credentials fresh for the device's AWS SDKs):");
    h.code_block("agent-command", &d.agent());
}

/// `GET /role-aliases`.
pub async fn list(cx: &Cx<'_>) -> Response<Body> {
    let aliases = match cx
        .api()
        .iot_all("/role-aliases", &[], "roleAliases", 1000)
        .await
    {
        Ok(a) => a,
        Err(f) => return cx.error_page("Role aliases", "/role-aliases", &f),
    };
    let mut h = Html::new();
    h.h1("Role aliases");
    h.open("ul", &[("class", "plain")]);
    for a in &aliases {
        let name = a.as_str().unwrap_or("");
        h.open("li", &[])
            .link(&path("/role-aliases", name), name)
            .close("li");
    }
    h.close("ul");
    if aliases.is_empty() {
        h.note("No role aliases yet.");
    }
    h.h2("Create a role alias");
    let roles = role_options(cx).await;
    cx.form(&mut h, "/role-aliases", |h| {
        h.input(
            "Role alias",
            "name",
            "",
            &[("required", ""), ("id", "alias-name")],
        );
        h.select("Role", "role", &roles, "");
        h.input(
            "Credential duration (seconds, 900–43200)",
            "duration",
            "3600",
            &[("type", "number"), ("min", "900"), ("max", "43200")],
        );
        h.submit("Create role alias");
    });
    cx.page("Role aliases", "/role-aliases", h)
}

/// Create the alias `name` for `role_arn` lasting `duration` seconds.
pub async fn create_alias(
    cx: &Cx<'_>,
    name: &str,
    role_arn: &str,
    duration: &str,
) -> Result<(), Failure> {
    let mut body = json!({ "roleArn": role_arn });
    if !duration.is_empty() {
        let d: i64 = duration.parse().map_err(|_| {
            Failure::local(
                "InvalidRequestException",
                "The duration must be a number of seconds.",
            )
        })?;
        body["credentialDurationSeconds"] = json!(d);
    }
    cx.api()
        .iot(Method::POST, &path("/role-aliases", name), &[], Some(&body))
        .await
        .map(|_| ())
}

/// `POST /role-aliases`.
pub async fn create(cx: &Cx<'_>) -> Response<Body> {
    let name = cx.ft("name");
    match create_alias(cx, name, cx.ft("role"), cx.ft("duration")).await {
        Ok(()) => cx.done(
            &path("/role-aliases", name),
            format!("Role alias {name} created."),
        ),
        Err(f) => cx.failed("/role-aliases", &f),
    }
}

/// `GET /role-aliases/{name}` (`?thing=` fills the commands).
pub async fn show(cx: &Cx<'_>, name: &str) -> Response<Body> {
    let base = path("/role-aliases", name);
    let v = match cx.api().iot(Method::GET, &base, &[], None).await {
        Ok(v) => v,
        Err(f) => return cx.error_page(name, "/role-aliases", &f),
    };
    let d = v
        .get("roleAliasDescription")
        .cloned()
        .unwrap_or(Value::Null);
    let duration = d
        .get("credentialDurationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .to_string();
    let role_arn = s(&d, "roleArn").to_owned();
    let mut h = Html::new();
    h.h1(name);
    h.facts(&[
        ("ARN", s(&d, "roleAliasArn")),
        ("Role", &role_arn),
        ("Credential duration", &format!("{duration} s")),
        ("Created", &time_of(&d, "creationDate")),
        ("Last modified", &time_of(&d, "lastModifiedDate")),
    ]);
    if let Some((_, role)) = role_arn.rsplit_once('/') {
        h.p("").link(&path("/roles", role), "Open the role");
    }
    h.h2("For a device");
    let thing = match cx.q("thing") {
        "" => "THING_NAME",
        t => t,
    };
    h.open(
        "form",
        &[
            ("method", "get"),
            ("action", &base),
            ("class", "inline-form"),
        ],
    );
    h.input(
        "Thing name",
        "thing",
        if thing == "THING_NAME" { "" } else { thing },
        &[("id", "command-thing")],
    );
    h.el("button", &[("type", "submit")], "Show commands");
    h.close("form");
    match endpoint(cx).await {
        Ok(ep) => device_commands(&mut h, &ep, name, thing),
        Err(f) => {
            h.message("error", &f.display());
        }
    }
    h.h2("Change");
    let roles = role_options(cx).await;
    cx.form(&mut h, &format!("{base}/update"), |h| {
        h.select("Role", "role", &roles, &role_arn);
        h.input(
            "Credential duration (seconds)",
            "duration",
            &duration,
            &[("type", "number"), ("min", "900"), ("max", "43200")],
        );
        h.submit("Save");
    });
    h.h2("Delete");
    cx.button(
        &mut h,
        &format!("{base}/delete"),
        "Delete role alias",
        Some("Delete this role alias?"),
    );
    cx.page(name, "/role-aliases", h)
}

/// `POST /role-aliases/{name}/{action}`.
pub async fn act(cx: &Cx<'_>, name: &str, action: &str) -> Response<Body> {
    let base = path("/role-aliases", name);
    let api = cx.api();
    match action {
        "update" => {
            let mut body = json!({ "roleArn": cx.ft("role") });
            if let Ok(d) = cx.ft("duration").parse::<i64>() {
                body["credentialDurationSeconds"] = json!(d);
            }
            match api.iot(Method::PUT, &base, &[], Some(&body)).await {
                Ok(_) => cx.done(&base, "Role alias saved."),
                Err(f) => cx.failed(&base, &f),
            }
        }
        "delete" => match api.iot(Method::DELETE, &base, &[], None).await {
            Ok(_) => cx.done("/role-aliases", format!("Role alias {name} deleted.")),
            Err(f) => cx.failed(&base, &f),
        },
        _ => cx.failed(&base, &Failure::local("NotFound", "No such action.")),
    }
}
