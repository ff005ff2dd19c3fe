#!/usr/bin/env python3
"""Benchmark: the S3 endpoint (issue 4), side by side with nginx and moto, in one run.

iotcreds serves GET and PUT of 4 KiB and 1 MiB objects, each request SigV4-signed with device
credentials from the credentials endpoint (session token opened, role policy evaluated, object
read from or written atomically to the embedded file-system store). The baselines:
- nginx serving the same files over the same transport (plain HTTP/1.1 keep-alive), unsigned
  GET, and PUT through its DAV module;
- moto's S3 server (the PyPI package, a third-party S3 implementation), signed requests.
All servers run on core 0, the load generator on core 1. Reported: requests per server
CPU-second (median of RUNS runs) and the ratios. Then the per-request cost of SigV4
verification and policy evaluation, from the criterion benches of those crates.

Usage: bench/s3.py [--seconds 10] [--runs 3] [--concurrency 8]
"""

import argparse
import json
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import common  # noqa: E402

BUCKET = "adc-test-2020-08-26"
SIZES = {"4KiB": 4096, "1MiB": 1 << 20}

NGINX_CONF = """
# The worker runs as whoever runs the benchmark (it reads files in a private temp dir).
user {user} {group};
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    sendfile on;
    client_max_body_size 16m;
    client_body_temp_path {work}/nginx-body;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{
            dav_methods PUT;
            create_full_put_path on;
        }}
    }}
}}
"""


def criterion_median_us(crate, bench, filter_):
    """Run a criterion bench and return {benchmark id: median µs} for ids matching filter_."""
    subprocess.run(["cargo", "bench", "--locked", "-p", crate, "--bench", bench, "--", filter_, "--noplot"],
                   cwd=common.REPO, check=True, capture_output=True)
    out = {}
    root = common.TARGET.parent / "criterion"
    for est in root.glob("**/new/estimates.json"):
        bench_id = str(est.parent.parent.relative_to(root))
        if filter_ in bench_id:
            out[bench_id] = json.loads(est.read_text())["median"]["point_estimate"] / 1000.0
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    if not a.no_build:
        common.build()
    results = {}
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        server = common.Iotcreds(work)
        nginx = moto = None
        try:
            cert, key, _, _ = common.seed_device(server, work)
            server.aws("s3api", "create-bucket", "--bucket", BUCKET,
                       "--create-bucket-configuration", f"LocationConstraint={common.REGION}")
            root = work / "nginx-root" / BUCKET
            root.mkdir(parents=True)
            for name, size in SIZES.items():
                path = work / name
                path.write_bytes(b"x" * size)
                server.aws("s3api", "put-object", "--bucket", BUCKET, "--key", f"get-{name}", "--body", str(path))
                shutil.copy(path, root / f"get-{name}")
            creds = common.fetch_credentials(server, cert, key)

            port = common.free_port()
            (work / "nginx.conf").write_text(NGINX_CONF.format(user=common.user_name(), group=common.group_name(), work=work, port=port, root=work / "nginx-root"))
            nginx = subprocess.Popen(["taskset", "-c", common.SERVER_CORE, shutil.which("nginx") or "/usr/sbin/nginx",
                                      "-c", str(work / "nginx.conf"), "-e", str(work / "nginx-error.log")])
            common.wait_port(port)
            moto_port = common.free_port()
            moto = subprocess.Popen(["taskset", "-c", common.SERVER_CORE, common.PYTHON, "-m", "moto.server",
                                     "-H", "127.0.0.1", "-p", str(moto_port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            common.wait_port(moto_port)
            import boto3
            s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name=common.REGION,
                              aws_access_key_id="AKIAEXAMPLEEXAMPLE12", aws_secret_access_key="x" * 40)
            s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": common.REGION})
            for name, size in SIZES.items():
                s3.put_object(Bucket=BUCKET, Key=f"get-{name}", Body=b"x" * size)

            signed = ["--access-key-id", creds["accessKeyId"], "--secret-access-key", creds["secretAccessKey"],
                      "--session-token", creds["sessionToken"], "--region", common.REGION]
            moto_signed = ["--access-key-id", "AKIAEXAMPLEEXAMPLE12", "--secret-access-key", "x" * 40, "--region", common.REGION]
            targets = {
                "iotcreds": (server.api_addr, server.pids, signed),
                "nginx": (f"127.0.0.1:{port}", common.process_tree(nginx.pid), []),
                "moto": (f"127.0.0.1:{moto_port}", [moto.pid], moto_signed),
            }
            for op in ["GET", "PUT"]:
                for name, size in SIZES.items():
                    # Runs alternate between the servers, so a drift in the machine's load
                    # affects all of them alike.
                    for _ in range(a.runs):
                        for target, (addr, pids, auth) in targets.items():
                            key_name = f"get-{name}" if op == "GET" else f"put-{name}"
                            args = ["s3", "--addr", addr, "--path", f"/{BUCKET}/{key_name}", "--method", op,
                                    "--size", str(size), *auth]
                            results.setdefault((op, name, target), []).append(
                                common.measure(pids, args, a.seconds, a.concurrency))
                    for target in targets:
                        runs = results[(op, name, target)]
                        if any(r["errors"] for r in runs):
                            print(f"warning: {target} {op} {name}: errors {[r['errors'] for r in runs]}", file=sys.stderr)
        finally:
            for p in [nginx, moto]:
                if p:
                    p.send_signal(signal.SIGQUIT if p is nginx else signal.SIGTERM)
                    p.wait(30)
            server.stop()

    print(f"\nS3 requests per server CPU-second (median of {a.runs} runs of {a.seconds}s, concurrency {a.concurrency}; "
          "iotcreds signed with device credentials, nginx unsigned static files, moto signed)\n")
    rows = []
    for op in ["GET", "PUT"]:
        for name in SIZES:
            i = common.median_of(results[(op, name, "iotcreds")])
            n = common.median_of(results[(op, name, "nginx")])
            m = common.median_of(results[(op, name, "moto")])
            rows.append([f"{op} {name}", f"{i:.0f}", f"{n:.0f}", f"{m:.0f}", f"{i / n:.2f}x", f"{i / m:.1f}x",
                         f"{n / m:.1f}x"])
    common.table(rows, ["operation", "iotcreds", "nginx", "moto", "vs nginx", "vs moto", "nginx vs moto"])
    # At 1 MiB most of every server's CPU goes to the kernel moving the bytes (sendfile and the
    # loopback's receive processing), so the ratio to moto is capped near nginx's own.

    print("\nPer-request cost of the pure cores (criterion medians, µs):")
    costs = {}
    costs.update(criterion_median_us("iotcreds-sigv4", "verify", "verify"))
    costs.update(criterion_median_us("iotcreds-policy", "evaluate", "evaluate"))
    for k in sorted(costs):
        print(f"  {k}: {costs[k]:.2f} µs")


if __name__ == "__main__":
    main()
