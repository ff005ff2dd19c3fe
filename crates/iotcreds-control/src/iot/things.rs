//! Things: `CreateThing`, `DescribeThing`, `UpdateThing`, `DeleteThing`, `ListThings`.
//!
//! Attributes: a thing without a thing type holds at most 3, one with a type at most 50 (AWS
//! IoT quotas). An empty attribute value means "no such attribute": `UpdateThing` with
//! `merge: true` removes the attribute, as AWS documents.

use std::collections::BTreeMap;

use iotcreds_store::{StoreError, Thing, ThingFilter, ThingUpdate};
use iotcreds_types::names::{ATTRIBUTE_NAME, ATTRIBUTE_VALUE, THING_NAME, THING_TYPE_NAME};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{already_exists, invalid, not_found, store, validation, version_conflict};
use super::json::{compact, ok, ok_empty, token_page};
use super::{Reply, Req, lookup};
use crate::resource::{self, Lookup};
use crate::{ApiError, Resource};

/// Attributes of a thing without a thing type.
const MAX_ATTRIBUTES_UNTYPED: usize = 3;
/// Attributes of a thing with a thing type.
const MAX_ATTRIBUTES_TYPED: usize = 50;
/// How often `UpdateThing` without `expectedVersion` retries a lost compare-and-swap.
const UPDATE_ATTEMPTS: usize = 3;

/// `AttributePayload`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AttributePayload {
    #[serde(default)]
    attributes: Option<BTreeMap<String, String>>,
    #[serde(default)]
    merge: Option<bool>,
}

impl AttributePayload {
    fn check(&self) -> Result<(), ApiError> {
        for (name, value) in self.attributes.iter().flatten() {
            ATTRIBUTE_NAME
                .check("attributePayload.attributes", name)
                .map_err(validation)?;
            ATTRIBUTE_VALUE
                .check("attributePayload.attributes", value)
                .map_err(validation)?;
        }
        Ok(())
    }

    /// The attributes after applying this payload to `current`.
    fn apply(&self, current: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let given = self.attributes.clone().unwrap_or_default();
        let mut out = if self.merge.unwrap_or(false) {
            current.clone()
        } else {
            BTreeMap::new()
        };
        for (k, v) in given {
            if v.is_empty() {
                out.remove(&k);
            } else {
                out.insert(k, v);
            }
        }
        out
    }
}

fn check_attribute_count(attrs: &BTreeMap<String, String>, typed: bool) -> Result<(), ApiError> {
    let max = if typed {
        MAX_ATTRIBUTES_TYPED
    } else {
        MAX_ATTRIBUTES_UNTYPED
    };
    if attrs.len() > max {
        return Err(invalid(format!(
            "A thing {} a thing type can have at most {max} attributes; this request gives it {}.",
            if typed { "with" } else { "without" },
            attrs.len()
        )));
    }
    Ok(())
}

fn thing_name(req: &Req<'_>) -> Result<String, ApiError> {
    let name = req.label(0);
    THING_NAME.check("thingName", name).map_err(validation)?;
    Ok(name.to_owned())
}

/// A thing type a thing may be given: exists and is not deprecated.
async fn usable_thing_type(req: &Req<'_>, name: &str) -> Result<(), ApiError> {
    match req.store().thing_type(name).await.map_err(store)? {
        None => Err(not_found(format!("Thing type {name} does not exist"))),
        Some(t) if t.deprecated => Err(invalid(format!(
            "Thing type {name} is deprecated; things cannot be given a deprecated thing type."
        ))),
        Some(_) => Ok(()),
    }
}

/// `DescribeThing` output.
fn describe_json(req: &Req<'_>, t: &Thing) -> Value {
    compact(json!({
        "defaultClientId": t.name,
        "thingName": t.name,
        "thingId": t.id,
        "thingArn": req.thing_arn(&t.name),
        "thingTypeName": t.thing_type,
        "attributes": t.attributes,
        "version": t.version,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateThingInput {
    thing_type_name: Option<String>,
    #[serde(default)]
    attribute_payload: AttributePayload,
    billing_group_name: Option<String>,
}

/// `POST /things/{thingName}`; idempotent when the configuration is identical.
pub(super) async fn create(req: &Req<'_>) -> Reply {
    let name = thing_name(req)?;
    let input: CreateThingInput = req.json()?;
    if let Some(t) = &input.thing_type_name {
        THING_TYPE_NAME
            .check("thingTypeName", t)
            .map_err(validation)?;
    }
    if let Some(b) = &input.billing_group_name {
        THING_NAME
            .check("billingGroupName", b)
            .map_err(validation)?;
    }
    input.attribute_payload.check()?;
    let attributes = input.attribute_payload.apply(&BTreeMap::new());
    check_attribute_count(&attributes, input.thing_type_name.is_some())?;
    let new_thing = resource::new_thing(req.registry(), &name);
    req.authorize(&new_thing)?;
    let arn = new_thing.arn().to_owned();

    if let Some(b) = &input.billing_group_name {
        return Err(not_found(format!("Billing group {b} does not exist")));
    }
    let existing = |t: Thing| {
        if t.thing_type == input.thing_type_name && t.attributes == attributes {
            Ok(ok(
                json!({"thingName": t.name, "thingArn": arn, "thingId": t.id}),
            ))
        } else {
            Err(already_exists(
                format!("Thing {name} already exists with a different configuration"),
                &t.id,
                &arn,
            ))
        }
    };
    if let Some(t) = req.store().thing(&name).await.map_err(store)? {
        return existing(t);
    }
    if let Some(t) = &input.thing_type_name {
        usable_thing_type(req, t).await?;
    }
    let now = req.now_ms();
    let thing = Thing {
        name: name.clone(),
        id: uuid::Uuid::new_v4().to_string(),
        thing_type: input.thing_type_name.clone(),
        attributes: attributes.clone(),
        version: 1,
        created_at: now,
        modified_at: now,
        sessions_revoked_before: None,
    };
    match req.write(req.store().insert_thing(&thing)).await {
        Ok(()) => Ok(ok(
            json!({"thingName": thing.name, "thingArn": arn, "thingId": thing.id}),
        )),
        // Created concurrently: answer as if it had existed before.
        Err(StoreError::AlreadyExists { .. }) => match req.store().thing(&name).await {
            Ok(Some(t)) => existing(t),
            Ok(None) => Err(invalid(format!(
                "Thing {name} was deleted while it was being created"
            ))),
            Err(e) => Err(store(e)),
        },
        Err(e) => Err(store(e)),
    }
}

/// `GET /things/{thingName}`
pub(super) async fn describe(req: &Req<'_>) -> Reply {
    let name = thing_name(req)?;
    let thing = lookup(resource::thing(req.registry(), &name).await)?;
    req.authorize(thing.resource())?;
    let t = thing.require(|| not_found(format!("Thing {name} does not exist")))?;
    Ok(ok(describe_json(req, &t)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateThingInput {
    thing_type_name: Option<String>,
    attribute_payload: Option<AttributePayload>,
    expected_version: Option<i64>,
    #[serde(default)]
    remove_thing_type: bool,
}

/// `PATCH /things/{thingName}`: type and attributes, compare-and-swap on `expectedVersion`.
pub(super) async fn update(req: &Req<'_>) -> Reply {
    let name = thing_name(req)?;
    let input: UpdateThingInput = req.json()?;
    if let Some(t) = &input.thing_type_name {
        THING_TYPE_NAME
            .check("thingTypeName", t)
            .map_err(validation)?;
        if input.remove_thing_type {
            return Err(invalid(
                "You cannot specify both thingTypeName and removeThingType.",
            ));
        }
    }
    if let Some(p) = &input.attribute_payload {
        p.check()?;
    }
    let thing = lookup(resource::thing(req.registry(), &name).await)?;
    req.authorize(thing.resource())?;

    if let Some(t) = &input.thing_type_name {
        usable_thing_type(req, t).await?;
    }
    let name = thing
        .require(|| not_found(format!("Thing {name} does not exist")))?
        .name;
    for _ in 0..UPDATE_ATTEMPTS {
        let Some(current) = req.store().thing(&name).await.map_err(store)? else {
            return Err(not_found(format!("Thing {name} does not exist")));
        };
        if let Some(expected) = input.expected_version
            && expected != current.version
        {
            return Err(version_conflict(format!(
                "The version of thing {name} is {}, not the expected version {expected}.",
                current.version
            )));
        }
        let thing_type = if input.remove_thing_type {
            None
        } else {
            input.thing_type_name.clone().or(current.thing_type.clone())
        };
        let attributes = match &input.attribute_payload {
            Some(p) => p.apply(&current.attributes),
            None => current.attributes.clone(),
        };
        check_attribute_count(&attributes, thing_type.is_some())?;
        let update = ThingUpdate {
            thing_type,
            attributes,
            modified_at: req.now_ms(),
        };
        match req
            .write(req.store().update_thing(&name, current.version, &update))
            .await
        {
            Ok(_) => return Ok(ok_empty()),
            // Someone else updated it between the read and the write: try again on the new
            // version, unless the caller pinned one.
            Err(StoreError::VersionConflict { .. }) if input.expected_version.is_none() => {}
            Err(e) => return Err(store(e)),
        }
    }
    Err(invalid(format!(
        "Thing {name} is being updated concurrently; try again."
    )))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevokeSessionsInput {
    /// Epoch seconds; default now.
    before: Option<f64>,
}

/// `POST /things/{thingName}/revoke-sessions` (`RevokeThingSessions`, an iotcreds extension):
/// the temporary credentials issued to the thing before `before` (default now; never later
/// than now) are refused on the service endpoint from the next request on, on every instance.
pub(super) async fn revoke_sessions(req: &Req<'_>) -> Reply {
    let name = thing_name(req)?;
    let input: RevokeSessionsInput = req.json()?;
    let now = req.now_ms();
    let before_ms = match input.before {
        None => now,
        Some(s) if s.is_finite() && s >= 0.0 => (s * 1000.0).round() as i64,
        Some(_) => return Err(invalid("before must be a time in epoch seconds")),
    };
    if before_ms > now.saturating_add(1000) {
        return Err(invalid(
            "before must not be in the future: sessions not yet issued cannot be revoked",
        ));
    }
    let thing = lookup(resource::thing(req.registry(), &name).await)?;
    req.authorize(thing.resource())?;
    let t = thing.require(|| not_found(format!("Thing {name} does not exist")))?;
    let in_force = req
        .write(
            req.store()
                .revoke_thing_sessions(&t.name, before_ms.min(now)),
        )
        .await
        .map_err(store)?;
    tracing::info!(
        target: "iotcreds::audit",
        event = "revoke_thing_sessions",
        request_id = %req.caller.request_id,
        principal = %req.caller.principal.arn(),
        thing = %t.name,
        revoked_before_ms = in_force,
    );
    Ok(ok(json!({
        "thingName": t.name,
        "revokedBefore": iotcreds_types::time_fmt::epoch_seconds(in_force),
    })))
}

/// `DELETE /things/{thingName}?expectedVersion=N`. Deleting a thing that does not exist
/// succeeds, as AWS documents.
pub(super) async fn delete(req: &Req<'_>) -> Reply {
    let name = thing_name(req)?;
    let expected = req.query.int("expectedVersion")?;
    let thing = lookup(resource::thing(req.registry(), &name).await)?;
    req.authorize(thing.resource())?;
    let Lookup::Found(thing, _) = thing else {
        return Ok(ok_empty());
    };
    let name = thing.name;
    match req.write(req.store().delete_thing(&name, expected)).await {
        Ok(()) | Err(StoreError::NotFound { .. }) => Ok(ok_empty()),
        Err(StoreError::Conflict { .. }) => Err(invalid(format!(
            "Cannot delete thing {name}: principals are still attached to it. Detach them first."
        ))),
        Err(e) => Err(store(e)),
    }
}

/// `GET /things?attributeName=&attributeValue=&thingTypeName=&nextToken=&maxResults=`
pub(super) async fn list(req: &Req<'_>) -> Reply {
    let q = &req.query;
    let attribute = match (q.get("attributeName"), q.get("attributeValue")) {
        (None, None) => None,
        (Some(n), Some(v)) => {
            ATTRIBUTE_NAME
                .check("attributeName", n)
                .map_err(validation)?;
            ATTRIBUTE_VALUE
                .check("attributeValue", v)
                .map_err(validation)?;
            Some((n.to_owned(), v.to_owned()))
        }
        _ => {
            return Err(invalid(
                "attributeName and attributeValue must be given together.",
            ));
        }
    };
    let thing_type = match q.get("thingTypeName") {
        Some(t) => {
            THING_TYPE_NAME
                .check("thingTypeName", t)
                .map_err(validation)?;
            Some(t.to_owned())
        }
        None => None,
    };
    if q.bool("usePrefixAttributeValue")? == Some(true) {
        return Err(invalid(
            "usePrefixAttributeValue is not supported by this server; match the whole value.",
        ));
    }
    let page = token_page(q)?;
    req.authorize(&Resource::any())?;
    let filter = ThingFilter {
        attribute,
        thing_type,
        name_prefix: None,
    };
    let page = req
        .store()
        .list_things(&filter, &page)
        .await
        .map_err(store)?;
    let things: Vec<Value> = page
        .items
        .iter()
        .map(|t| {
            compact(json!({
                "thingName": t.name,
                "thingTypeName": t.thing_type,
                "thingArn": req.thing_arn(&t.name),
                "attributes": t.attributes,
                "version": t.version,
            }))
        })
        .collect();
    Ok(ok(compact(
        json!({"things": things, "nextToken": page.next_marker}),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(json: &str) -> AttributePayload {
        serde_json::from_str(json).unwrap()
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn attribute_payload_merge_semantics() {
        let current = map(&[("a", "1"), ("b", "2")]);
        // Replace.
        let p = payload(r#"{"attributes":{"c":"3"}}"#);
        assert_eq!(p.apply(&current), map(&[("c", "3")]));
        // Merge: update, add, remove with an empty value.
        let p = payload(r#"{"attributes":{"a":"9","b":"","c":"3"},"merge":true}"#);
        assert_eq!(p.apply(&current), map(&[("a", "9"), ("c", "3")]));
        // Merge with nothing changes nothing.
        let p = payload(r#"{"merge":true}"#);
        assert_eq!(p.apply(&current), current);
        // Empty values never become attributes.
        let p = payload(r#"{"attributes":{"x":""}}"#);
        assert!(p.apply(&BTreeMap::new()).is_empty());
    }

    #[test]
    fn attribute_rules() {
        assert!(
            payload(r#"{"attributes":{"model":"X-1","serial/no":"[7]"}}"#)
                .check()
                .is_ok()
        );
        let e = payload(r#"{"attributes":{"bad name":"v"}}"#)
            .check()
            .unwrap_err();
        assert_eq!(e.code, "InvalidRequestException");
        assert!(e.message.contains("attributePayload.attributes"));
        assert!(
            payload(r#"{"attributes":{"n":"bad value"}}"#)
                .check()
                .is_err()
        );
        let three = map(&[("a", "1"), ("b", "2"), ("c", "3")]);
        assert!(check_attribute_count(&three, false).is_ok());
        let mut four = three.clone();
        four.insert("d".into(), "4".into());
        assert!(check_attribute_count(&four, false).is_err());
        assert!(check_attribute_count(&four, true).is_ok());
    }
}
