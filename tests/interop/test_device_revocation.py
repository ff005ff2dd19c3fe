"""Per-device revocation of credentials already issued (beyond AWS, whose credentials provider can
revoke only role-wide): once the device's certificate is no longer ACTIVE, is deleted, or is
detached from the thing named at issuance, the temporary credentials it obtained are refused on
the service endpoint (S3 through boto3, STS through aws-cli) from the next request on, with the
answer AWS gives an invalidated session token and an audit line naming the reason."""

import json

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import BUCKET
from seed import device_credentials, make_bucket_with_test_file, seed_with_aws_cli


def s3_get(server, creds):
    s3 = server.boto3_client("s3", creds=creds)
    return s3.get_object(Bucket=BUCKET, Key="test.txt")["Body"].read()


def refused(server, creds):
    """Whether S3 and STS both refuse `creds` as an invalid token."""
    with pytest.raises(ClientError) as e:
        s3_get(server, creds)
    s3_code = e.value.response["Error"]["Code"]
    proc = server.aws("sts", "get-caller-identity", creds=creds, check=False)
    return s3_code == "InvalidToken" and proc.returncode != 0 and "InvalidClientTokenId" in proc.stderr


def audited(server, match):
    """Wait for an authentication refusal of a device session that `match`es."""
    server.wait_for_audit(lambda events: any(
        e.get("event") == "authenticate" and e.get("decision") == "deny" and match(e) for e in events))


def test_sessions_end_with_their_certificate_or_thing_attachment(server, tmp_path):
    device = seed_with_aws_cli(server, tmp_path / "setup")
    content = make_bucket_with_test_file(server, tmp_path)
    creds = device_credentials(server, device)
    assert s3_get(server, creds) == content
    iot = server.boto3_client("iot")
    cert_id = device["certificate_id"]

    # INACTIVE: the session is refused at once, with the reason in the audit log.
    iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE")
    assert refused(server, creds)
    audited(server, lambda e: e.get("certificate_id") == cert_id and "INACTIVE" in e.get("reason", ""))
    # While it is not ACTIVE it stays refused; ACTIVE again, the unexpired session is honoured.
    iot.update_certificate(certificateId=cert_id, newStatus="ACTIVE")
    assert s3_get(server, creds) == content

    # Detached from the thing named at issuance: refused; credentials issued without a thing
    # name are not about the thing, and keep working.
    status, _, body = server.curl_credentials(device["cert"], device["key"], device["alias"])
    assert status == 200, body
    c = json.loads(body)["credentials"]
    thingless = {"AccessKeyId": c["accessKeyId"], "SecretAccessKey": c["secretAccessKey"],
                 "SessionToken": c["sessionToken"]}
    iot.detach_thing_principal(thingName=device["thing"], principal=device["certificate_arn"])
    assert refused(server, creds)
    audited(server, lambda e: "detached from thing ADCTestThing" in e.get("reason", ""))
    assert s3_get(server, thingless) == content

    # Deleted: every session of the certificate is refused.
    iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE")
    iot.detach_policy(policyName="ADCTestPolicy", target=device["certificate_arn"])
    iot.delete_certificate(certificateId=cert_id)
    assert refused(server, thingless)
    audited(server, lambda e: "deleted" in e.get("reason", ""))

    # The administrator's and STS sessions are not device sessions: untouched.
    assert s3_get(server, None) == content


def test_revoke_a_things_sessions_with_the_cli_and_boto3(server, tmp_path):
    """`iotcreds thing revoke-sessions` (RevokeThingSessions, an iotcreds extension): the sessions issued to the thing
    before the time are refused; sessions issued after it work; the time never moves back and
    is never in the future; the right to do it is iot:RevokeThingSessions on the thing."""
    device = seed_with_aws_cli(server, tmp_path / "setup")
    content = make_bucket_with_test_file(server, tmp_path)
    old = device_credentials(server, device)
    assert s3_get(server, old) == content

    out = server.iotcreds("thing", "revoke-sessions", device["thing"], "--output", "json")
    answer = json.loads(out.stdout)
    assert answer["thingName"] == device["thing"] and answer["revokedBefore"] > 0
    assert refused(server, old)
    audited(server, lambda e: "sessions of thing ADCTestThing issued before" in e.get("reason", ""))
    new = device_credentials(server, device)
    assert s3_get(server, new) == content, "credentials issued afterwards are honoured"

    # An earlier time changes nothing (the new session stays valid); a future time is refused.
    iot = server.boto3_client("iot")
    earlier = server.iotcreds("thing", "revoke-sessions", device["thing"], "--before", "2020-08-26T00:00:00Z",
                              "--output", "json")
    assert json.loads(earlier.stdout)["revokedBefore"] == answer["revokedBefore"]
    assert s3_get(server, new) == content
    proc = server.iotcreds("thing", "revoke-sessions", device["thing"], "--before", "2999-01-01T00:00:00Z", check=False)
    assert proc.returncode != 0 and "future" in proc.stderr
    proc = server.iotcreds("thing", "revoke-sessions", "NoSuchThing", check=False)
    assert proc.returncode != 0 and "ResourceNotFoundException" in proc.stderr

    # Authorised on the thing: a user allowed only another thing is refused, nothing changes.
    iam = server.boto3_client("iam")
    iam.create_user(UserName="ADCTestOperator")
    account = server.boto3_client("sts").get_caller_identity()["Account"]
    iam.put_user_policy(UserName="ADCTestOperator", PolicyName="revoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:RevokeThingSessions",
                       "Resource": f"arn:aws:iot:{iot.meta.region_name}:{account}:thing/OtherThing"}]}))
    key = iam.create_access_key(UserName="ADCTestOperator")["AccessKey"]
    operator = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    # aws-cli has no such command (AWS has no such operation): a SigV4-signed request, as the
    # iotcreds CLI sends it.
    url = f"{server.api_url}/things/{device['thing']}/revoke-sessions"
    req = AWSRequest(method="POST", url=url, data=b"{}", headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(operator["AccessKeyId"], operator["SecretAccessKey"]), "iot", iot.meta.region_name).add_auth(req)
    r = requests.post(url, data=b"{}", headers=dict(req.headers), timeout=10)
    assert r.status_code == 403 and r.headers["x-amzn-ErrorType"].startswith("AccessDeniedException"), r.text
    assert s3_get(server, new) == content
