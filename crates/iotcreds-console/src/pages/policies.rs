//! IoT policies: list, create with a JSON editor, versions (view, create, set default,
//! delete), targets, delete. Editor errors are the API's validation messages, shown above the
//! document as it was submitted.

use http::{Method, Response};
use serde_json::{Value, json};

use super::Cx;
use crate::Body;
use crate::api::{Failure, s, time_of};
use crate::html::Html;
use crate::url::path;

/// A starting document: `iot:AssumeRoleWithCertificate` on a role alias of this account.
pub fn template(cx: &Cx<'_>, alias: &str) -> String {
    let arn = iotcreds_types::arn::iot_role_alias(cx.region(), cx.account(), alias);
    serde_json::to_string_pretty(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "iot:AssumeRoleWithCertificate",
            "Resource": arn
        }]
    }))
    .unwrap_or_default()
}

fn editor(h: &mut Html, name: &str, doc: &str) {
    h.open("div", &[("class", "editor")]);
    h.textarea("Policy document (JSON)", name, doc, "14");
    h.el(
        "p",
        &[("class", "json-status"), ("aria-live", "polite")],
        "",
    );
    h.el(
        "button",
        &[("type", "button"), ("class", "format-json")],
        "Format JSON",
    );
    h.close("div");
}

/// `GET /policies`.
pub async fn list(cx: &Cx<'_>) -> Response<Body> {
    list_with(cx, None).await
}

async fn list_with(cx: &Cx<'_>, draft: Option<(&str, &str, &Failure)>) -> Response<Body> {
    let policies = match cx.api().iot_all("/policies", &[], "policies", 1000).await {
        Ok(p) => p,
        Err(f) => return cx.error_page("IoT policies", "/policies", &f),
    };
    let mut h = Html::new();
    h.h1("IoT policies");
    h.table(&["Name", "ARN"], |h| {
        for p in &policies {
            let name = s(p, "policyName");
            h.open("tr", &[])
                .open("td", &[])
                .link(&path("/policies", name), name)
                .close("td");
            h.el("td", &[("class", "mono")], s(p, "policyArn"))
                .close("tr");
        }
    });
    if policies.is_empty() {
        h.note("No IoT policies yet.");
    }
    h.h2("Create a policy");
    let (name, doc) = match draft {
        Some((n, d, f)) => {
            h.message("error", &f.display());
            (n.to_owned(), d.to_owned())
        }
        None => (String::new(), template(cx, "ADCTestRoleAlias")),
    };
    cx.form(&mut h, "/policies", |h| {
        h.input(
            "Policy name",
            "name",
            &name,
            &[("required", ""), ("id", "policy-name")],
        );
        editor(h, "document", &doc);
        h.submit("Create policy");
    });
    let status = draft.map_or(http::StatusCode::OK, |(_, _, f)| f.status);
    cx.page_status(status, "IoT policies", "/policies", h)
}

/// `POST /policies`.
pub async fn create(cx: &Cx<'_>) -> Response<Body> {
    let name = cx.ft("name");
    let doc = cx.f("document");
    match cx
        .api()
        .iot(
            Method::POST,
            &path("/policies", name),
            &[],
            Some(&json!({ "policyDocument": doc })),
        )
        .await
    {
        Ok(_) => cx.done(&path("/policies", name), format!("Policy {name} created.")),
        Err(f) => list_with(cx, Some((name, doc, &f))).await,
    }
}

/// `GET /policies/{name}` (`?version=N` shows that version).
pub async fn show(cx: &Cx<'_>, name: &str) -> Response<Body> {
    show_with(cx, name, None).await
}

async fn show_with(cx: &Cx<'_>, name: &str, draft: Option<(&str, &Failure)>) -> Response<Body> {
    let api = cx.api();
    let base = path("/policies", name);
    let policy = match api.iot(Method::GET, &base, &[], None).await {
        Ok(p) => p,
        Err(f) => return cx.error_page(name, "/policies", &f),
    };
    let versions = api
        .iot(Method::GET, &format!("{base}/version"), &[], None)
        .await
        .ok()
        .and_then(|v| v.get("policyVersions").and_then(Value::as_array).cloned())
        .unwrap_or_default();
    let default_version = s(&policy, "defaultVersionId").to_owned();
    let shown_version = match cx.q("version") {
        "" => default_version.clone(),
        v => v.to_owned(),
    };
    let shown_doc = if shown_version == default_version {
        s(&policy, "policyDocument").to_owned()
    } else {
        match api
            .iot(
                Method::GET,
                &format!("{base}/version/{}", crate::url::enc(&shown_version)),
                &[],
                None,
            )
            .await
        {
            Ok(v) => s(&v, "policyDocument").to_owned(),
            Err(f) => return cx.error_page(name, "/policies", &f),
        }
    };
    let mut h = Html::new();
    h.h1(name);
    h.facts(&[
        ("ARN", s(&policy, "policyArn")),
        ("Default version", &default_version),
    ]);
    h.h2("Versions");
    h.table(&["Version", "Default", "Created", ""], |h| {
        for v in &versions {
            let id = v
                .get("versionId")
                .and_then(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .or_else(|| x.as_i64().map(|n| n.to_string()))
                })
                .unwrap_or_default();
            let is_default = v
                .get("isDefaultVersion")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            h.open("tr", &[]).open("td", &[]);
            h.link(&crate::url::with_query(&base, &[("version", &id)]), &id)
                .close("td");
            h.el("td", &[], if is_default { "default" } else { "" });
            h.el("td", &[], &time_of(v, "createDate")).open("td", &[]);
            if !is_default {
                cx.form(h, &format!("{base}/set-default"), |h| {
                    h.hidden("version", &id);
                    h.el("button", &[("type", "submit")], "Set as default");
                });
                cx.form(h, &format!("{base}/delete-version"), |h| {
                    h.hidden("version", &id);
                    h.el(
                        "button",
                        &[("type", "submit"), ("class", "danger")],
                        "Delete",
                    );
                });
            }
            h.close("td").close("tr");
        }
    });
    h.h2(&format!("Version {shown_version}"));
    h.code_block("policy-document", &pretty(&shown_doc));
    h.h2("New version");
    h.note("A policy keeps at most five versions; delete one first if it has five.");
    let doc = match draft {
        Some((d, f)) => {
            h.message("error", &f.display());
            d.to_owned()
        }
        None => pretty(&shown_doc),
    };
    cx.form(&mut h, &format!("{base}/version"), |h| {
        editor(h, "document", &doc);
        h.checkbox("Set as the default version", "default", true);
        h.submit("Create version");
    });
    h.h2("Targets");
    match api
        .iot(
            Method::POST,
            &format!("/policy-targets/{}", crate::url::enc(name)),
            &[],
            None,
        )
        .await
    {
        Ok(t) => {
            h.open("ul", &[]);
            for target in t
                .get("targets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let arn = target.as_str().unwrap_or("");
                h.open("li", &[("class", "mono")]);
                match arn.rsplit_once(":cert/") {
                    Some((_, id)) => h.link(&path("/certificates", id), arn),
                    None => h.text(arn),
                };
                h.close("li");
            }
            h.close("ul");
        }
        Err(f) => {
            h.message("error", &f.display());
        }
    }
    h.h2("Delete");
    cx.button(
        &mut h,
        &format!("{base}/delete"),
        "Delete policy",
        Some("Delete this policy?"),
    );
    let status = draft.map_or(http::StatusCode::OK, |(_, f)| f.status);
    cx.page_status(status, name, "/policies", h)
}

/// A JSON document pretty-printed (as it is when it does not parse).
pub fn pretty(doc: &str) -> String {
    serde_json::from_str::<Value>(doc)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| doc.to_owned())
}

/// `POST /policies/{name}/{action}`.
pub async fn act(cx: &Cx<'_>, name: &str, action: &str) -> Response<Body> {
    let api = cx.api();
    let base = path("/policies", name);
    let version = cx.ft("version");
    let result = match action {
        "version" => {
            let doc = cx.f("document");
            let default = if cx.checked("default") {
                "true"
            } else {
                "false"
            };
            match api
                .iot(
                    Method::POST,
                    &format!("{base}/version"),
                    &[("setAsDefault", default)],
                    Some(&json!({ "policyDocument": doc })),
                )
                .await
            {
                Ok(v) => Ok(format!("Version {} created.", s(&v, "policyVersionId"))),
                Err(f) => return show_with(cx, name, Some((doc, &f))).await,
            }
        }
        "set-default" => api
            .iot(
                Method::PATCH,
                &format!("{base}/version/{}", crate::url::enc(version)),
                &[],
                None,
            )
            .await
            .map(|_| format!("Version {version} is the default.")),
        "delete-version" => api
            .iot(
                Method::DELETE,
                &format!("{base}/version/{}", crate::url::enc(version)),
                &[],
                None,
            )
            .await
            .map(|_| format!("Version {version} deleted.")),
        "delete" => {
            return match api.iot(Method::DELETE, &base, &[], None).await {
                Ok(_) => cx.done("/policies", format!("Policy {name} deleted.")),
                Err(f) => cx.failed(&base, &f),
            };
        }
        _ => Err(Failure::local("NotFound", "No such action.")),
    };
    match result {
        Ok(m) => cx.done(&base, m),
        Err(f) => cx.failed(&base, &f),
    }
}
