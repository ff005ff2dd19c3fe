"""Certificate revocation lists of registered CAs (issue 15, an iotcreds extension: AWS IoT's
credentials provider checks no CRL). The fleet's CA is an `openssl ca` of the test's own; its
CRLs come from `openssl ca -revoke` and `-gencrl`, are imported with `iotcreds ca import-crl`, and
the devices ask for credentials with curl --cert/--key and read S3 with boto3.

- A revoked serial gets "Access Denied" at the credentials endpoint, and the session it already
  holds is refused on S3 (InvalidToken) and STS, with audit lines naming the CRL; the CA's other
  devices are unaffected.
- A CRL signed by another key (an impostor CA with the same name) is refused at import, and so is
  an older CRL than the one imported (replaying it would un-revoke).
- A CRL past its nextUpdate refuses every device of the CA at issuance (fail closed) until a
  newer one is imported; removing the CRL lifts it."""

import datetime
import json
import subprocess
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import BUCKET
from seed import S3_READ, TRUST, assume_policy, make_bucket_with_test_file

OPENSSL_CA = """[ ca ]
default_ca = fleet
[ fleet ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/ca.pem
private_key = $dir/ca.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 30
default_crl_days = 1
policy = anything
unique_subject = no
x509_extensions = device
[ anything ]
commonName = supplied
[ device ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
{aia}"""


class OpensslCa:
    """An `openssl ca` directory: a P-256 root, its database, serials and CRL numbers."""

    def __init__(self, workdir, name="ADCTestFleetCA", ocsp_url=None):
        self.dir = workdir
        (workdir / "newcerts").mkdir(parents=True)
        (workdir / "index.txt").write_text("")
        (workdir / "serial").write_text("1000\n")
        (workdir / "crlnumber").write_text("01\n")
        self.config = workdir / "openssl.cnf"
        aia = f"authorityInfoAccess = OCSP;URI:{ocsp_url}\n" if ocsp_url else ""
        self.config.write_text(OPENSSL_CA.format(dir=workdir, aia=aia))
        self.run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", f"/CN={name}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")
        self.pem = (workdir / "ca.pem").read_text()

    def run(self, *args):
        return subprocess.run(["openssl", *args], cwd=self.dir, check=True, capture_output=True, text=True)

    def issue(self, name):
        """A device (or verification) certificate with CN=name; returns (cert path, key path)."""
        self.run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        self.run("ca", "-batch", "-notext", "-config", str(self.config), "-in", f"{name}.csr", "-out", f"{name}.pem")
        return self.dir / f"{name}.pem", self.dir / f"{name}.key"

    def revoke(self, cert):
        self.run("ca", "-config", str(self.config), "-revoke", str(cert))

    def crl(self, name, *extra):
        self.run("ca", "-config", str(self.config), "-gencrl", "-out", f"{name}.pem", *extra)
        return self.dir / f"{name}.pem"


def openssl_time(dt):
    return dt.strftime("%Y%m%d%H%M%SZ")


def creds_of(body):
    c = json.loads(body)["credentials"]
    return {"AccessKeyId": c["accessKeyId"], "SecretAccessKey": c["secretAccessKey"], "SessionToken": c["sessionToken"]}


@pytest.fixture
def fleet(server, tmp_path):
    """ADCTestRole/ADCTestRoleAlias/ADCTestPolicy and two devices of an openssl CA."""
    ca = OpensslCa(tmp_path / "ca")
    ca_id, devices = register_fleet(server, ca, tmp_path)
    return server, ca, ca_id, devices


def register_fleet(server, ca, tmp_path):
    """Register `ca` (ACTIVE, with a verification certificate), ADCTestRole/ADCTestRoleAlias/
    ADCTestPolicy, the bucket with test.txt, and two devices of the CA, ADCTestThing and
    ADCTestThing-2 (ACTIVE, attached); returns the CA's id and the devices."""
    code = server.aws("iot", "get-registration-code")["registrationCode"]
    verification, _ = ca.issue(code)
    reg = server.aws("iot", "register-ca-certificate", "--ca-certificate", f"file://{ca.dir / 'ca.pem'}",
                     "--verification-certificate", f"file://{verification}", "--set-as-active")
    (tmp_path / "trust.json").write_text(json.dumps(TRUST))
    role = server.aws("iam", "create-role", "--role-name", "ADCTestRole", "--assume-role-policy-document",
                      f"file://{tmp_path / 'trust.json'}")["Role"]
    server.aws("iam", "put-role-policy", "--role-name", "ADCTestRole", "--policy-name", "S3Read",
               "--policy-document", json.dumps(S3_READ))
    alias = server.aws("iot", "create-role-alias", "--role-alias", "ADCTestRoleAlias", "--role-arn", role["Arn"])
    server.aws("iot", "create-policy", "--policy-name", "ADCTestPolicy", "--policy-document",
               json.dumps(assume_policy(alias["roleAliasArn"])))
    devices = {}
    for name in ["ADCTestThing", "ADCTestThing-2"]:
        cert, key = ca.issue(name)
        registered = server.aws("iot", "register-certificate", "--certificate-pem", f"file://{cert}", "--set-as-active")
        server.aws("iot", "attach-policy", "--policy-name", "ADCTestPolicy", "--target", registered["certificateArn"])
        server.aws("iot", "create-thing", "--thing-name", name)
        server.aws("iot", "attach-thing-principal", "--thing-name", name, "--principal", registered["certificateArn"])
        devices[name] = {"cert": cert, "key": key, "thing": name, "certificate_id": registered["certificateId"]}
    make_bucket_with_test_file(server, tmp_path)
    return reg["certificateId"], devices


def ask(server, device):
    return server.curl_credentials(device["cert"], device["key"], "ADCTestRoleAlias", device["thing"])


def reads(server, creds):
    return server.boto3_client("s3", creds=creds).get_object(Bucket=BUCKET, Key="test.txt")["Body"].read()


def test_a_revoked_device_loses_credentials_and_its_session(fleet):
    server, ca, ca_id, devices = fleet
    device, other = devices["ADCTestThing"], devices["ADCTestThing-2"]
    status, _, body = ask(server, device)
    assert status == 200, body
    session = creds_of(body)
    assert reads(server, session)
    # A CRL revoking nothing yet, dated an hour ago: imported, nothing changes.
    early = ca.crl("early", "-crl_lastupdate",
                   openssl_time(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)))
    out = server.iotcreds("ca", "import-crl", ca_id, str(early)).stdout
    assert "0 revoked" in out, out
    assert ask(server, device)[0] == 200

    ca.revoke(device["cert"])
    crl = ca.crl("crl")
    out = server.iotcreds("ca", "import-crl", ca_id, str(crl)).stdout
    assert "1 revoked" in out, out
    described = json.loads(server.iotcreds("ca", "describe", ca_id, "--output", "json").stdout)
    assert described["certificateDescription"]["iotcredsCrl"]["revokedCount"] == 1

    status, headers, body = ask(server, device)
    assert (status, json.loads(body)) == (403, {"message": "Access Denied"})
    assert headers["x-amzn-errortype"] == "AccessDeniedException"
    server.wait_for_audit(lambda events: any(
        e.get("event") == "credentials" and e.get("decision") == "deny"
        and e.get("certificate_id") == device["certificate_id"] and "revoked by the CRL" in e.get("reason", "")
        for e in events))
    # The session it already holds ends too.
    with pytest.raises(ClientError) as e:
        reads(server, session)
    assert e.value.response["Error"]["Code"] == "InvalidToken"
    proc = server.aws("sts", "get-caller-identity", creds=session, check=False)
    assert proc.returncode != 0 and "InvalidClientTokenId" in proc.stderr
    server.wait_for_audit(lambda events: any(
        e.get("event") == "authenticate" and e.get("decision") == "deny" and "CRL" in e.get("reason", "")
        for e in events))
    # The CA's other device is not revoked.
    status, _, body = ask(server, other)
    assert status == 200, body
    assert reads(server, creds_of(body))

    # Replaying the older CRL (nothing revoked) is refused: it would un-revoke the device.
    proc = server.iotcreds("ca", "import-crl", ca_id, str(early), check=False)
    assert proc.returncode != 0 and "older one would un-revoke" in proc.stderr, proc.stderr
    assert ask(server, device)[0] == 403

    # A CRL signed by another key under the same name is refused; nothing changes.
    impostor = OpensslCa(ca.dir.parent / "impostor")
    forged = impostor.crl("forged")
    proc = server.iotcreds("ca", "import-crl", ca_id, str(forged), check=False)
    assert proc.returncode != 0 and "signature does not verify" in proc.stderr, proc.stderr
    assert ask(server, device)[0] == 403

    # Without the CRL, the certificate is as registered again.
    server.iotcreds("ca", "delete-crl", ca_id)
    assert ask(server, device)[0] == 200


def test_an_out_of_date_crl_fails_closed_until_a_newer_one(fleet):
    server, ca, ca_id, devices = fleet
    device = devices["ADCTestThing-2"]
    now = datetime.datetime.now(datetime.timezone.utc)
    # Already out of date: refused at import.
    stale = ca.crl("stale", "-crl_lastupdate", openssl_time(now - datetime.timedelta(hours=2)),
                   "-crl_nextupdate", openssl_time(now - datetime.timedelta(hours=1)))
    proc = server.iotcreds("ca", "import-crl", ca_id, str(stale), check=False)
    assert proc.returncode != 0 and "out of date" in proc.stderr, proc.stderr
    # Due in 3 s: imported; once it is past its nextUpdate, the CA's devices are refused.
    short = ca.crl("short", "-crlsec", "3")
    server.iotcreds("ca", "import-crl", ca_id, str(short))
    assert ask(server, device)[0] == 200
    deadline = time.monotonic() + 15
    while ask(server, device)[0] != 403:
        assert time.monotonic() < deadline, "the out-of-date CRL was not enforced"
        threading.Event().wait(0.25)  # poll interval: the CRL runs out 3 s after it was made
    server.wait_for_audit(lambda events: any(
        e.get("event") == "credentials" and "is out of date" in e.get("reason", "") for e in events))
    # A newer CRL lifts it.
    server.iotcreds("ca", "import-crl", ca_id, str(ca.crl("fresh")))
    assert ask(server, device)[0] == 200
