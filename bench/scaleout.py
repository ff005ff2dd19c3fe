#!/usr/bin/env python3
"""Benchmark: the scale-out shape (issue 6), side by side in one run.

1. Credential issuance with two instances against one, both on one PostgreSQL registry. This
   machine has two cores: the servers share core 0 and the load generators core 1, so the pair
   cannot show more throughput than one instance. What it shows is the cost of scaling out:
   requests per server CPU-second of the pair (both processes' CPU summed) against one
   instance. A ratio near 1.0 means a second instance costs nothing per request (no
   coordination on the hot path), so throughput grows with the cores you give the instances.
   Both new-connection (full mutual-TLS handshake per request) and keep-alive.

2. S3 GET (4 KiB, 1 MiB) through the upstream object backend against direct access to the
   same upstream, for two upstreams: another iotcreds instance with the embedded store (a fast
   S3 server) and moto's S3 server (PyPI). Gateway and upstream share core 0. Reported:
   requests per second and requests per CPU-second of everything serving the request
   (gateway + upstream, against the upstream alone), and the ratios.

Usage: bench/scaleout.py [--seconds 10] [--runs 3] [--concurrency 16]
Needs: PostgreSQL at 127.0.0.1:5432 (or IOTCREDS_TEST_POSTGRES_URL), psql, openssl, curl and
the .venv of scripts/python-env.
"""

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import common  # noqa: E402

BUCKET = "adc-test-2020-08-26"
SIZES = {"4KiB": 4096, "1MiB": 1 << 20}
PG_URL = os.environ.get("IOTCREDS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def tls_args(server, cert, key, keep_alive):
    args = ["tls", "--addr", server.credentials_addr, "--path", "/role-aliases/ADCTestRoleAlias/credentials",
            "--header", "x-amzn-iot-thingname: ADCTestThing", "--ca", str(server.data / "root-ca.pem"),
            "--cert", cert, "--key", key]
    return args + (["--keep-alive"] if keep_alive else [])


def issuance(work, a):
    db = f"iotcreds_bench_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", PG_URL, "-Atc", f"CREATE DATABASE {db}"], check=True, capture_output=True)
    db_url = PG_URL.rsplit("/", 1)[0] + "/" + db
    results = {}
    servers = []
    try:
        one = common.Iotcreds(work, "a", ["--registry-url", db_url])
        servers.append(one)
        two = common.Iotcreds(work, "b", ["--registry-url", db_url])
        servers.append(two)
        cert, key, _, _ = common.seed_device(one, work)
        for mode in ["new-connection", "keep-alive"]:
            ka = mode == "keep-alive"
            runs = [common.measure_split(one.pids, [tls_args(one, cert, key, ka)], a.seconds, a.concurrency)
                    for _ in range(a.runs)]
            results[(mode, "one")] = runs
            # The same total concurrency, half on each instance.
            runs = [common.measure_split(one.pids + two.pids,
                                         [tls_args(s, cert, key, ka) for s in (one, two)], a.seconds,
                                         max(1, a.concurrency // 2))
                    for _ in range(a.runs)]
            results[(mode, "two")] = runs
            for k in [(mode, "one"), (mode, "two")]:
                if any(r["errors"] for r in results[k]):
                    print(f"warning: {k}: errors {[r['errors'] for r in results[k]]}", file=sys.stderr)
    finally:
        for s in servers:
            s.stop()
        subprocess.run(["psql", PG_URL, "-Atc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"], capture_output=True)
    return results


def s3_get_args(addr, key_name, creds, session_token=None):
    args = ["s3", "--addr", addr, "--path", f"/{BUCKET}/{key_name}", "--method", "GET",
            "--access-key-id", creds[0], "--secret-access-key", creds[1], "--region", common.REGION]
    return args + (["--session-token", session_token] if session_token else [])


def gateway_for(work, name, endpoint, creds):
    """An iotcreds instance keeping its objects in `endpoint` (same bucket names)."""
    config = work / f"{name}.toml"
    config.write_text(f'[objects.upstream]\nendpoint = "{endpoint}"\nregion = "{common.REGION}"\n'
                      f'access_key_id = "{creds[0]}"\nsecret_access_key = "{creds[1]}"\nallow_unmapped = true\n')
    return common.Iotcreds(work, name, ["--config", str(config)])


def upstream_get(work, a):
    results = {}
    procs = []
    try:
        # Upstream 1: iotcreds with its embedded store, signed with its root key.
        fast = common.Iotcreds(work, "upstream-iotcreds")
        procs.append(fast)
        fast_creds = (fast.admin["aws_access_key_id"], fast.admin["aws_secret_access_key"])
        # Upstream 2: moto (any key).
        moto_port = common.free_port()
        moto = subprocess.Popen(["taskset", "-c", common.SERVER_CORE, common.PYTHON, "-m", "moto.server",
                                 "-H", "127.0.0.1", "-p", str(moto_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(moto)
        common.wait_port(moto_port)
        moto_creds = ("AKIAEXAMPLEEXAMPLE12", "x" * 40)

        upstreams = {
            "iotcreds-fs": (fast.api_addr, fast.pids, fast_creds),
            "moto": (f"127.0.0.1:{moto_port}", [moto.pid], moto_creds),
        }
        for up_name, (addr, up_pids, creds) in upstreams.items():
            gw = gateway_for(work, f"gateway-{up_name}", f"http://{addr}", creds)
            procs.append(gw)
            seed_dir = work / up_name
            seed_dir.mkdir()
            cert, key, _, _ = common.seed_device(gw, seed_dir)
            gw.aws("s3api", "create-bucket", "--bucket", BUCKET,
                   "--create-bucket-configuration", f"LocationConstraint={common.REGION}")
            for size_name, size in SIZES.items():
                path = work / f"obj-{size_name}"
                path.write_bytes(b"x" * size)
                gw.aws("s3api", "put-object", "--bucket", BUCKET, "--key", f"get-{size_name}", "--body", str(path))
            device = common.fetch_credentials(gw, cert, key)
            for size_name in SIZES:
                key_name = f"get-{size_name}"
                direct = s3_get_args(addr, key_name, creds)
                via = s3_get_args(gw.api_addr, key_name, (device["accessKeyId"], device["secretAccessKey"]),
                                  device["sessionToken"])
                for how, args, pids in [("direct", direct, up_pids), ("via gateway", via, up_pids + gw.pids)]:
                    runs = [common.measure_split(pids, [args], a.seconds, a.s3_concurrency) for _ in range(a.runs)]
                    if any(r["errors"] for r in runs):
                        print(f"warning: {up_name} {size_name} {how}: errors {[r['errors'] for r in runs]}",
                              file=sys.stderr)
                    results[(up_name, size_name, how)] = runs
    finally:
        for p in procs:
            if isinstance(p, common.Iotcreds):
                p.stop()
            else:
                p.send_signal(signal.SIGTERM)
                p.wait(30)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16, help="credentials: connections in all")
    ap.add_argument("--s3-concurrency", type=int, default=8, help="S3: connections")
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    if not a.no_build:
        common.build()
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        (work / "issuance").mkdir()
        (work / "s3").mkdir()
        issued = issuance(work / "issuance", a)
        gets = upstream_get(work / "s3", a)

    print(f"\nCredential issuance on one PostgreSQL registry: two instances against one (median of {a.runs} runs of "
          f"{a.seconds}s, {a.concurrency} connections in all; servers share core {common.SERVER_CORE})\n")
    rows = []
    for mode in ["new-connection", "keep-alive"]:
        o, t = issued[(mode, "one")], issued[(mode, "two")]
        oc, tc = common.median_of(o), common.median_of(t)
        orps, trps = common.median_of(o, "rps"), common.median_of(t, "rps")
        rows.append([mode, f"{oc:.0f}", f"{tc:.0f}", f"{tc / oc:.2f}x", f"{orps:.0f}", f"{trps:.0f}",
                     f"{trps / orps:.2f}x"])
    common.table(rows, ["mode", "one req/cpu-s", "two req/cpu-s", "ratio", "one req/s", "two req/s", "ratio"])

    print(f"\nS3 GET through the upstream backend against direct access to the upstream (median of {a.runs} runs, "
          f"{a.s3_concurrency} connections; per CPU-second counts gateway + upstream against upstream alone)\n")
    rows = []
    for up in ["iotcreds-fs", "moto"]:
        for size in SIZES:
            d, v = gets[(up, size, "direct")], gets[(up, size, "via gateway")]
            drps, vrps = common.median_of(d, "rps"), common.median_of(v, "rps")
            dc, vc = common.median_of(d), common.median_of(v)
            rows.append([up, size, f"{drps:.0f}", f"{vrps:.0f}", f"{vrps / drps:.2f}x", f"{dc:.0f}", f"{vc:.0f}",
                         f"{vc / dc:.2f}x"])
    common.table(rows, ["upstream", "size", "direct req/s", "via req/s", "ratio", "direct req/cpu-s",
                        "via req/cpu-s", "ratio"])


if __name__ == "__main__":
    main()
