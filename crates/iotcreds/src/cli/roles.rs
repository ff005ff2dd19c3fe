//! `iotcreds role …` (IAM roles, their inline and attached policies) and `iotcreds iam-policy …`
//! (IAM managed policies).

use clap::{Args, Subcommand};
use iotcreds_types::names::{
    IAM_DESCRIPTION, IAM_POLICY_NAME, IAM_ROLE_NAME, check_iam_path, check_range,
};
use serde_json::{Value, json};

use super::client::{params, push_opt};
use super::config::ClientArgs;
use super::output::{Output, emit_message, emit_with, fields, list_table};
use super::{invalid, read_document};

/// The trust policy `role create` uses by default: the credentials provider
/// (`credentials.iot.amazonaws.com`) may assume the role, as in the seed flow.
pub const DEFAULT_TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"credentials.iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// `iotcreds role`.
#[derive(Args, Debug)]
pub struct RoleArgs {
    #[command(flatten)]
    conn: ClientArgs,
    #[command(subcommand)]
    command: RoleCommand,
}

#[derive(Subcommand, Debug)]
enum RoleCommand {
    /// Create a role (CreateRole). The default trust policy lets the credentials provider
    /// (credentials.iot.amazonaws.com) assume it.
    Create {
        /// Role name: 1-64 of [\w+=,.@-].
        name: String,
        /// Trust policy: a JSON file, file://FILE, or inline JSON.
        #[arg(long, value_name = "FILE_OR_JSON")]
        trust: Option<String>,
        /// Longest session, 3600-43200 seconds [server default: 3600].
        #[arg(long, value_name = "SECONDS")]
        max_session_duration: Option<i64>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Path, e.g. /devices/ [default: /].
        #[arg(long)]
        path: Option<String>,
    },
    /// Show a role (GetRole).
    Get {
        /// Role name.
        name: String,
    },
    /// List roles (ListRoles, every page).
    List,
    /// Change a role's description or longest session (UpdateRole).
    Update {
        /// Role name.
        name: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Longest session, 3600-43200 seconds.
        #[arg(long, value_name = "SECONDS")]
        max_session_duration: Option<i64>,
    },
    /// Delete a role without policies (DeleteRole).
    Delete {
        /// Role name.
        name: String,
    },
    /// Add or replace an inline policy (PutRolePolicy).
    PutPolicy {
        /// Role name.
        role: String,
        /// Policy name: 1-128 of [\w+=,.@-].
        name: String,
        /// The policy document: a JSON file, file://FILE, or inline JSON.
        #[arg(long, value_name = "FILE_OR_JSON")]
        document: String,
    },
    /// Show an inline policy (GetRolePolicy).
    GetPolicy {
        /// Role name.
        role: String,
        /// Policy name.
        name: String,
    },
    /// List a role's inline policies and attached managed policies.
    ListPolicies {
        /// Role name.
        role: String,
    },
    /// Delete an inline policy (DeleteRolePolicy).
    DeletePolicy {
        /// Role name.
        role: String,
        /// Policy name.
        name: String,
    },
    /// Attach a managed policy (AttachRolePolicy).
    AttachPolicy {
        /// Role name.
        role: String,
        /// Managed policy ARN (see `iotcreds iam-policy create`).
        policy_arn: String,
    },
    /// Detach a managed policy (DetachRolePolicy).
    DetachPolicy {
        /// Role name.
        role: String,
        /// Managed policy ARN.
        policy_arn: String,
    },
}

fn check_role(name: &str) -> anyhow::Result<()> {
    IAM_ROLE_NAME.check("roleName", name).map_err(invalid)
}

fn check_policy_name(name: &str) -> anyhow::Result<()> {
    IAM_POLICY_NAME.check("policyName", name).map_err(invalid)
}

fn check_duration(d: Option<i64>) -> anyhow::Result<()> {
    match d {
        Some(d) => check_range("maxSessionDuration", d, 3600, 43200).map_err(invalid),
        None => Ok(()),
    }
}

fn check_description(d: Option<&String>) -> anyhow::Result<()> {
    match d {
        Some(d) => IAM_DESCRIPTION.check("description", d).map_err(invalid),
        None => Ok(()),
    }
}

/// `key: value` lines of an IAM entity, then its document pretty-printed.
fn with_document(v: &Value, keys: &[&str], document: &str) -> String {
    let mut s = fields(v, keys);
    if let Some(doc) = v.get(document) {
        let pretty = match doc {
            Value::String(s) => s.clone(),
            other => serde_json::to_string_pretty(other).unwrap_or_default(),
        };
        s.push_str(&format!("{document}:\n{pretty}\n"));
    }
    s
}

fn role_text(v: &Value) -> String {
    let role = v.get("Role").unwrap_or(v);
    with_document(
        role,
        &[
            "RoleName",
            "Arn",
            "RoleId",
            "Path",
            "MaxSessionDuration",
            "Description",
            "CreateDate",
        ],
        "AssumeRolePolicyDocument",
    )
}

/// Run `iotcreds role …`.
pub async fn run(args: RoleArgs, out: Output) -> anyhow::Result<()> {
    match &args.command {
        RoleCommand::Create {
            name,
            max_session_duration,
            description,
            path,
            ..
        } => {
            check_role(name)?;
            check_duration(*max_session_duration)?;
            check_description(description.as_ref())?;
            if let Some(p) = path {
                check_iam_path("path", p).map_err(invalid)?;
            }
        }
        RoleCommand::Update {
            name,
            description,
            max_session_duration,
        } => {
            check_role(name)?;
            check_duration(*max_session_duration)?;
            check_description(description.as_ref())?;
        }
        RoleCommand::Get { name } | RoleCommand::Delete { name } => check_role(name)?,
        RoleCommand::PutPolicy { role, name, .. }
        | RoleCommand::GetPolicy { role, name }
        | RoleCommand::DeletePolicy { role, name } => {
            check_role(role)?;
            check_policy_name(name)?;
        }
        RoleCommand::ListPolicies { role }
        | RoleCommand::AttachPolicy { role, .. }
        | RoleCommand::DetachPolicy { role, .. } => check_role(role)?,
        RoleCommand::List => {}
    }
    let document = match &args.command {
        RoleCommand::Create { trust, .. } => Some(match trust {
            Some(t) => read_document(t)?,
            None => DEFAULT_TRUST_POLICY.to_owned(),
        }),
        RoleCommand::PutPolicy { document, .. } => Some(read_document(document)?),
        _ => None,
    };
    let document = document.unwrap_or_default();
    let client = super::connect(&args.conn)?;
    match args.command {
        RoleCommand::Create {
            name,
            max_session_duration,
            description,
            path,
            ..
        } => {
            let mut p = params(&[("RoleName", &name), ("AssumeRolePolicyDocument", &document)]);
            push_opt(&mut p, "MaxSessionDuration", max_session_duration);
            push_opt(&mut p, "Description", description);
            push_opt(&mut p, "Path", path);
            let v = client.query("iam", "CreateRole", &p).await?;
            emit_with(out, &v, role_text);
        }
        RoleCommand::Get { name } => {
            let v = client
                .query("iam", "GetRole", &params(&[("RoleName", &name)]))
                .await?;
            emit_with(out, &v, role_text);
        }
        RoleCommand::List => {
            let v = client.iam_all("ListRoles", &[], "Roles").await?;
            emit_with(out, &v, |v| {
                list_table(v, "Roles", &["RoleName", "Arn", "MaxSessionDuration"])
            });
        }
        RoleCommand::Update {
            name,
            description,
            max_session_duration,
        } => {
            let mut p = params(&[("RoleName", &name)]);
            push_opt(&mut p, "MaxSessionDuration", max_session_duration);
            push_opt(&mut p, "Description", description);
            let v = client.query("iam", "UpdateRole", &p).await?;
            emit_message(out, &v, &format!("Role {name} updated."));
        }
        RoleCommand::Delete { name } => {
            let v = client
                .query("iam", "DeleteRole", &params(&[("RoleName", &name)]))
                .await?;
            emit_message(out, &v, &format!("Role {name} deleted."));
        }
        RoleCommand::PutPolicy { role, name, .. } => {
            let p = params(&[
                ("RoleName", &role),
                ("PolicyName", &name),
                ("PolicyDocument", &document),
            ]);
            let v = client.query("iam", "PutRolePolicy", &p).await?;
            emit_message(
                out,
                &v,
                &format!("Inline policy {name} put on role {role}."),
            );
        }
        RoleCommand::GetPolicy { role, name } => {
            let p = params(&[("RoleName", &role), ("PolicyName", &name)]);
            let v = client.query("iam", "GetRolePolicy", &p).await?;
            emit_with(out, &v, |v| {
                with_document(v, &["RoleName", "PolicyName"], "PolicyDocument")
            });
        }
        RoleCommand::ListPolicies { role } => {
            let p = params(&[("RoleName", &role)]);
            let inline = client
                .iam_all("ListRolePolicies", &p, "PolicyNames")
                .await?;
            let attached = client
                .iam_all("ListAttachedRolePolicies", &p, "AttachedPolicies")
                .await?;
            let v = json!({
                "PolicyNames": inline.get("PolicyNames").cloned().unwrap_or(json!([])),
                "AttachedPolicies": attached.get("AttachedPolicies").cloned().unwrap_or(json!([])),
            });
            emit_with(out, &v, |v| {
                let mut s = String::from("inline:\n");
                for line in list_table(v, "PolicyNames", &[]).lines() {
                    s.push_str(&format!("  {line}\n"));
                }
                s.push_str("attached:\n");
                for line in list_table(v, "AttachedPolicies", &["PolicyName", "PolicyArn"]).lines()
                {
                    s.push_str(&format!("  {line}\n"));
                }
                s
            });
        }
        RoleCommand::DeletePolicy { role, name } => {
            let p = params(&[("RoleName", &role), ("PolicyName", &name)]);
            let v = client.query("iam", "DeleteRolePolicy", &p).await?;
            emit_message(
                out,
                &v,
                &format!("Inline policy {name} deleted from role {role}."),
            );
        }
        RoleCommand::AttachPolicy { role, policy_arn } => {
            let p = params(&[("RoleName", &role), ("PolicyArn", &policy_arn)]);
            let v = client.query("iam", "AttachRolePolicy", &p).await?;
            emit_message(out, &v, &format!("Attached {policy_arn} to role {role}."));
        }
        RoleCommand::DetachPolicy { role, policy_arn } => {
            let p = params(&[("RoleName", &role), ("PolicyArn", &policy_arn)]);
            let v = client.query("iam", "DetachRolePolicy", &p).await?;
            emit_message(out, &v, &format!("Detached {policy_arn} from role {role}."));
        }
    }
    Ok(())
}

/// `iotcreds iam-policy`.
#[derive(Args, Debug)]
pub struct IamPolicyArgs {
    #[command(flatten)]
    conn: ClientArgs,
    #[command(subcommand)]
    command: IamPolicyCommand,
}

#[derive(Subcommand, Debug)]
enum IamPolicyCommand {
    /// Create a managed policy (CreatePolicy).
    Create {
        /// Policy name: 1-128 of [\w+=,.@-].
        name: String,
        /// The policy document: a JSON file, file://FILE, or inline JSON.
        #[arg(long, value_name = "FILE_OR_JSON")]
        document: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Path [default: /].
        #[arg(long)]
        path: Option<String>,
    },
    /// Show a managed policy (GetPolicy).
    Get {
        /// Policy ARN.
        arn: String,
    },
    /// List the account's managed policies (ListPolicies, scope Local, every page).
    List,
    /// Delete a managed policy (DeletePolicy).
    Delete {
        /// Policy ARN.
        arn: String,
    },
}

fn policy_text(v: &Value) -> String {
    fields(
        v.get("Policy").unwrap_or(v),
        &[
            "PolicyName",
            "Arn",
            "PolicyId",
            "Path",
            "DefaultVersionId",
            "AttachmentCount",
            "CreateDate",
        ],
    )
}

/// Run `iotcreds iam-policy …`.
pub async fn run_managed(args: IamPolicyArgs, out: Output) -> anyhow::Result<()> {
    let document = match &args.command {
        IamPolicyCommand::Create {
            name,
            document,
            description,
            path,
        } => {
            check_policy_name(name)?;
            check_description(description.as_ref())?;
            if let Some(p) = path {
                check_iam_path("path", p).map_err(invalid)?;
            }
            read_document(document)?
        }
        _ => String::new(),
    };
    let client = super::connect(&args.conn)?;
    match args.command {
        IamPolicyCommand::Create {
            name,
            description,
            path,
            ..
        } => {
            let mut p = params(&[("PolicyName", &name), ("PolicyDocument", &document)]);
            push_opt(&mut p, "Description", description);
            push_opt(&mut p, "Path", path);
            let v = client.query("iam", "CreatePolicy", &p).await?;
            emit_with(out, &v, policy_text);
        }
        IamPolicyCommand::Get { arn } => {
            let v = client
                .query("iam", "GetPolicy", &params(&[("PolicyArn", &arn)]))
                .await?;
            emit_with(out, &v, policy_text);
        }
        IamPolicyCommand::List => {
            let v = client
                .iam_all("ListPolicies", &params(&[("Scope", "Local")]), "Policies")
                .await?;
            emit_with(out, &v, |v| {
                list_table(v, "Policies", &["PolicyName", "Arn", "AttachmentCount"])
            });
        }
        IamPolicyCommand::Delete { arn } => {
            let v = client
                .query("iam", "DeletePolicy", &params(&[("PolicyArn", &arn)]))
                .await?;
            emit_message(out, &v, &format!("Policy {arn} deleted."));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotcreds_policy::simulate::{PolicyDocument, Simulation, simulate};
    use iotcreds_policy::{Context, Effect, PolicyKind, RequestPrincipal};

    fn decision(principal: RequestPrincipal) -> Effect {
        let docs = [PolicyDocument {
            id: "trust",
            text: DEFAULT_TRUST_POLICY,
            kind: PolicyKind::Trust,
        }];
        simulate(&Simulation {
            policies: &docs,
            boundary: &[],
            action: "sts:AssumeRole",
            resource: "arn:aws:iam::123456789012:role/ADCTestRole",
            principal: Some(&principal),
            context: &Context::new(),
        })
        .unwrap()
        .decision
    }

    #[test]
    fn the_default_trust_policy_admits_only_the_credentials_provider() {
        assert_eq!(
            decision(RequestPrincipal::Service(
                "credentials.iot.amazonaws.com".into()
            )),
            Effect::Allow
        );
        assert_eq!(
            decision(RequestPrincipal::Service("ec2.amazonaws.com".into())),
            Effect::ImplicitDeny
        );
    }
}
