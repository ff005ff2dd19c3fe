"""Virtual-hosted-style S3 (`BUCKET.s3.example.com:PORT`) with `--virtual-host-domain
s3.example.com`, driven with boto3 and aws-cli, which reach the server on a port, as every client of
a non-default port does. The domain matches with or without the port; every other host name
(the domain itself, `localhost`, an address) is path style; a Host header never names a bucket
outside the domain.

Names under example.com resolve to 127.0.0.1 inside the clients: boto3's process patches
`socket.getaddrinfo`, and aws-cli runs through the same patch (RESOLVE below), so nothing of the
machine's resolver configuration is touched."""

import socket
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BUCKET, REGION, Server

DOMAIN = "s3.example.com"
VIRTUAL = Config(s3={"addressing_style": "virtual"}, signature_version="s3v4")
PATH = Config(s3={"addressing_style": "path"}, signature_version="s3v4")

# Resolves example.com names to loopback, then runs aws-cli (v1, from the venv).
RESOLVE = """
import socket, sys
_real = socket.getaddrinfo
def _loopback(host, *args, **kwargs):
    if isinstance(host, str) and (host == "example.com" or host.endswith(".example.com")):
        host = "127.0.0.1"
    return _real(host, *args, **kwargs)
socket.getaddrinfo = _loopback
from awscli.clidriver import main
sys.exit(main())
"""


@pytest.fixture
def server(tmp_path, monkeypatch):
    real = socket.getaddrinfo

    def loopback(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".example.com"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback)
    s = Server(tmp_path / "data", extra_args=["--virtual-host-domain", DOMAIN])
    yield s
    s.stop()


def port(server):
    return server.api_url.rsplit(":", 1)[1]


def client(server, host, config):
    """The administrator's boto3 S3 client reaching the server as http://host:PORT."""
    import boto3
    return boto3.client("s3", endpoint_url=f"http://{host}:{port(server)}", region_name=REGION, config=config,
                        aws_access_key_id=server.admin["AccessKeyId"],
                        aws_secret_access_key=server.admin["SecretAccessKey"])


def test_boto3_virtual_hosted_style_through_a_port(server):
    s3 = client(server, DOMAIN, VIRTUAL)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    put = s3.put_object(Bucket=BUCKET, Key="ADCTestThing/test.txt", Body=b"Hello from adc-test-2020-08-26\n")
    # The request went to BUCKET.s3.example.com:PORT.
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_object(Bucket=BUCKET, Key="ADCTestThing/test.txt")["Body"].read() == b"Hello from adc-test-2020-08-26\n"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["ADCTestThing/test.txt"]
    # The same objects, path style, on the domain, on localhost and on the address.
    for host in (DOMAIN, "localhost", "127.0.0.1"):
        other = client(server, host, PATH)
        assert other.get_object(Bucket=BUCKET, Key="ADCTestThing/test.txt")["Body"].read().startswith(b"Hello")
    # A presigned URL, virtual-hosted style.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "ADCTestThing/test.txt"})
    assert url.startswith(f"http://{BUCKET}.{DOMAIN}:{port(server)}/")
    resp = requests.get(url.replace(f"{BUCKET}.{DOMAIN}", "127.0.0.1"), timeout=30,
                        headers={"Host": f"{BUCKET}.{DOMAIN}:{port(server)}"})
    assert resp.status_code == 200, resp.text


def test_aws_cli_virtual_hosted_style_through_a_port(server, tmp_path):
    config = tmp_path / "aws-config"
    config.write_text("[default]\ns3 =\n    addressing_style = virtual\n")
    env = server.env_for()
    env["AWS_CONFIG_FILE"] = str(config)

    def aws(*args):
        cmd = [sys.executable, "-c", RESOLVE, *args, "--endpoint-url", f"http://{DOMAIN}:{port(server)}",
               "--region", REGION, "--debug"]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)

    src = tmp_path / "test.txt"
    src.write_bytes(b"Hello from adc-test-2020-08-26\n")
    made = aws("s3", "mb", f"s3://{BUCKET}")
    assert made.returncode == 0, made.stderr[-3000:]
    copied = aws("s3", "cp", str(src), f"s3://{BUCKET}/test.txt")
    assert copied.returncode == 0, copied.stderr[-3000:]
    # aws-cli really addressed the bucket by host name.
    assert f"{BUCKET}.{DOMAIN}:{port(server)}" in copied.stderr
    listed = aws("s3", "ls", f"s3://{BUCKET}/")
    assert listed.returncode == 0 and "test.txt" in listed.stdout, listed.stderr[-3000:]


def test_a_host_outside_the_domain_never_names_a_bucket(server):
    s3 = client(server, DOMAIN, VIRTUAL)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=BUCKET, Key="test.txt", Body=b"x")
    # A host that only ends like the domain, or names the bucket under another one, is path style:
    # `/test.txt` is then a bucket name, not a key of BUCKET.
    lookalike = client(server, f"{BUCKET}.s3.example.com.evil.example.com", PATH)
    with pytest.raises(ClientError) as e:
        lookalike.get_object(Bucket="test.txt", Key="x")
    assert e.value.response["Error"]["Code"] in ("NoSuchBucket", "InvalidBucketName")
    # The bare domain lists buckets (path style, no bucket), as s3.amazonaws.com does.
    bare = client(server, DOMAIN, PATH)
    assert [b["Name"] for b in bare.list_buckets()["Buckets"]] == [BUCKET]
    # An unsigned request to BUCKET.domain is refused as anonymous, with S3's error.
    resp = requests.get(f"http://127.0.0.1:{port(server)}/test.txt", timeout=30,
                        headers={"Host": f"{BUCKET}.{DOMAIN}:{port(server)}"})
    assert resp.status_code == 403
    assert ET.fromstring(resp.content).findtext("Code") == "AccessDenied"
