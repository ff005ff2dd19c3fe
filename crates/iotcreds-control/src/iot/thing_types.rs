//! Thing types: `CreateThingType`, `DescribeThingType`, `ListThingTypes`,
//! `DeprecateThingType`, `DeleteThingType`.
//!
//! As in AWS IoT, a thing type must be deprecated before it can be deleted, and cannot be
//! deleted while things still have it. (AWS also waits five minutes after deprecation; this
//! server does not.) Tags given at creation are stored (see `TagResource` in `tags.rs`).

use crate::tag_keys::insert_request_tags;
use iotcreds_store::{StoreError, ThingType};
use iotcreds_types::ValidationError;
use iotcreds_types::names::{ATTRIBUTE_NAME, THING_TYPE_NAME};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{already_exists, invalid, not_found, store, validation};
use super::json::{
    TagInput, check_length, check_tags, compact, ok, ok_empty, timestamp, token_page,
};
use super::{Reply, Req, lookup};
use crate::resource;
use crate::{ApiError, Resource};

/// Searchable attributes per thing type (AWS IoT quota).
const MAX_SEARCHABLE_ATTRIBUTES: usize = 3;

fn type_name(req: &Req<'_>) -> Result<String, ApiError> {
    let name = req.label(0);
    THING_TYPE_NAME
        .check("thingTypeName", name)
        .map_err(validation)?;
    Ok(name.to_owned())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Properties {
    thing_type_description: Option<String>,
    searchable_attributes: Option<Vec<String>>,
    mqtt5_configuration: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    #[serde(default)]
    thing_type_properties: Properties,
    tags: Option<Vec<TagInput>>,
}

impl Properties {
    fn check(&self) -> Result<(), ApiError> {
        if let Some(d) = &self.thing_type_description {
            check_length("thingTypeProperties.thingTypeDescription", d, 0, 2028)?;
            if d.chars().any(|c| c.is_control()) {
                return Err(validation(ValidationError::new(
                    "thingTypeProperties.thingTypeDescription",
                    d,
                    "Member must satisfy regular expression pattern: [\\p{Graph}\\x20]*",
                )));
            }
        }
        let attrs = self.searchable_attributes.as_deref().unwrap_or_default();
        if attrs.len() > MAX_SEARCHABLE_ATTRIBUTES {
            return Err(invalid(format!(
                "A thing type can have at most {MAX_SEARCHABLE_ATTRIBUTES} searchable attributes."
            )));
        }
        for a in attrs {
            ATTRIBUTE_NAME
                .check("thingTypeProperties.searchableAttributes", a)
                .map_err(validation)?;
        }
        if self
            .mqtt5_configuration
            .as_ref()
            .is_some_and(|v| !v.is_null())
        {
            return Err(invalid(
                "mqtt5Configuration is not supported by this server.",
            ));
        }
        Ok(())
    }
}

/// `ThingTypeDefinition` / `DescribeThingType` output.
fn definition_json(req: &Req<'_>, t: &ThingType) -> Value {
    json!({
        "thingTypeName": t.name,
        "thingTypeId": t.id,
        "thingTypeArn": req.thing_type_arn(&t.name),
        "thingTypeProperties": compact(json!({
            "thingTypeDescription": t.description,
            "searchableAttributes": t.searchable_attributes,
        })),
        "thingTypeMetadata": compact(json!({
            "deprecated": t.deprecated,
            "deprecationDate": t.deprecated_at.map(timestamp),
            "creationDate": timestamp(t.created_at),
        })),
    })
}

/// `POST /thing-types/{thingTypeName}`
pub(super) async fn create(req: &Req<'_>) -> Reply {
    let name = type_name(req)?;
    let input: CreateInput = req.json()?;
    input.thing_type_properties.check()?;
    let tags = check_tags(input.tags)?;
    let new_type = resource::new_thing_type(req.registry(), &name);
    req.authorize_with(&new_type, |ctx| insert_request_tags(ctx, &tags))?;
    let arn = new_type.arn().to_owned();
    let props = input.thing_type_properties;
    let thing_type = ThingType {
        name: name.clone(),
        id: uuid::Uuid::new_v4().to_string(),
        description: props.thing_type_description,
        searchable_attributes: props.searchable_attributes.unwrap_or_default(),
        deprecated: false,
        deprecated_at: None,
        created_at: req.now_ms(),
    };
    match req
        .write(req.store().insert_thing_type(&thing_type, &tags))
        .await
    {
        Ok(()) => Ok(ok(json!({
            "thingTypeName": name,
            "thingTypeArn": arn,
            "thingTypeId": thing_type.id,
        }))),
        Err(StoreError::AlreadyExists { .. }) => {
            let id = match req.store().thing_type(&name).await {
                Ok(Some(t)) => t.id,
                _ => String::new(),
            };
            Err(already_exists(
                format!("Thing type {name} already exists"),
                &id,
                &arn,
            ))
        }
        Err(e) => Err(store(e)),
    }
}

/// The thing type `name`, authorised for the operation's action on its ARN, then required to
/// exist.
async fn authorized(req: &Req<'_>, name: &str) -> Result<ThingType, ApiError> {
    let t = lookup(resource::thing_type(req.registry(), name).await)?;
    req.authorize(t.resource())?;
    t.require(|| not_found(format!("Thing type {name} does not exist")))
}

/// `GET /thing-types/{thingTypeName}`
pub(super) async fn describe(req: &Req<'_>) -> Reply {
    let name = type_name(req)?;
    let t = authorized(req, &name).await?;
    Ok(ok(definition_json(req, &t)))
}

/// `GET /thing-types?thingTypeName=&nextToken=&maxResults=`
pub(super) async fn list(req: &Req<'_>) -> Reply {
    let only = req.query.get("thingTypeName");
    if let Some(n) = only {
        THING_TYPE_NAME
            .check("thingTypeName", n)
            .map_err(validation)?;
    }
    let page = token_page(&req.query)?;
    req.authorize(&Resource::any())?;
    if let Some(n) = only {
        let types: Vec<Value> = req
            .store()
            .thing_type(n)
            .await
            .map_err(store)?
            .iter()
            .map(|t| definition_json(req, t))
            .collect();
        return Ok(ok(json!({ "thingTypes": types })));
    }
    let page = req.store().list_thing_types(&page).await.map_err(store)?;
    let types: Vec<Value> = page.items.iter().map(|t| definition_json(req, t)).collect();
    Ok(ok(compact(
        json!({"thingTypes": types, "nextToken": page.next_marker}),
    )))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeprecateInput {
    #[serde(default)]
    undo_deprecate: bool,
}

/// `POST /thing-types/{thingTypeName}/deprecate` with `{"undoDeprecate": bool}`.
pub(super) async fn deprecate(req: &Req<'_>) -> Reply {
    let name = type_name(req)?;
    let input: DeprecateInput = req.json()?;
    let t = authorized(req, &name).await?;
    let at = (!input.undo_deprecate).then_some(req.now_ms());
    req.write(req.store().deprecate_thing_type(&t.name, at))
        .await
        .map_err(store)?;
    Ok(ok_empty())
}

/// `DELETE /thing-types/{thingTypeName}`
pub(super) async fn delete(req: &Req<'_>) -> Reply {
    let name = type_name(req)?;
    let t = authorized(req, &name).await?;
    if !t.deprecated {
        return Err(invalid(format!(
            "Thing type {name} must be deprecated before it can be deleted."
        )));
    }
    match req.write(req.store().delete_thing_type(&t.name)).await {
        Ok(()) => Ok(ok_empty()),
        Err(StoreError::Conflict { .. }) => Err(invalid(format!(
            "Thing type {name} cannot be deleted while things are associated with it."
        ))),
        Err(e) => Err(store(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(json: &str) -> Properties {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn properties_rules() {
        assert!(
            props(r#"{"thingTypeDescription":"A lamp","searchableAttributes":["model"]}"#)
                .check()
                .is_ok()
        );
        assert!(
            props(r#"{"searchableAttributes":["a","b","c","d"]}"#)
                .check()
                .is_err()
        );
        assert!(
            props(r#"{"searchableAttributes":["a b"]}"#)
                .check()
                .is_err()
        );
        assert!(
            props(r#"{"thingTypeDescription":"line\nbreak"}"#)
                .check()
                .is_err()
        );
        assert!(
            props(r#"{"mqtt5Configuration":{"propagatingAttributes":[]}}"#)
                .check()
                .is_err()
        );
        assert!(props(r#"{"mqtt5Configuration":null}"#).check().is_ok());
    }
}
