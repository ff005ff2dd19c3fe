"""The `iotcreds` command-line tool against the real server.

The headline is the seed flow (product brief, steps 1-5) done with `iotcreds` commands only,
then curl to the credentials endpoint. Then each command group's happy path and a
representative error, the local policy simulator's exit codes, the PKI helpers with a CA of
our own, the device-side credentials helper used by aws-cli through `credential_process`, and
rotation of the token-sealing keys.

Exit codes of the CLI: 0 success, 1 error, 2 `policy simulate` denied, 64 usage error.
"""

import base64
import json
import os
import shlex
import socket
import stat
import subprocess
import threading
import time

from conftest import AWS, BIN, BUCKET, REGION, Server

ROLE = "ADCTestRole"
ALIAS = "ADCTestRoleAlias"
POLICY = "ADCTestPolicy"
THING = "ADCTestThing"

S3_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"},
    ],
}
CREDENTIAL_FIELDS = {"accessKeyId", "secretAccessKey", "sessionToken", "expiration"}


# -- helpers -----------------------------------------------------------------------------------


def js(server, *args, cwd=None):
    """Run an `iotcreds` command with --output json and parse its output."""
    out = server.iotcreds(*args, "--output", "json", cwd=cwd).stdout
    return json.loads(out) if out.strip() else None


def fails(server, *args, cwd=None):
    """Run an `iotcreds` command that must fail with exit code 1; its stderr."""
    proc = server.iotcreds(*args, check=False, cwd=cwd)
    assert proc.returncode == 1, f"iotcreds {' '.join(args)}: {proc.returncode}\n{proc.stdout}{proc.stderr}"
    return proc.stderr


def cli(*args, server=None, creds=None, cwd=None, env=None):
    """Run the binary with only the environment given (no AWS_* or IOTCREDS_* inherited)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IOTCREDS_"))}
    if server is not None:
        full.update({"IOTCREDS_ENDPOINT_URL": server.api_url, "IOTCREDS_DATA_DIR": str(server.data_dir)})
    if creds is not None:
        full.update({"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"]})
        if creds.get("SessionToken"):
            full["AWS_SESSION_TOKEN"] = creds["SessionToken"]
    full.update(env or {})
    return subprocess.run([BIN, *args], env=full, capture_output=True, text=True, cwd=cwd, timeout=120)


def text_fields(stdout):
    """`key: value` lines of text output as a dict."""
    out = {}
    for line in stdout.splitlines():
        k, sep, v = line.partition(": ")
        if sep and not line.startswith(" "):
            out[k] = v
    return out


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def temp_creds(body):
    c = json.loads(body)["credentials"]
    return {"AccessKeyId": c["accessKeyId"], "SecretAccessKey": c["secretAccessKey"], "SessionToken": c["sessionToken"]}


def sealing_key_id(access_key_id):
    """The sealing key id written in a temporary access key id: ASIA + base32(key id, 8 random)."""
    assert access_key_id.startswith("ASIA") and len(access_key_id) == 20, access_key_id
    return int.from_bytes(base64.b32decode(access_key_id[4:])[:2], "big")


def seed(server, workdir):
    """Steps 1-3 of the seed with iotcreds commands; returns the certificate id. Leaves
    cert.pem and private.key in workdir."""
    s3 = workdir / "s3-read.json"
    s3.write_text(json.dumps(S3_READ))
    server.iotcreds("role", "create", ROLE)
    server.iotcreds("role", "put-policy", ROLE, "ADCTestS3Read", "--document", str(s3))
    alias_arn = js(server, "role-alias", "create", ALIAS, "--role", ROLE)["roleAliasArn"]
    iot_policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:AssumeRoleWithCertificate", "Resource": alias_arn}],
    }
    server.iotcreds("policy", "create", POLICY, "--document", json.dumps(iot_policy))
    server.iotcreds("thing", "create", THING)
    created = js(server, "cert", "create", "--active", "--cert-out", "cert.pem", "--key-out", "private.key", cwd=workdir)
    cert_id = created["certificateId"]
    server.iotcreds("policy", "attach", POLICY, "--target", cert_id)
    server.iotcreds("thing", "attach-cert", THING, cert_id)
    return cert_id


def poll_until(check, what, timeout=15):
    """Call check() until it returns a truthy value; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        threading.Event().wait(0.1)  # poll interval


# -- the seed, with iotcreds only --------------------------------------------------------------


def test_seed_flow_with_iotcreds_commands_only(server, tmp_path):
    # 1. Role with the default trust policy (credentials.iot.amazonaws.com may sts:AssumeRole)
    #    and an inline S3 read policy.
    (tmp_path / "s3-read.json").write_text(json.dumps(S3_READ))
    out = server.iotcreds("role", "create", ROLE).stdout
    role_arn = text_fields(out)["Arn"]
    assert role_arn.endswith(f":role/{ROLE}")
    assert "credentials.iot.amazonaws.com" in out and "sts:AssumeRole" in out
    server.iotcreds("role", "put-policy", ROLE, "ADCTestS3Read", "--document", "s3-read.json", cwd=tmp_path)

    # 2. Role alias naming the role.
    out = server.iotcreds("role-alias", "create", ALIAS, "--role", ROLE).stdout
    alias_arn = text_fields(out)["roleAliasArn"]
    assert alias_arn.endswith(f":rolealias/{ALIAS}")
    assert text_fields(server.iotcreds("role-alias", "describe", ALIAS).stdout)["roleArn"] == role_arn

    # 3. IoT policy allowing iot:AssumeRoleWithCertificate on the alias; a thing; an ACTIVE
    #    certificate with the policy attached and the thing attached.
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:AssumeRoleWithCertificate", "Resource": alias_arn}],
    }
    (tmp_path / "iot-policy.json").write_text(json.dumps(doc))
    server.iotcreds("policy", "create", POLICY, "--document", "iot-policy.json", cwd=tmp_path)
    server.iotcreds("thing", "create", THING)
    out = server.iotcreds(
        "cert", "create", "--active", "--cert-out", "cert.pem", "--key-out", "private.key", cwd=tmp_path
    ).stdout
    created = text_fields(out)
    cert_id = created["certificateId"]
    assert len(cert_id) == 64 and created["certificateArn"].endswith(f":cert/{cert_id}")
    assert created["status"] == "ACTIVE"
    assert "PRIVATE KEY" not in out
    assert (tmp_path / "cert.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY-----" in (tmp_path / "private.key").read_text()
    assert mode(tmp_path / "private.key") == 0o600
    server.iotcreds("policy", "attach", POLICY, "--target", cert_id)
    server.iotcreds("thing", "attach-cert", THING, cert_id)

    # 4. The credentials endpoint.
    endpoint = server.iotcreds("endpoint").stdout.strip()
    assert endpoint == f"localhost:{server.credentials_port}"

    # 5. curl with the certificate.
    proc = subprocess.run(
        [
            "curl", "-sS", "-w", "\n%{http_code}", "--cacert", server.root_ca,
            "--cert", str(tmp_path / "cert.pem"), "--key", str(tmp_path / "private.key"),
            "-H", f"x-amzn-iot-thingname: {THING}",
            f"https://{endpoint}/role-aliases/{ALIAS}/credentials",
        ],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    body, _, status = proc.stdout.rpartition("\n")
    assert status == "200", body
    answer = json.loads(body)
    assert set(answer) == {"credentials"}
    assert set(answer["credentials"]) == CREDENTIAL_FIELDS
    assert answer["credentials"]["accessKeyId"].startswith("ASIA")
    assert answer["credentials"]["expiration"].endswith("Z")

    # The credentials are the role's session named after the certificate.
    who = json.loads(cli("whoami", "--output", "json", server=server, creds=temp_creds(body)).stdout)
    assert who["Arn"].endswith(f":assumed-role/{ROLE}/{cert_id}")


# -- command groups ----------------------------------------------------------------------------


def test_thing_and_thing_type_commands(server):
    created = js(server, "thing-type", "create", "Sensor", "--description", "temperature sensors")
    assert created["thingTypeName"] == "Sensor"
    assert [t["thingTypeName"] for t in js(server, "thing-type", "list")["thingTypes"]] == ["Sensor"]
    assert js(server, "thing-type", "describe", "Sensor")["thingTypeProperties"]["thingTypeDescription"] == (
        "temperature sensors"
    )

    thing = js(server, "thing", "create", "sensor-1", "--type", "Sensor", "--attribute", "site=tokyo")
    assert thing["thingArn"].endswith(":thing/sensor-1") and thing["thingId"]
    server.iotcreds("thing", "create", "gateway-1")
    described = js(server, "thing", "describe", "sensor-1")
    assert described["attributes"] == {"site": "tokyo"} and described["thingTypeName"] == "Sensor"

    server.iotcreds("thing", "update", "sensor-1", "--attribute", "floor=3", "--merge")
    assert js(server, "thing", "describe", "sensor-1")["attributes"] == {"site": "tokyo", "floor": "3"}
    listing = server.iotcreds("thing", "list").stdout
    assert "sensor-1" in listing and "gateway-1" in listing
    names = [t["thingName"] for t in js(server, "thing", "list", "--type", "Sensor")["things"]]
    assert names == ["sensor-1"]

    server.iotcreds("thing", "delete", "gateway-1")
    assert "ResourceNotFoundException" in fails(server, "thing", "describe", "gateway-1")
    server.iotcreds("thing-type", "deprecate", "Sensor")
    assert js(server, "thing-type", "describe", "Sensor")["thingTypeMetadata"]["deprecated"] is True

    # Errors: a thing that does not exist (AWS code and message), a bad name (field and rule,
    # checked before any request), an attribute without '=' (usage error).
    err = fails(server, "thing", "describe", "NoSuchThing")
    assert "An error occurred (ResourceNotFoundException) when calling the DescribeThing operation" in err
    assert "NoSuchThing" in err
    err = fails(server, "thing", "create", "bad name")
    assert (
        "Value 'bad name' at 'thingName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+"
    ) in err
    proc = server.iotcreds("thing", "create", "x", "--attribute", "novalue", check=False)
    assert proc.returncode == 64 and "expected KEY=VALUE" in proc.stderr
    assert [t["thingName"] for t in js(server, "thing", "list")["things"]] == ["sensor-1"]


def test_cert_commands(server, tmp_path):
    # Text output without --key-out would lose the key: refused before anything is created.
    err = fails(server, "cert", "create")
    assert "--key-out" in err
    assert js(server, "cert", "list")["certificates"] == []

    created = js(
        server, "cert", "create", "--cert-out", "c.pem", "--key-out", "k.pem", "--public-key-out", "pub.pem",
        cwd=tmp_path,
    )
    cert_id = created["certificateId"]
    assert "PrivateKey" not in created["keyPair"]
    assert "PUBLIC KEY" in (tmp_path / "pub.pem").read_text()
    assert mode(tmp_path / "k.pem") == 0o600
    description = js(server, "cert", "describe", cert_id)["certificateDescription"]
    assert description["status"] == "INACTIVE"
    assert server.iotcreds("cert", "describe", cert_id, "--pem").stdout.strip() == (tmp_path / "c.pem").read_text().strip()

    server.iotcreds("cert", "set-status", cert_id, "active")
    assert js(server, "cert", "describe", description["certificateArn"])["certificateDescription"]["status"] == "ACTIVE"
    assert cert_id in server.iotcreds("cert", "list").stdout

    # The id in `pki inspect` is the certificate id the server uses.
    inspected = js(server, "pki", "inspect", str(tmp_path / "c.pem"))["certificates"][0]
    assert inspected["certificateId"] == cert_id

    # A key and CSR made on the device, signed by the server's CA.
    server.iotcreds("pki", "csr", "--cn", "sensor-csr", "--key-out", "d.key", "--csr-out", "d.csr", cwd=tmp_path)
    assert mode(tmp_path / "d.key") == 0o600
    from_csr = js(server, "cert", "from-csr", "--csr", "d.csr", "--active", "--cert-out", "d.pem", cwd=tmp_path)
    assert js(server, "pki", "inspect", str(tmp_path / "d.pem"))["certificates"][0]["subject"] == "CN=sensor-csr"
    assert from_csr["certificateId"] == js(server, "pki", "inspect", str(tmp_path / "d.pem"))["certificates"][0]["certificateId"]

    # Delete needs INACTIVE; then it is gone.
    err = fails(server, "cert", "delete", cert_id)
    assert "CertificateStateException" in err
    server.iotcreds("cert", "set-status", cert_id, "INACTIVE")
    server.iotcreds("cert", "delete", cert_id)
    assert "ResourceNotFoundException" in fails(server, "cert", "describe", cert_id)

    err = fails(server, "cert", "describe", "not-an-id")
    assert "at 'certificateId' failed to satisfy constraint" in err
    proc = server.iotcreds("cert", "set-status", from_csr["certificateId"], "BROKEN", check=False)
    assert proc.returncode == 64 and "ACTIVE" in proc.stderr


def test_policy_commands(server, tmp_path):
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}
    (tmp_path / "p.json").write_text(json.dumps(doc))
    created = js(server, "policy", "create", "DevicePolicy", "--document", "file://p.json", cwd=tmp_path)
    assert created["policyVersionId"] == "1"
    assert json.loads(js(server, "policy", "get", "DevicePolicy")["policyDocument"]) == doc
    assert "DevicePolicy" in server.iotcreds("policy", "list").stdout

    doc2 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Publish", "Resource": "*"}]}
    v2 = js(server, "policy", "versions", "create", "DevicePolicy", "--document", json.dumps(doc2), "--set-default")
    assert v2["policyVersionId"] == "2" and v2["isDefaultVersion"] is True
    versions = js(server, "policy", "versions", "list", "DevicePolicy")["policyVersions"]
    assert sorted(v["versionId"] for v in versions) == ["1", "2"]
    server.iotcreds("policy", "versions", "set-default", "DevicePolicy", "1")
    assert js(server, "policy", "get", "DevicePolicy")["defaultVersionId"] == "1"
    server.iotcreds("policy", "versions", "delete", "DevicePolicy", "2")
    assert json.loads(js(server, "policy", "versions", "get", "DevicePolicy", "1")["policyDocument"]) == doc

    cert = js(server, "cert", "create", "--key-out", "k.pem", cwd=tmp_path)
    server.iotcreds("policy", "attach", "DevicePolicy", "--target", cert["certificateId"])
    attached = js(server, "policy", "list", "--target", cert["certificateArn"])["policies"]
    assert [p["policyName"] for p in attached] == ["DevicePolicy"]
    assert js(server, "policy", "targets", "DevicePolicy")["targets"] == [cert["certificateArn"]]
    err = fails(server, "policy", "delete", "DevicePolicy")
    assert "DeleteConflictException" in err
    server.iotcreds("policy", "detach", "DevicePolicy", "--target", cert["certificateArn"])
    assert js(server, "policy", "list", "--target", cert["certificateId"])["policies"] == []
    server.iotcreds("policy", "delete", "DevicePolicy")
    assert "ResourceNotFoundException" in fails(server, "policy", "get", "DevicePolicy")

    # Malformed: JSON that is not a policy is the server's MalformedPolicyException; text that
    # is not JSON is refused locally.
    bad = {"Version": "2012-10-17", "Statement": [{"Action": "iot:Connect", "Resource": "*"}]}
    err = fails(server, "policy", "create", "Broken", "--document", json.dumps(bad))
    assert "MalformedPolicyException" in err
    err = fails(server, "policy", "create", "Broken", "--document", "{not json")
    assert "not JSON" in err
    err = fails(server, "policy", "create", "bad/name", "--document", json.dumps(doc))
    assert "at 'policyName' failed to satisfy constraint" in err
    assert js(server, "policy", "list")["policies"] == []


def test_role_alias_and_iam_policy_commands(server, tmp_path):
    role = js(server, "role", "create", "FleetRole", "--max-session-duration", "7200", "--description", "fleet")["Role"]
    assert role["MaxSessionDuration"] == 7200
    trust = js(server, "role", "get", "FleetRole")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "credentials.iot.amazonaws.com"}
    assert trust["Statement"][0]["Action"] == "sts:AssumeRole"
    assert "FleetRole" in server.iotcreds("role", "list").stdout

    (tmp_path / "s3.json").write_text(json.dumps(S3_READ))
    server.iotcreds("role", "put-policy", "FleetRole", "S3Read", "--document", str(tmp_path / "s3.json"))
    assert js(server, "role", "get-policy", "FleetRole", "S3Read")["PolicyDocument"] == S3_READ
    managed = js(server, "iam-policy", "create", "FleetLogs", "--document", json.dumps(S3_READ))["Policy"]
    assert managed["Arn"].endswith(":policy/FleetLogs")
    server.iotcreds("role", "attach-policy", "FleetRole", managed["Arn"])
    listed = js(server, "role", "list-policies", "FleetRole")
    assert listed["PolicyNames"] == ["S3Read"]
    assert [p["PolicyArn"] for p in listed["AttachedPolicies"]] == [managed["Arn"]]

    alias = js(server, "role-alias", "create", "FleetAlias", "--role", "FleetRole", "--duration", "900")
    described = js(server, "role-alias", "describe", "FleetAlias")["roleAliasDescription"]
    assert described["roleArn"] == role["Arn"] and described["credentialDurationSeconds"] == 900
    assert described["roleAliasArn"] == alias["roleAliasArn"]
    server.iotcreds("role-alias", "update", "FleetAlias", "--duration", "1800")
    assert js(server, "role-alias", "describe", "FleetAlias")["roleAliasDescription"]["credentialDurationSeconds"] == 1800
    assert js(server, "role-alias", "list")["roleAliases"] == ["FleetAlias"]

    # Errors: the role must exist; durations are checked locally, naming the field and rule.
    err = fails(server, "role-alias", "create", "Other", "--role", "NoSuchRole")
    assert "NoSuchEntity" in err
    err = fails(server, "role-alias", "create", "Other", "--role", "FleetRole", "--duration", "60")
    assert "at 'credentialDurationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900" in err
    err = fails(server, "role", "create", "FleetRole")
    assert "EntityAlreadyExists" in err
    err = fails(server, "role", "put-policy", "FleetRole", "Bad", "--document", json.dumps({"Statement": []}))
    assert "MalformedPolicyDocument" in err

    server.iotcreds("role-alias", "delete", "FleetAlias")
    server.iotcreds("role", "detach-policy", "FleetRole", managed["Arn"])
    server.iotcreds("iam-policy", "delete", managed["Arn"])
    server.iotcreds("role", "delete-policy", "FleetRole", "S3Read")
    server.iotcreds("role", "delete", "FleetRole")
    assert "NoSuchEntity" in fails(server, "role", "get", "FleetRole")
    assert js(server, "role-alias", "list")["roleAliases"] == []


def test_user_commands_and_whoami(server, tmp_path):
    admin = js(server, "whoami")
    assert admin["Arn"] == f"arn:aws:iam::{admin['Account']}:root"

    user = js(server, "user", "create", "ci-uploader")["User"]
    assert user["Arn"].endswith(":user/ci-uploader")
    out = server.iotcreds("user", "create-access-key", "ci-uploader").stdout
    fields = text_fields(out)
    key = {"AccessKeyId": fields["AccessKeyId"], "SecretAccessKey": fields["SecretAccessKey"]}
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    who = json.loads(cli("whoami", "--output", "json", server=server, creds=key).stdout)
    assert who["Arn"] == user["Arn"]

    # Written to a credentials file instead: the secret is not printed.
    out = server.iotcreds("user", "create-access-key", "ci-uploader", "--credentials-out", "u.creds", cwd=tmp_path).stdout
    assert "SecretAccessKey" not in out
    assert mode(tmp_path / "u.creds") == 0o600
    other_dir = tmp_path / "as-user"
    other_dir.mkdir()
    (other_dir / "admin-credentials").write_text((tmp_path / "u.creds").read_text())
    os.chmod(other_dir / "admin-credentials", 0o600)
    proc = cli("whoami", "--output", "json", env={"IOTCREDS_ENDPOINT_URL": server.api_url, "IOTCREDS_DATA_DIR": str(other_dir)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Arn"] == user["Arn"]
    # A credentials file others can read is refused.
    os.chmod(other_dir / "admin-credentials", 0o644)
    proc = cli("whoami", env={"IOTCREDS_ENDPOINT_URL": server.api_url, "IOTCREDS_DATA_DIR": str(other_dir)})
    assert proc.returncode == 1 and "readable by group or others" in proc.stderr

    server.iotcreds("user", "put-policy", "ci-uploader", "Upload", "--document", json.dumps(S3_READ))
    assert js(server, "user", "list-policies", "ci-uploader")["PolicyNames"] == ["Upload"]
    keys = js(server, "user", "list-access-keys", "ci-uploader")["AccessKeyMetadata"]
    assert len(keys) == 2
    assert "ci-uploader" in server.iotcreds("user", "list").stdout
    assert "DeleteConflict" in fails(server, "user", "delete", "ci-uploader")
    for k in keys:
        server.iotcreds("user", "delete-access-key", "ci-uploader", k["AccessKeyId"])
    server.iotcreds("user", "delete-policy", "ci-uploader", "Upload")
    server.iotcreds("user", "delete", "ci-uploader")
    assert js(server, "user", "list")["Users"] == []
    err = fails(server, "user", "create", "no spaces")
    assert "at 'userName' failed to satisfy constraint" in err


# -- local commands ----------------------------------------------------------------------------


def test_policy_simulate_decisions_and_exit_codes(tmp_path):
    allow = tmp_path / "allow.json"
    allow.write_text(json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{BUCKET}/${{credentials-iot:ThingName}}/*"}],
    }))
    deny = tmp_path / "deny.json"
    deny.write_text(json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}/*/secret/*"}],
    }))
    base = ["policy", "simulate", "--policy", str(allow), str(deny), "--action", "s3:GetObject",
            "--context", f"credentials-iot:ThingName={THING}"]

    proc = cli(*base, "--resource", f"arn:aws:s3:::{BUCKET}/{THING}/log.txt")
    assert proc.returncode == 0, proc.stderr
    assert "Decision: allowed" in proc.stdout and 'Sid "Read"' in proc.stdout

    proc = cli(*base, "--resource", f"arn:aws:s3:::{BUCKET}/{THING}/secret/key", "--output", "json")
    assert proc.returncode == 2, proc.stderr
    result = json.loads(proc.stdout)
    assert result["EvalDecision"] == "explicitDeny"
    assert [m["Sid"] for m in result["MatchedStatements"]] == ["NoSecrets"]

    proc = cli(*base, "--resource", f"arn:aws:s3:::{BUCKET}/other-thing/log.txt")
    assert proc.returncode == 2
    assert "Decision: implicitDeny" in proc.stdout

    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "credentials.iot.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }))
    ok = cli("policy", "simulate", "--kind", "trust", "--policy", str(trust), "--action", "sts:AssumeRole",
             "--principal-service", "credentials.iot.amazonaws.com")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    other = cli("policy", "simulate", "--kind", "trust", "--policy", str(trust), "--action", "sts:AssumeRole",
                "--principal-arn", "arn:aws:iam::123456789012:user/mallory")
    assert other.returncode == 2

    broken = tmp_path / "broken.json"
    broken.write_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}')
    proc = cli("policy", "simulate", "--policy", str(broken), "--action", "s3:GetObject")
    assert proc.returncode == 1 and "MalformedPolicyDocument" in proc.stderr
    proc = cli("policy", "simulate", "--action", "s3:GetObject")
    assert proc.returncode == 64 and "--policy" in proc.stderr


def test_pki_helpers_with_a_ca_of_our_own(server, tmp_path):
    seed(server, tmp_path)

    ca = js(server, "pki", "ca", "--cert-out", "ca.pem", "--key-out", "ca.key", "--cn", "Fleet CA", cwd=tmp_path)
    assert ca["isCa"] is True and ca["subject"].startswith("CN=Fleet CA")
    assert mode(tmp_path / "ca.key") == 0o600

    # A verification certificate with the wrong code is refused; with the code, the CA registers.
    server.iotcreds("pki", "verification-cert", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--code", "0" * 64,
                    "--cert-out", "wrong.pem", cwd=tmp_path)
    err = fails(server, "ca", "register", "--cert", "ca.pem", "--verification-cert", "wrong.pem", cwd=tmp_path)
    assert "RegistrationCodeValidationException" in err
    code = server.iotcreds("ca", "registration-code").stdout.strip()
    assert len(code) == 64
    server.iotcreds("pki", "verification-cert", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--code", code,
                    "--cert-out", "verification.pem", "--key-out", "verification.key", cwd=tmp_path)
    registered = js(server, "ca", "register", "--cert", "ca.pem", "--verification-cert", "verification.pem", "--active",
                    cwd=tmp_path)
    assert registered["certificateId"] == ca["certificateId"]
    assert js(server, "ca", "describe", registered["certificateId"])["certificateDescription"]["status"] == "ACTIVE"
    assert [c["certificateId"] for c in js(server, "ca", "list")["certificates"]] == [ca["certificateId"]]

    # A device certificate from that CA, registered, then usable with curl.
    device = js(server, "pki", "device", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cn", "sensor-7",
                "--cert-out", "sensor.pem", "--key-out", "sensor.key", cwd=tmp_path)
    assert device["subject"] == "CN=sensor-7" and device["notAfter"] == "2049-12-31T23:59:59Z"
    assert mode(tmp_path / "sensor.key") == 0o600
    cert = js(server, "cert", "register", "--cert", "sensor.pem", "--ca-cert", "ca.pem", "--active", cwd=tmp_path)
    assert cert["certificateId"] == device["certificateId"]
    by_ca = js(server, "cert", "list", "--ca", ca["certificateId"])["certificates"]
    assert [c["certificateId"] for c in by_ca] == [cert["certificateId"]]
    server.iotcreds("policy", "attach", POLICY, "--target", cert["certificateId"])
    server.iotcreds("thing", "create", "sensor-7")
    server.iotcreds("thing", "attach-cert", "sensor-7", cert["certificateArn"])
    status, _, body = server.curl_credentials(tmp_path / "sensor.pem", tmp_path / "sensor.key", ALIAS, "sensor-7")
    assert status == 200, body
    assert set(json.loads(body)["credentials"]) == CREDENTIAL_FIELDS

    # Without a registered CA (SNI_ONLY), from a CA the server does not know.
    server.iotcreds("pki", "ca", "--cert-out", "other-ca.pem", "--key-out", "other-ca.key", cwd=tmp_path)
    server.iotcreds("pki", "device", "--ca-cert", "other-ca.pem", "--ca-key", "other-ca.key", "--cn", "loner",
                    "--key-type", "rsa", "--days", "30", "--cert-out", "loner.pem", "--key-out", "loner.key", cwd=tmp_path)
    loner = js(server, "cert", "register", "--cert", "loner.pem", "--without-ca", cwd=tmp_path)
    described = js(server, "cert", "describe", loner["certificateId"])["certificateDescription"]
    assert described["certificateMode"] == "SNI_ONLY" and described["status"] == "INACTIVE"

    # A CA key that does not belong to the CA certificate is refused locally.
    err = fails(server, "pki", "device", "--ca-cert", "ca.pem", "--ca-key", "other-ca.key", "--cn", "x",
                "--cert-out", "x.pem", "--key-out", "x.key", cwd=tmp_path)
    assert "does not match" in err
    assert not (tmp_path / "x.key").exists()


def test_device_credentials_for_aws_cli_credential_process(server, tmp_path):
    cert_id = seed(server, tmp_path)
    endpoint = server.iotcreds("endpoint").stdout.strip()
    device = [
        BIN, "device", "credentials", "--endpoint", endpoint,
        "--cert", str(tmp_path / "cert.pem"), "--key", str(tmp_path / "private.key"), "--ca", server.root_ca,
        "--role-alias", ALIAS, "--thing", THING,
    ]
    proc = cli(*device[1:])
    assert proc.returncode == 0, proc.stderr
    process = json.loads(proc.stdout)
    assert set(process) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert process["Version"] == 1 and process["AccessKeyId"].startswith("ASIA")

    env_lines = cli(*device[1:], "--format", "env").stdout.splitlines()
    assert [line.split("=", 1)[0] for line in env_lines] == [
        "export AWS_ACCESS_KEY_ID", "export AWS_SECRET_ACCESS_KEY", "export AWS_SESSION_TOKEN",
        "export AWS_CREDENTIAL_EXPIRATION",
    ]
    raw = json.loads(cli(*device[1:], "--format", "json").stdout)
    assert set(raw["credentials"]) == CREDENTIAL_FIELDS

    # aws-cli runs the helper itself through credential_process.
    config = tmp_path / "aws-config"
    config.write_text(f"[profile device]\ncredential_process = {shlex.join(device)}\nregion = {REGION}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IOTCREDS_"))}
    env.update({
        "AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_PROFILE": "device", "AWS_EC2_METADATA_DISABLED": "true",
    })
    proc = subprocess.run(
        [AWS, "sts", "get-caller-identity", "--endpoint-url", server.api_url, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Arn"].endswith(f":assumed-role/{ROLE}/{cert_id}")

    # Server errors: status and message, non-zero exit.
    proc = cli(*device[1:-2], "--thing", "NotMyThing")
    assert proc.returncode == 1
    assert "403" in proc.stderr and "Invalid thing name passed" in proc.stderr
    # An alias the certificate's IoT policy does not cover is refused before it is looked up.
    proc = cli(*[a if a != ALIAS else "NoSuchAlias" for a in device[1:]])
    assert proc.returncode == 1 and "403" in proc.stderr and "Access Denied" in proc.stderr


# -- operations --------------------------------------------------------------------------------


def test_keys_rotate_keeps_old_credentials_and_seals_new_ones(server, tmp_path):
    cert_id = seed(server, tmp_path)
    cert, key = tmp_path / "cert.pem", tmp_path / "private.key"
    status, _, body = server.curl_credentials(cert, key, ALIAS, THING)
    assert status == 200, body
    before = temp_creds(body)
    old_key = sealing_key_id(before["AccessKeyId"])

    rotated = js(server, "keys", "rotate")
    new_key = rotated["activeKeyId"]
    assert new_key != old_key and rotated["previousKeyId"] == old_key
    listed = js(server, "keys", "list")["keys"]
    assert {k["keyId"]: k["active"] for k in listed} == {old_key: False, new_key: True}
    assert "material" not in json.dumps(listed).lower()

    # The running server picks the new key up (it polls the registry generation).
    def fresh():
        s, _, b = server.curl_credentials(cert, key, ALIAS, THING)
        assert s == 200, b
        c = temp_creds(b)
        return c if sealing_key_id(c["AccessKeyId"]) == new_key else None

    after = poll_until(fresh, "credentials sealed with the new key")

    # Credentials issued before the rotation still work, with iotcreds and with aws-cli.
    for creds in (before, after):
        proc = cli("whoami", "--output", "json", server=server, creds=creds)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["Arn"].endswith(f":assumed-role/{ROLE}/{cert_id}")
    assert server.aws("sts", "get-caller-identity", creds=before)["Arn"].endswith(f"/{cert_id}")

    err = fails(server, "keys", "rotate", "--data-dir", str(tmp_path / "nowhere"))
    assert "no registry at" in err
    assert not (tmp_path / "nowhere").exists()


REVOCATION_LIMIT_S = 1.0


def refusal_code(call):
    """The AWS error code `call()` raises, or None if it succeeds."""
    import botocore.exceptions
    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    return None


def temp_clients(server, creds):
    from botocore.config import Config
    cfg = Config(retries={"max_attempts": 0}, s3={"addressing_style": "path"}, signature_version="s3v4")
    return {name: server.boto3_client(name, creds=creds, config=cfg) for name in ("sts", "iot", "s3")}


def test_keys_revoke_refuses_every_credential_of_the_key_within_a_second(server, tmp_path):
    """SQLite: `iotcreds keys revoke` in another process; the running server notices by polling."""
    cert_id = seed(server, tmp_path)
    cert, key = tmp_path / "cert.pem", tmp_path / "private.key"
    status, _, body = server.curl_credentials(cert, key, ALIAS, THING)
    assert status == 200, body
    before = temp_creds(body)
    old_key = sealing_key_id(before["AccessKeyId"])
    c = temp_clients(server, before)
    assert c["sts"].get_caller_identity()["Arn"].endswith(f"/{cert_id}")  # opened and remembered

    revoked = js(server, "keys", "revoke", str(old_key))
    started = time.monotonic()
    assert revoked["revokedKeyId"] == old_key and not revoked["alreadyRevoked"]
    new_key = revoked["rotatedTo"]
    assert new_key not in (None, old_key), "the active key was revoked: a new one was rotated in first"
    assert revoked["activeKeyId"] == new_key and old_key not in revoked["keyIds"]

    # Refused within a second of the revocation, with AWS's answer to an invalidated token.
    poll_until(lambda: refusal_code(c["sts"].get_caller_identity) is not None, "STS refusal", timeout=5)
    took = time.monotonic() - started
    print(f"\nrevoked key {old_key}: refused by the server after {took * 1000:.0f} ms")
    assert took <= REVOCATION_LIMIT_S
    assert refusal_code(c["sts"].get_caller_identity) == "InvalidClientTokenId"
    assert refusal_code(c["iot"].list_things) == "UnrecognizedClientException"
    assert refusal_code(lambda: c["s3"].list_objects_v2(Bucket=BUCKET)) == "InvalidToken"
    proc = cli("whoami", server=server, creds=before)
    assert proc.returncode == 1 and "InvalidClientTokenId" in proc.stderr

    # The audit log names the revoked key, never the token.
    events = server.wait_for_audit(
        lambda ev: len([e for e in ev if e.get("revoked_key_id") == old_key]) >= 4)
    refusals = [e for e in events if e.get("revoked_key_id") == old_key]
    assert all(e["decision"] == "deny" and f"sealing key {old_key} is revoked" in e["reason"] for e in refusals)
    assert {e["access_key_id"] for e in refusals} == {before["AccessKeyId"]}
    log = "\n".join(server.lines)
    assert before["SessionToken"] not in log and before["SecretAccessKey"] not in log

    # Issuance goes on with the new key, whose credentials work.
    status, _, body = server.curl_credentials(cert, key, ALIAS, THING)
    assert status == 200, body
    after = temp_creds(body)
    assert sealing_key_id(after["AccessKeyId"]) == new_key
    assert temp_clients(server, after)["sts"].get_caller_identity()["Arn"].endswith(f"/{cert_id}")

    listed = {k["keyId"]: k for k in js(server, "keys", "list")["keys"]}
    assert listed[old_key]["revokedAt"] and not listed[old_key]["active"]
    assert listed[new_key]["active"] and listed[new_key]["revokedAt"] is None
    again = js(server, "keys", "revoke", str(old_key))
    assert again["alreadyRevoked"] and again["rotatedTo"] is None
    assert "no token-sealing key 999" in fails(server, "keys", "revoke", "999")
    proc = server.iotcreds("keys", "revoke", "0", check=False)
    assert proc.returncode == 64 and "0 is not in 1..=65535" in proc.stderr, "key ids start at 1 (usage error)"


def test_migrate_and_keys_on_postgres(postgres_database):
    db_url = postgres_database
    first = json.loads(cli("migrate", "--registry-url", db_url, "--output", "json").stdout)
    assert first == {"engine": "postgres", "applied": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
    again = json.loads(cli("migrate", "--registry-url", db_url, "--output", "json").stdout)
    assert again["applied"] == []
    assert json.loads(cli("keys", "list", "--registry-url", db_url, "--output", "json").stdout) == {"keys": []}
    # Rotation does not bootstrap a registry no server has used.
    proc = cli("keys", "rotate", "--registry-url", db_url)
    assert proc.returncode == 1 and "never been used by a server" in proc.stderr


def test_migrate_sqlite_data_dir(server):
    out = js(server, "migrate")
    assert out["engine"] == "sqlite" and out["path"].endswith("registry.db")
    proc = cli("migrate", "--registry-url", "mysql://x/y")
    assert proc.returncode == 1 and "sqlite://PATH or postgres://" in proc.stderr


def test_help_lists_every_group():
    out = cli("--help").stdout
    for group in ["serve", "endpoint", "whoami", "thing", "thing-type", "cert", "ca", "policy", "role", "iam-policy",
                  "role-alias", "user", "pki", "keys", "migrate", "device"]:
        assert f"\n  {group} " in out, group
    assert "simulate" in cli("policy", "--help").stdout


def test_https_endpoint_with_a_ca_bundle(server, tmp_path):
    # A second server whose service endpoint also speaks TLS, with the first one's
    # credentials-endpoint certificate (issued for localhost by the first server's CA).
    tls = server.data_dir / "tls"
    second = Server(tmp_path / "second", extra_args=[
        "--api-tls-cert", str(tls / "credentials.pem"), "--api-tls-key", str(tls / "credentials.key"),
    ])
    try:
        port = second.api_addr.rsplit(":", 1)[1]
        env = {"IOTCREDS_ENDPOINT_URL": f"https://localhost:{port}", "IOTCREDS_DATA_DIR": str(second.data_dir)}
        proc = cli("whoami", "--output", "json", "--ca-bundle", server.root_ca, env=env)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["Arn"].endswith(":root")
        # Without the bundle the system roots do not know that CA.
        proc = cli("whoami", env=env)
        assert proc.returncode == 1 and "--ca-bundle" in proc.stderr, proc.stderr
    finally:
        second.stop()


def test_unreachable_endpoint_is_explained(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "admin-credentials").write_text("[default]\naws_access_key_id = AKIAX\naws_secret_access_key = s\n")
    os.chmod(data / "admin-credentials", 0o600)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = cli("thing", "list", env={"IOTCREDS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "IOTCREDS_DATA_DIR": str(data)})
    assert proc.returncode == 1
    assert "cannot reach the service endpoint" in proc.stderr and "IOTCREDS_ENDPOINT_URL" in proc.stderr
    proc = cli("thing", "list", env={"IOTCREDS_DATA_DIR": str(tmp_path / "none")})
    assert proc.returncode == 1 and "no credentials" in proc.stderr
