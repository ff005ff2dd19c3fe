"""Issuance rate limits on the credentials endpoint (issue 15): a token bucket per certificate and
one for the account, answered with AWS's throttling shape (HTTP 429, x-amzn-ErrorType
ThrottlingException, {"message": "Rate exceeded"}) plus Retry-After, driven with curl --cert/--key.

The rates are set so low (one issuance per 100 s) that nothing refills while the test runs, so
the counts are exact. Only certificates the registry accepts take from the buckets: a flood of
unregistered certificates is refused 403 and leaves the devices' and the account's budgets
untouched."""

import json
import subprocess

import pytest
import requests

from conftest import Server
from seed import seed_with_aws_cli

PER_CERT_BURST = 3
ACCOUNT_BURST = 5
CONFIG = f"""[limits]
issuance_rate_per_certificate = 0.01
issuance_burst_per_certificate = {PER_CERT_BURST}
issuance_rate_per_account = 0.01
issuance_burst_per_account = {ACCOUNT_BURST}
"""


@pytest.fixture
def limited(tmp_path):
    config = tmp_path / "limits.toml"
    config.write_text(CONFIG)
    server = Server(tmp_path / "data", extra_args=["--config", str(config)])
    yield server
    server.stop()


def second_device(server, device, workdir):
    """Another certificate of ADCTestThing with ADCTestPolicy."""
    workdir.mkdir()
    cert = server.aws("iot", "create-keys-and-certificate", "--set-as-active",
                      "--certificate-pem-outfile", "cert.pem", "--private-key-outfile", "private.key",
                      cwd=str(workdir))
    server.aws("iot", "attach-policy", "--policy-name", "ADCTestPolicy", "--target", cert["certificateArn"])
    server.aws("iot", "attach-thing-principal", "--thing-name", device["thing"], "--principal",
               cert["certificateArn"])
    return {**device, "cert": workdir / "cert.pem", "key": workdir / "private.key",
            "certificate_id": cert["certificateId"]}


def unregistered_certificate(workdir):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(workdir / "stranger.key"), "-out", str(workdir / "stranger.pem"),
                    "-days", "1", "-subj", "/CN=stranger"], check=True, capture_output=True)
    return workdir / "stranger.pem", workdir / "stranger.key"


def ask(server, device):
    return server.curl_credentials(device["cert"], device["key"], device["alias"], device["thing"])


def assert_throttled(answer):
    status, headers, body = answer
    assert status == 429, (status, body)
    assert headers["x-amzn-errortype"] == "ThrottlingException", headers
    assert json.loads(body) == {"message": "Rate exceeded"}
    assert "x-amzn-requestid" in headers
    # One token per 100 s: the next one is about 100 s away.
    assert 1 <= int(headers["retry-after"]) <= 100, headers


def test_certificate_and_account_buckets(limited, tmp_path):
    server = limited
    device = seed_with_aws_cli(server, tmp_path / "setup")
    other = second_device(server, device, tmp_path / "other")

    # Strangers first: refused as unknown certificates, and never counted.
    stranger_cert, stranger_key = unregistered_certificate(tmp_path)
    for _ in range(2 * ACCOUNT_BURST):
        status, headers, body = server.curl_credentials(stranger_cert, stranger_key, device["alias"])
        assert status == 403 and headers["x-amzn-errortype"] == "AccessDeniedException", body

    # The device gets its burst, then the certificate's limit answers.
    for _ in range(PER_CERT_BURST):
        status, _, body = ask(server, device)
        assert status == 200, body
    assert_throttled(ask(server, device))
    assert_throttled(ask(server, device))  # a refusal takes nothing, and gives nothing back
    server.wait_for_audit(lambda events: any(
        e.get("event") == "credentials" and e.get("decision") == "deny" and e.get("status") == 429
        and e.get("certificate_id") == device["certificate_id"]
        and "certificate issuance rate limit" in e.get("reason", "") for e in events))

    # Another certificate has its own bucket, but shares the account's: 3 of its 5 are gone.
    for _ in range(ACCOUNT_BURST - PER_CERT_BURST):
        status, _, body = ask(server, other)
        assert status == 200, body
    assert_throttled(ask(server, other))
    server.wait_for_audit(lambda events: any(
        e.get("event") == "credentials" and e.get("status") == 429
        and e.get("certificate_id") == other["certificate_id"]
        and "account issuance rate limit" in e.get("reason", "") for e in events))

    # Throttling is counted apart from other refusals.
    metrics = requests.get(f"http://{server.admin_addr}/metrics", timeout=10).text
    assert 'iotcreds_credentials_requests_total{outcome="throttled"} 3' in metrics, metrics
