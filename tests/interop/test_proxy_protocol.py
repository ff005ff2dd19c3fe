"""PROXY protocol from an L4 load balancer (issue 15, "behind a proxy"): connections from the
addresses in `proxy_protocol_from` (here 127.0.0.2, standing in for the balancer) start with a
PROXY v1 or v2 header, and the client address it carries is the one iotcreds decides on
(`aws:SourceIp` in IoT policies) and audits. The device side is Python's ssl with the device's
certificate, after the header bytes a balancer such as HAProxy or an AWS NLB writes.

- v2 with a client inside the policy's network: credentials; v1 with one outside: Access Denied;
  curl straight from 127.0.0.1 (no balancer, so its own address): Access Denied.
- From the balancer's address without a header: the connection is closed. From any other
  address a header is not read: it is garbage before the TLS handshake, which fails."""

import ipaddress
import json
import socket
import ssl
import struct

import pytest

from conftest import Server
from seed import seed_with_aws_cli

BALANCER = "127.0.0.2"
ALLOWED_NET = "203.0.113.0/24"


@pytest.fixture
def balanced(tmp_path):
    config = tmp_path / "iotcreds.toml"
    config.write_text(f'proxy_protocol_from = ["{BALANCER}"]\n')
    server = Server(tmp_path / "data", extra_args=["--config", str(config)])
    yield server
    server.stop()


def v1(client, port):
    return f"PROXY TCP4 {client} 127.0.0.1 {port} 8443\r\n".encode()


def v2(client, port):
    addresses = ipaddress.IPv4Address(client).packed + ipaddress.IPv4Address("127.0.0.1").packed
    addresses += struct.pack("!HH", port, 8443)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(addresses)) + addresses


def credentials_via(server, device, header, source):
    """GET the credentials over TLS with the device's certificate, from `source`, after `header`.
    Returns (status, body)."""
    ctx = ssl.create_default_context(cafile=server.root_ca)
    ctx.load_cert_chain(str(device["cert"]), str(device["key"]))
    with socket.create_connection(("127.0.0.1", server.credentials_port), timeout=10,
                                  source_address=(source, 0)) as raw:
        raw.sendall(header)
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /role-aliases/ADCTestRoleAlias/credentials HTTP/1.1\r\nHost: localhost\r\n"
                        b"x-amzn-iot-thingname: ADCTestThing\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_the_balancer_s_client_address_is_decided_on(balanced, tmp_path):
    server = balanced
    device = seed_with_aws_cli(server, tmp_path / "setup")
    # ADCTestPolicy, now only for clients in 203.0.113.0/24.
    account = server.boto3_client("sts").get_caller_identity()["Account"]
    alias_arn = f"arn:aws:iot:ap-northeast-1:{account}:rolealias/ADCTestRoleAlias"
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "iot:AssumeRoleWithCertificate", "Resource": alias_arn,
        "Condition": {"IpAddress": {"aws:SourceIp": ALLOWED_NET}}}]}
    server.aws("iot", "create-policy-version", "--policy-name", "ADCTestPolicy", "--policy-document",
               json.dumps(policy), "--set-as-default")

    status, body = credentials_via(server, device, v2("203.0.113.7", 51000), BALANCER)
    assert status == 200, body
    assert body["credentials"]["accessKeyId"].startswith("ASIA")
    status, body = credentials_via(server, device, v1("198.51.100.9", 51001), BALANCER)
    assert (status, body) == (403, {"message": "Access Denied"})
    status, _, body = server.curl_credentials(device["cert"], device["key"], "ADCTestRoleAlias", "ADCTestThing")
    assert (status, json.loads(body)) == (403, {"message": "Access Denied"})
    events = server.wait_for_audit(lambda events: {"203.0.113.7", "198.51.100.9", "127.0.0.1"} <= {
        e.get("source_ip") for e in events if e.get("event") == "credentials"})
    decided = {e["source_ip"]: e["decision"] for e in events if e.get("event") == "credentials"}
    assert decided == {"203.0.113.7": "allow", "198.51.100.9": "deny", "127.0.0.1": "deny"}, decided


def test_headers_are_required_from_the_balancer_and_ignored_from_others(balanced, tmp_path):
    server = balanced
    device = seed_with_aws_cli(server, tmp_path / "setup")
    # From the balancer without a header: closed before any TLS.
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        credentials_via(server, device, b"", BALANCER)
    # From elsewhere, a header is garbage in front of the TLS handshake.
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        credentials_via(server, device, v2("203.0.113.7", 51000), "127.0.0.1")
    # And the ordinary path still works from there.
    status, body = credentials_via(server, device, b"", "127.0.0.1")
    assert status == 200, body
