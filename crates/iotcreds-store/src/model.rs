//! Row models of the registry. Plain data: the store persists them, the server gives them meaning.
//!
//! Times are milliseconds since the Unix epoch. Policy documents are kept exactly as submitted
//! (the server parses and compiles them; the store never looks inside).

use std::collections::{BTreeMap, BTreeSet};

use iotcreds_types::{
    AccessKeyStatus, AutoRegistrationStatus, CaCertificateStatus, CertificateMode,
    CertificateStatus, OcspMode, ThingPrincipalType,
};

/// A device certificate (IoT `CertificateDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Lowercase hex SHA-256 of the DER encoding (64 characters).
    pub id: String,
    /// The certificate in PEM.
    pub pem: String,
    /// Current status; only `ACTIVE` authenticates.
    pub status: CertificateStatus,
    /// The registered CA that issued it, if any.
    pub ca_certificate_id: Option<String>,
    /// `DEFAULT` or `SNI_ONLY` (registered without a CA).
    pub mode: CertificateMode,
    /// Validity start (ms).
    pub not_before: i64,
    /// Validity end (ms).
    pub not_after: i64,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub modified_at: i64,
    /// Incremented on every change, starting at 1.
    pub customer_version: i64,
    /// A UUID replaced on every change.
    pub generation_id: String,
    /// The owning account id.
    pub owned_by: String,
}

/// A registered CA certificate (IoT `CACertificateDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaCertificate {
    /// Lowercase hex SHA-256 of the DER encoding.
    pub id: String,
    /// The certificate in PEM.
    pub pem: String,
    /// `ACTIVE` or `INACTIVE`.
    pub status: CaCertificateStatus,
    /// Auto-registration of certificates it signs.
    pub auto_registration: AutoRegistrationStatus,
    /// `DEFAULT` or `SNI_ONLY`.
    pub mode: CertificateMode,
    /// The subject distinguished name (at most 10 CAs per subject).
    pub subject: String,
    /// Validity start (ms).
    pub not_before: i64,
    /// Validity end (ms).
    pub not_after: i64,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub modified_at: i64,
    /// Incremented on every change.
    pub customer_version: i64,
    /// A UUID replaced on every change.
    pub generation_id: String,
    /// The owning account id.
    pub owned_by: String,
    /// Its certificate revocation list, when one was imported (an iotcreds extension).
    pub crl: Option<CaCrl>,
    /// How its devices are checked online (an iotcreds extension).
    pub revocation: CaRevocationConfig,
}

/// Online revocation checking of a CA's devices: OCSP at issuance and a CRL fetched on a
/// schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaRevocationConfig {
    /// Whether, and how strictly, devices are checked by OCSP at issuance.
    pub ocsp: OcspMode,
    /// The responder asked instead of the one the device certificate names.
    pub ocsp_responder_url: Option<String>,
    /// Where the CA's CRL is fetched from on a schedule.
    pub crl_url: Option<String>,
}

/// A CA's certificate revocation list, verified against the CA when it was imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaCrl {
    /// The CRL, DER.
    pub der: Vec<u8>,
    /// Its `thisUpdate` (ms).
    pub this_update: i64,
    /// Its `cRLNumber` (RFC 5280 section 5.2.3), lowercase hex without leading zeros, if it has
    /// one.
    pub number: Option<String>,
    /// Its `nextUpdate` (ms), if it has one: after it the CRL is out of date.
    pub next_update: Option<i64>,
    /// The revoked serial numbers, lowercase hex without leading zeros.
    pub revoked_serials: BTreeSet<String>,
    /// When it was imported (ms).
    pub imported_at: i64,
}

impl CaCrl {
    /// Whether this CRL may replace `held`, the one stored: a CRL issued later. A CA numbers its
    /// CRLs in increasing order (RFC 5280 section 5.2.3), so when both have a `cRLNumber` the
    /// higher number is the later one (its `thisUpdate` not earlier); otherwise only a later
    /// `thisUpdate` is. A different CRL of the same second without numbers is not later: which
    /// was issued last cannot be told, and taking a replayed one would un-revoke certificates.
    pub fn supersedes(&self, held: &CaCrl) -> bool {
        if self.this_update < held.this_update {
            return false;
        }
        match (&self.number, &held.number) {
            (Some(new), Some(old)) => hex_number_cmp(new, old).is_gt(),
            _ => self.this_update > held.this_update,
        }
    }
}

/// Compares two numbers written in hex without leading zeros.
fn hex_number_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len()
        .cmp(&b.len())
        .then_with(|| a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()))
}

/// A thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thing {
    /// Unique, case-sensitive name.
    pub name: String,
    /// A UUID.
    pub id: String,
    /// The thing type, if any.
    pub thing_type: Option<String>,
    /// Attributes (name → value).
    pub attributes: BTreeMap<String, String>,
    /// Starts at 1, incremented on every update.
    pub version: i64,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub modified_at: i64,
    /// Sessions issued to the thing before this time (ms) are refused (`RevokeThingSessions`).
    pub sessions_revoked_before: Option<i64>,
}

/// A thing type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingType {
    /// Unique name.
    pub name: String,
    /// A UUID.
    pub id: String,
    /// Free text.
    pub description: Option<String>,
    /// Attribute names that can be searched.
    pub searchable_attributes: Vec<String>,
    /// Whether deprecated (no new things of this type).
    pub deprecated: bool,
    /// When deprecated (ms).
    pub deprecated_at: Option<i64>,
    /// Creation time (ms).
    pub created_at: i64,
}

/// An attachment of a principal (a certificate ARN) to a thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingPrincipal {
    /// The thing.
    pub thing_name: String,
    /// The principal's ARN (a certificate ARN).
    pub principal: String,
    /// Exclusive or not.
    pub kind: ThingPrincipalType,
    /// When attached (ms).
    pub created_at: i64,
}

/// An IoT policy, with its default version's document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IotPolicy {
    /// Unique name.
    pub name: String,
    /// Id of the default version (versions count from 1).
    pub default_version_id: i64,
    /// The default version's document.
    pub document: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub modified_at: i64,
    /// A UUID replaced on every change.
    pub generation_id: String,
}

/// One version of an IoT policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IotPolicyVersion {
    /// The policy.
    pub policy_name: String,
    /// 1, 2, ... (never reused).
    pub version_id: i64,
    /// The document as submitted.
    pub document: String,
    /// Whether this is the default version.
    pub is_default: bool,
    /// Creation time (ms).
    pub created_at: i64,
}

/// A key/value tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tag {
    /// 1–128 characters.
    pub key: String,
    /// 0–256 characters.
    pub value: String,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Name, unique in the account regardless of case.
    pub name: String,
    /// Unique id, `AROA…`.
    pub id: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// The trust policy document.
    pub trust_policy: String,
    /// Free text.
    pub description: Option<String>,
    /// 3600–43200 seconds.
    pub max_session_duration: i64,
    /// ARN of the managed policy used as permissions boundary.
    pub permissions_boundary: Option<String>,
    /// Creation time (ms).
    pub created_at: i64,
    /// Tags, sorted by key.
    pub tags: Vec<Tag>,
}

/// A named inline policy of a role or user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinePolicy {
    /// Name, unique per role or user.
    pub name: String,
    /// The document as submitted.
    pub document: String,
}

/// A customer-managed IAM policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    /// `arn:aws:iam::ACCOUNT:policy/PATH/NAME`; the primary key.
    pub arn: String,
    /// Name, unique in the account regardless of case.
    pub name: String,
    /// Unique id, `ANPA…`.
    pub id: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// Free text.
    pub description: Option<String>,
    /// `v1`, `v2`, ...
    pub default_version_id: String,
    /// Number of roles and users it is attached to (maintained by the store).
    pub attachment_count: i64,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
    /// Tags, sorted by key.
    pub tags: Vec<Tag>,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicyVersion {
    /// The policy's ARN.
    pub policy_arn: String,
    /// `v1`, `v2`, ... (never reused).
    pub version_id: String,
    /// The document as submitted.
    pub document: String,
    /// Whether this is the default version.
    pub is_default: bool,
    /// Creation time (ms).
    pub created_at: i64,
}

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Name, unique in the account regardless of case.
    pub name: String,
    /// Unique id, `AIDA…`.
    pub id: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// ARN of the managed policy used as the permissions boundary.
    pub permissions_boundary: Option<String>,
    /// Creation time (ms).
    pub created_at: i64,
    /// Tags, sorted by key.
    pub tags: Vec<Tag>,
}

/// The last verified use of a long-term access key (IAM `GetAccessKeyLastUsed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyUse {
    /// The key.
    pub access_key_id: String,
    /// When (ms).
    pub at: i64,
    /// The signing name of the service (`s3`, `iam`, `sts`, `iot`).
    pub service: String,
    /// The region the request was signed for.
    pub region: String,
}

/// A long-term access key of an IAM user.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// `AKIA…`, 20 characters.
    pub access_key_id: String,
    /// The owner.
    pub user_name: String,
    /// The 40-character secret. Never logged: `Debug` redacts it.
    pub secret: String,
    /// `Active` or `Inactive`.
    pub status: AccessKeyStatus,
    /// Creation time (ms).
    pub created_at: i64,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("user_name", &self.user_name)
            .field("secret", &"<redacted>")
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A role alias: a name for a role and a credential duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAlias {
    /// Unique, case-sensitive name.
    pub name: String,
    /// The role's ARN.
    pub role_arn: String,
    /// 900–43200 seconds.
    pub credential_duration_seconds: i64,
    /// The owning account id.
    pub owner: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub modified_at: i64,
    /// Tags, sorted by key.
    pub tags: Vec<Tag>,
    /// Session tags of the credentials issued through the alias: tag key → source (an
    /// iotcreds extension; see `iotcreds_registry::session_tags`). Empty: the thing's
    /// attributes, as before mappings existed.
    pub session_tags: BTreeMap<String, String>,
}

/// A token-sealing key. The newest unretired key seals; every key not yet deleted or revoked
/// opens.
#[derive(Clone, PartialEq, Eq)]
pub struct SealingKey {
    /// 1–65535, unique among stored keys; it is written into access key ids and tokens.
    pub id: u16,
    /// 32 bytes of key material (empty once revoked). Never logged: `Debug` redacts it.
    pub material: Vec<u8>,
    /// Creation time (ms).
    pub created_at: i64,
    /// When it stopped sealing (ms); it still opens until deleted, unless revoked.
    pub retired_at: Option<i64>,
    /// When it was revoked (ms): its material is gone and every token it sealed is refused.
    /// The row stays until its tokens would have expired, so refusals can name the key.
    pub revoked_at: Option<i64>,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey")
            .field("id", &self.id)
            .field("material", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("revoked_at", &self.revoked_at)
            .finish()
    }
}

/// A permission policy document that applies to a role or user, resolved for evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicy {
    /// The inline policy's name, or the managed policy's ARN.
    pub id: String,
    /// `inline` or the default version id of a managed policy (`v3`).
    pub version: String,
    /// The document.
    pub document: String,
}

/// An IoT policy attached to a target, with its default version, resolved for evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedIotPolicy {
    /// The policy name.
    pub name: String,
    /// The default version id.
    pub version_id: i64,
    /// The default version's document.
    pub document: String,
}

/// An IoT resource that carries tags (`TagResource`, `UntagResource`, `ListTagsForResource`), by
/// its key. As in AWS IoT, device certificates and things carry none (things have attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IotTagged<'a> {
    /// A CA certificate, by id.
    CaCertificate(&'a str),
    /// An IoT policy, by name.
    Policy(&'a str),
    /// A role alias, by name.
    RoleAlias(&'a str),
    /// A thing type, by name.
    ThingType(&'a str),
}

impl IotTagged<'_> {
    /// The resource's key (id or name).
    pub fn key(&self) -> &str {
        match self {
            IotTagged::CaCertificate(k)
            | IotTagged::Policy(k)
            | IotTagged::RoleAlias(k)
            | IotTagged::ThingType(k) => k,
        }
    }

    /// The entity a `NotFound` or `LimitExceeded` about the resource names.
    pub fn entity(&self) -> crate::Entity {
        match self {
            IotTagged::CaCertificate(_) => crate::Entity::CaCertificate,
            IotTagged::Policy(_) => crate::Entity::IotPolicy,
            IotTagged::RoleAlias(_) => crate::Entity::RoleAlias,
            IotTagged::ThingType(_) => crate::Entity::ThingType,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CaCrl;

    fn crl(this_update: i64, number: Option<&str>) -> CaCrl {
        CaCrl {
            der: vec![0x30, 0x00],
            this_update,
            number: number.map(str::to_owned),
            next_update: None,
            revoked_serials: Default::default(),
            imported_at: 0,
        }
    }

    #[test]
    fn a_crl_supersedes_only_a_crl_issued_before_it() {
        let held = crl(2_000, Some("2"));
        // Numbered: the higher number wins, even within the same second.
        assert!(crl(2_000, Some("3")).supersedes(&held));
        assert!(crl(3_000, Some("0a")).supersedes(&held));
        assert!(crl(3_000, Some("100")).supersedes(&crl(2_000, Some("ff"))));
        assert!(!crl(2_000, Some("1")).supersedes(&held));
        assert!(!crl(2_000, Some("2")).supersedes(&held));
        // A higher number with an earlier thisUpdate is not believed.
        assert!(!crl(1_000, Some("3")).supersedes(&held));
        // A lower number is refused even with a later thisUpdate.
        assert!(!crl(3_000, Some("1")).supersedes(&held));
        // Without numbers on both sides only a later thisUpdate wins: a different CRL of the
        // same second is not taken.
        assert!(crl(3_000, None).supersedes(&held));
        assert!(!crl(2_000, None).supersedes(&held));
        assert!(!crl(2_000, Some("9")).supersedes(&crl(2_000, None)));
        assert!(crl(2_001, Some("1")).supersedes(&crl(2_000, None)));
    }
}
