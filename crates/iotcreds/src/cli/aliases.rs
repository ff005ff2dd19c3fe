//! `iotcreds role-alias …`: the names devices use to ask for a role's credentials.

use clap::{Args, Subcommand};
use iotcreds_types::names::{IAM_ROLE_NAME, ROLE_ALIAS, check_range};
use serde_json::{Map, Value};

use super::client::{Client, Rest, encode, params};
use super::config::ClientArgs;
use super::invalid;
use super::output::{Output, emit_message, emit_with, fields, list_table};

/// `iotcreds role-alias`.
#[derive(Args, Debug)]
pub struct RoleAliasArgs {
    #[command(flatten)]
    conn: ClientArgs,
    #[command(subcommand)]
    command: AliasCommand,
}

#[derive(Subcommand, Debug)]
enum AliasCommand {
    /// Create a role alias (CreateRoleAlias).
    Create {
        /// Alias: 1-128 of [\w=,@-].
        name: String,
        /// The role: its name (looked up with GetRole) or ARN.
        #[arg(long, value_name = "ROLE_NAME_OR_ARN")]
        role: String,
        /// Lifetime of the credentials, 900-43200 seconds [server default: 3600].
        #[arg(long, value_name = "SECONDS")]
        duration: Option<i64>,
    },
    /// Show a role alias (DescribeRoleAlias).
    Describe {
        /// Alias.
        name: String,
    },
    /// List role aliases (ListRoleAliases, every page).
    List,
    /// Change a role alias's role or duration (UpdateRoleAlias).
    Update {
        /// Alias.
        name: String,
        /// The role: its name or ARN.
        #[arg(long, value_name = "ROLE_NAME_OR_ARN")]
        role: Option<String>,
        /// Lifetime of the credentials, 900-43200 seconds.
        #[arg(long, value_name = "SECONDS")]
        duration: Option<i64>,
    },
    /// Delete a role alias (DeleteRoleAlias).
    Delete {
        /// Alias.
        name: String,
    },
}

/// A role ARN from a role name (looked up) or an ARN (as given).
async fn role_arn(client: &Client, role: &str) -> anyhow::Result<String> {
    if role.starts_with("arn:") {
        return Ok(role.to_owned());
    }
    let v = client
        .query("iam", "GetRole", &params(&[("RoleName", role)]))
        .await?;
    v.pointer("/Role/Arn")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("GetRole answered without Role.Arn"))
}

fn body(role_arn: Option<String>, duration: Option<i64>) -> Value {
    let mut b = Map::new();
    if let Some(arn) = role_arn {
        b.insert("roleArn".into(), Value::String(arn));
    }
    if let Some(d) = duration {
        b.insert("credentialDurationSeconds".into(), Value::from(d));
    }
    Value::Object(b)
}

/// Run `iotcreds role-alias …`.
pub async fn run(args: RoleAliasArgs, out: Output) -> anyhow::Result<()> {
    match &args.command {
        AliasCommand::Create {
            name,
            role,
            duration,
        }
        | AliasCommand::Update {
            name,
            role: Some(role),
            duration,
        } => {
            ROLE_ALIAS.check("roleAlias", name).map_err(invalid)?;
            if !role.starts_with("arn:") {
                IAM_ROLE_NAME.check("roleName", role).map_err(invalid)?;
            }
            if let Some(d) = duration {
                check_range("credentialDurationSeconds", *d, 900, 43200).map_err(invalid)?;
            }
        }
        AliasCommand::Update {
            name,
            role: None,
            duration,
        } => {
            ROLE_ALIAS.check("roleAlias", name).map_err(invalid)?;
            match duration {
                Some(d) => {
                    check_range("credentialDurationSeconds", *d, 900, 43200).map_err(invalid)?
                }
                None => anyhow::bail!("nothing to update: give --role or --duration"),
            }
        }
        AliasCommand::Describe { name } | AliasCommand::Delete { name } => {
            ROLE_ALIAS.check("roleAlias", name).map_err(invalid)?;
        }
        AliasCommand::List => {}
    }
    let client = super::connect(&args.conn)?;
    let path = |name: &str| format!("/role-aliases/{}", encode(name));
    match args.command {
        AliasCommand::Create {
            name,
            role,
            duration,
        } => {
            let arn = role_arn(&client, &role).await?;
            let req = Rest::post("CreateRoleAlias", path(&name)).json(body(Some(arn), duration));
            let v = client.iot(req).await?;
            emit_with(out, &v, |v| fields(v, &["roleAlias", "roleAliasArn"]));
        }
        AliasCommand::Describe { name } => {
            let v = client
                .iot(Rest::get("DescribeRoleAlias", path(&name)))
                .await?;
            emit_with(out, &v, |v| {
                fields(
                    v.get("roleAliasDescription").unwrap_or(v),
                    &[
                        "roleAlias",
                        "roleAliasArn",
                        "roleArn",
                        "credentialDurationSeconds",
                        "owner",
                        "creationDate",
                        "lastModifiedDate",
                    ],
                )
            });
        }
        AliasCommand::List => {
            let req = Rest::get("ListRoleAliases", "/role-aliases");
            let v = client
                .iot_all(req, "roleAliases", "nextMarker", "marker")
                .await?;
            emit_with(out, &v, |v| list_table(v, "roleAliases", &[]));
        }
        AliasCommand::Update {
            name,
            role,
            duration,
        } => {
            let arn = match role {
                Some(r) => Some(role_arn(&client, &r).await?),
                None => None,
            };
            let req = Rest::put("UpdateRoleAlias", path(&name)).json(body(arn, duration));
            let v = client.iot(req).await?;
            emit_with(out, &v, |v| fields(v, &["roleAlias", "roleAliasArn"]));
        }
        AliasCommand::Delete { name } => {
            let v = client
                .iot(Rest::delete("DeleteRoleAlias", path(&name)))
                .await?;
            emit_message(out, &v, &format!("Role alias {name} deleted."));
        }
    }
    Ok(())
}
