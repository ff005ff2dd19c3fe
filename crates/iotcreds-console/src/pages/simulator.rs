//! The policy simulator: IAM's `SimulatePrincipalPolicy` (a user's or role's policies as they
//! are) and `SimulateCustomPolicy` (a document being written), with the deciding statements
//! and the context keys a policy used but the request did not give.

use http::Response;

use super::Cx;
use crate::Body;
use crate::api::Failure;
use crate::html::Html;
use crate::xml::Node;

fn lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

async fn principals(cx: &Cx<'_>) -> Vec<(String, String)> {
    let api = cx.api();
    let mut out = Vec::new();
    for r in api
        .iam_all("ListRoles", &[], "Roles", 1000)
        .await
        .unwrap_or_default()
    {
        out.push((
            r.text_of("Arn").to_owned(),
            format!("role {}", r.text_of("RoleName")),
        ));
    }
    for u in api
        .iam_all("ListUsers", &[], "Users", 1000)
        .await
        .unwrap_or_default()
    {
        out.push((
            u.text_of("Arn").to_owned(),
            format!("user {}", u.text_of("UserName")),
        ));
    }
    out
}

fn form(cx: &Cx<'_>, h: &mut Html, options: &[(String, String)], values: &Values<'_>) {
    cx.form(h, "/simulator", |h| {
        h.select(
            "Simulate",
            "mode",
            &[
                (
                    "principal".to_owned(),
                    "the policies of a user or role".to_owned(),
                ),
                ("custom".to_owned(), "a policy document".to_owned()),
            ],
            values.mode,
        );
        h.select("User or role", "principal", options, values.principal);
        h.textarea(
            "Policy document (for a policy document)",
            "document",
            values.document,
            "8",
        );
        h.textarea("Actions (one per line)", "actions", values.actions, "3");
        h.textarea(
            "Resources (one per line; * if empty)",
            "resources",
            values.resources,
            "3",
        );
        h.textarea(
            "Context keys (NAME=VALUE per line, e.g. aws:SourceIp=192.0.2.1)",
            "context",
            values.context,
            "3",
        );
        h.submit("Simulate");
    });
}

struct Values<'a> {
    mode: &'a str,
    principal: &'a str,
    document: &'a str,
    actions: &'a str,
    resources: &'a str,
    context: &'a str,
}

/// `GET /simulator`.
pub async fn show(cx: &Cx<'_>) -> Response<Body> {
    let options = principals(cx).await;
    let mut h = Html::new();
    h.h1("Policy simulator");
    h.note("Ask IAM what it would decide, and which statement decides it. Nothing is changed.");
    form(
        cx,
        &mut h,
        &options,
        &Values {
            mode: "principal",
            principal: "",
            document: "",
            actions: "s3:GetObject",
            resources: "arn:aws:s3:::adc-test-2020-08-26/test.txt",
            context: "",
        },
    );
    cx.page("Policy simulator", "/simulator", h)
}

/// `POST /simulator`.
pub async fn run(cx: &Cx<'_>) -> Response<Body> {
    let mode = cx.f("mode");
    let actions = lines(cx.f("actions"));
    let mut resources = lines(cx.f("resources"));
    if resources.is_empty() {
        resources.push("*");
    }
    let mut params: Vec<(String, String)> = Vec::new();
    match mode {
        "custom" => params.push((
            "PolicyInputList.member.1".into(),
            cx.f("document").to_owned(),
        )),
        _ => params.push(("PolicySourceArn".into(), cx.ft("principal").to_owned())),
    }
    for (i, a) in actions.iter().enumerate() {
        params.push((format!("ActionNames.member.{}", i + 1), (*a).to_owned()));
    }
    for (i, r) in resources.iter().enumerate() {
        params.push((format!("ResourceArns.member.{}", i + 1), (*r).to_owned()));
    }
    let mut bad_line = None;
    for (i, line) in lines(cx.f("context")).into_iter().enumerate() {
        let Some((k, v)) = line.split_once('=') else {
            bad_line = Some(line.to_owned());
            break;
        };
        let n = i + 1;
        params.push((
            format!("ContextEntries.member.{n}.ContextKeyName"),
            k.trim().to_owned(),
        ));
        params.push((
            format!("ContextEntries.member.{n}.ContextKeyValues.member.1"),
            v.trim().to_owned(),
        ));
        params.push((
            format!("ContextEntries.member.{n}.ContextKeyType"),
            "string".to_owned(),
        ));
    }
    let action = if mode == "custom" {
        "SimulateCustomPolicy"
    } else {
        "SimulatePrincipalPolicy"
    };
    let result = match bad_line {
        Some(l) => Err(Failure::local(
            "InvalidInput",
            format!("Context line '{l}' is not NAME=VALUE."),
        )),
        None => {
            let p: Vec<(&str, &str)> = params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            cx.api().iam(action, &p).await
        }
    };
    let options = principals(cx).await;
    let mut h = Html::new();
    h.h1("Policy simulator");
    let status = match &result {
        Ok(n) => {
            results(&mut h, n);
            http::StatusCode::OK
        }
        Err(f) => {
            h.message("error", &f.display());
            f.status
        }
    };
    form(
        cx,
        &mut h,
        &options,
        &Values {
            mode,
            principal: cx.ft("principal"),
            document: cx.f("document"),
            actions: cx.f("actions"),
            resources: cx.f("resources"),
            context: cx.f("context"),
        },
    );
    cx.page_status(status, "Policy simulator", "/simulator", h)
}

fn results(h: &mut Html, n: &Node) {
    h.h2("Results");
    h.table(
        &[
            "Action",
            "Resource",
            "Decision",
            "Deciding statements",
            "Missing context keys",
        ],
        |h| {
            for r in n.members("EvaluationResults") {
                let decision = r.text_of("EvalDecision");
                let class = if decision == "allowed" {
                    "allow"
                } else {
                    "deny"
                };
                h.open("tr", &[("class", class)]);
                h.el("td", &[("class", "mono")], r.text_of("EvalActionName"));
                h.el("td", &[("class", "mono")], r.text_of("EvalResourceName"));
                h.open("td", &[])
                    .el("strong", &[("class", "decision")], decision)
                    .close("td");
                let statements: Vec<String> = r
                    .members("MatchedStatements")
                    .iter()
                    .map(|m| {
                        let line = m
                            .find("StartPosition")
                            .map(|p| format!(" (line {})", p.text_of("Line")))
                            .unwrap_or_default();
                        format!("{}{line}", m.text_of("SourcePolicyId"))
                    })
                    .collect();
                h.el("td", &[("class", "mono")], &statements.join(", "));
                h.el(
                    "td",
                    &[("class", "mono")],
                    &r.strings("MissingContextValues").join(", "),
                );
                h.close("tr");
            }
        },
    );
}
