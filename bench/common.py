"""Shared helpers of the benchmark drivers: processes pinned to cores, server CPU time from
/proc, a running iotcreds with the seed set up through its own API (aws-cli), medians.

Results are requests per server CPU-second (so a server that uses less CPU for the same work
scores higher, whatever else the noisy machine is doing), medians over repeated runs.
"""

import json
import os
import pathlib
import signal
import statistics
import subprocess
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release"
IOTCREDS = str(TARGET / "iotcreds")
LOADGEN = str(TARGET / "iotcreds-bench")
AWS = str(REPO / ".venv" / "bin" / "aws")
PYTHON = str(REPO / ".venv" / "bin" / "python")
REGION = "ap-northeast-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CORE = "0"
CLIENT_CORE = "1"


def build():
    """Build the release binaries (iotcreds and the load generator)."""
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "iotcreds", "-p", "iotcreds-bench"], cwd=REPO, check=True)


def user_name():
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


def group_name():
    import grp
    return grp.getgrgid(os.getgid()).gr_name


def free_port():
    """A port nobody listens on now (for the baselines, which cannot bind port 0 and report)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    """Poll until something listens on `port`."""
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # poll interval
    raise RuntimeError(f"nothing listens on {port}")


def cpu_seconds(pids):
    """User + system CPU seconds used so far by these processes (all their threads)."""
    total = 0
    for pid in pids:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / CLK_TCK


def process_tree(pid):
    """pid and its children (nginx master + workers)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid] + [int(p) for p in out]


def loadgen(args, seconds, concurrency):
    """Run the load generator on the client core; returns its JSON result."""
    cmd = ["taskset", "-c", CLIENT_CORE, LOADGEN, "--seconds", str(seconds), "--concurrency", str(concurrency), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(pids, args, seconds, concurrency):
    """One measured run: requests per server CPU-second, requests per second, errors."""
    loadgen(args, 1, concurrency)  # warm-up
    before = cpu_seconds(pids)
    result = loadgen(args, seconds, concurrency)
    used = cpu_seconds(pids) - before
    return {
        "per_cpu_second": result["requests"] / used if used > 0 else 0.0,
        "rps": result["rps"],
        "errors": result["errors"],
        "cpu": used,
    }


def measure_split(pids, arg_sets, seconds, concurrency):
    """Like `measure`, with one load generator per argument set running at the same time (each
    with `concurrency` connections, all on the client core): requests are summed."""
    def run_all(secs):
        procs = [subprocess.Popen(["taskset", "-c", CLIENT_CORE, LOADGEN, "--seconds", str(secs), "--concurrency",
                                   str(concurrency), *args], stdout=subprocess.PIPE, text=True) for args in arg_sets]
        outs = [p.communicate()[0] for p in procs]
        if any(p.returncode for p in procs):
            raise RuntimeError("load generator failed")
        return [json.loads(o.strip().splitlines()[-1]) for o in outs]

    run_all(1)  # warm-up
    before = cpu_seconds(pids)
    results = run_all(seconds)
    used = cpu_seconds(pids) - before
    requests = sum(r["requests"] for r in results)
    return {
        "per_cpu_second": requests / used if used > 0 else 0.0,
        "rps": sum(r["rps"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "cpu": used,
    }


def median_of(runs, key="per_cpu_second"):
    return statistics.median(r[key] for r in runs)


def unlimited_issuance(workdir):
    """`--config` args turning the issuance rate limits off (on by default, 200/s per
    certificate): an issuance benchmark asks thousands of times a second with one certificate
    and would otherwise measure the 429 path."""
    config = pathlib.Path(workdir) / "unlimited-issuance.toml"
    config.write_text("[limits]\nissuance_rate_per_certificate = 0\nissuance_rate_per_account = 0\n")
    return ["--config", str(config)]


class Iotcreds:
    """`iotcreds serve` pinned to the server core, on a fresh data directory."""

    def __init__(self, workdir, name="iotcreds-data", extra_args=(), core=SERVER_CORE):
        self.data = pathlib.Path(workdir) / name
        self.proc = subprocess.Popen(
            ["taskset", "-c", core, IOTCREDS, "serve", "--data-dir", str(self.data), "--region", REGION,
             "--credentials-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
             "--console-addr", "127.0.0.1:0", "--log-format", "json", *extra_args],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
            # The production default: info, so every issuance and refusal writes its audit line.
            env={**os.environ, "RUST_LOG": os.environ.get("BENCH_RUST_LOG", "info")},
        )
        for raw in self.proc.stderr:
            event = json.loads(raw)
            if event.get("message") == "iotcreds is serving":
                self.credentials_addr = event["credentials_addr"]
                self.api_addr = event["api_addr"]
                self.admin_addr = event["admin_addr"]
                break
        else:
            raise RuntimeError("iotcreds did not start")
        # Drain the log so the server never blocks on a full pipe.
        self._drain = subprocess.Popen(["cat"], stdin=self.proc.stderr, stdout=subprocess.DEVNULL)
        creds = {}
        for line in (self.data / "admin-credentials").read_text().splitlines():
            if "=" in line:
                k, v = (x.strip() for x in line.split("=", 1))
                creds[k] = v
        self.admin = creds

    @property
    def pids(self):
        return [self.proc.pid]

    def aws(self, *args, creds=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        c = creds or {"aws_access_key_id": self.admin["aws_access_key_id"], "aws_secret_access_key": self.admin["aws_secret_access_key"]}
        env.update({"AWS_ACCESS_KEY_ID": c["aws_access_key_id"], "AWS_SECRET_ACCESS_KEY": c["aws_secret_access_key"],
                    "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
        if c.get("aws_session_token"):
            env["AWS_SESSION_TOKEN"] = c["aws_session_token"]
        out = subprocess.run([AWS, *args, "--endpoint-url", f"http://{self.api_addr}", "--region", REGION, "--output", "json"],
                             env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"aws {' '.join(args)}: {out.stderr}")
        return json.loads(out.stdout) if out.stdout.strip() else None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self._drain.wait(10)


def seed_device(server, workdir):
    """The walkthrough's set-up through the API, with an ECDSA P-256 device key (from a CSR),
    returning (cert, key, alias, thing) paths and names."""
    work = pathlib.Path(workdir)
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"credentials.iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    role = server.aws("iam", "create-role", "--role-name", "ADCTestRole", "--assume-role-policy-document", trust)["Role"]
    s3 = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::adc-test-2020-08-26"},'
          '{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::adc-test-2020-08-26/*"}]}')
    server.aws("iam", "put-role-policy", "--role-name", "ADCTestRole", "--policy-name", "s3", "--policy-document", s3)
    alias = server.aws("iot", "create-role-alias", "--role-alias", "ADCTestRoleAlias", "--role-arn", role["Arn"])
    policy = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:AssumeRoleWithCertificate","Resource":"%s"}]}'
              % alias["roleAliasArn"])
    server.aws("iot", "create-policy", "--policy-name", "ADCTestPolicy", "--policy-document", policy)
    server.aws("iot", "create-thing", "--thing-name", "ADCTestThing")
    key, csr, cert = work / "device.key", work / "device.csr", work / "device.pem"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)], check=True)
    subprocess.run(["openssl", "req", "-new", "-key", str(key), "-subj", "/CN=ADCTestThing", "-out", str(csr)], check=True)
    made = server.aws("iot", "create-certificate-from-csr", "--certificate-signing-request", f"file://{csr}", "--set-as-active")
    cert.write_text(made["certificatePem"])
    server.aws("iot", "attach-policy", "--policy-name", "ADCTestPolicy", "--target", made["certificateArn"])
    server.aws("iot", "attach-thing-principal", "--thing-name", "ADCTestThing", "--principal", made["certificateArn"])
    return str(cert), str(key), "ADCTestRoleAlias", "ADCTestThing"


def fetch_credentials(server, cert, key):
    """Device credentials via curl --cert/--key."""
    port = server.credentials_addr.rsplit(":", 1)[1]
    out = subprocess.run(["curl", "-sS", "--fail", "--cacert", str(server.data / "root-ca.pem"), "--cert", cert, "--key", key,
                          "-H", "x-amzn-iot-thingname: ADCTestThing",
                          f"https://localhost:{port}/role-aliases/ADCTestRoleAlias/credentials"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["credentials"]


def table(rows, headers):
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for r in [headers, *rows]:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))


def measure_groups(groups, arg_sets, seconds, concurrency):
    """Like `measure_split`, with the server CPU split by process group ({name: pids}):
    besides the totals, `us_<name>` is the CPU microseconds per request of each group, and
    `first_error` the load generator's description of its first error (if any)."""
    def run_all(secs):
        procs = [subprocess.Popen(["taskset", "-c", CLIENT_CORE, LOADGEN, "--seconds", str(secs), "--concurrency",
                                   str(concurrency), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for args in arg_sets]
        outs = [p.communicate() for p in procs]
        if any(p.returncode for p in procs):
            raise RuntimeError("load generator failed: " + " | ".join(e for _, e in outs))
        return [json.loads(o.strip().splitlines()[-1]) for o, _ in outs], [e.strip() for _, e in outs if e.strip()]

    run_all(1)  # warm-up
    before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    results, errors = run_all(seconds)
    used = {name: cpu_seconds(pids) - before[name] for name, pids in groups.items()}
    requests = sum(r["requests"] for r in results)
    total = sum(used.values())
    out = {
        "per_cpu_second": requests / total if total > 0 else 0.0,
        "rps": sum(r["rps"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "cpu": total,
        "first_error": errors[0] if errors else None,
    }
    for name, cpu in used.items():
        out[f"us_{name}"] = cpu * 1e6 / requests if requests else 0.0
    return out
