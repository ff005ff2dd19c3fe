"""A role alias's session-tag mapping (issue 15, an iotcreds extension): facts about the device
become the session tags of its credentials, so one role serves a fleet with
`${aws:PrincipalTag/site}` in its policy. Set with the iotcreds CLI (`role-alias update
--session-tag`), read back with it, credentials fetched with curl --cert/--key, objects read with
boto3.

- Two things of the fleet, at two sites, each read only their site's prefix through one role and
  one alias; changing a thing's attribute changes what its next credentials allow (the
  credentials already issued keep the tag they were sealed with, as AWS session tags do).
- The certificate id and the thing name are sources too.
- A mapping needs sts:TagSession in the role's trust policy; a value that is not a valid tag
  value refuses the issuance with a clear error (never a silently dropped tag); bad mappings are
  refused by the CLI and by the API.
"""

import json

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import BUCKET, REGION
from seed import TRUST, device_credentials, seed_with_aws_cli

TAGGING_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{**TRUST["Statement"][0], "Action": ["sts:AssumeRole", "sts:TagSession"]}],
}
PER_SITE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/${{aws:PrincipalTag/site}}/*"},
        {"Effect": "Allow", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{BUCKET}/devices/${{aws:PrincipalTag/device}}/${{aws:PrincipalTag/cert}}.txt"},
    ],
}
MAPPING = [
    "site=iot:Connection.Thing.Attributes[site]",
    "device=iot:Connection.Thing.ThingName",
    "cert=credentials-iot:AwsCertificateId",
]


def set_site(server, thing, site):
    server.aws("iot", "update-thing", "--thing-name", thing, "--attribute-payload",
               json.dumps({"attributes": {"site": site}}))


def second_thing(server, device, workdir, name):
    workdir.mkdir()
    server.aws("iot", "create-thing", "--thing-name", name)
    cert = server.aws("iot", "create-keys-and-certificate", "--set-as-active", "--certificate-pem-outfile",
                      "cert.pem", "--private-key-outfile", "private.key", cwd=str(workdir))
    server.aws("iot", "attach-policy", "--policy-name", "ADCTestPolicy", "--target", cert["certificateArn"])
    server.aws("iot", "attach-thing-principal", "--thing-name", name, "--principal", cert["certificateArn"])
    return {**device, "cert": workdir / "cert.pem", "key": workdir / "private.key", "thing": name,
            "certificate_id": cert["certificateId"]}


def reads(server, creds, key):
    s3 = server.boto3_client("s3", creds=creds)
    try:
        return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied", e.response
        return None


@pytest.fixture
def fleet(server, tmp_path):
    server.aws("iam", "create-role", "--role-name", "ADCTestRole", "--assume-role-policy-document",
               json.dumps(TAGGING_TRUST))
    server.aws("iam", "put-role-policy", "--role-name", "ADCTestRole", "--policy-name", "PerSite",
               "--policy-document", json.dumps(PER_SITE))
    device = seed_with_aws_cli(server, tmp_path / "setup", role_policy=PER_SITE, create_role=False)
    other = second_thing(server, device, tmp_path / "other", "ADCTestThing-2")
    set_site(server, device["thing"], "osaka")
    set_site(server, other["thing"], "kyoto")
    admin = server.boto3_client("s3")
    admin.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    for key in ["osaka/line.txt", "kyoto/line.txt"]:
        admin.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    for d in (device, other):
        key = f"devices/{d['thing']}/{d['certificate_id']}.txt"
        admin.put_object(Bucket=BUCKET, Key=key, Body=d["thing"].encode())
    server.iotcreds("role-alias", "update", "ADCTestRoleAlias",
                    *[a for m in MAPPING for a in ("--session-tag", m)])
    return server, device, other


def test_one_role_serves_each_device_its_own_site(fleet):
    server, device, other = fleet
    described = json.loads(server.iotcreds("role-alias", "describe", "ADCTestRoleAlias", "--output", "json").stdout)
    assert described["roleAliasDescription"]["iotcredsSessionTags"] == {
        "cert": "credentials-iot:AwsCertificateId",
        "device": "iot:Connection.Thing.ThingName",
        "site": "iot:Connection.Thing.Attributes[site]",
    }
    osaka = device_credentials(server, device)
    kyoto = device_credentials(server, other)
    assert reads(server, osaka, "osaka/line.txt") == b"osaka/line.txt"
    assert reads(server, osaka, "kyoto/line.txt") is None
    assert reads(server, kyoto, "kyoto/line.txt") == b"kyoto/line.txt"
    assert reads(server, kyoto, "osaka/line.txt") is None
    # The thing name and the certificate id: each device reads its own file only.
    own = f"devices/{device['thing']}/{device['certificate_id']}.txt"
    theirs = f"devices/{other['thing']}/{other['certificate_id']}.txt"
    assert reads(server, osaka, own) == device["thing"].encode()
    assert reads(server, osaka, theirs) is None
    assert reads(server, kyoto, theirs) == other["thing"].encode()

    # The device moves: its next credentials follow; those already issued keep their tag.
    set_site(server, device["thing"], "kyoto")
    moved = device_credentials(server, device)
    assert reads(server, moved, "kyoto/line.txt") == b"kyoto/line.txt"
    assert reads(server, moved, "osaka/line.txt") is None
    assert reads(server, osaka, "osaka/line.txt") == b"osaka/line.txt"

    # Without a thing name, no thing facts: no site tag, so no site is readable.
    status, _, body = server.curl_credentials(device["cert"], device["key"], device["alias"])
    assert status == 200, body
    c = json.loads(body)["credentials"]
    anonymous_thing = {"AccessKeyId": c["accessKeyId"], "SecretAccessKey": c["secretAccessKey"],
                       "SessionToken": c["sessionToken"]}
    assert reads(server, anonymous_thing, "kyoto/line.txt") is None

    # Removing the mapping brings back the thing's attributes as its tags (site only).
    server.iotcreds("role-alias", "update", "ADCTestRoleAlias", "--no-session-tags")
    plain = device_credentials(server, device)
    assert reads(server, plain, "kyoto/line.txt") == b"kyoto/line.txt"
    assert reads(server, plain, own) is None


def test_refusals_are_clear_and_change_nothing(fleet, tmp_path):
    server, device, _ = fleet
    # A value that is no tag value: the issuance is refused, not issued without the tag.
    set_site(server, device["thing"], "osaka#2")
    status, headers, body = server.curl_credentials(device["cert"], device["key"], device["alias"], device["thing"])
    assert status == 400, body
    assert headers["x-amzn-errortype"] == "InvalidRequestException"
    assert json.loads(body) == {"message": "The session tags of the role alias cannot be issued for this device"}
    server.wait_for_audit(lambda events: any(
        e.get("event") == "credentials" and e.get("decision") == "deny"
        and "session tags" in e.get("reason", "") and "'site'" in e.get("reason", "") for e in events))
    set_site(server, device["thing"], "osaka")
    assert device_credentials(server, device)

    # Bad mappings: refused by the CLI before sending, and by the API.
    for bad in ["site=somewhere", "aws:site=iot:Connection.Thing.ThingName", "site"]:
        proc = server.iotcreds("role-alias", "update", "ADCTestRoleAlias", "--session-tag", bad, check=False)
        assert proc.returncode != 0 and "--session-tag" in proc.stderr, proc.stderr
    url = f"{server.api_url}/role-aliases/ADCTestRoleAlias"
    body = json.dumps({"iotcredsSessionTags": {"site": "iot:Connection.Thing.Attributes[si te]"}})
    req = AWSRequest(method="PUT", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(server.admin["AccessKeyId"], server.admin["SecretAccessKey"]), "iot", REGION).add_auth(req)
    r = requests.put(url, data=body, headers=dict(req.headers.items()), timeout=30)
    assert r.status_code == 400, r.text
    assert r.headers["x-amzn-ErrorType"].startswith("InvalidRequestException"), r.headers
    assert "iotcredsSessionTags" in r.json()["message"]
    described = json.loads(server.iotcreds("role-alias", "describe", "ADCTestRoleAlias", "--output", "json").stdout)
    assert described["roleAliasDescription"]["iotcredsSessionTags"]["site"] == "iot:Connection.Thing.Attributes[site]"

    # A mapping needs sts:TagSession in the trust policy.
    server.aws("iam", "update-assume-role-policy", "--role-name", "ADCTestRole", "--policy-document", json.dumps(TRUST))
    status, _, body = server.curl_credentials(device["cert"], device["key"], device["alias"], device["thing"])
    assert status == 400, body
    assert json.loads(body) == {"message": "Unable to assume the role, or the role to assume does not exist"}
    server.wait_for_audit(lambda events: any(
        e.get("event") == "credentials" and "sts:TagSession" in e.get("reason", "") for e in events))
