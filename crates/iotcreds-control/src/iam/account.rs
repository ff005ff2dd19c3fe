//! `GetAccountAuthorizationDetails`: every user, role and customer managed policy with their
//! policies, in one paged answer (`Filter` selects the entity kinds; there are no groups and
//! no AWS managed policies here, so those lists stay empty).

use iotcreds_store::{
    InlinePolicy, ManagedPolicy, ManagedPolicyFilter, Page, PageRequest, PolicyHolder, Role,
    StoreResult, User,
};
use iotcreds_types::{ValidationError, arn};

use super::{Cx, Output, store_error};
use crate::ApiError;
use crate::query::{Paging, Params, Xml};

/// One entity of the answer, with what it needs written.
enum Entry {
    User {
        user: User,
        inline: Vec<InlinePolicy>,
        attached: Vec<ManagedPolicy>,
    },
    Role {
        role: Role,
        inline: Vec<InlinePolicy>,
        attached: Vec<ManagedPolicy>,
    },
    Policy {
        policy: ManagedPolicy,
        versions: Vec<iotcreds_store::ManagedPolicyVersion>,
    },
}

/// Every item of a paged store list.
async fn all<T, F, Fut>(mut list: F) -> Result<Vec<T>, ApiError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = StoreResult<Page<T>>>,
{
    let mut out = Vec::new();
    let mut page = PageRequest::first(1000);
    loop {
        let got = list(page.clone()).await.map_err(store_error)?;
        out.extend(got.items);
        match got.next_marker {
            Some(m) => page.marker = Some(m),
            None => return Ok(out),
        }
    }
}

async fn holder_policies(
    cx: &Cx<'_>,
    holder: PolicyHolder<'_>,
) -> Result<(Vec<InlinePolicy>, Vec<ManagedPolicy>), ApiError> {
    let store = cx.store();
    let inline = all(|page| async move {
        match holder {
            PolicyHolder::Role(n) => store.list_role_policies(n, &page).await,
            PolicyHolder::User(n) => store.list_user_policies(n, &page).await,
        }
    })
    .await?;
    let attached =
        all(|page| async move { store.list_attached_managed_policies(holder, &page).await })
            .await?;
    Ok((inline, attached))
}

fn write_inline(x: &mut Xml, tag: &str, inline: &[InlinePolicy]) {
    x.list(tag, inline, |x, ip| {
        x.text("PolicyName", &ip.name)
            .document("PolicyDocument", &ip.document);
    });
}

fn write_attached(x: &mut Xml, attached: &[ManagedPolicy]) {
    x.list("AttachedManagedPolicies", attached, |x, mp| {
        x.text("PolicyName", &mp.name).text("PolicyArn", &mp.arn);
    });
}

fn write_tags(x: &mut Xml, tags: &[iotcreds_store::Tag]) {
    if !tags.is_empty() {
        x.tags(
            "Tags",
            tags.iter().map(|t| (t.key.as_str(), t.value.as_str())),
        );
    }
}

pub(super) async fn get_account_authorization_details(cx: &Cx<'_>, p: &Params) -> Output {
    let filter = p.strings("Filter")?;
    for (i, f) in filter.iter().enumerate() {
        if !matches!(
            f.as_str(),
            "User" | "Role" | "Group" | "LocalManagedPolicy" | "AWSManagedPolicy"
        ) {
            return Err(ValidationError::new(
                &format!("filter.{}.member", i + 1),
                f,
                "Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]",
            )
            .into());
        }
    }
    let wants = |kind: &str| filter.is_empty() || filter.iter().any(|f| f == kind);
    let paging = Paging::from_params(p)?;
    cx.authorize(&crate::Resource::any())?;

    let store = cx.store();
    let mut entries = Vec::new();
    if wants("User") {
        for user in all(|page| async move { store.list_users(None, &page).await }).await? {
            let (inline, attached) = holder_policies(cx, PolicyHolder::User(&user.name)).await?;
            entries.push(Entry::User {
                user,
                inline,
                attached,
            });
        }
    }
    if wants("Role") {
        for role in all(|page| async move { store.list_roles(None, &page).await }).await? {
            let (inline, attached) = holder_policies(cx, PolicyHolder::Role(&role.name)).await?;
            entries.push(Entry::Role {
                role,
                inline,
                attached,
            });
        }
    }
    if wants("LocalManagedPolicy") {
        let filter = ManagedPolicyFilter::default();
        let filter = &filter;
        for policy in
            all(|page| async move { store.list_managed_policies(filter, &page).await }).await?
        {
            let versions = store
                .list_managed_policy_versions(&policy.arn)
                .await
                .map_err(store_error)?;
            entries.push(Entry::Policy { policy, versions });
        }
    }

    let (page, next) = paging.slice(&entries)?;
    let account = cx.account();
    let users = page.iter().filter_map(|e| match e {
        Entry::User {
            user,
            inline,
            attached,
        } => Some((user, inline, attached)),
        _ => None,
    });
    let roles = page.iter().filter_map(|e| match e {
        Entry::Role {
            role,
            inline,
            attached,
        } => Some((role, inline, attached)),
        _ => None,
    });
    let policies = page.iter().filter_map(|e| match e {
        Entry::Policy { policy, versions } => Some((policy, versions)),
        _ => None,
    });
    let mut x = Xml::new();
    x.list("UserDetailList", users, |x, (user, inline, attached)| {
        x.text("Path", &user.path)
            .text("UserName", &user.name)
            .text("UserId", &user.id)
            .text("Arn", &arn::iam_user(account, &user.path, &user.name))
            .time("CreateDate", user.created_at);
        write_inline(x, "UserPolicyList", inline);
        x.list("GroupList", std::iter::empty::<()>(), |_, ()| {});
        write_attached(x, attached);
        super::boundaries::write(x, user.permissions_boundary.as_deref());
        write_tags(x, &user.tags);
    })
    .list("GroupDetailList", std::iter::empty::<()>(), |_, ()| {})
    .list("RoleDetailList", roles, |x, (role, inline, attached)| {
        x.text("Path", &role.path)
            .text("RoleName", &role.name)
            .text("RoleId", &role.id)
            .text("Arn", &arn::iam_role(account, &role.path, &role.name))
            .time("CreateDate", role.created_at)
            .document("AssumeRolePolicyDocument", &role.trust_policy)
            .list("InstanceProfileList", std::iter::empty::<()>(), |_, ()| {});
        write_inline(x, "RolePolicyList", inline);
        write_attached(x, attached);
        super::boundaries::write(x, role.permissions_boundary.as_deref());
        write_tags(x, &role.tags);
        x.node("RoleLastUsed", |_| {});
    })
    .list("Policies", policies, |x, (mp, versions)| {
        x.text("PolicyName", &mp.name)
            .text("PolicyId", &mp.id)
            .text("Arn", &mp.arn)
            .text("Path", &mp.path)
            .text("DefaultVersionId", &mp.default_version_id)
            .int("AttachmentCount", mp.attachment_count)
            .bool("IsAttachable", true)
            .opt(
                "Description",
                mp.description.as_deref().filter(|d| !d.is_empty()),
            )
            .time("CreateDate", mp.created_at)
            .time("UpdateDate", mp.updated_at)
            .list("PolicyVersionList", versions.iter(), |x, v| {
                x.document("Document", &v.document)
                    .text("VersionId", &v.version_id)
                    .bool("IsDefaultVersion", v.is_default)
                    .time("CreateDate", v.created_at);
            });
    })
    .truncation(next.as_deref());
    Ok(Some(x.finish()))
}
