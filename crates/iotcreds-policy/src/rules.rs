//! The write-time rules IAM applies to action and resource strings beyond the grammar
//! ("IAM JSON policy element reference": Action, Resource; "IAM identifiers": ARNs), used by
//! [`crate::Policy::validate`]. Each returns IAM's own message; the reason in our words is the
//! error's detail.

use crate::error::{PolicyError, iam};
use crate::matching::wildcard_match_ignore_ascii_case;

/// An action beyond `service:name`: one colon only, and a service prefix made of letters,
/// digits, `-` and `.` (or `*`).
pub(crate) fn action(action: &str) -> Result<(), PolicyError> {
    if action == "*" {
        return Ok(());
    }
    let Some((vendor, name)) = action.split_once(':') else {
        return Ok(());
    };
    if name.contains(':') {
        return Err(PolicyError::malformed(iam::ONE_COLON)
            .detailed(format!("\"{action}\" has more than one colon.")));
    }
    let vendor_ok = vendor == "*"
        || vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !vendor_ok {
        return Err(
            PolicyError::malformed(format!("Vendor {vendor} is not valid")).detailed(format!(
                "The service prefix of \"{action}\" may hold only letters, digits, '-' and '.'."
            )),
        );
    }
    Ok(())
}

/// The actions a role trust policy may name: the ways to assume a role and what may come
/// with them ("IAM JSON policy elements: Principal", role trust policies; AWS STS API).
const TRUST_ACTIONS: [&str; 6] = [
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:TagSession",
    "sts:SetSourceIdentity",
    "sts:SetContext",
];

/// A trust policy action: one of [`TRUST_ACTIONS`] or an `sts:` pattern that names one.
pub(crate) fn trust_action(action: &str) -> Result<(), PolicyError> {
    let is_sts = action
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("sts:"));
    if is_sts
        && TRUST_ACTIONS
            .iter()
            .any(|known| wildcard_match_ignore_ascii_case(action, known))
    {
        return Ok(());
    }
    Err(PolicyError::malformed(iam::TRUST_ACTIONS).detailed(format!(
        "\"{action}\" is not one of {}.",
        TRUST_ACTIONS.join(", ")
    )))
}

/// Prefixes of the resource part of an IAM ARN (besides `*` and `root`).
const IAM_RESOURCE_TYPES: [&str; 13] = [
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
];

/// S3 resource types whose ARNs carry a region and an account (access points, Batch
/// Operations jobs, Storage Lens, Access Grants); bucket and object ARNs carry neither.
const S3_REGIONAL_TYPES: [&str; 6] = [
    "accesspoint/",
    "job/",
    "storage-lens/",
    "storage-lens-group/",
    "access-grants/",
    "async-request/",
];

/// A resource as IAM reads it before storing a policy ("IAM identifiers", ARN format
/// `arn:partition:service:region:account-id:resource`): the `aws` partition (or `*`), a
/// service, no region in IAM and S3 bucket/object ARNs, a known IAM resource type, and no
/// `::` in an ARN of fewer than six parts.
pub(crate) fn resource(resource: &str) -> Result<(), PolicyError> {
    if resource == "*" {
        return Ok(());
    }
    let Some((_, rest)) = resource.split_once(':') else {
        return Err(not_arn(resource));
    };
    let (partition, after) = match rest.split_once(':') {
        Some((p, a)) => (p, Some(a)),
        None => (rest, None),
    };
    if partition != "aws" && partition != "*" {
        return Err(PolicyError::malformed(format!(
            "Partition \"{partition}\" is not valid for resource \"{}\".",
            spelled_out(partition, after.unwrap_or(""))
        ))
        .detailed("This server is in the aws partition.")
        .about_resource(resource));
    }
    let Some(after) = after else {
        return Err(PolicyError::malformed(iam::RESOURCE_VENDOR)
            .detailed(format!("\"{resource}\" names no service."))
            .about_resource(resource));
    };
    let mut parts = after.splitn(4, ':');
    let service = parts.next().unwrap_or("");
    let region = parts.next();
    let _account = parts.next();
    let path = parts.next();
    let legacy_ok =
        (resource.matches(':').count() >= 5 || !resource.contains("::")) && !service.is_empty();
    if !legacy_ok {
        return Err(PolicyError::malformed(iam::LEGACY)
            .detailed(format!(
                "\"{resource}\" is not arn:partition:service:region:account-id:resource."
            ))
            .about_resource(resource));
    }
    let region = region.unwrap_or("");
    match service {
        "iam" if !region.is_empty() => {
            return Err(PolicyError::malformed(format!(
                "IAM resource {resource} cannot contain region information."
            ))
            .detailed("IAM is global: its ARNs have an empty region.")
            .about_resource(resource));
        }
        "s3" if !region.is_empty()
            && !path.is_some_and(|p| S3_REGIONAL_TYPES.iter().any(|t| p.starts_with(t))) =>
        {
            return Err(PolicyError::malformed(format!(
                "Resource {resource} can not contain region information."
            ))
            .detailed("S3 bucket and object ARNs have an empty region: arn:aws:s3:::bucket/key.")
            .about_resource(resource));
        }
        "iam" => {
            if let Some(path) = path
                && path != "*"
                && path != "root"
                && !IAM_RESOURCE_TYPES.iter().any(|t| path.starts_with(t))
            {
                return Err(PolicyError::malformed(iam::IAM_PATH)
                    .detailed(format!("\"{path}\" is not an IAM resource type."))
                    .about_resource(resource));
            }
        }
        _ => {}
    }
    Ok(())
}

/// `Resource x must be in ARN format or "*".`
pub(crate) fn not_arn(resource: &str) -> PolicyError {
    PolicyError::malformed(format!(
        "Resource {resource} must be in ARN format or \"*\"."
    ))
    .about_resource(resource)
}

/// The resource as IAM spells it out in its partition message: six parts, missing ones `*`.
fn spelled_out(partition: &str, after: &str) -> String {
    let parts: Vec<&str> = after.split(':').collect();
    let part = |i: usize| -> &str {
        match parts.get(i) {
            Some(p) if !(i == 0 && p.is_empty() && parts.len() == 1) => p,
            _ => "*",
        }
    };
    let rest = if parts.len() > 3 {
        parts[3..].join(":")
    } else {
        "*".to_owned()
    };
    format!("arn:{partition}:{}:{}:{}:{rest}", part(0), part(1), part(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_message_spells_the_arn_out() {
        assert_eq!(spelled_out("bsdfdsafsad", ""), "arn:bsdfdsafsad:*:*:*:*");
        assert_eq!(spelled_out("b", "cadfsdf"), "arn:b:cadfsdf:*:*:*");
        assert_eq!(spelled_out("b", "c:d:e:f:g:h"), "arn:b:c:d:e:f:g:h");
        assert_eq!(
            spelled_out("s3", "::example_bucket"),
            "arn:s3:::example_bucket:*"
        );
        assert_eq!(spelled_out("error", "s3:::b"), "arn:error:s3:::b");
    }

    #[test]
    fn trust_actions() {
        assert!(trust_action("sts:AssumeRole").is_ok());
        assert!(trust_action("STS:assumerole").is_ok());
        assert!(trust_action("sts:AssumeRole*").is_ok());
        assert!(trust_action("sts:*").is_ok());
        assert!(trust_action("sts:TagSessions").is_err());
        assert!(trust_action("s3:GetObject").is_err());
        assert!(trust_action("*").is_err());
    }
}
