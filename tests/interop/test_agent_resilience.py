"""What the agent costs the credentials endpoint, and what its clients see when the endpoint
fails: 200 SDK calls → one issuance; the endpoint down while cached credentials are valid →
no SDK error; a broken set-up → a few requests per minute, however hard the SDKs ask;
failover between endpoints; certificate rotation; the credentials file; credential_process
without a mint per call."""

import configparser
import json
import os
import shlex
import subprocess
import threading
import time

import pytest

from agent_harness import (ALIAS, CONTENT, THING, Agent, Relay, boto3_s3, free_port, issuances, sdk_environment,
                           seeded, settle_audit)
from conftest import AWS, BIN, BUCKET, REGION


def test_200_sdk_calls_cost_one_issuance(server, tmp_path):
    device = seeded(server, tmp_path)
    # 15-minute credentials: botocore refreshes credentials with less than 15 minutes left
    # before every call, so each of the 200 calls below asks the agent.
    server.aws("iot", "update-role-alias", "--role-alias", ALIAS, "--credential-duration-seconds", "900")
    agent = Agent(tmp_path / "agent", [device["endpoint"]], server.root_ca, device["cert"], device["key"])
    try:
        agent.wait_valid()
        env = agent.sdk_env("container")
        with sdk_environment(env):
            s3 = boto3_s3(server, env)
            started = time.monotonic()
            for _ in range(200):
                assert s3.get_object(Bucket=BUCKET, Key="test.txt")["Body"].read() == CONTENT
            elapsed = time.monotonic() - started
        assert elapsed < 60, f"200 calls took {elapsed:.0f} s"
        assert agent.metric("iotcreds_agent_requests_total", protocol="container", outcome="ok") >= 200
        settle_audit(server)
        assert len(issuances(server)) == 1
        assert agent.metric("iotcreds_agent_refreshes_total", role_alias=ALIAS, outcome="success") == 1
    finally:
        agent.stop()


def test_endpoint_outage_while_cached_credentials_are_valid(server, tmp_path):
    """The endpoint stops right after the first fetch. The agent is made to want a refresh at
    once (refresh 3598 s before a 3600 s expiry) with short backoffs (1 s doubling to 4 s), so
    that in 12 s it goes through at least as many failed refresh cycles as the default policy
    (15 s doubling) does in a 2-minute outage (at 0, 15, 45 and 105 s: 4). Meanwhile SDK calls,
    each resolving credentials afresh, must all succeed; when the endpoint returns, the next
    attempt gets new credentials and they are served."""
    device = seeded(server, tmp_path)
    relay = Relay(server.credentials_port)
    agent = Agent(tmp_path / "agent", [f"localhost:{relay.port}"], server.root_ca, device["cert"], device["key"],
                  extra="[refresh]\nbefore_expiry_secs = 3598\njitter_secs = 0\nmin_interval_secs = 1\n"
                        "server_error_backoff_secs = 1\nmax_backoff_secs = 4")
    try:
        agent.wait_valid()
        relay.stop()
        first = agent.status()["roleAliases"][0]["accessKeyId"]
        env = agent.sdk_env("container")
        errors, calls = 0, 0
        outage_end = time.monotonic() + 12
        while time.monotonic() < outage_end:
            calls += 1
            try:
                s3 = boto3_s3(server, env)
                assert s3.get_object(Bucket=BUCKET, Key="test.txt")["Body"].read() == CONTENT
            except Exception as e:  # noqa: BLE001 - every failure counts
                errors += 1
                print("SDK error during the outage:", e)
        failed = agent.metric("iotcreds_agent_refreshes_total", role_alias=ALIAS, outcome="unavailable")
        assert errors == 0, f"{errors} of {calls} SDK calls failed"
        assert calls >= 20
        assert failed >= 4, f"only {failed} failed refresh attempts during the outage"
        status = agent.status()["roleAliases"][0]
        assert status["state"] == "valid" and status["lastError"]["class"] == "unavailable"
        assert status["accessKeyId"] == first
        relay.start()
        renewed = agent.wait_for(
            lambda: (a := agent.status()["roleAliases"][0])["accessKeyId"] != first and a["lastError"] is None and a,
            "new credentials after the endpoint came back", 30)
        creds = boto3_s3(server, env)._request_signer._credentials.get_frozen_credentials()
        assert creds.access_key == renewed["accessKeyId"]
    finally:
        agent.stop()
        relay.stop()


def test_a_broken_setup_is_not_a_request_storm(server, tmp_path):
    device = seeded(server, tmp_path)
    # A refusal (wrong thing: 403) with the default policy: one request, then 120 s of quiet.
    agent = Agent(tmp_path / "agent", [device["endpoint"]], server.root_ca, device["cert"], device["key"],
                  aliases=((ALIAS, "NotMyThing"),))
    # An outage (nothing listens) with the default policy: 15 s, then 30 s, … between attempts.
    relay = Relay(server.credentials_port)
    relay.stop()
    down = Agent(tmp_path / "down", [f"localhost:{relay.port}"], server.root_ca, device["cert"], device["key"],
                 imds=False)
    try:
        env, env_down = agent.sdk_env("container"), down.sdk_env("container")
        env["AWS_METADATA_SERVICE_NUM_ATTEMPTS"] = env_down["AWS_METADATA_SERVICE_NUM_ATTEMPTS"] = "1"
        started = time.monotonic()
        sdk_errors = local = 0
        for e in (env, env_down):
            try:
                boto3_s3(server, e).get_object(Bucket=BUCKET, Key="test.txt")
            except Exception:  # noqa: BLE001 - expected: no credentials
                sdk_errors += 1
        # Then what SDK retries look like, faster: plain requests with the token, for 10 s.
        while time.monotonic() - started < 10 or local < 200:
            for a in (agent, down):
                assert a.get(f"/credentials/{ALIAS}", token=a.token).status_code in (502, 503)
                local += 1
        assert sdk_errors == 2
        settle_audit(server)
        refused = issuances(server, decision="deny")
        assert len(refused) == 1 and refused[0]["status"] == 403
        assert relay.connections == 0  # stopped: count what the agent tried instead
        attempts = down.metric("iotcreds_agent_refreshes_total", role_alias=ALIAS, outcome="unavailable")
        assert 1 <= attempts <= 2, attempts
        # What the SDKs were told, and what the status shows.
        r = agent.get(f"/credentials/{ALIAS}", token=agent.token)
        assert r.status_code == 502 and r.json()["Code"] == "CredentialsRefused"
        assert "403" in r.json()["Message"] and "Invalid thing name passed" in r.json()["Message"]
        r = down.get(f"/credentials/{ALIAS}", token=down.token)
        assert r.status_code == 503 and r.json()["Code"] == "CredentialsUnavailable"
        err = agent.status()["roleAliases"][0]["lastError"]
        assert err["class"] == "refused" and err["consecutive"] == 1
    finally:
        agent.stop()
        down.stop()


def test_failover_to_the_next_endpoint(server, tmp_path):
    device = seeded(server, tmp_path)
    dead = f"localhost:{free_port()}"
    agent = Agent(tmp_path / "agent", [dead, device["endpoint"]], server.root_ca, device["cert"], device["key"])
    try:
        agent.wait_valid()
        assert agent.status()["endpoints"] == [dead, device["endpoint"]]
        refreshed = agent.events("credentials refreshed")
        assert refreshed[0]["endpoint"] == device["endpoint"]
    finally:
        agent.stop()


def test_certificate_rotation_newest_valid_wins_without_dropping_requests(server, tmp_path):
    device = seeded(server, tmp_path)
    agent = Agent(tmp_path / "agent", [device["endpoint"]], server.root_ca, device["cert"], device["key"],
                  identities=[(device["cert"], device["key"]), (tmp_path / "next.pem", tmp_path / "next.key")],
                  extra="[refresh]\nreload_interval_secs = 1")
    try:
        first = agent.wait_valid()
        old_id = agent.status()["certificate"]["certificateId"]
        assert old_id == device["certificate_id"]
        assert agent.status()["identityErrors"], "the missing next.pem is reported"
        # A new certificate for the same thing, written where the agent looks for the next one.
        new = server.aws("iot", "create-keys-and-certificate", "--set-as-active", "--certificate-pem-outfile",
                         "next.pem", "--private-key-outfile", "next.key", cwd=str(tmp_path))
        server.aws("iot", "attach-policy", "--policy-name", "ADCTestPolicy", "--target", new["certificateArn"])
        server.aws("iot", "attach-thing-principal", "--thing-name", THING, "--principal", new["certificateArn"])
        (tmp_path / "next.key").chmod(0o600)
        stop = threading.Event()
        failures = []

        def hammer():
            while not stop.is_set():
                r = agent.get(f"/credentials/{ALIAS}", token=agent.token)
                if r.status_code != 200:
                    failures.append(r.text)

        t = threading.Thread(target=hammer)
        t.start()
        try:
            agent.wait_for(lambda: agent.status()["certificate"]["certificateId"] == new["certificateId"],
                           "the newer certificate in use", 30)
            # The next fetch uses it; SIGHUP asks for one now rather than at the refresh time.
            agent.proc.send_signal(1)
        finally:
            stop.set()
            t.join()
        assert failures == []
        assert agent.status()["roleAliases"][0]["accessKeyId"] == first["accessKeyId"]
        # A refresh after the rotation is made with the new certificate.
        agent.stop()
        again = Agent(tmp_path / "agent", [device["endpoint"]], server.root_ca, device["cert"], device["key"],
                      identities=[(device["cert"], device["key"]), (tmp_path / "next.pem", tmp_path / "next.key")])
        try:
            again.wait_valid()
            settle_audit(server)
            assert issuances(server)[-1]["certificate_id"] == new["certificateId"]
        finally:
            again.stop()
        # A half-written rotation (certificate without its key) never replaces a working identity.
        (tmp_path / "next.key").write_text((tmp_path / "seed" / "private.key").read_text())
        (tmp_path / "next.key").chmod(0o600)
        third = Agent(tmp_path / "agent", [device["endpoint"]], server.root_ca, device["cert"], device["key"],
                      identities=[(device["cert"], device["key"]), (tmp_path / "next.pem", tmp_path / "next.key")])
        try:
            assert third.status()["certificate"]["certificateId"] == old_id
            assert "do not belong together" in third.status()["identityErrors"][0]["error"]
        finally:
            third.stop()
    finally:
        if agent.proc.poll() is None:
            agent.stop()


def test_credentials_file_is_kept_fresh(server, tmp_path):
    device = seeded(server, tmp_path)
    creds_file = tmp_path / "out" / "credentials"
    creds_file.parent.mkdir()
    agent = Agent(tmp_path / "agent", [device["endpoint"]], server.root_ca, device["cert"], device["key"],
                  args=["--write-credentials-file", str(creds_file)],
                  extra="[refresh]\nbefore_expiry_secs = 3598\njitter_secs = 0\nmin_interval_secs = 1")
    try:
        first = agent.wait_valid()["accessKeyId"]
        agent.wait_for(creds_file.exists, "the credentials file")
        assert creds_file.stat().st_mode & 0o777 == 0o600
        # Refreshed every ~2 s here: the file follows, always whole.
        def rewritten():
            p = configparser.ConfigParser()
            p.read(creds_file)
            return p["default"]["aws_access_key_id"] != first and p
        parsed = agent.wait_for(rewritten, "a rewritten credentials file", 30)
        assert parsed[ALIAS]["aws_access_key_id"] == parsed["default"]["aws_access_key_id"]
        assert [f.name for f in creds_file.parent.iterdir()] == ["credentials"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_SHARED_CREDENTIALS_FILE": str(creds_file), "AWS_CONFIG_FILE": "/dev/null",
                    "AWS_EC2_METADATA_DISABLED": "true"})
        proc = subprocess.run([AWS, "s3", "cp", f"s3://{BUCKET}/test.txt", "-", "--endpoint-url", server.api_url,
                               "--region", REGION], env=env, capture_output=True, timeout=120)
        assert proc.returncode == 0 and proc.stdout == CONTENT, proc.stderr
    finally:
        agent.stop()


def test_credential_process_does_not_mint_per_call(server, tmp_path):
    device = seeded(server, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IOTCREDS_"))}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    direct = [BIN, "device", "credentials", "--endpoint", device["endpoint"], "--cert", str(device["cert"]),
              "--key", str(device["key"]), "--ca", server.root_ca, "--role-alias", ALIAS, "--thing", THING]
    config = tmp_path / "aws-config"
    config.write_text(f"[profile device]\ncredential_process = {shlex.join(direct)}\nregion = {REGION}\n")
    aws_env = {**env, "AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
               "AWS_PROFILE": "device", "AWS_EC2_METADATA_DISABLED": "true"}
    for _ in range(5):
        proc = subprocess.run([AWS, "s3", "cp", f"s3://{BUCKET}/test.txt", "-", "--endpoint-url", server.api_url],
                              env=aws_env, capture_output=True, timeout=120)
        assert proc.returncode == 0 and proc.stdout == CONTENT, proc.stderr
    settle_audit(server)
    assert len(issuances(server)) == 1, "five aws-cli commands, one issuance (the cache)"
    cache_files = list((tmp_path / "cache" / "iotcreds").iterdir())
    assert len(cache_files) == 1 and cache_files[0].stat().st_mode & 0o777 == 0o600
    # With an agent running, the helper asks it (no issuance, no cache needed).
    agent = Agent(tmp_path / "agent", [device["endpoint"]], server.root_ca, device["cert"], device["key"])
    try:
        agent.wait_valid()
        settle_audit(server)
        before = len(issuances(server))
        via_agent = subprocess.run([BIN, "device", "credentials", "--config", str(agent.config_path), "--no-cache",
                                    "--agent", f"127.0.0.1:{agent.port}"], env=env, capture_output=True, text=True, timeout=60)
        assert via_agent.returncode == 0, via_agent.stderr
        out = json.loads(via_agent.stdout)
        assert out["Version"] == 1 and out["AccessKeyId"] == agent.status()["roleAliases"][0]["accessKeyId"]
        settle_audit(server)
        assert len(issuances(server)) == before
    finally:
        agent.stop()
    # Agent gone: the helper falls back to a direct fetch with the same configuration.
    fallback = subprocess.run([BIN, "device", "credentials", "--config", str(agent.config_path), "--no-cache",
                               "--agent", f"127.0.0.1:{agent.port}"],
                              env=env, capture_output=True, text=True, timeout=60)
    assert fallback.returncode == 0, fallback.stderr
    assert json.loads(fallback.stdout)["AccessKeyId"].startswith("ASIA")
