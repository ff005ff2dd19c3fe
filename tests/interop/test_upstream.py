"""The upstream object backend with real clients, beyond the seed flow (test_seed.py runs that
on the embedded store, moto and s3s-fs):

- an HTTPS upstream whose certificate comes from a CA of our own (another iotcreds serving its
  S3 API over TLS), reached with `[objects.upstream] ca_bundle`, and refused without it;
- object keys with `..`, `//`, percent signs and non-ASCII characters arrive at the upstream
  byte for byte (checked by listing moto directly), through PutObject and a multipart upload;
- conditional, range and checksum headers from boto3 have the same effect through the gateway
  as on the upstream itself.
"""

import base64
import hashlib
import os

import boto3
import botocore.config
import botocore.exceptions
import pytest

from conftest import BUCKET, REGION, Moto, Server

NO_RETRY = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})


def gateway_config(path, endpoint, access_key_id, secret, extra=""):
    path.write_text("[objects.upstream]\n"
                    f'endpoint = "{endpoint}"\n'
                    f'region = "{REGION}"\n'
                    f'access_key_id = "{access_key_id}"\n'
                    f'secret_access_key = "{secret}"\n'
                    "allow_unmapped = true\n" + extra)
    path.chmod(0o600)
    return path


def test_https_upstream_with_a_ca_bundle(tmp_path):
    # PKI made at test time: a first instance's CA issued its credentials-endpoint certificate
    # for localhost; the upstream instance serves its S3 API over TLS with it.
    pki = Server(tmp_path / "pki")
    upstream = gateway = blind = None
    try:
        tls = pki.data_dir / "tls"
        upstream = Server(tmp_path / "upstream", extra_args=[
            "--api-tls-cert", str(tls / "credentials.pem"), "--api-tls-key", str(tls / "credentials.key")])
        port = upstream.api_addr.rsplit(":", 1)[1]
        endpoint = f"https://localhost:{port}"
        creds = upstream.admin
        gateway = Server(tmp_path / "gateway", extra_args=["--config", str(gateway_config(
            tmp_path / "gw.toml", endpoint, creds["AccessKeyId"], creds["SecretAccessKey"],
            f'ca_bundle = "{pki.root_ca}"\n'))])
        gateway.aws("s3", "mb", f"s3://{BUCKET}")
        small = tmp_path / "small.txt"
        small.write_bytes(b"over TLS to the upstream\n")
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(20 * 1024 * 1024))  # aws-cli sends it as a multipart upload
        gateway.aws("s3", "cp", str(small), f"s3://{BUCKET}/tls/small.txt")
        gateway.aws("s3", "cp", str(big), f"s3://{BUCKET}/tls/big.bin")
        out = tmp_path / "out"
        out.mkdir()
        gateway.aws("s3", "cp", f"s3://{BUCKET}/tls/big.bin", str(out / "big.bin"))
        assert hashlib.sha256((out / "big.bin").read_bytes()).digest() == hashlib.sha256(big.read_bytes()).digest()
        # the upstream holds them: read over HTTPS with the same CA
        direct = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, verify=pki.root_ca,
                              aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"])
        keys = sorted(o["Key"] for o in direct.list_objects_v2(Bucket=BUCKET)["Contents"])
        assert keys == ["tls/big.bin", "tls/small.txt"]
        assert direct.get_object(Bucket=BUCKET, Key="tls/small.txt")["Body"].read() == small.read_bytes()

        # Without the bundle the system's trust store does not know that CA: the gateway cannot
        # reach its upstream, and says so as S3 does.
        blind = Server(tmp_path / "blind", extra_args=["--config", str(gateway_config(
            tmp_path / "blind.toml", endpoint, creds["AccessKeyId"], creds["SecretAccessKey"]))])
        s3 = blind.boto3_client("s3", config=NO_RETRY)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.get_object(Bucket=BUCKET, Key="tls/small.txt")
        assert e.value.response["Error"]["Code"] == "ServiceUnavailable"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        # the operator's log names the cause; the device's answer does not
        blind.wait_for_line("upstream unreachable")
    finally:
        for s in (blind, gateway, upstream, pki):
            if s:
                s.stop()


KEYS = ["a/../b", "../up", "./here", "x//y", "//lead", "trail/", "100%", "pre%2Fencoded", "sp ace+plus",
        "q?x#y&z=1", "été/日本語.txt", "emoji-😀"]


def test_keys_arrive_at_the_upstream_byte_for_byte(moto, tmp_path):
    gateway = Server(tmp_path / "data", extra_args=["--config", str(moto.write_config(tmp_path / "gw.toml"))],
                     upstream=moto)
    try:
        s3 = gateway.boto3_client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for key in KEYS:
            s3.put_object(Bucket=BUCKET, Key=key, Body=f"body of {key}".encode())
        # and one through a multipart upload
        mp = "multi//part/../é%20"
        up = s3.create_multipart_upload(Bucket=BUCKET, Key=mp)["UploadId"]
        part = s3.upload_part(Bucket=BUCKET, Key=mp, UploadId=up, PartNumber=1, Body=b"only part")
        s3.complete_multipart_upload(Bucket=BUCKET, Key=mp, UploadId=up,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        assert moto.keys(f"fleet-{BUCKET}") == sorted(KEYS + [mp])
        for key in KEYS:
            assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == f"body of {key}".encode(), key
        listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
        assert listed == sorted(KEYS + [mp])
    finally:
        gateway.stop()


def test_conditionals_ranges_and_checksums_as_on_the_upstream(moto, tmp_path):
    gateway = Server(tmp_path / "data", extra_args=["--config", str(moto.write_config(tmp_path / "gw.toml"))],
                     upstream=moto)
    try:
        s3 = gateway.boto3_client("s3", config=NO_RETRY)
        direct = moto.client()
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        body = bytes(range(256)) * 64
        put = s3.put_object(Bucket=BUCKET, Key="obj", Body=body, ChecksumAlgorithm="SHA256")
        etag = put["ETag"]
        assert etag == direct.head_object(Bucket=f"fleet-{BUCKET}", Key="obj")["ETag"]
        r = s3.get_object(Bucket=BUCKET, Key="obj", Range="bytes=100-199")
        assert r["Body"].read() == body[100:200] and r["ContentRange"] == f"bytes 100-199/{len(body)}"
        assert s3.get_object(Bucket=BUCKET, Key="obj", IfMatch=etag)["Body"].read() == body
        for kwargs, code in [({"IfMatch": '"0000"'}, "PreconditionFailed"), ({"IfNoneMatch": etag}, "304"),
                             ({"Range": f"bytes={len(body) + 10}-"}, "InvalidRange")]:
            with pytest.raises(botocore.exceptions.ClientError) as e:
                s3.get_object(Bucket=BUCKET, Key="obj", **kwargs)
            with pytest.raises(botocore.exceptions.ClientError) as d:
                direct.get_object(Bucket=f"fleet-{BUCKET}", Key="obj", **kwargs)
            assert e.value.response["Error"]["Code"] == d.value.response["Error"]["Code"] == code, kwargs
        # the checksum the device chose is the one the upstream stored and reports
        r = s3.get_object(Bucket=BUCKET, Key="obj", ChecksumMode="ENABLED")
        r["Body"].read()
        assert r["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    finally:
        gateway.stop()
