"""Browser-form uploads (S3 POST Object) and multi-object deletes, driven with boto3 and requests.

A device's role allows S3 only under its thing's prefix. A form upload is decided on the key it
writes, with its POST policy's signature and conditions enforced; every refusal carries AWS's
error and stores nothing. DeleteObjects is decided on each key. Anonymous form floods cost the
server its field budget, not the size of their files."""

import json
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BUCKET, REGION, Moto, Server
from seed import device_credentials, seed_with_aws_cli

THING = "ADCTestThing"

# The role: everything under its own prefix, and listing that prefix.
PREFIX_ROLE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}/${{credentials-iot:ThingName}}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}",
         "Condition": {"StringLike": {"s3:prefix": ["${credentials-iot:ThingName}/*"]}}},
    ],
}


# botocore signs presigned POSTs for a custom endpoint with SigV2 unless told otherwise; iotcreds,
# like every AWS region opened since 2014, accepts SigV4 only.
SIGV4 = Config(signature_version="s3v4")


def setup(server, tmp_path):
    """The seed with the prefix role; the bucket, with another thing's object in it (root)."""
    device = seed_with_aws_cli(server, tmp_path / "setup", role_policy=PREFIX_ROLE)
    admin = server.boto3_client("s3")
    admin.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    admin.put_object(Bucket=BUCKET, Key="OtherThing/log.txt", Body=b"the other thing's log")
    creds = device_credentials(server, device)
    return device, creds, server.boto3_client("s3", creds=creds, config=SIGV4), admin


def error(resp):
    """(status, code, message) of an S3 XML error answer."""
    root = ET.fromstring(resp.content)
    return resp.status_code, root.findtext("Code"), root.findtext("Message")


def absent(admin, key):
    with pytest.raises(ClientError) as e:
        admin.head_object(Bucket=BUCKET, Key=key)
    return e.value.response["Error"]["Code"] in ("404", "NoSuchKey")


def test_boto3_presigned_post_end_to_end(server, tmp_path):
    _, _, s3, admin = setup(server, tmp_path)
    post = s3.generate_presigned_post(
        BUCKET, f"{THING}/${{filename}}",
        Fields={"Content-Type": "text/plain", "x-amz-meta-source": "form", "success_action_status": "201"},
        Conditions=[{"Content-Type": "text/plain"}, {"x-amz-meta-source": "form"}, {"success_action_status": "201"},
                    ["content-length-range", 1, 1024]],
        ExpiresIn=600,
    )
    assert post["url"] == f"{server.api_url}/{BUCKET}"
    resp = requests.post(post["url"], data=post["fields"], files={"file": ("C:\\logs\\reading.txt", b"21.5 C\n")},
                         timeout=30)
    assert resp.status_code == 201, resp.text
    doc = ET.fromstring(resp.content)
    assert doc.tag == "PostResponse"
    assert doc.findtext("Bucket") == BUCKET
    assert doc.findtext("Key") == f"{THING}/reading.txt"
    assert doc.findtext("ETag") == resp.headers["ETag"]
    assert doc.findtext("Location") == f"{server.api_url}/{BUCKET}/{THING}%2Freading.txt"
    got = s3.get_object(Bucket=BUCKET, Key=f"{THING}/reading.txt")
    assert got["Body"].read() == b"21.5 C\n"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"source": "form"}
    assert got["ETag"] == resp.headers["ETag"]

    # The default answer (204), and the redirect S3 sends for success_action_redirect.
    post = s3.generate_presigned_post(BUCKET, f"{THING}/plain.bin")
    resp = requests.post(post["url"], data=post["fields"], files={"file": ("x", b"\x00\x01")}, timeout=30)
    assert resp.status_code == 204, resp.text
    assert resp.headers["ETag"] == admin.head_object(Bucket=BUCKET, Key=f"{THING}/plain.bin")["ETag"]
    done = "https://app.example/uploaded?from=form"
    post = s3.generate_presigned_post(BUCKET, f"{THING}/redirected.txt", Fields={"success_action_redirect": done},
                                      Conditions=[["starts-with", "$success_action_redirect", "https://app.example/"]])
    resp = requests.post(post["url"], data=post["fields"], files={"file": ("r.txt", b"r")}, timeout=30,
                         allow_redirects=False)
    assert resp.status_code == 303, resp.text
    etag = admin.head_object(Bucket=BUCKET, Key=f"{THING}/redirected.txt")["ETag"]
    assert resp.headers["Location"] == (
        f"{done}&bucket={BUCKET}&key={THING}%2Fredirected.txt&etag=" + etag.replace('"', "%22"))


def test_every_policy_violation_is_refused_and_stores_nothing(server, tmp_path):
    device, creds, s3, admin = setup(server, tmp_path)
    key = f"{THING}/${{filename}}"
    sent = f"{THING}/refused.txt"

    def form(fields=None, conditions=None, expires=600, key=key):
        return s3.generate_presigned_post(BUCKET, key, Fields=fields, Conditions=conditions, ExpiresIn=expires)

    def post(p, data=None, file=b"content", drop=(), add=None):
        fields = {k: v for k, v in p["fields"].items() if k not in drop}
        fields.update(data or {})
        fields.update(add or {})
        return requests.post(p["url"], data=fields, files={"file": ("refused.txt", file)}, timeout=30)

    other_session = device_credentials(server, device)
    bad_signature = form()["fields"]["x-amz-signature"]
    bad_signature = bad_signature[:-1] + ("0" if bad_signature[-1] != "0" else "1")
    cases = [
        ("expired policy", form(expires=-1), {}, (), b"content",
         (403, "AccessDenied", "Invalid according to Policy: Policy expired.")),
        ("key outside the signed prefix", form(), {"key": "OtherThing/log.txt"}, (), b"content",
         (403, "AccessDenied", f'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "{THING}/"]')),
        ("content larger than the range", form(conditions=[["content-length-range", 1, 10]]), {}, (), b"x" * 11,
         (400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")),
        ("content smaller than the range", form(conditions=[["content-length-range", 5, 10]]), {}, (), b"x",
         (400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")),
        ("a field the policy does not cover", form(), {"x-amz-meta-extra": "1"}, (), b"content",
         (403, "AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-extra")),
        ("a condition the form does not meet", form(fields={"Content-Type": "text/plain"},
                                                    conditions=[["starts-with", "$Content-Type", "text/"]]),
         {"Content-Type": "application/x-sh"}, (), b"content",
         (403, "AccessDenied", 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", "text/"]')),
        ("bad signature", form(), {"x-amz-signature": bad_signature}, (), b"content",
         (403, "SignatureDoesNotMatch", None)),
        ("token of another session", form(), {"x-amz-security-token": other_session["SessionToken"]}, (), b"content",
         (400, "InvalidToken", "The provided token is malformed or otherwise invalid.")),
        ("no policy", form(), {}, ("policy",), b"content",
         (400, "InvalidArgument", "Bucket POST must contain a field named 'Policy'.  If it is specified, please check the order of the fields.")),
        ("no session token", form(), {}, ("x-amz-security-token",), b"content",
         (403, "InvalidAccessKeyId", None)),
        ("anonymous", form(), {}, ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature", "policy",
                                   "x-amz-security-token"), b"content",
         (403, "AccessDenied", "Access Denied")),
    ]
    # botocore's default for a custom endpoint: a SigV2 form.
    v2 = server.boto3_client("s3", creds=creds).generate_presigned_post(BUCKET, key)
    assert "signature" in v2["fields"] and "x-amz-signature" not in v2["fields"]
    cases.append(("SigV2", v2, {}, (), b"content",
                  (400, "InvalidRequest",
                   "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")))
    for what, p, data, drop, file, (status, code, message) in cases:
        resp = post(p, data=data, drop=drop, file=file)
        got = error(resp)
        assert got[:2] == (status, code), f"{what}: {resp.text}"
        if message is not None:
            assert got[2] == message, f"{what}: {resp.text}"
        assert absent(admin, sent), what
    # The other thing's object, addressed directly with a policy the device signed itself: the
    # policy allows it, the role does not.
    resp = post(form(key="OtherThing/log.txt"), file=b"overwritten")
    assert error(resp) == (403, "AccessDenied", "Access Denied"), resp.text
    assert admin.get_object(Bucket=BUCKET, Key="OtherThing/log.txt")["Body"].read() == b"the other thing's log"
    denied = server.wait_for_audit(lambda es: any(
        e.get("action") == "s3:PutObject" and e.get("resource") == f"arn:aws:s3:::{BUCKET}/OtherThing/log.txt"
        for e in es))
    assert not any(e.get("action") == "s3:PostObject" for e in denied)


def test_delete_objects_is_decided_on_each_key(server, tmp_path):
    _, _, s3, admin = setup(server, tmp_path)
    for k in (f"{THING}/a.txt", f"{THING}/b.txt"):
        s3.put_object(Bucket=BUCKET, Key=k, Body=b"mine")
    out = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [
        {"Key": f"{THING}/a.txt"}, {"Key": "OtherThing/log.txt"}, {"Key": f"{THING}/b.txt"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == [f"{THING}/a.txt", f"{THING}/b.txt"]
    assert out["Errors"] == [{"Key": "OtherThing/log.txt", "Code": "AccessDenied", "Message": "Access Denied"}]
    assert admin.get_object(Bucket=BUCKET, Key="OtherThing/log.txt")["Body"].read() == b"the other thing's log"
    assert absent(admin, f"{THING}/a.txt") and absent(admin, f"{THING}/b.txt")
    # Only foreign keys, quietly: nothing deleted, every key reported.
    out = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "OtherThing/log.txt"}], "Quiet": True})
    assert out.get("Deleted") is None
    assert [e["Code"] for e in out["Errors"]] == ["AccessDenied"]
    assert admin.get_object(Bucket=BUCKET, Key="OtherThing/log.txt")["Body"].read() == b"the other thing's log"


def test_form_uploads_and_deletes_through_the_upstream_backend(tmp_path):
    """The same decisions when objects live in an upstream S3 cluster (moto)."""
    moto = Moto(tmp_path / "moto.log")
    server = Server(tmp_path / "data", extra_args=["--config", str(moto.write_config(tmp_path / "iotcreds.toml"))],
                    upstream=moto)
    try:
        _, _, s3, admin = setup(server, tmp_path)
        post = s3.generate_presigned_post(BUCKET, f"{THING}/${{filename}}", Fields={"success_action_status": "201"},
                                          Conditions=[{"success_action_status": "201"}, ["content-length-range", 1, 64]])
        resp = requests.post(post["url"], data=post["fields"], files={"file": ("up.txt", b"upstream form")}, timeout=30)
        assert resp.status_code == 201, resp.text
        assert s3.get_object(Bucket=BUCKET, Key=f"{THING}/up.txt")["Body"].read() == b"upstream form"
        assert f"{THING}/up.txt" in moto.keys(f"fleet-{BUCKET}")
        post = s3.generate_presigned_post(BUCKET, "OtherThing/log.txt")
        resp = requests.post(post["url"], data=post["fields"], files={"file": ("x", b"overwritten")}, timeout=30)
        assert error(resp) == (403, "AccessDenied", "Access Denied"), resp.text
        out = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": f"{THING}/up.txt"},
                                                                   {"Key": "OtherThing/log.txt"}]})
        assert [d["Key"] for d in out["Deleted"]] == [f"{THING}/up.txt"]
        assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("OtherThing/log.txt", "AccessDenied")]
        assert admin.get_object(Bucket=BUCKET, Key="OtherThing/log.txt")["Body"].read() == b"the other thing's log"
    finally:
        server.stop()
        moto.stop()


# ----- the memory of form floods ---------------------------------------------------------------

ATTACKERS = 8
FILE_SIZE = 512 << 20
POST_LIMIT = 8 << 20  # [limits] post_object_max_bytes of the attacked server
ATTEMPTS = 6  # per attacker
ATTACK_SECONDS = 60


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def flood_once(addr, bucket, fields, chunked):
    """One form POST of FILE_SIZE zero bytes, sent as fast as the server reads; returns the
    status line the server answered (or None if it closed without one)."""
    host, port = addr.rsplit(":", 1)
    boundary = "floodboundary0123456789"
    head = b""
    for name, value in fields.items():
        head += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'.encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    total = len(head) + FILE_SIZE + len(tail)
    request = (f"POST /{bucket} HTTP/1.1\r\nHost: {addr}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\n").encode()
    request += b"Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n".encode()
    zeros = bytes(256 << 10)

    def frame(b):
        return b"%x\r\n%s\r\n" % (len(b), b) if chunked else b

    s = socket.create_connection((host, int(port)), timeout=30)
    try:
        s.sendall(request + frame(head))
        sent = 0
        while sent < FILE_SIZE:
            s.sendall(frame(zeros))
            sent += len(zeros)
        s.sendall(frame(tail) + (b"0\r\n\r\n" if chunked else b""))
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    try:
        s.settimeout(10)
        answer = s.recv(4096)
    except (ConnectionResetError, socket.timeout):
        answer = b""
    finally:
        s.close()
    line = answer.split(b"\r\n", 1)[0].decode(errors="replace")
    return line or None


def test_form_floods_cost_the_field_budget_not_the_file(tmp_path):
    config = tmp_path / "iotcreds.toml"
    config.write_text(f"[limits]\npost_object_max_bytes = {POST_LIMIT}\n")
    server = Server(tmp_path / "data", extra_args=["--config", str(config)])
    try:
        device, creds, s3, admin = setup(server, tmp_path)
        # Warm up: every path the attack and the legitimate client take, once.
        s3.put_object(Bucket=BUCKET, Key=f"{THING}/warm.txt", Body=b"warm")
        s3.get_object(Bucket=BUCKET, Key=f"{THING}/warm.txt")["Body"].read()
        foreign = s3.generate_presigned_post(BUCKET, "OtherThing/${filename}")["fields"]
        assert flood_once(server.api_addr, BUCKET, {"key": "x"}, chunked=True) is not None
        idle = rss_kib(server.proc.pid)

        kinds = [({"key": "anonymous/${filename}"}, False),  # anonymous, declared 512 MiB
                 ({"key": "anonymous/${filename}"}, True),   # anonymous, chunked
                 (foreign, True)]                             # signed, for another thing's key
        answers = []
        peak = [idle]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(server.proc.pid))
                stop.wait(0.02)  # sampling interval

        def attacker(i):
            fields, chunked = kinds[i % len(kinds)]
            deadline = time.monotonic() + ATTACK_SECONDS
            for _ in range(ATTEMPTS):
                if time.monotonic() > deadline:
                    break
                answers.append(flood_once(server.api_addr, BUCKET, fields, chunked))

        sampler = threading.Thread(target=sample)
        sampler.start()
        threads = [threading.Thread(target=attacker, args=(i,)) for i in range(ATTACKERS)]
        for t in threads:
            t.start()
        # A legitimate device during the attack: a PUT, a GET and a form upload all succeed.
        s3.put_object(Bucket=BUCKET, Key=f"{THING}/during.txt", Body=b"during the flood")
        assert s3.get_object(Bucket=BUCKET, Key=f"{THING}/during.txt")["Body"].read() == b"during the flood"
        ok = s3.generate_presigned_post(BUCKET, f"{THING}/form-during.txt")
        resp = requests.post(ok["url"], data=ok["fields"], files={"file": ("f", b"form during the flood")}, timeout=60)
        assert resp.status_code == 204, resp.text
        for t in threads:
            t.join(ATTACK_SECONDS + 60)
        stop.set()
        sampler.join()

        assert len(answers) == ATTACKERS * ATTEMPTS
        refused = [a for a in answers if a is not None]
        assert all(re.match(r"HTTP/1\.1 (400|403) ", a) for a in refused), answers
        grown_kib = peak[0] - idle
        print(f"\nform flood: {ATTACKERS} attackers x {ATTEMPTS} POSTs of {FILE_SIZE >> 20} MiB: "
              f"idle RSS {idle} KiB, peak {peak[0]} KiB, growth {grown_kib} KiB "
              f"(limit post_object_max_bytes = {POST_LIMIT >> 10} KiB)")
        assert grown_kib * 1024 <= POST_LIMIT, f"RSS grew by {grown_kib} KiB"
        # Every attempt reached the server and was refused there: anonymous ones before their
        # file (declared ones before their body), signed ones at the policy decision.
        per_kind = [sum(1 for i in range(ATTACKERS) if i % len(kinds) == k) * ATTEMPTS for k in range(len(kinds))]
        server.wait_for_audit(lambda es: sum(e.get("reason") == "anonymous form upload" for e in es) >= per_kind[1]
                              and sum(e.get("action") == "s3:PutObject"
                                      and e.get("resource") == f"arn:aws:s3:::{BUCKET}/OtherThing/big.bin"
                                      for e in es) >= per_kind[2])
        assert absent(admin, "anonymous/big.bin")
        assert admin.get_object(Bucket=BUCKET, Key="OtherThing/log.txt")["Body"].read() == b"the other thing's log"
    finally:
        server.stop()
