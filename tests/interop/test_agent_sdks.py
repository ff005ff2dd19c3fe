"""Real SDKs get the device's credentials from `iotcreds device agent` through their own
default credential chains, and do the seed's S3 GET (allowed) and a PUT (denied): boto3 and
aws-cli v1 through the container provider (per-alias path, token or token file, and the
Greengrass TES path) and through IMDSv2; the AWS SDK for JavaScript v3; the Rust SDK."""

import json
import os
import pathlib
import shutil
import subprocess

import pytest

from agent_harness import (ALIAS, Agent, get_and_denied_put_awscli, get_and_denied_put_boto3, issuances, seeded,
                           settle_audit)
from conftest import BUCKET, REPO

JS_DIR = REPO / "tests" / "js"
PROBE = os.environ.get("IOTCREDS_SDK_PROBE", str(REPO / "target" / "debug" / "examples" / "sdk_probe"))


@pytest.fixture
def agent(server, tmp_path):
    device = seeded(server, tmp_path)
    a = Agent(tmp_path / "agent", [device["endpoint"]], server.root_ca, device["cert"], device["key"],
              extra='account_id = "123456789012"')
    a.wait_valid()
    yield a
    a.stop()


def test_boto3_and_awscli_through_the_container_provider(server, agent, tmp_path):
    for env in (agent.sdk_env("container"), agent.sdk_env("container", token_file=False), agent.sdk_env("tes")):
        s3 = get_and_denied_put_boto3(server, env)
        frozen = s3._request_signer._credentials.get_frozen_credentials()
        assert frozen.access_key.startswith("ASIA")
        get_and_denied_put_awscli(server, env, tmp_path)
    # The agent fetched once; every SDK above was served from its cache.
    settle_audit(server)
    assert len(issuances(server)) == 1


def test_boto3_and_awscli_through_imds(server, agent, tmp_path):
    env = agent.sdk_env("imds")
    s3 = get_and_denied_put_boto3(server, env)
    assert s3._request_signer._credentials.method == "iam-role"
    get_and_denied_put_awscli(server, env, tmp_path)
    settle_audit(server)
    assert len(issuances(server)) == 1


def run_js(env, mode, calls=1):
    if shutil.which("node") is None or not (JS_DIR / "node_modules").is_dir():
        raise AssertionError("the JS SDK is not installed: run `npm ci` in tests/js (.ci/run does)")
    proc = subprocess.run(["node", str(JS_DIR / "s3_probe.mjs"), mode, str(calls)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_javascript_sdk_v3_default_chain(server, agent):
    # fromContainerMetadata / fromHttp (the default chain's container provider).
    out = run_js({**agent.sdk_env("container"), "S3_ENDPOINT": server.api_url, "S3_BUCKET": BUCKET}, "container")
    assert out["get"] == "Hello from adc-test-2020-08-26\n" and out["put"] == "AccessDenied" and out["errors"] == 0
    assert out["accessKeyId"].startswith("ASIA")
    # fromInstanceMetadata (IMDSv2).
    out = run_js({**agent.sdk_env("imds"), "S3_ENDPOINT": server.api_url, "S3_BUCKET": BUCKET}, "imds")
    assert out["get"] == "Hello from adc-test-2020-08-26\n" and out["put"] == "AccessDenied" and out["errors"] == 0
    settle_audit(server)
    assert len(issuances(server)) == 1


def run_probe(env, calls=1):
    if not pathlib.Path(PROBE).exists():
        raise AssertionError(f"{PROBE} is missing: `cargo test --workspace` (or `cargo build -p iotcreds-agent "
                             "--examples`) builds it")
    proc = subprocess.run([PROBE, str(calls)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_rust_sdk_default_chain(server, agent):
    for mode in ("container", "imds"):
        out = run_probe({**agent.sdk_env(mode), "S3_ENDPOINT": server.api_url, "S3_BUCKET": BUCKET})
        assert out["get"] == "Hello from adc-test-2020-08-26\n", out
        assert out["put"] == "AccessDenied", out
        assert out["errors"] == 0 and out["accessKeyId"].startswith("ASIA"), out
    settle_audit(server)
    assert len(issuances(server)) == 1
