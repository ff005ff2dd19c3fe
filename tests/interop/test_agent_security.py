"""The agent's local endpoints from an attacker's side: tokens (missing, wrong, another
alias's, compared whole), the TES path's exact rules, DNS rebinding (foreign Host), browsers
(Origin), IMDS's session tokens (v1 refused, TTL bounds, bounded table, X-Forwarded-For), and
no secret in the status, the metrics or the log."""

import json
import subprocess

import pytest
import requests

from agent_harness import ALIAS, THING, Agent, boto3_s3, issuances, seeded, settle_audit
from conftest import BUCKET

CREDENTIAL_FIELDS = {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}


@pytest.fixture
def agent(server, tmp_path):
    device = seeded(server, tmp_path)
    # A second alias with its own token file: the default token must not open it.
    server.aws("iot", "create-role-alias", "--role-alias", "SecondAlias", "--role-arn", device["role_arn"])
    policy = server.aws("iot", "get-policy", "--policy-name", "ADCTestPolicy")
    doc = json.loads(policy["policyDocument"])
    doc["Statement"][0]["Resource"] = [doc["Statement"][0]["Resource"], doc["Statement"][0]["Resource"].replace(
        ALIAS, "SecondAlias")]
    (tmp_path / "p2.json").write_text(json.dumps(doc))
    server.aws("iot", "create-policy-version", "--policy-name", "ADCTestPolicy", "--set-as-default",
               "--policy-document", f"file://{tmp_path / 'p2.json'}")
    a = Agent(tmp_path / "agent", [device["endpoint"]], server.root_ca, device["cert"], device["key"],
              aliases=((ALIAS, THING), ("SecondAlias", THING, tmp_path / "agent" / "token2")))
    yield a
    a.stop()


def code_of(r):
    return r.json()["Code"]


def test_tokens_are_required_and_scoped(agent):
    agent.wait_valid()
    for path in (f"/credentials/{ALIAS}", "/2016-11-01/credentialprovider/", "/status"):
        r = agent.get(path)
        assert r.status_code == 401 and code_of(r) == "Unauthorized", (path, r.text)
        assert set(r.json()) == {"Code", "Message"}
        for wrong in ("wrong", agent.token + "x", agent.token[:-1], agent.token.upper(), agent.token + agent.token):
            r = agent.get(path, token=wrong)
            assert r.status_code == 403 and code_of(r) == "AccessDenied", (path, wrong, r.text)
            assert "AccessKeyId" not in r.text
    ok = agent.get(f"/credentials/{ALIAS}", token=agent.token)
    assert ok.status_code == 200 and set(ok.json()) >= CREDENTIAL_FIELDS
    assert ok.headers["cache-control"] == "no-store"
    # The default token does not open the second alias, and says nothing about unknown ones.
    r = agent.get("/credentials/SecondAlias", token=agent.token)
    assert r.status_code == 403
    token2 = (agent.dir / "token2").read_text().strip()
    assert token2 != agent.token
    assert agent.get("/credentials/SecondAlias", token=token2).status_code == 200
    assert agent.get("/credentials/NoSuchAlias", token="wrong").status_code == 403
    assert agent.get("/credentials/NoSuchAlias", token=agent.token).status_code == 404
    # TES: the default alias only, GET only, the exact path only.
    assert agent.get("/2016-11-01/credentialprovider/", token=token2).status_code == 403
    r = agent.get("/2016-11-01/credentialprovider/", token=agent.token, method="POST")
    assert r.status_code == 405 and r.headers["allow"] == "GET"
    for near in ("/2016-11-01/credentialprovider", "/2016-11-01/credentialprovider/x",
                 "/2016-11-01/credentialprovider//"):
        assert agent.get(near, token=agent.token).status_code == 400, near
    assert agent.get("/2016-11-01/credentialprovider/", token=agent.token).json()["AccessKeyId"] == ok.json()[
        "AccessKeyId"]
    # Token files are not readable by others.
    assert (agent.token_file.stat().st_mode & 0o007) == 0


def test_a_wrong_token_never_gets_credentials_through_an_sdk(server, agent, tmp_path):
    from botocore.exceptions import BotoCoreError, ClientError
    agent.wait_valid()
    wrong = tmp_path / "wrong-token"
    wrong.write_text("this-is-not-the-agent-token")
    env = agent.sdk_env("container")
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = str(wrong)
    with pytest.raises((BotoCoreError, ClientError)):
        boto3_s3(server, env).get_object(Bucket=BUCKET, Key="test.txt")
    served = agent.metric("iotcreds_agent_requests_total", protocol="container", outcome="forbidden")
    assert served >= 1


def test_dns_rebinding_and_browsers_are_refused(agent):
    agent.wait_valid()
    for host in ("evil.example", "evil.example:80", "127.0.0.1.evil.example", "169.254.169.254"):
        r = agent.get(f"/credentials/{ALIAS}", token=agent.token, headers={"Host": host})
        assert r.status_code == 400 and code_of(r) == "InvalidHost", host
    for host in ("localhost", f"localhost:{agent.port}", f"127.0.0.1:{agent.port}", f"[::1]:{agent.port}"):
        assert agent.get(f"/credentials/{ALIAS}", token=agent.token, headers={"Host": host}).status_code == 200, host
    r = agent.get(f"/credentials/{ALIAS}", token=agent.token, headers={"Origin": "http://localhost"})
    assert r.status_code == 403
    # IMDS alike, where the link-local address is a legitimate Host.
    url = f"http://127.0.0.1:{agent.imds_port}/latest/api/token"
    ttl = {"X-aws-ec2-metadata-token-ttl-seconds": "60"}
    assert requests.put(url, headers={**ttl, "Host": "evil.example"}, timeout=5).status_code == 400
    assert requests.put(url, headers={**ttl, "Host": "169.254.169.254"}, timeout=5).status_code == 200
    assert requests.put(url, headers={**ttl, "Origin": "http://x"}, timeout=5).status_code == 403


def imds(agent, path, token=None, method="GET", headers=None):
    h = dict(headers or {})
    if token:
        h["X-aws-ec2-metadata-token"] = token
    return requests.request(method, f"http://127.0.0.1:{agent.imds_port}{path}", headers=h, timeout=10)


def test_imds_session_tokens(agent):
    agent.wait_valid()
    put = lambda ttl, **kw: imds(agent, "/latest/api/token", method="PUT",
                                 headers={"X-aws-ec2-metadata-token-ttl-seconds": ttl, **kw})
    for bad in ("0", "21601", "-1", "x", ""):
        assert put(bad).status_code == 400, bad
    assert imds(agent, "/latest/api/token", method="PUT").status_code == 400
    assert imds(agent, "/latest/api/token").status_code == 405
    r = put("21600")
    assert r.status_code == 200 and r.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    token = r.text
    # IMDSv1 (no token) and made-up tokens: 401.
    base = "/latest/meta-data/iam/security-credentials/"
    assert imds(agent, base).status_code == 401
    assert imds(agent, base, token="made-up").status_code == 401
    assert imds(agent, base, token=token).text == ALIAS
    doc = imds(agent, base + ALIAS, token=token).json()
    assert doc["Code"] == "Success" and doc["Type"] == "AWS-HMAC" and doc["LastUpdated"].endswith("Z")
    assert set(doc) >= CREDENTIAL_FIELDS
    assert imds(agent, base + "NoSuchRole", token=token).status_code == 404
    assert imds(agent, "/latest/meta-data/instance-id", token=token).status_code == 404
    # A relayed request is refused, even with a valid token.
    assert imds(agent, base + ALIAS, token=token, headers={"X-Forwarded-For": "10.0.0.1"}).status_code == 403
    assert put("60", **{"X-Forwarded-For": "10.0.0.1"}).status_code == 403
    # A short TTL expires.
    short = put("1").text
    assert imds(agent, base, token=short).status_code == 200
    agent.wait_for(lambda: imds(agent, base, token=short).status_code == 401, "the 1 s token to expire", 10)
    # A flood of tokens never grows the table beyond its bound (256).
    for _ in range(300):
        assert put("600").status_code == 200
    assert agent.metric("iotcreds_agent_imds_tokens") <= 256


def test_no_secret_in_status_metrics_or_log(server, agent, tmp_path):
    agent.wait_valid()
    creds = agent.get(f"/credentials/{ALIAS}", token=agent.token).json()
    secrets = [creds["SecretAccessKey"], creds["Token"], agent.token,
               (agent.dir / "token2").read_text().strip()]
    status = agent.get("/status", token=agent.token).text
    metrics = requests.get(agent.url("/metrics"), timeout=5).text
    settle_audit(server)
    log = "\n".join(agent.lines)
    for s in secrets:
        for where, text in (("status", status), ("metrics", metrics), ("log", log)):
            assert s not in text, f"a secret in the {where}"
    key = (tmp_path / "seed" / "private.key").read_text()
    body = "".join(line for line in key.splitlines() if "-----" not in line)
    assert body[:40] not in status + metrics + log
    # The status is useful: alias, expiry, no error.
    st = json.loads(status)
    a = st["roleAliases"][0]
    assert a["name"] == ALIAS and a["default"] and a["state"] == "valid" and a["expiration"] == creds["Expiration"]
    assert a["accessKeyId"] == creds["AccessKeyId"] and a["lastError"] is None
    assert "iotcreds_agent_refreshes_total" in metrics and "iotcreds_agent_requests_total" in metrics
    # The CLI prints it, from the configuration.
    proc = subprocess.run([server_bin(), "device", "agent", "status", "--config", str(agent.config_path),
                           "--agent", f"127.0.0.1:{agent.port}"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert f"role alias {ALIAS} [default] (thing {THING}): valid" in proc.stdout
    for s in secrets:
        assert s not in proc.stdout
    js = subprocess.run([server_bin(), "device", "agent", "status", "--config", str(agent.config_path), "--output",
                         "json", "--agent", f"[::1]:{agent.port}"], capture_output=True, text=True, timeout=30)
    assert json.loads(js.stdout)["roleAliases"][1]["name"] == "SecondAlias"


def server_bin():
    from conftest import BIN
    return BIN
