"""Every paginated operation iotcreds serves, IoT and IAM, through boto3's own paginator one item
per page: each item comes once, in the order one unpaged call gives, and the pages chain with the
tokens botocore's paginator model names (nextToken/nextMarker/Marker + IsTruncated); the largest
page size the model allows is accepted and one more refused.

The operations are botocore's paginators for the services intersected with what iotcreds serves
(docs/compatibility.md, generated from the server's tables): a paginated operation served without
a row below fails `test_every_served_paginated_operation_has_a_row`."""

import json
import re

import botocore.session
from botocore.exceptions import ClientError
import pytest

from conftest import REPO, Server
from test_ca_crl import OpensslCa

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "credentials.iot.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
S3_READ = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::adc-test-2020-08-26/*"}]}
IOT_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:AssumeRoleWithCertificate", "Resource": "*"}]}
ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
TAGS = [{"Key": f"site-{i}", "Value": "north"} for i in range(3)]


def three(base):
    return [base, f"{base}-2", f"{base}-3"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three of everything each list operation lists, in the seed's names."""
    tmp = tmp_path_factory.mktemp("pagination")
    server = Server(tmp / "data")
    iot, iam = server.boto3_client("iot"), server.boto3_client("iam")
    w = {"server": server, "iot": iot, "iam": iam}

    # IAM: roles, users and managed policies (the first of each tagged), policy versions,
    # attachments, inline policies, access keys.
    roles = [iam.create_role(RoleName=r, AssumeRolePolicyDocument=json.dumps(TRUST),
                             **({"Tags": TAGS} if r == "ADCTestRole" else {}))["Role"]
             for r in three("ADCTestRole")]
    for u in three("ADCTestUser"):
        iam.create_user(UserName=u, **({"Tags": TAGS} if u == "ADCTestUser" else {}))
    policies = [iam.create_policy(PolicyName=p, PolicyDocument=json.dumps(S3_READ),
                                  **({"Tags": TAGS} if p == "ADCTestS3Read" else {}))["Policy"]["Arn"]
                for p in three("ADCTestS3Read")]
    for _ in range(2):
        iam.create_policy_version(PolicyArn=policies[0], PolicyDocument=json.dumps(S3_READ))
    for arn in policies:
        iam.attach_role_policy(RoleName="ADCTestRole", PolicyArn=arn)
        iam.attach_user_policy(UserName="ADCTestUser", PolicyArn=arn)
    for name in three("Inline"):
        iam.put_role_policy(RoleName="ADCTestRole", PolicyName=name, PolicyDocument=json.dumps(S3_READ))
        iam.put_user_policy(UserName="ADCTestUser", PolicyName=name, PolicyDocument=json.dumps(S3_READ))
    for _ in range(2):  # IAM's limit per user
        iam.create_access_key(UserName="ADCTestUser")
    w.update(role_arn=roles[0]["Arn"], policy_arn=policies[0])

    # IoT: things, thing types, policies, role aliases (the first tagged), certificates and
    # their attachments both ways, CA certificates and certificates registered under one.
    for t in three("ADCTestThing"):
        iot.create_thing(thingName=t)
    for t in three("ADCTestThingType"):
        iot.create_thing_type(thingTypeName=t)
    for p in three("ADCTestPolicy"):
        iot.create_policy(policyName=p, policyDocument=json.dumps(IOT_POLICY))
    aliases = [iot.create_role_alias(roleAlias=a, roleArn=roles[0]["Arn"])["roleAliasArn"]
               for a in three("ADCTestRoleAlias")]
    iot.tag_resource(resourceArn=aliases[0], tags=TAGS)
    certs = [iot.create_keys_and_certificate(setAsActive=True)["certificateArn"] for _ in range(3)]
    for arn in certs:
        iot.attach_policy(policyName="ADCTestPolicy", target=arn)
        iot.attach_thing_principal(thingName="ADCTestThing", principal=arn)
    for p in three("ADCTestPolicy")[1:]:
        iot.attach_policy(policyName=p, target=certs[0])
    for t in three("ADCTestThing")[1:]:
        iot.attach_thing_principal(thingName=t, principal=certs[0])
    cas = []
    for n in range(3):
        ca = OpensslCa(tmp / f"ca{n}", name=f"ADCTestFleetCA{n}")
        code = iot.get_registration_code()["registrationCode"]
        verification, _ = ca.issue(code)
        cas.append(iot.register_ca_certificate(
            caCertificate=ca.pem, verificationCertificate=verification.read_text(),
            setAsActive=True)["certificateId"])
        if n == 0:
            for device in three("ADCTestDevice"):
                cert, _ = ca.issue(device)
                iot.register_certificate(certificatePem=cert.read_text(), setAsActive=True)
    w.update(alias_arn=aliases[0], cert_arn=certs[0], ca_id=cas[0])
    yield w
    server.stop()


# operation → (service, its arguments from the world, the least number of items it must list)
ROWS = {
    ("iot", "ListThings"): (lambda w: {}, 3),
    ("iot", "ListThingTypes"): (lambda w: {}, 3),
    ("iot", "ListPolicies"): (lambda w: {}, 3),
    ("iot", "ListRoleAliases"): (lambda w: {}, 3),
    ("iot", "ListCertificates"): (lambda w: {}, 6),
    ("iot", "ListCACertificates"): (lambda w: {}, 3),
    ("iot", "ListCertificatesByCA"): (lambda w: {"caCertificateId": w["ca_id"]}, 3),
    ("iot", "ListTargetsForPolicy"): (lambda w: {"policyName": "ADCTestPolicy"}, 3),
    ("iot", "ListPolicyPrincipals"): (lambda w: {"policyName": "ADCTestPolicy"}, 3),
    ("iot", "ListAttachedPolicies"): (lambda w: {"target": w["cert_arn"]}, 3),
    ("iot", "ListPrincipalPolicies"): (lambda w: {"principal": w["cert_arn"]}, 3),
    ("iot", "ListPrincipalThings"): (lambda w: {"principal": w["cert_arn"]}, 3),
    ("iot", "ListPrincipalThingsV2"): (lambda w: {"principal": w["cert_arn"]}, 3),
    ("iot", "ListThingPrincipals"): (lambda w: {"thingName": "ADCTestThing"}, 3),
    ("iot", "ListThingPrincipalsV2"): (lambda w: {"thingName": "ADCTestThing"}, 3),
    ("iot", "ListTagsForResource"): (lambda w: {"resourceArn": w["alias_arn"]}, 3),
    ("iam", "ListRoles"): (lambda w: {}, 3),
    ("iam", "ListUsers"): (lambda w: {}, 3),
    ("iam", "ListPolicies"): (lambda w: {"Scope": "Local"}, 3),
    ("iam", "ListPolicyVersions"): (lambda w: {"PolicyArn": w["policy_arn"]}, 3),
    ("iam", "ListAttachedRolePolicies"): (lambda w: {"RoleName": "ADCTestRole"}, 3),
    ("iam", "ListAttachedUserPolicies"): (lambda w: {"UserName": "ADCTestUser"}, 3),
    ("iam", "ListRolePolicies"): (lambda w: {"RoleName": "ADCTestRole"}, 3),
    ("iam", "ListUserPolicies"): (lambda w: {"UserName": "ADCTestUser"}, 3),
    ("iam", "ListAccessKeys"): (lambda w: {"UserName": "ADCTestUser"}, 2),
    ("iam", "ListRoleTags"): (lambda w: {"RoleName": "ADCTestRole"}, 3),
    ("iam", "ListUserTags"): (lambda w: {"UserName": "ADCTestUser"}, 3),
    ("iam", "ListPolicyTags"): (lambda w: {"PolicyArn": w["policy_arn"]}, 3),
    ("iam", "GetAccountAuthorizationDetails"): (lambda w: {}, 9),
    ("iam", "SimulatePrincipalPolicy"): (lambda w: {"PolicySourceArn": w["role_arn"], "ActionNames": ACTIONS}, 3),
    ("iam", "SimulateCustomPolicy"): (lambda w: {"PolicyInputList": [json.dumps(S3_READ)], "ActionNames": ACTIONS}, 3),
}


def served_paginated():
    session = botocore.session.get_session()
    doc = (REPO / "docs" / "compatibility.md").read_text()
    out = set()
    for service, title in [("iot", "AWS IoT (control plane)"), ("iam", "IAM")]:
        section = doc.split(f"## {title}\n")[1].split("\n## ")[0]
        served = set(re.findall(r"^\| `([A-Za-z0-9]+)`", section, re.M))
        paginators = session.get_paginator_model(service)._paginator_config
        out |= {(service, op) for op in paginators if op in served}
    return out


def test_every_served_paginated_operation_has_a_row():
    assert served_paginated() == set(ROWS)


def items(config, page):
    keys = config["result_key"] if isinstance(config["result_key"], list) else [config["result_key"]]
    return [x for k in keys for x in page.get(k, [])]


@pytest.mark.parametrize("service,op", sorted(ROWS), ids=lambda v: v)
def test_one_item_per_page_visits_each_item_once_in_order(world, service, op):
    args, least = ROWS[(service, op)]
    kwargs = args(world)
    client = world[service]
    name = {api: method for method, api in client.meta.method_to_api_mapping.items()}[op]
    config = botocore.session.get_session().get_paginator_model(service)._paginator_config[op]
    unpaged = items(config, getattr(client, name)(**kwargs))
    assert len(unpaged) >= least, unpaged
    paginator = client.get_paginator(name)
    if config.get("limit_key"):
        pages = list(paginator.paginate(**kwargs, PaginationConfig={"PageSize": 1}))
        assert all(len(items(config, p)) <= 1 for p in pages), pages
        assert len(pages) >= len(unpaged)
    else:  # no page size to ask for: one page, no token
        pages = list(paginator.paginate(**kwargs))
    paged = [x for p in pages for x in items(config, p)]
    assert paged == unpaged


def with_page_size():
    session = botocore.session.get_session()
    return sorted(row for row in ROWS
                  if session.get_paginator_model(row[0])._paginator_config[row[1]].get("limit_key"))


@pytest.mark.parametrize("service,op", with_page_size(), ids=lambda v: v)
def test_page_sizes_are_bounded_as_the_model_bounds_them(world, service, op):
    """The page size botocore's model allows at most is accepted; one more is refused (400)."""
    config = botocore.session.get_session().get_paginator_model(service)._paginator_config[op]
    limit = config["limit_key"]
    client = world[service]
    shape = client.meta.service_model.operation_model(op).input_shape.members[limit]
    most = shape.metadata["max"]
    name = {api: method for method, api in client.meta.method_to_api_mapping.items()}[op]
    kwargs = ROWS[(service, op)][0](world)
    assert items(config, getattr(client, name)(**kwargs, **{limit: most}))
    with pytest.raises(ClientError) as e:
        getattr(client, name)(**kwargs, **{limit: most + 1})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.value.response
