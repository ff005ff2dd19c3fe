//! Roles and users as policy holders, and their inline policies.

use iotcreds_store::{
    Entity, InlinePolicy, Page, PageRequest, PolicyHolder, StoreError, StoreResult,
};
use sqlx::AnyConnection;

use crate::db::err;
use crate::iam_roles;
use crate::iam_users;
use crate::paging::{self, Keyset, keyset};
use crate::row::{RowExt, name_key};

/// A role or user, by name, as the holder of inline and attached policies.
#[derive(Debug, Clone)]
pub(crate) struct Holder<'a> {
    is_role: bool,
    name: &'a str,
    key: String,
}

impl<'a> Holder<'a> {
    pub(crate) fn role(name: &'a str) -> Self {
        Self {
            is_role: true,
            name,
            key: name_key(name),
        }
    }

    pub(crate) fn user(name: &'a str) -> Self {
        Self {
            is_role: false,
            name,
            key: name_key(name),
        }
    }

    pub(crate) fn from(holder: PolicyHolder<'a>) -> Self {
        match holder {
            PolicyHolder::Role(n) => Self::role(n),
            PolicyHolder::User(n) => Self::user(n),
        }
    }

    /// `role` or `user`: the `holder_kind` column.
    pub(crate) fn kind(&self) -> &'static str {
        if self.is_role { "role" } else { "user" }
    }

    pub(crate) fn is_role(&self) -> bool {
        self.is_role
    }

    /// The name as given.
    pub(crate) fn name(&self) -> &'a str {
        self.name
    }

    /// The name key: the `holder_key` column.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn entity(&self) -> Entity {
        if self.is_role {
            Entity::Role
        } else {
            Entity::User
        }
    }

    /// `NotFound` (entity `Role`/`User`) unless the holder exists.
    pub(crate) async fn require(&self, c: &mut AnyConnection) -> StoreResult<()> {
        let exists = if self.is_role {
            iam_roles::exists(c, self.name).await?
        } else {
            iam_users::exists(c, self.name).await?
        };
        if exists {
            Ok(())
        } else {
            Err(StoreError::not_found(self.entity(), self.name))
        }
    }
}

/// `$2` holder kind, `$3` holder key.
const LIST: Keyset = keyset!(
    select: "SELECT name, document FROM iam_inline_policies",
    filter: "holder_kind = $2 AND holder_key = $3",
    after: "name > $4",
    before: "name < $4",
    asc: "name ASC",
    desc: "name DESC",
);

/// How many inline policies the holder has.
pub(crate) async fn count(c: &mut AnyConnection, holder: &Holder<'_>) -> StoreResult<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM iam_inline_policies WHERE holder_kind = $1 AND holder_key = $2",
    )
    .bind(holder.kind())
    .bind(holder.key())
    .fetch_one(c)
    .await
    .map_err(err)
}

pub(crate) async fn put(
    c: &mut AnyConnection,
    holder: &Holder<'_>,
    policy: &InlinePolicy,
) -> StoreResult<()> {
    holder.require(&mut *c).await?;
    sqlx::query(
        "INSERT INTO iam_inline_policies (holder_kind, holder_key, name, document) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (holder_kind, holder_key, name) DO UPDATE SET document = excluded.document",
    )
    .bind(holder.kind())
    .bind(holder.key())
    .bind(&policy.name)
    .bind(&policy.document)
    .execute(c)
    .await
    .map_err(err)?;
    Ok(())
}

pub(crate) async fn get(
    c: &mut AnyConnection,
    holder: &Holder<'_>,
    name: &str,
) -> StoreResult<Option<InlinePolicy>> {
    holder.require(&mut *c).await?;
    let doc: Option<String> = sqlx::query_scalar(
        "SELECT document FROM iam_inline_policies WHERE holder_kind = $1 AND holder_key = $2 AND name = $3",
    )
    .bind(holder.kind())
    .bind(holder.key())
    .bind(name)
    .fetch_optional(c)
    .await
    .map_err(err)?;
    Ok(doc.map(|document| InlinePolicy {
        name: name.to_owned(),
        document,
    }))
}

pub(crate) async fn delete(
    c: &mut AnyConnection,
    holder: &Holder<'_>,
    name: &str,
) -> StoreResult<()> {
    holder.require(&mut *c).await?;
    let done = sqlx::query(
        "DELETE FROM iam_inline_policies WHERE holder_kind = $1 AND holder_key = $2 AND name = $3",
    )
    .bind(holder.kind())
    .bind(holder.key())
    .bind(name)
    .execute(c)
    .await
    .map_err(err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found(Entity::InlinePolicy, name));
    }
    Ok(())
}

pub(crate) async fn list(
    c: &mut AnyConnection,
    holder: &Holder<'_>,
    page: &PageRequest,
) -> StoreResult<Page<InlinePolicy>> {
    holder.require(&mut *c).await?;
    let marker = paging::decode_marker(page)?;
    let mut q = sqlx::query(LIST.sql(page, marker.is_some()))
        .bind(paging::fetch_limit(page))
        .bind(holder.kind())
        .bind(holder.key());
    if let Some(m) = marker {
        q = q.bind(m);
    }
    let rows = q.fetch_all(c).await.map_err(err)?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(InlinePolicy {
                name: r.text("name")?,
                document: r.text("document")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(paging::finish(items, page, |p| p.name.clone()))
}
