//! The operation table of the IoT API: for every operation its method and path template, as
//! the botocore model (`http.method`, `http.requestUri`) gives them, its name, the IAM action it
//! is authorised as, and its handler; and the router over that table.
//!
//! Paths are matched segment by segment on the raw path; a `{label}` segment matches one
//! non-empty segment and is percent-decoded (botocore encodes `/` and `:` inside labels, so
//! `POST /attached-policies/{target}` receives a whole ARN in one segment).

use std::future::Future;
use std::pin::Pin;

use iotcreds_types::percent::{self, Plus};

use super::{
    Reply, Req, ca_certificates, ca_crls, ca_revocation, certificates, endpoint, policies,
    policy_targets, role_aliases, tags, thing_principals, thing_types, things,
};

/// An operation's handler.
pub(super) type Handler =
    for<'a> fn(&'a Req<'a>) -> Pin<Box<dyn Future<Output = Reply> + Send + 'a>>;

/// One IoT operation: how it is called, what it is authorised as, and what answers it.
pub struct Operation {
    /// The HTTP method (`POST`).
    pub method: &'static str,
    /// The path template (`/things/{thingName}`), from the botocore model.
    pub path: &'static str,
    /// The operation's name in the API (`CreateThing`).
    pub name: &'static str,
    /// The IAM action it is authorised as (`iot:CreateThing`).
    pub action: &'static str,
    pub(super) handler: Handler,
}

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.name)
    }
}

impl PartialEq for Operation {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Operation {}

/// One row of [`OPERATIONS`]: method, path template, operation name => handler. The IAM action
/// is `iot:` and the name (IoT's actions are named after its operations).
macro_rules! op {
    ($method:literal, $path:literal, $name:literal => $handler:path) => {
        Operation {
            method: $method,
            path: $path,
            name: $name,
            action: concat!("iot:", $name),
            handler: |req| Box::pin($handler(req)),
        }
    };
}

/// Every IoT operation this server answers: adding one is adding a row.
pub static OPERATIONS: &[Operation] = &[
    op!("GET", "/endpoint", "DescribeEndpoint" => endpoint::describe_endpoint),
    op!("GET", "/things", "ListThings" => things::list),
    op!("POST", "/things/{thingName}", "CreateThing" => things::create),
    op!("GET", "/things/{thingName}", "DescribeThing" => things::describe),
    op!("PATCH", "/things/{thingName}", "UpdateThing" => things::update),
    op!("DELETE", "/things/{thingName}", "DeleteThing" => things::delete),
    // An iotcreds extension (AWS IoT has no such operation): see `things::revoke_sessions`.
    op!("POST", "/things/{thingName}/revoke-sessions", "RevokeThingSessions" => things::revoke_sessions),
    op!("PUT", "/things/{thingName}/principals", "AttachThingPrincipal" => thing_principals::attach),
    op!("DELETE", "/things/{thingName}/principals", "DetachThingPrincipal" => thing_principals::detach),
    op!("GET", "/things/{thingName}/principals", "ListThingPrincipals" => thing_principals::list_thing_principals),
    op!("GET", "/principals/things", "ListPrincipalThings" => thing_principals::list_principal_things),
    op!("GET", "/things/{thingName}/principals-v2", "ListThingPrincipalsV2" => thing_principals::list_thing_principals_v2),
    op!("GET", "/principals/things-v2", "ListPrincipalThingsV2" => thing_principals::list_principal_things_v2),
    op!("GET", "/thing-types", "ListThingTypes" => thing_types::list),
    op!("POST", "/thing-types/{thingTypeName}", "CreateThingType" => thing_types::create),
    op!("GET", "/thing-types/{thingTypeName}", "DescribeThingType" => thing_types::describe),
    op!("DELETE", "/thing-types/{thingTypeName}", "DeleteThingType" => thing_types::delete),
    op!("POST", "/thing-types/{thingTypeName}/deprecate", "DeprecateThingType" => thing_types::deprecate),
    op!("POST", "/keys-and-certificate", "CreateKeysAndCertificate" => certificates::create_keys_and_certificate),
    op!("POST", "/certificates", "CreateCertificateFromCsr" => certificates::create_from_csr),
    op!("GET", "/certificates", "ListCertificates" => certificates::list),
    op!("GET", "/certificates/{certificateId}", "DescribeCertificate" => certificates::describe),
    op!("PUT", "/certificates/{certificateId}", "UpdateCertificate" => certificates::update),
    op!("DELETE", "/certificates/{certificateId}", "DeleteCertificate" => certificates::delete),
    op!("GET", "/certificates-by-ca/{caCertificateId}", "ListCertificatesByCA" => certificates::list_by_ca),
    op!("POST", "/certificate/register", "RegisterCertificate" => certificates::register),
    op!("POST", "/certificate/register-no-ca", "RegisterCertificateWithoutCA" => certificates::register_without_ca),
    op!("POST", "/cacertificate", "RegisterCACertificate" => ca_certificates::register),
    op!("GET", "/cacertificates", "ListCACertificates" => ca_certificates::list),
    op!("GET", "/cacertificate/{caCertificateId}", "DescribeCACertificate" => ca_certificates::describe),
    op!("PUT", "/cacertificate/{caCertificateId}", "UpdateCACertificate" => ca_certificates::update),
    op!("DELETE", "/cacertificate/{caCertificateId}", "DeleteCACertificate" => ca_certificates::delete),
    // iotcreds extensions (AWS IoT checks no CRL): see `ca_crls`.
    op!("PUT", "/cacertificate/{caCertificateId}/crl", "ImportCACertificateCrl" => ca_crls::import),
    op!("DELETE", "/cacertificate/{caCertificateId}/crl", "DeleteCACertificateCrl" => ca_crls::delete),
    op!("PUT", "/cacertificate/{caCertificateId}/revocation-config", "UpdateCACertificateRevocationConfig" => ca_revocation::update),
    op!("GET", "/registrationcode", "GetRegistrationCode" => ca_certificates::registration_code),
    op!("GET", "/policies", "ListPolicies" => policies::list),
    op!("POST", "/policies/{policyName}", "CreatePolicy" => policies::create),
    op!("GET", "/policies/{policyName}", "GetPolicy" => policies::get),
    op!("DELETE", "/policies/{policyName}", "DeletePolicy" => policies::delete),
    op!("POST", "/policies/{policyName}/version", "CreatePolicyVersion" => policies::create_version),
    op!("GET", "/policies/{policyName}/version", "ListPolicyVersions" => policies::list_versions),
    op!("GET", "/policies/{policyName}/version/{policyVersionId}", "GetPolicyVersion" => policies::get_version),
    op!("PATCH", "/policies/{policyName}/version/{policyVersionId}", "SetDefaultPolicyVersion" => policies::set_default_version),
    op!("DELETE", "/policies/{policyName}/version/{policyVersionId}", "DeletePolicyVersion" => policies::delete_version),
    op!("PUT", "/target-policies/{policyName}", "AttachPolicy" => policy_targets::attach_policy),
    op!("POST", "/target-policies/{policyName}", "DetachPolicy" => policy_targets::detach_policy),
    op!("POST", "/attached-policies/{target}", "ListAttachedPolicies" => policy_targets::list_attached_policies),
    op!("POST", "/policy-targets/{policyName}", "ListTargetsForPolicy" => policy_targets::list_targets_for_policy),
    op!("PUT", "/principal-policies/{policyName}", "AttachPrincipalPolicy" => policy_targets::attach_principal_policy),
    op!("DELETE", "/principal-policies/{policyName}", "DetachPrincipalPolicy" => policy_targets::detach_principal_policy),
    op!("GET", "/principal-policies", "ListPrincipalPolicies" => policy_targets::list_principal_policies),
    op!("GET", "/policy-principals", "ListPolicyPrincipals" => policy_targets::list_policy_principals),
    op!("GET", "/role-aliases", "ListRoleAliases" => role_aliases::list),
    op!("POST", "/role-aliases/{roleAlias}", "CreateRoleAlias" => role_aliases::create),
    op!("GET", "/role-aliases/{roleAlias}", "DescribeRoleAlias" => role_aliases::describe),
    op!("PUT", "/role-aliases/{roleAlias}", "UpdateRoleAlias" => role_aliases::update),
    op!("DELETE", "/role-aliases/{roleAlias}", "DeleteRoleAlias" => role_aliases::delete),
    op!("POST", "/tags", "TagResource" => tags::tag),
    op!("POST", "/untag", "UntagResource" => tags::untag),
    op!("GET", "/tags", "ListTagsForResource" => tags::list),
];

/// What the router made of a request line.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Route {
    /// An operation, with its decoded path labels in order.
    Found(&'static Operation, Vec<String>),
    /// The path exists, but not with this method; the methods it has.
    MethodNotAllowed(Vec<&'static str>),
    /// No operation has this path.
    NotFound,
}

/// Match `template` against the path `segments`; the decoded labels on success.
fn matches(template: &str, segments: &[&str]) -> Option<Vec<String>> {
    let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut labels = Vec::new();
    for (part, seg) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            if seg.is_empty() {
                return None;
            }
            labels.push(percent::decode(seg.as_bytes(), Plus::Literal)?.into_owned());
        } else if part != seg {
            return None;
        }
    }
    Some(labels)
}

/// Route `method` and the raw `path`.
pub(super) fn route(method: &str, path: &str) -> Route {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut allowed = Vec::new();
    for op in OPERATIONS {
        if let Some(labels) = matches(op.path, &segments) {
            if op.method == method {
                return Route::Found(op, labels);
            }
            allowed.push(op.method);
        }
    }
    if allowed.is_empty() {
        Route::NotFound
    } else {
        Route::MethodNotAllowed(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str) -> &'static Operation {
        OPERATIONS.iter().find(|o| o.name == name).unwrap()
    }

    #[test]
    fn routes_the_seed_calls() {
        assert_eq!(
            route("POST", "/things/ADCTestThing"),
            Route::Found(op("CreateThing"), vec!["ADCTestThing".into()])
        );
        assert_eq!(
            route("PUT", "/things/ADCTestThing/principals"),
            Route::Found(op("AttachThingPrincipal"), vec!["ADCTestThing".into()])
        );
        assert_eq!(
            route("POST", "/keys-and-certificate"),
            Route::Found(op("CreateKeysAndCertificate"), vec![])
        );
        assert_eq!(
            route("GET", "/endpoint"),
            Route::Found(op("DescribeEndpoint"), vec![])
        );
        assert_eq!(
            route("PUT", "/target-policies/ADCTestPolicy"),
            Route::Found(op("AttachPolicy"), vec!["ADCTestPolicy".into()])
        );
        assert_eq!(
            route("POST", "/target-policies/ADCTestPolicy"),
            Route::Found(op("DetachPolicy"), vec!["ADCTestPolicy".into()])
        );
        assert_eq!(
            route("GET", "/policies/P/version/3"),
            Route::Found(op("GetPolicyVersion"), vec!["P".into(), "3".into()])
        );
    }

    #[test]
    fn labels_are_percent_decoded() {
        let arn = "arn:aws:iot:ap-northeast-1:123456789012:cert/abc";
        let encoded = "arn%3Aaws%3Aiot%3Aap-northeast-1%3A123456789012%3Acert%2Fabc";
        assert_eq!(
            route("POST", &format!("/attached-policies/{encoded}")),
            Route::Found(op("ListAttachedPolicies"), vec![arn.into()])
        );
        // Invalid UTF-8 after decoding matches nothing.
        assert_eq!(route("GET", "/things/%FF"), Route::NotFound);
    }

    #[test]
    fn unknown_paths_and_methods() {
        assert_eq!(route("GET", "/nope"), Route::NotFound);
        assert_eq!(route("GET", "/things/a/b/c"), Route::NotFound);
        assert_eq!(route("GET", "/things/"), Route::NotFound);
        assert_eq!(
            route("POST", "/things"),
            Route::MethodNotAllowed(vec!["GET"])
        );
        match route("POST", "/role-aliases/x/y") {
            Route::NotFound => {}
            other => panic!("{other:?}"),
        }
        match route("PATCH", "/role-aliases/A") {
            Route::MethodNotAllowed(m) => assert_eq!(m, vec!["POST", "GET", "PUT", "DELETE"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_route_is_reachable() {
        for op in OPERATIONS {
            let path = op
                .path
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            match route(op.method, &path) {
                Route::Found(found, _) => assert_eq!(found.name, op.name, "{op:?}"),
                other => panic!("{op:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn names_and_actions_are_unique_and_agree() {
        let mut names: Vec<&str> = OPERATIONS.iter().map(|o| o.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), OPERATIONS.len());
        for op in OPERATIONS {
            assert_eq!(op.action.strip_prefix("iot:"), Some(op.name));
        }
    }
}
