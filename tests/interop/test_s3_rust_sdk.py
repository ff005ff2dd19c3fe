"""S3 edges with the AWS SDK for Rust, on the embedded store and through an upstream (moto).

The probe (`crates/iotcreds-agent/examples/s3_fidelity_probe.rs`) uploads with a
Content-Encoding, which comes back verbatim, sets tags with `x-amz-tagging` and with the SDK's
Tagging document, pages ListObjectsV2 with the SDK's paginator one key per page, and reads
GetObjectAttributes. (Over plain HTTP the SDK sends header checksums, as boto3 does; the
`aws-chunked` coding, dropped from the stored Content-Encoding while the rest is kept, is
covered by the embedded store's crate tests, which send it as the SDKs do over HTTPS.)"""

import hashlib
import json
import os
import subprocess

import pytest

from conftest import BUCKET, REGION, REPO

PROBE = os.environ.get("IOTCREDS_S3_PROBE", str(REPO / "target" / "debug" / "examples" / "s3_fidelity_probe"))


@pytest.fixture
def server(s3_backend):
    return s3_backend


def test_the_rust_sdk_sees_s3s_answers(server):
    if not os.path.exists(PROBE):
        raise AssertionError(f"{PROBE} is missing: `cargo test --workspace` (or `cargo build -p iotcreds-agent "
                             "--examples`) builds it")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": server.admin["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": server.admin["SecretAccessKey"],
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "S3_ENDPOINT": server.api_url,
        "S3_BUCKET": BUCKET,
    })
    proc = subprocess.run([PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["contentEncoding"] == "gzip", out
    assert out["body"] == "compressed, supposedly"
    assert out["tagCount"] == 2
    assert out["tags"] == [["site", "osaka"]]
    keys = [f"ADCTestThing/rust/{name}" for name in ("gzip.txt", "page-0.txt", "page-1.txt", "page-2.txt")]
    assert out["listed"] == keys and out["pages"] == 4, out
    assert out["size"] == 3
    assert out["etag"].strip('"') == hashlib.md5(b"ppp").hexdigest()
    # boto3 reads the same object as the Rust SDK wrote it.
    head = server.boto3_client("s3").head_object(Bucket=BUCKET, Key=keys[0])
    assert head["ContentEncoding"] == "gzip"
