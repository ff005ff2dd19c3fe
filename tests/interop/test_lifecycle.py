"""The server as a process: SIGTERM drains in-flight requests and exits 0; a SIGKILL during a
large PUT or a multipart completion leaves the previous object intact and no partial object or
temporary file; audit lines name every decision and never a secret."""

import hashlib
import http.client
import urllib.parse
import pathlib
import signal
import threading

import pytest
import requests

from conftest import BUCKET, REGION, Server
from seed import device_credentials, seed_with_aws_cli


def s3(server):
    from botocore.config import Config
    # Presigned URLs must be SigV4 (iotcreds refuses SigV2, which boto3 still picks by default
    # for presigning against a custom endpoint).
    return server.boto3_client("s3", config=Config(signature_version="s3v4", retries={"max_attempts": 0},
                                                   connect_timeout=5, read_timeout=30))


def make_bucket(client):
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})


def leftovers(data_dir):
    """Temporary files of the object store (there must be none after a restart)."""
    tmp = pathlib.Path(data_dir) / "objects" / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


def test_sigterm_drains_in_flight_requests_and_exits_zero(tmp_path):
    server = Server(tmp_path / "data")
    client = s3(server)
    make_bucket(client)
    body = b"z" * (32 << 20)
    client.put_object(Bucket=BUCKET, Key="big", Body=body)
    # Start a download, read its first bytes, then ask the server to stop.
    resp = client.get_object(Bucket=BUCKET, Key="big")["Body"]
    first = resp.read(1 << 20)
    server.proc.send_signal(signal.SIGTERM)
    rest = resp.read()
    assert len(first) + len(rest) == len(body)
    assert server.proc.wait(60) == 0
    # The listeners are closed.
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{server.admin_addr}/healthz", timeout=5)


def test_sigkill_during_a_large_put_leaves_the_previous_object(tmp_path):
    server = Server(tmp_path / "data")
    client = s3(server)
    make_bucket(client)
    client.put_object(Bucket=BUCKET, Key="firmware.bin", Body=b"version 1\n")
    url = urllib.parse.urlsplit(
        client.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "firmware.bin"}, ExpiresIn=300))
    sent = threading.Event()
    total = 512 << 20

    def upload():
        # A 512 MiB PUT streamed 1 MiB at a time with an exact Content-Length.
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        try:
            conn.putrequest("PUT", f"{url.path}?{url.query}")
            conn.putheader("Content-Length", str(total))
            conn.endheaders()
            chunk = b"v2" * (1 << 19)
            for i in range(total // len(chunk)):
                if i == 16:
                    sent.set()
                conn.send(chunk)
        except OSError:
            pass
        finally:
            conn.close()

    t = threading.Thread(target=upload)
    t.start()
    assert sent.wait(60), "upload never started"
    server.stop(signal.SIGKILL)
    t.join(60)
    server = Server(tmp_path / "data")
    try:
        client = s3(server)
        assert client.get_object(Bucket=BUCKET, Key="firmware.bin")["Body"].read() == b"version 1\n"
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        assert keys == ["firmware.bin"]
        assert leftovers(tmp_path / "data") == []
    finally:
        server.stop()


def test_sigkill_during_multipart_completion_leaves_old_or_new_never_partial(tmp_path):
    server = Server(tmp_path / "data")
    client = s3(server)
    make_bucket(client)
    client.put_object(Bucket=BUCKET, Key="image.bin", Body=b"old image\n")
    parts, digests = [], hashlib.sha256()
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="image.bin")["UploadId"]
    for n in range(1, 9):
        data = bytes([n]) * (16 << 20)
        digests.update(data)
        etag = client.upload_part(Bucket=BUCKET, Key="image.bin", UploadId=upload, PartNumber=n, Body=data)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    url = urllib.parse.urlsplit(client.generate_presigned_url(
        "complete_multipart_upload", Params={"Bucket": BUCKET, "Key": "image.bin", "UploadId": upload}, ExpiresIn=300))
    xml = ("<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{p['PartNumber']}</PartNumber><ETag>{p['ETag']}</ETag></Part>" for p in parts
    ) + "</CompleteMultipartUpload>").encode()
    started = threading.Event()

    def complete():
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        try:
            conn.request("POST", f"{url.path}?{url.query}", body=xml, headers={"Content-Length": str(len(xml))})
            started.set()
            conn.getresponse().read()
        except OSError:
            pass
        finally:
            started.set()
            conn.close()

    t = threading.Thread(target=complete)
    t.start()
    # Kill as soon as the request is sent, while the 128 MiB object is being assembled.
    assert started.wait(60)
    server.stop(signal.SIGKILL)
    t.join(60)
    server = Server(tmp_path / "data")
    try:
        client = s3(server)
        got = client.get_object(Bucket=BUCKET, Key="image.bin")["Body"].read()
        assert got == b"old image\n" or hashlib.sha256(got).digest() == digests.digest(), f"partial object: {len(got)} bytes"
        assert leftovers(tmp_path / "data") == []
        if got == b"old image\n":
            # The upload is still there and can be completed (or aborted).
            client.complete_multipart_upload(Bucket=BUCKET, Key="image.bin", UploadId=upload, MultipartUpload={"Parts": parts})
            again = client.get_object(Bucket=BUCKET, Key="image.bin")["Body"].read()
            assert hashlib.sha256(again).digest() == digests.digest()
    finally:
        server.stop()


def test_audit_lines_name_decisions_and_never_a_secret(server, tmp_path):
    device = seed_with_aws_cli(server, tmp_path / "setup")
    creds = device_credentials(server, device)
    status, _, _ = server.curl_credentials(device["cert"], device["key"], "NoSuchAlias", device["thing"])
    assert status == 403
    status, _, _ = server.curl_credentials(device["cert"], device["key"], "ADCTestRoleAlias", "NotMyThing")
    assert status == 403
    def credentials_events(events):
        return [e for e in events if e.get("event") == "credentials"]

    # The allow and both refusals (alias not allowed, thing not attached).
    events = credentials_events(server.wait_for_audit(lambda ev: len(credentials_events(ev)) >= 3))
    allow = [e for e in events if e["decision"] == "allow"]
    deny = [e for e in events if e["decision"] == "deny"]
    assert allow and allow[-1]["access_key_id"] == creds["AccessKeyId"]
    assert allow[-1]["certificate_id"] == device["certificate_id"] and allow[-1]["thing"] == "ADCTestThing"
    assert allow[-1]["role_alias"] == "ADCTestRoleAlias" and allow[-1]["request_id"]
    reasons = {e["reason"] for e in deny}
    assert any("no statement allows" in r or "implicitDeny" in r for r in reasons), reasons
    assert any("not attached" in r for r in reasons), reasons
    # A denied S3 call names the principal and the action.
    server.aws("s3", "ls", "s3://another-bucket", creds=creds, check=False)
    def s3_list_denials(events):
        return [e for e in events if e.get("event") == "authorize" and e["action"] == "s3:ListBucket"]

    s3_denials = s3_list_denials(server.wait_for_audit(lambda ev: s3_list_denials(ev)))
    assert s3_denials and s3_denials[-1]["principal"].endswith(device["certificate_id"])
    # Never a secret anywhere in the log.
    log = "\n".join(server.lines)
    assert creds["SecretAccessKey"] not in log
    assert creds["SessionToken"] not in log
    assert server.admin["SecretAccessKey"] not in log
    assert "PRIVATE KEY" not in log
