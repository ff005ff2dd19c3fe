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

/// What stands in the way of a delete or an exclusive attachment. The edges map each reason to
/// their service's own error code and wording (one `match` per edge, exhaustive, so a new reason
/// cannot reach a client under a guessed message); `Display` is the sentence for logs and for
/// services without a wording of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictReason {
    /// A user still has access keys.
    AccessKeys,
    /// A user still has a login profile.
    LoginProfile,
    /// A role or user still has inline policies.
    InlinePolicies,
    /// A role or user still has managed policies attached.
    AttachedPolicies,
    /// A managed policy is still attached to roles or users.
    AttachedToHolders,
    /// An IoT policy is still attached to certificates or other targets.
    AttachedToTargets,
    /// A policy still has versions besides its default version.
    NonDefaultVersions,
    /// The default version of a managed policy cannot be deleted.
    DefaultVersion,
    /// A certificate is still attached to a thing.
    AttachedToThing,
    /// A certificate still has IoT policies attached.
    CertificatePolicies,
    /// A thing still has principals attached.
    ThingPrincipals,
    /// Things of a thing type still exist.
    ThingTypeInUse,
    /// The principal is attached to another thing, so it cannot be attached exclusively.
    AttachedToOtherThing,
    /// The principal is attached exclusively to another thing.
    AttachedExclusively,
    /// A CRL issued later (a later `thisUpdate`) is already imported for the CA.
    NewerCrl,
}

impl fmt::Display for ConflictReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConflictReason::AccessKeys => "it still has access keys",
            ConflictReason::LoginProfile => "it still has a login profile",
            ConflictReason::InlinePolicies => "it still has inline policies",
            ConflictReason::AttachedPolicies => "it still has managed policies attached",
            ConflictReason::AttachedToHolders => {
                "the policy is attached to one or more roles or users"
            }
            ConflictReason::AttachedToTargets => "the policy is attached to one or more targets",
            ConflictReason::NonDefaultVersions => {
                "the policy has versions other than the default version"
            }
            ConflictReason::DefaultVersion => "the default version of a policy cannot be deleted",
            ConflictReason::AttachedToThing => "the certificate is still attached to a thing",
            ConflictReason::CertificatePolicies => "the certificate still has policies attached",
            ConflictReason::ThingPrincipals => "principals are still attached to the thing",
            ConflictReason::ThingTypeInUse => "things of this type still exist",
            ConflictReason::AttachedToOtherThing => {
                "the principal is attached to another thing, so it cannot be attached exclusively"
            }
            ConflictReason::AttachedExclusively => {
                "the principal is attached exclusively to another thing"
            }
            ConflictReason::NewerCrl => "a CRL issued later is already imported",
        })
    }
}

/// Which count limit a write would exceed, with the limit the store actually enforced (so the
/// message a client reads names the configured figure, not a default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// Access keys of one user.
    AccessKeysPerUser(usize),
    /// Versions of one managed policy.
    ManagedPolicyVersions(usize),
    /// Versions of one IoT policy.
    IotPolicyVersions(usize),
    /// Managed policies attached to one user.
    PoliciesPerUser(usize),
    /// Managed policies attached to one role.
    PoliciesPerRole(usize),
    /// Tags of one role.
    TagsPerRole(usize),
    /// Tags of one user.
    TagsPerUser(usize),
    /// Tags of one managed policy.
    TagsPerPolicy(usize),
    /// Tags of one IoT resource (CA certificate, IoT policy, role alias, thing type).
    TagsPerIotResource(usize),
    /// IoT policies attached to one target.
    PoliciesPerTarget(usize),
    /// CA certificates registered with the same subject.
    CaCertificatesPerSubject(usize),
}

impl LimitKind {
    /// The figure the store enforced.
    pub fn limit(self) -> usize {
        match self {
            LimitKind::AccessKeysPerUser(n)
            | LimitKind::ManagedPolicyVersions(n)
            | LimitKind::IotPolicyVersions(n)
            | LimitKind::PoliciesPerUser(n)
            | LimitKind::PoliciesPerRole(n)
            | LimitKind::TagsPerRole(n)
            | LimitKind::TagsPerUser(n)
            | LimitKind::TagsPerPolicy(n)
            | LimitKind::TagsPerIotResource(n)
            | LimitKind::PoliciesPerTarget(n)
            | LimitKind::CaCertificatesPerSubject(n) => n,
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LimitKind::AccessKeysPerUser(n) => {
                write!(
                    f,
                    "the user already has the maximum number of access keys ({n})"
                )
            }
            LimitKind::ManagedPolicyVersions(n) | LimitKind::IotPolicyVersions(n) => {
                write!(
                    f,
                    "the policy already has the maximum number of versions ({n})"
                )
            }
            LimitKind::PoliciesPerUser(n) => {
                write!(
                    f,
                    "at most {n} managed policies can be attached to one user"
                )
            }
            LimitKind::PoliciesPerRole(n) => {
                write!(
                    f,
                    "at most {n} managed policies can be attached to one role"
                )
            }
            LimitKind::TagsPerRole(n) => write!(f, "a role can have at most {n} tags"),
            LimitKind::TagsPerUser(n) => write!(f, "a user can have at most {n} tags"),
            LimitKind::TagsPerIotResource(n) => write!(f, "a resource can have at most {n} tags"),
            LimitKind::TagsPerPolicy(n) => {
                write!(f, "a managed policy can have at most {n} tags")
            }
            LimitKind::PoliciesPerTarget(n) => write!(
                f,
                "the target already has the maximum number of policies attached ({n})"
            ),
            LimitKind::CaCertificatesPerSubject(n) => {
                write!(
                    f,
                    "{n} CA certificates with the same subject are already registered"
                )
            }
        }
    }
}

/// Which state of an entity forbids the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateReason {
    /// An ACTIVE certificate cannot be deleted.
    CertificateActive,
    /// An ACTIVE CA certificate cannot be deleted.
    CaCertificateActive,
    /// A deprecated thing type cannot be given to a thing.
    ThingTypeDeprecated,
    /// The default version of an IoT policy cannot be deleted.
    DefaultPolicyVersion,
}

impl fmt::Display for StateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateReason::CertificateActive => "an ACTIVE certificate cannot be deleted",
            StateReason::CaCertificateActive => "an ACTIVE CA certificate cannot be deleted",
            StateReason::ThingTypeDeprecated => "the thing type is deprecated",
            StateReason::DefaultPolicyVersion => {
                "the default version of a policy cannot be deleted"
            }
        })
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
        /// What is in the way.
        reason: ConflictReason,
    },
    /// A count limit would be exceeded.
    #[error("{entity} {key}: {reason}")]
    LimitExceeded {
        /// The entity.
        entity: Entity,
        /// Its key.
        key: String,
        /// Which limit, with the figure the store enforced.
        reason: LimitKind,
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
        /// Which state.
        reason: StateReason,
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
    pub fn conflict(entity: Entity, key: impl Into<String>, reason: ConflictReason) -> Self {
        StoreError::Conflict {
            entity,
            key: key.into(),
            reason,
        }
    }

    /// `LimitExceeded` for `entity` with `key`.
    pub fn limit(entity: Entity, key: impl Into<String>, reason: LimitKind) -> Self {
        StoreError::LimitExceeded {
            entity,
            key: key.into(),
            reason,
        }
    }

    /// `InvalidState` for `entity` with `key`.
    pub fn invalid_state(entity: Entity, key: impl Into<String>, reason: StateReason) -> Self {
        StoreError::InvalidState {
            entity,
            key: key.into(),
            reason,
        }
    }

    /// Whether the database could not be reached (callers may serve from cache).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
