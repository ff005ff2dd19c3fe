"""IAM tags on users and managed policies (TagUser, UntagUser, ListUserTags, TagPolicy,
UntagPolicy, ListPolicyTags) as the IAM API reference states them, with boto3's own paginators
and aws-cli. A user's tags are its principal tags: tagging ADCTestOperator changes what it may read
at once (`${aws:PrincipalTag/site}` in its policy). Tagging is itself authorised with
`aws:RequestTag`, `aws:TagKeys` and `aws:ResourceTag`, and every refusal changes nothing."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import BUCKET, REGION

USER = "ADCTestOperator"
POLICY = "ADCTestPolicy"

SITE_READER = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                   "Resource": f"arn:aws:s3:::{BUCKET}/${{aws:PrincipalTag/site}}/*"}],
}


def code(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_user_tags_page_and_round_trip(server, iam):
    iam.create_user(UserName=USER, Tags=[{"Key": "team", "Value": "fleet"}])
    iam.tag_user(UserName=USER.lower(), Tags=[{"Key": "site", "Value": "tokyo"}, {"Key": "env", "Value": "dev"}])
    iam.tag_user(UserName=USER, Tags=[{"Key": "site", "Value": "osaka"}])  # replaces by key
    want = [{"Key": "env", "Value": "dev"}, {"Key": "site", "Value": "osaka"}, {"Key": "team", "Value": "fleet"}]
    assert iam.list_user_tags(UserName=USER)["Tags"] == want
    assert iam.get_user(UserName=USER)["User"]["Tags"] == want
    pages = list(iam.get_paginator("list_user_tags").paginate(UserName=USER, PaginationConfig={"PageSize": 2}))
    assert [len(p["Tags"]) for p in pages] == [2, 1]
    assert [t for p in pages for t in p["Tags"]] == want
    iam.untag_user(UserName=USER, TagKeys=["env", "absent"])
    assert [t["Key"] for t in iam.list_user_tags(UserName=USER)["Tags"]] == ["site", "team"]
    # aws-cli speaks the same operations.
    server.aws("iam", "tag-user", "--user-name", USER, "--tags", "Key=cost,Value=1")
    out = server.aws("iam", "list-user-tags", "--user-name", USER)
    assert [t["Key"] for t in out["Tags"]] == ["cost", "site", "team"]

    with pytest.raises(ClientError) as e:
        iam.tag_user(UserName="Nobody", Tags=[{"Key": "a", "Value": "b"}])
    assert code(e) == ("NoSuchEntity", "The user with name Nobody cannot be found.")
    with pytest.raises(ClientError) as e:
        iam.tag_user(UserName=USER, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(48)])
    assert code(e) == ("LimitExceeded", "Cannot exceed quota for TagsPerUser: 50")
    assert len(iam.list_user_tags(UserName=USER)["Tags"]) == 3, "a refused call changes nothing"
    with pytest.raises(ClientError) as e:
        iam.tag_user(UserName=USER, Tags=[])
    assert e.value.response["Error"]["Code"] == "ValidationError"


def test_policy_tags_page_and_round_trip(server, iam):
    arn = iam.create_policy(PolicyName=POLICY, PolicyDocument=json.dumps(SITE_READER),
                            Tags=[{"Key": "team", "Value": "fleet"}])["Policy"]["Arn"]
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "site", "Value": "tokyo"}])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "site", "Value": "tokyo"},
                                                           {"Key": "team", "Value": "fleet"}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Tags"] == iam.list_policy_tags(PolicyArn=arn)["Tags"]
    pages = list(iam.get_paginator("list_policy_tags").paginate(PolicyArn=arn, PaginationConfig={"PageSize": 1}))
    assert [p["Tags"][0]["Key"] for p in pages] == ["site", "team"]
    server.aws("iam", "untag-policy", "--policy-arn", arn, "--tag-keys", "team")
    assert server.aws("iam", "list-policy-tags", "--policy-arn", arn)["Tags"] == [{"Key": "site", "Value": "tokyo"}]
    with pytest.raises(ClientError) as e:
        iam.tag_policy(PolicyArn=arn.replace(POLICY, "Nobody"), Tags=[{"Key": "a", "Value": "b"}])
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.tag_policy(PolicyArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert code(e) == ("LimitExceeded", "Cannot exceed quota for TagsPerPolicy: 50")


def test_a_users_tags_are_its_principal_tags_at_once(server, iam):
    """Tagging ADCTestOperator site=tokyo lets it read tokyo/*; retagging it osaka moves it."""
    admin_s3 = server.boto3_client("s3")
    admin_s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    for site in ("tokyo", "osaka"):
        admin_s3.put_object(Bucket=BUCKET, Key=f"{site}/reading.txt", Body=site.encode())
    iam.create_user(UserName=USER)
    iam.put_user_policy(UserName=USER, PolicyName="site", PolicyDocument=json.dumps(SITE_READER))
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    s3 = server.boto3_client("s3", creds={"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]})

    def reads(site):
        try:
            return s3.get_object(Bucket=BUCKET, Key=f"{site}/reading.txt")["Body"].read() == site.encode()
        except ClientError as e:
            assert e.response["Error"]["Code"] == "AccessDenied"
            return False

    assert (reads("tokyo"), reads("osaka")) == (False, False)  # no tag: the variable has no value
    iam.tag_user(UserName=USER, Tags=[{"Key": "site", "Value": "tokyo"}])
    assert (reads("tokyo"), reads("osaka")) == (True, False)
    iam.tag_user(UserName=USER, Tags=[{"Key": "site", "Value": "osaka"}])
    assert (reads("tokyo"), reads("osaka")) == (False, True)
    iam.untag_user(UserName=USER, TagKeys=["site"])
    assert (reads("tokyo"), reads("osaka")) == (False, False)


def test_tagging_is_authorised_on_request_and_resource_tags(server, iam):
    """A tagger may set only `site` tags with value tokyo or osaka, and only on users of its team."""
    tagger_policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Action": ["iam:TagUser", "iam:UntagUser", "iam:ListUserTags"], "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/team": "fleet"},
                          "ForAllValues:StringEquals": {"aws:TagKeys": ["site"]}},
        }, {
            "Effect": "Deny", "Action": "iam:TagUser", "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestTag/site": ["tokyo", "osaka"]}},
        }],
    }
    iam.create_user(UserName="ADCTestTagger")
    iam.put_user_policy(UserName="ADCTestTagger", PolicyName="tagging", PolicyDocument=json.dumps(tagger_policy))
    key = iam.create_access_key(UserName="ADCTestTagger")["AccessKey"]
    tagger = server.boto3_client("iam", creds={"AccessKeyId": key["AccessKeyId"],
                                               "SecretAccessKey": key["SecretAccessKey"]})
    iam.create_user(UserName=USER, Tags=[{"Key": "team", "Value": "fleet"}])
    iam.create_user(UserName="ADCTestOutsider", Tags=[{"Key": "team", "Value": "other"}])

    tagger.tag_user(UserName=USER, Tags=[{"Key": "site", "Value": "tokyo"}])
    refused = [
        lambda: tagger.tag_user(UserName=USER, Tags=[{"Key": "site", "Value": "paris"}]),  # value
        lambda: tagger.tag_user(UserName=USER, Tags=[{"Key": "team", "Value": "fleet"}]),  # key
        lambda: tagger.tag_user(UserName="ADCTestOutsider", Tags=[{"Key": "site", "Value": "tokyo"}]),  # resource
        lambda: tagger.untag_user(UserName=USER, TagKeys=["team"]),  # key
    ]
    for call in refused:
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert iam.list_user_tags(UserName=USER)["Tags"] == [{"Key": "site", "Value": "tokyo"},
                                                         {"Key": "team", "Value": "fleet"}]
    assert iam.list_user_tags(UserName="ADCTestOutsider")["Tags"] == [{"Key": "team", "Value": "other"}]
