//! The IoT rows: one per operation of `iot::OPERATIONS`, each naming the resources the
//! request acts on and building the request from a spelling of each.

use std::collections::BTreeMap;

use iotcreds_control::iot;
use serde_json::{Value, json};

use super::targets::{cert_arn, cert_id, iam_arn, iot_arn, iot_name, iot_name_at};
use super::{Loc, Row, any, row};
use crate::fixture::*;

/// The IoT operation `name` of the table (a row for an operation the table lacks fails here).
fn iot_op(name: &str) -> &'static iot::Operation {
    iot::OPERATIONS
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| {
            panic!("the authorization table has a row for IoT {name}, which is not an operation")
        })
}

pub(crate) fn iot_rows(fx: &Fixture) -> BTreeMap<&'static str, Row> {
    let doc = json!({"policyDocument": IOT_DOC});
    let mut r: BTreeMap<&'static str, Row> = BTreeMap::new();
    let a = |op: &str| -> &'static str { iot_op(op).action };
    let ca = fx.fleet_ca_id.clone();
    let pki = pki();
    let verification = fx.verification_pem.clone();

    r.insert(
        "DescribeEndpoint",
        row(vec![any(a("DescribeEndpoint"))], |_, _| {
            Call::iot(
                "GET",
                "/endpoint?endpointType=iot%3ACredentialProvider",
                Value::Null,
            )
        }),
    );
    r.insert(
        "ListThings",
        row(vec![any(a("ListThings"))], |_, _| {
            Call::iot("GET", "/things", Value::Null)
        }),
    );
    r.insert(
        "CreateThing",
        row(
            vec![iot_name(fx, a("CreateThing"), "thing", "NewThing", true)],
            |_, s| Call::iot("POST", format!("/things/{}", s[0]), json!({})),
        ),
    );
    r.insert(
        "DescribeThing",
        row(
            vec![iot_name(fx, a("DescribeThing"), "thing", THING, false)],
            |_, s| Call::iot("GET", format!("/things/{}", s[0]), Value::Null),
        ),
    );
    r.insert(
        "UpdateThing",
        row(
            vec![iot_name(fx, a("UpdateThing"), "thing", THING, false)],
            |_, s| {
                Call::iot(
                    "PATCH",
                    format!("/things/{}", s[0]),
                    json!({"attributePayload": {"attributes": {"a": "1"}}}),
                )
            },
        ),
    );
    r.insert(
        "DeleteThing",
        row(
            vec![iot_name(fx, a("DeleteThing"), "thing", BARE_THING, false)],
            |_, s| Call::iot("DELETE", format!("/things/{}", s[0]), Value::Null),
        ),
    );
    r.insert(
        "AttachThingPrincipal",
        row(
            vec![
                iot_name(fx, a("AttachThingPrincipal"), "thing", BARE_THING, false),
                cert_arn(fx, a("AttachThingPrincipal"), &fx.bare_cert_id, Loc::Header),
            ],
            |_, s| {
                Call::iot("PUT", format!("/things/{}/principals", s[0]), Value::Null)
                    .header("x-amzn-principal", &s[1])
            },
        ),
    );
    r.insert(
        "DetachThingPrincipal",
        row(
            vec![
                iot_name(fx, a("DetachThingPrincipal"), "thing", THING, false),
                cert_arn(fx, a("DetachThingPrincipal"), &fx.cert_id, Loc::Header),
            ],
            |_, s| {
                Call::iot(
                    "DELETE",
                    format!("/things/{}/principals", s[0]),
                    Value::Null,
                )
                .header("x-amzn-principal", &s[1])
            },
        ),
    );
    r.insert(
        "ListThingPrincipals",
        row(
            vec![iot_name(
                fx,
                a("ListThingPrincipals"),
                "thing",
                THING,
                false,
            )],
            |_, s| Call::iot("GET", format!("/things/{}/principals", s[0]), Value::Null),
        ),
    );
    r.insert(
        "ListPrincipalThings",
        row(
            vec![cert_arn(
                fx,
                a("ListPrincipalThings"),
                &fx.cert_id,
                Loc::Header,
            )],
            |_, s| {
                Call::iot("GET", "/principals/things", Value::Null)
                    .header("x-amzn-principal", &s[0])
            },
        ),
    );
    r.insert(
        "RevokeThingSessions",
        row(
            vec![iot_name(
                fx,
                a("RevokeThingSessions"),
                "thing",
                THING,
                false,
            )],
            |_, s| {
                Call::iot(
                    "POST",
                    format!("/things/{}/revoke-sessions", s[0]),
                    json!({}),
                )
            },
        ),
    );
    r.insert(
        "ListThingPrincipalsV2",
        row(
            vec![iot_name(
                fx,
                a("ListThingPrincipalsV2"),
                "thing",
                THING,
                false,
            )],
            |_, s| {
                Call::iot(
                    "GET",
                    format!("/things/{}/principals-v2", s[0]),
                    Value::Null,
                )
            },
        ),
    );
    r.insert(
        "ListPrincipalThingsV2",
        row(
            vec![cert_arn(
                fx,
                a("ListPrincipalThingsV2"),
                &fx.cert_id,
                Loc::Header,
            )],
            |_, s| {
                Call::iot("GET", "/principals/things-v2", Value::Null)
                    .header("x-amzn-principal", &s[0])
            },
        ),
    );
    r.insert(
        "ListThingTypes",
        row(vec![any(a("ListThingTypes"))], |_, _| {
            Call::iot("GET", "/thing-types", Value::Null)
        }),
    );
    r.insert(
        "CreateThingType",
        row(
            vec![iot_name(
                fx,
                a("CreateThingType"),
                "thingtype",
                "NewType",
                true,
            )],
            |_, s| Call::iot("POST", format!("/thing-types/{}", s[0]), json!({})),
        ),
    );
    r.insert(
        "DescribeThingType",
        row(
            vec![iot_name(
                fx,
                a("DescribeThingType"),
                "thingtype",
                THING_TYPE,
                false,
            )],
            |_, s| Call::iot("GET", format!("/thing-types/{}", s[0]), Value::Null),
        ),
    );
    r.insert(
        "DeleteThingType",
        row(
            vec![iot_name(
                fx,
                a("DeleteThingType"),
                "thingtype",
                DEPRECATED_TYPE,
                false,
            )],
            |_, s| Call::iot("DELETE", format!("/thing-types/{}", s[0]), Value::Null),
        ),
    );
    r.insert(
        "DeprecateThingType",
        row(
            vec![iot_name(
                fx,
                a("DeprecateThingType"),
                "thingtype",
                THING_TYPE,
                false,
            )],
            |_, s| {
                Call::iot(
                    "POST",
                    format!("/thing-types/{}/deprecate", s[0]),
                    json!({}),
                )
            },
        ),
    );
    r.insert(
        "CreateKeysAndCertificate",
        row(vec![any(a("CreateKeysAndCertificate"))], |_, _| {
            Call::iot("POST", "/keys-and-certificate", Value::Null)
        }),
    );
    r.insert(
        "CreateCertificateFromCsr",
        row(vec![any(a("CreateCertificateFromCsr"))], move |_, _| {
            Call::iot(
                "POST",
                "/certificates",
                json!({"certificateSigningRequest": pki.csr_pem}),
            )
        }),
    );
    r.insert(
        "ListCertificates",
        row(vec![any(a("ListCertificates"))], |_, _| {
            Call::iot("GET", "/certificates", Value::Null)
        }),
    );
    r.insert(
        "DescribeCertificate",
        row(
            vec![cert_id(fx, a("DescribeCertificate"), "cert", &fx.cert_id)],
            |_, s| Call::iot("GET", format!("/certificates/{}", s[0]), Value::Null),
        ),
    );
    r.insert(
        "UpdateCertificate",
        row(
            vec![cert_id(fx, a("UpdateCertificate"), "cert", &fx.cert_id)],
            |_, s| {
                Call::iot(
                    "PUT",
                    format!("/certificates/{}?newStatus=INACTIVE", s[0]),
                    Value::Null,
                )
            },
        ),
    );
    r.insert(
        "DeleteCertificate",
        row(
            vec![cert_id(
                fx,
                a("DeleteCertificate"),
                "cert",
                &fx.bare_cert_id,
            )],
            |_, s| Call::iot("DELETE", format!("/certificates/{}", s[0]), Value::Null),
        ),
    );
    r.insert(
        "ListCertificatesByCA",
        row(vec![any(a("ListCertificatesByCA"))], move |_, _| {
            Call::iot("GET", format!("/certificates-by-ca/{ca}"), Value::Null)
        }),
    );
    r.insert("RegisterCertificate", row(vec![any(a("RegisterCertificate"))], move |_, _| {
        Call::iot(
            "POST",
            "/certificate/register",
            json!({"certificatePem": pki.unregistered_pem, "caCertificatePem": pki.fleet_ca.cert_pem()}),
        )
    }));
    r.insert(
        "RegisterCertificateWithoutCA",
        row(vec![any(a("RegisterCertificateWithoutCA"))], move |_, _| {
            Call::iot(
                "POST",
                "/certificate/register-no-ca",
                json!({"certificatePem": pki.foreign_pem}),
            )
        }),
    );
    r.insert("RegisterCACertificate", row(vec![any(a("RegisterCACertificate"))], move |_, _| {
        Call::iot(
            "POST",
            "/cacertificate",
            json!({"caCertificate": pki.new_ca.cert_pem(), "verificationCertificate": verification}),
        )
    }));
    r.insert(
        "ListCACertificates",
        row(vec![any(a("ListCACertificates"))], |_, _| {
            Call::iot("GET", "/cacertificates", Value::Null)
        }),
    );
    r.insert(
        "DescribeCACertificate",
        row(
            vec![cert_id(
                fx,
                a("DescribeCACertificate"),
                "cacert",
                &fx.fleet_ca_id,
            )],
            |_, s| Call::iot("GET", format!("/cacertificate/{}", s[0]), Value::Null),
        ),
    );
    r.insert(
        "UpdateCACertificate",
        row(
            vec![cert_id(
                fx,
                a("UpdateCACertificate"),
                "cacert",
                &fx.fleet_ca_id,
            )],
            |_, s| {
                Call::iot(
                    "PUT",
                    format!("/cacertificate/{}?newStatus=INACTIVE", s[0]),
                    json!({}),
                )
            },
        ),
    );
    r.insert(
        "DeleteCACertificate",
        row(
            vec![cert_id(
                fx,
                a("DeleteCACertificate"),
                "cacert",
                &fx.old_ca_id,
            )],
            |_, s| Call::iot("DELETE", format!("/cacertificate/{}", s[0]), Value::Null),
        ),
    );
    let crl = fx.fleet_crl_pem.clone();
    r.insert(
        "ImportCACertificateCrl",
        row(
            vec![cert_id(
                fx,
                a("ImportCACertificateCrl"),
                "cacert",
                &fx.fleet_ca_id,
            )],
            move |_, s| {
                Call::iot(
                    "PUT",
                    format!("/cacertificate/{}/crl", s[0]),
                    json!({"crlPem": crl}),
                )
            },
        ),
    );
    r.insert(
        "UpdateCACertificateRevocationConfig",
        row(
            vec![cert_id(
                fx,
                a("UpdateCACertificateRevocationConfig"),
                "cacert",
                &fx.fleet_ca_id,
            )],
            |_, s| {
                Call::iot(
                    "PUT",
                    format!("/cacertificate/{}/revocation-config", s[0]),
                    json!({"ocsp": "FAIL_OPEN", "crlUrl": "http://127.0.0.1:9/fleet.crl"}),
                )
            },
        ),
    );
    r.insert(
        "DeleteCACertificateCrl",
        row(
            vec![cert_id(
                fx,
                a("DeleteCACertificateCrl"),
                "cacert",
                &fx.fleet_ca_id,
            )],
            |_, s| {
                Call::iot(
                    "DELETE",
                    format!("/cacertificate/{}/crl", s[0]),
                    Value::Null,
                )
            },
        ),
    );
    r.insert(
        "GetRegistrationCode",
        row(vec![any(a("GetRegistrationCode"))], |_, _| {
            Call::iot("GET", "/registrationcode", Value::Null)
        }),
    );
    r.insert(
        "ListPolicies",
        row(vec![any(a("ListPolicies"))], |_, _| {
            Call::iot("GET", "/policies", Value::Null)
        }),
    );
    let d = doc.clone();
    r.insert(
        "CreatePolicy",
        row(
            vec![iot_name(
                fx,
                a("CreatePolicy"),
                "policy",
                "NewIotPolicy",
                true,
            )],
            move |_, s| Call::iot("POST", format!("/policies/{}", s[0]), d.clone()),
        ),
    );
    r.insert(
        "GetPolicy",
        row(
            vec![iot_name(fx, a("GetPolicy"), "policy", IOT_POLICY, false)],
            |_, s| Call::iot("GET", format!("/policies/{}", s[0]), Value::Null),
        ),
    );
    r.insert(
        "DeletePolicy",
        row(
            vec![iot_name(
                fx,
                a("DeletePolicy"),
                "policy",
                BARE_IOT_POLICY,
                false,
            )],
            |_, s| Call::iot("DELETE", format!("/policies/{}", s[0]), Value::Null),
        ),
    );
    let d = doc.clone();
    r.insert(
        "CreatePolicyVersion",
        row(
            vec![iot_name(
                fx,
                a("CreatePolicyVersion"),
                "policy",
                IOT_POLICY,
                false,
            )],
            move |_, s| Call::iot("POST", format!("/policies/{}/version", s[0]), d.clone()),
        ),
    );
    r.insert(
        "ListPolicyVersions",
        row(
            vec![iot_name(
                fx,
                a("ListPolicyVersions"),
                "policy",
                IOT_POLICY,
                false,
            )],
            |_, s| Call::iot("GET", format!("/policies/{}/version", s[0]), Value::Null),
        ),
    );
    r.insert(
        "GetPolicyVersion",
        row(
            vec![iot_name(
                fx,
                a("GetPolicyVersion"),
                "policy",
                IOT_POLICY,
                false,
            )],
            |_, s| Call::iot("GET", format!("/policies/{}/version/1", s[0]), Value::Null),
        ),
    );
    r.insert(
        "SetDefaultPolicyVersion",
        row(
            vec![iot_name(
                fx,
                a("SetDefaultPolicyVersion"),
                "policy",
                IOT_POLICY,
                false,
            )],
            |_, s| {
                Call::iot(
                    "PATCH",
                    format!("/policies/{}/version/2", s[0]),
                    Value::Null,
                )
            },
        ),
    );
    r.insert(
        "DeletePolicyVersion",
        row(
            vec![iot_name(
                fx,
                a("DeletePolicyVersion"),
                "policy",
                IOT_POLICY,
                false,
            )],
            |_, s| {
                Call::iot(
                    "DELETE",
                    format!("/policies/{}/version/2", s[0]),
                    Value::Null,
                )
            },
        ),
    );
    r.insert(
        "AttachPolicy",
        row(
            vec![cert_arn(fx, a("AttachPolicy"), &fx.bare_cert_id, Loc::Json)],
            |_, s| {
                Call::iot(
                    "PUT",
                    format!("/target-policies/{IOT_POLICY}"),
                    json!({"target": s[0]}),
                )
            },
        ),
    );
    r.insert(
        "DetachPolicy",
        row(
            vec![cert_arn(fx, a("DetachPolicy"), &fx.cert_id, Loc::Json)],
            |_, s| {
                Call::iot(
                    "POST",
                    format!("/target-policies/{IOT_POLICY}"),
                    json!({"target": s[0]}),
                )
            },
        ),
    );
    r.insert(
        "ListAttachedPolicies",
        row(
            vec![cert_arn(
                fx,
                a("ListAttachedPolicies"),
                &fx.cert_id,
                Loc::Path,
            )],
            |_, s| Call::iot("POST", format!("/attached-policies/{}", s[0]), Value::Null),
        ),
    );
    r.insert(
        "ListTargetsForPolicy",
        row(
            vec![iot_name(
                fx,
                a("ListTargetsForPolicy"),
                "policy",
                IOT_POLICY,
                false,
            )],
            |_, s| Call::iot("POST", format!("/policy-targets/{}", s[0]), Value::Null),
        ),
    );
    r.insert(
        "AttachPrincipalPolicy",
        row(
            vec![cert_arn(
                fx,
                a("AttachPrincipalPolicy"),
                &fx.bare_cert_id,
                Loc::Header,
            )],
            |_, s| {
                Call::iot(
                    "PUT",
                    format!("/principal-policies/{IOT_POLICY}"),
                    Value::Null,
                )
                .header("x-amzn-iot-principal", &s[0])
            },
        ),
    );
    r.insert(
        "DetachPrincipalPolicy",
        row(
            vec![cert_arn(
                fx,
                a("DetachPrincipalPolicy"),
                &fx.cert_id,
                Loc::Header,
            )],
            |_, s| {
                Call::iot(
                    "DELETE",
                    format!("/principal-policies/{IOT_POLICY}"),
                    Value::Null,
                )
                .header("x-amzn-iot-principal", &s[0])
            },
        ),
    );
    r.insert(
        "ListPrincipalPolicies",
        row(
            vec![cert_arn(
                fx,
                a("ListPrincipalPolicies"),
                &fx.cert_id,
                Loc::Header,
            )],
            |_, s| {
                Call::iot("GET", "/principal-policies", Value::Null)
                    .header("x-amzn-iot-principal", &s[0])
            },
        ),
    );
    r.insert(
        "ListPolicyPrincipals",
        row(
            vec![iot_name_at(
                fx,
                a("ListPolicyPrincipals"),
                "policy",
                IOT_POLICY,
                false,
                Loc::Header,
            )],
            |_, s| {
                Call::iot("GET", "/policy-principals", Value::Null)
                    .header("x-amzn-iot-policy", &s[0])
            },
        ),
    );
    r.insert(
        "ListRoleAliases",
        row(vec![any(a("ListRoleAliases"))], |_, _| {
            Call::iot("GET", "/role-aliases", Value::Null)
        }),
    );
    r.insert(
        "CreateRoleAlias",
        row(
            vec![
                iot_name(fx, a("CreateRoleAlias"), "rolealias", "NewAlias", true),
                iam_arn("iam:PassRole", fx.role_arn(ROLE), Loc::Json, true)
                    .probed(|_| Call::iot("GET", "/role-aliases/NewAlias", Value::Null)),
            ],
            |_, s| {
                Call::iot(
                    "POST",
                    format!("/role-aliases/{}", s[0]),
                    json!({"roleArn": s[1]}),
                )
            },
        ),
    );
    r.insert(
        "DescribeRoleAlias",
        row(
            vec![iot_name(
                fx,
                a("DescribeRoleAlias"),
                "rolealias",
                ALIAS,
                false,
            )],
            |_, s| Call::iot("GET", format!("/role-aliases/{}", s[0]), Value::Null),
        ),
    );
    r.insert(
        "UpdateRoleAlias",
        row(
            vec![
                iot_name(fx, a("UpdateRoleAlias"), "rolealias", ALIAS, false),
                iam_arn("iam:PassRole", fx.role_arn(BARE_ROLE), Loc::Json, true)
                    .probed(|_| Call::iot("GET", format!("/role-aliases/{ALIAS}"), Value::Null)),
            ],
            |_, s| {
                Call::iot(
                    "PUT",
                    format!("/role-aliases/{}", s[0]),
                    json!({"roleArn": s[1]}),
                )
            },
        ),
    );
    r.insert(
        "DeleteRoleAlias",
        row(
            vec![iot_name(
                fx,
                a("DeleteRoleAlias"),
                "rolealias",
                ALIAS,
                false,
            )],
            |_, s| Call::iot("DELETE", format!("/role-aliases/{}", s[0]), Value::Null),
        ),
    );
    r.insert(
        "TagResource",
        row(
            vec![iot_arn(fx, a("TagResource"), "rolealias", ALIAS, Loc::Json)],
            |_, s| {
                Call::iot(
                    "POST",
                    "/tags",
                    json!({"resourceArn": s[0], "tags": [{"Key": "site", "Value": "plant-7"}]}),
                )
            },
        ),
    );
    r.insert(
        "UntagResource",
        row(
            vec![iot_arn(
                fx,
                a("UntagResource"),
                "cacert",
                &fx.fleet_ca_id,
                Loc::Json,
            )],
            |_, s| {
                Call::iot(
                    "POST",
                    "/untag",
                    json!({"resourceArn": s[0], "tagKeys": ["site"]}),
                )
            },
        ),
    );
    r.insert(
        "ListTagsForResource",
        row(
            vec![iot_arn(
                fx,
                a("ListTagsForResource"),
                "policy",
                IOT_POLICY,
                Loc::Form,
            )],
            |_, s| Call::iot("GET", format!("/tags?resourceArn={}", s[0]), Value::Null),
        ),
    );
    r
}
