"""Decisions are made on the resource acted on, never on the caller's spelling of it.

The attack of issue 12, item 1, with the real clients: a user allowed `sts:AssumeRole` on `*`
but explicitly denied it on `arn:aws:iam::ACCT:role/AdminRole` asks for AdminRole by other
spellings of its ARN (`role/adminrole`, `role/ADMINROLE`, percent-encoded) with aws-cli and
boto3. Each is refused with AccessDenied naming the role's own ARN, the audit line names it
too, no credentials are issued, and so `iam:CreateUser` with AdminRole's rights never happens.
The same class through `iam:PassRole` (a role alias pointing at AdminRole by another spelling)
and through IAM names (`GetRole` on a lower-case name) is refused the same way.
"""

import json

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ADMIN_ROLE = "AdminRole"


def _allow(action, resource="*"):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def _deny(action, resource):
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def _doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def world(server):
    """AdminRole (full rights, trusting two users), `mallory` (denied AdminRole explicitly) and
    `alice` (no deny: the control that proves AdminRole's credentials would be worth having)."""
    iam = server.boto3_client("iam")
    account = server.boto3_client("sts").get_caller_identity()["Account"]
    admin_arn = f"arn:aws:iam::{account}:role/{ADMIN_ROLE}"
    users = {}
    for name in ("mallory", "alice"):
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        users[name] = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    trust = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{account}:user/mallory", f"arn:aws:iam::{account}:user/alice"]},
            "Action": "sts:AssumeRole",
        }],
    }
    iam.create_role(RoleName=ADMIN_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=ADMIN_ROLE, PolicyName="admin", PolicyDocument=_doc(_allow("*")))
    iam.put_user_policy(
        UserName="mallory", PolicyName="rights",
        PolicyDocument=_doc(
            _allow(["sts:AssumeRole", "iot:CreateRoleAlias", "iam:PassRole", "iam:GetRole"]),
            _deny("sts:AssumeRole", admin_arn),
            _deny("iam:PassRole", admin_arn),
            _deny("iam:GetRole", admin_arn),
        ),
    )
    iam.put_user_policy(UserName="alice", PolicyName="rights", PolicyDocument=_doc(_allow("sts:AssumeRole")))
    return {"iam": iam, "account": account, "admin_arn": admin_arn, "users": users}


def _spellings(admin_arn):
    head = admin_arn.rsplit("/", 1)[0]
    return [admin_arn, f"{head}/adminrole", f"{head}/ADMINROLE", f"{head}/aDMINrOLE"]


def _users(iam):
    return sorted(u["UserName"] for u in iam.list_users()["Users"])


def test_assume_role_by_another_spelling_is_refused_with_aws_cli(server, world):
    admin_arn, mallory = world["admin_arn"], world["users"]["mallory"]
    users_before = _users(world["iam"])
    for spelled in _spellings(admin_arn):
        proc = server.aws(
            "sts", "assume-role", "--role-arn", spelled, "--role-session-name", "attack",
            creds=mallory, check=False,
        )
        assert proc.returncode != 0, f"{spelled}: {proc.stdout}"
        assert "AccessDenied" in proc.stderr, proc.stderr
        # The refusal names the role's own ARN, whatever the spelling.
        assert f"sts:AssumeRole on resource: {admin_arn} " in proc.stderr, proc.stderr
    # Audited with the canonical ARN, once per attempt.
    def denials(events):
        return [e for e in events if e.get("event") == "authorize" and e.get("action") == "sts:AssumeRole"]

    audited = denials(server.wait_for_audit(lambda evs: len(denials(evs)) >= 4))
    assert [e["resource"] for e in audited] == [admin_arn] * len(audited), audited
    assert all(e["decision"] != "allow" and e["principal"].endswith(":user/mallory") for e in audited), audited
    # Nothing was issued, so nothing was created with AdminRole's rights.
    assert _users(world["iam"]) == users_before


def test_assume_role_by_another_spelling_is_refused_with_boto3(server, world):
    admin_arn = world["admin_arn"]
    sts = server.boto3_client("sts", creds=world["users"]["mallory"])
    for spelled in _spellings(admin_arn):
        with pytest.raises(sts.exceptions.ClientError) as info:
            sts.assume_role(RoleArn=spelled, RoleSessionName="attack")
        err = info.value.response
        assert err["Error"]["Code"] == "AccessDenied", err
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert f"on resource: {admin_arn} " in err["Error"]["Message"], err

    # The same, percent-encoded in the form body (decoded once by the query protocol).
    head = admin_arn.rsplit("/", 1)[0]
    encoded = "".join(f"%{b:02X}" for b in f"{head}/adminrole".encode())
    body = f"Action=AssumeRole&Version=2011-06-15&RoleSessionName=attack&RoleArn={encoded}"
    url = f"{server.api_url}/"
    req = AWSRequest(method="POST", url=url, data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    m = world["users"]["mallory"]
    SigV4Auth(Credentials(m["AccessKeyId"], m["SecretAccessKey"]), "sts", "us-east-1").add_auth(req)
    r = requests.post(url, data=body, headers=dict(req.headers), timeout=30)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, r.text
    assert f"on resource: {admin_arn} " in r.text


def test_the_control_user_gets_admin_rights_only_by_the_exact_arn(server, world):
    """Without the deny, AdminRole's credentials do create users: the refusals above matter.
    STS role names are case-sensitive, so even this user gets nothing for another spelling."""
    admin_arn, alice = world["admin_arn"], world["users"]["alice"]
    sts = server.boto3_client("sts", creds=alice)
    for spelled in _spellings(admin_arn)[1:]:
        with pytest.raises(sts.exceptions.ClientError) as info:
            sts.assume_role(RoleArn=spelled, RoleSessionName="control")
        assert info.value.response["Error"]["Code"] == "AccessDenied"
    assumed = server.aws(
        "sts", "assume-role", "--role-arn", admin_arn, "--role-session-name", "control", creds=alice,
    )
    assert assumed["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{ADMIN_ROLE}/control")
    c = assumed["Credentials"]
    session = {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"], "SessionToken": c["SessionToken"]}
    server.aws("iam", "create-user", "--user-name", "made-by-admin", creds=session)
    assert "made-by-admin" in _users(world["iam"])


def test_pass_role_and_iam_names_decide_on_the_role_itself(server, world):
    admin_arn, mallory = world["admin_arn"], world["users"]["mallory"]
    iot = server.boto3_client("iot", creds=mallory)
    for spelled in _spellings(admin_arn):
        with pytest.raises(iot.exceptions.ClientError) as info:
            iot.create_role_alias(roleAlias="sneaky", roleArn=spelled)
        err = info.value.response["Error"]
        assert err["Code"] == "AccessDeniedException", err
        assert f"iam:PassRole on resource: {admin_arn} " in err["Message"], err
    assert server.boto3_client("iot").list_role_aliases()["roleAliases"] == []

    iam = server.boto3_client("iam", creds=mallory)
    for name in (ADMIN_ROLE, "adminrole", "ADMINROLE"):
        with pytest.raises(iam.exceptions.ClientError) as info:
            iam.get_role(RoleName=name)
        err = info.value.response["Error"]
        assert err["Code"] == "AccessDenied", err
        assert f"iam:GetRole on resource: {admin_arn} " in err["Message"], err
