//! The IAM and STS rows: one per operation of `iam::OPERATIONS` and `sts::OPERATIONS`.

use std::collections::BTreeMap;

use iotcreds_control::iam;

use super::targets::{designated, iam_arn, iam_name};
use super::{Loc, Row, any, row};
use crate::fixture::*;

/// The IAM operation `name` of the table.
fn iam_op(name: &str) -> &'static iam::Operation {
    iam::OPERATIONS
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| {
            panic!("the authorization table has a row for IAM {name}, which is not an operation")
        })
}

pub(crate) fn iam_rows(fx: &Fixture) -> BTreeMap<&'static str, Row> {
    let mut r: BTreeMap<&'static str, Row> = BTreeMap::new();
    let a = |op: &str| -> &'static str { iam_op(op).action };
    let role = |op: &str, name: &str| iam_name(a(op), fx.role_arn(name), name, false);
    let user = |op: &str, name: &str| iam_name(a(op), fx.user_arn(name), name, false);
    let managed = |op: &str, name: &str| iam_arn(a(op), fx.managed_arn(name), Loc::Form, false);
    let trust = enc(&fx.trust());
    let doc = enc(IAM_DOC);
    let managed_arn = enc(&fx.managed_arn(MANAGED));
    let bare_managed_arn = enc(&fx.managed_arn(BARE_MANAGED));
    let key = fx.user_key_id.clone();

    r.insert("CreateRole", {
        let trust = trust.clone();
        row(
            vec![iam_name(
                a("CreateRole"),
                fx.role_arn("NewRole"),
                "NewRole",
                true,
            )],
            move |_, s| {
                Call::iam(
                    "CreateRole",
                    &[
                        ("RoleName", s[0].clone()),
                        ("Path", enc(PATH)),
                        ("AssumeRolePolicyDocument", trust.clone()),
                    ],
                )
            },
        )
    });
    for op in [
        "GetRole",
        "ListRoleTags",
        "ListRolePolicies",
        "ListAttachedRolePolicies",
    ] {
        r.insert(
            op,
            row(vec![role(op, ROLE)], move |_, s| {
                Call::iam(op, &[("RoleName", s[0].clone())])
            }),
        );
    }
    r.insert(
        "UpdateRole",
        row(vec![role("UpdateRole", ROLE)], |_, s| {
            Call::iam(
                "UpdateRole",
                &[
                    ("RoleName", s[0].clone()),
                    ("Description", "updated".into()),
                ],
            )
        }),
    );
    r.insert(
        "UpdateRoleDescription",
        row(vec![role("UpdateRoleDescription", ROLE)], |_, s| {
            Call::iam(
                "UpdateRoleDescription",
                &[
                    ("RoleName", s[0].clone()),
                    ("Description", "updated".into()),
                ],
            )
        }),
    );
    r.insert(
        "DeleteRole",
        row(vec![role("DeleteRole", BARE_ROLE)], |_, s| {
            Call::iam("DeleteRole", &[("RoleName", s[0].clone())])
        }),
    );
    r.insert(
        "ListRoles",
        row(vec![any(a("ListRoles"))], |_, _| {
            Call::iam("ListRoles", &[])
        }),
    );
    r.insert("UpdateAssumeRolePolicy", {
        let trust = trust.clone();
        row(vec![role("UpdateAssumeRolePolicy", ROLE)], move |_, s| {
            Call::iam(
                "UpdateAssumeRolePolicy",
                &[
                    ("RoleName", s[0].clone()),
                    ("PolicyDocument", trust.clone()),
                ],
            )
        })
    });
    r.insert(
        "TagRole",
        row(vec![role("TagRole", ROLE)], |_, s| {
            Call::iam(
                "TagRole",
                &[
                    ("RoleName", s[0].clone()),
                    ("Tags.member.1.Key", "k".into()),
                    ("Tags.member.1.Value", "v".into()),
                ],
            )
        }),
    );
    r.insert(
        "UntagRole",
        row(vec![role("UntagRole", ROLE)], |_, s| {
            Call::iam(
                "UntagRole",
                &[
                    ("RoleName", s[0].clone()),
                    ("TagKeys.member.1", "team".into()),
                ],
            )
        }),
    );
    r.insert(
        "TagUser",
        row(vec![user("TagUser", USER)], |_, s| {
            Call::iam(
                "TagUser",
                &[
                    ("UserName", s[0].clone()),
                    ("Tags.member.1.Key", "k".into()),
                    ("Tags.member.1.Value", "v".into()),
                ],
            )
        }),
    );
    r.insert(
        "PutRolePermissionsBoundary",
        row(vec![role("PutRolePermissionsBoundary", ROLE)], |fx, s| {
            Call::iam(
                "PutRolePermissionsBoundary",
                &[
                    ("RoleName", s[0].clone()),
                    ("PermissionsBoundary", enc(&fx.managed_arn(MANAGED))),
                ],
            )
        }),
    );
    r.insert(
        "DeleteRolePermissionsBoundary",
        row(vec![role("DeleteRolePermissionsBoundary", ROLE)], |_, s| {
            Call::iam(
                "DeleteRolePermissionsBoundary",
                &[("RoleName", s[0].clone())],
            )
        }),
    );
    r.insert(
        "PutUserPermissionsBoundary",
        row(vec![user("PutUserPermissionsBoundary", USER)], |fx, s| {
            Call::iam(
                "PutUserPermissionsBoundary",
                &[
                    ("UserName", s[0].clone()),
                    ("PermissionsBoundary", enc(&fx.managed_arn(MANAGED))),
                ],
            )
        }),
    );
    r.insert(
        "DeleteUserPermissionsBoundary",
        row(vec![user("DeleteUserPermissionsBoundary", USER)], |_, s| {
            Call::iam(
                "DeleteUserPermissionsBoundary",
                &[("UserName", s[0].clone())],
            )
        }),
    );
    r.insert(
        "UntagUser",
        row(vec![user("UntagUser", USER)], |_, s| {
            Call::iam(
                "UntagUser",
                &[
                    ("UserName", s[0].clone()),
                    ("TagKeys.member.1", "team".into()),
                ],
            )
        }),
    );
    r.insert(
        "TagPolicy",
        row(vec![managed("TagPolicy", MANAGED)], |_, s| {
            Call::iam(
                "TagPolicy",
                &[
                    ("PolicyArn", s[0].clone()),
                    ("Tags.member.1.Key", "k".into()),
                    ("Tags.member.1.Value", "v".into()),
                ],
            )
        }),
    );
    r.insert(
        "UntagPolicy",
        row(vec![managed("UntagPolicy", MANAGED)], |_, s| {
            Call::iam(
                "UntagPolicy",
                &[
                    ("PolicyArn", s[0].clone()),
                    ("TagKeys.member.1", "team".into()),
                ],
            )
        }),
    );
    for (kind, holder) in [("Role", ROLE), ("User", USER)] {
        let name_param: &'static str = if kind == "Role" {
            "RoleName"
        } else {
            "UserName"
        };
        let target = |op: &str| {
            if kind == "Role" {
                role(op, holder)
            } else {
                user(op, holder)
            }
        };
        let op = iam_op(&format!("Put{kind}Policy")).name;
        let d = doc.clone();
        r.insert(
            op,
            row(vec![target(op)], move |_, s| {
                Call::iam(
                    op,
                    &[
                        (name_param, s[0].clone()),
                        ("PolicyName", "inline".into()),
                        ("PolicyDocument", d.clone()),
                    ],
                )
            }),
        );
        for verb in ["Get", "Delete"] {
            let op = iam_op(&format!("{verb}{kind}Policy")).name;
            r.insert(
                op,
                row(vec![target(op)], move |_, s| {
                    Call::iam(
                        op,
                        &[(name_param, s[0].clone()), ("PolicyName", "inline".into())],
                    )
                }),
            );
        }
        let op = iam_op(&format!("Attach{kind}Policy")).name;
        let arn = bare_managed_arn.clone();
        r.insert(
            op,
            row(vec![target(op)], move |_, s| {
                Call::iam(
                    op,
                    &[(name_param, s[0].clone()), ("PolicyArn", arn.clone())],
                )
            }),
        );
        let op = iam_op(&format!("Detach{kind}Policy")).name;
        let arn = managed_arn.clone();
        r.insert(
            op,
            row(vec![target(op)], move |_, s| {
                Call::iam(
                    op,
                    &[(name_param, s[0].clone()), ("PolicyArn", arn.clone())],
                )
            }),
        );
    }
    for op in [
        "ListUserPolicies",
        "ListAttachedUserPolicies",
        "GetUser",
        "ListUserTags",
        "ListAccessKeys",
        "CreateAccessKey",
    ] {
        r.insert(
            op,
            row(vec![user(op, USER)], move |_, s| {
                Call::iam(op, &[("UserName", s[0].clone())])
            }),
        );
    }
    r.insert("CreatePolicy", {
        let d = doc.clone();
        row(
            vec![iam_name(
                a("CreatePolicy"),
                fx.managed_arn("NewPolicy"),
                "NewPolicy",
                true,
            )],
            move |_, s| {
                Call::iam(
                    "CreatePolicy",
                    &[
                        ("PolicyName", s[0].clone()),
                        ("Path", enc(PATH)),
                        ("PolicyDocument", d.clone()),
                    ],
                )
            },
        )
    });
    for op in ["GetPolicy", "ListPolicyVersions", "ListPolicyTags"] {
        r.insert(
            op,
            row(vec![managed(op, MANAGED)], move |_, s| {
                Call::iam(op, &[("PolicyArn", s[0].clone())])
            }),
        );
    }
    r.insert(
        "GetPolicyVersion",
        row(vec![managed("GetPolicyVersion", MANAGED)], |_, s| {
            Call::iam(
                "GetPolicyVersion",
                &[("PolicyArn", s[0].clone()), ("VersionId", "v1".into())],
            )
        }),
    );
    r.insert("CreatePolicyVersion", {
        let d = doc.clone();
        row(
            vec![managed("CreatePolicyVersion", MANAGED)],
            move |_, s| {
                Call::iam(
                    "CreatePolicyVersion",
                    &[("PolicyArn", s[0].clone()), ("PolicyDocument", d.clone())],
                )
            },
        )
    });
    r.insert(
        "SetDefaultPolicyVersion",
        row(vec![managed("SetDefaultPolicyVersion", MANAGED)], |_, s| {
            Call::iam(
                "SetDefaultPolicyVersion",
                &[("PolicyArn", s[0].clone()), ("VersionId", "v2".into())],
            )
        }),
    );
    r.insert(
        "DeletePolicyVersion",
        row(vec![managed("DeletePolicyVersion", MANAGED)], |_, s| {
            Call::iam(
                "DeletePolicyVersion",
                &[("PolicyArn", s[0].clone()), ("VersionId", "v2".into())],
            )
        }),
    );
    r.insert(
        "DeletePolicy",
        row(vec![managed("DeletePolicy", BARE_MANAGED)], |_, s| {
            Call::iam("DeletePolicy", &[("PolicyArn", s[0].clone())])
        }),
    );
    r.insert(
        "ListPolicies",
        row(vec![any(a("ListPolicies"))], |_, _| {
            Call::iam("ListPolicies", &[])
        }),
    );
    r.insert(
        "CreateUser",
        row(
            vec![iam_name(
                a("CreateUser"),
                fx.user_arn("NewUser"),
                "NewUser",
                true,
            )],
            |_, s| {
                Call::iam(
                    "CreateUser",
                    &[("UserName", s[0].clone()), ("Path", enc(PATH))],
                )
            },
        ),
    );
    r.insert(
        "DeleteUser",
        row(vec![user("DeleteUser", BARE_USER)], |_, s| {
            Call::iam("DeleteUser", &[("UserName", s[0].clone())])
        }),
    );
    r.insert(
        "UpdateUser",
        row(
            vec![
                user("UpdateUser", USER),
                iam_name(
                    a("UpdateUser"),
                    fx.user_arn("RenamedUser"),
                    "RenamedUser",
                    true,
                ),
            ],
            |_, s| {
                Call::iam(
                    "UpdateUser",
                    &[("UserName", s[0].clone()), ("NewUserName", s[1].clone())],
                )
            },
        ),
    );
    {
        let key = key.clone();
        r.insert(
            "GetAccessKeyLastUsed",
            row(
                vec![designated(a("GetAccessKeyLastUsed"), fx.user_arn(USER))],
                move |_, _| Call::iam("GetAccessKeyLastUsed", &[("AccessKeyId", key.clone())]),
            ),
        );
    }
    r.insert(
        "ListUsers",
        row(vec![any(a("ListUsers"))], |_, _| {
            Call::iam("ListUsers", &[])
        }),
    );
    {
        let key = key.clone();
        r.insert(
            "DeleteAccessKey",
            row(vec![user("DeleteAccessKey", USER)], move |_, s| {
                Call::iam(
                    "DeleteAccessKey",
                    &[("UserName", s[0].clone()), ("AccessKeyId", key.clone())],
                )
            }),
        );
    }
    r.insert(
        "CreateLoginProfile",
        row(vec![user("CreateLoginProfile", BARE_USER)], |_, s| {
            Call::iam(
                "CreateLoginProfile",
                &[("UserName", s[0].clone()), ("Password", enc(PASSWORD))],
            )
        }),
    );
    for op in ["GetLoginProfile", "DeleteLoginProfile"] {
        r.insert(
            op,
            row(vec![user(op, USER)], move |_, s| {
                Call::iam(op, &[("UserName", s[0].clone())])
            }),
        );
    }
    r.insert(
        "UpdateLoginProfile",
        row(vec![user("UpdateLoginProfile", USER)], |_, s| {
            Call::iam(
                "UpdateLoginProfile",
                &[
                    ("UserName", s[0].clone()),
                    ("Password", enc("ADCTest-console-passw0rd-2")),
                ],
            )
        }),
    );
    r.insert(
        "UpdateAccessKey",
        row(vec![user("UpdateAccessKey", USER)], move |_, s| {
            Call::iam(
                "UpdateAccessKey",
                &[
                    ("UserName", s[0].clone()),
                    ("AccessKeyId", key.clone()),
                    ("Status", "Inactive".into()),
                ],
            )
        }),
    );
    r.insert("SimulateCustomPolicy", {
        let d = doc.clone();
        row(vec![any(a("SimulateCustomPolicy"))], move |_, _| {
            Call::iam(
                "SimulateCustomPolicy",
                &[
                    ("PolicyInputList.member.1", d.clone()),
                    ("ActionNames.member.1", "s3:GetObject".into()),
                ],
            )
        })
    });
    r.insert(
        "SimulatePrincipalPolicy",
        row(
            vec![iam_arn(
                a("SimulatePrincipalPolicy"),
                fx.role_arn(ROLE),
                Loc::Form,
                true,
            )],
            |_, s| {
                Call::iam(
                    "SimulatePrincipalPolicy",
                    &[
                        ("PolicySourceArn", s[0].clone()),
                        ("ActionNames.member.1", "s3:GetObject".into()),
                    ],
                )
            },
        ),
    );
    r.insert(
        "GetAccountAuthorizationDetails",
        row(vec![any(a("GetAccountAuthorizationDetails"))], |_, _| {
            Call::iam("GetAccountAuthorizationDetails", &[])
        }),
    );
    r
}

pub(crate) fn sts_rows(fx: &Fixture) -> BTreeMap<&'static str, Row> {
    let mut r: BTreeMap<&'static str, Row> = BTreeMap::new();
    r.insert(
        "GetCallerIdentity",
        row(vec![], |_, _| {
            Call::query(Api::Sts, "GetCallerIdentity", &[])
        }),
    );
    r.insert(
        "AssumeRole",
        row(
            vec![iam_arn(
                "sts:AssumeRole",
                fx.role_arn(ROLE),
                Loc::Form,
                true,
            )],
            |_, s| {
                Call::query(
                    Api::Sts,
                    "AssumeRole",
                    &[
                        ("RoleArn", s[0].clone()),
                        ("RoleSessionName", "table".into()),
                    ],
                )
            },
        ),
    );
    r
}
