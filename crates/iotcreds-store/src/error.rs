//! Errors of the registry store. They name the entity and key and the rule that was broken; the
//! server maps them to AWS error codes and HTTP statuses at its edges.

use std::fmt;

/// The kind of registry entity an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// Access key of an IAM user.
    AccessKey,
    /// Account setting.
    AccountSetting,
    /// CA certificate.
    CaCertificate,
    /// Device certificate.
    Certificate,
    /// Inline policy of a role or user.
    InlinePolicy,
    /// IoT policy.
    IotPolicy,
    /// An IAM user's console password.
    LoginProfile,
    /// Version of an IoT policy.
    IotPolicyVersion,
    /// Customer-managed IAM policy.
    ManagedPolicy,
    /// Version of a managed policy.
    ManagedPolicyVersion,
    /// Attachment of a managed policy.
    PolicyAttachment,
    /// IAM role.
    Role,
    /// Role alias.
    RoleAlias,
    /// Sealing key.
    SealingKey,
    /// Thing.
    Thing,
    /// Attachment of a principal to a thing.
    ThingPrincipal,
    /// Thing type.
    ThingType,
    /// IAM user.
    User,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Entity::AccessKey => "access key",
            Entity::AccountSetting => "account setting",
            Entity::CaCertificate => "CA certificate",
            Entity::Certificate => "certificate",
            Entity::InlinePolicy => "inline policy",
            Entity::IotPolicy => "policy",
            Entity::LoginProfile => "login profile",
            Entity::IotPolicyVersion => "policy version",
            Entity::ManagedPolicy => "managed policy",
            Entity::ManagedPolicyVersion => "managed policy version",
            Entity::PolicyAttachment => "policy attachment",
            Entity::Role => "role",
            Entity::RoleAlias => "role alias",
            Entity::SealingKey => "sealing key",
            Entity::Thing => "thing",
            Entity::ThingPrincipal => "thing principal attachment",
            Entity::ThingType => "thing type",
            Entity::User => "user",
        };
        f.write_str(s)
    }
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The entity does not exist.
    #[error("{entity} {key} does not exist")]
    NotFound {
        /// What was looked for.
        entity: Entity,
        /// Its key.
        key: String,
    },
    /// An entity with the same key exists.
    #[error("{entity} {key} already exists")]
    AlreadyExists {
        /// What was created.
        entity: Entity,
        /// Its key.
        key: String,
    },
    /// Other entities still depend on it, or an exclusive relation is taken.
    #[error("{entity} {key}: {reason}")]
    Conflict {
        /// The entity.
        entity: Entity,
        /// Its key.
        key: String,
        /// What is in the way, in a sentence.
        reason: String,
    },
    /// A count limit would be exceeded.
    #[error("{entity} {key}: {reason}")]
    LimitExceeded {
        /// The entity.
        entity: Entity,
        /// Its key.
        key: String,
        /// Which limit, in a sentence.
        reason: String,
    },
    /// Optimistic concurrency: the stored version is not the expected one.
    #[error("{entity} {key}: the version does not match the expected version")]
    VersionConflict {
        /// The entity.
        entity: Entity,
        /// Its key.
        key: String,
    },
    /// The entity's state forbids the operation (for example, deleting an ACTIVE certificate).
    #[error("{entity} {key}: {reason}")]
    InvalidState {
        /// The entity.
        entity: Entity,
        /// Its key.
        key: String,
        /// Which state, in a sentence.
        reason: String,
    },
    /// A paging marker the store did not issue (garbled or truncated): the caller's input is
    /// wrong, and nothing was read.
    #[error("invalid paging marker")]
    InvalidMarker,
    /// The database cannot be reached (connection refused, pool timed out).
    #[error("registry unavailable: {0}")]
    Unavailable(String),
    /// Any other database failure (never includes values bound to the query).
    #[error("registry error: {0}")]
    Backend(String),
}

impl StoreError {
    /// `NotFound` for `entity` with `key`.
    pub fn not_found(entity: Entity, key: impl Into<String>) -> Self {
        StoreError::NotFound {
            entity,
            key: key.into(),
        }
    }

    /// `AlreadyExists` for `entity` with `key`.
    pub fn already_exists(entity: Entity, key: impl Into<String>) -> Self {
        StoreError::AlreadyExists {
            entity,
            key: key.into(),
        }
    }

    /// `Conflict` for `entity` with `key`.
    pub fn conflict(entity: Entity, key: impl Into<String>, reason: impl Into<String>) -> Self {
        StoreError::Conflict {
            entity,
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// `LimitExceeded` for `entity` with `key`.
    pub fn limit(entity: Entity, key: impl Into<String>, reason: impl Into<String>) -> Self {
        StoreError::LimitExceeded {
            entity,
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// `InvalidState` for `entity` with `key`.
    pub fn invalid_state(
        entity: Entity,
        key: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        StoreError::InvalidState {
            entity,
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// Whether the database could not be reached (callers may serve from cache).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
