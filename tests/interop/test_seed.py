"""The seed flow end to end with real clients: set-up with aws-cli v1 (and with boto3), the
device's curl (step 5), then `aws s3 cp`, `aws s3 ls` and the seed's Python script (step 6).

Every test runs three times: with objects in the embedded store, and with objects in an upstream
S3 server started by the test (moto; the s3s project's s3s-fs) that the gateway calls with its
own service key, device bucket B being upstream bucket `fleet-B`."""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from conftest import BUCKET, REGION, Moto, S3sFs, Server
from seed import device_credentials, make_bucket_with_test_file, seed_with_aws_cli, seed_with_boto3


@pytest.fixture(params=["fs", "upstream", "upstream-s3s-fs"])
def server(request, tmp_path):
    upstream, args = None, []
    if request.param == "upstream":
        upstream = Moto(tmp_path / "moto.log")
    elif request.param == "upstream-s3s-fs":
        upstream = S3sFs(tmp_path / "s3s-fs", tmp_path / "s3s-fs.log")
    if upstream:
        args = ["--config", str(upstream.write_config(tmp_path / "iotcreds.toml"))]
    s = Server(tmp_path / "data", extra_args=args, upstream=upstream)
    yield s
    s.stop()
    if upstream:
        upstream.stop()


def assert_stored_where_configured(server, keys):
    """With an upstream, the objects are in the upstream bucket and not in the data directory."""
    if server.upstream is None:
        return
    stored = server.upstream.keys(f"fleet-{BUCKET}")
    assert set(keys) <= set(stored), stored
    objects = server.data_dir / "objects"
    assert not objects.exists() or not [p for p in objects.rglob("*") if p.is_file()]
    startup = next(json.loads(l) for l in server.lines if '"iotcreds is serving"' in l)
    assert startup["objects"] == "upstream"


def test_seed_with_aws_cli_then_curl_then_aws_s3(server, tmp_path):
    device = seed_with_aws_cli(server, tmp_path / "setup")
    assert device["endpoint"] == f"localhost:{server.credentials_port}"
    content = make_bucket_with_test_file(server, tmp_path)

    # Step 5: exactly the seed's curl.
    status, headers, body = server.curl_credentials(device["cert"], device["key"], "ADCTestRoleAlias", "ADCTestThing")
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    assert "x-amzn-requestid" in headers and "date" in headers
    creds = json.loads(body)["credentials"]
    assert sorted(creds) == ["accessKeyId", "expiration", "secretAccessKey", "sessionToken"]
    device_creds = {"AccessKeyId": creds["accessKeyId"], "SecretAccessKey": creds["secretAccessKey"],
                    "SessionToken": creds["sessionToken"]}

    # Step 6: aws s3 cp and aws s3 ls with the three values exported.
    out = tmp_path / "download"
    out.mkdir()
    server.aws("s3", "cp", f"s3://{BUCKET}/test.txt", ".", creds=device_creds, cwd=str(out))
    assert (out / "test.txt").read_bytes() == content
    listing = server.aws("s3", "ls", f"s3://{BUCKET}", creds=device_creds, check=False)
    assert listing.returncode == 0, listing.stderr
    assert "test.txt" in listing.stdout

    # Anything the role does not allow is AccessDenied.
    up = server.aws("s3", "cp", str(out / "test.txt"), f"s3://{BUCKET}/uploaded.txt", creds=device_creds, check=False)
    assert up.returncode != 0 and "AccessDenied" in up.stderr, up.stderr
    other = server.aws("s3", "ls", "s3://another-bucket", creds=device_creds, check=False)
    assert other.returncode != 0 and "AccessDenied" in other.stderr, other.stderr
    buckets = server.aws("s3", "ls", creds=device_creds, check=False)
    assert buckets.returncode != 0 and "AccessDenied" in buckets.stderr, buckets.stderr
    # The refused upload wrote nothing.
    assert "uploaded.txt" not in server.aws("s3", "ls", f"s3://{BUCKET}", check=False).stdout

    # Who am I: the assumed role, named after the certificate; and no IAM rights.
    me = server.aws("sts", "get-caller-identity", creds=device_creds)
    assert me["Arn"].endswith(f":assumed-role/ADCTestRole/{device['certificate_id']}")
    denied = server.aws("iam", "create-role", "--role-name", "Sneaky", "--assume-role-policy-document",
                        f"file://{tmp_path / 'setup' / 'trust.json'}", creds=device_creds, check=False)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr, denied.stderr
    assert_stored_where_configured(server, ["test.txt"])


SEED_SCRIPT = r'''
import json, sys
import boto3, requests

endpoint, api, ca, cert, key, bucket, region, out = sys.argv[1:9]
resp = requests.get(f"https://{endpoint}/role-aliases/ADCTestRoleAlias/credentials",
                    cert=(cert, key), verify=ca, headers={"x-amzn-iot-thingname": "ADCTestThing"})
resp.raise_for_status()
c = resp.json()["credentials"]
s3 = boto3.resource("s3", endpoint_url=api, region_name=region,
                    aws_access_key_id=c["accessKeyId"], aws_secret_access_key=c["secretAccessKey"],
                    aws_session_token=c["sessionToken"])
s3.Bucket(bucket).download_file("test.txt", out)
try:
    s3.Bucket(bucket).put_object(Key="from-device.txt", Body=b"nope")
    print("UPLOAD-ALLOWED")
except Exception as e:
    print("UPLOAD-REFUSED", e.response["Error"]["Code"])
'''


def test_seed_python_script_with_requests_and_boto3(server, tmp_path):
    """The seed's Python flow: requests with the certificate, then boto3 download_file; only
    endpoint_url and the CA added."""
    device = seed_with_boto3(server, tmp_path / "setup")
    content = make_bucket_with_test_file(server, tmp_path)
    script = tmp_path / "device.py"
    script.write_text(SEED_SCRIPT)
    out = tmp_path / "test.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    proc = subprocess.run([sys.executable, str(script), device["endpoint"], server.api_url, server.root_ca,
                           str(device["cert"]), str(device["key"]), BUCKET, REGION, str(out)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == content
    assert proc.stdout.strip() == "UPLOAD-REFUSED AccessDenied"
    assert_stored_where_configured(server, ["test.txt"])


def test_upload_role_copies_50_mb_with_multipart_and_reads_it_back(server, tmp_path):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
                                           "s3:ListMultipartUploadParts"], "Resource": f"arn:aws:s3:::{BUCKET}/*"},
        ],
    }
    device = seed_with_aws_cli(server, tmp_path / "setup", role_policy=policy)
    server.aws("s3", "mb", f"s3://{BUCKET}")
    creds = device_credentials(server, device)
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for i in range(50):
            f.write(hashlib.sha256(str(i).encode()).digest() * (1 << 15))  # 1 MiB per step, 50 MiB
    server.aws("s3", "cp", str(big), f"s3://{BUCKET}/big.bin", creds=creds)
    head = server.aws("s3api", "head-object", "--bucket", BUCKET, "--key", "big.bin", creds=creds)
    assert head["ContentLength"] == 50 << 20
    assert head["ETag"].strip('"').endswith("-7"), head["ETag"]  # aws-cli: 8 MiB parts → 7 parts
    back = tmp_path / "back.bin"
    server.aws("s3", "cp", f"s3://{BUCKET}/big.bin", str(back), creds=creds)
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(big.read_bytes()).digest()
    assert_stored_where_configured(server, ["big.bin"])
    if server.upstream:
        # No multipart upload is left open upstream.
        assert not server.upstream.open_uploads(f"fleet-{BUCKET}")


def test_per_thing_prefixes_with_aws_cli(server, tmp_path):
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                       "Resource": f"arn:aws:s3:::{BUCKET}/${{credentials-iot:ThingName}}/*"}],
    }
    first = seed_with_aws_cli(server, tmp_path / "one", role_policy=policy, thing="Thing1", policy="Policy1",
                              alias="ADCTestRoleAlias")
    # A second device of the same fleet: same role and alias, its own thing and certificate.
    iot = server.boto3_client("iot")
    iot.create_thing(thingName="Thing2")
    cert = iot.create_keys_and_certificate(setAsActive=True)
    (tmp_path / "c2.pem").write_text(cert["certificatePem"])
    (tmp_path / "k2.pem").write_text(cert["keyPair"]["PrivateKey"])
    iot.attach_policy(policyName="Policy1", target=cert["certificateArn"])
    iot.attach_thing_principal(thingName="Thing2", principal=cert["certificateArn"])
    second = dict(first, cert=tmp_path / "c2.pem", key=tmp_path / "k2.pem", thing="Thing2")
    server.aws("s3", "mb", f"s3://{BUCKET}")
    note = tmp_path / "note.txt"
    note.write_text("mine\n")
    for device in (first, second):
        creds = device_credentials(server, device)
        own = f"s3://{BUCKET}/{device['thing']}/note.txt"
        server.aws("s3", "cp", str(note), own, creds=creds)
        server.aws("s3", "cp", own, str(tmp_path / f"{device['thing']}.txt"), creds=creds)
        other = "Thing2" if device["thing"] == "Thing1" else "Thing1"
        denied = server.aws("s3", "cp", str(note), f"s3://{BUCKET}/{other}/evil.txt", creds=creds, check=False)
        assert denied.returncode != 0 and "AccessDenied" in denied.stderr, denied.stderr
        denied = server.aws("s3", "cp", f"s3://{BUCKET}/{other}/note.txt", str(tmp_path / "x"), creds=creds, check=False)
        assert denied.returncode != 0 and ("403" in denied.stderr or "AccessDenied" in denied.stderr), denied.stderr
    assert_stored_where_configured(server, ["Thing1/note.txt", "Thing2/note.txt"])
