"""IAM and STS (query protocol) driven by aws-cli v1 and boto3.

Every IAM operation the server implements goes through a real client; each error class is
checked as botocore parses it (exception class, code, HTTP status), together with the fact that
the refused call changed nothing. STS: GetCallerIdentity for the root key, an IAM user and a
session; AssumeRole from a user (and role chaining) issues credentials that work where the role
allows and only there.
"""

import json

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError


ROLE = "ADCTestRole"
BUCKET = "adc-test-2020-08-26"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "credentials.iot.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
S3_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"},
    ],
}


# -- helpers -------------------------------------------------------------------------------


def account_of(server):
    return server.boto3_client("sts").get_caller_identity()["Account"]


def expect(client, exception, code, status, call, **kwargs):
    """Call and assert botocore raised `exception` with `code` and HTTP `status`."""
    exc_class = getattr(client.exceptions, exception)
    with pytest.raises(exc_class) as info:
        call(**kwargs)
    response = info.value.response
    assert response["Error"]["Code"] == code, response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response
    assert response["Error"]["Message"]
    assert response["Error"]["Type"] == "Sender"
    assert response["ResponseMetadata"]["RequestId"]
    return response


def allow(action, resource="*", **extra):
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}]}


def user_with_key(iam, name, policy=None):
    """An IAM user with an access key (and, if given, an inline policy). Returns its credentials."""
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="rights", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}


def session_creds(assumed):
    c = assumed["Credentials"]
    return {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"], "SessionToken": c["SessionToken"]}


def signed(server, service, method, query="", body=None):
    """A SigV4-signed raw request (for what botocore will not send)."""
    url = f"{server.api_url}/" + (f"?{query}" if query else "")
    headers = {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    req = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
    creds = Credentials(server.admin["AccessKeyId"], server.admin["SecretAccessKey"])
    SigV4Auth(creds, service, "us-east-1").add_auth(req)
    return requests.request(method, url, data=body or b"", headers=dict(req.headers), timeout=30)


# -- the seed flow with aws-cli ---------------------------------------------------------------


def test_seed_role_with_aws_cli(server, tmp_path):
    (tmp_path / "trust.json").write_text(json.dumps(TRUST, indent=2))
    (tmp_path / "s3policy.json").write_text(json.dumps(S3_POLICY, indent=2))
    account = account_of(server)

    created = server.aws(
        "iam", "create-role", "--role-name", ROLE,
        "--assume-role-policy-document", "file://trust.json", cwd=tmp_path,
    )["Role"]
    assert created["RoleName"] == ROLE
    assert created["Path"] == "/"
    assert created["Arn"] == f"arn:aws:iam::{account}:role/{ROLE}"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["MaxSessionDuration"] == 3600
    assert created["AssumeRolePolicyDocument"] == TRUST
    assert created["CreateDate"].endswith("Z") or "+00:00" in created["CreateDate"]

    # botocore URL-decodes the trust policy and aws-cli prints it as a document.
    got = server.aws("iam", "get-role", "--role-name", ROLE)["Role"]
    assert got["AssumeRolePolicyDocument"] == TRUST
    assert got["RoleId"] == created["RoleId"]
    assert got["RoleLastUsed"] == {}

    assert server.aws(
        "iam", "put-role-policy", "--role-name", ROLE, "--policy-name", "ADCTestS3",
        "--policy-document", "file://s3policy.json", cwd=tmp_path,
    ) is None
    policy = server.aws("iam", "get-role-policy", "--role-name", ROLE, "--policy-name", "ADCTestS3")
    assert policy == {"RoleName": ROLE, "PolicyName": "ADCTestS3", "PolicyDocument": S3_POLICY}
    assert server.aws("iam", "list-role-policies", "--role-name", ROLE)["PolicyNames"] == ["ADCTestS3"]
    roles = server.aws("iam", "list-roles")["Roles"]
    assert [r["RoleName"] for r in roles] == [ROLE]
    assert roles[0]["AssumeRolePolicyDocument"] == TRUST

    # The raw answer is the query protocol's XML with the document RFC 3986-encoded.
    raw = signed(server, "iam", "POST", body=f"Action=GetRole&Version=2010-05-08&RoleName={ROLE}")
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("text/xml")
    assert raw.text.startswith('<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">')
    assert "<AssumeRolePolicyDocument>%7B%0A%20%20%22Version%22%3A%20%222012-10-17%22" in raw.text
    assert "<ResponseMetadata><RequestId>" in raw.text.replace("\n", "").replace(" ", "")


def test_query_protocol_details(server, iam):
    # GET with query parameters works like POST.
    r = signed(server, "iam", "GET", query="Action=ListRoles&Version=2010-05-08")
    assert r.status_code == 200 and "<ListRolesResult>" in r.text, r.text
    r = signed(server, "sts", "GET", query="Action=GetCallerIdentity&Version=2011-06-15")
    assert r.status_code == 200 and "<Arn>arn:aws:iam::" in r.text, r.text
    # Unknown or missing action, wrong version: 400 in the query protocol's error shape.
    r = signed(server, "iam", "POST", body="Action=CreateFoo&Version=2010-05-08")
    assert r.status_code == 400
    assert "<Code>InvalidAction</Code>" in r.text and "<Type>Sender</Type>" in r.text
    assert "Could not find operation CreateFoo for version 2010-05-08" in r.text
    r = signed(server, "iam", "POST", body="Version=2010-05-08")
    assert r.status_code == 400 and "<Code>InvalidAction</Code>" in r.text
    r = signed(server, "iam", "POST", body="Action=ListRoles&Version=2011-06-15")
    assert r.status_code == 400 and "<Code>InvalidAction</Code>" in r.text
    r = signed(server, "sts", "POST", body="Action=GetCallerIdentity")
    assert r.status_code == 400 and "<Code>MissingParameter</Code>" in r.text
    r = signed(server, "iam", "POST", body="Action=ListRoles&Version=2010-05-08&MaxItems=1&MaxItems=2")
    assert r.status_code == 400 and "<Code>MalformedQueryString</Code>" in r.text
    assert iam.list_roles()["Roles"] == []


# -- roles -----------------------------------------------------------------------------------


def test_roles(server, iam):
    account = account_of(server)
    r = iam.create_role(
        RoleName=ROLE, Path="/devices/", AssumeRolePolicyDocument=json.dumps(TRUST),
        Description="seed role", MaxSessionDuration=7200, Tags=[{"Key": "team", "Value": "fleet"}],
    )["Role"]
    assert r["Arn"] == f"arn:aws:iam::{account}:role/devices/{ROLE}"
    assert r["Description"] == "seed role" and r["MaxSessionDuration"] == 7200
    assert r["Tags"] == [{"Key": "team", "Value": "fleet"}]
    iam.create_role(RoleName="Other", AssumeRolePolicyDocument=json.dumps(TRUST))

    assert iam.update_role(RoleName=ROLE, Description="changed", MaxSessionDuration=43200)["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = iam.get_role(RoleName=ROLE.lower())["Role"]  # names are case-insensitive
    assert (got["RoleName"], got["Description"], got["MaxSessionDuration"]) == (ROLE, "changed", 43200)
    assert iam.update_role_description(RoleName=ROLE, Description="again")["Role"]["Description"] == "again"

    new_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(new_trust))
    assert iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"] == new_trust

    iam.tag_role(RoleName=ROLE, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "edge"}])
    assert iam.list_role_tags(RoleName=ROLE)["Tags"] == [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "edge"}]
    page = iam.list_role_tags(RoleName=ROLE, MaxItems=1)
    assert page["IsTruncated"] and page["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert iam.list_role_tags(RoleName=ROLE, Marker=page["Marker"])["Tags"] == [{"Key": "team", "Value": "edge"}]
    iam.untag_role(RoleName=ROLE, TagKeys=["env"])
    assert iam.list_role_tags(RoleName=ROLE)["Tags"] == [{"Key": "team", "Value": "edge"}]

    # Paging and path prefixes.
    first = iam.list_roles(MaxItems=1)
    assert first["IsTruncated"] and [x["RoleName"] for x in first["Roles"]] == [ROLE]
    second = iam.list_roles(MaxItems=1, Marker=first["Marker"])
    assert not second["IsTruncated"] and [x["RoleName"] for x in second["Roles"]] == ["Other"]
    assert [x["RoleName"] for x in iam.list_roles(PathPrefix="/devices/")["Roles"]] == [ROLE]
    paginated = [x["RoleName"] for p in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 1}) for x in p["Roles"]]
    assert paginated == [ROLE, "Other"]

    iam.delete_role(RoleName="Other")
    assert [x["RoleName"] for x in iam.list_roles()["Roles"]] == [ROLE]


def test_role_inline_and_attached_policies(server, iam):
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=ROLE, PolicyName="s3", PolicyDocument=json.dumps(S3_POLICY))
    iam.put_role_policy(RoleName=ROLE, PolicyName="s3", PolicyDocument=json.dumps(allow("s3:GetObject")))
    assert iam.get_role_policy(RoleName=ROLE, PolicyName="s3")["PolicyDocument"] == allow("s3:GetObject")
    iam.put_role_policy(RoleName=ROLE, PolicyName="more", PolicyDocument=json.dumps(allow("s3:PutObject")))
    page = iam.list_role_policies(RoleName=ROLE, MaxItems=1)
    assert page["PolicyNames"] == ["more"] and page["IsTruncated"]
    assert iam.list_role_policies(RoleName=ROLE, Marker=page["Marker"])["PolicyNames"] == ["s3"]
    iam.delete_role_policy(RoleName=ROLE, PolicyName="more")
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == ["s3"]

    arn = iam.create_policy(PolicyName="Managed", PolicyDocument=json.dumps(S3_POLICY))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=arn)
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=arn)  # attaching again is a no-op
    assert iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == [{"PolicyName": "Managed", "PolicyArn": arn}]
    assert iam.list_attached_role_policies(RoleName=ROLE, PathPrefix="/other/")["AttachedPolicies"] == []
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    iam.detach_role_policy(RoleName=ROLE, PolicyArn=arn)
    assert iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []


# -- managed policies --------------------------------------------------------------------------


def test_managed_policies_and_versions(server, iam):
    account = account_of(server)
    p = iam.create_policy(
        PolicyName="ADCTestS3", Path="/app/", PolicyDocument=json.dumps(S3_POLICY),
        Description="bucket read", Tags=[{"Key": "k", "Value": "v"}],
    )["Policy"]
    arn = p["Arn"]
    assert arn == f"arn:aws:iam::{account}:policy/app/ADCTestS3"
    assert p["PolicyId"].startswith("ANPA") and p["DefaultVersionId"] == "v1"
    assert (p["AttachmentCount"], p["IsAttachable"], p["Path"]) == (0, True, "/app/")
    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert (got["Description"], got["Tags"]) == ("bucket read", [{"Key": "k", "Value": "v"}])
    v1 = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert v1["Document"] == S3_POLICY and v1["IsDefaultVersion"]

    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow("s3:GetObject")), SetAsDefault=True)["PolicyVersion"]
    assert (v2["VersionId"], v2["IsDefaultVersion"]) == ("v2", True)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [("v2", True), ("v1", False)]
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == ["v1"]

    iam.create_policy(PolicyName="Other", PolicyDocument=json.dumps(allow("s3:PutObject")))
    names = lambda **kw: [x["PolicyName"] for x in iam.list_policies(**kw)["Policies"]]
    assert names() == ["ADCTestS3", "Other"]
    assert names(Scope="Local", PathPrefix="/app/") == ["ADCTestS3"]
    assert names(Scope="AWS") == []
    assert names(OnlyAttached=True) == []
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=arn)
    assert names(OnlyAttached=True) == ["ADCTestS3"]
    assert names(PolicyUsageFilter="PermissionsBoundary") == []
    iam.detach_role_policy(RoleName=ROLE, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    assert names() == ["Other"]


def test_permissions_boundary(server, iam):
    boundary = iam.create_policy(PolicyName="Boundary", PolicyDocument=json.dumps(allow("s3:GetObject")))["Policy"]["Arn"]
    role = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST), PermissionsBoundary=boundary)["Role"]
    assert role["PermissionsBoundary"] == {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": boundary}
    assert [x["PolicyName"] for x in iam.list_policies(PolicyUsageFilter="PermissionsBoundary")["Policies"]] == ["Boundary"]
    iam.put_role_policy(RoleName=ROLE, PolicyName="all", PolicyDocument=json.dumps(allow("s3:*")))
    arn = role["Arn"]
    results = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:GetObject", "s3:PutObject"])["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in results] == [("s3:GetObject", "allowed"), ("s3:PutObject", "implicitDeny")]


# -- users and access keys -----------------------------------------------------------------------


def test_users_and_their_policies(server, iam):
    account = account_of(server)
    u = iam.create_user(UserName="alice", Path="/ops/", Tags=[{"Key": "team", "Value": "ops"}])["User"]
    assert u["Arn"] == f"arn:aws:iam::{account}:user/ops/alice"
    assert u["UserId"].startswith("AIDA") and len(u["UserId"]) == 21
    assert iam.get_user(UserName="ALICE")["User"]["Tags"] == [{"Key": "team", "Value": "ops"}]
    iam.create_user(UserName="bob")
    assert [x["UserName"] for x in iam.list_users()["Users"]] == ["alice", "bob"]
    assert [x["UserName"] for x in iam.list_users(PathPrefix="/ops/")["Users"]] == ["alice"]
    # Root: GetUser without a name describes the account's root user.
    root = iam.get_user()["User"]
    assert (root["UserId"], root["Arn"]) == (account, f"arn:aws:iam::{account}:root")

    iam.put_user_policy(UserName="alice", PolicyName="read", PolicyDocument=json.dumps(allow("iam:Get*")))
    assert iam.get_user_policy(UserName="alice", PolicyName="read")["PolicyDocument"] == allow("iam:Get*")
    assert iam.list_user_policies(UserName="alice")["PolicyNames"] == ["read"]
    arn = iam.create_policy(PolicyName="UserManaged", PolicyDocument=json.dumps(allow("iam:List*")))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="alice", PolicyArn=arn)
    assert iam.list_attached_user_policies(UserName="alice")["AttachedPolicies"] == [{"PolicyName": "UserManaged", "PolicyArn": arn}]

    key = iam.create_access_key(UserName="alice")["AccessKey"]
    alice = server.boto3_client("iam", creds=key)
    # As alice: her own user without a name, reads her policies grant, nothing else.
    assert alice.get_user()["User"]["UserName"] == "alice"
    assert [x["UserName"] for x in alice.list_users()["Users"]] == ["alice", "bob"]
    expect(alice, "ClientError", "AccessDenied", 403, alice.create_user, UserName="mallory")

    iam.detach_user_policy(UserName="alice", PolicyArn=arn)
    expect(alice, "ClientError", "AccessDenied", 403, alice.list_users)
    iam.delete_user_policy(UserName="alice", PolicyName="read")
    assert iam.list_user_policies(UserName="alice")["PolicyNames"] == []
    iam.delete_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName="alice")
    assert [x["UserName"] for x in iam.list_users()["Users"]] == ["bob"]


def test_access_keys(server, iam):
    iam.create_user(UserName="dev")
    with_aws_cli = server.aws("iam", "create-access-key", "--user-name", "dev")["AccessKey"]
    assert with_aws_cli["AccessKeyId"].startswith("AKIA") and len(with_aws_cli["AccessKeyId"]) == 20
    assert len(with_aws_cli["SecretAccessKey"]) == 40
    assert (with_aws_cli["UserName"], with_aws_cli["Status"]) == ("dev", "Active")
    listed = iam.list_access_keys(UserName="dev")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"], k["UserName"]) for k in listed] == [(with_aws_cli["AccessKeyId"], "Active", "dev")]
    assert "SecretAccessKey" not in listed[0]

    creds = {"AccessKeyId": with_aws_cli["AccessKeyId"], "SecretAccessKey": with_aws_cli["SecretAccessKey"]}
    dev_sts = server.boto3_client("sts", creds=creds)
    assert dev_sts.get_caller_identity()["Arn"].endswith(":user/dev")
    # An inactive key no longer signs; activating it again restores it.
    iam.update_access_key(UserName="dev", AccessKeyId=creds["AccessKeyId"], Status="Inactive")
    expect(dev_sts, "ClientError", "InvalidClientTokenId", 403, dev_sts.get_caller_identity)
    iam.update_access_key(UserName="dev", AccessKeyId=creds["AccessKeyId"], Status="Active")
    assert dev_sts.get_caller_identity()["Arn"].endswith(":user/dev")
    # Without UserName the key operations act on the calling user (who needs the rights).
    iam.put_user_policy(UserName="dev", PolicyName="keys", PolicyDocument=json.dumps(allow("iam:*AccessKey*")))
    dev_iam = server.boto3_client("iam", creds=creds)
    second = dev_iam.create_access_key()["AccessKey"]
    assert second["UserName"] == "dev"
    assert len(dev_iam.list_access_keys()["AccessKeyMetadata"]) == 2
    dev_iam.delete_access_key(AccessKeyId=second["AccessKeyId"])
    # The root key is not an IAM user: it must name one.
    r = expect(iam, "ClientError", "ValidationError", 400, iam.list_access_keys)
    assert r["Error"]["Message"] == "Must specify userName when calling with non-User credentials"
    iam.delete_access_key(UserName="dev", AccessKeyId=creds["AccessKeyId"])
    expect(dev_sts, "ClientError", "InvalidClientTokenId", 403, dev_sts.get_caller_identity)
    assert iam.list_access_keys(UserName="dev")["AccessKeyMetadata"] == []


# -- simulator and account details --------------------------------------------------------------


def test_simulate_custom_policy_with_aws_cli(server):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"},
            {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/secret/*"},
            {"Sid": "Tagged", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
             "Condition": {"StringEquals": {"aws:PrincipalTag/team": "fleet"}}},
        ],
    }
    out = server.aws(
        "iam", "simulate-custom-policy", "--policy-input-list", json.dumps(policy),
        "--action-names", "s3:GetObject", "s3:DeleteObject",
        "--resource-arns", f"arn:aws:s3:::{BUCKET}/a.txt", f"arn:aws:s3:::{BUCKET}/secret/k",
    )["EvaluationResults"]
    decided = {(r["EvalActionName"], r["EvalResourceName"]): r for r in out}
    ok = decided[("s3:GetObject", f"arn:aws:s3:::{BUCKET}/a.txt")]
    assert ok["EvalDecision"] == "allowed"
    assert ok["MatchedStatements"] == [{"SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "none"}]
    assert decided[("s3:GetObject", f"arn:aws:s3:::{BUCKET}/secret/k")]["EvalDecision"] == "explicitDeny"
    assert decided[("s3:DeleteObject", f"arn:aws:s3:::{BUCKET}/a.txt")]["EvalDecision"] == "implicitDeny"
    assert decided[("s3:DeleteObject", f"arn:aws:s3:::{BUCKET}/a.txt")]["MatchedStatements"] == []

    # Context entries decide conditions; keys a matching statement needs are reported missing.
    missing = server.aws("iam", "simulate-custom-policy", "--policy-input-list", json.dumps(policy),
                         "--action-names", "s3:PutObject")["EvaluationResults"][0]
    assert (missing["EvalDecision"], missing["MissingContextValues"]) == ("implicitDeny", ["aws:PrincipalTag/team"])
    given = server.aws(
        "iam", "simulate-custom-policy", "--policy-input-list", json.dumps(policy),
        "--action-names", "s3:PutObject",
        "--context-entries", "ContextKeyName=aws:PrincipalTag/team,ContextKeyValues=fleet,ContextKeyType=string",
    )["EvaluationResults"][0]
    assert (given["EvalDecision"], given["MissingContextValues"]) == ("allowed", [])


def test_simulate_principal_policy_and_resource_policy(server, iam):
    account = account_of(server)
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=ROLE, PolicyName="ADCTestS3", PolicyDocument=json.dumps(S3_POLICY))
    role_arn = f"arn:aws:iam::{account}:role/{ROLE}"
    results = iam.simulate_principal_policy(
        PolicySourceArn=role_arn, ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=[f"arn:aws:s3:::{BUCKET}/test.txt"],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "implicitDeny"]
    assert results[0]["MatchedStatements"] == [{"SourcePolicyId": "ADCTestS3", "SourcePolicyType": "role"}]

    iam.create_user(UserName="carol")
    arn = iam.create_policy(PolicyName="CarolRead", PolicyDocument=json.dumps(allow("s3:GetObject")))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="carol", PolicyArn=arn)
    user_arn = f"arn:aws:iam::{account}:user/carol"
    r = iam.simulate_principal_policy(PolicySourceArn=user_arn, ActionNames=["s3:GetObject"])["EvaluationResults"][0]
    assert r["MatchedStatements"] == [{"SourcePolicyId": "CarolRead", "SourcePolicyType": "user-managed"}]
    # A resource policy naming the caller grants on its own.
    bucket_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn},
                                                              "Action": "s3:PutObject", "Resource": "*"}]}
    r = iam.simulate_principal_policy(PolicySourceArn=user_arn, ActionNames=["s3:PutObject"],
                                      ResourcePolicy=json.dumps(bucket_policy))["EvaluationResults"][0]
    assert r["EvalDecision"] == "allowed"
    assert r["MatchedStatements"] == [{"SourcePolicyId": "ResourcePolicy", "SourcePolicyType": "resource"}]
    expect(iam, "NoSuchEntityException", "NoSuchEntity", 404, iam.simulate_principal_policy,
           PolicySourceArn=f"arn:aws:iam::{account}:user/nobody", ActionNames=["s3:GetObject"])
    expect(iam, "InvalidInputException", "InvalidInput", 400, iam.simulate_custom_policy,
           PolicyInputList=["{"], ActionNames=["s3:GetObject"])


def test_get_account_authorization_details(server, iam):
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=ROLE, PolicyName="ADCTestS3", PolicyDocument=json.dumps(S3_POLICY))
    iam.create_user(UserName="dave")
    arn = iam.create_policy(PolicyName="P", PolicyDocument=json.dumps(allow("s3:GetObject")))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="dave", PolicyArn=arn)
    d = iam.get_account_authorization_details()
    assert [u["UserName"] for u in d["UserDetailList"]] == ["dave"]
    assert d["UserDetailList"][0]["AttachedManagedPolicies"] == [{"PolicyName": "P", "PolicyArn": arn}]
    role = d["RoleDetailList"][0]
    assert role["AssumeRolePolicyDocument"] == TRUST
    assert role["RolePolicyList"] == [{"PolicyName": "ADCTestS3", "PolicyDocument": S3_POLICY}]
    assert d["Policies"][0]["PolicyVersionList"][0]["Document"] == allow("s3:GetObject")
    only_roles = iam.get_account_authorization_details(Filter=["Role"])
    assert (only_roles["UserDetailList"], len(only_roles["RoleDetailList"])) == ([], 1)
    paged = [x for p in iam.get_paginator("get_account_authorization_details").paginate(PaginationConfig={"PageSize": 1})
             for x in p["UserDetailList"] + p["RoleDetailList"] + p["Policies"]]
    assert len(paged) == 3


# -- one test per error class -------------------------------------------------------------------


def test_error_no_such_entity(server, iam):
    account = account_of(server)
    r = expect(iam, "NoSuchEntityException", "NoSuchEntity", 404, iam.get_role, RoleName="Missing")
    assert r["Error"]["Message"] == "The role with name Missing cannot be found."
    proc = server.aws("iam", "get-role", "--role-name", "Missing", check=False)
    assert proc.returncode != 0 and "NoSuchEntity" in proc.stderr
    expect(iam, "NoSuchEntityException", "NoSuchEntity", 404, iam.put_role_policy,
           RoleName="Missing", PolicyName="p", PolicyDocument=json.dumps(S3_POLICY))
    expect(iam, "NoSuchEntityException", "NoSuchEntity", 404, iam.get_policy,
           PolicyArn=f"arn:aws:iam::{account}:policy/Missing")
    expect(iam, "NoSuchEntityException", "NoSuchEntity", 404, iam.delete_user, UserName="missing")
    expect(iam, "NoSuchEntityException", "NoSuchEntity", 404, iam.create_access_key, UserName="missing")
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    r = expect(iam, "NoSuchEntityException", "NoSuchEntity", 404, iam.get_role_policy, RoleName=ROLE, PolicyName="nope")
    assert r["Error"]["Message"] == "The role policy with name nope cannot be found."
    expect(iam, "NoSuchEntityException", "NoSuchEntity", 404, iam.attach_role_policy,
           RoleName=ROLE, PolicyArn=f"arn:aws:iam::{account}:policy/Missing")
    expect(iam, "NoSuchEntityException", "NoSuchEntity", 404, iam.get_policy_version,
           PolicyArn=f"arn:aws:iam::{account}:policy/Missing", VersionId="v1")
    # Nothing changed.
    assert [x["RoleName"] for x in iam.list_roles()["Roles"]] == [ROLE]
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == []
    assert iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []
    assert iam.list_users()["Users"] == [] and iam.list_policies()["Policies"] == []


def test_error_entity_already_exists(server, iam):
    first = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    other_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    for name in (ROLE, ROLE.lower(), ROLE.upper()):
        r = expect(iam, "EntityAlreadyExistsException", "EntityAlreadyExists", 409, iam.create_role,
                   RoleName=name, AssumeRolePolicyDocument=json.dumps(other_trust))
        assert r["Error"]["Message"] == f"Role with name {name} already exists."
    proc = server.aws("iam", "create-role", "--role-name", "adctestROLE",
                      "--assume-role-policy-document", json.dumps(other_trust), check=False)
    assert proc.returncode != 0 and "EntityAlreadyExists" in proc.stderr
    roles = iam.list_roles()["Roles"]
    assert [(x["RoleName"], x["RoleId"]) for x in roles] == [(ROLE, first["RoleId"])]
    assert roles[0]["AssumeRolePolicyDocument"] == TRUST

    iam.create_user(UserName="erin")
    expect(iam, "EntityAlreadyExistsException", "EntityAlreadyExists", 409, iam.create_user, UserName="ERIN")
    iam.create_policy(PolicyName="Shared", PolicyDocument=json.dumps(S3_POLICY))
    expect(iam, "EntityAlreadyExistsException", "EntityAlreadyExists", 409, iam.create_policy,
           PolicyName="shared", PolicyDocument=json.dumps(allow("s3:*")))
    assert [x["UserName"] for x in iam.list_users()["Users"]] == ["erin"]
    policies = iam.list_policies()["Policies"]
    assert [x["PolicyName"] for x in policies] == ["Shared"]
    assert iam.get_policy_version(PolicyArn=policies[0]["Arn"], VersionId="v1")["PolicyVersion"]["Document"] == S3_POLICY


def test_error_malformed_policy_document(server, iam):
    # A trust policy needs a Principal and takes no Resource.
    r = expect(iam, "MalformedPolicyDocumentException", "MalformedPolicyDocument", 400, iam.create_role,
               RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(S3_POLICY))
    # IAM's own wording; where exactly the fault is goes to the audit line.
    assert r["Error"]["Message"] == "Has prohibited field Resource"
    proc = server.aws("iam", "create-role", "--role-name", ROLE, "--assume-role-policy-document", "{not json", check=False)
    assert proc.returncode != 0 and "MalformedPolicyDocument" in proc.stderr
    assert iam.list_roles()["Roles"] == []

    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    no_action = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}
    expect(iam, "MalformedPolicyDocumentException", "MalformedPolicyDocument", 400, iam.put_role_policy,
           RoleName=ROLE, PolicyName="p", PolicyDocument=json.dumps(no_action))
    expect(iam, "MalformedPolicyDocumentException", "MalformedPolicyDocument", 400, iam.update_assume_role_policy,
           RoleName=ROLE, PolicyDocument=json.dumps(S3_POLICY))
    with_principal = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}
    expect(iam, "MalformedPolicyDocumentException", "MalformedPolicyDocument", 400, iam.create_policy,
           PolicyName="P", PolicyDocument=json.dumps(with_principal))
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == []
    assert iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"] == TRUST
    assert iam.list_policies()["Policies"] == []


def test_error_limit_exceeded(server, iam):
    iam.create_user(UserName="frank")
    iam.create_access_key(UserName="frank")
    iam.create_access_key(UserName="frank")
    r = expect(iam, "LimitExceededException", "LimitExceeded", 409, iam.create_access_key, UserName="frank")
    assert r["Error"]["Message"] == "Cannot exceed quota for AccessKeysPerUser: 2"
    assert len(iam.list_access_keys(UserName="frank")["AccessKeyMetadata"]) == 2

    arn = iam.create_policy(PolicyName="Versions", PolicyDocument=json.dumps(allow("s3:GetObject")))["Policy"]["Arn"]
    for i in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow(f"s3:Get{i}")))
    expect(iam, "LimitExceededException", "LimitExceeded", 409, iam.create_policy_version,
           PolicyArn=arn, PolicyDocument=json.dumps(allow("s3:Put*")))
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 5

    # Size quotas: a trust policy over 2048 characters, role inline policies over 10240 in all.
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    big_trust = {"Version": "2012-10-17", "Statement": [
        {"Sid": f"S{i}", "Effect": "Allow", "Principal": {"Service": f"svc{i}.amazonaws.com"}, "Action": "sts:AssumeRole"}
        for i in range(40)]}
    r = expect(iam, "LimitExceededException", "LimitExceeded", 409, iam.update_assume_role_policy,
               RoleName=ROLE, PolicyDocument=json.dumps(big_trust))
    assert r["Error"]["Message"] == "Cannot exceed quota for ACLSizePerRole: 2048"
    half = allow([f"s3:Action{i:04d}" for i in range(330)])  # ~5400 characters
    iam.put_role_policy(RoleName=ROLE, PolicyName="a", PolicyDocument=json.dumps(half))
    r = expect(iam, "LimitExceededException", "LimitExceeded", 409, iam.put_role_policy,
               RoleName=ROLE, PolicyName="b", PolicyDocument=json.dumps(half))
    assert r["Error"]["Message"] == f"Maximum policy size of 10240 bytes exceeded for role {ROLE}"
    iam.put_role_policy(RoleName=ROLE, PolicyName="a", PolicyDocument=json.dumps(half))  # replacing is fine
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == ["a"]
    assert iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"] == TRUST


def test_error_delete_conflict(server, iam):
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=ROLE, PolicyName="s3", PolicyDocument=json.dumps(S3_POLICY))
    r = expect(iam, "DeleteConflictException", "DeleteConflict", 409, iam.delete_role, RoleName=ROLE)
    assert r["Error"]["Message"] == "Cannot delete entity, must delete policies first."
    proc = server.aws("iam", "delete-role", "--role-name", ROLE, check=False)
    assert proc.returncode != 0 and "DeleteConflict" in proc.stderr

    arn = iam.create_policy(PolicyName="Attached", PolicyDocument=json.dumps(S3_POLICY))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=arn)
    expect(iam, "DeleteConflictException", "DeleteConflict", 409, iam.delete_policy, PolicyArn=arn)
    r = expect(iam, "DeleteConflictException", "DeleteConflict", 409, iam.delete_policy_version, PolicyArn=arn, VersionId="v1")
    assert r["Error"]["Message"] == "Cannot delete the default version of a policy."
    iam.create_user(UserName="gina")
    iam.create_access_key(UserName="gina")
    r = expect(iam, "DeleteConflictException", "DeleteConflict", 409, iam.delete_user, UserName="gina")
    assert r["Error"]["Message"] == "Cannot delete entity, must delete access keys first."
    # Nothing changed.
    assert iam.get_role_policy(RoleName=ROLE, PolicyName="s3")["PolicyDocument"] == S3_POLICY
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert len(iam.list_access_keys(UserName="gina")["AccessKeyMetadata"]) == 1
    assert [x["RoleName"] for x in iam.list_roles()["Roles"]] == [ROLE]


def test_error_validation_and_invalid_input(server, iam):
    # Constraints botocore leaves to the server: patterns and maximums.
    r = expect(iam, "ClientError", "ValidationError", 400, iam.create_role,
               RoleName="bad name", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert r["Error"]["Message"] == (
        "1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+")
    r = expect(iam, "ClientError", "ValidationError", 400, iam.create_role,
               RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST), MaxSessionDuration=50000)
    assert "at 'maxSessionDuration'" in r["Error"]["Message"]
    expect(iam, "ClientError", "ValidationError", 400, iam.create_role,
           RoleName=ROLE, Path="no-slashes", AssumeRolePolicyDocument=json.dumps(TRUST))
    expect(iam, "ClientError", "ValidationError", 400, iam.create_user, UserName="u" * 65)
    # An echoed control character still gives an error botocore can parse.
    r = expect(iam, "ClientError", "ValidationError", 400, iam.get_role, RoleName="a\x01b")
    assert "at 'roleName'" in r["Error"]["Message"]
    expect(iam, "ClientError", "ValidationError", 400, iam.get_policy_version,
           PolicyArn="arn:aws:iam::123456789012:policy/P", VersionId="1")
    proc = server.aws("iam", "create-role", "--role-name", "bad/name", "--assume-role-policy-document", json.dumps(TRUST), check=False)
    assert proc.returncode != 0 and "ValidationError" in proc.stderr
    # InvalidInput: arguments that are well-formed but wrong.
    r = expect(iam, "InvalidInputException", "InvalidInput", 400, iam.get_policy, PolicyArn="this-is-not-an-arn-at-all")
    assert r["Error"]["Message"] == "ARN this-is-not-an-arn-at-all is not valid."
    expect(iam, "InvalidInputException", "InvalidInput", 400, iam.create_role, RoleName=ROLE,
           AssumeRolePolicyDocument=json.dumps(TRUST), PermissionsBoundary="arn:aws:iam::123456789012:policy/None")
    expect(iam, "InvalidInputException", "InvalidInput", 400, iam.create_user, UserName="u",
           Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])
    # Nothing was created.
    assert iam.list_roles()["Roles"] == [] and iam.list_users()["Users"] == []


def test_error_access_denied_for_user_without_rights(server, iam):
    account = account_of(server)
    creds = user_with_key(iam, "nobody")
    denied_iam = server.boto3_client("iam", creds=creds)
    r = expect(denied_iam, "ClientError", "AccessDenied", 403, denied_iam.create_role,
               RoleName="X", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert r["Error"]["Message"] == (
        f"User: arn:aws:iam::{account}:user/nobody is not authorized to perform: iam:CreateRole "
        f"on resource: arn:aws:iam::{account}:role/X because no identity-based policy allows the iam:CreateRole action")
    proc = server.aws("iam", "create-role", "--role-name", "X", "--assume-role-policy-document", json.dumps(TRUST),
                      creds=creds, check=False)
    assert proc.returncode != 0 and "AccessDenied" in proc.stderr
    # Refused before any lookup: a missing role is AccessDenied too, not NoSuchEntity.
    expect(denied_iam, "ClientError", "AccessDenied", 403, denied_iam.get_role, RoleName="Missing")
    expect(denied_iam, "ClientError", "AccessDenied", 403, denied_iam.simulate_custom_policy,
           PolicyInputList=[json.dumps(S3_POLICY)], ActionNames=["s3:GetObject"])

    # Rights scoped to one role: reads of that role only; a Deny wins.
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_role(RoleName="Hidden", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_user_policy(UserName="nobody", PolicyName="rights", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:GetRole", "iam:DeleteRole"], "Resource": f"arn:aws:iam::{account}:role/{ROLE}"},
            {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*"},
        ],
    }))
    assert denied_iam.get_role(RoleName=ROLE)["Role"]["RoleName"] == ROLE
    expect(denied_iam, "ClientError", "AccessDenied", 403, denied_iam.get_role, RoleName="Hidden")
    r = expect(denied_iam, "ClientError", "AccessDenied", 403, denied_iam.delete_role, RoleName=ROLE)
    assert "with an explicit deny" in r["Error"]["Message"]
    assert [x["RoleName"] for x in iam.list_roles()["Roles"]] == [ROLE, "Hidden"]
    assert iam.list_users()["Users"][0]["UserName"] == "nobody"


# -- STS -----------------------------------------------------------------------------------------


def test_get_caller_identity_root_and_user_with_aws_cli(server, iam):
    root = server.aws("sts", "get-caller-identity")
    account = root["Account"]
    assert len(account) == 12 and account.isdigit()
    assert root == {"UserId": account, "Account": account, "Arn": f"arn:aws:iam::{account}:root"}

    creds = user_with_key(iam, "henry")
    user = server.aws("sts", "get-caller-identity", creds=creds)
    assert user["Arn"] == f"arn:aws:iam::{account}:user/henry"
    assert user["UserId"] == iam.get_user(UserName="henry")["User"]["UserId"]
    assert user["UserId"].startswith("AIDA") and user["Account"] == account


def test_assume_role_from_user_and_chaining(server, iam):
    account = account_of(server)
    user_arn = f"arn:aws:iam::{account}:user/ivan"
    role_arn = f"arn:aws:iam::{account}:role/Reader"
    creds = user_with_key(iam, "ivan", allow("sts:AssumeRole", role_arn))
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="Reader", AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=7200)["Role"]
    iam.put_role_policy(RoleName="Reader", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:ListRoles", "iam:GetRole"], "Resource": "*"},
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{account}:role/Chained"},
        ],
    }))

    out = server.aws("sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "ivan-session",
                     "--duration-seconds", "7200", creds=creds)
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA") and len(c["AccessKeyId"]) == 20
    assert len(c["SecretAccessKey"]) == 40 and c["SessionToken"] and c["Expiration"]
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:ivan-session",
        "Arn": f"arn:aws:sts::{account}:assumed-role/Reader/ivan-session",
    }
    session = session_creds(out)
    me = server.aws("sts", "get-caller-identity", creds=session)
    assert me == {"UserId": f"{role['RoleId']}:ivan-session", "Account": account,
                  "Arn": f"arn:aws:sts::{account}:assumed-role/Reader/ivan-session"}
    # The session can do what the role allows, and only that.
    session_iam = server.boto3_client("iam", creds=session)
    assert {x["RoleName"] for x in session_iam.list_roles()["Roles"]} == {"Reader"}
    r = expect(session_iam, "ClientError", "AccessDenied", 403, session_iam.create_role,
               RoleName="Escalate", AssumeRolePolicyDocument=json.dumps(trust))
    assert r["Error"]["Message"].startswith(f"User: arn:aws:sts::{account}:assumed-role/Reader/ivan-session is not authorized")
    proc = server.aws("iam", "create-user", "--user-name", "x", creds=session, check=False)
    assert proc.returncode != 0 and "AccessDenied" in proc.stderr

    # Role chaining: the session assumes a role that trusts Reader, for at most an hour.
    chained_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="Chained", AssumeRolePolicyDocument=json.dumps(chained_trust), MaxSessionDuration=43200)
    session_sts = server.boto3_client("sts", creds=session)
    r = expect(session_sts, "ClientError", "ValidationError", 400, session_sts.assume_role,
               RoleArn=f"arn:aws:iam::{account}:role/Chained", RoleSessionName="chain", DurationSeconds=7200)
    assert "1 hour session limit" in r["Error"]["Message"]
    chained = session_sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/Chained", RoleSessionName="chain")
    chained_id = server.boto3_client("sts", creds=session_creds(chained)).get_caller_identity()
    assert chained_id["Arn"] == f"arn:aws:sts::{account}:assumed-role/Chained/chain"
    # Deleting the role voids its sessions.
    iam.delete_role_policy(RoleName="Reader", PolicyName="read")
    iam.delete_role(RoleName="Reader")
    proc = server.aws("sts", "get-caller-identity", creds=session, check=False)
    assert proc.returncode != 0


def test_assume_role_refusals(server, iam):
    account = account_of(server)
    role_arn = f"arn:aws:iam::{account}:role/Target"
    user_arn = f"arn:aws:iam::{account}:user/judy"
    creds = user_with_key(iam, "judy", allow(["sts:AssumeRole", "sts:TagSession"], "*"))
    sts = server.boto3_client("sts", creds=creds)
    # No such role: the same AccessDenied as an untrusting one.
    missing = expect(sts, "ClientError", "AccessDenied", 403, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1")
    assert missing["Error"]["Message"] == f"User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    iam.create_role(RoleName="Target", AssumeRolePolicyDocument=json.dumps(TRUST))
    untrusted = expect(sts, "ClientError", "AccessDenied", 403, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1")
    assert untrusted["Error"]["Message"] == missing["Error"]["Message"]

    # The trust policy names judy but requires an external id.
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": ["sts:AssumeRole", "sts:TagSession"],
                                                      "Condition": {"StringEquals": {"sts:ExternalId": "fleet-42"}}}]}
    iam.update_assume_role_policy(RoleName="Target", PolicyDocument=json.dumps(trust))
    expect(sts, "ClientError", "AccessDenied", 403, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1")
    ok = sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", ExternalId="fleet-42")
    assert ok["AssumedRoleUser"]["Arn"].endswith(":assumed-role/Target/s1")
    assert "PackedPolicySize" not in ok
    # Session tags need sts:TagSession (granted here) and travel in the token: the role grants
    # iam:ListRoles only to sessions tagged team=fleet.
    iam.put_role_policy(RoleName="Target", PolicyName="tagged", PolicyDocument=json.dumps(
        allow("iam:ListRoles", Condition={"StringEquals": {"aws:PrincipalTag/team": "fleet"}})))
    tagged = sts.assume_role(RoleArn=role_arn, RoleSessionName="s2", ExternalId="fleet-42", Tags=[{"Key": "team", "Value": "fleet"}])
    assert tagged["PackedPolicySize"] >= 1
    # Tags that would not fit the session token are refused, as STS refuses an oversized
    # packed size: nothing is issued.
    big = [{"Key": f"{i:02}" + "k" * 126, "Value": "v" * 256} for i in range(50)]
    r = expect(sts, "PackedPolicyTooLargeException", "PackedPolicyTooLarge", 400, sts.assume_role,
               RoleArn=role_arn, RoleSessionName="s2", ExternalId="fleet-42", Tags=big)
    assert "Packed size of session tags exceeds the limit" in r["Error"]["Message"]
    # Under the budget, many tags are fine.
    many = sts.assume_role(RoleArn=role_arn, RoleSessionName="s2", ExternalId="fleet-42",
                           Tags=[{"Key": f"k{i:02}", "Value": "v" * 20} for i in range(50)])
    assert many["PackedPolicySize"] >= 1
    assert [x["RoleName"] for x in server.boto3_client("iam", creds=session_creds(tagged)).list_roles()["Roles"]] == ["Target"]
    untagged_iam = server.boto3_client("iam", creds=session_creds(ok))
    expect(untagged_iam, "ClientError", "AccessDenied", 403, untagged_iam.list_roles)
    # Without sts:TagSession in the trust policy, tags are refused (untagged sessions still work).
    no_tags = json.loads(json.dumps(trust))
    no_tags["Statement"][0]["Action"] = "sts:AssumeRole"
    iam.update_assume_role_policy(RoleName="Target", PolicyDocument=json.dumps(no_tags))
    expect(sts, "ClientError", "AccessDenied", 403, sts.assume_role, RoleArn=role_arn, RoleSessionName="s3",
           ExternalId="fleet-42", Tags=[{"Key": "team", "Value": "fleet"}])
    assert sts.assume_role(RoleArn=role_arn, RoleSessionName="s3", ExternalId="fleet-42")["Credentials"]
    iam.delete_role_policy(RoleName="Target", PolicyName="tagged")

    # Without the identity permission: AccessDenied worded for the identity policy.
    iam.delete_user_policy(UserName="judy", PolicyName="rights")
    r = expect(sts, "ClientError", "AccessDenied", 403, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1", ExternalId="fleet-42")
    assert "because no identity-based policy allows the sts:AssumeRole action" in r["Error"]["Message"]

    # Input errors (as root, which passes the identity check; the trust policy does not name root).
    root_sts = server.boto3_client("sts")
    expect(root_sts, "ClientError", "AccessDenied", 403, root_sts.assume_role, RoleArn=role_arn, RoleSessionName="root")
    iam.update_assume_role_policy(RoleName="Target", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}]}))
    assert root_sts.assume_role(RoleArn=role_arn, RoleSessionName="root")["Credentials"]["AccessKeyId"].startswith("ASIA")
    r = expect(root_sts, "ClientError", "ValidationError", 400, root_sts.assume_role,
               RoleArn=role_arn, RoleSessionName="root", DurationSeconds=7200)
    assert r["Error"]["Message"] == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    r = expect(root_sts, "ClientError", "ValidationError", 400, root_sts.assume_role, RoleArn=role_arn, RoleSessionName="bad name")
    assert "at 'roleSessionName'" in r["Error"]["Message"]
    r = expect(root_sts, "ClientError", "ValidationError", 400, root_sts.assume_role,
               RoleArn=role_arn, RoleSessionName="root", Policy=json.dumps(allow("s3:*")))
    assert "session policies" in r["Error"]["Message"]
    expect(root_sts, "ClientError", "ValidationError", 400, root_sts.assume_role,
           RoleArn=role_arn, RoleSessionName="root", PolicyArns=[{"arn": f"arn:aws:iam::{account}:policy/P"}])
    expect(root_sts, "ClientError", "ValidationError", 400, root_sts.assume_role,
           RoleArn=f"arn:aws:iam::{account}:user/judy", RoleSessionName="root")


def test_transitive_session_tags_follow_the_role_chain(server, iam):
    """AWS's role-chaining example (IAM User Guide, "Chaining roles with session tags"): tags made
    transitive pass on to the sessions a session assumes, stay transitive, and cannot be
    overridden; the others stop at the first session."""
    account = account_of(server)
    judy = user_with_key(iam, "judy", allow(["sts:AssumeRole", "sts:TagSession"]))
    user_arn = f"arn:aws:iam::{account}:user/judy"

    def trust(principal, actions):
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": actions}]})

    # What each session may do tells which tags it carries: iam:ListRoles needs Star=1 and
    # Heart=1, iam:ListUsers needs a Sun tag.
    tagged = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/Star": "1", "aws:PrincipalTag/Heart": "1"}}},
        {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
         "Condition": {"Null": {"aws:PrincipalTag/Sun": "false"}}},
    ]}
    arns = {}
    for name, principal, actions in [("Role1", user_arn, ["sts:AssumeRole", "sts:TagSession"]),
                                     ("Role2", f"arn:aws:iam::{account}:role/Role1", "sts:AssumeRole"),
                                     ("Role3", f"arn:aws:iam::{account}:role/Role2", ["sts:AssumeRole", "sts:TagSession"])]:
        arns[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(principal, actions))["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="tagged", PolicyDocument=json.dumps(tagged))

    def can(creds, action):
        client = server.boto3_client("iam", creds=creds)
        try:
            getattr(client, action)()
            return True
        except ClientError as e:
            assert e.response["Error"]["Code"] == "AccessDenied", e.response
            return False

    # Session 1, with aws-cli: Star and Heart transitive, Sun not.
    first = server.aws("sts", "assume-role", "--role-arn", arns["Role1"], "--role-session-name", "Session1",
                       "--tags", "Key=Star,Value=1", "Key=Heart,Value=1", "Key=Sun,Value=1",
                       "--transitive-tag-keys", "Star", "Heart", creds=judy)
    s1 = session_creds(first)
    assert can(s1, "list_roles") and can(s1, "list_users")

    # Session 2: no tags passed (and Role2's trust has no sts:TagSession): Star and Heart are
    # inherited, Sun is not.
    s1_sts = server.boto3_client("sts", creds=s1)
    second = s1_sts.assume_role(RoleArn=arns["Role2"], RoleSessionName="Session2")
    s2 = session_creds(second)
    assert can(s2, "list_roles") and not can(s2, "list_users")
    assert second["PackedPolicySize"] >= 1

    # Session 3: an inherited transitive tag cannot be overridden; the chain keeps them.
    s2_sts = server.boto3_client("sts", creds=s2)
    r = expect(s2_sts, "ClientError", "ValidationError", 400, s2_sts.assume_role, RoleArn=arns["Role3"],
               RoleSessionName="Session3", Tags=[{"Key": "heart", "Value": "3"}])
    assert "transitive tag" in r["Error"]["Message"]
    third = s2_sts.assume_role(RoleArn=arns["Role3"], RoleSessionName="Session3", Tags=[{"Key": "Sun", "Value": "3"}])
    s3 = session_creds(third)
    assert can(s3, "list_roles") and can(s3, "list_users")

    # TransitiveTagKeys must name tags of the request; they need sts:TagSession like tags do.
    judy_sts = server.boto3_client("sts", creds=judy)
    r = expect(judy_sts, "ClientError", "ValidationError", 400, judy_sts.assume_role, RoleArn=arns["Role1"],
               RoleSessionName="s4", Tags=[{"Key": "Star", "Value": "1"}], TransitiveTagKeys=["Moon"])
    assert "not the key of a session tag" in r["Error"]["Message"]
    expect(s1_sts, "ClientError", "AccessDenied", 403, s1_sts.assume_role, RoleArn=arns["Role2"],
           RoleSessionName="s5", Tags=[{"Key": "Moon", "Value": "1"}], TransitiveTagKeys=["Moon"])


def test_device_session_from_the_credentials_endpoint(server, tmp_path, iam):
    """The seed device: credentials from the credentials endpoint, then STS and IAM with them."""
    probe = server.aws("iot", "describe-endpoint", "--endpoint-type", "iot:CredentialProvider", check=False)
    if probe.returncode != 0 and "notimplemented" in probe.stderr.replace(" ", "").lower():
        pytest.skip("the IoT control plane is not available in this build yet")
    assert probe.returncode == 0, probe.stderr
    account = account_of(server)
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=ROLE, PolicyName="ADCTestS3", PolicyDocument=json.dumps(S3_POLICY))
    keys = server.aws("iot", "create-keys-and-certificate", "--set-as-active",
                      "--certificate-pem-outfile", "cert.pem", "--private-key-outfile", "private.key", cwd=tmp_path)
    alias = server.aws("iot", "create-role-alias", "--role-alias", "ADCTestRoleAlias",
                       "--role-arn", f"arn:aws:iam::{account}:role/{ROLE}")
    server.aws("iot", "create-policy", "--policy-name", "ADCTestPolicy", "--policy-document", json.dumps(
        {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "iot:AssumeRoleWithCertificate", "Resource": alias["roleAliasArn"]}}))
    server.aws("iot", "create-thing", "--thing-name", "ADCTestThing")
    server.aws("iot", "attach-policy", "--policy-name", "ADCTestPolicy", "--target", keys["certificateArn"])
    server.aws("iot", "attach-thing-principal", "--thing-name", "ADCTestThing", "--principal", keys["certificateArn"])
    status, _, body = server.curl_credentials(tmp_path / "cert.pem", tmp_path / "private.key", "ADCTestRoleAlias", "ADCTestThing")
    assert status == 200, body
    c = json.loads(body)["credentials"]
    device = {"AccessKeyId": c["accessKeyId"], "SecretAccessKey": c["secretAccessKey"], "SessionToken": c["sessionToken"]}

    cert_id = keys["certificateId"]
    role_id = iam.get_role(RoleName=ROLE)["Role"]["RoleId"]
    me = server.aws("sts", "get-caller-identity", creds=device)
    assert me == {"UserId": f"{role_id}:{cert_id}", "Account": account,
                  "Arn": f"arn:aws:sts::{account}:assumed-role/{ROLE}/{cert_id}"}
    proc = server.aws("iam", "create-role", "--role-name", "DeviceMade",
                      "--assume-role-policy-document", json.dumps(TRUST), creds=device, check=False)
    assert proc.returncode != 0 and "AccessDenied" in proc.stderr
    assert (f"User: arn:aws:sts::{account}:assumed-role/{ROLE}/{cert_id} is not authorized to perform: "
            f"iam:CreateRole on resource: arn:aws:iam::{account}:role/DeviceMade because no identity-based "
            "policy allows the iam:CreateRole action") in proc.stderr
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == [ROLE]
