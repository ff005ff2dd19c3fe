#!/usr/bin/env python3
"""Benchmark: the scale-out shape (issue 6), side by side in one run.

1. Credential issuance with two instances against one, both on one PostgreSQL registry. This
   machine has two cores: the servers share core 0 and the load generators core 1, so the pair
   cannot show more throughput than one instance. What it shows is the cost of scaling out:
   requests per server CPU-second of the pair (both processes' CPU summed) against one
   instance. A ratio near 1.0 means a second instance costs nothing per request (no
   coordination on the hot path), so throughput grows with the cores you give the instances.
   Both new-connection (full mutual-TLS handshake per request) and keep-alive.

2. S3 GET and PUT (4 KiB, 1 MiB) through the upstream object backend (issue 17) against
   direct access to the same upstream with the same client, for four upstreams: another
   iotcreds instance with the embedded store, moto's S3 server (PyPI), the s3s project's
   s3s-fs (crates.io) and s3rver (npm). Gateway and upstream share core 0, the load generator
   core 1; direct and gateway runs alternate. Reported per upstream, operation and size:
   requests per second, requests per CPU-second of everything serving the request (gateway +
   upstream, against the upstream alone) and the ratios, the spread of the runs, the CPU
   microseconds per request of the gateway and of the upstream, and whether the issue's goal
   (GET 4 KiB >= 0.6x, GET 1 MiB >= 0.8x, PUT 4 KiB >= 0.6x per CPU-second) is met.
   With --nginx, a reference is measured in the same alternation: nginx's proxy_pass in front
   of the same upstream (pooled keep-alive connections, responses buffered in memory, request
   bodies streamed, a buffered access log), the client signing for the upstream. It
   authenticates, signs and authorizes nothing, so its ratio is what one more HTTP hop costs
   on this layout before the gateway does any of its own work.

Usage: bench/scaleout.py [--seconds 10] [--runs 3] [--only issuance|upstream]
                         [--upstreams iotcreds-fs,moto,s3s-fs,s3rver] [--nginx]
Needs: PostgreSQL at 127.0.0.1:5432 (or IOTCREDS_TEST_POSTGRES_URL; issuance part only), psql,
openssl, curl, the .venv of scripts/python-env, and s3s-fs and s3rver from
scripts/upstream-tools (upstream part), nginx for --nginx (scripts/proxy-test-deps installs it).
"""

import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
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
        one = common.Iotcreds(work, "a", ["--registry-url", db_url, *common.unlimited_issuance(work)])
        servers.append(one)
        two = common.Iotcreds(work, "b", ["--registry-url", db_url, *common.unlimited_issuance(work)])
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


TARGETS = {("GET", "4KiB"): 0.6, ("GET", "1MiB"): 0.8, ("PUT", "4KiB"): 0.6}
CASES = [("GET", "4KiB"), ("GET", "1MiB"), ("PUT", "4KiB"), ("PUT", "1MiB")]


def s3_args(addr, method, key_name, size, creds, session_token=None):
    args = ["s3", "--addr", addr, "--path", f"/{BUCKET}/{key_name}", "--method", method, "--size", str(size),
            "--access-key-id", creds[0], "--secret-access-key", creds[1], "--region", common.REGION]
    return args + (["--session-token", session_token] if session_token else [])


def gateway_for(work, name, endpoint, creds, extra=""):
    """An iotcreds instance keeping its objects in `endpoint` (same bucket names)."""
    config = work / f"{name}.toml"
    config.write_text(f'[objects.upstream]\nendpoint = "{endpoint}"\nregion = "{common.REGION}"\n'
                      f'access_key_id = "{creds[0]}"\nsecret_access_key = "{creds[1]}"\nallow_unmapped = true\n'
                      + extra)
    return common.Iotcreds(work, name, ["--config", str(config)])


class Process:
    """A third-party upstream server pinned to the server core."""

    def __init__(self, cmd, port, cwd=None, env=None):
        self.proc = subprocess.Popen(["taskset", "-c", common.SERVER_CORE, *cmd], cwd=cwd,
                                     env={**os.environ, **(env or {})},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        common.wait_port(port)

    @property
    def pids(self):
        return common.process_tree(self.proc.pid)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


NGINX_PROXY_CONF = """
user {user} {group};
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {work}/access.log combined buffer=64k flush=1s;
    keepalive_requests 1000000;
    upstream s3 {{ server {upstream}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        location / {{
            proxy_pass http://s3;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # The client signed for the Host it sends; the upstream checks that signature.
            proxy_set_header Host $http_host;
            proxy_request_buffering off;
            # Responses buffered in memory (up to 1 MiB), never in a temporary file: with
            # nginx's default buffers a 1 MiB GET went through a file and cost it twice the CPU.
            proxy_buffers 16 64k;
            proxy_busy_buffers_size 128k;
            proxy_max_temp_file_size 0;
        }}
    }}
}}
"""


class NginxProxy(Process):
    """nginx's proxy_pass in front of `upstream`, pinned to the server core (the --nginx
    reference)."""

    def __init__(self, work, name, upstream):
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.access(binary, os.X_OK):
            sys.exit("--nginx needs nginx: run scripts/proxy-test-deps (or apt-get install nginx-light)")
        conf_dir = work / f"nginx-{name}"
        conf_dir.mkdir()
        port = common.free_port()
        self.addr = f"127.0.0.1:{port}"
        conf = conf_dir / "nginx.conf"
        conf.write_text(NGINX_PROXY_CONF.format(user=common.user_name(), group=common.group_name(), work=conf_dir,
                                                upstream=upstream, port=port))
        super().__init__([binary, "-c", str(conf), "-e", str(conf_dir / "nginx-error.log")], port)
        deadline = time.monotonic() + 10
        while len(self.pids) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # poll until the worker exists


def s3s_fs_binary():
    """The pinned s3s-fs that scripts/upstream-tools installs (or $IOTCREDS_S3S_FS)."""
    path = os.environ.get("IOTCREDS_S3S_FS", str(common.REPO / ".tools" / "bin" / "s3s-fs"))
    return path if os.access(path, os.X_OK) else None


def s3rver_script():
    """The pinned s3rver (npm) that scripts/upstream-tools installs (or $IOTCREDS_S3RVER)."""
    path = os.environ.get("IOTCREDS_S3RVER",
                          str(common.REPO / "bench" / "s3rver" / "node_modules" / "s3rver" / "bin" / "s3rver.js"))
    return path if os.path.exists(path) else None


def start_upstreams(work, procs, wanted):
    """name -> (address, pids function, credentials, extra gateway config)."""
    ups = {}
    if "iotcreds-fs" in wanted:
        fast = common.Iotcreds(work, "upstream-iotcreds")
        procs.append(fast)
        ups["iotcreds-fs"] = (fast.api_addr, lambda f=fast: f.pids,
                              (fast.admin["aws_access_key_id"], fast.admin["aws_secret_access_key"]), "")
    if "moto" in wanted:
        port = common.free_port()
        moto = Process([common.PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port)
        procs.append(moto)
        ups["moto"] = (f"127.0.0.1:{port}", lambda m=moto: m.pids, ("AKIAEXAMPLEEXAMPLE12", "x" * 40), "")
    if "s3s-fs" in wanted:
        binary = s3s_fs_binary()
        if binary is None:
            sys.exit("s3s-fs is not installed: run scripts/upstream-tools (or set IOTCREDS_S3S_FS)")
        port = common.free_port()
        root = work / "s3s-fs-root"
        root.mkdir()
        creds = ("S3SFSGATEWAYKEY", "s3s-fs-gateway-secret-0123456789")
        fs = Process([binary, "--host", "127.0.0.1", "--port", str(port), "--access-key", creds[0],
                      "--secret-key", creds[1], str(root)], port)
        procs.append(fs)
        ups["s3s-fs"] = (f"127.0.0.1:{port}", lambda f=fs: f.pids, creds, "")
    if "s3rver" in wanted:
        script = s3rver_script()
        if script is None:
            sys.exit("s3rver is not installed: run scripts/upstream-tools (or set IOTCREDS_S3RVER)")
        port = common.free_port()
        root = work / "s3rver-root"
        root.mkdir()
        srv = Process(["node", script, "--address", "127.0.0.1", "--port", str(port), "--directory", str(root),
                       "--silent"], port)
        procs.append(srv)
        # s3rver knows neither aws-chunked trailers nor checksums
        ups["s3rver"] = (f"127.0.0.1:{port}", lambda s=srv: s.pids, ("S3RVER", "S3RVER"),
                         'checksum_calculation = "when_required"\n')
    return ups


def upstream_bench(work, a):
    """Every (upstream, method, size): direct and through a gateway, runs alternating."""
    results = {}
    procs = []
    try:
        ups = start_upstreams(work, procs, a.upstreams)
        for up_name, (addr, up_pids, creds, extra) in ups.items():
            gw = gateway_for(work, f"gateway-{up_name}", f"http://{addr}", creds, extra)
            procs.append(gw)
            proxy = None
            if a.nginx:
                proxy = NginxProxy(work, up_name, addr)
                procs.append(proxy)
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
            dev_creds = (device["accessKeyId"], device["secretAccessKey"])
            for method, size_name in CASES:
                size = SIZES[size_name]
                key_name = f"{method.lower()}-{size_name}"
                direct = s3_args(addr, method, key_name, size, creds)
                via = s3_args(gw.api_addr, method, key_name, size, dev_creds, device["sessionToken"])
                runs = {"direct": [], "via": []}
                if proxy:
                    runs["nginx"] = []
                    # signed for the upstream, sent to nginx with nginx's address as Host
                    through_nginx = s3_args(proxy.addr, method, key_name, size, creds)
                # Runs alternate, so a drift in the machine's load affects all alike.
                for _ in range(a.runs):
                    runs["direct"].append(common.measure_groups({"upstream": up_pids()}, [direct], a.seconds,
                                                                a.s3_concurrency))
                    runs["via"].append(common.measure_groups({"upstream": up_pids(), "gateway": gw.pids}, [via],
                                                             a.seconds, a.s3_concurrency))
                    if proxy:
                        runs["nginx"].append(common.measure_groups({"upstream": up_pids(), "gateway": proxy.pids},
                                                                   [through_nginx], a.seconds, a.s3_concurrency))
                for how, rs in runs.items():
                    if any(r["errors"] for r in rs):
                        print(f"warning: {up_name} {method} {size_name} {how}: errors {[r['errors'] for r in rs]} "
                              f"{[r.get('first_error') for r in rs]}", file=sys.stderr)
                    results[(up_name, method, size_name, how)] = rs
    finally:
        for p in reversed(procs):
            p.stop()
    return results


def report_upstream(res, a):
    print(f"\nS3 through the upstream backend against direct access to the same upstream (median of {a.runs} "
          f"alternating runs of {a.seconds}s, {a.s3_concurrency} connections; servers share core "
          f"{common.SERVER_CORE}, the client core {common.CLIENT_CORE}).\n"
          "per-CPU-second ratio = (requests per CPU-second of gateway + upstream) / (requests per CPU-second of the "
          "upstream alone); gw µs/req and up µs/req split the CPU of the gateway run; goal: GET 4KiB >= 0.6, "
          "GET 1MiB >= 0.8, PUT 4KiB >= 0.6.\n")
    rows = []
    ups = sorted({k[0] for k in res}, key=a.upstreams.index)
    for up in ups:
        for method, size in CASES:
            d, v = res.get((up, method, size, "direct")), res.get((up, method, size, "via"))
            if not d or not v:
                continue
            drps, vrps = common.median_of(d, "rps"), common.median_of(v, "rps")
            dc, vc = common.median_of(d), common.median_of(v)
            ratio = vc / dc if dc else 0.0
            spread = [r["per_cpu_second"] / dc for r in v] if dc else []
            gw_us = common.median_of(v, "us_gateway")
            up_us = common.median_of(v, "us_upstream")
            direct_us = common.median_of(d, "us_upstream")
            goal = TARGETS.get((method, size))
            verdict = "-" if goal is None else ("ok" if ratio >= goal else "BELOW")
            rows.append([up, method, size, f"{drps:.0f}", f"{vrps:.0f}", f"{vrps / drps:.2f}x" if drps else "-",
                         f"{dc:.0f}", f"{vc:.0f}", f"{ratio:.2f}x",
                         f"{min(spread):.2f}-{max(spread):.2f}" if spread else "-",
                         f"{direct_us:.0f}", f"{up_us:.0f}", f"{gw_us:.0f}", verdict])
            n = res.get((up, method, size, "nginx"))
            if n and dc:
                rows[-1] += [f"{common.median_of(n) / dc:.2f}x", f"{common.median_of(n, 'us_gateway'):.0f}"]
            elif a.nginx:
                rows[-1] += ["-", "-"]
    headers = ["upstream", "op", "size", "direct req/s", "via req/s", "ratio", "direct req/cpu-s", "via req/cpu-s",
               "ratio/cpu-s", "runs' range", "direct up µs/req", "via up µs/req", "gw µs/req", "goal"]
    if a.nginx:
        headers += ["nginx ratio/cpu-s", "nginx µs/req"]
    common.table(rows, headers)
    if a.nginx:
        print("\nnginx: the same upstream behind nginx's proxy_pass (no authentication, signing or policy), "
              "measured in the same alternation: what one more HTTP hop costs on this layout.")


UPSTREAMS = ["iotcreds-fs", "moto", "s3s-fs", "s3rver"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16, help="credentials: connections in all")
    ap.add_argument("--s3-concurrency", type=int, default=8, help="S3: connections")
    ap.add_argument("--only", choices=["issuance", "upstream"], help="run one part only")
    ap.add_argument("--upstreams", default=",".join(UPSTREAMS),
                    help=f"comma-separated upstreams of the upstream part (default: {','.join(UPSTREAMS)})")
    ap.add_argument("--nginx", action="store_true",
                    help="also measure nginx's proxy_pass in front of each upstream (a reference; needs nginx)")
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    a.upstreams = [u.strip() for u in a.upstreams.split(",") if u.strip()]
    unknown = set(a.upstreams) - set(UPSTREAMS)
    if unknown:
        ap.error(f"unknown upstreams: {', '.join(sorted(unknown))}")
    if not a.no_build:
        common.build()
    issued = ups = None
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        (work / "issuance").mkdir()
        (work / "s3").mkdir()
        if a.only in (None, "issuance"):
            issued = issuance(work / "issuance", a)
        if a.only in (None, "upstream"):
            ups = upstream_bench(work / "s3", a)

    if issued is not None:
        print(f"\nCredential issuance on one PostgreSQL registry: two instances against one (median of {a.runs} runs "
              f"of {a.seconds}s, {a.concurrency} connections in all; servers share core {common.SERVER_CORE})\n")
        rows = []
        for mode in ["new-connection", "keep-alive"]:
            o, t = issued[(mode, "one")], issued[(mode, "two")]
            oc, tc = common.median_of(o), common.median_of(t)
            orps, trps = common.median_of(o, "rps"), common.median_of(t, "rps")
            rows.append([mode, f"{oc:.0f}", f"{tc:.0f}", f"{tc / oc:.2f}x", f"{orps:.0f}", f"{trps:.0f}",
                         f"{trps / orps:.2f}x"])
        common.table(rows, ["mode", "one req/cpu-s", "two req/cpu-s", "ratio", "one req/s", "two req/s", "ratio"])
    if ups is not None:
        report_upstream(ups, a)
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end "
          "(other processes on the server core inflate neither ratio's CPU, but slow both)")


if __name__ == "__main__":
    main()
