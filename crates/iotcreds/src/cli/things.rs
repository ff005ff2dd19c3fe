//! `iotcreds thing …` and `iotcreds thing-type …`: the IoT thing registry.

use clap::{Args, Subcommand};
use iotcreds_types::names::{ATTRIBUTE_NAME, ATTRIBUTE_VALUE, THING_NAME, THING_TYPE_NAME};
use serde_json::{Map, Value, json};

use super::certs::certificate_arn;
use super::client::{Rest, encode};
use super::config::ClientArgs;
use super::output::{Output, emit, emit_message, emit_with, fields, list_table, scalar};
use super::{invalid, key_value};

/// `iotcreds thing`.
#[derive(Args, Debug)]
pub struct ThingArgs {
    #[command(flatten)]
    conn: ClientArgs,
    #[command(subcommand)]
    command: ThingCommand,
}

#[derive(Subcommand, Debug)]
enum ThingCommand {
    /// Create a thing (CreateThing).
    Create {
        /// Thing name: 1-128 of [a-zA-Z0-9:_-].
        name: String,
        /// Thing type.
        #[arg(long = "type", value_name = "THING_TYPE")]
        thing_type: Option<String>,
        /// Attribute NAME=VALUE (repeatable).
        #[arg(long = "attribute", value_name = "NAME=VALUE", value_parser = key_value)]
        attributes: Vec<(String, String)>,
    },
    /// Show a thing (DescribeThing).
    Describe {
        /// Thing name.
        name: String,
    },
    /// List things (ListThings, every page).
    List {
        /// Only things of this type.
        #[arg(long = "type", value_name = "THING_TYPE")]
        thing_type: Option<String>,
        /// Only things with this attribute value.
        #[arg(long = "attribute", value_name = "NAME=VALUE", value_parser = key_value)]
        attribute: Option<(String, String)>,
    },
    /// Change a thing's type or attributes (UpdateThing).
    Update {
        /// Thing name.
        name: String,
        /// New thing type.
        #[arg(
            long = "type",
            value_name = "THING_TYPE",
            conflicts_with = "remove_type"
        )]
        thing_type: Option<String>,
        /// Remove the thing type.
        #[arg(long)]
        remove_type: bool,
        /// Attribute NAME=VALUE (repeatable); an empty VALUE removes the attribute with --merge.
        #[arg(long = "attribute", value_name = "NAME=VALUE", value_parser = key_value)]
        attributes: Vec<(String, String)>,
        /// Merge the attributes into the existing ones instead of replacing them all.
        #[arg(long, requires = "attributes")]
        merge: bool,
        /// Fail unless the thing is at this version.
        #[arg(long)]
        expected_version: Option<i64>,
    },
    /// Delete a thing (DeleteThing).
    Delete {
        /// Thing name.
        name: String,
        /// Fail unless the thing is at this version.
        #[arg(long)]
        expected_version: Option<i64>,
    },
    /// Attach a certificate to a thing (AttachThingPrincipal).
    AttachCert {
        /// Thing name.
        thing: String,
        /// Certificate id (64 hex) or ARN.
        cert: String,
        /// Make this the certificate's only thing (EXCLUSIVE_THING).
        #[arg(long)]
        exclusive: bool,
    },
    /// Detach a certificate from a thing (DetachThingPrincipal).
    DetachCert {
        /// Thing name.
        thing: String,
        /// Certificate id (64 hex) or ARN.
        cert: String,
    },
    /// List the certificates attached to a thing (ListThingPrincipals).
    Principals {
        /// Thing name.
        thing: String,
    },
    /// Refuse the credentials already issued to a thing (RevokeThingSessions, an iotcreds
    /// extension): every session issued to it before --before (default now) is refused on
    /// every instance from its next request on.
    RevokeSessions {
        /// Thing name.
        name: String,
        /// Only sessions issued before this time: RFC 3339 (2026-12-07T10:00:00Z) or epoch
        /// seconds; not in the future.
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        before: Option<f64>,
    },
}

/// A time given as RFC 3339 or as epoch seconds, in epoch seconds.
fn parse_time(s: &str) -> Result<f64, String> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Ok(secs);
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp_nanos() as f64 / 1e9)
        .map_err(|_| format!("{s:?} is neither RFC 3339 (2026-12-07T10:00:00Z) nor epoch seconds"))
}

fn check_thing(name: &str) -> anyhow::Result<()> {
    THING_NAME.check("thingName", name).map_err(invalid)
}

fn check_type(name: &str) -> anyhow::Result<()> {
    THING_TYPE_NAME
        .check("thingTypeName", name)
        .map_err(invalid)
}

fn attribute_payload(attributes: &[(String, String)], merge: bool) -> anyhow::Result<Value> {
    let mut map = Map::new();
    for (k, v) in attributes {
        ATTRIBUTE_NAME.check("attributes", k).map_err(invalid)?;
        ATTRIBUTE_VALUE.check("attributes", v).map_err(invalid)?;
        map.insert(k.clone(), Value::String(v.clone()));
    }
    Ok(json!({ "attributes": map, "merge": merge }))
}

/// Run `iotcreds thing …`.
pub async fn run(args: ThingArgs, out: Output) -> anyhow::Result<()> {
    match &args.command {
        ThingCommand::Create { name, .. }
        | ThingCommand::Describe { name }
        | ThingCommand::Update { name, .. }
        | ThingCommand::Delete { name, .. }
        | ThingCommand::AttachCert { thing: name, .. }
        | ThingCommand::DetachCert { thing: name, .. }
        | ThingCommand::Principals { thing: name }
        | ThingCommand::RevokeSessions { name, .. } => check_thing(name)?,
        ThingCommand::List { .. } => {}
    }
    let client = super::connect(&args.conn)?;
    match args.command {
        ThingCommand::Create {
            name,
            thing_type,
            attributes,
        } => {
            let mut body = Map::new();
            if let Some(t) = thing_type {
                check_type(&t)?;
                body.insert("thingTypeName".into(), Value::String(t));
            }
            if !attributes.is_empty() {
                body.insert(
                    "attributePayload".into(),
                    attribute_payload(&attributes, false)?,
                );
            }
            let req = Rest::post("CreateThing", format!("/things/{}", encode(&name)))
                .json(Value::Object(body));
            let v = client.iot(req).await?;
            emit_with(out, &v, |v| {
                fields(v, &["thingName", "thingArn", "thingId"])
            });
        }
        ThingCommand::Describe { name } => {
            let req = Rest::get("DescribeThing", format!("/things/{}", encode(&name)));
            emit(out, &client.iot(req).await?);
        }
        ThingCommand::List {
            thing_type,
            attribute,
        } => {
            if let Some(t) = &thing_type {
                check_type(t)?;
            }
            let mut req = Rest::get("ListThings", "/things").query_opt("thingTypeName", thing_type);
            if let Some((k, v)) = attribute {
                req = req.query("attributeName", k).query("attributeValue", v);
            }
            let v = client
                .iot_all(req, "things", "nextToken", "nextToken")
                .await?;
            emit_with(out, &v, |v| {
                list_table(v, "things", &["thingName", "thingTypeName", "thingArn"])
            });
        }
        ThingCommand::Update {
            name,
            thing_type,
            remove_type,
            attributes,
            merge,
            expected_version,
        } => {
            let mut body = Map::new();
            if let Some(t) = thing_type {
                check_type(&t)?;
                body.insert("thingTypeName".into(), Value::String(t));
            }
            if remove_type {
                body.insert("removeThingType".into(), Value::Bool(true));
            }
            if !attributes.is_empty() {
                body.insert(
                    "attributePayload".into(),
                    attribute_payload(&attributes, merge)?,
                );
            }
            if body.is_empty() {
                anyhow::bail!("nothing to update: give --type, --remove-type or --attribute");
            }
            if let Some(v) = expected_version {
                body.insert("expectedVersion".into(), Value::from(v));
            }
            let req = Rest::patch("UpdateThing", format!("/things/{}", encode(&name)))
                .json(Value::Object(body));
            let v = client.iot(req).await?;
            emit_message(out, &v, &format!("Thing {name} updated."));
        }
        ThingCommand::Delete {
            name,
            expected_version,
        } => {
            let req = Rest::delete("DeleteThing", format!("/things/{}", encode(&name)))
                .query_opt("expectedVersion", expected_version);
            let v = client.iot(req).await?;
            emit_message(out, &v, &format!("Thing {name} deleted."));
        }
        ThingCommand::AttachCert {
            thing,
            cert,
            exclusive,
        } => {
            let arn = certificate_arn(&client, &cert).await?;
            let req = Rest::put(
                "AttachThingPrincipal",
                format!("/things/{}/principals", encode(&thing)),
            )
            .header("x-amzn-principal", arn.clone())
            .query_opt("thingPrincipalType", exclusive.then_some("EXCLUSIVE_THING"));
            let v = client.iot(req).await?;
            emit_message(out, &v, &format!("Attached {arn} to thing {thing}."));
        }
        ThingCommand::DetachCert { thing, cert } => {
            let arn = certificate_arn(&client, &cert).await?;
            let req = Rest::delete(
                "DetachThingPrincipal",
                format!("/things/{}/principals", encode(&thing)),
            )
            .header("x-amzn-principal", arn.clone());
            let v = client.iot(req).await?;
            emit_message(out, &v, &format!("Detached {arn} from thing {thing}."));
        }
        ThingCommand::Principals { thing } => {
            let req = Rest::get(
                "ListThingPrincipals",
                format!("/things/{}/principals", encode(&thing)),
            );
            let v = client
                .iot_all(req, "principals", "nextToken", "nextToken")
                .await?;
            emit_with(out, &v, |v| list_table(v, "principals", &[]));
        }
        ThingCommand::RevokeSessions { name, before } => {
            let mut body = Map::new();
            if let Some(b) = before {
                body.insert("before".into(), Value::from(b));
            }
            let req = Rest::post(
                "RevokeThingSessions",
                format!("/things/{}/revoke-sessions", encode(&name)),
            )
            .json(Value::Object(body));
            let v = client.iot(req).await?;
            let when = scalar("revokedBefore", &v["revokedBefore"]);
            emit_message(
                out,
                &v,
                &format!("Sessions issued to thing {name} before {when} are refused."),
            );
        }
    }
    Ok(())
}

/// `iotcreds thing-type`.
#[derive(Args, Debug)]
pub struct ThingTypeArgs {
    #[command(flatten)]
    conn: ClientArgs,
    #[command(subcommand)]
    command: ThingTypeCommand,
}

#[derive(Subcommand, Debug)]
enum ThingTypeCommand {
    /// Create a thing type (CreateThingType).
    Create {
        /// Thing type name: 1-128 of [a-zA-Z0-9:_-].
        name: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Searchable attribute name (repeatable, up to 3).
        #[arg(long = "searchable-attribute", value_name = "NAME")]
        searchable_attributes: Vec<String>,
    },
    /// Show a thing type (DescribeThingType).
    Describe {
        /// Thing type name.
        name: String,
    },
    /// List thing types (ListThingTypes, every page).
    List,
    /// Deprecate a thing type, or undo that (DeprecateThingType).
    Deprecate {
        /// Thing type name.
        name: String,
        /// Undo the deprecation.
        #[arg(long)]
        undo: bool,
    },
    /// Delete a deprecated thing type (DeleteThingType).
    Delete {
        /// Thing type name.
        name: String,
    },
}

/// Run `iotcreds thing-type …`.
pub async fn run_type(args: ThingTypeArgs, out: Output) -> anyhow::Result<()> {
    match &args.command {
        ThingTypeCommand::Create { name, .. }
        | ThingTypeCommand::Describe { name }
        | ThingTypeCommand::Deprecate { name, .. }
        | ThingTypeCommand::Delete { name } => check_type(name)?,
        ThingTypeCommand::List => {}
    }
    let client = super::connect(&args.conn)?;
    let path = |name: &str| format!("/thing-types/{}", encode(name));
    match args.command {
        ThingTypeCommand::Create {
            name,
            description,
            searchable_attributes,
        } => {
            let mut props = Map::new();
            if let Some(d) = description {
                props.insert("thingTypeDescription".into(), Value::String(d));
            }
            if !searchable_attributes.is_empty() {
                for a in &searchable_attributes {
                    ATTRIBUTE_NAME
                        .check("searchableAttributes", a)
                        .map_err(invalid)?;
                }
                props.insert("searchableAttributes".into(), json!(searchable_attributes));
            }
            let mut body = Map::new();
            if !props.is_empty() {
                body.insert("thingTypeProperties".into(), Value::Object(props));
            }
            let req = Rest::post("CreateThingType", path(&name)).json(Value::Object(body));
            let v = client.iot(req).await?;
            emit_with(out, &v, |v| {
                fields(v, &["thingTypeName", "thingTypeArn", "thingTypeId"])
            });
        }
        ThingTypeCommand::Describe { name } => {
            emit(
                out,
                &client
                    .iot(Rest::get("DescribeThingType", path(&name)))
                    .await?,
            );
        }
        ThingTypeCommand::List => {
            let req = Rest::get("ListThingTypes", "/thing-types");
            let v = client
                .iot_all(req, "thingTypes", "nextToken", "nextToken")
                .await?;
            emit_with(out, &v, |v| {
                list_table(v, "thingTypes", &["thingTypeName", "thingTypeArn"])
            });
        }
        ThingTypeCommand::Deprecate { name, undo } => {
            let req = Rest::post("DeprecateThingType", format!("{}/deprecate", path(&name)))
                .json(json!({ "undoDeprecate": undo }));
            let v = client.iot(req).await?;
            let what = if undo { "undeprecated" } else { "deprecated" };
            emit_message(out, &v, &format!("Thing type {name} {what}."));
        }
        ThingTypeCommand::Delete { name } => {
            let v = client
                .iot(Rest::delete("DeleteThingType", path(&name)))
                .await?;
            emit_message(out, &v, &format!("Thing type {name} deleted."));
        }
    }
    Ok(())
}
