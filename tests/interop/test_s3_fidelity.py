"""S3 edges as the S3 API reference states them, with boto3 and aws-cli, on the embedded store and,
where the gateway decides, through an upstream (moto, which answers some of them differently: the
gateway keeps S3's rules whatever its upstream does).

- ListObjects/ListObjectsV2: an empty delimiter is no delimiter and is not echoed; an empty
  continuation token is refused with InvalidArgument; paginators visit every key once.
- CompleteMultipartUpload retried after it succeeded (SDKs retry a Complete whose answer was
  lost) answers 200 with the same ETag; parts uploaded out of order or sent twice still complete;
  a retry after the object changed, or with another part list, is NoSuchUpload.
- Conditional CompleteMultipartUpload (If-None-Match: *, If-Match), as S3 supports since 2024:
  412 PreconditionFailed when the condition does not hold, nothing changed; of concurrent
  conditional Completes of one key exactly one wins.
- A part number beyond the object's parts answers 416 InvalidPartNumber; a body that does not
  match its Content-MD5 or x-amz-checksum-* answers 400 BadDigest and stores nothing.
- A PUT refused on its headers while the client is still sending the body (no Expect:
  100-continue) gets its 403, not a connection reset; one that waits for 100 Continue gets its
  403 and a closed connection, so its unsent body is never confused with the next request; and
  one refused before its body arrives is told `Connection: close`, so a keep-alive client does
  not send its next request into a closing connection. An accepted PUT keeps its connection.
- An expired presigned URL answers 403 AccessDenied "Request has expired".
- User metadata outside US-ASCII: RFC 2047 encoded words are decoded before storing and values
  that are not US-ASCII come back as one UTF-8 B word, as the S3 User Guide states, through
  PutObject, multipart uploads and CopyObject.
- GetObjectAttributes answers only the attributes asked for; ObjectParts of a multipart object
  page by MaxParts/PartNumberMarker with each part's size and checksum."""

import base64
import datetime
import email.header
import hashlib
import socket
import subprocess
import threading
import urllib.parse
from unittest import mock

import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import BUCKET, REGION, Server, read_answer

KEYS = ["ADCTestThing/a.txt", "ADCTestThing/b/c.txt", "top.txt"]


@pytest.fixture
def s3(s3_backend):
    """The administrator's boto3 S3 client, the bucket holding KEYS; yields (server, client)."""
    client = s3_backend.boto3_client("s3")
    for key in KEYS:
        client.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    return s3_backend, client


def test_an_empty_delimiter_is_no_delimiter_and_is_not_echoed(s3):
    _, client = s3
    for listing in (client.list_objects_v2(Bucket=BUCKET, Delimiter=""),
                    client.list_objects(Bucket=BUCKET, Delimiter="")):
        assert "Delimiter" not in listing, listing
        assert [o["Key"] for o in listing["Contents"]] == KEYS
        assert "CommonPrefixes" not in listing
    grouped = client.list_objects_v2(Bucket=BUCKET, Delimiter="/")
    assert grouped["Delimiter"] == "/"
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["ADCTestThing/"]


def test_bucket_names_follow_one_rule_on_both_backends(s3):
    """S3's general purpose bucket naming rules, the same on the embedded store and through an
    upstream: the reserved prefixes and suffixes are refused as AWS refuses them."""
    server, client = s3
    for name in ["xn--adc-test", "sthree-adc-test", "amzn-s3-demo-adc", "adc-test-s3alias", "adc-test--ol-s3",
                 "adc.mrap", "adc-test--table-s3", "adc..test", "192.168.5.4"]:
        # (Not `--x-s3`: botocore sends directory-bucket names to S3 Express's own endpoints.)
        with pytest.raises(ClientError) as e:
            client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        assert e.value.response["Error"]["Code"] == "InvalidBucketName", (name, e.value.response)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    names = [b["Name"] for b in client.list_buckets()["Buckets"]]
    assert names == [BUCKET]
    client.create_bucket(Bucket="adc-test.2020-08-27", CreateBucketConfiguration={"LocationConstraint": REGION})
    client.delete_bucket(Bucket="adc-test.2020-08-27")


def test_an_empty_continuation_token_is_refused(s3):
    _, client = s3
    with pytest.raises(ClientError) as e:
        client.list_objects_v2(Bucket=BUCKET, ContinuationToken="")
    err = e.value.response["Error"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert (err["Code"], err["Message"]) == ("InvalidArgument", "The continuation token provided is incorrect")


def test_paging_with_the_tokens_we_give_visits_every_key_once(s3):
    server, client = s3
    pages = list(client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, PaginationConfig={"PageSize": 1}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == KEYS
    assert [p["KeyCount"] for p in pages] == [1, 1, 1]
    # aws-cli pages the same way.
    out = server.aws("s3api", "list-objects-v2", "--bucket", BUCKET, "--page-size", "1")
    assert [o["Key"] for o in out["Contents"]] == KEYS


MIB5 = 5 * 1024 * 1024


def test_a_retried_complete_answers_as_the_first(tmp_path):
    server = Server(tmp_path / "data")
    try:
        client = server.boto3_client("s3")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        key = "ADCTestThing/firmware.bin"
        upload = client.create_multipart_upload(Bucket=BUCKET, Key=key, ChecksumAlgorithm="CRC32")["UploadId"]
        # Part 2 first, then part 1 twice (a retried UploadPart): the last one counts.
        etag2 = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=2, Body=b"2" * 10,
                                   ChecksumAlgorithm="CRC32")["ETag"]
        client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"0" * MIB5,
                           ChecksumAlgorithm="CRC32")
        part1 = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"1" * MIB5,
                                   ChecksumAlgorithm="CRC32")
        parts = {"Parts": [{"PartNumber": 1, "ETag": part1["ETag"], "ChecksumCRC32": part1["ChecksumCRC32"]},
                           {"PartNumber": 2, "ETag": etag2}]}
        first = client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload=parts)
        again = client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload=parts)
        for field in ("ETag", "ChecksumCRC32", "ChecksumType", "Key", "Bucket"):
            assert again.get(field) == first.get(field), field
        assert first["ETag"].endswith('-2"')
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert body == b"1" * MIB5 + b"2" * 10
        # Another part list is not the completed upload.
        with pytest.raises(ClientError) as e:
            client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload,
                                             MultipartUpload={"Parts": parts["Parts"][:1]})
        assert e.value.response["Error"]["Code"] == "NoSuchUpload"
        # Once the object is overwritten, the upload is gone for good.
        client.put_object(Bucket=BUCKET, Key=key, Body=b"newer")
        with pytest.raises(ClientError) as e:
            client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload=parts)
        assert e.value.response["Error"]["Code"] == "NoSuchUpload"
        assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"newer"
        # An upload id that never was answers NoSuchUpload, whatever the object's parts.
        with pytest.raises(ClientError) as e:
            client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId="made-up", MultipartUpload=parts)
        assert e.value.response["Error"]["Code"] == "NoSuchUpload"
    finally:
        server.stop()



def one_part_upload(client, key, body):
    """An open upload of `key` with one part; returns (upload id, parts)."""
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etag = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=body)["ETag"]
    return upload, {"Parts": [{"PartNumber": 1, "ETag": etag}]}


def test_conditional_completes(tmp_path):
    server = Server(tmp_path / "data")
    try:
        client = server.boto3_client("s3")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        key = "ADCTestThing/config.json"
        first, first_parts = one_part_upload(client, key, b"first")
        done = client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=first, MultipartUpload=first_parts,
                                                IfNoneMatch="*")
        second, second_parts = one_part_upload(client, key, b"second")
        for condition in ({"IfNoneMatch": "*"}, {"IfMatch": '"0123456789abcdef0123456789abcdef"'}):
            with pytest.raises(ClientError) as e:
                client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=second,
                                                 MultipartUpload=second_parts, **condition)
            assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
            assert e.value.response["Error"]["Code"] == "PreconditionFailed"
            assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"first"
        replaced = client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=second,
                                                    MultipartUpload=second_parts, IfMatch=done["ETag"])
        assert replaced["ETag"] != done["ETag"]
        assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"second"
        # If-Match on a key that does not exist: nothing to match.
        third, third_parts = one_part_upload(client, "ADCTestThing/absent.json", b"third")
        with pytest.raises(ClientError) as e:
            client.complete_multipart_upload(Bucket=BUCKET, Key="ADCTestThing/absent.json", UploadId=third,
                                             MultipartUpload=third_parts, IfMatch=done["ETag"])
        assert e.value.response["Error"]["Code"] in ("NoSuchKey", "PreconditionFailed")
    finally:
        server.stop()


def test_concurrent_conditional_completes_have_one_winner(tmp_path):
    """Six writers race to create the same key with If-None-Match: *; one wins, the others are refused
    (412, or 409 ConditionalRequestConflict), and the object is the winner's."""
    server = Server(tmp_path / "data")
    try:
        client = server.boto3_client("s3")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        key = "ADCTestThing/lock"
        uploads = [one_part_upload(client, key, f"writer {i}".encode()) for i in range(6)]
        start = threading.Barrier(len(uploads))
        outcomes = [None] * len(uploads)

        def complete(i):
            own = server.boto3_client("s3")
            upload, parts = uploads[i]
            start.wait()
            try:
                own.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload=parts,
                                              IfNoneMatch="*")
                outcomes[i] = "won"
            except ClientError as e:
                outcomes[i] = e.response["Error"]["Code"]

        threads = [threading.Thread(target=complete, args=(i,)) for i in range(len(uploads))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert outcomes.count("won") == 1, outcomes
        assert set(outcomes) - {"won"} <= {"PreconditionFailed", "ConditionalRequestConflict"}, outcomes
        winner = outcomes.index("won")
        assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == f"writer {winner}".encode()
    finally:
        server.stop()


def test_part_numbers_and_digests(tmp_path):
    server = Server(tmp_path / "data")
    try:
        client = server.boto3_client("s3")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        key = "ADCTestThing/firmware.bin"
        upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        parts = []
        for n, body in ((1, b"a" * MIB5), (2, b"b" * 10)):
            etag = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=n, Body=body)["ETag"]
            parts.append({"PartNumber": n, "ETag": etag})
        client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
        assert client.get_object(Bucket=BUCKET, Key=key, PartNumber=2)["Body"].read() == b"b" * 10
        assert client.head_object(Bucket=BUCKET, Key=key, PartNumber=1)["ContentLength"] == MIB5
        with pytest.raises(ClientError) as e:
            client.get_object(Bucket=BUCKET, Key=key, PartNumber=3)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
        assert e.value.response["Error"]["Code"] == "InvalidPartNumber"

        wrong_md5 = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
        wrong_sha = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
        for kwargs in ({"ContentMD5": wrong_md5}, {"ChecksumSHA256": wrong_sha}):
            with pytest.raises(ClientError) as e:
                client.put_object(Bucket=BUCKET, Key="ADCTestThing/reading.txt", Body=b"21.5 C", **kwargs)
            assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, kwargs
            assert e.value.response["Error"]["Code"] == "BadDigest", kwargs
        assert "Contents" not in client.list_objects_v2(Bucket=BUCKET, Prefix="ADCTestThing/reading")
    finally:
        server.stop()


def signed_put_headers(server, access_key, secret, key, length):
    """SigV4 headers of a PUT with UNSIGNED-PAYLOAD: the signature covers the headers only, so
    the decision needs no body byte."""
    url = f"{server.api_url}/{BUCKET}/{key}"
    req = AWSRequest(method="PUT", url=url, headers={"Content-Length": str(length)})
    req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    S3SigV4Auth(Credentials(access_key, secret), "s3", REGION).add_auth(req)
    return dict(req.headers.items())


def put_as_http_client_does(server, headers, body):
    """A PUT as Python's http.client (requests, urllib3) sends it: no Expect: 100-continue, the
    whole body written before the answer is read. Returns (the answer, the error the upload
    met, if any): a reset would show as the upload's ConnectionResetError or BrokenPipeError,
    which http.client hides and urllib3 turns into "Remote end closed connection"."""
    u = urllib.parse.urlsplit(server.api_url)
    head = f"PUT /{BUCKET}/{headers.pop('_key')} HTTP/1.1\r\nHost: {u.netloc}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "host") + "\r\n"
    upload_error = None
    with socket.create_connection((u.hostname, u.port), timeout=60) as s:
        try:
            s.sendall(head.encode())
            view = memoryview(body)
            for at in range(0, len(body), 1 << 20):
                s.sendall(view[at:at + (1 << 20)])
        except OSError as e:
            upload_error = e
        answer = b""
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except OSError as e:
            upload_error = upload_error or e
    return answer, upload_error


def test_a_put_refused_before_its_body_is_read_still_gets_its_answer(s3):
    """The gateway refuses these PUTs on their headers and never reads their 32 MiB bodies; it
    closes the connection after the 403, reading and dropping what the client still sends, so
    the client, busy uploading, finishes without a reset and reads the 403 and its code, then a
    clean end of stream (before, the upload met a connection reset, and SDKs would retry it)."""
    server, client = s3
    iam = server.boto3_client("iam")
    iam.create_user(UserName="ADCTestOutsider")
    outsider = iam.create_access_key(UserName="ADCTestOutsider")["AccessKey"]
    body = b"x" * (32 << 20)  # more than the sockets' buffers on loopback hold
    key = "ADCTestThing/refused.bin"
    cases = [
        (outsider["AccessKeyId"], outsider["SecretAccessKey"], "AccessDenied"),
        (server.admin["AccessKeyId"], "not-the-secret", "SignatureDoesNotMatch"),
    ]
    for access_key, secret, code in cases:
        headers = signed_put_headers(server, access_key, secret, key, len(body))
        answer, upload_error = put_as_http_client_does(server, {**headers, "_key": key}, body)
        assert upload_error is None, (upload_error, answer[:300])
        assert answer.startswith(b"HTTP/1.1 403 Forbidden\r\n"), answer[:300]
        assert f"<Code>{code}</Code>".encode() in answer, answer[:500]
    with pytest.raises(ClientError) as e:
        client.head_object(Bucket=BUCKET, Key=key)
    assert e.value.response["Error"]["Code"] == "404"
    # The same upload from a client that may make it is stored.
    headers = signed_put_headers(server, server.admin["AccessKeyId"], server.admin["SecretAccessKey"], key, len(body))
    requests.put(f"{server.api_url}/{BUCKET}/{key}", data=body, headers=headers, timeout=60).raise_for_status()
    assert client.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(body)


def test_a_put_waiting_for_100_continue_and_refused_closes_its_connection(s3):
    """botocore sends PutObject with Expect: 100-continue and, answered without a 100, never
    sends the body and may reuse the connection. The gateway closes that connection after such
    an answer: had it kept it open for the body, the client's next request would be read as that
    body and answered 400 with no S3 error (boto3 saw that about once in ten refused uploads)."""
    server, client = s3
    iam = server.boto3_client("iam")
    iam.create_user(UserName="ADCTestOutsider")
    outsider = iam.create_access_key(UserName="ADCTestOutsider")["AccessKey"]
    key = "ADCTestThing/refused.bin"
    headers = signed_put_headers(server, outsider["AccessKeyId"], outsider["SecretAccessKey"], key, 5)
    u = urllib.parse.urlsplit(server.api_url)
    head = f"PUT /{BUCKET}/{key} HTTP/1.1\r\nHost: {u.netloc}\r\nExpect: 100-continue\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "host") + "\r\n"
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(head.encode())
        answer = b""
        while chunk := s.recv(65536):  # the server ends the stream: the connection is closed
            answer += chunk
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 403 Forbidden", answer[:300]
    assert b"\r\nconnection: close\r\n" in rest.lower(), answer[:500]
    assert b"<Code>AccessDenied</Code>" in answer
    # Refused uploads from boto3 on one client, back to back: every answer is S3's own.
    denied = server.boto3_client("s3", creds={"AccessKeyId": outsider["AccessKeyId"],
                                               "SecretAccessKey": outsider["SecretAccessKey"]})
    for i in range(40):
        with pytest.raises(ClientError) as e:
            denied.put_object(Bucket=BUCKET, Key=f"{key}.{i}", Body=b"x" * (i + 1))
        assert e.value.response["Error"]["Code"] == "AccessDenied", e.value.response
    # An accepted upload reads its body (100 Continue) and keeps its connection.
    assert client.put_object(Bucket=BUCKET, Key=key, Body=b"stored")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_put_refused_before_its_body_arrives_says_its_connection_closes(s3):
    """A client that sends its body without waiting for 100 Continue (requests, curl with the
    Expect header emptied) but whose body has not reached the gateway when the PUT is refused on
    its headers. The gateway does not wait for a body it will not use: its answer says
    `Connection: close` and the connection ends, so a keep-alive client opens a new connection
    for its next request instead of sending it into one being closed (before, the answer did
    not say so, and the next request met "Remote end closed connection without response"). An
    accepted PUT reads its body to the end and keeps its connection: the next request on it is
    answered."""
    server, client = s3
    iam = server.boto3_client("iam")
    iam.create_user(UserName="ADCTestOutsider")
    outsider = iam.create_access_key(UserName="ADCTestOutsider")["AccessKey"]
    key = "ADCTestThing/late.bin"
    body = b"a body sent only after the answer"
    u = urllib.parse.urlsplit(server.api_url)

    def head_of(headers):
        head = f"PUT /{BUCKET}/{key} HTTP/1.1\r\nHost: {u.netloc}\r\n"
        return (head + "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "host") + "\r\n").encode()

    refused = [
        (outsider["AccessKeyId"], outsider["SecretAccessKey"], b"AccessDenied"),
        (server.admin["AccessKeyId"], "not-the-secret", b"SignatureDoesNotMatch"),
    ]
    for access_key, secret, code in refused:
        with socket.create_connection((u.hostname, u.port), timeout=30) as s:
            s.sendall(head_of(signed_put_headers(server, access_key, secret, key, len(body))))
            status, fields, answer = read_answer(s)  # no body byte sent yet
            assert status == b"HTTP/1.1 403 Forbidden", (status, answer[:300])
            assert b"<Code>" + code + b"</Code>" in answer, answer[:500]
            assert b"\r\nconnection: close\r\n" in fields, fields
            try:
                s.sendall(body)
                rest = s.recv(65536)
            except (BrokenPipeError, ConnectionResetError):
                rest = b""
            assert rest == b"", rest[:300]  # the stream ends: nothing else is answered on it
    # Over HTTP/2 a refused upload's stream is reset on its own: the connection stays, and the
    # answer has no Connection header (HTTP/2 has none).
    out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-D", "-", "-X", "PUT", "--data-binary", "x" * 4096,
                          "-H", "Expect:", f"{server.api_url}/{BUCKET}/{key}"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.startswith("HTTP/2 403"), out[:300]
    assert "<Code>AccessDenied</Code>" in out and "\nconnection:" not in out.lower(), out[:600]
    with pytest.raises(ClientError) as e:
        client.head_object(Bucket=BUCKET, Key=key)
    assert e.value.response["Error"]["Code"] == "404"
    # Accepted: the same head and body on one keep-alive connection, then a GET on it.
    admin = signed_put_headers(server, server.admin["AccessKeyId"], server.admin["SecretAccessKey"], key, len(body))
    signer = server.boto3_client("s3", config=Config(signature_version="s3v4"))
    get_url = urllib.parse.urlsplit(signer.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}))
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(head_of(admin) + body)
        status, fields, answer = read_answer(s)
        assert status == b"HTTP/1.1 200 OK", (status, answer[:300])
        assert b"connection: close" not in fields, fields
        s.sendall(f"GET {get_url.path}?{get_url.query} HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
        status, fields, answer = read_answer(s)
        assert status == b"HTTP/1.1 200 OK", (status, answer[:300])
        assert answer == body
    # boto3's own uploads (aws-chunked with a CRC32 trailer by default, and a plain body) are
    # read to their end and keep their connection too.
    plain = server.boto3_client("s3", config=Config(request_checksum_calculation="when_required"))
    for uploader in (client, plain):
        put = uploader.put_object(Bucket=BUCKET, Key=key, Body=body * 1000)
        assert "connection" not in put["ResponseMetadata"]["HTTPHeaders"], put["ResponseMetadata"]


def test_an_expired_presigned_url_answers_403(s3):
    """A presigned URL used after its X-Amz-Expires answers 403 AccessDenied "Request has
    expired", as S3 does; the same URL within its lifetime works (boto3 signs, curl fetches).
    The URL is signed two hours in the past (botocore's clock, patched), not waited for."""
    server, _ = s3
    signer = server.boto3_client("s3", config=Config(signature_version="s3v4"))
    params = {"Bucket": BUCKET, "Key": "top.txt"}
    past = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(hours=2)
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        expired = signer.generate_presigned_url("get_object", Params=params, ExpiresIn=60)
    fresh = signer.generate_presigned_url("get_object", Params=params, ExpiresIn=60)

    def curl(url):
        out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", url], capture_output=True, text=True,
                             timeout=60, check=True).stdout
        body, _, status = out.rpartition("\n")
        return int(status), body

    status, body = curl(expired)
    assert status == 403, body
    assert "<Code>AccessDenied</Code><Message>Request has expired</Message>" in body
    assert curl(fresh) == (200, "top.txt")


def mime_decoded(value):
    return str(email.header.make_header(email.header.decode_header(value)))


def test_non_ascii_user_metadata_round_trips_as_rfc_2047_words(s3):
    server, client = s3
    # botocore refuses non-ASCII metadata values, so SDK users send them as encoded words.
    sent = {"site": "=?utf-8?q?caf=C3=A9?=", "city": "=?UTF-8?B?5pel5pys?=", "plain": "ADCTestThing"}
    expected = {"site": "café", "city": "日本", "plain": "ADCTestThing"}
    client.put_object(Bucket=BUCKET, Key="ADCTestThing/meta.txt", Body=b"m", Metadata=sent)
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="ADCTestThing/meta-mpu.txt", Metadata=sent)
    part = client.upload_part(Bucket=BUCKET, Key="ADCTestThing/meta-mpu.txt", UploadId=upload["UploadId"],
                              PartNumber=1, Body=b"m")
    client.complete_multipart_upload(Bucket=BUCKET, Key="ADCTestThing/meta-mpu.txt", UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    client.copy_object(Bucket=BUCKET, Key="ADCTestThing/meta-copy.txt", MetadataDirective="REPLACE",
                       CopySource={"Bucket": BUCKET, "Key": "top.txt"}, Metadata=sent)
    for key in ("ADCTestThing/meta.txt", "ADCTestThing/meta-mpu.txt", "ADCTestThing/meta-copy.txt"):
        for got in (client.head_object(Bucket=BUCKET, Key=key)["Metadata"],
                    client.get_object(Bucket=BUCKET, Key=key)["Metadata"]):
            assert {k: mime_decoded(v) for k, v in got.items()} == expected, (key, got)
            if server.upstream is None:
                # The gateway's own store answers exactly as S3 does: the value was stored
                # decoded and comes back as one UTF-8 B word. (An upstream applies its own rule;
                # moto keeps the words as sent, which decode to the same values.)
                assert got == {"site": "=?UTF-8?B?Y2Fmw6k=?=", "city": "=?UTF-8?B?5pel5pys?=",
                               "plain": "ADCTestThing"}, got


def test_get_object_attributes(s3):
    server, client = s3
    put = client.put_object(Bucket=BUCKET, Key="ADCTestThing/attrs.txt", Body=b"attributes",
                            ChecksumAlgorithm="SHA256")
    head = client.head_object(Bucket=BUCKET, Key="ADCTestThing/attrs.txt")
    got = client.get_object_attributes(Bucket=BUCKET, Key="ADCTestThing/attrs.txt",
                                       ObjectAttributes=["ETag", "Checksum", "ObjectSize", "StorageClass"])
    assert got["ETag"].strip('"') == head["ETag"].strip('"')
    assert got["ObjectSize"] == len(b"attributes")
    assert got["StorageClass"] == "STANDARD"
    assert got["Checksum"]["ChecksumSHA256"] == put["ChecksumSHA256"]
    assert got["LastModified"] == head["LastModified"]
    assert "ObjectParts" not in got  # not a multipart object

    # Only what is asked for.
    only = client.get_object_attributes(Bucket=BUCKET, Key="ADCTestThing/attrs.txt", ObjectAttributes=["ObjectSize"])
    assert only["ObjectSize"] == len(b"attributes")
    assert not {"ETag", "Checksum", "StorageClass", "ObjectParts"} & set(only), only

    with pytest.raises(ClientError) as e:
        client.get_object_attributes(Bucket=BUCKET, Key="ADCTestThing/absent.txt", ObjectAttributes=["ETag"])
    assert e.value.response["Error"]["Code"] in ("NoSuchKey", "404"), e.value.response

    if server.upstream is not None:
        return  # the rest is the embedded store's own answer; moto pages parts its own way
    with pytest.raises(ClientError) as e:
        client.get_object_attributes(Bucket=BUCKET, Key="ADCTestThing/attrs.txt", ObjectAttributes=["Colour"])
    assert e.value.response["Error"]["Code"] == "InvalidArgument", e.value.response

    # A multipart object with CRC32 checksums: three parts, paged two at a time.
    key = "ADCTestThing/attrs-mpu.bin"
    sizes = [5 * 1024 * 1024, 5 * 1024 * 1024, 1234]
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key, ChecksumAlgorithm="CRC32")
    parts = []
    for n, size in enumerate(sizes, start=1):
        p = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], PartNumber=n,
                               Body=bytes([n]) * size, ChecksumAlgorithm="CRC32")
        parts.append({"PartNumber": n, "ETag": p["ETag"], "ChecksumCRC32": p["ChecksumCRC32"]})
    client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": parts})
    first = client.get_object_attributes(Bucket=BUCKET, Key=key, ObjectAttributes=["ObjectParts", "ObjectSize"],
                                         MaxParts=2)["ObjectParts"]
    assert first["TotalPartsCount"] == 3 and first["IsTruncated"] is True
    assert first["NextPartNumberMarker"] == 2 and first["MaxParts"] == 2
    assert [(p["PartNumber"], p["Size"], p["ChecksumCRC32"]) for p in first["Parts"]] == \
        [(1, sizes[0], parts[0]["ChecksumCRC32"]), (2, sizes[1], parts[1]["ChecksumCRC32"])]
    rest = client.get_object_attributes(Bucket=BUCKET, Key=key, ObjectAttributes=["ObjectParts"],
                                        MaxParts=2, PartNumberMarker=2)["ObjectParts"]
    assert rest["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"]) for p in rest["Parts"]] == [(3, sizes[2])]
