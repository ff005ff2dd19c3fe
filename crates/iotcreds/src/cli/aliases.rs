//! `iotcreds role-alias …`: the names devices use to ask for a role's credentials.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use iotcreds_registry::session_tags;
use iotcreds_types::names::{IAM_ROLE_NAME, ROLE_ALIAS, check_range};
use serde_json::{Map, Value, json};

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
        /// A session tag of the credentials issued through the alias, from a fact about the
        /// device (repeatable): site=iot:Connection.Thing.Attributes[site],
        /// device=iot:Connection.Thing.ThingName, cn=iot:Certificate.Subject.CommonName, …
        /// (an iotcreds extension; see docs/cli.md).
        #[arg(long = "session-tag", value_name = "KEY=SOURCE")]
        session_tags: Vec<String>,
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
        /// Replace the alias's session-tag mapping (repeatable, KEY=SOURCE as for create).
        #[arg(
            long = "session-tag",
            value_name = "KEY=SOURCE",
            conflicts_with = "no_session_tags"
        )]
        session_tags: Vec<String>,
        /// Remove the alias's session-tag mapping (the thing's attributes become the session
        /// tags again, when the role's trust policy allows sts:TagSession).
        #[arg(long)]
        no_session_tags: bool,
    },
    /// Delete a role alias (DeleteRoleAlias).
    Delete {
        /// Alias.
        name: String,
    },
}

fn check_alias(name: &str, role: Option<&str>, duration: Option<i64>) -> anyhow::Result<()> {
    ROLE_ALIAS.check("roleAlias", name).map_err(invalid)?;
    if let Some(role) = role.filter(|r| !r.starts_with("arn:")) {
        IAM_ROLE_NAME.check("roleName", role).map_err(invalid)?;
    }
    if let Some(d) = duration {
        check_range("credentialDurationSeconds", d, 900, 43200).map_err(invalid)?;
    }
    Ok(())
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

/// `KEY=SOURCE` arguments as a checked mapping (split at the first `=` that starts a source:
/// sources never contain `=`, tag keys may).
fn session_tag_mapping(args: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut m = BTreeMap::new();
    for a in args {
        let Some((key, source)) = a.rsplit_once('=') else {
            anyhow::bail!("--session-tag {a}: expected KEY=SOURCE");
        };
        if m.insert(key.to_owned(), source.to_owned()).is_some() {
            anyhow::bail!("--session-tag: key {key} given twice");
        }
    }
    session_tags::check(&m).map_err(|e| anyhow::anyhow!("--session-tag: {e}"))?;
    Ok(m)
}

fn body(
    role_arn: Option<String>,
    duration: Option<i64>,
    session_tags: Option<BTreeMap<String, String>>,
) -> Value {
    let mut b = Map::new();
    if let Some(arn) = role_arn {
        b.insert("roleArn".into(), Value::String(arn));
    }
    if let Some(d) = duration {
        b.insert("credentialDurationSeconds".into(), Value::from(d));
    }
    if let Some(m) = session_tags {
        b.insert("iotcredsSessionTags".into(), json!(m));
    }
    Value::Object(b)
}

/// Run `iotcreds role-alias …`.
pub async fn run(args: RoleAliasArgs, out: Output) -> anyhow::Result<()> {
    let mut mapping = None;
    match &args.command {
        AliasCommand::Create {
            name,
            role,
            duration,
            session_tags,
        } => {
            check_alias(name, Some(role), *duration)?;
            if !session_tags.is_empty() {
                mapping = Some(session_tag_mapping(session_tags)?);
            }
        }
        AliasCommand::Update {
            name,
            role,
            duration,
            session_tags,
            no_session_tags,
        } => {
            check_alias(name, role.as_deref(), *duration)?;
            if *no_session_tags {
                mapping = Some(BTreeMap::new());
            } else if !session_tags.is_empty() {
                mapping = Some(session_tag_mapping(session_tags)?);
            }
            if role.is_none() && duration.is_none() && mapping.is_none() {
                anyhow::bail!(
                    "nothing to update: give --role, --duration, --session-tag or --no-session-tags"
                );
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
            ..
        } => {
            let arn = role_arn(&client, &role).await?;
            let req =
                Rest::post("CreateRoleAlias", path(&name)).json(body(Some(arn), duration, mapping));
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
                        "iotcredsSessionTags",
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
            ..
        } => {
            let arn = match role {
                Some(r) => Some(role_arn(&client, &r).await?),
                None => None,
            };
            let req = Rest::put("UpdateRoleAlias", path(&name)).json(body(arn, duration, mapping));
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
