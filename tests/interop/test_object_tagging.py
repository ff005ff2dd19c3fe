"""Object tagging as S3 does it, with boto3 and aws-cli, on the embedded store and through an
upstream (moto), and the tag condition keys in policies.

- PutObject/CreateMultipartUpload/CopyObject with `x-amz-tagging`, CopyObject's tagging
  directive, Put/Get/DeleteObjectTagging, `x-amz-tagging-count` on GetObject; a new version of
  an object starts with its own tags; tags survive a restart.
- A bad tag set (11 tags, a repeated key, an `aws:` key, a character tags may not use, a header
  that is not a query string) gets S3's code and message and changes nothing.
- `s3:ExistingObjectTag/<key>` decides reads (GetObject, presigned GET, HeadObject,
  GetObjectTagging, a copy source), live: re-tagging or replacing an object changes the next
  decision. A Deny on a tag is not bypassed by the plain-GET fast path.
- `s3:RequestObjectTag/<key>` and `s3:RequestObjectTagKeys` decide PutObject with tags and
  PutObjectTagging; setting tags with a write also needs `s3:PutObjectTagging`, as S3 requires.
"""

import json

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BUCKET, REGION, Server


@pytest.fixture
def s3(s3_backend):
    """The administrator's boto3 S3 client and the bucket; (server, client)."""
    return s3_backend, s3_backend.boto3_client("s3")


def tags(client, key):
    return [(t["Key"], t["Value"]) for t in client.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]]


def tag_set(*pairs):
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_tags_are_set_read_replaced_and_removed(s3):
    server, client = s3
    client.put_object(Bucket=BUCKET, Key="ADCTestThing/a.txt", Body=b"a",
                      Tagging="site=tokyo&team=device%20fleet")
    assert tags(client, "ADCTestThing/a.txt") == [("site", "tokyo"), ("team", "device fleet")]
    assert client.get_object(Bucket=BUCKET, Key="ADCTestThing/a.txt")["TagCount"] == 2

    client.put_object_tagging(Bucket=BUCKET, Key="ADCTestThing/a.txt", Tagging=tag_set(("site", "osaka")))
    assert tags(client, "ADCTestThing/a.txt") == [("site", "osaka")]
    # aws-cli reads the same tags.
    out = server.aws("s3api", "get-object-tagging", "--bucket", BUCKET, "--key", "ADCTestThing/a.txt")
    assert out["TagSet"] == [{"Key": "site", "Value": "osaka"}]

    # CopyObject copies the source's tags in force by default, or takes the request's.
    client.copy_object(Bucket=BUCKET, Key="copy.txt", CopySource={"Bucket": BUCKET, "Key": "ADCTestThing/a.txt"})
    assert tags(client, "copy.txt") == [("site", "osaka")]
    client.copy_object(Bucket=BUCKET, Key="copy2.txt", CopySource={"Bucket": BUCKET, "Key": "ADCTestThing/a.txt"},
                       TaggingDirective="REPLACE", Tagging="stage=dev")
    assert tags(client, "copy2.txt") == [("stage", "dev")]

    # A multipart upload's tags are fixed at creation.
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="big.bin", Tagging="kind=firmware")
    part = client.upload_part(Bucket=BUCKET, Key="big.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"x")
    client.complete_multipart_upload(Bucket=BUCKET, Key="big.bin", UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert tags(client, "big.bin") == [("kind", "firmware")]

    client.delete_object_tagging(Bucket=BUCKET, Key="ADCTestThing/a.txt")
    assert tags(client, "ADCTestThing/a.txt") == []
    assert "TagCount" not in client.get_object(Bucket=BUCKET, Key="ADCTestThing/a.txt")

    # A new version of an object starts with its own tags, not its predecessor's.
    client.put_object_tagging(Bucket=BUCKET, Key="copy.txt", Tagging=tag_set(("old", "1")))
    client.put_object(Bucket=BUCKET, Key="copy.txt", Body=b"new")
    assert tags(client, "copy.txt") == []

    with pytest.raises(ClientError) as e:
        client.get_object_tagging(Bucket=BUCKET, Key="missing.txt")
    assert code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        client.put_object_tagging(Bucket=BUCKET, Key="missing.txt", Tagging=tag_set(("a", "b")))
    assert code(e) == "NoSuchKey"


def test_tags_survive_a_restart(tmp_path):
    server = Server(tmp_path / "data")
    client = server.boto3_client("s3")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.put_object(Bucket=BUCKET, Key="created.txt", Body=b"a", Tagging="at=create")
    client.put_object(Bucket=BUCKET, Key="retagged.txt", Body=b"b", Tagging="at=create")
    client.put_object_tagging(Bucket=BUCKET, Key="retagged.txt", Tagging=tag_set(("at", "retag")))
    client.put_object(Bucket=BUCKET, Key="cleared.txt", Body=b"c", Tagging="at=create")
    client.delete_object_tagging(Bucket=BUCKET, Key="cleared.txt")
    server.stop()
    server = Server(tmp_path / "data")
    try:
        client = server.boto3_client("s3")
        assert tags(client, "created.txt") == [("at", "create")]
        assert tags(client, "retagged.txt") == [("at", "retag")]
        assert tags(client, "cleared.txt") == []
    finally:
        server.stop()


BAD_SETS = [
    # (tag set, code, message)
    ([(f"k{i}", "v") for i in range(11)], "BadRequest", "Object tags cannot be greater than 10"),
    ([("a", "1"), ("a", "2")], "InvalidTag", "Cannot provide multiple Tags with the same key"),
    ([("aws:site", "tokyo")], "InvalidTag", "Your TagKey cannot be prefixed with aws:"),
    ([("site", "<tokyo>")], "InvalidTag", "The TagValue you have provided is invalid"),
    ([("k" * 129, "v")], "InvalidTag", "The TagKey you have provided is invalid"),
    ([("site", "v" * 257)], "InvalidTag", "The TagValue you have provided is invalid"),
]


@pytest.mark.parametrize("bad,error_code,message", BAD_SETS)
def test_a_bad_tag_set_is_refused_and_changes_nothing(s3, bad, error_code, message):
    _, client = s3
    client.put_object(Bucket=BUCKET, Key="kept.txt", Body=b"kept", Tagging="site=tokyo")
    with pytest.raises(ClientError) as e:
        client.put_object_tagging(Bucket=BUCKET, Key="kept.txt", Tagging=tag_set(*bad))
    assert (code(e), e.value.response["Error"]["Message"]) == (error_code, message)
    assert tags(client, "kept.txt") == [("site", "tokyo")]

    header = "&".join(f"{k}={v}" for k, v in bad).replace("<", "%3C").replace(">", "%3E")
    if error_code == "InvalidTag" and "multiple" in message:
        # In the header form a repeated key is a malformed header.
        error_code, message = "InvalidArgument", (
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
            "parameters without tag name duplicates.")
    for attempt in (
        lambda: client.put_object(Bucket=BUCKET, Key="new.txt", Body=b"x", Tagging=header),
        lambda: client.put_object(Bucket=BUCKET, Key="kept.txt", Body=b"replaced", Tagging=header),
        lambda: client.create_multipart_upload(Bucket=BUCKET, Key="new.txt", Tagging=header),
    ):
        with pytest.raises(ClientError) as e:
            attempt()
        assert (code(e), e.value.response["Error"].get("Message")) == (error_code, message), e.value.response
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert keys == ["kept.txt"]
    assert client.get_object(Bucket=BUCKET, Key="kept.txt")["Body"].read() == b"kept"
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_header_that_is_not_utf8_is_refused(s3):
    _, client = s3
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=BUCKET, Key="new.txt", Body=b"x", Tagging="site=%FF")
    assert code(e) == "InvalidArgument"
    assert client.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def _user(server, name, *statements):
    iam = server.boto3_client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="rights",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}


OBJECTS = f"arn:aws:s3:::{BUCKET}/*"


def _denied(call):
    with pytest.raises(ClientError) as e:
        call()
    assert code(e) in ("AccessDenied", "403"), e.value.response
    return e


def test_existing_object_tags_decide_reads(s3):
    server, admin = s3
    admin.put_object(Bucket=BUCKET, Key="public.txt", Body=b"public", Tagging="classification=public")
    admin.put_object(Bucket=BUCKET, Key="secret.txt", Body=b"secret", Tagging="classification=secret")
    admin.put_object(Bucket=BUCKET, Key="untagged.txt", Body=b"untagged")
    # The reader may read what is tagged public, and nothing else.
    reader = server.boto3_client("s3", creds=_user(
        server, "reader",
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectTagging"], "Resource": OBJECTS,
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/classification": "public"}}}))
    assert reader.get_object(Bucket=BUCKET, Key="public.txt")["Body"].read() == b"public"
    assert reader.head_object(Bucket=BUCKET, Key="public.txt")["ContentLength"] == 6
    assert tags(reader, "public.txt") == [("classification", "public")]
    for key in ("secret.txt", "untagged.txt"):
        _denied(lambda: reader.get_object(Bucket=BUCKET, Key=key))
        _denied(lambda: reader.head_object(Bucket=BUCKET, Key=key))
        _denied(lambda: reader.get_object_tagging(Bucket=BUCKET, Key=key))
    # Live: the next decision follows a change of tags, and a replaced object's new version.
    admin.put_object_tagging(Bucket=BUCKET, Key="secret.txt", Tagging=tag_set(("classification", "public")))
    assert reader.get_object(Bucket=BUCKET, Key="secret.txt")["Body"].read() == b"secret"
    admin.put_object(Bucket=BUCKET, Key="public.txt", Body=b"replaced")
    _denied(lambda: reader.get_object(Bucket=BUCKET, Key="public.txt"))

    # A Deny on a tag holds on every path: the plain GET (which the embedded store serves on a
    # fast path), a presigned URL, and a copy source.
    auditor_creds = _user(
        server, "auditor",
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": OBJECTS},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": OBJECTS,
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/classification": "restricted"}}})
    auditor = server.boto3_client("s3", creds=auditor_creds)
    admin.put_object(Bucket=BUCKET, Key="restricted.txt", Body=b"restricted", Tagging="classification=restricted")
    assert auditor.get_object(Bucket=BUCKET, Key="untagged.txt")["Body"].read() == b"untagged"
    _denied(lambda: auditor.get_object(Bucket=BUCKET, Key="restricted.txt"))
    presigner = server.boto3_client("s3", creds=auditor_creds, config=Config(signature_version="s3v4"))
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "restricted.txt"})
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 403 and b"AccessDenied" in resp.content, (resp.status_code, resp.content, url)
    assert requests.get(
        presigner.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "untagged.txt"}),
        timeout=30).content == b"untagged"
    _denied(lambda: auditor.copy_object(Bucket=BUCKET, Key="leak.txt",
                                        CopySource={"Bucket": BUCKET, "Key": "restricted.txt"}))
    auditor.copy_object(Bucket=BUCKET, Key="fine.txt", CopySource={"Bucket": BUCKET, "Key": "untagged.txt"})
    keys = {o["Key"] for o in admin.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert "leak.txt" not in keys and "fine.txt" in keys
    # aws-cli is refused the same way.
    proc = server.aws("s3api", "get-object", "--bucket", BUCKET, "--key", "restricted.txt", "/dev/null",
                      creds=auditor_creds, check=False)
    assert proc.returncode != 0 and "AccessDenied" in proc.stderr


def test_request_object_tags_decide_writes(s3):
    server, admin = s3
    tagger = server.boto3_client("s3", creds=_user(
        server, "tagger",
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": OBJECTS},
        {"Effect": "Allow", "Action": "s3:PutObjectTagging", "Resource": OBJECTS,
         "Condition": {"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["site", "team"]},
                       "StringEquals": {"s3:RequestObjectTag/site": ["tokyo", "osaka"]}}}))
    tagger.put_object(Bucket=BUCKET, Key="ok.txt", Body=b"ok", Tagging="site=tokyo&team=a")
    assert tags(admin, "ok.txt") == [("site", "tokyo"), ("team", "a")]
    for refused in ("site=paris", "site=tokyo&owner=mallory"):
        _denied(lambda: tagger.put_object(Bucket=BUCKET, Key="refused.txt", Body=b"x", Tagging=refused))
        _denied(lambda: tagger.create_multipart_upload(Bucket=BUCKET, Key="refused.txt", Tagging=refused))
    # No tags, no s3:PutObjectTagging needed.
    tagger.put_object(Bucket=BUCKET, Key="plain.txt", Body=b"plain")
    # PutObjectTagging: decided on the document's tags.
    tagger.put_object_tagging(Bucket=BUCKET, Key="plain.txt", Tagging=tag_set(("site", "osaka")))
    _denied(lambda: tagger.put_object_tagging(Bucket=BUCKET, Key="plain.txt", Tagging=tag_set(("site", "paris"))))
    _denied(lambda: tagger.put_object_tagging(Bucket=BUCKET, Key="plain.txt",
                                              Tagging=tag_set(("site", "osaka"), ("owner", "m"))))
    assert tags(admin, "plain.txt") == [("site", "osaka")]
    # A bad document is refused as such, before any decision.
    with pytest.raises(ClientError) as e:
        tagger.put_object_tagging(Bucket=BUCKET, Key="plain.txt", Tagging=tag_set(("aws:site", "osaka")))
    assert code(e) == "InvalidTag"

    # Setting tags with a write needs s3:PutObjectTagging as well as s3:PutObject.
    writer = server.boto3_client("s3", creds=_user(
        server, "writer", {"Effect": "Allow", "Action": "s3:PutObject", "Resource": OBJECTS}))
    _denied(lambda: writer.put_object(Bucket=BUCKET, Key="w.txt", Body=b"w", Tagging="site=tokyo"))
    _denied(lambda: writer.create_multipart_upload(Bucket=BUCKET, Key="w.txt", Tagging="site=tokyo"))
    _denied(lambda: writer.put_object_tagging(Bucket=BUCKET, Key="plain.txt", Tagging=tag_set(("site", "tokyo"))))
    writer.put_object(Bucket=BUCKET, Key="w.txt", Body=b"w")
    keys = sorted(o["Key"] for o in admin.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == ["ok.txt", "plain.txt", "w.txt"]
    assert admin.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
