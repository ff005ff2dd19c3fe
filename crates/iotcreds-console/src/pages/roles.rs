//! IAM roles (trust policy, inline and attached managed policies) and customer managed
//! policies.

use http::Response;

use super::Cx;
use super::policies::pretty;
use crate::Body;
use crate::api::Failure;
use crate::html::Html;
use crate::url::{path, with_query};
use crate::xml::decode_document;

/// The trust policy that lets the credentials provider assume a role.
pub const CREDENTIALS_TRUST: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": { "Service": "credentials.iot.amazonaws.com" },
      "Action": "sts:AssumeRole"
    }
  ]
}"#;

/// A permission policy reading one bucket (the seed's).
pub const S3_READ: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    { "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::adc-test-2020-08-26" },
    { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::adc-test-2020-08-26/*" }
  ]
}"#;

fn editor(h: &mut Html, label: &str, name: &str, doc: &str) {
    h.open("div", &[("class", "editor")]);
    h.textarea(label, name, doc, "12");
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

/// The managed policies as select options (ARN, name).
async fn managed_options(cx: &Cx<'_>) -> Vec<(String, String)> {
    cx.api()
        .iam_all("ListPolicies", &[("Scope", "Local")], "Policies", 1000)
        .await
        .unwrap_or_default()
        .iter()
        .map(|p| {
            (
                p.text_of("Arn").to_owned(),
                p.text_of("PolicyName").to_owned(),
            )
        })
        .collect()
}

/// `GET /roles`.
pub async fn list(cx: &Cx<'_>) -> Response<Body> {
    list_with(cx, None).await
}

async fn list_with(cx: &Cx<'_>, draft: Option<&Failure>) -> Response<Body> {
    let roles = match cx.api().iam_all("ListRoles", &[], "Roles", 1000).await {
        Ok(r) => r,
        Err(f) => return cx.error_page("IAM roles", "/roles", &f),
    };
    let mut h = Html::new();
    h.h1("IAM roles");
    h.table(&["Name", "ARN", "Max session"], |h| {
        for r in &roles {
            let name = r.text_of("RoleName");
            h.open("tr", &[])
                .open("td", &[])
                .link(&path("/roles", name), name)
                .close("td");
            h.el("td", &[("class", "mono")], r.text_of("Arn"));
            h.el("td", &[], r.text_of("MaxSessionDuration")).close("tr");
        }
    });
    if roles.is_empty() {
        h.note("No roles yet.");
    }
    h.h2("Create a role");
    if let Some(f) = draft {
        h.message("error", &f.display());
    }
    let (name, trust) = if draft.is_some() {
        (cx.f("name"), cx.f("trust"))
    } else {
        ("", CREDENTIALS_TRUST)
    };
    cx.form(&mut h, "/roles", |h| {
        h.input(
            "Role name",
            "name",
            name,
            &[("required", ""), ("id", "role-name")],
        );
        h.input(
            "Description",
            "description",
            if draft.is_some() {
                cx.f("description")
            } else {
                ""
            },
            &[],
        );
        editor(h, "Trust policy (who may assume the role)", "trust", trust);
        h.submit("Create role");
    });
    let status = draft.map_or(http::StatusCode::OK, |f| f.status);
    cx.page_status(status, "IAM roles", "/roles", h)
}

/// `POST /roles`.
pub async fn create(cx: &Cx<'_>) -> Response<Body> {
    let name = cx.ft("name");
    let mut p = vec![
        ("RoleName", name),
        ("AssumeRolePolicyDocument", cx.f("trust")),
    ];
    if !cx.ft("description").is_empty() {
        p.push(("Description", cx.ft("description")));
    }
    match cx.api().iam("CreateRole", &p).await {
        Ok(_) => cx.done(&path("/roles", name), format!("Role {name} created.")),
        Err(f) => list_with(cx, Some(&f)).await,
    }
}

/// `GET /roles/{name}`.
pub async fn show(cx: &Cx<'_>, name: &str) -> Response<Body> {
    show_with(cx, name, None).await
}

/// Which editor of the role page failed, with the API's message.
struct Draft<'a> {
    editor: &'static str,
    failure: &'a Failure,
}

async fn show_with(cx: &Cx<'_>, name: &str, draft: Option<Draft<'_>>) -> Response<Body> {
    let api = cx.api();
    let base = path("/roles", name);
    let role = match api.iam("GetRole", &[("RoleName", name)]).await {
        Ok(r) => r,
        Err(f) => return cx.error_page(name, "/roles", &f),
    };
    let mut h = Html::new();
    h.h1(name);
    h.facts(&[
        ("ARN", role.text_of("Arn")),
        ("Role ID", role.text_of("RoleId")),
        ("Description", role.text_of("Description")),
        ("Max session duration", role.text_of("MaxSessionDuration")),
        ("Created", role.text_of("CreateDate")),
    ]);
    let error_for = |h: &mut Html, editor: &str| {
        if let Some(d) = &draft
            && d.editor == editor
        {
            h.message("error", &d.failure.display());
        }
    };

    h.h2("Trust policy");
    error_for(&mut h, "trust");
    let trust = if draft.as_ref().is_some_and(|d| d.editor == "trust") {
        cx.f("document").to_owned()
    } else {
        pretty(&decode_document(role.text_of("AssumeRolePolicyDocument")))
    };
    cx.form(&mut h, &format!("{base}/trust"), |h| {
        editor(h, "Trust policy", "document", &trust);
        h.submit("Save trust policy");
    });

    h.h2("Inline policies");
    match api
        .iam_all(
            "ListRolePolicies",
            &[("RoleName", name)],
            "PolicyNames",
            100,
        )
        .await
    {
        Ok(names) => {
            for n in names {
                let pname = n.text.clone();
                h.open("details", &[]).el("summary", &[], &pname);
                match api
                    .iam(
                        "GetRolePolicy",
                        &[("RoleName", name), ("PolicyName", &pname)],
                    )
                    .await
                {
                    Ok(p) => {
                        h.code_block(
                            &format!("inline-{pname}"),
                            &pretty(&decode_document(p.text_of("PolicyDocument"))),
                        );
                    }
                    Err(f) => {
                        h.message("error", &f.display());
                    }
                }
                cx.form(&mut h, &format!("{base}/delete-inline"), |h| {
                    h.hidden("policy", &pname);
                    h.el(
                        "button",
                        &[("type", "submit"), ("class", "danger")],
                        "Delete inline policy",
                    );
                });
                h.close("details");
            }
        }
        Err(f) => {
            h.message("error", &f.display());
        }
    }
    error_for(&mut h, "inline");
    let (iname, idoc) = if draft.as_ref().is_some_and(|d| d.editor == "inline") {
        (cx.f("policy").to_owned(), cx.f("document").to_owned())
    } else {
        (String::new(), S3_READ.to_owned())
    };
    cx.form(&mut h, &format!("{base}/put-inline"), |h| {
        h.input(
            "Policy name",
            "policy",
            &iname,
            &[("required", ""), ("id", "inline-name")],
        );
        editor(h, "Permission policy", "document", &idoc);
        h.submit("Add or replace inline policy");
    });

    h.h2("Managed policies");
    match api
        .iam_all(
            "ListAttachedRolePolicies",
            &[("RoleName", name)],
            "AttachedPolicies",
            100,
        )
        .await
    {
        Ok(list) => {
            h.table(&["Policy", ""], |h| {
                for p in &list {
                    let arn = p.text_of("PolicyArn");
                    h.open("tr", &[]).open("td", &[]);
                    h.link(
                        &with_query("/iam-policies/view", &[("arn", arn)]),
                        p.text_of("PolicyName"),
                    );
                    h.close("td").open("td", &[]);
                    cx.form(h, &format!("{base}/detach"), |h| {
                        h.hidden("arn", arn);
                        h.el(
                            "button",
                            &[("type", "submit"), ("class", "danger")],
                            "Detach",
                        );
                    });
                    h.close("td").close("tr");
                }
            });
        }
        Err(f) => {
            h.message("error", &f.display());
        }
    }
    let managed = managed_options(cx).await;
    if !managed.is_empty() {
        cx.form(&mut h, &format!("{base}/attach"), |h| {
            h.select("Attach managed policy", "arn", &managed, "");
            h.submit("Attach");
        });
    }
    h.h2("Delete");
    h.note("A role can be deleted once it has no inline or attached policies.");
    cx.button(
        &mut h,
        &format!("{base}/delete"),
        "Delete role",
        Some("Delete this role?"),
    );
    let status = draft
        .as_ref()
        .map_or(http::StatusCode::OK, |d| d.failure.status);
    cx.page_status(status, name, "/roles", h)
}

/// `POST /roles/{name}/{action}`.
pub async fn act(cx: &Cx<'_>, name: &str, action: &str) -> Response<Body> {
    let api = cx.api();
    let base = path("/roles", name);
    let (editor, result) = match action {
        "trust" => (
            "trust",
            api.iam(
                "UpdateAssumeRolePolicy",
                &[("RoleName", name), ("PolicyDocument", cx.f("document"))],
            )
            .await
            .map(|_| "Trust policy saved.".to_owned()),
        ),
        "put-inline" => (
            "inline",
            api.iam(
                "PutRolePolicy",
                &[
                    ("RoleName", name),
                    ("PolicyName", cx.ft("policy")),
                    ("PolicyDocument", cx.f("document")),
                ],
            )
            .await
            .map(|_| format!("Inline policy {} saved.", cx.ft("policy"))),
        ),
        "delete-inline" => (
            "",
            api.iam(
                "DeleteRolePolicy",
                &[("RoleName", name), ("PolicyName", cx.ft("policy"))],
            )
            .await
            .map(|_| format!("Inline policy {} deleted.", cx.ft("policy"))),
        ),
        "attach" => (
            "",
            api.iam(
                "AttachRolePolicy",
                &[("RoleName", name), ("PolicyArn", cx.ft("arn"))],
            )
            .await
            .map(|_| "Managed policy attached.".to_owned()),
        ),
        "detach" => (
            "",
            api.iam(
                "DetachRolePolicy",
                &[("RoleName", name), ("PolicyArn", cx.ft("arn"))],
            )
            .await
            .map(|_| "Managed policy detached.".to_owned()),
        ),
        "delete" => {
            return match api.iam("DeleteRole", &[("RoleName", name)]).await {
                Ok(_) => cx.done("/roles", format!("Role {name} deleted.")),
                Err(f) => cx.failed(&base, &f),
            };
        }
        _ => ("", Err(Failure::local("NotFound", "No such action."))),
    };
    match result {
        Ok(m) => cx.done(&base, m),
        Err(f) if !editor.is_empty() => {
            show_with(
                cx,
                name,
                Some(Draft {
                    editor,
                    failure: &f,
                }),
            )
            .await
        }
        Err(f) => cx.failed(&base, &f),
    }
}

/// `GET /iam-policies`.
pub async fn managed_list(cx: &Cx<'_>) -> Response<Body> {
    managed_list_with(cx, None).await
}

async fn managed_list_with(cx: &Cx<'_>, draft: Option<&Failure>) -> Response<Body> {
    let policies = match cx
        .api()
        .iam_all("ListPolicies", &[("Scope", "Local")], "Policies", 1000)
        .await
    {
        Ok(p) => p,
        Err(f) => return cx.error_page("IAM policies", "/iam-policies", &f),
    };
    let mut h = Html::new();
    h.h1("IAM managed policies");
    h.table(&["Name", "ARN", "Attachments", "Default version"], |h| {
        for p in &policies {
            let arn = p.text_of("Arn");
            h.open("tr", &[]).open("td", &[]);
            h.link(
                &with_query("/iam-policies/view", &[("arn", arn)]),
                p.text_of("PolicyName"),
            );
            h.close("td").el("td", &[("class", "mono")], arn);
            h.el("td", &[], p.text_of("AttachmentCount"));
            h.el("td", &[], p.text_of("DefaultVersionId")).close("tr");
        }
    });
    if policies.is_empty() {
        h.note("No customer managed policies yet.");
    }
    h.h2("Create a managed policy");
    if let Some(f) = draft {
        h.message("error", &f.display());
    }
    let (name, doc) = if draft.is_some() {
        (cx.f("name"), cx.f("document"))
    } else {
        ("", S3_READ)
    };
    cx.form(&mut h, "/iam-policies", |h| {
        h.input("Policy name", "name", name, &[("required", "")]);
        editor(h, "Policy document", "document", doc);
        h.submit("Create policy");
    });
    let status = draft.map_or(http::StatusCode::OK, |f| f.status);
    cx.page_status(status, "IAM policies", "/iam-policies", h)
}

/// `POST /iam-policies`.
pub async fn managed_create(cx: &Cx<'_>) -> Response<Body> {
    let name = cx.ft("name");
    match cx
        .api()
        .iam(
            "CreatePolicy",
            &[("PolicyName", name), ("PolicyDocument", cx.f("document"))],
        )
        .await
    {
        Ok(n) => cx.done(
            &with_query("/iam-policies/view", &[("arn", n.text_of("Arn"))]),
            format!("Policy {name} created."),
        ),
        Err(f) => managed_list_with(cx, Some(&f)).await,
    }
}

/// `GET /iam-policies/view?arn=…`.
pub async fn managed_show(cx: &Cx<'_>) -> Response<Body> {
    let arn = cx.q("arn");
    let api = cx.api();
    let p = match api.iam("GetPolicy", &[("PolicyArn", arn)]).await {
        Ok(p) => p,
        Err(f) => return cx.error_page("IAM policy", "/iam-policies", &f),
    };
    let version = p.text_of("DefaultVersionId").to_owned();
    let mut h = Html::new();
    h.h1(p.text_of("PolicyName"));
    h.facts(&[
        ("ARN", arn),
        ("Default version", &version),
        ("Attachments", p.text_of("AttachmentCount")),
    ]);
    match api
        .iam(
            "GetPolicyVersion",
            &[("PolicyArn", arn), ("VersionId", &version)],
        )
        .await
    {
        Ok(v) => {
            h.code_block(
                "managed-document",
                &pretty(&decode_document(v.text_of("Document"))),
            );
        }
        Err(f) => {
            h.message("error", &f.display());
        }
    }
    h.h2("New default version");
    cx.form(&mut h, "/iam-policies/act", |h| {
        h.hidden("arn", arn).hidden("action", "version");
        editor(h, "Policy document", "document", "");
        h.submit("Create version");
    });
    h.h2("Delete");
    cx.form(&mut h, "/iam-policies/act", |h| {
        h.hidden("arn", arn).hidden("action", "delete");
        h.el(
            "button",
            &[
                ("type", "submit"),
                ("class", "danger"),
                ("data-confirm", "Delete this policy?"),
            ],
            "Delete policy",
        );
    });
    cx.page("IAM policy", "/iam-policies", h)
}

/// `POST /iam-policies/act`.
pub async fn managed_act(cx: &Cx<'_>) -> Response<Body> {
    let arn = cx.ft("arn");
    let view = with_query("/iam-policies/view", &[("arn", arn)]);
    let api = cx.api();
    match cx.ft("action") {
        "version" => match api
            .iam(
                "CreatePolicyVersion",
                &[
                    ("PolicyArn", arn),
                    ("PolicyDocument", cx.f("document")),
                    ("SetAsDefault", "true"),
                ],
            )
            .await
        {
            Ok(v) => cx.done(
                &view,
                format!("Version {} created.", v.text_of("VersionId")),
            ),
            Err(f) => cx.failed(&view, &f),
        },
        "delete" => match api.iam("DeletePolicy", &[("PolicyArn", arn)]).await {
            Ok(_) => cx.done("/iam-policies", "Policy deleted."),
            Err(f) => cx.failed(&view, &f),
        },
        _ => cx.failed(&view, &Failure::local("NotFound", "No such action.")),
    }
}
