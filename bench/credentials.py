#!/usr/bin/env python3
"""Benchmark: credential issuance (issue 2), side by side with nginx, in one run.

iotcreds answers GET /role-aliases/ADCTestRoleAlias/credentials (full decision: registry
look-ups, IoT policy evaluation, trust check, token sealing). nginx, the baseline, serves a
static JSON of the same size with `ssl_verify_client on`. Both log every request, as they would in
production: iotcreds its audit line (JSON on stderr, at the default `info` level), nginx a buffered
access-log line. Both use the same ECDSA P-256 server
key and certificate, the same ECDSA P-256 client certificate, TLS 1.3, one core each (taskset
core 0); the load generator runs on core 1.

Two modes: a new TLS connection per request (full handshake, no resumption) and keep-alive.
Reported: requests per server CPU-second (median of RUNS runs) and the ratio iotcreds/nginx.

Usage: bench/credentials.py [--seconds 10] [--runs 3] [--concurrency 16]
Needs: nginx (Debian package `nginx` or `nginx-light`), openssl, curl, the .venv of
scripts/python-env (aws-cli, for the set-up).
"""

import argparse
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import common  # noqa: E402

NGINX_CONF = """
# The worker runs as whoever runs the benchmark (it reads files in a private temp dir).
user {user} {group};
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    # Like iotcreds' audit line per issuance: one (buffered) access-log line per request.
    access_log {work}/access.log combined buffer=64k flush=1s;
    keepalive_requests 1000000;
    default_type application/json;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.3;
        ssl_client_certificate {ca};
        ssl_verify_client on;
        ssl_session_cache off;
        ssl_session_tickets off;
        location = /role-aliases/ADCTestRoleAlias/credentials {{
            alias {work}/credentials.json;
        }}
    }}
}}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    if not shutil.which("nginx") and not pathlib.Path("/usr/sbin/nginx").exists():
        sys.exit("nginx is required: apt-get install nginx-light")
    if not a.no_build:
        common.build()
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        server = common.Iotcreds(work, extra_args=common.unlimited_issuance(work))
        try:
            cert, key, alias, thing = common.seed_device(server, work)
            creds = common.fetch_credentials(server, cert, key)
            body = ('{"credentials":{"accessKeyId":"%s","secretAccessKey":"%s","sessionToken":"%s","expiration":"%s"}}'
                    % (creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"], creds["expiration"]))
            (work / "credentials.json").write_text(body)
            port = common.free_port()
            (work / "nginx.conf").write_text(NGINX_CONF.format(user=common.user_name(), group=common.group_name(), 
                work=work, port=port, cert=server.data / "tls" / "credentials.pem", key=server.data / "tls" / "credentials.key",
                ca=server.data / "root-ca.pem"))
            nginx = subprocess.Popen(["taskset", "-c", common.SERVER_CORE, shutil.which("nginx") or "/usr/sbin/nginx",
                                      "-c", str(work / "nginx.conf"), "-e", str(work / "nginx-error.log")])
            try:
                import time
                deadline = time.monotonic() + 10
                while len(common.process_tree(nginx.pid)) < 2 and time.monotonic() < deadline:
                    time.sleep(0.05)  # poll until the worker exists
                targets = {
                    "iotcreds": (server.credentials_addr, server.pids),
                    "nginx": (f"127.0.0.1:{port}", common.process_tree(nginx.pid)),
                }
                results = {}
                for mode in ["new-connection", "keep-alive"]:
                    # Runs alternate between the servers, so a drift in the machine's load
                    # affects both alike.
                    for _ in range(a.runs):
                        for name, (addr, pids) in targets.items():
                            args = ["tls", "--addr", addr, "--path", f"/role-aliases/{alias}/credentials",
                                    "--header", f"x-amzn-iot-thingname: {thing}", "--ca", str(server.data / "root-ca.pem"),
                                    "--cert", cert, "--key", key]
                            if mode == "keep-alive":
                                args.append("--keep-alive")
                            results.setdefault((mode, name), []).append(
                                common.measure(pids, args, a.seconds, a.concurrency))
                    for name in targets:
                        runs = results[(mode, name)]
                        if any(r["errors"] for r in runs):
                            print(f"warning: {name} {mode}: errors {[r['errors'] for r in runs]}", file=sys.stderr)
            finally:
                nginx.send_signal(signal.SIGQUIT)
                nginx.wait(30)
        finally:
            server.stop()
    print(f"\nCredential issuance, requests per server CPU-second (median of {a.runs} runs of {a.seconds}s, "
          f"concurrency {a.concurrency}, server on core {common.SERVER_CORE}, client on core {common.CLIENT_CORE})\n")
    rows = []
    for mode in ["new-connection", "keep-alive"]:
        i = common.median_of(results[(mode, "iotcreds")])
        n = common.median_of(results[(mode, "nginx")])
        ir = common.median_of(results[(mode, "iotcreds")], "rps")
        nr = common.median_of(results[(mode, "nginx")], "rps")
        rows.append([mode, f"{i:.0f}", f"{n:.0f}", f"{i / n:.2f}x", f"{ir:.0f}", f"{nr:.0f}"])
    common.table(rows, ["mode", "iotcreds req/cpu-s", "nginx req/cpu-s", "ratio", "iotcreds req/s", "nginx req/s"])


if __name__ == "__main__":
    main()
