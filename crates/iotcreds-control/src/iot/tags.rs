//! Tags of IoT resources named by ARN: `TagResource`, `UntagResource`, `ListTagsForResource`.
//!
//! The taggable resources are those of AWS IoT that this server keeps: CA certificates, IoT
//! policies, role aliases and thing types. Device certificates and things carry no tags in AWS
//! IoT either (things have attributes); their ARNs, and every other resource type, are refused
//! with `InvalidRequestException`.
//!
//! The caller's ARN is reduced to the resource it names (this account and region, a valid name
//! or a 64-digit id in lower case), and every decision is made on that resource's canonical
//! ARN: authorisation (with `aws:ResourceTag/…` of its current tags, and `aws:RequestTag/…`
//! and `aws:TagKeys` of the request), then the existence check, then the write. An ARN of
//! another account or region names nothing here and answers `ResourceNotFoundException`.

use iotcreds_store::{IotTagged, StoreError, Tag};
use iotcreds_types::arn::{Arn, PARTITION};
use iotcreds_types::names::{IOT_POLICY_NAME, ROLE_ALIAS, THING_TYPE_NAME};
use serde::Deserialize;
use serde_json::json;

use super::certificates::certificate_id;
use super::errors::{invalid, not_found, store, validation};
use super::json::{TagInput, check_length, check_tags, ok, ok_empty, required};
use super::{Reply, Req, lookup};
use crate::ApiError;
use crate::resource;
use crate::tag_keys::{insert_request_tags, insert_resource_tags};

/// `ResourceArn`: at most 2048 characters (the longest IoT ARN is far shorter).
const MAX_ARN: usize = 2048;
/// `TagKeyList`: at most 50 keys, as many as a resource can carry.
const MAX_TAG_KEYS: usize = 50;

/// The resource an ARN names, by its canonical key.
struct Named {
    kind: Kind,
    key: String,
}

#[derive(Clone, Copy)]
enum Kind {
    CaCertificate,
    Policy,
    RoleAlias,
    ThingType,
}

impl Named {
    fn tagged(&self) -> IotTagged<'_> {
        match self.kind {
            Kind::CaCertificate => IotTagged::CaCertificate(&self.key),
            Kind::Policy => IotTagged::Policy(&self.key),
            Kind::RoleAlias => IotTagged::RoleAlias(&self.key),
            Kind::ThingType => IotTagged::ThingType(&self.key),
        }
    }

    fn absent(&self) -> ApiError {
        store(StoreError::not_found(self.tagged().entity(), &self.key))
    }
}

/// Reduce `resourceArn` to the resource it names.
fn named(req: &Req<'_>, text: &str) -> Result<Named, ApiError> {
    check_length("resourceArn", text, 1, MAX_ARN)?;
    let bad = || invalid(format!("Invalid resource ARN: {text}"));
    let parsed = Arn::parse(text).map_err(|_| bad())?;
    if parsed.partition != PARTITION || parsed.service != "iot" {
        return Err(bad());
    }
    let (kind, id) = parsed.resource_type();
    let (kind, key) = match kind {
        "cacert" => (Kind::CaCertificate, certificate_id("resourceArn", id)?),
        "policy" => {
            IOT_POLICY_NAME
                .check("resourceArn", id)
                .map_err(validation)?;
            (Kind::Policy, id.to_owned())
        }
        "rolealias" => {
            ROLE_ALIAS.check("resourceArn", id).map_err(validation)?;
            (Kind::RoleAlias, id.to_owned())
        }
        "thingtype" => {
            THING_TYPE_NAME
                .check("resourceArn", id)
                .map_err(validation)?;
            (Kind::ThingType, id.to_owned())
        }
        "" => return Err(bad()),
        other => {
            return Err(invalid(format!(
                "Resources of type {other} cannot be tagged"
            )));
        }
    };
    let named = Named { kind, key };
    if parsed.region != req.region() || parsed.account != req.account() {
        return Err(not_found(format!(
            "{} not found in account {} region {}",
            parsed.resource, parsed.account, parsed.region
        )));
    }
    Ok(named)
}

/// The resource's current tags, after authorising the operation's action on it with its
/// `aws:ResourceTag/…` keys and the request's own keys (`extra`); absent: not found.
async fn authorized(
    req: &Req<'_>,
    r: &Named,
    extra: impl FnOnce(&mut iotcreds_policy::Context),
) -> Result<Vec<Tag>, ApiError> {
    let current = lookup(req.store().iot_resource_tags(r.tagged()).await)?;
    let tags = current.as_deref().unwrap_or_default();
    let target = resource::iot_tagged(req.registry(), r.tagged());
    req.authorize_with(&target, |ctx| {
        insert_resource_tags(ctx, tags);
        extra(ctx);
    })?;
    current.ok_or_else(|| r.absent())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagInputBody {
    resource_arn: Option<String>,
    tags: Option<Vec<TagInput>>,
}

/// `POST /tags`: add or replace tags (at most 50 on a resource: `LimitExceededException`).
pub(super) async fn tag(req: &Req<'_>) -> Reply {
    let input: TagInputBody = req.json()?;
    let arn = required("resourceArn", input.resource_arn)?;
    let tags = check_tags(Some(required("tags", input.tags)?))?;
    let r = named(req, &arn)?;
    authorized(req, &r, |ctx| insert_request_tags(ctx, &tags)).await?;
    req.write(req.store().tag_iot_resource(r.tagged(), &tags))
        .await
        .map_err(store)?;
    Ok(ok_empty())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UntagInput {
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

/// `POST /untag`: remove tags by key (keys the resource does not carry are ignored).
pub(super) async fn untag(req: &Req<'_>) -> Reply {
    let input: UntagInput = req.json()?;
    let arn = required("resourceArn", input.resource_arn)?;
    let keys = required("tagKeys", input.tag_keys)?;
    if keys.len() > MAX_TAG_KEYS {
        return Err(invalid(format!(
            "At most {MAX_TAG_KEYS} tag keys can be removed at once"
        )));
    }
    for k in &keys {
        check_length("tagKeys.member", k, 1, 128)?;
    }
    let r = named(req, &arn)?;
    authorized(req, &r, |ctx| ctx.insert_multi("aws:TagKeys", keys.clone())).await?;
    req.write(req.store().untag_iot_resource(r.tagged(), &keys))
        .await
        .map_err(store)?;
    Ok(ok_empty())
}

/// `GET /tags?resourceArn=&nextToken=`: every tag in one page (a resource has at most 50), so
/// no `nextToken` is ever issued and none is accepted.
pub(super) async fn list(req: &Req<'_>) -> Reply {
    let arn = required(
        "resourceArn",
        req.query.get("resourceArn").map(str::to_owned),
    )?;
    if req.query.get("nextToken").is_some() {
        return Err(invalid("The nextToken is invalid"));
    }
    let r = named(req, &arn)?;
    let tags = authorized(req, &r, |_| {}).await?;
    let tags: Vec<_> = tags
        .iter()
        .map(|t| json!({"Key": t.key, "Value": t.value}))
        .collect();
    Ok(ok(json!({ "tags": tags })))
}
