"""IAM UpdateUser (NewUserName, NewPath) and GetAccessKeyLastUsed as the IAM API reference
states them, with boto3 and aws-cli: a renamed user keeps its id, access keys, policies and tags,
and its keys sign as the new ARN from the next request on. As IAM requires, renaming needs
`iam:UpdateUser` on the user as it is and as it will be; every refusal changes nothing. A key's
last use is the latest request it signed that was verified, kept across restarts."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import Server

USER = "ADCTestOperator"


def err(e):
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def creds_of(key):
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}


def test_rename_and_move_keep_keys_policies_and_tags(server, iam):
    created = iam.create_user(UserName=USER, Tags=[{"Key": "site", "Value": "tokyo"}])["User"]
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    iam.put_user_policy(UserName=USER, PolicyName="self", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]}))
    sts = server.boto3_client("sts", creds=creds_of(key))
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{USER}")

    iam.update_user(UserName=USER.lower(), NewUserName="ADCTestDevice", NewPath="/fleet/")
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=USER)
    assert err(e) == ("NoSuchEntity", 404)
    moved = iam.get_user(UserName="ADCTestDevice")["User"]
    assert (moved["UserId"], moved["Path"], moved["Arn"]) == (
        created["UserId"], "/fleet/", created["Arn"].replace(f"user/{USER}", "user/fleet/ADCTestDevice"))
    assert moved["Tags"] == [{"Key": "site", "Value": "tokyo"}]
    assert iam.list_user_policies(UserName="ADCTestDevice")["PolicyNames"] == ["self"]
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="ADCTestDevice")["AccessKeyMetadata"]] \
        == [key["AccessKeyId"]]
    # The same key now signs as the new user, and keeps its rights.
    assert sts.get_caller_identity()["Arn"] == moved["Arn"]
    assert server.boto3_client("iam", creds=creds_of(key)).get_user()["User"]["UserName"] == "ADCTestDevice"

    # aws-cli: back to the root path.
    server.aws("iam", "update-user", "--user-name", "ADCTestDevice", "--new-path", "/")
    assert iam.get_user(UserName="ADCTestDevice")["User"]["Path"] == "/"


def test_refusals_change_nothing(server, iam):
    iam.create_user(UserName=USER)
    iam.create_user(UserName="Taken")
    with pytest.raises(ClientError) as e:
        iam.update_user(UserName=USER, NewUserName="TAKEN")
    assert err(e) == ("EntityAlreadyExists", 409)
    with pytest.raises(ClientError) as e:
        iam.update_user(UserName="Nobody", NewUserName="Other")
    assert err(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.update_user(UserName=USER, NewPath="no-slashes")
    assert err(e)[1] == 400
    assert sorted(u["UserName"] for u in iam.list_users()["Users"]) == [USER, "Taken"]

    # Allowed to update ADCTestOperator, but not to make it anything else: refused, unchanged.
    iam.create_user(UserName="ADCTestAdmin")
    account = server.boto3_client("sts").get_caller_identity()["Account"]
    iam.put_user_policy(UserName="ADCTestAdmin", PolicyName="rename", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:UpdateUser",
                       "Resource": f"arn:aws:iam::{account}:user/{USER}"}]}))
    admin = server.boto3_client("iam", creds=creds_of(iam.create_access_key(UserName="ADCTestAdmin")["AccessKey"]))
    with pytest.raises(ClientError) as e:
        admin.update_user(UserName=USER, NewUserName="Renamed")
    assert err(e) == ("AccessDenied", 403)
    assert "user/Renamed" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        admin.update_user(UserName=USER, NewPath="/fleet/")
    assert err(e) == ("AccessDenied", 403)
    assert iam.get_user(UserName=USER)["User"]["Path"] == "/"
    admin.update_user(UserName=USER, NewUserName=USER)  # the same ARN before and after


def test_access_key_last_used(server, iam):
    """GetAccessKeyLastUsed: N/A until the key signs a verified request; then the time, the
    service and the region of its latest use; a badly signed request is not a use; only a caller
    allowed on the key's owner may ask."""
    iam.create_user(UserName=USER)
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    fresh = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert fresh["UserName"] == USER
    assert fresh["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}

    # A request with the right key id and a wrong secret is refused and is not a use.
    wrong = server.boto3_client("sts", creds={"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": "x" * 40})
    with pytest.raises(ClientError):
        wrong.get_caller_identity()
    assert iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]["ServiceName"] == "N/A"

    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    server.boto3_client("sts", creds=creds_of(key)).get_caller_identity()
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert (used["ServiceName"], used["Region"]) == ("sts", server.boto3_client("sts").meta.region_name)
    assert used["LastUsedDate"] >= before
    # The user may not ask about its own key without the right; an absent key is NoSuchEntity.
    with pytest.raises(ClientError) as e:
        server.boto3_client("iam", creds=creds_of(key)).get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert err(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        iam.get_access_key_last_used(AccessKeyId="AKIAIOSFODNN7EXAMPLE")
    assert err(e) == ("NoSuchEntity", 404)
    # An S3 request (denied by policy, but signed correctly) is the latest use.
    with pytest.raises(ClientError):
        server.boto3_client("s3", creds=creds_of(key)).list_buckets()
    out = server.aws("iam", "get-access-key-last-used", "--access-key-id", key["AccessKeyId"])
    assert out["AccessKeyLastUsed"]["ServiceName"] == "s3"
    # Written to the registry: a new server on the same data directory knows it (the last
    # uses are written at shutdown at the latest).
    assert server.stop() == 0
    again = Server(server.data_dir)
    try:
        kept = again.boto3_client("iam").get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
        assert kept["AccessKeyLastUsed"]["ServiceName"] == "s3"
        assert kept["AccessKeyLastUsed"]["LastUsedDate"] >= used["LastUsedDate"]
    finally:
        again.stop()

