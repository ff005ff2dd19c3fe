"""IoT tags (TagResource, UntagResource, ListTagsForResource, and `tags` at creation) as the
AWS IoT API reference states them, through boto3 (its own ListTagsForResource paginator) and
aws-cli. The taggable resources are those AWS IoT tags and this server keeps: CA certificates,
IoT policies, role aliases and thing types; things and device certificates carry none.

Every decision is made on the resource the ARN names in this account and region; tagging is
authorised with `aws:RequestTag`, `aws:TagKeys` and `aws:ResourceTag`, and every refusal
changes nothing."""

import json

import pytest
from botocore.exceptions import ClientError

from test_iot_control import Ca

POLICY = "ADCTestPolicy"
ALIAS = "ADCTestRoleAlias"
ROLE = "ADCTestRole"
THING = "ADCTestThing"
THING_TYPE = "ADCTestThingType"
DOC = json.dumps({"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]})


def err(e):
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def tags_of(iot, arn):
    return [t for p in iot.get_paginator("list_tags_for_resource").paginate(resourceArn=arn) for t in p["tags"]]


@pytest.fixture
def seeded(server, iot, iam):
    """The seed's IoT resources, each created with tags, and a CA registered in SNI_ONLY mode."""
    account = server.boto3_client("sts").get_caller_identity()["Account"]
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "credentials.iot.amazonaws.com"},
                       "Action": "sts:AssumeRole"}]}))
    arns = {
        "policy": iot.create_policy(policyName=POLICY, policyDocument=DOC,
                                    tags=[{"Key": "site", "Value": "tokyo"}])["policyArn"],
        "rolealias": iot.create_role_alias(roleAlias=ALIAS, roleArn=f"arn:aws:iam::{account}:role/{ROLE}",
                                           tags=[{"Key": "site", "Value": "tokyo"}])["roleAliasArn"],
        "thingtype": iot.create_thing_type(thingTypeName=THING_TYPE,
                                           tags=[{"Key": "site", "Value": "tokyo"}])["thingTypeArn"],
        "cacert": iot.register_ca_certificate(caCertificate=Ca().pem, certificateMode="SNI_ONLY",
                                              tags=[{"Key": "site", "Value": "tokyo"}])["certificateArn"],
    }
    return account, arns


def test_tags_given_at_creation_then_added_replaced_removed(server, iot, seeded):
    _, arns = seeded
    for kind, arn in arns.items():
        assert tags_of(iot, arn) == [{"Key": "site", "Value": "tokyo"}], kind
        iot.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "dev"}, {"Key": "site", "Value": "osaka"}])
        assert tags_of(iot, arn) == [{"Key": "env", "Value": "dev"}, {"Key": "site", "Value": "osaka"}], kind
        iot.untag_resource(resourceArn=arn, tagKeys=["env", "absent"])
        assert tags_of(iot, arn) == [{"Key": "site", "Value": "osaka"}], kind
    # aws-cli speaks the same operations.
    arn = arns["rolealias"]
    server.aws("iot", "tag-resource", "--resource-arn", arn, "--tags", "Key=cost,Value=1")
    out = server.aws("iot", "list-tags-for-resource", "--resource-arn", arn)
    assert out["tags"] == [{"Key": "cost", "Value": "1"}, {"Key": "site", "Value": "osaka"}]
    server.aws("iot", "untag-resource", "--resource-arn", arn, "--tag-keys", "cost", "site")
    assert server.aws("iot", "list-tags-for-resource", "--resource-arn", arn)["tags"] == []

    # Deleting a resource deletes its tags: made again, it has none.
    iot.delete_policy(policyName=POLICY)
    iot.create_policy(policyName=POLICY, policyDocument=DOC)
    assert tags_of(iot, arns["policy"]) == []


def test_limits_and_bad_input_change_nothing(iot, seeded):
    account, arns = seeded
    arn = arns["thingtype"]
    iot.tag_resource(resourceArn=arn, tags=[{"Key": f"k{i:02}", "Value": "v"} for i in range(49)])
    assert len(tags_of(iot, arn)) == 50
    with pytest.raises(ClientError) as e:
        iot.tag_resource(resourceArn=arn, tags=[{"Key": "one-more", "Value": "v"}])
    assert err(e) == ("LimitExceededException", 410)
    assert len(tags_of(iot, arn)) == 50, "a refused call changes nothing"
    iot.tag_resource(resourceArn=arn, tags=[{"Key": "k00", "Value": "replaced"}])  # replacing is not adding
    assert tags_of(iot, arn)[0] == {"Key": "k00", "Value": "replaced"}

    with pytest.raises(ClientError) as e:
        iot.create_policy(policyName="TooManyTags", policyDocument=DOC,
                          tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert err(e) == ("InvalidRequestException", 400)
    with pytest.raises(ClientError) as e:
        iot.get_policy(policyName="TooManyTags")
    assert err(e) == ("ResourceNotFoundException", 404)

    bad = [
        # Malformed, another service, another partition.
        ("not-an-arn", "InvalidRequestException"),
        (arn.replace(":iot:", ":iam:"), "InvalidRequestException"),
        (arn.replace("arn:aws:", "arn:aws-cn:"), "InvalidRequestException"),
        # Things and device certificates carry no tags.
        (arn.replace(f"thingtype/{THING_TYPE}", f"thing/{THING}"), "InvalidRequestException"),
        (arn.replace(f"thingtype/{THING_TYPE}", "cert/" + "a" * 64), "InvalidRequestException"),
        # Names are case-sensitive; other accounts and regions hold nothing here.
        (arn.replace(THING_TYPE, THING_TYPE.lower()), "ResourceNotFoundException"),
        (arn.replace(account, "000000000000"), "ResourceNotFoundException"),
        (arn.replace(iot.meta.region_name, "us-east-1"), "ResourceNotFoundException"),
        # An invalid name or id.
        (arn + "/", "InvalidRequestException"),
        (arns["cacert"][:-1] + "x", "InvalidRequestException"),
    ]
    for spelled, want in bad:
        with pytest.raises(ClientError) as e:
            iot.tag_resource(resourceArn=spelled, tags=[{"Key": "x", "Value": "y"}])
        assert err(e)[0] == want, spelled
        with pytest.raises(ClientError) as e:
            iot.list_tags_for_resource(resourceArn=spelled)
        assert err(e)[0] == want, spelled
    # A CA id is hexadecimal in any case; it names the same CA.
    cacert = arns["cacert"]
    head, cid = cacert.rsplit("/", 1)
    assert tags_of(iot, f"{head}/{cid.upper()}") == tags_of(iot, cacert)
    with pytest.raises(ClientError) as e:
        iot.tag_resource(resourceArn=arn, tags=[{"Key": "bad key!", "Value": "v"}])
    assert err(e)[0] == "InvalidRequestException"
    with pytest.raises(ClientError) as e:
        iot.tag_resource(resourceArn=arn, tags=[{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}])
    assert err(e)[0] == "InvalidRequestException"
    assert len(tags_of(iot, arn)) == 50 and tags_of(iot, arn)[0]["Value"] == "replaced"


def test_tagging_is_authorised_with_tag_condition_keys(server, iot, iam, seeded):
    """An operator may tag only resources tagged site=tokyo, only with an env tag, and never
    remove the site tag."""
    _, arns = seeded
    iam.create_user(UserName="ADCTestOperator")
    key = iam.create_access_key(UserName="ADCTestOperator")["AccessKey"]
    iam.put_user_policy(UserName="ADCTestOperator", PolicyName="tagging", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:ListTagsForResource", "Resource": "*"},
            {"Effect": "Allow", "Action": "iot:TagResource", "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/site": "tokyo"},
                           "ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}},
            {"Effect": "Allow", "Action": "iot:UntagResource", "Resource": "*",
             "Condition": {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["site"]}}},
        ]}))
    op = server.boto3_client("iot", creds={"AccessKeyId": key["AccessKeyId"],
                                           "SecretAccessKey": key["SecretAccessKey"]})
    alias, policy = arns["rolealias"], arns["policy"]
    iot.tag_resource(resourceArn=policy, tags=[{"Key": "site", "Value": "osaka"}])

    op.tag_resource(resourceArn=alias, tags=[{"Key": "env", "Value": "dev"}])
    assert tags_of(op, alias) == [{"Key": "env", "Value": "dev"}, {"Key": "site", "Value": "tokyo"}]
    refusals = [
        (op.tag_resource, {"resourceArn": alias, "tags": [{"Key": "site", "Value": "osaka"}]}),  # a key not allowed
        (op.tag_resource, {"resourceArn": policy, "tags": [{"Key": "env", "Value": "dev"}]}),  # not a tokyo resource
        (op.untag_resource, {"resourceArn": alias, "tagKeys": ["site"]}),
    ]
    for call, kwargs in refusals:
        with pytest.raises(ClientError) as e:
            call(**kwargs)
        assert err(e) == ("AccessDeniedException", 403), kwargs
    assert tags_of(iot, alias) == [{"Key": "env", "Value": "dev"}, {"Key": "site", "Value": "tokyo"}]
    assert tags_of(iot, policy) == [{"Key": "site", "Value": "osaka"}]
    op.untag_resource(resourceArn=alias, tagKeys=["env"])
    assert tags_of(iot, alias) == [{"Key": "site", "Value": "tokyo"}]

    # Tags at creation are request tags too: creating with a forbidden tag is refused.
    iam.put_user_policy(UserName="ADCTestOperator", PolicyName="create", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:CreatePolicy", "Resource": "*",
                       "Condition": {"StringEquals": {"aws:RequestTag/site": "tokyo"}}}]}))
    with pytest.raises(ClientError) as e:
        op.create_policy(policyName="OsakaPolicy", policyDocument=DOC, tags=[{"Key": "site", "Value": "osaka"}])
    assert err(e) == ("AccessDeniedException", 403)
    op.create_policy(policyName="TokyoPolicy", policyDocument=DOC, tags=[{"Key": "site", "Value": "tokyo"}])
    with pytest.raises(ClientError) as e:
        iot.get_policy(policyName="OsakaPolicy")
    assert err(e)[0] == "ResourceNotFoundException"
