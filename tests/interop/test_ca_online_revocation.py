"""Online revocation checking of registered CAs (issue 15, iotcreds extensions: AWS IoT's
credentials provider asks no OCSP responder and fetches no CRL). The fleet's CA is an
`openssl ca` of the test's own whose device certificates name an OCSP responder in their
Authority Information Access; the responder is `openssl ocsp` on loopback, the CRL distribution
point a small HTTP server of the test's. Devices ask with curl --cert/--key and read S3 with
boto3; the CA's settings are changed with `iotcreds ca set-revocation`.

- OCSP, fail closed: a good device gets credentials; a device the CA revoked gets "Access
  Denied", is marked REVOKED and the session it already holds ends; a responder that is down, or
  answers with a signature of another key, refuses every device (503, so SDKs retry).
- Answers are cached until their nextUpdate (the responder can go away); fail open issues when
  no answer can be had, with an audit line; a configured responder replaces the certificate's.
- The CRL at the CA's crlUrl is fetched on a schedule: a newly revoked device loses credentials
  and its session within seconds; a CRL signed by another key, out of date, older than the one
  held (by its cRLNumber, even within the same second), too large or not served changes nothing
  and is logged."""

import datetime
import json
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from conftest import Server
from test_ca_crl import OpensslCa, ask, creds_of, openssl_time, reads, register_fleet

CONFIG = """
[revocation]
crl_refresh_secs = 1
crl_retry_secs = 1
max_crl_bytes = 65536
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Responder:
    """`openssl ocsp` answering for `ca` on loopback, signing with `signer`'s key (the CA's by
    default). It reads the CA's database when it starts."""

    def __init__(self, ca, port, signer=None, extra=()):
        signer = signer or ca
        self.port = port
        self.proc = subprocess.Popen(
            ["openssl", "ocsp", "-index", str(ca.dir / "index.txt"), "-port", str(port),
             "-rsigner", str(signer.dir / "ca.pem"), "-rkey", str(signer.dir / "ca.key"),
             "-CA", str(ca.dir / "ca.pem"), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # Ready once it says so: it listens before that line. (A probe connection would not
        # do: `openssl ocsp` serves one connection at a time and hangs on one that sends
        # nothing.)
        listening = threading.Event()

        def drain():
            for line in self.proc.stderr:
                if "waiting for OCSP client connections" in line:
                    listening.set()

        threading.Thread(target=drain, daemon=True).start()
        if not listening.wait(10):
            self.stop()
            raise RuntimeError("openssl ocsp did not start")

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class CrlPoint:
    """A CRL distribution point: serves `body` with `status` at any path."""

    def __init__(self):
        point = self
        self.body, self.status, self.requests = b"", 404, 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                point.requests += 1
                self.send_response(point.status)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(point.body)))
                self.end_headers()
                self.wfile.write(point.body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/ADCTestFleetCA.crl"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, body, status=200):
        self.body, self.status = body, status

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def online(tmp_path):
    config = tmp_path / "revocation.toml"
    config.write_text(CONFIG)
    server = Server(tmp_path / "data", extra_args=["--config", str(config)])
    port = free_port()
    ca = OpensslCa(tmp_path / "ca", ocsp_url=f"http://127.0.0.1:{port}/")
    ca_id, devices = register_fleet(server, ca, tmp_path)
    yield server, ca, ca_id, devices, port
    server.stop()


def set_revocation(server, ca_id, *args):
    return server.iotcreds("ca", "set-revocation", ca_id, *args).stdout


def describe(server, ca_id):
    return json.loads(server.iotcreds("ca", "describe", ca_id, "--output", "json").stdout)["certificateDescription"]


def denied(server, certificate_id, words):
    server.wait_for_audit(lambda events: any(
        e.get("event") == "credentials" and e.get("decision") == "deny"
        and e.get("certificate_id") == certificate_id and words in e.get("reason", "")
        for e in events))


def session_refused(server, session):
    with pytest.raises(ClientError) as e:
        reads(server, session)
    assert e.value.response["Error"]["Code"] in ("InvalidToken", "ExpiredToken", "AccessDenied"), e.value.response


def wait_for_log(server, since, predicate, timeout=15):
    """A JSON log line written after line `since` for which `predicate` holds."""
    deadline = time.monotonic() + timeout
    while True:
        for line in server.lines[since:]:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if predicate(event):
                return event
        if time.monotonic() > deadline:
            raise AssertionError(f"no such log line in {timeout} s: {server.lines[since:][-10:]}")
        threading.Event().wait(0.05)  # poll interval


def wait_until(check, timeout=15):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        threading.Event().wait(0.1)  # poll interval


def test_ocsp_fail_closed_refuses_revoked_devices_and_ends_their_sessions(online):
    server, ca, ca_id, devices, port = online
    device, other = devices["ADCTestThing"], devices["ADCTestThing-2"]
    out = set_revocation(server, ca_id, "--ocsp", "fail-closed")
    assert "OCSP fail-closed" in out, out
    assert describe(server, ca_id)["iotcredsRevocationConfig"] == {
        "ocsp": "FAIL_CLOSED", "ocspResponderUrl": None, "crlUrl": None}

    # No responder listening: nothing is issued, and the device is told to retry.
    status, headers, body = ask(server, device)
    assert (status, json.loads(body)) == (503, {"message": "Service Unavailable"}), body
    assert headers["x-amzn-errortype"] == "ServiceUnavailableException"
    denied(server, device["certificate_id"], "fails closed")

    # The responder answers without nextUpdate, so nothing is cached: each issuance asks.
    with Responder(ca, port):
        status, _, body = ask(server, device)
        assert status == 200, body
        assert reads(server, creds_of(body))
        status, _, body = ask(server, other)
        assert status == 200, body
        session = creds_of(body)
        assert reads(server, session)
    ca.revoke(other["cert"])
    with Responder(ca, port):
        status, headers, body = ask(server, other)
        assert (status, json.loads(body)) == (403, {"message": "Access Denied"})
        assert headers["x-amzn-errortype"] == "AccessDeniedException"
        denied(server, other["certificate_id"], "revoked, says the OCSP responder")
        server.wait_for_audit(lambda events: any(
            e.get("event") == "ocsp" and e.get("decision") == "revoke"
            and e.get("certificate_id") == other["certificate_id"] for e in events))
        # The registry now says REVOKED, so the session it already holds ends too.
        got = server.aws("iot", "describe-certificate", "--certificate-id", other["certificate_id"])
        assert got["certificateDescription"]["status"] == "REVOKED"
        session_refused(server, session)
        # The CA's other device is good.
        status, _, body = ask(server, device)
        assert status == 200, body


def test_ocsp_caches_until_next_update_fails_open_and_takes_a_configured_responder(online, tmp_path):
    server, ca, ca_id, devices, port = online
    device, other = devices["ADCTestThing"], devices["ADCTestThing-2"]
    set_revocation(server, ca_id, "--ocsp", "fail-closed")
    # Answers good for five minutes: cached by this instance until then.
    with Responder(ca, port, extra=["-nmin", "5"]):
        assert ask(server, device)[0] == 200
    # The responder is gone: the cached answer still serves; a device it never answered for
    # cannot be checked.
    assert ask(server, device)[0] == 200
    assert ask(server, other)[0] == 503

    # Fail open: issued without an answer, and said so in the audit log.
    set_revocation(server, ca_id, "--ocsp", "fail-open")
    status, _, body = ask(server, other)
    assert status == 200, body
    server.wait_for_audit(lambda events: any(
        e.get("event") == "ocsp" and e.get("decision") == "fail_open"
        and e.get("certificate_id") == other["certificate_id"] for e in events))

    # An answer signed by another key under the CA's name is no answer.
    impostor = OpensslCa(tmp_path / "impostor")
    set_revocation(server, ca_id, "--ocsp", "fail-closed")
    with Responder(ca, port, signer=impostor):
        assert ask(server, other)[0] == 503
        denied(server, other["certificate_id"], "signed neither by the CA")

    # A configured responder replaces the one the certificates name (whose port is now dead).
    elsewhere = free_port()
    set_revocation(server, ca_id, "--ocsp", "fail-closed", "--ocsp-responder", f"http://127.0.0.1:{elsewhere}/")
    assert describe(server, ca_id)["iotcredsRevocationConfig"]["ocspResponderUrl"] == f"http://127.0.0.1:{elsewhere}/"
    with Responder(ca, elsewhere):
        status, _, body = ask(server, other)
        assert status == 200, body

    # Turning OCSP off stops asking.
    set_revocation(server, ca_id)
    assert describe(server, ca_id)["iotcredsRevocationConfig"]["ocsp"] == "OFF"
    assert ask(server, other)[0] == 200

    # Settings that cannot work are refused, and change nothing.
    for args, words in [
        (["--crl-url", "https://pki.example/fleet.crl"], "must be an http:// URL"),
        (["--ocsp-responder", "http://"], "ocspResponderUrl"),
    ]:
        proc = server.iotcreds("ca", "set-revocation", ca_id, "--ocsp", "fail-closed", *args, check=False)
        assert proc.returncode != 0 and words in proc.stderr, proc.stderr
    assert describe(server, ca_id)["iotcredsRevocationConfig"]["ocsp"] == "OFF"


def test_the_crl_is_fetched_on_a_schedule_and_bad_ones_change_nothing(online, tmp_path):
    server, ca, ca_id, devices, _ = online
    device, other = devices["ADCTestThing"], devices["ADCTestThing-2"]
    point = CrlPoint()
    # Both CRLs the CA publishes carry the same thisUpdate (a CA publishing twice within a
    # second): only their cRLNumbers tell which is later, so the replayed first must be refused.
    issued = openssl_time(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1))
    try:
        point.serve(ca.crl("first", "-crl_lastupdate", issued).read_bytes())
        out = set_revocation(server, ca_id, "--crl-url", point.url)
        assert "CRL fetched from" in out, out
        wait_until(lambda: (describe(server, ca_id).get("iotcredsCrl") or {}).get("revokedCount") == 0)
        status, _, body = ask(server, device)
        assert status == 200, body
        session = creds_of(body)
        assert reads(server, session)

        # The CA revokes the device and publishes a new CRL: within seconds the device gets no
        # credentials and its session ends; the other device is unaffected.
        ca.revoke(device["cert"])
        point.serve(ca.crl("second", "-crl_lastupdate", issued).read_bytes())
        wait_until(lambda: ask(server, device)[0] == 403)
        denied(server, device["certificate_id"], "revoked by the CRL")
        session_refused(server, session)
        assert ask(server, other)[0] == 200
        assert describe(server, ca_id)["iotcredsCrl"]["revokedCount"] == 1

        # What must not be believed is logged and changes nothing.
        impostor = OpensslCa(tmp_path / "impostor")
        now = datetime.datetime.now(datetime.timezone.utc)
        stale = ca.crl("stale", "-crl_lastupdate", openssl_time(now - datetime.timedelta(hours=2)),
                       "-crl_nextupdate", openssl_time(now - datetime.timedelta(hours=1)))
        for body, status, words in [
            (impostor.crl("forged").read_bytes(), 200, "signature does not verify"),
            (stale.read_bytes(), 200, "out of date"),
            ((tmp_path / "ca" / "first.pem").read_bytes(), 200, "older than the one imported"),
            (b"", 404, "HTTP status 404"),
            (b"0" * 70000, 200, "larger than 65536 bytes"),
            (b"not a CRL", 200, "not a valid X.509 CRL"),
        ]:
            since = len(server.lines)
            point.serve(body, status)
            event = wait_for_log(server, since, lambda e: e.get("message") == "could not fetch a CA certificate revocation list"
                                 and words in e.get("reason", ""))
            assert event["ca_certificate_id"] == ca_id
            assert describe(server, ca_id)["iotcredsCrl"]["revokedCount"] == 1
            assert ask(server, device)[0] == 403
        assert ask(server, other)[0] == 200
        # Removing the URL stops fetching.
        set_revocation(server, ca_id)
        assert describe(server, ca_id)["iotcredsRevocationConfig"]["crlUrl"] is None
    finally:
        point.close()
