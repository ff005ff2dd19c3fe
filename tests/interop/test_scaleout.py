"""Scale-out: two `iotcreds serve` instances on one PostgreSQL registry, objects in one upstream
S3 server (moto), as behind an L4 load balancer. Shared state lives only in the registry:
credentials issued by one instance work on the other, a certificate status change, a key
rotation or a key revocation made anywhere reaches every instance within a second, one instance dying does not
disturb the other, and both ride out a PostgreSQL restart without being restarted."""

import base64
import json
import shutil
import signal
import subprocess
import threading
import time

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import BIN, BUCKET, Server
from seed import device_credentials, make_bucket_with_test_file, seed_with_aws_cli

PROPAGATION_LIMIT_S = 1.0


def start_instance(tmp_path, name, db_url, moto):
    config = moto.write_config(tmp_path / f"{name}.toml")
    # The Load below asks for credentials with one certificate as fast as the machine allows:
    # it tests outages, not the issuance limits (tests/interop/test_issuance_limits.py does).
    with open(config, "a") as f:
        f.write("[limits]\nissuance_rate_per_certificate = 0\nissuance_rate_per_account = 0\n")
    return Server(tmp_path / name, extra_args=["--registry-url", db_url, "--config", str(config)], upstream=moto)


@pytest.fixture
def pair(tmp_path, postgres_database, moto):
    """Instances A and B on one registry and one upstream."""
    a = start_instance(tmp_path, "a", postgres_database, moto)
    b = start_instance(tmp_path, "b", postgres_database, moto)
    yield a, b
    for s in (b, a):
        if s.proc.poll() is None:
            s.stop()


def key_id_of(access_key_id):
    """The sealing key id written in a temporary access key id (ASIA + base32 of 10 bytes)."""
    raw = base64.b32decode(access_key_id[4:])
    return int.from_bytes(raw[:2], "big")


def credentials_status(server, device):
    """Status of one credentials request of `device` to `server` (a new TLS connection)."""
    r = requests.get(f"{server.credentials_url}/role-aliases/{device['alias']}/credentials",
                     cert=(str(device["cert"]), str(device["key"])), verify=server.root_ca,
                     headers={"x-amzn-iot-thingname": device["thing"]}, timeout=10)
    return r.status_code


def seconds_until(predicate, limit):
    """Poll `predicate` until it holds; return how long that took, or fail after `limit`."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        elapsed = time.monotonic() - start
        if elapsed > limit:
            pytest.fail(f"not within {limit} s")
        time.sleep(0.02)  # poll interval


def test_both_instances_share_the_account_and_each_others_credentials(pair, tmp_path):
    a, b = pair
    assert a.admin == b.admin, "one account, one root key, whichever instance wrote the file"
    assert (a.data_dir / "root-ca.pem").read_text() == (b.data_dir / "root-ca.pem").read_text()
    device = seed_with_aws_cli(a, tmp_path / "setup")
    content = make_bucket_with_test_file(a, tmp_path)

    from_a = device_credentials(a, device)
    out = tmp_path / "via-b"
    out.mkdir()
    b.aws("s3", "cp", f"s3://{BUCKET}/test.txt", ".", creds=from_a, cwd=str(out))
    assert (out / "test.txt").read_bytes() == content
    me = b.aws("sts", "get-caller-identity", creds=from_a)
    assert me["Arn"].endswith(f":assumed-role/ADCTestRole/{device['certificate_id']}")
    # The role's limits hold on B as on A.
    denied = b.aws("s3", "cp", str(out / "test.txt"), f"s3://{BUCKET}/x.txt", creds=from_a, check=False)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr, denied.stderr

    # And the other way round: B's credentials endpoint (its own server certificate, from the
    # shared CA) issues credentials that A honours.
    from_b = device_credentials(b, device)
    assert a.aws("s3", "ls", f"s3://{BUCKET}", creds=from_b).count("test.txt") == 1
    assert a.upstream.keys(f"fleet-{BUCKET}") == ["test.txt"]


def test_a_certificate_made_inactive_through_a_is_refused_by_b_within_a_second(pair, tmp_path):
    a, b = pair
    device = seed_with_aws_cli(a, tmp_path / "setup")
    assert credentials_status(b, device) == 200  # B has the certificate and policies cached now
    iot = a.boto3_client("iot")
    # A session A issued, in use on B.
    sts_b = b.boto3_client("sts", creds=device_credentials(a, device))
    assert sts_b.get_caller_identity()["Arn"].endswith(f"/{device['certificate_id']}")

    def session_refused():
        try:
            sts_b.get_caller_identity()
            return False
        except ClientError as e:
            return e.response["Error"]["Code"] == "InvalidClientTokenId"

    iot.update_certificate(certificateId=device["certificate_id"], newStatus="INACTIVE")
    took = seconds_until(lambda: credentials_status(b, device) == 403, PROPAGATION_LIMIT_S)
    print(f"INACTIVE through A refused by B after {took * 1000:.0f} ms")
    # The session already issued is refused on B as quickly (per-device revocation).
    took = seconds_until(session_refused, PROPAGATION_LIMIT_S)
    print(f"INACTIVE through A: its session refused by B after {took * 1000:.0f} ms more")

    iot.update_certificate(certificateId=device["certificate_id"], newStatus="ACTIVE")
    seconds_until(lambda: credentials_status(b, device) == 200, PROPAGATION_LIMIT_S)
    seconds_until(lambda: not session_refused(), PROPAGATION_LIMIT_S)

    # A policy detached through B stops issuance on A as quickly.
    b.boto3_client("iot").detach_policy(policyName="ADCTestPolicy", target=device["certificate_arn"])
    seconds_until(lambda: credentials_status(a, device) == 403, PROPAGATION_LIMIT_S)


def test_a_key_rotation_is_honoured_by_the_other_instance(pair, tmp_path, postgres_database):
    a, b = pair
    device = seed_with_aws_cli(a, tmp_path / "setup")
    make_bucket_with_test_file(a, tmp_path)
    before = device_credentials(a, device)

    proc = subprocess.run([BIN, "keys", "rotate", "--registry-url", postgres_database, "--output", "json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rotated = json.loads(proc.stdout)
    new_id = rotated["activeKeyId"]
    assert key_id_of(before["AccessKeyId"]) == rotated["previousKeyId"] != new_id

    # A seals with the new key within a second of the rotation ...
    latest = {}

    def a_seals_with_the_new_key():
        latest.update(device_credentials(a, device))
        return key_id_of(latest["AccessKeyId"]) == new_id

    seconds_until(a_seals_with_the_new_key, PROPAGATION_LIMIT_S)
    # ... B verifies those credentials at once, and still those sealed before the rotation.
    for creds in (latest, before):
        me = b.aws("sts", "get-caller-identity", creds=creds)
        assert me["Arn"].endswith(f"/{device['certificate_id']}")
        listing = b.aws("s3", "ls", f"s3://{BUCKET}", creds=creds, check=False)
        assert listing.returncode == 0 and "test.txt" in listing.stdout, listing.stderr


def test_a_revoked_key_is_refused_by_every_instance_within_a_second(pair, tmp_path, postgres_database):
    import botocore.exceptions
    from botocore.config import Config
    a, b = pair
    device = seed_with_aws_cli(a, tmp_path / "setup")
    creds = device_credentials(a, device)
    old = key_id_of(creds["AccessKeyId"])
    cfg = Config(retries={"max_attempts": 0})
    sts = {s: s.boto3_client("sts", creds=creds, config=cfg) for s in (a, b)}
    for client in sts.values():  # both instances have opened (and remember) the token
        assert client.get_caller_identity()["Arn"].endswith(f"/{device['certificate_id']}")

    def refused(server):
        try:
            sts[server].get_caller_identity()
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "InvalidClientTokenId", e.response
            return True
        return False

    proc = subprocess.run([BIN, "keys", "revoke", str(old), "--registry-url", postgres_database, "--output", "json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    revoked = json.loads(proc.stdout)
    new_id = revoked["rotatedTo"]
    assert revoked["revokedKeyId"] == old and new_id not in (None, old)
    took_b = seconds_until(lambda: refused(b), PROPAGATION_LIMIT_S)
    took_a = seconds_until(lambda: refused(a), PROPAGATION_LIMIT_S)
    print(f"revoked key {old}: refused by B after {took_b * 1000:.0f} ms, by A {took_a * 1000:.0f} ms later")
    for s in (a, b):
        events = s.wait_for_audit(lambda ev: any(e.get("revoked_key_id") == old for e in ev))
        assert creds["SessionToken"] not in "\n".join(s.lines)
        assert any(f"sealing key {old} is revoked" in e.get("reason", "") for e in events)

    # Issuance goes on everywhere with the key rotated in first, and its credentials verify on both.
    fresh = {}

    def b_seals_with_the_new_key():
        fresh.update(device_credentials(b, device))
        return key_id_of(fresh["AccessKeyId"]) == new_id

    seconds_until(b_seals_with_the_new_key, PROPAGATION_LIMIT_S)
    me = a.aws("sts", "get-caller-identity", creds=fresh)
    assert me["Arn"].endswith(f"/{device['certificate_id']}")


class Load:
    """Steady credential requests from client threads, each pinned to one instance, with a
    keep-alive connection as devices use; counts successes and failures per client."""

    def __init__(self, device, targets):
        self.device = device
        self.stop_event = threading.Event()
        self.results = [{"target": t, "ok": [], "failed": []} for t in targets]
        self.threads = [threading.Thread(target=self._run, args=(r,), daemon=True) for r in self.results]

    def _run(self, result):
        server = result["target"]
        session = requests.Session()
        # Per request, not on the session: requests lets REQUESTS_CA_BUNDLE override session.verify.
        tls = {"cert": (str(self.device["cert"]), str(self.device["key"])), "verify": server.root_ca}
        url = f"{server.credentials_url}/role-aliases/{self.device['alias']}/credentials"
        while not self.stop_event.is_set():
            try:
                r = session.get(url, headers={"x-amzn-iot-thingname": self.device["thing"]}, timeout=10, **tls)
                (result["ok"] if r.status_code == 200 else result["failed"]).append((time.monotonic(), r.status_code))
            except requests.RequestException as e:
                result["failed"].append((time.monotonic(), f"{type(e).__name__}: {e}"))
                session = requests.Session()
                time.sleep(0.05)  # a failed connection is retried after a pause, as devices do

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for t in self.threads:
            t.join(30)

    def of(self, server):
        ok = [x for r in self.results if r["target"] is server for x in r["ok"]]
        failed = [x for r in self.results if r["target"] is server for x in r["failed"]]
        return ok, failed

    def wait_for_successes(self, server, n, after=0.0, limit=30):
        try:
            seconds_until(lambda: len([t for t, _ in self.of(server)[0] if t > after]) >= n, limit)
        except pytest.fail.Exception:
            ok, failed = self.of(server)
            pytest.fail(f"{n} successes not within {limit} s: {len(ok)} succeeded, failures: {failed[:5]}")


def test_killing_one_instance_under_load_leaves_the_other_answering(pair, tmp_path):
    a, b = pair
    device = seed_with_aws_cli(a, tmp_path / "setup")
    with Load(device, [a, a, b, b]) as load:
        load.wait_for_successes(a, 20)
        load.wait_for_successes(b, 20)
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(30)
        killed = time.monotonic()
        load.wait_for_successes(b, 50, after=killed)
    ok_b, failed_b = load.of(b)
    ok_a, failed_a = load.of(a)
    assert failed_b == [], failed_b[:5]
    assert len([t for t, _ in ok_b if t > killed]) >= 50
    assert failed_a and all(t > killed - 0.5 for t, _ in failed_a), "A's clients notice, B's do not"
    print(f"B answered {len(ok_b)} requests without an error; A's clients saw {len(failed_a)} failures")


def postgres_cluster():
    """(version, name) of the local cluster on port 5432, if this machine manages it with
    pg_ctlcluster and we may restart it."""
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        return None
    out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, timeout=30).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "5432" and fields[3] == "online":
            return fields[0], fields[1]
    return None


def test_both_instances_ride_out_a_postgres_restart_under_load(pair, tmp_path):
    cluster = postgres_cluster()
    if cluster is None:
        pytest.skip("needs the local PostgreSQL cluster on port 5432 managed by pg_ctlcluster")
    a, b = pair
    device = seed_with_aws_cli(a, tmp_path / "setup")
    with Load(device, [a, b]) as load:
        load.wait_for_successes(a, 20)
        load.wait_for_successes(b, 20)
        restart = subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart", "-m", "fast"],
                                 capture_output=True, text=True, timeout=120)
        assert restart.returncode == 0, restart.stderr
        restarted = time.monotonic()
        load.wait_for_successes(a, 50, after=restarted)
        load.wait_for_successes(b, 50, after=restarted)
    for s in (a, b):
        ok, failed = load.of(s)
        # Issuance is served from the cache while the database is away: no client notices.
        assert failed == [], failed[:5]
        assert s.proc.poll() is None
    # Writes work again through both instances without restarting them ...
    for s, thing in ((a, "AfterRestartA"), (b, "AfterRestartB")):
        seconds_until(lambda: s.aws("iot", "create-thing", "--thing-name", thing, check=False).returncode == 0, 30)
    # ... and changes propagate again within a second.
    a.boto3_client("iot").update_certificate(certificateId=device["certificate_id"], newStatus="INACTIVE")
    seconds_until(lambda: credentials_status(b, device) == 403, PROPAGATION_LIMIT_S)
