//! Certificates attached to things: `AttachThingPrincipal`, `DetachThingPrincipal`,
//! `ListThingPrincipals`, `ListPrincipalThings`, and their V2 forms, which also say how each
//! principal is attached (`EXCLUSIVE_THING` or `NON_EXCLUSIVE_THING`) and filter by it.
//!
//! The principal travels in the `x-amzn-principal` header and must be a registered
//! certificate of this account. The credentials endpoint checks these attachments when a
//! device names its thing in `x-amzn-iot-thingname`. Attaching and detaching are authorised
//! on both the thing and the certificate (the two resources of these actions).

use iotcreds_store::{StoreError, Thing, ThingPrincipal};
use iotcreds_types::ThingPrincipalType;
use iotcreds_types::names::THING_NAME;
use serde_json::json;

use super::errors::{invalid, not_found, store, validation};
use super::json::{compact, ok, ok_empty, parse_enum, token_page};
use super::policy_targets::{Target, authorized, no_such_target, parse_principal, resolve};
use super::{Reply, Req, lookup};
use crate::ApiError;
use crate::resource::{self, Lookup};

fn thing_name(req: &Req<'_>) -> Result<String, ApiError> {
    let name = req.label(0);
    THING_NAME.check("thingName", name).map_err(validation)?;
    Ok(name.to_owned())
}

fn principal(req: &Req<'_>) -> Result<Target, ApiError> {
    parse_principal(req, "principal", req.header("x-amzn-principal"))
}

/// The thing `name`, authorised for the operation's action on its ARN (not yet required to
/// exist, so that the principal is authorised too before either is reported missing).
async fn authorized_thing(req: &Req<'_>, name: &str) -> Result<Lookup<Thing>, ApiError> {
    let thing = lookup(resource::thing(req.registry(), name).await)?;
    req.authorize(thing.resource())?;
    Ok(thing)
}

fn no_such_thing(name: &str) -> ApiError {
    not_found(format!("Thing {name} does not exist"))
}

/// `PUT /things/{thingName}/principals?thingPrincipalType=` with header `x-amzn-principal`.
pub(super) async fn attach(req: &Req<'_>) -> Reply {
    let name = thing_name(req)?;
    let principal = principal(req)?;
    let kind = match req.query.get("thingPrincipalType") {
        Some(k) => parse_enum::<ThingPrincipalType>("thingPrincipalType", k)?,
        None => ThingPrincipalType::NonExclusiveThing,
    };
    let thing = authorized_thing(req, &name).await?;
    let cert = resolve(req, &principal).await?;
    req.authorize(cert.resource())?;
    let thing = thing.require(|| no_such_thing(&name))?;
    let cert = cert.require(|| no_such_target(&principal))?;
    let attachment = ThingPrincipal {
        thing_name: thing.name.clone(),
        principal: cert,
        kind,
        created_at: req.now_ms(),
    };
    match req
        .write(req.store().attach_thing_principal(&attachment))
        .await
    {
        Ok(()) => Ok(ok_empty()),
        Err(StoreError::NotFound { .. }) => Err(no_such_thing(&name)),
        Err(StoreError::Conflict { reason, .. }) => Err(invalid(format!(
            "The principal cannot be attached to thing {name}: {reason}"
        ))),
        Err(e) => Err(store(e)),
    }
}

/// `DELETE /things/{thingName}/principals` with header `x-amzn-principal`. Detaching a
/// principal that is not attached (or not registered) succeeds.
pub(super) async fn detach(req: &Req<'_>) -> Reply {
    let name = thing_name(req)?;
    let principal = principal(req)?;
    let thing = authorized_thing(req, &name).await?;
    let cert = resolve(req, &principal).await?;
    req.authorize(cert.resource())?;
    let thing = thing.require(|| no_such_thing(&name))?;
    let Lookup::Found(cert, _) = cert else {
        return Ok(ok_empty());
    };
    match req
        .write(req.store().detach_thing_principal(&thing.name, &cert))
        .await
    {
        Ok(())
        | Err(StoreError::NotFound {
            entity: iotcreds_store::Entity::ThingPrincipal,
            ..
        }) => Ok(ok_empty()),
        Err(e) => Err(store(e)),
    }
}

/// `GET /things/{thingName}/principals?nextToken=&maxResults=`
pub(super) async fn list_thing_principals(req: &Req<'_>) -> Reply {
    let name = thing_name(req)?;
    let page = token_page(&req.query)?;
    let thing = authorized_thing(req, &name)
        .await?
        .require(|| no_such_thing(&name))?;
    let page = req
        .store()
        .list_thing_principals(&thing.name, &page)
        .await
        .map_err(store)?;
    let principals: Vec<&str> = page.items.iter().map(|p| p.principal.as_str()).collect();
    Ok(ok(compact(
        json!({"principals": principals, "nextToken": page.next_marker}),
    )))
}

/// `GET /principals/things?nextToken=&maxResults=` with header `x-amzn-principal`.
pub(super) async fn list_principal_things(req: &Req<'_>) -> Reply {
    let principal = principal(req)?;
    let page = token_page(&req.query)?;
    let principal = authorized(req, &principal).await?;
    let page = req
        .store()
        .list_principal_things(&principal, &page)
        .await
        .map_err(store)?;
    let things: Vec<&str> = page.items.iter().map(|p| p.thing_name.as_str()).collect();
    Ok(ok(compact(
        json!({"things": things, "nextToken": page.next_marker}),
    )))
}

/// The `thingPrincipalType` filter of the V2 lists, if given.
fn kind_filter(req: &Req<'_>) -> Result<Option<ThingPrincipalType>, ApiError> {
    req.query
        .get("thingPrincipalType")
        .map(|k| parse_enum::<ThingPrincipalType>("thingPrincipalType", k))
        .transpose()
}

/// `GET /things/{thingName}/principals-v2?nextToken=&maxResults=&thingPrincipalType=`. A
/// filtered page may hold fewer than `maxResults` entries, with a `nextToken` still to follow.
pub(super) async fn list_thing_principals_v2(req: &Req<'_>) -> Reply {
    let name = thing_name(req)?;
    let kind = kind_filter(req)?;
    let page = token_page(&req.query)?;
    let thing = authorized_thing(req, &name)
        .await?
        .require(|| no_such_thing(&name))?;
    let page = req
        .store()
        .list_thing_principals(&thing.name, &page)
        .await
        .map_err(store)?;
    let objects: Vec<serde_json::Value> = page
        .items
        .iter()
        .filter(|p| kind.is_none_or(|k| p.kind == k))
        .map(|p| json!({"principal": p.principal, "thingPrincipalType": p.kind.as_str()}))
        .collect();
    Ok(ok(compact(
        json!({"thingPrincipalObjects": objects, "nextToken": page.next_marker}),
    )))
}

/// `GET /principals/things-v2?nextToken=&maxResults=&thingPrincipalType=` with header
/// `x-amzn-principal`.
pub(super) async fn list_principal_things_v2(req: &Req<'_>) -> Reply {
    let principal = principal(req)?;
    let kind = kind_filter(req)?;
    let page = token_page(&req.query)?;
    let principal = authorized(req, &principal).await?;
    let page = req
        .store()
        .list_principal_things(&principal, &page)
        .await
        .map_err(store)?;
    let objects: Vec<serde_json::Value> = page
        .items
        .iter()
        .filter(|p| kind.is_none_or(|k| p.kind == k))
        .map(|p| json!({"thingName": p.thing_name, "thingPrincipalType": p.kind.as_str()}))
        .collect();
    Ok(ok(compact(
        json!({"principalThingObjects": objects, "nextToken": page.next_marker}),
    )))
}
