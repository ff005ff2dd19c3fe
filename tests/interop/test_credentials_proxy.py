"""The credentials endpoint behind a TLS-terminating proxy (issue 15, trusted-proxy mode): nginx
(Debian's, started by the test) terminates TLS and verifies the device's handshake with
`ssl_verify_client optional_no_ca`, then forwards to iotcreds's `[credentials_proxy]` listener
with the certificate in `X-Forwarded-Client-Cert` ($ssl_client_escaped_cert), the server name and
the client's address. curl --cert/--key talks to nginx; boto3 uses the credentials.

Attacks, each refused: a client sending its own X-Forwarded-Client-Cert header through nginx
(nginx replaces it), and a client reaching the proxy listener directly from an address that is
not the proxy's (127.0.0.2; the listener trusts 127.0.0.1 only), even with a well-formed header."""

import json
import os
import pathlib
import pwd
import grp
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import BUCKET, Server
from seed import device_credentials, make_bucket_with_test_file, seed_with_aws_cli

NGINX_CONF = """
user {user} {group};
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_verify_client optional_no_ca;
        location / {{
            proxy_pass http://{upstream};
            proxy_set_header X-Forwarded-Client-Cert $ssl_client_escaped_cert;
            proxy_set_header X-Forwarded-Server-Name $ssl_server_name;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
    }}
}}
"""


def free_port():
    # nginx cannot report the port it bound, so it is given one that was free a moment ago.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def proxied(tmp_path):
    config = tmp_path / "iotcreds.toml"
    config.write_text('[credentials_proxy]\naddr = "127.0.0.1:0"\ntrusted_proxies = ["127.0.0.1"]\n'
                      'server_name_header = "x-forwarded-server-name"\nclient_addr_header = "x-forwarded-for"\n')
    server = Server(tmp_path / "data", extra_args=["--config", str(config)])
    work = tmp_path / "nginx"
    work.mkdir()
    port = free_port()
    (work / "nginx.conf").write_text(NGINX_CONF.format(
        user=pwd.getpwuid(os.getuid()).pw_name, group=grp.getgrgid(os.getgid()).gr_name, work=work, port=port,
        cert=server.data_dir / "tls" / "credentials.pem", key=server.data_dir / "tls" / "credentials.key",
        upstream=server.credentials_proxy_addr))
    nginx = subprocess.Popen(["nginx", "-c", str(work / "nginx.conf"), "-p", str(work)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:  # poll until nginx accepts connections
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert nginx.poll() is None, nginx.stderr.read().decode()
            assert time.monotonic() < deadline, "nginx did not start"
            threading.Event().wait(0.05)
    try:
        yield server, f"https://localhost:{port}"
    finally:
        nginx.terminate()
        nginx.wait(10)
        server.stop()


def curl(server, url, cert=None, key=None, headers=()):
    cmd = ["curl", "-sS", "-i", "--cacert", server.root_ca]
    if cert:
        cmd += ["--cert", str(cert), "--key", str(key)]
    for h in headers:
        cmd += ["-H", h]
    proc = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=60, check=True)
    head, _, body = proc.stdout.replace("\r\n", "\n").partition("\n\n")
    return int(head.split()[1]), body


def test_devices_get_credentials_through_nginx(proxied, tmp_path):
    server, nginx_url = proxied
    device = seed_with_aws_cli(server, tmp_path / "setup")
    content = make_bucket_with_test_file(server, tmp_path)
    url = f"{nginx_url}/role-aliases/ADCTestRoleAlias/credentials"
    status, body = curl(server, url, device["cert"], device["key"], ["x-amzn-iot-thingname: ADCTestThing"])
    assert status == 200, body
    c = json.loads(body)["credentials"]
    creds = {"AccessKeyId": c["accessKeyId"], "SecretAccessKey": c["secretAccessKey"], "SessionToken": c["sessionToken"]}
    s3 = server.boto3_client("s3", creds=creds)
    assert s3.get_object(Bucket=BUCKET, Key="test.txt")["Body"].read() == content
    # The audit line has the device's certificate and the client's address, not nginx's alone.
    server.wait_for_audit(lambda events: any(
        e.get("event") == "credentials" and e.get("decision") == "allow"
        and e.get("certificate_id") == device["certificate_id"] and e.get("source_ip") == "127.0.0.1"
        for e in events))
    # The mutual-TLS listener still works as before.
    assert device_credentials(server, device)["AccessKeyId"].startswith("ASIA")

    # No client certificate: refused as on the mutual-TLS endpoint.
    status, body = curl(server, url)
    assert (status, json.loads(body)) == (403, {"message": "Missing client certificate"})
    # A certificate header of the client's own making is replaced by nginx.
    pem = pathlib.Path(device["cert"]).read_text()
    forged = "X-Forwarded-Client-Cert: " + urllib.parse.quote(pem, safe="")
    status, body = curl(server, url, headers=[forged])
    assert (status, json.loads(body)) == (403, {"message": "Missing client certificate"})


def test_the_proxy_listener_answers_only_the_proxy(proxied, tmp_path):
    server, _ = proxied
    device = seed_with_aws_cli(server, tmp_path / "setup")
    pem = pathlib.Path(device["cert"]).read_text()
    host, port = server.credentials_proxy_addr.rsplit(":", 1)
    request = ("GET /role-aliases/ADCTestRoleAlias/credentials HTTP/1.1\r\nHost: localhost\r\n"
               f"X-Forwarded-Client-Cert: {urllib.parse.quote(pem, safe='')}\r\n\r\n").encode()
    # From 127.0.0.2: not the proxy. Refused, connection closed, even with a valid header.
    with socket.create_connection((host, int(port)), timeout=10, source_address=("127.0.0.2", 0)) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 403 "), answer[:200]
    assert b'{"message":"Forbidden"}' in answer
    server.wait_for_audit(lambda events: any(
        e.get("event") == "credentials" and "not a trusted proxy" in e.get("reason", "")
        and e.get("source_ip") == "127.0.0.2" for e in events))
    # From 127.0.0.1 (the trusted proxy's address) the same header is honoured: what makes it
    # safe is that only the proxy can connect from there.
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
