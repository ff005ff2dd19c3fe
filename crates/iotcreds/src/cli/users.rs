//! `iotcreds user …`: IAM users, their access keys and inline policies.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use iotcreds_types::names::{IAM_POLICY_NAME, IAM_USER_NAME, check_iam_path};
use serde_json::Value;

use super::client::{params, push_opt};
use super::config::ClientArgs;
use super::output::{Output, emit_message, emit_with, fields, list_table};
use super::{invalid, read_document, write_secret};

/// `iotcreds user`.
#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(flatten)]
    conn: ClientArgs,
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create a user (CreateUser).
    Create {
        /// User name: 1-64 of [\w+=,.@-].
        name: String,
        /// Path [default: /].
        #[arg(long)]
        path: Option<String>,
    },
    /// Show a user (GetUser).
    Get {
        /// User name.
        name: String,
    },
    /// List users (ListUsers, every page).
    List,
    /// Delete a user without keys or policies (DeleteUser).
    Delete {
        /// User name.
        name: String,
    },
    /// Create an access key (CreateAccessKey). The secret is shown once: here, or only in
    /// --credentials-out.
    CreateAccessKey {
        /// User name.
        name: String,
        /// Write an AWS shared-credentials file ([default] profile, mode 0600) instead of
        /// printing the secret.
        #[arg(long, value_name = "FILE")]
        credentials_out: Option<PathBuf>,
    },
    /// List a user's access keys (ListAccessKeys).
    ListAccessKeys {
        /// User name.
        name: String,
    },
    /// Delete an access key (DeleteAccessKey).
    DeleteAccessKey {
        /// User name.
        name: String,
        /// Access key id.
        access_key_id: String,
    },
    /// Add or replace an inline policy (PutUserPolicy).
    PutPolicy {
        /// User name.
        user: String,
        /// Policy name: 1-128 of [\w+=,.@-].
        name: String,
        /// The policy document: a JSON file, file://FILE, or inline JSON.
        #[arg(long, value_name = "FILE_OR_JSON")]
        document: String,
    },
    /// List a user's inline policies (ListUserPolicies).
    ListPolicies {
        /// User name.
        user: String,
    },
    /// Delete an inline policy (DeleteUserPolicy).
    DeletePolicy {
        /// User name.
        user: String,
        /// Policy name.
        name: String,
    },
    /// The user's console password: create, get, update, delete (…LoginProfile).
    LoginProfile {
        #[command(subcommand)]
        command: super::login::LoginProfileCommand,
    },
}

fn check_user(name: &str) -> anyhow::Result<()> {
    IAM_USER_NAME.check("userName", name).map_err(invalid)
}

/// Run `iotcreds user …`.
pub async fn run(args: UserArgs, out: Output) -> anyhow::Result<()> {
    match &args.command {
        UserCommand::Create { name, path } => {
            check_user(name)?;
            if let Some(p) = path {
                check_iam_path("path", p).map_err(invalid)?;
            }
        }
        UserCommand::Get { name }
        | UserCommand::Delete { name }
        | UserCommand::CreateAccessKey { name, .. }
        | UserCommand::ListAccessKeys { name }
        | UserCommand::DeleteAccessKey { name, .. }
        | UserCommand::ListPolicies { user: name } => check_user(name)?,
        UserCommand::PutPolicy { user, name, .. } | UserCommand::DeletePolicy { user, name } => {
            check_user(user)?;
            IAM_POLICY_NAME.check("policyName", name).map_err(invalid)?;
        }
        UserCommand::LoginProfile { command } => check_user(command.user())?,
        UserCommand::List => {}
    }
    let document = match &args.command {
        UserCommand::PutPolicy { document, .. } => read_document(document)?,
        _ => String::new(),
    };
    let client = super::connect(&args.conn)?;
    let user_text = |v: &Value| {
        fields(
            v.get("User").unwrap_or(v),
            &["UserName", "Arn", "UserId", "Path", "CreateDate"],
        )
    };
    match args.command {
        UserCommand::Create { name, path } => {
            let mut p = params(&[("UserName", &name)]);
            push_opt(&mut p, "Path", path);
            let v = client.query("iam", "CreateUser", &p).await?;
            emit_with(out, &v, user_text);
        }
        UserCommand::Get { name } => {
            let v = client
                .query("iam", "GetUser", &params(&[("UserName", &name)]))
                .await?;
            emit_with(out, &v, user_text);
        }
        UserCommand::List => {
            let v = client.iam_all("ListUsers", &[], "Users").await?;
            emit_with(out, &v, |v| list_table(v, "Users", &["UserName", "Arn"]));
        }
        UserCommand::Delete { name } => {
            let v = client
                .query("iam", "DeleteUser", &params(&[("UserName", &name)]))
                .await?;
            emit_message(out, &v, &format!("User {name} deleted."));
        }
        UserCommand::CreateAccessKey {
            name,
            credentials_out,
        } => {
            let mut v = client
                .query("iam", "CreateAccessKey", &params(&[("UserName", &name)]))
                .await?;
            let key = v.get("AccessKey").cloned().unwrap_or(Value::Null);
            let get = |k: &str| {
                key.get(k)
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow::anyhow!("CreateAccessKey answered without {k}"))
            };
            let akid = get("AccessKeyId")?;
            match credentials_out {
                Some(path) => {
                    let text = format!(
                        "[default]\naws_access_key_id = {akid}\naws_secret_access_key = {}\nregion = {}\n",
                        get("SecretAccessKey")?,
                        client.region()
                    );
                    write_secret(&path, &text)?;
                    if let Some(k) = v.get_mut("AccessKey").and_then(Value::as_object_mut) {
                        k.remove("SecretAccessKey");
                    }
                    let msg = format!(
                        "AccessKeyId: {akid}\ncredentials written to {} (mode 0600)",
                        path.display()
                    );
                    emit_message(out, &v, &msg);
                }
                None => {
                    let msg = format!(
                        "AccessKeyId: {akid}\nSecretAccessKey: {}\n(the secret is shown only this once)",
                        get("SecretAccessKey")?
                    );
                    emit_message(out, &v, &msg);
                }
            }
        }
        UserCommand::ListAccessKeys { name } => {
            let v = client
                .iam_all(
                    "ListAccessKeys",
                    &params(&[("UserName", &name)]),
                    "AccessKeyMetadata",
                )
                .await?;
            emit_with(out, &v, |v| {
                list_table(
                    v,
                    "AccessKeyMetadata",
                    &["AccessKeyId", "Status", "CreateDate"],
                )
            });
        }
        UserCommand::DeleteAccessKey {
            name,
            access_key_id,
        } => {
            let p = params(&[("UserName", &name), ("AccessKeyId", &access_key_id)]);
            let v = client.query("iam", "DeleteAccessKey", &p).await?;
            emit_message(out, &v, &format!("Access key {access_key_id} deleted."));
        }
        UserCommand::PutPolicy { user, name, .. } => {
            let p = params(&[
                ("UserName", &user),
                ("PolicyName", &name),
                ("PolicyDocument", &document),
            ]);
            let v = client.query("iam", "PutUserPolicy", &p).await?;
            emit_message(
                out,
                &v,
                &format!("Inline policy {name} put on user {user}."),
            );
        }
        UserCommand::ListPolicies { user } => {
            let v = client
                .iam_all(
                    "ListUserPolicies",
                    &params(&[("UserName", &user)]),
                    "PolicyNames",
                )
                .await?;
            emit_with(out, &v, |v| list_table(v, "PolicyNames", &[]));
        }
        UserCommand::DeletePolicy { user, name } => {
            let p = params(&[("UserName", &user), ("PolicyName", &name)]);
            let v = client.query("iam", "DeleteUserPolicy", &p).await?;
            emit_message(
                out,
                &v,
                &format!("Inline policy {name} deleted from user {user}."),
            );
        }
        UserCommand::LoginProfile { command } => {
            super::login::run(&client, command, out).await?;
        }
    }
    Ok(())
}
