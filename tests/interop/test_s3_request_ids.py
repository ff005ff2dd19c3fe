"""S3 request ids, as the S3 API reference's common response headers and error responses describe:
every S3 answer carries `x-amz-request-id` and `x-amz-id-2`, different for every request; an
error body carries the same two as `<RequestId>` and `<HostId>`; the audit line of a refused
request names its request id. Driven with boto3, requests (presigned URLs and form uploads) and
curl, on the embedded store and through an upstream (moto), whose own ids must not leak out."""

import base64
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BUCKET, REGION, Moto, Server
from seed import device_credentials, seed_with_aws_cli

REQUEST_ID = re.compile(r"^[0-9A-F]{16}$")

# Presigned URLs with SigV4 (botocore may otherwise presign with SigV2 for a custom endpoint).
SIGV4 = Config(signature_version="s3v4")


def check_ids(metadata):
    """The (RequestId, HostId) boto3 read off an answer, checked for S3's shapes."""
    request_id, host_id = metadata["RequestId"], metadata["HostId"]
    assert REQUEST_ID.match(request_id), request_id
    assert len(base64.b64decode(host_id, validate=True)) == 24, host_id
    return request_id, host_id


def error_ids(resp):
    """An error answer's ids, checked to be the same in its headers and its body."""
    root = ET.fromstring(resp.content)
    assert root.tag == "Error", resp.text
    assert root.findtext("RequestId") == resp.headers["x-amz-request-id"], resp.text
    assert root.findtext("HostId") == resp.headers["x-amz-id-2"], resp.text
    # AWS writes them last, once each.
    assert [c.tag for c in root][-2:] == ["RequestId", "HostId"], resp.text
    return check_ids({"RequestId": root.findtext("RequestId"), "HostId": root.findtext("HostId")})


def start(tmp_path, upstream=None):
    if upstream is None:
        return Server(tmp_path / "data")
    config = upstream.write_config(tmp_path / "iotcreds.toml")
    return Server(tmp_path / "data", extra_args=["--config", str(config)], upstream=upstream)


@pytest.fixture(params=["embedded", "upstream-moto"])
def backend(request, tmp_path):
    """A server on the embedded store, or keeping objects in moto; yields (server, moto or None)."""
    moto = Moto(tmp_path / "moto.log") if request.param == "upstream-moto" else None
    server = start(tmp_path, moto)
    try:
        yield server, moto
    finally:
        server.stop()
        if moto:
            moto.stop()


def test_every_answer_has_its_own_ids(backend, tmp_path):
    server, _ = backend
    device = seed_with_aws_cli(server, tmp_path / "setup")
    admin = server.boto3_client("s3")
    seen = []
    seen.append(admin.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}))
    seen.append(admin.put_object(Bucket=BUCKET, Key="test.txt", Body=b"Hello from adc-test-2020-08-26\n"))
    seen.append(admin.head_bucket(Bucket=BUCKET))
    seen.append(admin.list_objects_v2(Bucket=BUCKET))
    seen.append(admin.copy_object(Bucket=BUCKET, Key="copy.txt", CopySource={"Bucket": BUCKET, "Key": "test.txt"}))
    upload = admin.create_multipart_upload(Bucket=BUCKET, Key="big.bin")
    seen.append(upload)
    part = admin.upload_part(Bucket=BUCKET, Key="big.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 10)
    seen.append(part)
    seen.append(admin.complete_multipart_upload(
        Bucket=BUCKET, Key="big.bin", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}))
    # The device's reads: a plain whole-object GET (the embedded store's fast path), a ranged GET
    # and a HEAD (s3s).
    s3 = server.boto3_client("s3", creds=device_credentials(server, device))
    seen.append(s3.get_object(Bucket=BUCKET, Key="test.txt"))
    seen.append(s3.get_object(Bucket=BUCKET, Key="test.txt", Range="bytes=0-4"))
    seen.append(s3.head_object(Bucket=BUCKET, Key="test.txt"))
    seen.append(admin.delete_object(Bucket=BUCKET, Key="copy.txt"))
    ids = [check_ids(r["ResponseMetadata"]) for r in seen]
    assert len({r for r, _ in ids}) == len(ids), ids
    # One instance: every x-amz-id-2 names it.
    assert len({base64.b64decode(h)[:16] for _, h in ids}) == 1


def test_errors_carry_the_ids_of_their_headers(backend, tmp_path):
    server, moto = backend
    device = seed_with_aws_cli(server, tmp_path / "setup")
    admin = server.boto3_client("s3")
    admin.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3 = server.boto3_client("s3", creds=device_credentials(server, device), config=SIGV4)

    # boto3 reads the ids of an error from its headers.
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=BUCKET, Key="missing.txt")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    check_ids(e.value.response["ResponseMetadata"])
    # A HEAD error has no body; the headers still name the request.
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=BUCKET, Key="missing.txt")
    check_ids(e.value.response["ResponseMetadata"])

    # The bodies, read raw: from the backend (NoSuchKey, also through moto, whose own ids must
    # not show), from the policy engine (AccessDenied), from the signature check
    # (SignatureDoesNotMatch) and from the checks before any of them (a forged security token).
    missing = requests.get(s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "missing.txt"}),
                           timeout=30)
    assert missing.status_code == 404
    ids = [error_ids(missing)]
    denied = requests.put(s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "x.txt"}),
                          data=b"no", timeout=30)
    assert denied.status_code == 403, denied.text
    assert ET.fromstring(denied.content).findtext("Code") == "AccessDenied"
    ids.append(error_ids(denied))
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "test.txt"})
    forged = requests.get(re.sub(r"X-Amz-Signature=[0-9a-f]{64}", "X-Amz-Signature=" + "0" * 64, url), timeout=30)
    assert forged.status_code == 403
    assert ET.fromstring(forged.content).findtext("Code") == "SignatureDoesNotMatch"
    ids.append(error_ids(forged))
    wrong_service = requests.get(f"{server.api_url}/{BUCKET}", timeout=30, headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261206/ap-northeast-1/ec2/aws4_request, "
                         "SignedHeaders=host, Signature=" + "0" * 64})
    assert wrong_service.status_code == 403
    ids.append(error_ids(wrong_service))
    assert len({r for r, _ in ids}) == len(ids)
    if moto:
        upstream_ids = moto.client().list_objects_v2(Bucket=f"fleet-{BUCKET}")["ResponseMetadata"]["RequestId"]
        assert upstream_ids not in {r for r, _ in ids}

    # The audit line of the refused PutObject names the request id its client saw.
    denied_id = ids[1][0]
    server.wait_for_audit(lambda events: any(
        e.get("event") == "authorize" and e.get("request_id") == denied_id and e.get("action") == "s3:PutObject"
        for e in events))


def test_anonymous_and_form_refusals_carry_ids(server, tmp_path):
    """Refusals written before a signature is read: an anonymous GET (curl) and an anonymous form
    upload (requests)."""
    server.boto3_client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    out = subprocess.run(["curl", "-sS", "-D", "-", f"{server.api_url}/{BUCKET}/test.txt"], capture_output=True,
                         timeout=30, check=True).stdout.decode()
    head, body = out.split("\r\n\r\n", 1)
    headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
    headers = {k.lower(): v for k, v in headers.items()}
    assert head.startswith("HTTP/1.1 403"), out
    root = ET.fromstring(body)
    assert root.findtext("Code") == "AccessDenied"
    assert root.findtext("RequestId") == headers["x-amz-request-id"]
    assert root.findtext("HostId") == headers["x-amz-id-2"]

    form = requests.post(f"{server.api_url}/{BUCKET}", data={"key": "ADCTestThing/x.txt"},
                         files={"file": ("x.txt", b"anonymous")}, timeout=30)
    assert form.status_code == 403, form.text
    anonymous_form = error_ids(form)
    server.wait_for_audit(lambda events: any(
        e.get("event") == "authenticate" and e.get("request_id") == anonymous_form[0] for e in events))


def test_the_ids_reach_aws_cli(server, tmp_path):
    """aws-cli's --debug prints the response headers it parsed; both ids are there."""
    server.aws("s3", "mb", f"s3://{BUCKET}")
    proc = server.aws("s3api", "list-objects-v2", "--bucket", BUCKET, "--debug", check=False)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"'x-amz-request-id': '[0-9A-F]{16}'", proc.stderr), proc.stderr[-3000:]
    assert re.search(r"'x-amz-id-2': '[A-Za-z0-9+/=]{32}'", proc.stderr), proc.stderr[-3000:]

