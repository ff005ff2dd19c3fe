"""Permissions boundaries of users and roles (CreateUser/CreateRole `PermissionsBoundary`,
Put/DeleteUserPermissionsBoundary, Put/DeleteRolePermissionsBoundary) as the IAM API reference
states them, with boto3 and aws-cli. Evaluation intersects the boundary with the identity
policies (IAM's policy evaluation logic): a user or role session allowed `*` by its own policy
may do only what the boundary also allows, from the next request on. `iam:PermissionsBoundary`
lets an administrator create users only under a given boundary."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import BUCKET, REGION

USER = "ADCTestOperator"
ROLE = "ADCTestRole"
BOUNDARY = "ADCTestBoundary"
EVERYTHING = json.dumps({"Version": "2012-10-17",
                         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
READ_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "sts:AssumeRole", "iam:GetUser"],
     "Resource": "*"}]})


def err(e):
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def denied(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return err(e)[1] == 403 and err(e)[0] in ("AccessDenied", "AccessDeniedException")


@pytest.fixture
def world(server, iam):
    """A bucket with one object, the read-only boundary, and ADCTestOperator allowed `*` by its
    own policy but bounded by it."""
    server.boto3_client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    server.boto3_client("s3").put_object(Bucket=BUCKET, Key="test.txt", Body=b"hello")
    boundary = iam.create_policy(PolicyName=BOUNDARY, PolicyDocument=READ_ONLY)["Policy"]["Arn"]
    iam.create_user(UserName=USER, PermissionsBoundary=boundary)
    iam.put_user_policy(UserName=USER, PolicyName="everything", PolicyDocument=EVERYTHING)
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    creds = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    return boundary, creds


def test_a_users_boundary_limits_it_at_once(server, iam, world):
    boundary, creds = world
    got = iam.get_user(UserName=USER)["User"]
    assert got["PermissionsBoundary"] == {"PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                                          "PermissionsBoundaryArn": boundary}
    assert "PermissionsBoundary" not in iam.list_users()["Users"][0], "ListUsers leaves it out, as IAM does"
    s3 = server.boto3_client("s3", creds=creds)
    assert s3.get_object(Bucket=BUCKET, Key="test.txt")["Body"].read() == b"hello"
    assert denied(s3.put_object, Bucket=BUCKET, Key="new.txt", Body=b"x")
    assert denied(server.boto3_client("iam", creds=creds).list_users)

    # Lifted, the user's own policy applies in full from the next request on; set again, bounded.
    server.aws("iam", "delete-user-permissions-boundary", "--user-name", USER, check=True)
    assert "PermissionsBoundary" not in iam.get_user(UserName=USER)["User"]
    s3.put_object(Bucket=BUCKET, Key="new.txt", Body=b"x")
    iam.put_user_permissions_boundary(UserName=USER.lower(), PermissionsBoundary=boundary)
    assert denied(s3.put_object, Bucket=BUCKET, Key="newer.txt", Body=b"x")
    assert iam.get_user(UserName=USER)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary

    # The boundary policy shows among the policies used as boundaries.
    used = iam.list_policies(Scope="Local", PolicyUsageFilter="PermissionsBoundary")["Policies"]
    assert [p["Arn"] for p in used] == [boundary]
    # A new default version of the boundary takes effect at once too.
    iam.create_policy_version(PolicyArn=boundary, PolicyDocument=EVERYTHING, SetAsDefault=True)
    s3.put_object(Bucket=BUCKET, Key="newest.txt", Body=b"x")


def test_a_roles_boundary_limits_its_sessions_at_once(server, iam, world):
    boundary, creds = world
    account = server.boto3_client("sts").get_caller_identity()["Account"]
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/{USER}"},
                       "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName=ROLE, PolicyName="everything", PolicyDocument=EVERYTHING)
    session = server.boto3_client("sts", creds=creds).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="boundary-test")["Credentials"]
    s3 = server.boto3_client("s3", creds=session)
    s3.put_object(Bucket=BUCKET, Key="by-role.txt", Body=b"x")

    iam.put_role_permissions_boundary(RoleName=ROLE, PermissionsBoundary=boundary)
    assert iam.get_role(RoleName=ROLE)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    assert denied(s3.put_object, Bucket=BUCKET, Key="by-role-2.txt", Body=b"x")
    assert s3.get_object(Bucket=BUCKET, Key="by-role.txt")["Body"].read() == b"x"
    server.aws("iam", "delete-role-permissions-boundary", "--role-name", ROLE, check=True)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=ROLE)["Role"]
    s3.put_object(Bucket=BUCKET, Key="by-role-2.txt", Body=b"x")


def test_delegated_administrators_create_only_bounded_users(server, iam, world):
    boundary, _ = world
    other = iam.create_policy(PolicyName="OtherBoundary", PolicyDocument=EVERYTHING)["Policy"]["Arn"]
    iam.create_user(UserName="ADCTestAdmin")
    iam.put_user_policy(UserName="ADCTestAdmin", PolicyName="delegated", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow",
                       "Action": ["iam:CreateUser", "iam:PutUserPermissionsBoundary"],
                       "Resource": "*",
                       "Condition": {"StringEquals": {"iam:PermissionsBoundary": boundary}}},
                      {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="ADCTestAdmin")["AccessKey"]
    admin = server.boto3_client("iam", creds={"AccessKeyId": key["AccessKeyId"],
                                              "SecretAccessKey": key["SecretAccessKey"]})
    assert denied(admin.create_user, UserName="Unbounded")
    assert denied(admin.create_user, UserName="Unbounded", PermissionsBoundary=other)
    admin.create_user(UserName="Bounded", PermissionsBoundary=boundary)
    assert admin.get_user(UserName="Bounded")["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    assert denied(admin.put_user_permissions_boundary, UserName="Bounded", PermissionsBoundary=other)
    assert denied(admin.delete_user_permissions_boundary, UserName="Bounded")
    assert iam.get_user(UserName="Bounded")["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName="Unbounded")
    assert err(e) == ("NoSuchEntity", 404), "a refused create changes nothing"


def test_bad_boundaries_are_refused_and_change_nothing(server, iam, world):
    boundary, _ = world
    missing = boundary.replace(BOUNDARY, "NoSuchPolicy")
    for call, kwargs in [
        (iam.put_user_permissions_boundary, {"UserName": USER, "PermissionsBoundary": missing}),
        (iam.create_user, {"UserName": "Nobody", "PermissionsBoundary": missing}),
        (iam.create_role, {"RoleName": "Nobody", "PermissionsBoundary": missing,
                           "AssumeRolePolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": [
                               {"Effect": "Allow", "Principal": {"Service": "credentials.iot.amazonaws.com"},
                                "Action": "sts:AssumeRole"}]})}),
    ]:
        with pytest.raises(ClientError) as e:
            call(**kwargs)
        assert err(e) == ("InvalidInput", 400), kwargs
        assert e.value.response["Error"]["Message"] == f"Scope ARN: {missing} does not exist or is not attachable."
    assert iam.get_user(UserName=USER)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    for call, kwargs in [
        (iam.put_user_permissions_boundary, {"UserName": "Nobody", "PermissionsBoundary": boundary}),
        (iam.delete_user_permissions_boundary, {"UserName": "Nobody"}),
        (iam.put_role_permissions_boundary, {"RoleName": "Nobody", "PermissionsBoundary": boundary}),
        (iam.delete_role_permissions_boundary, {"RoleName": "Nobody"}),
    ]:
        with pytest.raises(ClientError) as e:
            call(**kwargs)
        assert err(e) == ("NoSuchEntity", 404), kwargs
    # Not a managed policy at all: the same refusal.
    with pytest.raises(ClientError) as e:
        iam.put_user_permissions_boundary(UserName=USER, PermissionsBoundary=f"arn:aws:s3:::{BUCKET}")
    assert err(e) == ("InvalidInput", 400)
    assert iam.get_user(UserName=USER)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
