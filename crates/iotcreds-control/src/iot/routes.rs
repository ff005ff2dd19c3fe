//! The routing table of the IoT API: method and path template of every operation, as the
//! botocore model (`http.method`, `http.requestUri`) gives them.
//!
//! Paths are matched segment by segment on the raw path; a `{label}` segment matches one
//! non-empty segment and is percent-decoded (botocore encodes `/` and `:` inside labels, so
//! `POST /attached-policies/{target}` receives a whole ARN in one segment).

use percent_encoding::percent_decode_str;

macro_rules! ops {
    ($($op:ident = $name:literal),+ $(,)?) => {
        /// An IoT operation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(super) enum Op { $($op),+ }

        impl Op {
            /// The operation's name in the API (`CreateThing`).
            pub(super) fn name(self) -> &'static str {
                match self { $(Op::$op => $name),+ }
            }
        }
    };
}

ops! {
    DescribeEndpoint = "DescribeEndpoint",
    CreateThing = "CreateThing",
    DescribeThing = "DescribeThing",
    UpdateThing = "UpdateThing",
    DeleteThing = "DeleteThing",
    ListThings = "ListThings",
    CreateThingType = "CreateThingType",
    DescribeThingType = "DescribeThingType",
    ListThingTypes = "ListThingTypes",
    DeprecateThingType = "DeprecateThingType",
    DeleteThingType = "DeleteThingType",
    CreateKeysAndCertificate = "CreateKeysAndCertificate",
    CreateCertificateFromCsr = "CreateCertificateFromCsr",
    RegisterCertificate = "RegisterCertificate",
    RegisterCertificateWithoutCa = "RegisterCertificateWithoutCA",
    UpdateCertificate = "UpdateCertificate",
    DescribeCertificate = "DescribeCertificate",
    ListCertificates = "ListCertificates",
    ListCertificatesByCa = "ListCertificatesByCA",
    DeleteCertificate = "DeleteCertificate",
    RegisterCaCertificate = "RegisterCACertificate",
    GetRegistrationCode = "GetRegistrationCode",
    UpdateCaCertificate = "UpdateCACertificate",
    DescribeCaCertificate = "DescribeCACertificate",
    ListCaCertificates = "ListCACertificates",
    DeleteCaCertificate = "DeleteCACertificate",
    AttachThingPrincipal = "AttachThingPrincipal",
    DetachThingPrincipal = "DetachThingPrincipal",
    ListThingPrincipals = "ListThingPrincipals",
    ListPrincipalThings = "ListPrincipalThings",
    CreatePolicy = "CreatePolicy",
    GetPolicy = "GetPolicy",
    DeletePolicy = "DeletePolicy",
    ListPolicies = "ListPolicies",
    CreatePolicyVersion = "CreatePolicyVersion",
    GetPolicyVersion = "GetPolicyVersion",
    ListPolicyVersions = "ListPolicyVersions",
    SetDefaultPolicyVersion = "SetDefaultPolicyVersion",
    DeletePolicyVersion = "DeletePolicyVersion",
    AttachPolicy = "AttachPolicy",
    DetachPolicy = "DetachPolicy",
    ListAttachedPolicies = "ListAttachedPolicies",
    ListTargetsForPolicy = "ListTargetsForPolicy",
    AttachPrincipalPolicy = "AttachPrincipalPolicy",
    DetachPrincipalPolicy = "DetachPrincipalPolicy",
    ListPrincipalPolicies = "ListPrincipalPolicies",
    ListPolicyPrincipals = "ListPolicyPrincipals",
    CreateRoleAlias = "CreateRoleAlias",
    DescribeRoleAlias = "DescribeRoleAlias",
    UpdateRoleAlias = "UpdateRoleAlias",
    DeleteRoleAlias = "DeleteRoleAlias",
    ListRoleAliases = "ListRoleAliases",
}

/// `(method, path template, operation)`, from the botocore model.
const ROUTES: &[(&str, &str, Op)] = &[
    ("GET", "/endpoint", Op::DescribeEndpoint),
    ("GET", "/things", Op::ListThings),
    ("POST", "/things/{thingName}", Op::CreateThing),
    ("GET", "/things/{thingName}", Op::DescribeThing),
    ("PATCH", "/things/{thingName}", Op::UpdateThing),
    ("DELETE", "/things/{thingName}", Op::DeleteThing),
    (
        "PUT",
        "/things/{thingName}/principals",
        Op::AttachThingPrincipal,
    ),
    (
        "DELETE",
        "/things/{thingName}/principals",
        Op::DetachThingPrincipal,
    ),
    (
        "GET",
        "/things/{thingName}/principals",
        Op::ListThingPrincipals,
    ),
    ("GET", "/principals/things", Op::ListPrincipalThings),
    ("GET", "/thing-types", Op::ListThingTypes),
    ("POST", "/thing-types/{thingTypeName}", Op::CreateThingType),
    ("GET", "/thing-types/{thingTypeName}", Op::DescribeThingType),
    (
        "DELETE",
        "/thing-types/{thingTypeName}",
        Op::DeleteThingType,
    ),
    (
        "POST",
        "/thing-types/{thingTypeName}/deprecate",
        Op::DeprecateThingType,
    ),
    (
        "POST",
        "/keys-and-certificate",
        Op::CreateKeysAndCertificate,
    ),
    ("POST", "/certificates", Op::CreateCertificateFromCsr),
    ("GET", "/certificates", Op::ListCertificates),
    (
        "GET",
        "/certificates/{certificateId}",
        Op::DescribeCertificate,
    ),
    (
        "PUT",
        "/certificates/{certificateId}",
        Op::UpdateCertificate,
    ),
    (
        "DELETE",
        "/certificates/{certificateId}",
        Op::DeleteCertificate,
    ),
    (
        "GET",
        "/certificates-by-ca/{caCertificateId}",
        Op::ListCertificatesByCa,
    ),
    ("POST", "/certificate/register", Op::RegisterCertificate),
    (
        "POST",
        "/certificate/register-no-ca",
        Op::RegisterCertificateWithoutCa,
    ),
    ("POST", "/cacertificate", Op::RegisterCaCertificate),
    ("GET", "/cacertificates", Op::ListCaCertificates),
    (
        "GET",
        "/cacertificate/{caCertificateId}",
        Op::DescribeCaCertificate,
    ),
    (
        "PUT",
        "/cacertificate/{caCertificateId}",
        Op::UpdateCaCertificate,
    ),
    (
        "DELETE",
        "/cacertificate/{caCertificateId}",
        Op::DeleteCaCertificate,
    ),
    ("GET", "/registrationcode", Op::GetRegistrationCode),
    ("GET", "/policies", Op::ListPolicies),
    ("POST", "/policies/{policyName}", Op::CreatePolicy),
    ("GET", "/policies/{policyName}", Op::GetPolicy),
    ("DELETE", "/policies/{policyName}", Op::DeletePolicy),
    (
        "POST",
        "/policies/{policyName}/version",
        Op::CreatePolicyVersion,
    ),
    (
        "GET",
        "/policies/{policyName}/version",
        Op::ListPolicyVersions,
    ),
    (
        "GET",
        "/policies/{policyName}/version/{policyVersionId}",
        Op::GetPolicyVersion,
    ),
    (
        "PATCH",
        "/policies/{policyName}/version/{policyVersionId}",
        Op::SetDefaultPolicyVersion,
    ),
    (
        "DELETE",
        "/policies/{policyName}/version/{policyVersionId}",
        Op::DeletePolicyVersion,
    ),
    ("PUT", "/target-policies/{policyName}", Op::AttachPolicy),
    ("POST", "/target-policies/{policyName}", Op::DetachPolicy),
    (
        "POST",
        "/attached-policies/{target}",
        Op::ListAttachedPolicies,
    ),
    (
        "POST",
        "/policy-targets/{policyName}",
        Op::ListTargetsForPolicy,
    ),
    (
        "PUT",
        "/principal-policies/{policyName}",
        Op::AttachPrincipalPolicy,
    ),
    (
        "DELETE",
        "/principal-policies/{policyName}",
        Op::DetachPrincipalPolicy,
    ),
    ("GET", "/principal-policies", Op::ListPrincipalPolicies),
    ("GET", "/policy-principals", Op::ListPolicyPrincipals),
    ("GET", "/role-aliases", Op::ListRoleAliases),
    ("POST", "/role-aliases/{roleAlias}", Op::CreateRoleAlias),
    ("GET", "/role-aliases/{roleAlias}", Op::DescribeRoleAlias),
    ("PUT", "/role-aliases/{roleAlias}", Op::UpdateRoleAlias),
    ("DELETE", "/role-aliases/{roleAlias}", Op::DeleteRoleAlias),
];

/// What the router made of a request line.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Route {
    /// An operation, with its decoded path labels in order.
    Found(Op, Vec<String>),
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
            labels.push(percent_decode_str(seg).decode_utf8().ok()?.into_owned());
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
    for (m, template, op) in ROUTES {
        if let Some(labels) = matches(template, &segments) {
            if *m == method {
                return Route::Found(*op, labels);
            }
            allowed.push(*m);
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

    #[test]
    fn routes_the_seed_calls() {
        assert_eq!(
            route("POST", "/things/ADCTestThing"),
            Route::Found(Op::CreateThing, vec!["ADCTestThing".into()])
        );
        assert_eq!(
            route("PUT", "/things/ADCTestThing/principals"),
            Route::Found(Op::AttachThingPrincipal, vec!["ADCTestThing".into()])
        );
        assert_eq!(
            route("POST", "/keys-and-certificate"),
            Route::Found(Op::CreateKeysAndCertificate, vec![])
        );
        assert_eq!(
            route("GET", "/endpoint"),
            Route::Found(Op::DescribeEndpoint, vec![])
        );
        assert_eq!(
            route("PUT", "/target-policies/ADCTestPolicy"),
            Route::Found(Op::AttachPolicy, vec!["ADCTestPolicy".into()])
        );
        assert_eq!(
            route("POST", "/target-policies/ADCTestPolicy"),
            Route::Found(Op::DetachPolicy, vec!["ADCTestPolicy".into()])
        );
        assert_eq!(
            route("GET", "/policies/P/version/3"),
            Route::Found(Op::GetPolicyVersion, vec!["P".into(), "3".into()])
        );
    }

    #[test]
    fn labels_are_percent_decoded() {
        let arn = "arn:aws:iot:ap-northeast-1:123456789012:cert/abc";
        let encoded = "arn%3Aaws%3Aiot%3Aap-northeast-1%3A123456789012%3Acert%2Fabc";
        assert_eq!(
            route("POST", &format!("/attached-policies/{encoded}")),
            Route::Found(Op::ListAttachedPolicies, vec![arn.into()])
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
        for (method, template, op) in ROUTES {
            let path = template
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            match route(method, &path) {
                Route::Found(found, _) => assert_eq!(found, *op, "{method} {template}"),
                other => panic!("{method} {template}: {other:?}"),
            }
        }
    }
}
