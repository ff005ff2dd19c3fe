//! Amazon Resource Names: parsing and the builders for every resource iotcreds names.
//!
//! An ARN is `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`; the resource part may itself hold
//! `:` and `/`. IAM and STS ARNs have an empty region; S3 ARNs have an empty region and account.

use std::fmt;

/// The only partition iotcreds serves.
pub const PARTITION: &str = "aws";

/// A parsed ARN. The parts borrow nothing: ARNs are short and parsed rarely.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    /// `aws`.
    pub partition: String,
    /// `iot`, `iam`, `sts`, `s3`, ...
    pub service: String,
    /// Empty for global services.
    pub region: String,
    /// 12 digits, empty for S3, `aws` for AWS-managed IAM policies.
    pub account: String,
    /// Everything after the fifth `:`.
    pub resource: String,
}

/// Why a string is not an ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ARN: {0}")]
pub struct ArnError(pub String);

impl Arn {
    /// Parse `arn:partition:service:region:account:resource`.
    pub fn parse(s: &str) -> Result<Self, ArnError> {
        let mut parts = s.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(ArnError(s.chars().take(128).collect()));
        };
        if partition.is_empty() || service.is_empty() || resource.is_empty() {
            return Err(ArnError(s.chars().take(128).collect()));
        }
        Ok(Self {
            partition: partition.to_owned(),
            service: service.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            resource: resource.to_owned(),
        })
    }

    /// The resource type and the rest, split at the first `/` (or `:`):
    /// `role/path/Name` → `("role", "path/Name")`.
    pub fn resource_type(&self) -> (&str, &str) {
        match self.resource.find(['/', ':']) {
            Some(i) => (&self.resource[..i], &self.resource[i + 1..]),
            None => (&self.resource, ""),
        }
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

/// `arn:aws:iot:REGION:ACCOUNT:cert/ID`.
pub fn iot_certificate(region: &str, account: &str, certificate_id: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:cert/{certificate_id}")
}

/// `arn:aws:iot:REGION:ACCOUNT:cacert/ID`.
pub fn iot_ca_certificate(region: &str, account: &str, certificate_id: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:cacert/{certificate_id}")
}

/// `arn:aws:iot:REGION:ACCOUNT:thing/NAME`.
pub fn iot_thing(region: &str, account: &str, thing_name: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:thing/{thing_name}")
}

/// `arn:aws:iot:REGION:ACCOUNT:thingtype/NAME`.
pub fn iot_thing_type(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:thingtype/{name}")
}

/// `arn:aws:iot:REGION:ACCOUNT:policy/NAME`.
pub fn iot_policy(region: &str, account: &str, policy_name: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:policy/{policy_name}")
}

/// `arn:aws:iot:REGION:ACCOUNT:rolealias/NAME`.
pub fn iot_role_alias(region: &str, account: &str, alias: &str) -> String {
    // Concatenated rather than `format!`ed: this runs on every issuance.
    let parts = ["arn:aws:iot:", region, ":", account, ":rolealias/", alias];
    parts.concat()
}

/// `arn:aws:iam::ACCOUNT:role/PATH...NAME` (`path` starts and ends with `/`).
pub fn iam_role(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role{path}{name}")
}

/// `arn:aws:iam::ACCOUNT:user/PATH...NAME`.
pub fn iam_user(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user{path}{name}")
}

/// `arn:aws:iam::ACCOUNT:policy/PATH...NAME`.
pub fn iam_policy(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:policy{path}{name}")
}

/// `arn:aws:iam::ACCOUNT:root`, the account principal.
pub fn iam_root(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// `arn:aws:sts::ACCOUNT:assumed-role/ROLE_NAME/SESSION_NAME`.
pub fn sts_assumed_role(account: &str, role_name: &str, session_name: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}")
}

/// Split an IAM role, user or policy ARN into `(path, name)`; `None` if it is not of `kind`
/// (`role`, `user`, `policy`) or belongs to another account.
pub fn split_iam<'a>(
    arn: &'a str,
    kind: &str,
    account: Option<&str>,
) -> Option<(&'a str, &'a str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (acct, rest) = rest.split_once(':')?;
    if account.is_some_and(|a| a != acct) {
        return None;
    }
    let rest = rest.strip_prefix(kind)?;
    if !rest.starts_with('/') {
        return None;
    }
    let slash = rest.rfind('/')?;
    let (path, name) = (&rest[..=slash], &rest[slash + 1..]);
    if name.is_empty() {
        None
    } else {
        Some((path, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let a = Arn::parse("arn:aws:iot:ap-northeast-1:123456789012:rolealias/ADCTestRoleAlias")
            .unwrap();
        assert_eq!(a.service, "iot");
        assert_eq!(a.region, "ap-northeast-1");
        assert_eq!(a.account, "123456789012");
        assert_eq!(a.resource_type(), ("rolealias", "ADCTestRoleAlias"));
        assert_eq!(
            a.to_string(),
            "arn:aws:iot:ap-northeast-1:123456789012:rolealias/ADCTestRoleAlias"
        );
        let s3 = Arn::parse("arn:aws:s3:::adc-test-2020-08-26/a:b/c").unwrap();
        assert_eq!(s3.resource, "adc-test-2020-08-26/a:b/c");
        assert!(Arn::parse("arn:aws:iot").is_err());
        assert!(Arn::parse("nope:aws:iot:r:a:b").is_err());
        assert!(Arn::parse("arn:aws:iot:r:a:").is_err());
        assert_eq!(
            iot_role_alias("ap-northeast-1", "123456789012", "ADCTestRoleAlias"),
            a.to_string()
        );
    }

    #[test]
    fn iam_split() {
        assert_eq!(
            split_iam(
                "arn:aws:iam::123456789012:role/ADCTestRole",
                "role",
                Some("123456789012")
            ),
            Some(("/", "ADCTestRole"))
        );
        assert_eq!(
            split_iam(
                "arn:aws:iam::123456789012:role/a/b/ADCTestRole",
                "role",
                None
            ),
            Some(("/a/b/", "ADCTestRole"))
        );
        assert_eq!(
            split_iam(
                "arn:aws:iam::123456789012:role/ADCTestRole",
                "role",
                Some("000000000000")
            ),
            None
        );
        assert_eq!(
            split_iam("arn:aws:iam::123456789012:user/x", "role", None),
            None
        );
        assert_eq!(
            split_iam("arn:aws:iam::123456789012:role/", "role", None),
            None
        );
        assert_eq!(iam_role("1", "/a/", "R"), "arn:aws:iam::1:role/a/R");
    }
}
