"""Defaults that protect a deployment: the data directory and everything in it private
whatever the umask, a start refused on a directory others can enter, and a warning when
SigV4 is served over plain HTTP beyond loopback."""

import json
import os
import stat
import subprocess

from conftest import BIN, BUCKET, REGION, Server

PUBLIC = {"root-ca.pem", "credentials.pem"}  # certificates devices and clients read


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def start_with_umask(data_dir, umask, **kwargs):
    old = os.umask(umask)
    try:
        return Server(data_dir, **kwargs)
    finally:
        os.umask(old)


def test_everything_written_is_private_even_with_umask_0(tmp_path):
    data = tmp_path / "data"
    server = start_with_umask(data, 0)
    try:
        s3 = server.boto3_client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket=BUCKET, Key="firmware/v1.bin", Body=b"secret firmware")
        up = s3.create_multipart_upload(Bucket=BUCKET, Key="big")["UploadId"]
        part = s3.upload_part(Bucket=BUCKET, Key="big", UploadId=up, PartNumber=1, Body=b"a" * (5 << 20))
        s3.complete_multipart_upload(Bucket=BUCKET, Key="big", UploadId=up,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        pending = s3.create_multipart_upload(Bucket=BUCKET, Key="pending")["UploadId"]
        s3.upload_part(Bucket=BUCKET, Key="pending", UploadId=pending, PartNumber=1, Body=b"part")
        server.boto3_client("iam").create_user(UserName="ci-uploader")  # a registry write

        found = {}
        for root, dirs, files in os.walk(data):
            for name in dirs + files:
                path = os.path.join(root, name)
                found[os.path.relpath(path, data)] = mode(path)
        assert mode(data) == 0o700
        for must in ["registry.db", "registry.db-wal", "registry.db-shm", "admin-credentials",
                     "tls/credentials.key", "iotcreds.lock", "objects"]:
            assert must in found, f"{must} not written: {sorted(found)}"
        wrong = {}
        for rel, m in found.items():
            is_dir = os.path.isdir(data / rel)
            want = 0o700 if is_dir else (0o644 if os.path.basename(rel) in PUBLIC else 0o600)
            if m != want:
                wrong[rel] = oct(m)
        assert not wrong, wrong
        print(f"\n{len(found)} entries under the data directory, all owner-only but the two certificates")
    finally:
        server.stop()


def test_a_data_directory_open_to_others_is_refused_with_the_fix(tmp_path):
    data = tmp_path / "shared"
    data.mkdir()
    for loose in (0o755, 0o750, 0o711):
        os.chmod(data, loose)
        proc = subprocess.run(
            [BIN, "serve", "--data-dir", str(data), "--credentials-addr", "127.0.0.1:0",
             "--api-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"],
            capture_output=True, text=True, timeout=60,
        )
        assert proc.returncode != 0
        assert f"chmod 700 {data}" in proc.stderr, proc.stderr
        assert f"{loose:04o}" in proc.stderr
        assert list(data.iterdir()) == [], "nothing was written"
        assert mode(data) == loose, "the operator's directory is left as it was"
    os.chmod(data, 0o700)
    server = Server(data)
    server.stop()


def warnings_about_plain_http(server):
    out = []
    for line in server.lines:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("level") == "WARN" and "plain HTTP" in e.get("message", ""):
            out.append(e)
    return out


def test_plain_http_beyond_loopback_is_warned_about_at_start(tmp_path):
    exposed = Server(tmp_path / "exposed", api_addr="0.0.0.0:0")
    try:
        warned = warnings_about_plain_http(exposed)
        assert len(warned) == 1, exposed.lines[-20:]
        assert "api_tls_cert" in warned[0]["message"] and "15 minutes" in warned[0]["message"]
        assert warned[0]["api_addr"].startswith("0.0.0.0:")
    finally:
        exposed.stop()
    local = Server(tmp_path / "local")  # 127.0.0.1
    try:
        assert warnings_about_plain_http(local) == []
    finally:
        local.stop()
