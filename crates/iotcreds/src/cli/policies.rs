//! `iotcreds policy …`: IoT policies (create, get, list, delete, attach, detach, targets,
//! versions) on the server, and `policy simulate` locally.

use clap::{Args, Subcommand};
use iotcreds_types::names::IOT_POLICY_NAME;
use serde_json::{Value, json};

use super::certs::certificate_arn;
use super::client::{Client, Rest, encode};
use super::config::ClientArgs;
use super::output::{Output, emit_message, emit_with, fields, list_table};
use super::simulate::SimulateArgs;
use super::{Status, block_on, invalid, read_document};

/// `iotcreds policy`.
#[derive(Args, Debug)]
pub struct PolicyArgs {
    #[command(flatten)]
    conn: ClientArgs,
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Create an IoT policy (CreatePolicy).
    Create {
        /// Policy name: 1-128 of [\w+=,.@-].
        name: String,
        /// The policy document: a JSON file, file://FILE, or inline JSON.
        #[arg(long, value_name = "FILE_OR_JSON")]
        document: String,
    },
    /// Show an IoT policy and its default version's document (GetPolicy).
    Get {
        /// Policy name.
        name: String,
    },
    /// List IoT policies (ListPolicies), or those attached to --target (ListAttachedPolicies).
    List {
        /// Certificate id or ARN (or a thing group ARN).
        #[arg(long, value_name = "CERT_ID_OR_ARN")]
        target: Option<String>,
    },
    /// Delete an IoT policy (DeletePolicy).
    Delete {
        /// Policy name.
        name: String,
    },
    /// Attach an IoT policy to a certificate (AttachPolicy).
    Attach {
        /// Policy name.
        name: String,
        /// Certificate id or ARN (or a thing group ARN).
        #[arg(long, value_name = "CERT_ID_OR_ARN")]
        target: String,
    },
    /// Detach an IoT policy from a certificate (DetachPolicy).
    Detach {
        /// Policy name.
        name: String,
        /// Certificate id or ARN (or a thing group ARN).
        #[arg(long, value_name = "CERT_ID_OR_ARN")]
        target: String,
    },
    /// List what a policy is attached to (ListTargetsForPolicy).
    Targets {
        /// Policy name.
        name: String,
    },
    /// Policy versions: list, create, get, delete, set-default.
    #[command(subcommand)]
    Versions(VersionCommand),
    /// Evaluate policy documents against a request, locally; exit 0 allowed, 2 denied.
    Simulate(SimulateArgs),
}

#[derive(Subcommand, Debug)]
enum VersionCommand {
    /// List a policy's versions (ListPolicyVersions).
    List {
        /// Policy name.
        name: String,
    },
    /// Add a version (CreatePolicyVersion).
    Create {
        /// Policy name.
        name: String,
        /// The policy document: a JSON file, file://FILE, or inline JSON.
        #[arg(long, value_name = "FILE_OR_JSON")]
        document: String,
        /// Make it the default version.
        #[arg(long)]
        set_default: bool,
    },
    /// Show one version (GetPolicyVersion).
    Get {
        /// Policy name.
        name: String,
        /// Version id.
        #[arg(value_name = "VERSION")]
        version_id: String,
    },
    /// Delete a non-default version (DeletePolicyVersion).
    Delete {
        /// Policy name.
        name: String,
        /// Version id.
        #[arg(value_name = "VERSION")]
        version_id: String,
    },
    /// Make a version the default (SetDefaultPolicyVersion).
    SetDefault {
        /// Policy name.
        name: String,
        /// Version id.
        #[arg(value_name = "VERSION")]
        version_id: String,
    },
}

/// Run `iotcreds policy …`: `simulate` locally, everything else against the server.
pub fn run(args: PolicyArgs, out: Output) -> anyhow::Result<Status> {
    match args.command {
        PolicyCommand::Simulate(sim) => super::simulate::run(sim, out),
        command => block_on(run_remote(&args.conn, command, out)).map(|()| Status::Success),
    }
}

fn check_name(name: &str) -> anyhow::Result<()> {
    IOT_POLICY_NAME.check("policyName", name).map_err(invalid)
}

/// A policy target: an ARN as given, or a certificate id turned into its ARN.
async fn target_arn(client: &Client, target: &str) -> anyhow::Result<String> {
    if target.starts_with("arn:") || target.contains(':') {
        return Ok(target.to_owned());
    }
    certificate_arn(client, target).await
}

async fn run_remote(conn: &ClientArgs, command: PolicyCommand, out: Output) -> anyhow::Result<()> {
    match &command {
        PolicyCommand::Create { name, .. }
        | PolicyCommand::Get { name }
        | PolicyCommand::Delete { name }
        | PolicyCommand::Attach { name, .. }
        | PolicyCommand::Detach { name, .. }
        | PolicyCommand::Targets { name }
        | PolicyCommand::Versions(
            VersionCommand::List { name }
            | VersionCommand::Create { name, .. }
            | VersionCommand::Get { name, .. }
            | VersionCommand::Delete { name, .. }
            | VersionCommand::SetDefault { name, .. },
        ) => check_name(name)?,
        PolicyCommand::List { .. } | PolicyCommand::Simulate(_) => {}
    }
    let document = match &command {
        PolicyCommand::Create { document, .. }
        | PolicyCommand::Versions(VersionCommand::Create { document, .. }) => {
            Some(read_document(document)?)
        }
        _ => None,
    };
    let client = super::connect(conn)?;
    let path = |name: &str| format!("/policies/{}", encode(name));
    match command {
        PolicyCommand::Create { name, .. } => {
            let req =
                Rest::post("CreatePolicy", path(&name)).json(json!({ "policyDocument": document }));
            let v = client.iot(req).await?;
            emit_with(out, &v, |v| {
                fields(v, &["policyName", "policyArn", "policyVersionId"])
            });
        }
        PolicyCommand::Get { name } => {
            let v = client.iot(Rest::get("GetPolicy", path(&name))).await?;
            emit_with(out, &v, |v| {
                let mut s = fields(
                    v,
                    &[
                        "policyName",
                        "policyArn",
                        "defaultVersionId",
                        "creationDate",
                    ],
                );
                s.push_str(&document_text(v));
                s
            });
        }
        PolicyCommand::List { target: None } => {
            let req = Rest::get("ListPolicies", "/policies");
            let v = client
                .iot_all(req, "policies", "nextMarker", "marker")
                .await?;
            emit_with(out, &v, |v| {
                list_table(v, "policies", &["policyName", "policyArn"])
            });
        }
        PolicyCommand::List {
            target: Some(target),
        } => {
            let arn = target_arn(&client, &target).await?;
            let req = Rest::post(
                "ListAttachedPolicies",
                format!("/attached-policies/{}", encode(&arn)),
            );
            let v = client
                .iot_all(req, "policies", "nextMarker", "marker")
                .await?;
            emit_with(out, &v, |v| {
                list_table(v, "policies", &["policyName", "policyArn"])
            });
        }
        PolicyCommand::Delete { name } => {
            let v = client
                .iot(Rest::delete("DeletePolicy", path(&name)))
                .await?;
            emit_message(out, &v, &format!("Policy {name} deleted."));
        }
        PolicyCommand::Attach { name, target } => {
            let arn = target_arn(&client, &target).await?;
            let req = Rest::put(
                "AttachPolicy",
                format!("/target-policies/{}", encode(&name)),
            )
            .json(json!({ "target": arn }));
            let v = client.iot(req).await?;
            emit_message(out, &v, &format!("Attached policy {name} to {arn}."));
        }
        PolicyCommand::Detach { name, target } => {
            let arn = target_arn(&client, &target).await?;
            let req = Rest::post(
                "DetachPolicy",
                format!("/target-policies/{}", encode(&name)),
            )
            .json(json!({ "target": arn }));
            let v = client.iot(req).await?;
            emit_message(out, &v, &format!("Detached policy {name} from {arn}."));
        }
        PolicyCommand::Targets { name } => {
            let req = Rest::post(
                "ListTargetsForPolicy",
                format!("/policy-targets/{}", encode(&name)),
            );
            let v = client
                .iot_all(req, "targets", "nextMarker", "marker")
                .await?;
            emit_with(out, &v, |v| list_table(v, "targets", &[]));
        }
        PolicyCommand::Versions(cmd) => versions(&client, cmd, document, out).await?,
        PolicyCommand::Simulate(_) => {}
    }
    Ok(())
}

async fn versions(
    client: &Client,
    cmd: VersionCommand,
    document: Option<String>,
    out: Output,
) -> anyhow::Result<()> {
    let base = |name: &str| format!("/policies/{}/version", encode(name));
    let one = |name: &str, version: &str| format!("{}/{}", base(name), encode(version));
    match cmd {
        VersionCommand::List { name } => {
            let v = client
                .iot(Rest::get("ListPolicyVersions", base(&name)))
                .await?;
            emit_with(out, &v, |v| {
                list_table(
                    v,
                    "policyVersions",
                    &["versionId", "isDefaultVersion", "createDate"],
                )
            });
        }
        VersionCommand::Create {
            name, set_default, ..
        } => {
            let req = Rest::post("CreatePolicyVersion", base(&name))
                .query_opt("setAsDefault", set_default.then_some(true))
                .json(json!({ "policyDocument": document }));
            let v = client.iot(req).await?;
            emit_with(out, &v, |v| {
                fields(v, &["policyArn", "policyVersionId", "isDefaultVersion"])
            });
        }
        VersionCommand::Get {
            name,
            version_id: version,
        } => {
            let v = client
                .iot(Rest::get("GetPolicyVersion", one(&name, &version)))
                .await?;
            emit_with(out, &v, |v| {
                let mut s = fields(
                    v,
                    &[
                        "policyName",
                        "policyVersionId",
                        "isDefaultVersion",
                        "creationDate",
                    ],
                );
                s.push_str(&document_text(v));
                s
            });
        }
        VersionCommand::Delete {
            name,
            version_id: version,
        } => {
            let v = client
                .iot(Rest::delete("DeletePolicyVersion", one(&name, &version)))
                .await?;
            emit_message(
                out,
                &v,
                &format!("Version {version} of policy {name} deleted."),
            );
        }
        VersionCommand::SetDefault {
            name,
            version_id: version,
        } => {
            let v = client
                .iot(Rest::patch("SetDefaultPolicyVersion", one(&name, &version)))
                .await?;
            emit_message(
                out,
                &v,
                &format!("Version {version} is now the default of policy {name}."),
            );
        }
    }
    Ok(())
}

/// `policyDocument:` followed by the document, pretty-printed when it is JSON.
fn document_text(v: &Value) -> String {
    let doc = v
        .get("policyDocument")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let pretty = serde_json::from_str::<Value>(doc)
        .ok()
        .and_then(|d| serde_json::to_string_pretty(&d).ok())
        .unwrap_or_else(|| doc.to_owned());
    format!("policyDocument:\n{pretty}\n")
}
