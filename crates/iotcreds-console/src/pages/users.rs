//! IAM users: list, create (optionally with a console password), console password
//! (login profile), access keys (the secret shown once), inline and managed policies, delete.

use http::Response;

use super::Cx;
use super::policies::pretty;
use crate::Body;
use crate::api::Failure;
use crate::html::Html;
use crate::url::{path, with_query};
use crate::xml::decode_document;

/// A read-only starting policy for a user of the console.
const READ_ONLY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["iot:Describe*", "iot:List*", "iot:Get*", "iam:Get*", "iam:List*", "s3:ListAllMyBuckets", "s3:ListBucket", "cloudtrail:LookupEvents"],
      "Resource": "*"
    }
  ]
}"#;

/// `GET /users`.
pub async fn list(cx: &Cx<'_>) -> Response<Body> {
    let users = match cx.api().iam_all("ListUsers", &[], "Users", 1000).await {
        Ok(u) => u,
        Err(f) => return cx.error_page("IAM users", "/users", &f),
    };
    let mut h = Html::new();
    h.h1("IAM users");
    h.table(&["Name", "ARN", "Created"], |h| {
        for u in &users {
            let name = u.text_of("UserName");
            h.open("tr", &[])
                .open("td", &[])
                .link(&path("/users", name), name)
                .close("td");
            h.el("td", &[("class", "mono")], u.text_of("Arn"));
            h.el("td", &[], u.text_of("CreateDate")).close("tr");
        }
    });
    if users.is_empty() {
        h.note("No IAM users yet.");
    }
    h.h2("Create a user");
    cx.form(&mut h, "/users", |h| {
        h.input(
            "User name",
            "name",
            "",
            &[("required", ""), ("id", "new-user-name")],
        );
        h.input(
            "Console password (optional)",
            "password",
            "",
            &[
                ("type", "password"),
                ("autocomplete", "new-password"),
                ("id", "new-user-password"),
            ],
        );
        h.note(&format!(
            "Passwords need {}.",
            iotcreds_registry::password::POLICY_TEXT
        ));
        h.checkbox(
            "Must choose a new password at the next sign-in",
            "reset",
            false,
        );
        h.submit("Create user");
    });
    cx.page("IAM users", "/users", h)
}

/// `POST /users`.
pub async fn create(cx: &Cx<'_>) -> Response<Body> {
    let name = cx.ft("name");
    let api = cx.api();
    if let Err(f) = api.iam("CreateUser", &[("UserName", name)]).await {
        return cx.failed("/users", &f);
    }
    let page = path("/users", name);
    if cx.f("password").is_empty() {
        return cx.done(&page, format!("User {name} created."));
    }
    let reset = if cx.checked("reset") { "true" } else { "false" };
    match api
        .iam(
            "CreateLoginProfile",
            &[
                ("UserName", name),
                ("Password", cx.f("password")),
                ("PasswordResetRequired", reset),
            ],
        )
        .await
    {
        Ok(_) => cx.done(
            &page,
            format!("User {name} created with a console password."),
        ),
        Err(f) => {
            cx.flash(
                "error",
                format!("User {name} created, but not its password: {}", f.display()),
            );
            crate::redirect(&page)
        }
    }
}

/// `GET /users/{name}`.
pub async fn show(cx: &Cx<'_>, name: &str) -> Response<Body> {
    let api = cx.api();
    let base = path("/users", name);
    let user = match api.iam("GetUser", &[("UserName", name)]).await {
        Ok(u) => u,
        Err(f) => return cx.error_page(name, "/users", &f),
    };
    let mut h = Html::new();
    h.h1(name);
    h.facts(&[
        ("ARN", user.text_of("Arn")),
        ("User ID", user.text_of("UserId")),
        ("Created", user.text_of("CreateDate")),
    ]);

    h.h2("Console password");
    match api.iam("GetLoginProfile", &[("UserName", name)]).await {
        Ok(p) => {
            h.facts(&[
                ("Set", p.text_of("CreateDate")),
                (
                    "Must be changed at next sign-in",
                    p.text_of("PasswordResetRequired"),
                ),
            ]);
            cx.form(&mut h, &format!("{base}/password"), |h| {
                h.input(
                    "New password",
                    "password",
                    "",
                    &[("type", "password"), ("autocomplete", "new-password")],
                );
                h.checkbox(
                    "Must choose a new password at the next sign-in",
                    "reset",
                    false,
                );
                h.submit("Set password");
            });
            cx.button(
                &mut h,
                &format!("{base}/delete-password"),
                "Remove console password",
                Some("Remove this user's console password?"),
            );
        }
        Err(f) if f.is_not_found() => {
            h.note("This user cannot sign in to the console.");
            cx.form(&mut h, &format!("{base}/create-password"), |h| {
                h.input(
                    "Password",
                    "password",
                    "",
                    &[
                        ("type", "password"),
                        ("autocomplete", "new-password"),
                        ("required", ""),
                    ],
                );
                h.note(&format!(
                    "Passwords need {}.",
                    iotcreds_registry::password::POLICY_TEXT
                ));
                h.checkbox(
                    "Must choose a new password at the next sign-in",
                    "reset",
                    false,
                );
                h.submit("Create console password");
            });
        }
        Err(f) => {
            h.message("error", &f.display());
        }
    }

    h.h2("Access keys");
    match api
        .iam_all(
            "ListAccessKeys",
            &[("UserName", name)],
            "AccessKeyMetadata",
            10,
        )
        .await
    {
        Ok(keys) => {
            h.table(&["Access key ID", "Status", "Created", ""], |h| {
                for k in &keys {
                    let id = k.text_of("AccessKeyId");
                    let status = k.text_of("Status");
                    h.open("tr", &[])
                        .el("td", &[("class", "mono")], id)
                        .el("td", &[], status);
                    h.el("td", &[], k.text_of("CreateDate")).open("td", &[]);
                    let (label, next) = if status == "Active" {
                        ("Deactivate", "Inactive")
                    } else {
                        ("Activate", "Active")
                    };
                    cx.form(h, &format!("{base}/key-status"), |h| {
                        h.hidden("key", id).hidden("status", next);
                        h.el("button", &[("type", "submit")], label);
                    });
                    cx.form(h, &format!("{base}/delete-key"), |h| {
                        h.hidden("key", id);
                        h.el(
                            "button",
                            &[
                                ("type", "submit"),
                                ("class", "danger"),
                                ("data-confirm", "Delete this access key?"),
                            ],
                            "Delete",
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
    cx.button(
        &mut h,
        &format!("{base}/create-key"),
        "Create access key",
        None,
    );

    h.h2("Inline policies");
    match api
        .iam_all(
            "ListUserPolicies",
            &[("UserName", name)],
            "PolicyNames",
            100,
        )
        .await
    {
        Ok(names) => {
            for n in names {
                let pname = n.text.clone();
                h.open("details", &[]).el("summary", &[], &pname);
                if let Ok(p) = api
                    .iam(
                        "GetUserPolicy",
                        &[("UserName", name), ("PolicyName", &pname)],
                    )
                    .await
                {
                    h.code_block(
                        &format!("inline-{pname}"),
                        &pretty(&decode_document(p.text_of("PolicyDocument"))),
                    );
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
    cx.form(&mut h, &format!("{base}/put-inline"), |h| {
        h.input(
            "Policy name",
            "policy",
            "",
            &[("required", ""), ("id", "user-inline-name")],
        );
        h.open("div", &[("class", "editor")]);
        h.textarea("Permission policy", "document", READ_ONLY, "10");
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
        h.submit("Add or replace inline policy");
    });

    h.h2("Managed policies");
    match api
        .iam_all(
            "ListAttachedUserPolicies",
            &[("UserName", name)],
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
    let managed: Vec<(String, String)> = api
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
        .collect();
    if !managed.is_empty() {
        cx.form(&mut h, &format!("{base}/attach"), |h| {
            h.select("Attach managed policy", "arn", &managed, "");
            h.submit("Attach");
        });
    }
    h.h2("Delete");
    h.note("A user can be deleted once it has no access keys, console password or policies.");
    cx.button(
        &mut h,
        &format!("{base}/delete"),
        "Delete user",
        Some("Delete this user?"),
    );
    cx.page(name, "/users", h)
}

/// `POST /users/{name}/{action}`.
pub async fn act(cx: &Cx<'_>, name: &str, action: &str) -> Response<Body> {
    let api = cx.api();
    let base = path("/users", name);
    let reset = if cx.checked("reset") { "true" } else { "false" };
    let result = match action {
        "create-password" => api
            .iam(
                "CreateLoginProfile",
                &[
                    ("UserName", name),
                    ("Password", cx.f("password")),
                    ("PasswordResetRequired", reset),
                ],
            )
            .await
            .map(|_| "Console password created.".to_owned()),
        "password" => {
            let mut p = vec![("UserName", name), ("PasswordResetRequired", reset)];
            if !cx.f("password").is_empty() {
                p.push(("Password", cx.f("password")));
            }
            api.iam("UpdateLoginProfile", &p)
                .await
                .map(|_| "Console password updated.".to_owned())
        }
        "delete-password" => api
            .iam("DeleteLoginProfile", &[("UserName", name)])
            .await
            .map(|_| "Console password removed.".to_owned()),
        "create-key" => {
            return match api.iam("CreateAccessKey", &[("UserName", name)]).await {
                Ok(k) => {
                    let mut h = Html::new();
                    h.h1("Access key created");
                    h.message(
                        "info",
                        "The secret access key is shown only this once. Copy it now.",
                    );
                    h.facts(&[("User", name), ("Access key ID", k.text_of("AccessKeyId"))]);
                    h.p("Secret access key:");
                    h.code_block("secret-access-key", k.text_of("SecretAccessKey"));
                    h.link(&base, "Back to the user");
                    cx.page("Access key created", "/users", h)
                }
                Err(f) => cx.failed(&base, &f),
            };
        }
        "key-status" => api
            .iam(
                "UpdateAccessKey",
                &[
                    ("UserName", name),
                    ("AccessKeyId", cx.ft("key")),
                    ("Status", cx.ft("status")),
                ],
            )
            .await
            .map(|_| format!("Access key {} is {}.", cx.ft("key"), cx.ft("status"))),
        "delete-key" => api
            .iam(
                "DeleteAccessKey",
                &[("UserName", name), ("AccessKeyId", cx.ft("key"))],
            )
            .await
            .map(|_| format!("Access key {} deleted.", cx.ft("key"))),
        "put-inline" => api
            .iam(
                "PutUserPolicy",
                &[
                    ("UserName", name),
                    ("PolicyName", cx.ft("policy")),
                    ("PolicyDocument", cx.f("document")),
                ],
            )
            .await
            .map(|_| format!("Inline policy {} saved.", cx.ft("policy"))),
        "delete-inline" => api
            .iam(
                "DeleteUserPolicy",
                &[("UserName", name), ("PolicyName", cx.ft("policy"))],
            )
            .await
            .map(|_| format!("Inline policy {} deleted.", cx.ft("policy"))),
        "attach" => api
            .iam(
                "AttachUserPolicy",
                &[("UserName", name), ("PolicyArn", cx.ft("arn"))],
            )
            .await
            .map(|_| "Managed policy attached.".to_owned()),
        "detach" => api
            .iam(
                "DetachUserPolicy",
                &[("UserName", name), ("PolicyArn", cx.ft("arn"))],
            )
            .await
            .map(|_| "Managed policy detached.".to_owned()),
        "delete" => {
            return match api.iam("DeleteUser", &[("UserName", name)]).await {
                Ok(_) => cx.done("/users", format!("User {name} deleted.")),
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
