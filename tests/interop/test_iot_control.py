"""The AWS IoT control plane (rest-json) driven by aws-cli v1 and boto3.

Every operation of the seed administrator and of certificate, policy, thing and role-alias
management goes through a real client; each error class is checked as botocore parses it
(exception class, code, HTTP status), together with the fact that the refused call changed
nothing. Certificates made by `create-keys-and-certificate`, from a CSR, by a registered CA and
without a CA are presented to the credentials endpoint with curl.
"""

import datetime
import json

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import REGION

THING = "ADCTestThing"
ROLE = "ADCTestRole"
ALIAS = "ADCTestRoleAlias"
POLICY = "ADCTestPolicy"
TRUST = {
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Allow",
        "Principal": {"Service": "credentials.iot.amazonaws.com"},
        "Action": "sts:AssumeRole",
    },
}
ROLE_MISSING = "Unable to assume the role, or the role to assume does not exist"


# -- helpers -------------------------------------------------------------------------------


def account_of(arn):
    return arn.split(":")[4]


def assume_policy(alias_arn):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "iot:AssumeRoleWithCertificate", "Resource": alias_arn},
    })


def connect_policy(n=0):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"arn:aws:iot:{REGION}:*:client/c{n}"},
    })


def expect(iot, exception, code, status, call, **kwargs):
    """Call and assert botocore raised `exception` with `code` and HTTP `status`."""
    exc_class = getattr(iot.exceptions, exception)
    with pytest.raises(exc_class) as info:
        call(**kwargs)
    response = info.value.response
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert response["Error"]["Message"]
    return response


def write_files(tmp_path, name, cert_pem, key_pem):
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert.write_text(cert_pem)
    key.write_text(key_pem)
    return cert, key


# -- a small PKI, with `cryptography` -------------------------------------------------------


def _name(cn, org="iotcreds interop"):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])


def _builder(subject, issuer, public_key, days=30):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
    )


class Ca:
    """A self-signed CA (P-256) that issues device and verification certificates."""

    def __init__(self, cn="Fleet CA"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            _builder(_name(cn), _name(cn), self.key.public_key(), days=365)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def issue(self, cn):
        """A device certificate: (certificate PEM, private key PEM)."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _builder(_name(cn), self.cert.subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def make_csr(cn="csr-device"):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(_name(cn)).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def cert_id(pem):
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return digest.finalize().hex()


# -- the seed flow ---------------------------------------------------------------------------


def seed_setup(server, tmp_path):
    """The seed administrator's IoT calls with aws-cli v1. Returns (account, certificate ARN)."""
    keys = server.aws(
        "iot", "create-keys-and-certificate", "--set-as-active",
        "--certificate-pem-outfile", "cert.pem", "--private-key-outfile", "private.key",
        cwd=tmp_path,
    )
    cert_arn = keys["certificateArn"]
    account = account_of(cert_arn)
    assert cert_arn == f"arn:aws:iot:{REGION}:{account}:cert/{keys['certificateId']}"
    assert keys["certificateId"] == cert_id((tmp_path / "cert.pem").read_text())
    assert (tmp_path / "private.key").read_text() == keys["keyPair"]["PrivateKey"]
    assert keys["keyPair"]["PrivateKey"].startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert keys["keyPair"]["PublicKey"].startswith("-----BEGIN PUBLIC KEY-----")

    alias = server.aws(
        "iot", "create-role-alias", "--role-alias", ALIAS,
        "--role-arn", f"arn:aws:iam::{account}:role/{ROLE}",
    )
    assert alias == {"roleAlias": ALIAS, "roleAliasArn": f"arn:aws:iot:{REGION}:{account}:rolealias/{ALIAS}"}
    policy = server.aws(
        "iot", "create-policy", "--policy-name", POLICY,
        "--policy-document", assume_policy(alias["roleAliasArn"]),
    )
    assert policy["policyVersionId"] == "1"
    assert policy["policyArn"] == f"arn:aws:iot:{REGION}:{account}:policy/{POLICY}"
    thing = server.aws("iot", "create-thing", "--thing-name", THING)
    assert thing["thingArn"] == f"arn:aws:iot:{REGION}:{account}:thing/{THING}"
    assert server.aws("iot", "attach-policy", "--policy-name", POLICY, "--target", cert_arn) is None
    assert server.aws("iot", "attach-thing-principal", "--thing-name", THING, "--principal", cert_arn) is None
    return account, cert_arn


def test_seed_setup_with_aws_cli_and_curl(server, tmp_path):
    account, cert_arn = seed_setup(server, tmp_path)
    endpoint = server.aws("iot", "describe-endpoint", "--endpoint-type", "iot:CredentialProvider")
    assert endpoint == {"endpointAddress": f"localhost:{server.credentials_port}"}

    # The files written by aws-cli authenticate with curl: certificate, thing and IoT policy
    # pass, and the refusal is the role's (no role named ADCTestRole exists in this test).
    status, headers, body = server.curl_credentials(tmp_path / "cert.pem", tmp_path / "private.key", ALIAS, THING)
    assert (status, json.loads(body)["message"]) == (400, ROLE_MISSING), body
    # A thing that is not attached is refused before the role is looked at.
    server.aws("iot", "create-thing", "--thing-name", "Other")
    status, _, body = server.curl_credentials(tmp_path / "cert.pem", tmp_path / "private.key", ALIAS, "Other")
    assert (status, json.loads(body)["message"]) == (403, "Invalid thing name passed")

    assert server.aws("iot", "list-thing-principals", "--thing-name", THING)["principals"] == [cert_arn]
    assert server.aws("iot", "list-targets-for-policy", "--policy-name", POLICY)["targets"] == [cert_arn]


def iam_ready(server):
    """Create ADCTestRole with aws-cli; skip when the IAM API is not implemented yet."""
    proc = server.aws(
        "iam", "create-role", "--role-name", ROLE,
        "--assume-role-policy-document", json.dumps(TRUST), check=False,
    )
    if proc.returncode != 0 and "notimplemented" in proc.stderr.replace(" ", "").lower():
        pytest.skip("the IAM API (iam create-role) is not available in this build yet")
    assert proc.returncode == 0, proc.stderr


def test_device_session_gets_only_what_its_role_grants(server, tmp_path, iot):
    iam_ready(server)
    account, _ = seed_setup(server, tmp_path)
    grant = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:DescribeEndpoint", "Resource": "*"},
            {"Effect": "Allow", "Action": "iot:DescribeThing",
             "Resource": f"arn:aws:iot:{REGION}:{account}:thing/${{credentials-iot:ThingName}}"},
            {"Effect": "Allow", "Action": "iot:CreateRoleAlias", "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{account}:role/Passable",
             "Condition": {"StringEquals": {"iam:PassedToService": "credentials.iot.amazonaws.com"}}},
        ],
    }
    server.aws("iam", "put-role-policy", "--role-name", ROLE, "--policy-name", "device",
               "--policy-document", json.dumps(grant))
    status, _, body = server.curl_credentials(tmp_path / "cert.pem", tmp_path / "private.key", ALIAS, THING)
    assert status == 200, body
    c = json.loads(body)["credentials"]
    device = {"AccessKeyId": c["accessKeyId"], "SecretAccessKey": c["secretAccessKey"], "SessionToken": c["sessionToken"]}

    # What the role grants works…
    assert server.aws("iot", "describe-endpoint", "--endpoint-type", "iot:CredentialProvider", creds=device)
    assert server.boto3_client("iot", creds=device).describe_thing(thingName=THING)["thingName"] == THING
    # …and nothing else: aws-cli reports AccessDeniedException, botocore raises it with 403.
    proc = server.aws("iot", "create-thing", "--thing-name", "DeviceMade", creds=device, check=False)
    assert proc.returncode != 0 and "AccessDeniedException" in proc.stderr, proc.stderr
    dev_iot = server.boto3_client("iot", creds=device)
    r = expect(dev_iot, "ClientError", "AccessDeniedException", 403, dev_iot.create_thing, thingName="DeviceMade")
    assert "iot:CreateThing" in r["Error"]["Message"]
    expect(dev_iot, "ClientError", "AccessDeniedException", 403, dev_iot.describe_thing, thingName="Other")
    # CreateRoleAlias also needs iam:PassRole on the role, for the credentials provider.
    r = expect(dev_iot, "ClientError", "AccessDeniedException", 403, dev_iot.create_role_alias,
               roleAlias="DeviceAlias", roleArn=f"arn:aws:iam::{account}:role/{ROLE}")
    assert "iam:PassRole" in r["Error"]["Message"]
    dev_iot.create_role_alias(roleAlias="Passed", roleArn=f"arn:aws:iam::{account}:role/Passable")
    # The refused calls changed nothing.
    expect(iot, "ResourceNotFoundException", "ResourceNotFoundException", 404, iot.describe_thing, thingName="DeviceMade")
    assert iot.list_role_aliases()["roleAliases"] == [ALIAS, "Passed"]


# -- endpoints and routing ------------------------------------------------------------------


def test_describe_endpoint_types(server, iot):
    cred = iot.describe_endpoint(endpointType="iot:CredentialProvider")["endpointAddress"]
    assert cred == f"localhost:{server.credentials_port}"
    data = {iot.describe_endpoint(endpointType=t)["endpointAddress"] for t in ("iot:Data-ATS", "iot:Data", "iot:Jobs")}
    assert data == {iot.describe_endpoint()["endpointAddress"]}
    r = expect(iot, "InvalidRequestException", "InvalidRequestException", 400,
               iot.describe_endpoint, endpointType="iot:Nope")
    assert "iot:Nope" in r["Error"]["Message"]


def signed(server, method, path, body=b""):
    request = AWSRequest(method=method, url=server.api_url + path, data=body)
    creds = Credentials(server.admin["AccessKeyId"], server.admin["SecretAccessKey"])
    SigV4Auth(creds, "iot", REGION).add_auth(request)
    return requests.request(method, request.url, headers=dict(request.headers), data=body, timeout=30)


def test_unknown_routes_and_methods(server):
    r = signed(server, "GET", "/no-such-thing")
    assert r.status_code == 404
    assert r.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert r.json()["message"]
    r = signed(server, "POST", "/things")
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET"
    assert r.json()["message"]
    r = signed(server, "GET", "/things")
    assert (r.status_code, r.headers["Content-Type"], r.json()) == (200, "application/json", {"things": []})


# -- things and thing types -----------------------------------------------------------------


def test_things(server, iot):
    created = iot.create_thing(thingName=THING, attributePayload={"attributes": {"model": "X1", "site": "osaka"}})
    assert created["thingArn"].endswith(f":thing/{THING}")
    # Identical configuration: the same thing again.
    again = iot.create_thing(thingName=THING, attributePayload={"attributes": {"model": "X1", "site": "osaka"}})
    assert again["thingId"] == created["thingId"]

    d = server.aws("iot", "describe-thing", "--thing-name", THING)
    assert d == {
        "defaultClientId": THING, "thingName": THING, "thingId": created["thingId"],
        "thingArn": created["thingArn"], "attributes": {"model": "X1", "site": "osaka"}, "version": 1,
    }
    # Merge: change one, remove one (empty value), add one.
    server.aws("iot", "update-thing", "--thing-name", THING,
               "--attribute-payload", '{"attributes":{"model":"X2","site":"","floor":"3"},"merge":true}')
    d = iot.describe_thing(thingName=THING)
    assert (d["attributes"], d["version"]) == ({"model": "X2", "floor": "3"}, 2)
    # Without merge the attributes are replaced.
    iot.update_thing(thingName=THING, attributePayload={"attributes": {"only": "this"}}, expectedVersion=2)
    d = iot.describe_thing(thingName=THING)
    assert (d["attributes"], d["version"]) == ({"only": "this"}, 3)
    # A thing without a type holds at most three attributes.
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400, iot.update_thing, thingName=THING,
           attributePayload={"attributes": {"a": "1", "b": "2", "c": "3"}, "merge": True})

    iot.create_thing(thingName="Second", attributePayload={"attributes": {"model": "X2"}})
    iot.create_thing(thingName="Third")
    listed = server.aws("iot", "list-things")["things"]
    assert [t["thingName"] for t in listed] == [THING, "Second", "Third"]
    assert listed[0] == {"thingName": THING, "thingArn": created["thingArn"], "attributes": {"only": "this"}, "version": 3}
    by_attr = iot.list_things(attributeName="model", attributeValue="X2")["things"]
    assert [t["thingName"] for t in by_attr] == ["Second"]
    first = iot.list_things(maxResults=1)
    assert [t["thingName"] for t in first["things"]] == [THING] and first["nextToken"]
    rest = iot.list_things(maxResults=2, nextToken=first["nextToken"])
    assert [t["thingName"] for t in rest["things"]] == ["Second", "Third"] and "nextToken" not in rest
    pages = iot.get_paginator("list_things").paginate(PaginationConfig={"PageSize": 1})
    assert [t["thingName"] for p in pages for t in p["things"]] == [THING, "Second", "Third"]

    expect(iot, "VersionConflictException", "VersionConflictException", 409,
           iot.delete_thing, thingName="Second", expectedVersion=7)
    iot.delete_thing(thingName="Second", expectedVersion=1)
    server.aws("iot", "delete-thing", "--thing-name", "Third")
    # Deleting a thing that does not exist succeeds, as AWS documents.
    iot.delete_thing(thingName="Third")
    assert [t["thingName"] for t in iot.list_things()["things"]] == [THING]


def test_thing_types(server, iot):
    t = server.aws("iot", "create-thing-type", "--thing-type-name", "Lamp",
                   "--thing-type-properties", "thingTypeDescription=A lamp,searchableAttributes=model")
    assert t["thingTypeArn"].endswith(":thingtype/Lamp") and t["thingTypeId"]
    d = iot.describe_thing_type(thingTypeName="Lamp")
    assert d["thingTypeProperties"] == {"thingTypeDescription": "A lamp", "searchableAttributes": ["model"]}
    assert d["thingTypeMetadata"]["deprecated"] is False
    assert isinstance(d["thingTypeMetadata"]["creationDate"], datetime.datetime)
    iot.create_thing_type(thingTypeName="Sensor")
    assert [x["thingTypeName"] for x in iot.list_thing_types()["thingTypes"]] == ["Lamp", "Sensor"]
    assert [x["thingTypeName"] for x in iot.list_thing_types(thingTypeName="Sensor")["thingTypes"]] == ["Sensor"]

    # Things of a type may hold up to 50 attributes; the type can be changed and removed.
    attrs = {f"a{i}": str(i) for i in range(10)}
    iot.create_thing(thingName="L1", thingTypeName="Lamp", attributePayload={"attributes": attrs})
    assert iot.describe_thing(thingName="L1")["thingTypeName"] == "Lamp"
    assert [x["thingName"] for x in iot.list_things(thingTypeName="Lamp")["things"]] == ["L1"]
    iot.update_thing(thingName="L1", thingTypeName="Sensor")
    assert iot.describe_thing(thingName="L1")["thingTypeName"] == "Sensor"
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400,
           iot.update_thing, thingName="L1", removeThingType=True)  # 10 attributes without a type
    iot.update_thing(thingName="L1", removeThingType=True, attributePayload={"attributes": {"a": "1"}})
    assert "thingTypeName" not in iot.describe_thing(thingName="L1")
    expect(iot, "ResourceNotFoundException", "ResourceNotFoundException", 404,
           iot.create_thing, thingName="L2", thingTypeName="NoSuchType")

    # Deprecated types take no new things; deletion needs deprecation and no things.
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400, iot.delete_thing_type, thingTypeName="Lamp")
    server.aws("iot", "deprecate-thing-type", "--thing-type-name", "Lamp")
    meta = iot.describe_thing_type(thingTypeName="Lamp")["thingTypeMetadata"]
    assert meta["deprecated"] is True and isinstance(meta["deprecationDate"], datetime.datetime)
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400,
           iot.create_thing, thingName="L3", thingTypeName="Lamp")
    iot.deprecate_thing_type(thingTypeName="Lamp", undoDeprecate=True)
    assert iot.describe_thing_type(thingTypeName="Lamp")["thingTypeMetadata"]["deprecated"] is False
    iot.create_thing(thingName="L3", thingTypeName="Lamp")
    iot.deprecate_thing_type(thingTypeName="Lamp")
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400, iot.delete_thing_type, thingTypeName="Lamp")
    iot.delete_thing(thingName="L3")
    server.aws("iot", "delete-thing-type", "--thing-type-name", "Lamp")
    assert [x["thingTypeName"] for x in iot.list_thing_types()["thingTypes"]] == ["Sensor"]
    expect(iot, "ResourceAlreadyExistsException", "ResourceAlreadyExistsException", 409,
           iot.create_thing_type, thingTypeName="Sensor")


# -- certificates -----------------------------------------------------------------------------


def test_certificates(server, iot, tmp_path):
    inactive = iot.create_keys_and_certificate()
    d = server.aws("iot", "describe-certificate", "--certificate-id", inactive["certificateId"])["certificateDescription"]
    assert d["status"] == "INACTIVE" and d["certificateMode"] == "DEFAULT" and d["customerVersion"] == 1
    assert d["certificatePem"] == inactive["certificatePem"]
    assert d["ownedBy"] == account_of(inactive["certificateArn"])
    # aws-cli v1 prints timestamps as they travel: epoch seconds (2049-12-31T23:59:59Z).
    assert d["validity"]["notAfter"] == 2524607999.0
    pem = x509.load_pem_x509_certificate(inactive["certificatePem"].encode())
    assert pem.subject.rfc4514_string() == "CN=AWS IoT Certificate"
    assert pem.public_key().key_size == 2048

    server.aws("iot", "update-certificate", "--certificate-id", inactive["certificateId"], "--new-status", "ACTIVE")
    d = iot.describe_certificate(certificateId=inactive["certificateId"])["certificateDescription"]
    assert (d["status"], d["customerVersion"]) == ("ACTIVE", 2)
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400, iot.update_certificate,
           certificateId=inactive["certificateId"], newStatus="PENDING_TRANSFER")

    # From a CSR, activated, usable at the credentials endpoint.
    csr, key_pem = make_csr()
    from_csr = iot.create_certificate_from_csr(certificateSigningRequest=csr, setAsActive=True)
    issued = x509.load_pem_x509_certificate(from_csr["certificatePem"].encode())
    assert issued.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "csr-device"
    assert from_csr["certificateId"] == cert_id(from_csr["certificatePem"])
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400,
           iot.create_certificate_from_csr, certificateSigningRequest="not a csr")
    alias = iot.create_role_alias(roleAlias=ALIAS, roleArn=f"arn:aws:iam::{account_of(from_csr['certificateArn'])}:role/{ROLE}")
    iot.create_policy(policyName=POLICY, policyDocument=assume_policy(alias["roleAliasArn"]))
    iot.attach_policy(policyName=POLICY, target=from_csr["certificateArn"])
    cert_file, key_file = write_files(tmp_path, "csr", from_csr["certificatePem"], key_pem)
    status, _, body = server.curl_credentials(cert_file, key_file, ALIAS)
    assert (status, json.loads(body)["message"]) == (400, ROLE_MISSING)

    # Listing: creation order, pages with standard-base64 markers, descending order.
    ids = [inactive["certificateId"], from_csr["certificateId"]]
    assert [c["certificateId"] for c in iot.list_certificates()["certificates"]] == ids
    page = iot.list_certificates(pageSize=1)
    assert len(page["certificates"]) == 1 and page["nextMarker"]
    page2 = iot.list_certificates(pageSize=1, marker=page["nextMarker"])
    assert [c["certificateId"] for c in page2["certificates"]] == ids[1:] and "nextMarker" not in page2
    assert [c["certificateId"] for c in iot.list_certificates(ascendingOrder=False)["certificates"]] == ids[::-1]
    # aws-cli passes --page-size and --marker through (IoT's own parameter names).
    first = server.aws("iot", "list-certificates", "--page-size", "1")
    assert [c["certificateId"] for c in first["certificates"]] == ids[:1]
    rest = server.aws("iot", "list-certificates", "--marker", first["nextMarker"])
    assert [c["certificateId"] for c in rest["certificates"]] == ids[1:] and "nextMarker" not in rest
    assert [c["certificateId"] for p in iot.get_paginator("list_certificates").paginate(pageSize=1)
            for c in p["certificates"]] == ids
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400, iot.list_certificates, marker="not-base64!")

    # Revoked is final; delete needs INACTIVE/REVOKED and no attachments (forceDelete
    # detaches policies).
    iot.update_certificate(certificateId=from_csr["certificateId"], newStatus="REVOKED")
    expect(iot, "CertificateStateException", "CertificateStateException", 406, iot.update_certificate,
           certificateId=from_csr["certificateId"], newStatus="ACTIVE")
    expect(iot, "DeleteConflictException", "DeleteConflictException", 409,
           iot.delete_certificate, certificateId=from_csr["certificateId"])
    iot.delete_certificate(certificateId=from_csr["certificateId"], forceDelete=True)
    assert iot.list_targets_for_policy(policyName=POLICY)["targets"] == []
    iot.update_certificate(certificateId=inactive["certificateId"], newStatus="INACTIVE")
    server.aws("iot", "delete-certificate", "--certificate-id", inactive["certificateId"])
    assert iot.list_certificates()["certificates"] == []
    expect(iot, "ResourceNotFoundException", "ResourceNotFoundException", 404,
           iot.describe_certificate, certificateId=inactive["certificateId"])


def test_ca_and_registered_certificates(server, iot, tmp_path):
    code = iot.get_registration_code()["registrationCode"]
    assert len(code) == 64 and int(code, 16) >= 0
    assert server.aws("iot", "get-registration-code")["registrationCode"] == code
    ca = Ca()
    verification = Ca.issue(ca, code)[0]
    reg = server.aws("iot", "register-ca-certificate", "--ca-certificate", ca.pem,
                     "--verification-certificate", verification, "--set-as-active")
    assert reg["certificateId"] == cert_id(ca.pem)
    assert reg["certificateArn"] == f"arn:aws:iot:{REGION}:{account_of(reg['certificateArn'])}:cacert/{reg['certificateId']}"
    d = iot.describe_ca_certificate(certificateId=reg["certificateId"])["certificateDescription"]
    assert (d["status"], d["autoRegistrationStatus"], d["certificateMode"]) == ("ACTIVE", "DISABLE", "DEFAULT")
    assert [c["certificateId"] for c in iot.list_ca_certificates()["certificates"]] == [reg["certificateId"]]
    r = expect(iot, "ResourceAlreadyExistsException", "ResourceAlreadyExistsException", 409,
               iot.register_ca_certificate, caCertificate=ca.pem, verificationCertificate=verification)
    assert r["resourceId"] == reg["certificateId"] and r["resourceArn"] == reg["certificateArn"]

    # A device certificate of that CA: found among the ACTIVE CAs, or named explicitly.
    dev_pem, dev_key = ca.issue("device-1")
    dev = iot.register_certificate(certificatePem=dev_pem, setAsActive=True)
    assert dev["certificateId"] == cert_id(dev_pem)
    dd = iot.describe_certificate(certificateId=dev["certificateId"])["certificateDescription"]
    assert (dd["status"], dd["caCertificateId"], dd["certificateMode"]) == ("ACTIVE", reg["certificateId"], "DEFAULT")
    dev2_pem, _ = ca.issue("device-2")
    dev2 = iot.register_certificate(certificatePem=dev2_pem, caCertificatePem=ca.pem, status="INACTIVE")
    assert iot.describe_certificate(certificateId=dev2["certificateId"])["certificateDescription"]["status"] == "INACTIVE"
    by_ca = server.aws("iot", "list-certificates-by-ca", "--ca-certificate-id", reg["certificateId"])["certificates"]
    assert [c["certificateId"] for c in by_ca] == [dev["certificateId"], dev2["certificateId"]]
    r = expect(iot, "ResourceAlreadyExistsException", "ResourceAlreadyExistsException", 409,
               iot.register_certificate, certificatePem=dev_pem)
    assert r["resourceId"] == dev["certificateId"]

    # The registered certificate authenticates at the credentials endpoint; not once its CA
    # is INACTIVE.
    alias = iot.create_role_alias(roleAlias=ALIAS, roleArn=f"arn:aws:iam::{account_of(dev['certificateArn'])}:role/{ROLE}")
    iot.create_policy(policyName=POLICY, policyDocument=assume_policy(alias["roleAliasArn"]))
    iot.attach_policy(policyName=POLICY, target=dev["certificateArn"])
    cert_file, key_file = write_files(tmp_path, "dev", dev_pem, dev_key)
    status, _, body = server.curl_credentials(cert_file, key_file, ALIAS)
    assert (status, json.loads(body)["message"]) == (400, ROLE_MISSING)
    server.aws("iot", "update-ca-certificate", "--certificate-id", reg["certificateId"],
               "--new-status", "INACTIVE", "--new-auto-registration-status", "ENABLE")
    d = iot.describe_ca_certificate(certificateId=reg["certificateId"])["certificateDescription"]
    assert (d["status"], d["autoRegistrationStatus"], d["customerVersion"]) == ("INACTIVE", "ENABLE", 2)
    status, _, _ = server.curl_credentials(cert_file, key_file, ALIAS)
    assert status == 403
    # With the CA inactive, new registrations against it are refused.
    expect(iot, "CertificateStateException", "CertificateStateException", 406, iot.register_certificate,
           certificatePem=ca.issue("device-3")[0], caCertificatePem=ca.pem)

    # Without a CA: SNI_ONLY, of any issuer.
    other_pem, other_key = Ca("Elsewhere").issue("loner")
    loner = server.aws("iot", "register-certificate-without-ca", "--certificate-pem", other_pem, "--status", "ACTIVE")
    ld = iot.describe_certificate(certificateId=loner["certificateId"])["certificateDescription"]
    assert (ld["status"], ld["certificateMode"]) == ("ACTIVE", "SNI_ONLY") and "caCertificateId" not in ld
    # curl sends SNI (localhost), so the SNI_ONLY certificate authenticates.
    iot.attach_policy(policyName=POLICY, target=loner["certificateArn"])
    cert_file, key_file = write_files(tmp_path, "loner", other_pem, other_key)
    status, _, body = server.curl_credentials(cert_file, key_file, ALIAS)
    assert (status, json.loads(body)["message"]) == (400, ROLE_MISSING)

    # An SNI_ONLY CA needs no verification certificate.
    sni_ca = Ca("SNI CA")
    sni = iot.register_ca_certificate(caCertificate=sni_ca.pem, certificateMode="SNI_ONLY")
    assert iot.describe_ca_certificate(certificateId=sni["certificateId"])["certificateDescription"]["certificateMode"] == "SNI_ONLY"
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400,
           iot.register_ca_certificate, caCertificate=Ca("No proof").pem)

    # Deleting: never an ACTIVE CA.
    iot.update_ca_certificate(certificateId=sni["certificateId"], newStatus="ACTIVE")
    expect(iot, "CertificateStateException", "CertificateStateException", 406,
           iot.delete_ca_certificate, certificateId=sni["certificateId"])
    iot.update_ca_certificate(certificateId=sni["certificateId"], newStatus="INACTIVE")
    server.aws("iot", "delete-ca-certificate", "--certificate-id", sni["certificateId"])
    assert [c["certificateId"] for c in iot.list_ca_certificates()["certificates"]] == [reg["certificateId"]]


# -- policies and attachments ---------------------------------------------------------------


def test_policies_and_versions(server, iot):
    created = iot.create_policy(policyName=POLICY, policyDocument=connect_policy(1))
    got = server.aws("iot", "get-policy", "--policy-name", POLICY)
    assert (got["policyArn"], got["defaultVersionId"], got["policyDocument"]) == (created["policyArn"], "1", connect_policy(1))
    assert got["generationId"] and got["creationDate"]

    v2 = server.aws("iot", "create-policy-version", "--policy-name", POLICY,
                    "--policy-document", connect_policy(2), "--set-as-default")
    assert (v2["policyVersionId"], v2["isDefaultVersion"]) == ("2", True)
    v3 = iot.create_policy_version(policyName=POLICY, policyDocument=connect_policy(3))
    assert (v3["policyVersionId"], v3["isDefaultVersion"]) == ("3", False)
    assert iot.get_policy(policyName=POLICY)["policyDocument"] == connect_policy(2)
    versions = iot.list_policy_versions(policyName=POLICY)["policyVersions"]
    assert [(v["versionId"], v["isDefaultVersion"]) for v in versions] == [("3", False), ("2", True), ("1", False)]
    gv = iot.get_policy_version(policyName=POLICY, policyVersionId="1")
    assert (gv["policyDocument"], gv["isDefaultVersion"], gv["policyName"]) == (connect_policy(1), False, POLICY)
    server.aws("iot", "set-default-policy-version", "--policy-name", POLICY, "--policy-version-id", "3")
    assert iot.get_policy(policyName=POLICY)["defaultVersionId"] == "3"
    expect(iot, "DeleteConflictException", "DeleteConflictException", 409,
           iot.delete_policy_version, policyName=POLICY, policyVersionId="3")
    server.aws("iot", "delete-policy-version", "--policy-name", POLICY, "--policy-version-id", "1")
    expect(iot, "ResourceNotFoundException", "ResourceNotFoundException", 404,
           iot.get_policy_version, policyName=POLICY, policyVersionId="1")
    # A policy with non-default versions cannot be deleted.
    expect(iot, "DeleteConflictException", "DeleteConflictException", 409, iot.delete_policy, policyName=POLICY)
    iot.delete_policy_version(policyName=POLICY, policyVersionId="2")

    iot.create_policy(policyName="Second", policyDocument=connect_policy())
    names = [p["policyName"] for p in server.aws("iot", "list-policies")["policies"]]
    assert names == [POLICY, "Second"]
    page = iot.list_policies(pageSize=1, ascendingOrder=False)
    assert [p["policyName"] for p in page["policies"]] == ["Second"] and page["nextMarker"]
    server.aws("iot", "delete-policy", "--policy-name", POLICY)
    assert [p["policyName"] for p in iot.list_policies()["policies"]] == ["Second"]


def test_policy_attachments(server, iot):
    cert = iot.create_keys_and_certificate(setAsActive=True)
    arn = cert["certificateArn"]
    iot.create_policy(policyName="A", policyDocument=connect_policy(1))
    iot.create_policy(policyName="B", policyDocument=connect_policy(2))
    server.aws("iot", "attach-policy", "--policy-name", "A", "--target", arn)
    iot.attach_policy(policyName="A", target=arn)  # again: no change
    iot.attach_principal_policy(policyName="B", principal=arn)
    attached = server.aws("iot", "list-attached-policies", "--target", arn)["policies"]
    assert attached == [{"policyName": "A", "policyArn": arn.replace(f"cert/{cert['certificateId']}", "policy/A")},
                        {"policyName": "B", "policyArn": arn.replace(f"cert/{cert['certificateId']}", "policy/B")}]
    assert [p["policyName"] for p in iot.list_principal_policies(principal=arn)["policies"]] == ["A", "B"]
    assert iot.list_targets_for_policy(policyName="A")["targets"] == [arn]
    assert iot.list_policy_principals(policyName="B")["principals"] == [arn]
    page = iot.list_attached_policies(target=arn, pageSize=1)
    assert [p["policyName"] for p in page["policies"]] == ["A"] and page["nextMarker"]

    server.aws("iot", "detach-policy", "--policy-name", "A", "--target", arn)
    iot.detach_principal_policy(policyName="B", principal=arn)
    assert iot.list_attached_policies(target=arn)["policies"] == []
    # Targets must be certificates of this account and region that exist.
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400,
           iot.attach_policy, policyName="A", target="us-east-1:0d8e2b40-cognito-id")
    missing = arn[: -64] + "0" * 64
    expect(iot, "ResourceNotFoundException", "ResourceNotFoundException", 404,
           iot.attach_policy, policyName="A", target=missing)
    assert iot.list_targets_for_policy(policyName="A")["targets"] == []


def test_thing_principals(server, iot):
    c1 = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    c2 = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    iot.create_thing(thingName="T1")
    iot.create_thing(thingName="T2")
    iot.attach_thing_principal(thingName="T1", principal=c1)
    iot.attach_thing_principal(thingName="T2", principal=c1)
    server.aws("iot", "attach-thing-principal", "--thing-name", "T1", "--principal", c2)
    assert sorted(iot.list_thing_principals(thingName="T1")["principals"]) == sorted([c1, c2])
    assert server.aws("iot", "list-principal-things", "--principal", c1)["things"] == ["T1", "T2"]
    # c2 exclusively on T2 is refused while it is on T1; c1 may not go exclusive anywhere.
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400, iot.attach_thing_principal,
           thingName="T2", principal=c1, thingPrincipalType="EXCLUSIVE_THING")
    assert iot.list_principal_things(principal=c1)["things"] == ["T1", "T2"]

    server.aws("iot", "detach-thing-principal", "--thing-name", "T1", "--principal", c1)
    iot.detach_thing_principal(thingName="T2", principal=c1)
    assert iot.list_principal_things(principal=c1)["things"] == []
    assert iot.list_thing_principals(thingName="T1")["principals"] == [c2]
    expect(iot, "ResourceNotFoundException", "ResourceNotFoundException", 404,
           iot.attach_thing_principal, thingName="Nope", principal=c1)
    expect(iot, "ResourceNotFoundException", "ResourceNotFoundException", 404,
           iot.list_thing_principals, thingName="Nope")
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400,
           iot.attach_thing_principal, thingName="T1", principal="not-an-arn")
    # A thing with attached principals cannot be deleted.
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400, iot.delete_thing, thingName="T1")
    assert iot.describe_thing(thingName="T1")["thingName"] == "T1"


def test_thing_principals_v2(server, iot):
    """ListThingPrincipalsV2 / ListPrincipalThingsV2 say how each principal is attached and filter by it;
    boto3's paginators and aws-cli read them."""
    shared = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    own = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    for name in ("ADCTestThing", "ADCTestThing2"):
        iot.create_thing(thingName=name)
        iot.attach_thing_principal(thingName=name, principal=shared)
    iot.attach_thing_principal(thingName="ADCTestThing", principal=own, thingPrincipalType="EXCLUSIVE_THING")

    objects = iot.list_thing_principals_v2(thingName="ADCTestThing")["thingPrincipalObjects"]
    assert sorted((o["principal"], o["thingPrincipalType"]) for o in objects) == sorted(
        [(shared, "NON_EXCLUSIVE_THING"), (own, "EXCLUSIVE_THING")])
    exclusive = iot.list_thing_principals_v2(thingName="ADCTestThing", thingPrincipalType="EXCLUSIVE_THING")
    assert exclusive["thingPrincipalObjects"] == [{"principal": own, "thingPrincipalType": "EXCLUSIVE_THING"}]
    things = server.aws("iot", "list-principal-things-v2", "--principal", shared)["principalThingObjects"]
    assert things == [{"thingName": "ADCTestThing", "thingPrincipalType": "NON_EXCLUSIVE_THING"},
                      {"thingName": "ADCTestThing2", "thingPrincipalType": "NON_EXCLUSIVE_THING"}]
    pages = list(iot.get_paginator("list_principal_things_v2").paginate(
        principal=shared, PaginationConfig={"PageSize": 1}))
    assert [o["thingName"] for p in pages for o in p["principalThingObjects"]] == ["ADCTestThing", "ADCTestThing2"]
    assert iot.list_principal_things_v2(principal=shared, thingPrincipalType="EXCLUSIVE_THING")[
        "principalThingObjects"] == []
    expect(iot, "InvalidRequestException", "InvalidRequestException", 400, iot.list_thing_principals_v2,
           thingName="ADCTestThing", thingPrincipalType="SOMETIMES")
    expect(iot, "ResourceNotFoundException", "ResourceNotFoundException", 404, iot.list_thing_principals_v2,
           thingName="Nope")


# -- role aliases ---------------------------------------------------------------------------


def test_role_aliases(server, iot):
    account = account_of(iot.create_policy(policyName="p", policyDocument=connect_policy())["policyArn"])
    role = f"arn:aws:iam::{account}:role/{ROLE}"
    iot.create_role_alias(roleAlias=ALIAS, roleArn=role)
    d = server.aws("iot", "describe-role-alias", "--role-alias", ALIAS)["roleAliasDescription"]
    assert (d["roleArn"], d["owner"], d["credentialDurationSeconds"]) == (role, account, 3600)
    assert d["roleAliasArn"] == f"arn:aws:iot:{REGION}:{account}:rolealias/{ALIAS}"
    up = server.aws("iot", "update-role-alias", "--role-alias", ALIAS, "--credential-duration-seconds", "900",
                    "--role-arn", f"arn:aws:iam::{account}:role/Other")
    assert up == {"roleAlias": ALIAS, "roleAliasArn": d["roleAliasArn"]}
    d = iot.describe_role_alias(roleAlias=ALIAS)["roleAliasDescription"]
    assert (d["roleArn"], d["credentialDurationSeconds"]) == (f"arn:aws:iam::{account}:role/Other", 900)

    iot.create_role_alias(roleAlias="Tagged", roleArn=role, credentialDurationSeconds=43200,
                          tags=[{"Key": "site", "Value": "osaka"}])
    assert server.aws("iot", "list-role-aliases")["roleAliases"] == [ALIAS, "Tagged"]
    page = iot.list_role_aliases(pageSize=1, ascendingOrder=False)
    assert page["roleAliases"] == ["Tagged"] and page["nextMarker"]
    assert iot.list_role_aliases(pageSize=1, marker=page["nextMarker"], ascendingOrder=False)["roleAliases"] == [ALIAS]

    # botocore checks the minimum itself; without its validation the server refuses too.
    raw = server.boto3_client("iot", config=Config(parameter_validation=False))
    for bad in (899, 43201):
        r = expect(raw, "InvalidRequestException", "InvalidRequestException", 400,
                   raw.create_role_alias, roleAlias="Bad", roleArn=role, credentialDurationSeconds=bad)
        assert "credentialDurationSeconds" in r["Error"]["Message"]
    for bad_arn in (f"arn:aws:iam::000000000000:role/{ROLE}", f"arn:aws:iam::{account}:user/someone"):
        expect(iot, "InvalidRequestException", "InvalidRequestException", 400,
               iot.create_role_alias, roleAlias="Bad", roleArn=bad_arn)
    expect(iot, "ResourceNotFoundException", "ResourceNotFoundException", 404,
           iot.describe_role_alias, roleAlias="Bad")

    server.aws("iot", "delete-role-alias", "--role-alias", "Tagged")
    assert iot.list_role_aliases()["roleAliases"] == [ALIAS]
    expect(iot, "ResourceNotFoundException", "ResourceNotFoundException", 404,
           iot.delete_role_alias, roleAlias="Tagged")


# -- one test per error class, each checking that the refused call changed nothing ------------


def test_error_resource_not_found(iot):
    r = expect(iot, "ResourceNotFoundException", "ResourceNotFoundException", 404, iot.describe_thing, thingName=THING)
    assert THING in r["Error"]["Message"]
    cert = iot.create_keys_and_certificate()["certificateArn"]
    expect(iot, "ResourceNotFoundException", "ResourceNotFoundException", 404,
           iot.attach_policy, policyName="NoSuchPolicy", target=cert)
    assert iot.list_attached_policies(target=cert)["policies"] == []


def test_error_resource_already_exists(iot):
    t = iot.create_thing(thingName=THING, attributePayload={"attributes": {"model": "X1"}})
    r = expect(iot, "ResourceAlreadyExistsException", "ResourceAlreadyExistsException", 409,
               iot.create_thing, thingName=THING, attributePayload={"attributes": {"model": "X2"}})
    assert (r["resourceId"], r["resourceArn"]) == (t["thingId"], t["thingArn"])
    assert iot.describe_thing(thingName=THING)["attributes"] == {"model": "X1"}
    iot.create_role_alias(roleAlias=ALIAS, roleArn=f"arn:aws:iam::{account_of(t['thingArn'])}:role/{ROLE}")
    r = expect(iot, "ResourceAlreadyExistsException", "ResourceAlreadyExistsException", 409,
               iot.create_role_alias, roleAlias=ALIAS, roleArn=f"arn:aws:iam::{account_of(t['thingArn'])}:role/Other")
    assert r["resourceArn"].endswith(f":rolealias/{ALIAS}")
    assert iot.describe_role_alias(roleAlias=ALIAS)["roleAliasDescription"]["roleArn"].endswith(f"role/{ROLE}")


def test_error_invalid_request(server, iot):
    r = expect(iot, "InvalidRequestException", "InvalidRequestException", 400, iot.create_thing, thingName="bad name")
    assert r["Error"]["Message"].startswith("Value 'bad name' at 'thingName' failed to satisfy constraint")
    proc = server.aws("iot", "create-thing", "--thing-name", "x" * 129, check=False)
    assert proc.returncode != 0 and "InvalidRequestException" in proc.stderr
    assert "Member must have length less than or equal to 128" in proc.stderr
    assert iot.list_things()["things"] == []


def test_error_malformed_policy(iot):
    r = expect(iot, "MalformedPolicyException", "MalformedPolicyException", 400,
               iot.create_policy, policyName=POLICY, policyDocument='{"Version": "2012-10-17", "Statement": ')
    assert r["Error"]["Message"]
    big = json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "iot:Connect", "Resource": "a" * 2100}})
    expect(iot, "MalformedPolicyException", "MalformedPolicyException", 400,
           iot.create_policy, policyName=POLICY, policyDocument=big)
    expect(iot, "ResourceNotFoundException", "ResourceNotFoundException", 404, iot.get_policy, policyName=POLICY)


def test_error_certificate_validation(iot):
    stranger_pem, _ = Ca("Unregistered CA").issue("stranger")
    r = expect(iot, "CertificateValidationException", "CertificateValidationException", 400,
               iot.register_certificate, certificatePem=stranger_pem, setAsActive=True)
    assert "registered CA" in r["Error"]["Message"]
    expect(iot, "CertificateValidationException", "CertificateValidationException", 400,
           iot.register_certificate_without_ca, certificatePem="-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert iot.list_certificates()["certificates"] == []


def test_error_certificate_state(iot):
    cert = iot.create_keys_and_certificate(setAsActive=True)
    r = expect(iot, "CertificateStateException", "CertificateStateException", 406,
               iot.delete_certificate, certificateId=cert["certificateId"])
    assert "ACTIVE" in r["Error"]["Message"]
    assert iot.describe_certificate(certificateId=cert["certificateId"])["certificateDescription"]["status"] == "ACTIVE"


def test_error_delete_conflict(iot):
    cert = iot.create_keys_and_certificate()["certificateArn"]
    iot.create_policy(policyName=POLICY, policyDocument=connect_policy())
    iot.attach_policy(policyName=POLICY, target=cert)
    expect(iot, "DeleteConflictException", "DeleteConflictException", 409, iot.delete_policy, policyName=POLICY)
    expect(iot, "DeleteConflictException", "DeleteConflictException", 409,
           iot.delete_certificate, certificateId=cert.rsplit("/", 1)[1])
    assert iot.get_policy(policyName=POLICY)["policyName"] == POLICY
    assert iot.list_targets_for_policy(policyName=POLICY)["targets"] == [cert]


def test_error_version_conflict(iot):
    iot.create_thing(thingName=THING, attributePayload={"attributes": {"model": "X1"}})
    r = expect(iot, "VersionConflictException", "VersionConflictException", 409, iot.update_thing,
               thingName=THING, expectedVersion=5, attributePayload={"attributes": {"model": "X2"}})
    assert "5" in r["Error"]["Message"]
    d = iot.describe_thing(thingName=THING)
    assert (d["attributes"], d["version"]) == ({"model": "X1"}, 1)


def test_error_versions_limit_exceeded(iot):
    iot.create_policy(policyName=POLICY, policyDocument=connect_policy(0))
    for n in range(1, 5):
        iot.create_policy_version(policyName=POLICY, policyDocument=connect_policy(n))
    expect(iot, "VersionsLimitExceededException", "VersionsLimitExceededException", 409,
           iot.create_policy_version, policyName=POLICY, policyDocument=connect_policy(5), setAsDefault=True)
    versions = iot.list_policy_versions(policyName=POLICY)["policyVersions"]
    assert [v["versionId"] for v in versions] == ["5", "4", "3", "2", "1"]
    assert iot.get_policy(policyName=POLICY)["defaultVersionId"] == "1"


def test_error_limit_exceeded(iot):
    cert = iot.create_keys_and_certificate()["certificateArn"]
    for n in range(11):
        iot.create_policy(policyName=f"P{n:02}", policyDocument=connect_policy(n))
    for n in range(10):
        iot.attach_policy(policyName=f"P{n:02}", target=cert)
    expect(iot, "LimitExceededException", "LimitExceededException", 410, iot.attach_policy, policyName="P10", target=cert)
    assert len(iot.list_attached_policies(target=cert)["policies"]) == 10
    assert iot.list_targets_for_policy(policyName="P10")["targets"] == []
    # At most 10 CA certificates per subject.
    for _ in range(10):
        iot.register_ca_certificate(caCertificate=Ca("Same Subject").pem, certificateMode="SNI_ONLY")
    expect(iot, "LimitExceededException", "LimitExceededException", 410,
           iot.register_ca_certificate, caCertificate=Ca("Same Subject").pem, certificateMode="SNI_ONLY")
    assert len(iot.list_ca_certificates()["certificates"]) == 10


def test_error_registration_code_validation(iot):
    ca = Ca()
    wrong = ca.issue("0" * 64)[0]
    r = expect(iot, "RegistrationCodeValidationException", "RegistrationCodeValidationException", 400,
               iot.register_ca_certificate, caCertificate=ca.pem, verificationCertificate=wrong, setAsActive=True)
    assert "registration code" in r["Error"]["Message"]
    # The right code, signed by another key: the proof fails as a certificate validation.
    code = iot.get_registration_code()["registrationCode"]
    forged = Ca("Impostor").issue(code)[0]
    expect(iot, "CertificateValidationException", "CertificateValidationException", 400,
           iot.register_ca_certificate, caCertificate=ca.pem, verificationCertificate=forged)
    assert iot.list_ca_certificates()["certificates"] == []
