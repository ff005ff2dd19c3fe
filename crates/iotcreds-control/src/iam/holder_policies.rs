//! The permission policies of roles and users, one implementation for both holders: inline
//! policies (`Put/Get/Delete/ListRolePolicies`, `…UserPolicy…`) and attached managed policies
//! (`Attach/Detach/ListAttachedRolePolicies`, `…UserPolicies`).
//!
//! Inline documents are checked against the per-document quota and the holder's aggregate
//! quota (10240 characters for a role, 2048 for a user, whitespace excluded).

use iotcreds_policy::{SizeLimit, policy_size};
use iotcreds_store::{Entity, InlinePolicy, PageRequest, PolicyHolder, StoreError, Tag};
use iotcreds_types::names::{IAM_POLICY_NAME, IAM_ROLE_NAME, NameRule};

use super::{
    Cx, EXISTING_USER_NAME, Output, authorize_on, check_document, check_document_length,
    check_policy_path, limit_exceeded, lookup, no_such_entity, no_such_role, no_such_user,
    policy_arn_param, store_error,
};
use crate::ApiError;
use crate::query::{Paging, Params, Xml};
use crate::resource;

/// Which kind of holder an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Role,
    User,
}

impl Kind {
    fn name_param(self) -> &'static str {
        match self {
            Kind::Role => "RoleName",
            Kind::User => "UserName",
        }
    }

    fn name_field(self) -> &'static str {
        match self {
            Kind::Role => "roleName",
            Kind::User => "userName",
        }
    }

    fn rule(self) -> NameRule {
        match self {
            Kind::Role => IAM_ROLE_NAME,
            Kind::User => EXISTING_USER_NAME,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Role => "role",
            Kind::User => "user",
        }
    }

    fn inline_limit(self) -> SizeLimit {
        match self {
            Kind::Role => SizeLimit::RoleInline,
            Kind::User => SizeLimit::UserInline,
        }
    }

    fn holder(self, name: &str) -> PolicyHolder<'_> {
        match self {
            Kind::Role => PolicyHolder::Role(name),
            Kind::User => PolicyHolder::User(name),
        }
    }

    /// The store error of an operation on this holder, with IAM's wording for a missing
    /// inline policy (`The role policy with name P cannot be found.`).
    fn store_error(self, e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound {
                entity: Entity::InlinePolicy,
                key,
            } => self.no_such_policy(&key),
            other => store_error(other),
        }
    }

    fn no_such_policy(self, policy: &str) -> ApiError {
        no_such_entity(format!(
            "The {} policy with name {policy} cannot be found.",
            self.noun()
        ))
    }

    fn no_such_holder(self, name: &str) -> ApiError {
        match self {
            Kind::Role => no_such_role(name),
            Kind::User => no_such_user(name),
        }
    }
}

/// A holder as the target of an action: its stored name and tags.
struct Target {
    name: String,
    tags: Vec<Tag>,
}

/// A holder after authorisation: found, or the name the caller gave.
struct Authorized {
    kind: Kind,
    found: Option<Target>,
    given: String,
}

impl Authorized {
    /// The holder, which must exist.
    fn require(self) -> Result<Target, ApiError> {
        let (kind, given) = (self.kind, self.given);
        self.found.ok_or_else(|| kind.no_such_holder(&given))
    }
}

/// Validate the holder name, look the holder up and authorise the operation's action on its own
/// ARN (with `extra` keys).
async fn authorized(
    cx: &Cx<'_>,
    p: &Params,
    kind: Kind,
    extra: impl FnOnce(&mut iotcreds_policy::Context),
) -> Result<Authorized, ApiError> {
    let name = p.required(kind.name_param(), kind.name_field())?;
    kind.rule().check(kind.name_field(), name)?;
    let registry = cx.registry();
    let (found, resource) = match kind {
        Kind::Role => {
            let l = lookup(resource::iam_role(registry, name).await)?;
            let found = l.found().map(|r| Target {
                name: r.role.name.clone(),
                tags: r.role.tags.clone(),
            });
            (found, l.resource().clone())
        }
        Kind::User => {
            let l = lookup(resource::iam_user(registry, name).await)?;
            let found = l.found().map(|u| Target {
                name: u.user.name.clone(),
                tags: u.user.tags.clone(),
            });
            (found, l.resource().clone())
        }
    };
    let tags = found.as_ref().map(|t| t.tags.as_slice()).unwrap_or(&[]);
    authorize_on(cx, &resource, tags, extra)?;
    Ok(Authorized {
        kind,
        found,
        given: name.to_owned(),
    })
}

fn policy_name(p: &Params) -> Result<&str, ApiError> {
    let name = p.required("PolicyName", "policyName")?;
    IAM_POLICY_NAME.check("policyName", name)?;
    Ok(name)
}

/// Every inline policy of a holder (for the aggregate size quota).
async fn all_inline(cx: &Cx<'_>, kind: Kind, name: &str) -> Result<Vec<InlinePolicy>, ApiError> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(1000);
    loop {
        let got = match kind {
            Kind::Role => cx.store().list_role_policies(name, &page).await,
            Kind::User => cx.store().list_user_policies(name, &page).await,
        }
        .map_err(|e| kind.store_error(e))?;
        out.extend(got.items);
        match got.next_marker {
            Some(m) => page.marker = Some(m),
            None => return Ok(out),
        }
    }
}

async fn put(cx: &Cx<'_>, p: &Params, kind: Kind) -> Output {
    let policy = policy_name(p)?;
    let document = p.required("PolicyDocument", "policyDocument")?;
    check_document_length("policyDocument", document)?;
    let held = authorized(cx, p, kind, |_| {}).await?;
    let limit = kind.inline_limit();
    check_document(document, iotcreds_policy::Target::InlinePolicy, limit)?;
    let t = held.require()?;
    let others: usize = all_inline(cx, kind, &t.name)
        .await?
        .iter()
        .filter(|ip| ip.name != policy)
        .map(|ip| policy_size(&ip.document))
        .sum();
    if others + policy_size(document) > limit.max_chars() {
        return Err(limit_exceeded(format!(
            "Maximum policy size of {} bytes exceeded for {} {}",
            limit.max_chars(),
            kind.noun(),
            t.name
        )));
    }
    let inline = InlinePolicy {
        name: policy.to_owned(),
        document: document.to_owned(),
    };
    let write = async {
        match kind {
            Kind::Role => cx.store().put_role_policy(&t.name, &inline).await,
            Kind::User => cx.store().put_user_policy(&t.name, &inline).await,
        }
    };
    cx.ctx
        .registry
        .mutate(write)
        .await
        .map_err(|e| kind.store_error(e))?;
    Ok(None)
}

async fn get(cx: &Cx<'_>, p: &Params, kind: Kind) -> Output {
    let policy = policy_name(p)?;
    let t = authorized(cx, p, kind, |_| {}).await?.require()?;
    let found = match kind {
        Kind::Role => cx.store().role_policy(&t.name, policy).await,
        Kind::User => cx.store().user_policy(&t.name, policy).await,
    }
    .map_err(|e| kind.store_error(e))?
    .ok_or_else(|| kind.no_such_policy(policy))?;
    let mut x = Xml::new();
    x.text(kind.name_param(), &t.name)
        .text("PolicyName", &found.name)
        .document("PolicyDocument", &found.document);
    Ok(Some(x.finish()))
}

async fn delete(cx: &Cx<'_>, p: &Params, kind: Kind) -> Output {
    let policy = policy_name(p)?;
    let t = authorized(cx, p, kind, |_| {}).await?.require()?;
    let write = async {
        match kind {
            Kind::Role => cx.store().delete_role_policy(&t.name, policy).await,
            Kind::User => cx.store().delete_user_policy(&t.name, policy).await,
        }
    };
    cx.ctx
        .registry
        .mutate(write)
        .await
        .map_err(|e| kind.store_error(e))?;
    Ok(None)
}

async fn list(cx: &Cx<'_>, p: &Params, kind: Kind) -> Output {
    let paging = Paging::from_params(p)?;
    let t = authorized(cx, p, kind, |_| {}).await?.require()?;
    let page = match kind {
        Kind::Role => {
            cx.store()
                .list_role_policies(&t.name, &paging.page_request())
                .await
        }
        Kind::User => {
            cx.store()
                .list_user_policies(&t.name, &paging.page_request())
                .await
        }
    }
    .map_err(|e| kind.store_error(e))?;
    let mut x = Xml::new();
    x.strings("PolicyNames", page.items.iter().map(|ip| ip.name.as_str()))
        .truncation(page.next_marker.as_deref());
    Ok(Some(x.finish()))
}

async fn attach(cx: &Cx<'_>, p: &Params, kind: Kind, attach: bool) -> Output {
    let policy_arn = policy_arn_param(p)?;
    // The policy too is looked up first: `iam:PolicyARN` carries its own ARN.
    let policy = lookup(resource::managed_policy(cx.registry(), policy_arn).await)?;
    let t = authorized(cx, p, kind, |ctx| {
        ctx.insert("iam:PolicyARN", policy.resource().arn())
    })
    .await?
    .require()?;
    let policy =
        policy.require(|| store_error(StoreError::not_found(Entity::ManagedPolicy, policy_arn)))?;
    let holder = kind.holder(&t.name);
    if attach {
        cx.write(cx.store().attach_managed_policy(holder, &policy.arn))
            .await?
    } else {
        cx.write(cx.store().detach_managed_policy(holder, &policy.arn))
            .await?
    }
    Ok(None)
}

async fn list_attached(cx: &Cx<'_>, p: &Params, kind: Kind) -> Output {
    let prefix = p.get("PathPrefix");
    if let Some(prefix) = prefix {
        check_policy_path("pathPrefix", prefix)?;
    }
    let paging = Paging::from_params(p)?;
    let t = authorized(cx, p, kind, |_| {}).await?.require()?;
    let page = cx
        .store()
        .list_attached_managed_policies(kind.holder(&t.name), &paging.page_request())
        .await
        .map_err(|e| kind.store_error(e))?;
    let mut x = Xml::new();
    x.list(
        "AttachedPolicies",
        page.items
            .iter()
            .filter(|mp| prefix.is_none_or(|pre| mp.path.starts_with(pre))),
        |x, mp| {
            x.text("PolicyName", &mp.name).text("PolicyArn", &mp.arn);
        },
    )
    .truncation(page.next_marker.as_deref());
    Ok(Some(x.finish()))
}

pub(super) async fn put_role_policy(cx: &Cx<'_>, p: &Params) -> Output {
    put(cx, p, Kind::Role).await
}

pub(super) async fn get_role_policy(cx: &Cx<'_>, p: &Params) -> Output {
    get(cx, p, Kind::Role).await
}

pub(super) async fn delete_role_policy(cx: &Cx<'_>, p: &Params) -> Output {
    delete(cx, p, Kind::Role).await
}

pub(super) async fn list_role_policies(cx: &Cx<'_>, p: &Params) -> Output {
    list(cx, p, Kind::Role).await
}

pub(super) async fn attach_role_policy(cx: &Cx<'_>, p: &Params) -> Output {
    attach(cx, p, Kind::Role, true).await
}

pub(super) async fn detach_role_policy(cx: &Cx<'_>, p: &Params) -> Output {
    attach(cx, p, Kind::Role, false).await
}

pub(super) async fn list_attached_role_policies(cx: &Cx<'_>, p: &Params) -> Output {
    list_attached(cx, p, Kind::Role).await
}

pub(super) async fn put_user_policy(cx: &Cx<'_>, p: &Params) -> Output {
    put(cx, p, Kind::User).await
}

pub(super) async fn get_user_policy(cx: &Cx<'_>, p: &Params) -> Output {
    get(cx, p, Kind::User).await
}

pub(super) async fn delete_user_policy(cx: &Cx<'_>, p: &Params) -> Output {
    delete(cx, p, Kind::User).await
}

pub(super) async fn list_user_policies(cx: &Cx<'_>, p: &Params) -> Output {
    list(cx, p, Kind::User).await
}

pub(super) async fn attach_user_policy(cx: &Cx<'_>, p: &Params) -> Output {
    attach(cx, p, Kind::User, true).await
}

pub(super) async fn detach_user_policy(cx: &Cx<'_>, p: &Params) -> Output {
    attach(cx, p, Kind::User, false).await
}

pub(super) async fn list_attached_user_policies(cx: &Cx<'_>, p: &Params) -> Output {
    list_attached(cx, p, Kind::User).await
}
