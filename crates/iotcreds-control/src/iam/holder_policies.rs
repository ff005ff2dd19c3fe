//! The permission policies of roles and users, one implementation for both holders: inline
//! policies (`Put/Get/Delete/ListRolePolicies`, `…UserPolicy…`) and attached managed policies
//! (`Attach/Detach/ListAttachedRolePolicies`, `…UserPolicies`).
//!
//! Inline documents are checked against the per-document quota and the holder's aggregate
//! quota (10240 characters for a role, 2048 for a user, whitespace excluded).

use iotcreds_policy::{SizeLimit, policy_size};
use iotcreds_store::{Entity, InlinePolicy, PageRequest, PolicyHolder, StoreError, Tag};
use iotcreds_types::arn;
use iotcreds_types::names::{IAM_POLICY_NAME, IAM_ROLE_NAME, NameRule};

use super::{
    Cx, EXISTING_USER_NAME, Output, authorize_on, check_document, check_document_length,
    check_policy_path, limit_exceeded, no_such_entity, no_such_role, no_such_user,
    policy_arn_param, store_error,
};
use crate::ApiError;
use crate::query::{Paging, Params, Xml};

/// Which kind of holder an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Role,
    User,
}

/// The verbs of the holder-policy operations.
#[derive(Debug, Clone, Copy)]
enum Verb {
    Put,
    Get,
    Delete,
    List,
    Attach,
    Detach,
    ListAttached,
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

    fn action(self, verb: Verb) -> &'static str {
        match (self, verb) {
            (Kind::Role, Verb::Put) => "iam:PutRolePolicy",
            (Kind::Role, Verb::Get) => "iam:GetRolePolicy",
            (Kind::Role, Verb::Delete) => "iam:DeleteRolePolicy",
            (Kind::Role, Verb::List) => "iam:ListRolePolicies",
            (Kind::Role, Verb::Attach) => "iam:AttachRolePolicy",
            (Kind::Role, Verb::Detach) => "iam:DetachRolePolicy",
            (Kind::Role, Verb::ListAttached) => "iam:ListAttachedRolePolicies",
            (Kind::User, Verb::Put) => "iam:PutUserPolicy",
            (Kind::User, Verb::Get) => "iam:GetUserPolicy",
            (Kind::User, Verb::Delete) => "iam:DeleteUserPolicy",
            (Kind::User, Verb::List) => "iam:ListUserPolicies",
            (Kind::User, Verb::Attach) => "iam:AttachUserPolicy",
            (Kind::User, Verb::Detach) => "iam:DetachUserPolicy",
            (Kind::User, Verb::ListAttached) => "iam:ListAttachedUserPolicies",
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

/// A holder as the target of an action: its stored name (if it exists), its ARN and tags.
struct Target {
    exists: bool,
    name: String,
    arn: String,
    tags: Vec<Tag>,
}

async fn target(cx: &Cx<'_>, kind: Kind, name: &str) -> Result<Target, ApiError> {
    let registry = &cx.ctx.registry;
    let found = match kind {
        Kind::Role => registry
            .role(name)
            .await
            .map_err(store_error)?
            .map(|r| (r.role.name.clone(), r.arn.clone(), r.role.tags.clone())),
        Kind::User => registry
            .user(name)
            .await
            .map_err(store_error)?
            .map(|u| (u.user.name.clone(), u.arn.clone(), u.user.tags.clone())),
    };
    Ok(match found {
        Some((name, arn, tags)) => Target {
            exists: true,
            name,
            arn,
            tags,
        },
        None => Target {
            exists: false,
            name: name.to_owned(),
            arn: match kind {
                Kind::Role => arn::iam_role(cx.account(), "/", name),
                Kind::User => arn::iam_user(cx.account(), "/", name),
            },
            tags: Vec::new(),
        },
    })
}

/// Validate the holder name, resolve it and authorise `verb` on it (with `extra` keys).
async fn authorized(
    cx: &Cx<'_>,
    p: &Params,
    kind: Kind,
    verb: Verb,
    extra: impl FnOnce(&mut iotcreds_policy::Context),
) -> Result<Target, ApiError> {
    let name = p.required(kind.name_param(), kind.name_field())?;
    kind.rule().check(kind.name_field(), name)?;
    let t = target(cx, kind, name).await?;
    authorize_on(cx, kind.action(verb), &t.arn, &t.tags, extra)?;
    Ok(t)
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
    let t = authorized(cx, p, kind, Verb::Put, |_| {}).await?;
    let limit = kind.inline_limit();
    check_document(document, iotcreds_policy::Target::InlinePolicy, limit)?;
    if !t.exists {
        return Err(kind.no_such_holder(&t.name));
    }
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
    let t = authorized(cx, p, kind, Verb::Get, |_| {}).await?;
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
    let t = authorized(cx, p, kind, Verb::Delete, |_| {}).await?;
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
    let t = authorized(cx, p, kind, Verb::List, |_| {}).await?;
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

async fn attach(cx: &Cx<'_>, p: &Params, kind: Kind, verb: Verb) -> Output {
    let policy_arn = policy_arn_param(p)?;
    let t = authorized(cx, p, kind, verb, |ctx| {
        ctx.insert("iam:PolicyARN", policy_arn)
    })
    .await?;
    if !t.exists {
        return Err(kind.no_such_holder(&t.name));
    }
    let holder = kind.holder(&t.name);
    match verb {
        Verb::Attach => {
            cx.write(cx.store().attach_managed_policy(holder, policy_arn))
                .await?
        }
        _ => {
            cx.write(cx.store().detach_managed_policy(holder, policy_arn))
                .await?
        }
    }
    Ok(None)
}

async fn list_attached(cx: &Cx<'_>, p: &Params, kind: Kind) -> Output {
    let prefix = p.get("PathPrefix");
    if let Some(prefix) = prefix {
        check_policy_path("pathPrefix", prefix)?;
    }
    let paging = Paging::from_params(p)?;
    let t = authorized(cx, p, kind, Verb::ListAttached, |_| {}).await?;
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
    attach(cx, p, Kind::Role, Verb::Attach).await
}

pub(super) async fn detach_role_policy(cx: &Cx<'_>, p: &Params) -> Output {
    attach(cx, p, Kind::Role, Verb::Detach).await
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
    attach(cx, p, Kind::User, Verb::Attach).await
}

pub(super) async fn detach_user_policy(cx: &Cx<'_>, p: &Params) -> Output {
    attach(cx, p, Kind::User, Verb::Detach).await
}

pub(super) async fn list_attached_user_policies(cx: &Cx<'_>, p: &Params) -> Output {
    list_attached(cx, p, Kind::User).await
}
