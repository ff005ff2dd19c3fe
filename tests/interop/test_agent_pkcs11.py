"""A device key created inside a PKCS#11 token (SoftHSM2, Debian's package; pkcs11-tool from
OpenSC), never leaving it: the CSR is signed by the token (`iotcreds device csr`), the server's
CA issues the certificate (CreateCertificateFromCsr), and the seed flow runs through the agent,
whose TLS client signs the handshake through the token."""

import json
import os
import pathlib
import shutil
import subprocess

import pytest

from agent_harness import ALIAS, CONTENT, THING, Agent, get_and_denied_put_boto3, issuances, seeded, settle_audit
from conftest import BIN

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
# Letters and a dash: a PIN of digits could turn up by chance in a log line (a port, a time) and
# make the "never logged" checks fail for nothing.
PIN = "hsm-pin-Kq7z"
WRONG_PIN = "wrong-pin-Zx9"


def tool(*args, env):
    proc = subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{args[0]} failed: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture
def softhsm(tmp_path, monkeypatch):
    for exe in ("softhsm2-util", "pkcs11-tool"):
        if shutil.which(exe) is None:
            raise AssertionError(f"{exe} is missing: apt-get install softhsm2 opensc (.ci/run does)")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    env = dict(os.environ)
    tool("softhsm2-util", "--init-token", "--free", "--label", "iotcreds-test", "--pin", PIN, "--so-pin", "87654321",
         env=env)
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN + "\n")
    pin_file.chmod(0o600)
    return env, pin_file


@pytest.mark.parametrize("key_type", ["EC:prime256v1", "rsa:2048"])
def test_key_created_in_softhsm_runs_the_seed_through_the_agent(server, tmp_path, softhsm, key_type):
    env, pin_file = softhsm
    device = seeded(server, tmp_path)
    # 1. The key pair is generated inside the token.
    tool("pkcs11-tool", "--module", MODULE, "--token-label", "iotcreds-test", "--login", "--pin", PIN,
         "--keypairgen", "--key-type", key_type, "--label", "device-key", "--id", "0a01", env=env)
    listing = tool("pkcs11-tool", "--module", MODULE, "--token-label", "iotcreds-test", "--login", "--pin", PIN,
                   "--list-objects", "--type", "privkey", env=env)
    assert "never extractable" in listing and "sensitive" in listing, listing
    uri = (f"pkcs11:token=iotcreds-test;object=device-key;id=%0a%01;type=private"
           f"?module-path={MODULE}&pin-source=file:{pin_file}")
    # 2. A CSR signed by the token; 3. the server's CA issues the certificate.
    proc = subprocess.run([BIN, "device", "csr", "--key", uri, "--cn", THING, "--out", str(tmp_path / "device.csr")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert PIN not in proc.stdout + proc.stderr
    cert = server.aws("iot", "create-certificate-from-csr", "--set-as-active",
                      "--certificate-signing-request", f"file://{tmp_path / 'device.csr'}")
    (tmp_path / "hsm.pem").write_text(cert["certificatePem"])
    server.aws("iot", "attach-policy", "--policy-name", "ADCTestPolicy", "--target", cert["certificateArn"])
    server.aws("iot", "attach-thing-principal", "--thing-name", THING, "--principal", cert["certificateArn"])
    # 4. The agent fetches with the token key; SDKs get the credentials.
    agent = Agent(tmp_path / "agent", [device["endpoint"]], server.root_ca, tmp_path / "hsm.pem", uri)
    try:
        agent.wait_valid()
        status = agent.status()
        assert status["certificate"]["certificateId"] == cert["certificateId"]
        assert status["certificate"]["source"].startswith(f"{tmp_path / 'hsm.pem'} + pkcs11:")
        get_and_denied_put_boto3(server, agent.sdk_env("container"))
        settle_audit(server)
        issued = issuances(server)
        assert issued[-1]["certificate_id"] == cert["certificateId"]
        assert PIN not in "\n".join(agent.lines)
    finally:
        agent.stop()
    # The one-shot helper signs through the token too.
    proc = subprocess.run([BIN, "device", "credentials", "--endpoint", device["endpoint"], "--ca", server.root_ca,
                           "--cert", str(tmp_path / "hsm.pem"), "--key", uri, "--role-alias", ALIAS, "--thing", THING,
                           "--no-cache"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["AccessKeyId"].startswith("ASIA")


def test_pkcs11_errors_are_clear(server, tmp_path, softhsm):
    env, pin_file = softhsm
    cases = [
        ("pkcs11:token=iotcreds-test;object=device-key", "names no module"),
        (f"pkcs11:token=no-such-token?module-path={MODULE}&pin-source=file:{pin_file}", "no token matches"),
        (f"pkcs11:token=iotcreds-test;object=missing?module-path={MODULE}&pin-source=file:{pin_file}",
         "no private key matches"),
        (f"pkcs11:token=iotcreds-test?module-path={MODULE}", "needs a PIN"),
        (f"pkcs11:token=iotcreds-test?module-path={MODULE}&pin-value={WRONG_PIN}", "PIN is incorrect"),
        (f"pkcs11:token=iotcreds-test?module-path=/nonexistent.so&pin-value={PIN}", "loading the PKCS#11 module"),
        ("pkcs11:object=a;bogus=1", "unknown path attribute"),
    ]
    for uri, want in cases:
        proc = subprocess.run([BIN, "device", "csr", "--key", uri, "--cn", "x"], env=env, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 1, (uri, proc.stdout)
        assert want.lower() in proc.stderr.lower(), (uri, proc.stderr)
        assert PIN not in proc.stderr and WRONG_PIN not in proc.stderr
