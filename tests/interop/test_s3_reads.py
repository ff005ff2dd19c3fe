"""GetObject's two ways through the server, driven with boto3: the fast path (a plain, whole-object
GET) and the s3s path (anything else), on the embedded store (small objects read whole, large ones
memory-mapped and sent with sendfile on plain HTTP) and through the upstream backend (moto), where
the fast path also answers the upstream's errors. Whatever the way, the answer must be the same
bytes and the same headers, and an error the same code and message."""

import hashlib

import botocore.exceptions
import pytest

from conftest import BUCKET, REGION
from seed import device_credentials, seed_with_aws_cli

# Sizes on both sides of each boundary of the read path: empty; read whole with the metadata
# (up to 256 KiB); mapped and sent from the file (larger); a size that is no multiple of a page.
SIZES = [0, 1, 4096, 256 * 1024, 256 * 1024 + 1, 300_000, (1 << 20) + 7]

# Response headers that differ between any two answers.
VOLATILE = {"date", "x-amz-request-id", "x-amz-id-2"}


def content(size):
    """Bytes that differ at every offset, so a shifted or short read cannot compare equal."""
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(i.to_bytes(8, "big")).digest()
        i += 1
    return bytes(out[:size])


def device_s3(server, tmp_path, make_bucket=True):
    device = seed_with_aws_cli(server, tmp_path / "setup")
    if make_bucket:
        server.aws("s3", "mb", f"s3://{BUCKET}")
    return server.boto3_client("s3", creds=device_credentials(server, device))


def headers(resp):
    return {k: v for k, v in resp["ResponseMetadata"]["HTTPHeaders"].items() if k not in VOLATILE}


def metric(server, name):
    """A counter or gauge of the server's Prometheus endpoint (0 before its first sample)."""
    import requests
    text = requests.get(f"http://{server.admin_addr}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return int(float(line.split()[-1]))
    return 0


def fast_gets(server):
    """GETs answered by the fast path so far."""
    return metric(server, "iotcreds_s3_fast_get_total")


def test_fast_get_matches_the_s3s_path(s3_backend, tmp_path):
    server = s3_backend
    s3 = device_s3(server, tmp_path, make_bucket=False)
    admin = server.boto3_client("s3")
    before = fast_gets(server)
    for size in SIZES:
        data = content(size)
        admin.put_object(Bucket=BUCKET, Key=f"obj-{size}", Body=data, ContentType="application/x-test",
                         CacheControl="max-age=60")
        fast = s3.get_object(Bucket=BUCKET, Key=f"obj-{size}")
        assert fast["Body"].read() == data, size
        # A matching If-Match does not change the answer, but takes the request down the s3s path.
        slow = s3.get_object(Bucket=BUCKET, Key=f"obj-{size}", IfMatch=fast["ETag"])
        assert slow["Body"].read() == data, size
        assert headers(fast) == headers(slow), size
        assert headers(fast)["content-length"] == str(size)
        assert headers(fast)["cache-control"] == "max-age=60"
    # Each plain GET took the fast path, each If-Match GET did not.
    assert fast_gets(server) - before == len(SIZES)


def test_ranges_of_a_mapped_object_are_the_right_bytes(server, tmp_path):
    s3 = device_s3(server, tmp_path)
    data = content((1 << 20) + 7)
    server.boto3_client("s3").put_object(Bucket=BUCKET, Key="big", Body=data)
    for first, last in [(0, 0), (1, 70_000), (4095, 4096 + 65_536), (100_000, (1 << 20) + 6), (1 << 20, (1 << 20) + 6)]:
        resp = s3.get_object(Bucket=BUCKET, Key="big", Range=f"bytes={first}-{last}")
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert resp["Body"].read() == data[first:last + 1], (first, last)
        assert resp["ContentRange"] == f"bytes {first}-{last}/{len(data)}"


def test_an_overwritten_object_reads_whole_and_new(server, tmp_path):
    s3 = device_s3(server, tmp_path)
    admin = server.boto3_client("s3")
    old, new = content(600_000), content(700_000)[::-1]
    admin.put_object(Bucket=BUCKET, Key="obj", Body=old)
    streaming = s3.get_object(Bucket=BUCKET, Key="obj")
    first = streaming["Body"].read(1000)
    # Replaced while the first answer is still being read: that answer stays the old object
    # (the mapping pins the file it opened), the next one is the new object.
    admin.put_object(Bucket=BUCKET, Key="obj", Body=new)
    assert first + streaming["Body"].read() == old
    assert s3.get_object(Bucket=BUCKET, Key="obj")["Body"].read() == new


def test_small_objects_are_read_from_the_cache_until_they_change(server, tmp_path):
    s3 = device_s3(server, tmp_path)
    admin = server.boto3_client("s3")
    old, new = content(4096), content(4096)[::-1]
    admin.put_object(Bucket=BUCKET, Key="cached", Body=old)
    hits, misses = metric(server, "iotcreds_s3_read_cache_hits_total"), metric(server, "iotcreds_s3_read_cache_misses_total")
    for _ in range(3):
        assert s3.get_object(Bucket=BUCKET, Key="cached")["Body"].read() == old
    # The first read went to the file, the next two came from memory.
    assert metric(server, "iotcreds_s3_read_cache_misses_total") - misses == 1
    assert metric(server, "iotcreds_s3_read_cache_hits_total") - hits == 2
    assert metric(server, "iotcreds_s3_read_cache_bytes") >= 4096
    # An overwrite is seen by the very next read, which goes to the new file.
    admin.put_object(Bucket=BUCKET, Key="cached", Body=new)
    assert s3.get_object(Bucket=BUCKET, Key="cached")["Body"].read() == new
    assert metric(server, "iotcreds_s3_read_cache_misses_total") - misses == 2
    assert s3.head_object(Bucket=BUCKET, Key="cached")["ETag"] == admin.head_object(Bucket=BUCKET, Key="cached")["ETag"]
    admin.delete_object(Bucket=BUCKET, Key="cached")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=BUCKET, Key="cached")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"


def error_of(call):
    """The error response of a boto3 call that must fail."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response


def test_refusals_on_the_fast_path_shape_are_s3_errors(s3_backend, tmp_path):
    server = s3_backend
    s3 = device_s3(server, tmp_path, make_bucket=False)
    before = fast_gets(server)
    fast = error_of(lambda: s3.get_object(Bucket=BUCKET, Key="missing"))
    # An override takes the same read down the s3s path: the same error, word for word.
    slow = error_of(lambda: s3.get_object(Bucket=BUCKET, Key="missing", ResponseCacheControl="no-cache"))
    for resp in (fast, slow):
        assert resp["Error"]["Code"] == "NoSuchKey"
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert resp["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/xml"
    assert fast["Error"] == slow["Error"]
    # The embedded store leaves its errors to the s3s path; through an upstream the fast path
    # answers them itself rather than ask the upstream twice.
    assert fast_gets(server) - before == (1 if server.upstream else 0)
    # The role may read adc-test-2020-08-26 only.
    server.boto3_client("s3").create_bucket(Bucket="other-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    server.boto3_client("s3").put_object(Bucket="other-bucket", Key="k", Body=b"secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="other-bucket", Key="k")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
