"""Harness of the device-agent interop tests: a seeded server, a TCP relay in front of its
credentials endpoint (so a test can take the endpoint down and bring it back on the same
port), the real `iotcreds device agent`, and environments for SDK clients.

Readiness is read from the agent's JSON start-up line and polled, never slept for."""

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import threading
import time

import requests

from conftest import BIN, BUCKET, REGION, VENV_BIN, START_TIMEOUT
from seed import make_bucket_with_test_file, seed_with_aws_cli

ALIAS = "ADCTestRoleAlias"
THING = "ADCTestThing"
CONTENT = b"Hello from adc-test-2020-08-26\n"


def seeded(server, tmp_path):
    """The seed (role, alias, policy, thing, certificate) and the bucket with test.txt."""
    device = seed_with_aws_cli(server, tmp_path / "seed")
    make_bucket_with_test_file(server, tmp_path, CONTENT)
    return device


def issuances(server, alias=ALIAS, decision="allow"):
    """Credentials the server issued (or refused) for `alias`, from its audit log."""
    return [e for e in server.audit_events()
            if e.get("event") == "credentials" and e.get("role_alias") == alias and e.get("decision") == decision]


def settle_audit(server):
    """Wait until the server's log buffer (flushed every 100 ms) has caught up: a marker
    request's audit line shows up."""
    before = len(server.audit_events())
    requests.get(f"http://{server.admin_addr}/healthz", timeout=5)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and len(server.audit_events()) < before:
        threading.Event().wait(0.02)
    threading.Event().wait(0.25)  # one flush period of the server's 100 ms log buffer, twice


class Relay:
    """A TCP relay: 127.0.0.1:port → target. stop() refuses connections (and cuts the open
    ones) like a stopped server; start() listens again on the same port. Counts connections."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.port = None
        self.connections = 0
        self._sock = None
        self._stopped = False
        self._open = []
        self._lock = threading.Lock()
        self.start()

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port or 0))
        s.listen(64)
        self.port = s.getsockname()[1]
        self._sock = s
        self._stopped = False
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def stop(self):
        s, self._sock = self._sock, None
        with self._lock:
            self._stopped = True
        if s:
            # shutdown() first: on Linux it wakes the thread blocked in accept() (close() alone
            # does not, and the kernel would keep accepting on the listening socket until that
            # accept() returned: a connection counted after stop()).
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        with self._lock:
            for c in self._open:
                try:
                    c.close()
                except OSError:
                    pass
            self._open.clear()

    def _accept(self, s):
        while True:
            try:
                client, _ = s.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._stopped:
                    client.close()
                    upstream.close()
                    continue
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Agent:
    """A running `iotcreds device agent`."""

    def __init__(self, workdir, endpoints, ca, cert, key, aliases=((ALIAS, THING),), extra="", imds=True,
                 args=(), identities=None, check_start=True):
        self.dir = pathlib.Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.token_file = self.dir / "token"
        self.config_path = self.dir / "agent.toml"
        identities = identities or [(cert, key)]
        lines = [f"endpoints = {json.dumps(list(endpoints))}", f"ca = {json.dumps(str(ca))}",
                 f"token_file = {json.dumps(str(self.token_file))}"]
        top, _, tables = extra.partition("\n[")
        lines.append(top)
        for c, k in identities:
            lines += ["[[identity]]", f"cert = {json.dumps(str(c))}", f"key = {json.dumps(str(k))}"]
        for name, thing, *token in aliases:
            lines += ["[[role_alias]]", f"name = {json.dumps(name)}"]
            if thing:
                lines.append(f"thing = {json.dumps(thing)}")
            if token:
                lines.append(f"token_file = {json.dumps(str(token[0]))}")
        lines += ["[listen]", "port = 0"]
        if imds:
            lines.append("imds_port = 0")
        if tables:
            lines.append("[" + tables)
        self.config_path.write_text("\n".join(lines) + "\n")
        self.log_path = self.dir / "agent.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IOTCREDS_"))}
        env.setdefault("RUST_LOG", "info")
        self.proc = subprocess.Popen([BIN, "device", "agent", "--config", str(self.config_path), "--log-format", "json",
                                      *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
        self.lines = []
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not check_start:
            return
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready.wait(0.05) and self.proc.poll() is None and time.monotonic() < deadline:
            pass
        if not self._ready.is_set() or self.proc.poll() is not None:
            self.proc.kill()
            raise RuntimeError("the agent did not start:\n" + "\n".join(self.lines[-30:]))
        self.token = self.token_file.read_text().strip()

    def _read(self):
        with open(self.log_path, "a") as log:
            for raw in self.proc.stderr:
                line = raw.decode(errors="replace").rstrip("\n")
                self.lines.append(line)
                log.write(line + "\n")
                log.flush()
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("message") == "iotcreds agent is serving":
                    self.container_addrs = e["container_addrs"].split(",")
                    self.imds_addrs = [a for a in e["imds_addrs"].split(",") if a]
                    self._ready.set()

    def events(self, message=None):
        out = []
        for line in list(self.lines):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if message is None or e.get("message") == message:
                out.append(e)
        return out

    def wait_for(self, predicate, what, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            v = predicate()
            if v:
                return v
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"agent: {what} not seen within {timeout} s:\n" + "\n".join(self.lines[-20:]))
            threading.Event().wait(0.05)  # poll interval

    @property
    def port(self):
        return int(self.container_addrs[0].rsplit(":", 1)[1])

    @property
    def imds_port(self):
        return int(self.imds_addrs[0].rsplit(":", 1)[1])

    def url(self, path):
        return f"http://localhost:{self.port}{path}"

    def get(self, path, token=None, headers=None, method="GET"):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = token
        return requests.request(method, f"http://127.0.0.1:{self.port}{path}", headers=h, timeout=10)

    def metrics(self):
        """Prometheus samples: {(name, frozenset(labels)): value}."""
        text = requests.get(f"http://127.0.0.1:{self.port}/metrics", timeout=10).text
        out = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = re.match(r'^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)$', line)
            if not m:
                continue
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
            out[(m.group(1), labels)] = float(m.group(4))
        return out

    def metric(self, name, **labels):
        want = set(labels.items())
        return sum(v for (n, ls), v in self.metrics().items() if n == name and want <= set(ls))

    def status(self):
        return self.get("/status", token=self.token).json()

    def wait_valid(self, alias=ALIAS, timeout=30):
        def valid():
            for a in self.status()["roleAliases"]:
                if a["name"] == alias and a["state"] == "valid":
                    return a
            return None
        return self.wait_for(valid, f"valid credentials for {alias}", timeout)

    def sdk_env(self, mode, alias=ALIAS, token_file=True):
        """Environment for an SDK process using the agent: mode "container", "tes" or "imds"."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IOTCREDS_"))}
        env.update({"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_CONFIG_FILE": "/dev/null",
                    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"})
        if mode in ("container", "tes"):
            path = f"/credentials/{alias}" if mode == "container" else "/2016-11-01/credentialprovider/"
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = self.url(path)
            if token_file:
                env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = str(self.token_file)
            else:
                env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = self.token
            env["AWS_EC2_METADATA_DISABLED"] = "true"
        elif mode == "imds":
            env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f"http://127.0.0.1:{self.imds_port}"
        else:
            raise ValueError(mode)
        return env

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class sdk_environment:
    """`with sdk_environment(env):` os.environ is `env` inside (botocore reads the token file
    variable again at every refresh)."""

    def __init__(self, env):
        self.env = env

    def __enter__(self):
        self.saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)

    def __exit__(self, *exc):
        os.environ.clear()
        os.environ.update(self.saved)


def boto3_s3(server, env):
    """An S3 client whose credentials come from the default chain under `env` (botocore reads
    os.environ; the caller's environment is swapped for the duration)."""
    import boto3
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        session = boto3.session.Session()
        return session.client("s3", endpoint_url=server.api_url, region_name=REGION)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def get_and_denied_put_boto3(server, env):
    """The seed's GET (allowed) and a PUT (denied) with boto3's default chain."""
    from botocore.exceptions import ClientError
    s3 = boto3_s3(server, env)
    assert s3.get_object(Bucket=BUCKET, Key="test.txt")["Body"].read() == CONTENT
    try:
        s3.put_object(Bucket=BUCKET, Key="denied.txt", Body=b"x")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied", e.response
    else:
        raise AssertionError("PUT was allowed")
    return s3


def get_and_denied_put_awscli(server, env, tmp_path):
    """The same with aws-cli v1 (its own process, its own credential chain)."""
    aws = str(VENV_BIN / "aws")
    out = tmp_path / "downloaded.txt"
    common = ["--endpoint-url", server.api_url, "--region", REGION]
    proc = subprocess.run([aws, "s3", "cp", f"s3://{BUCKET}/test.txt", str(out), *common], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == CONTENT
    (tmp_path / "up.txt").write_bytes(b"x")
    proc = subprocess.run([aws, "s3", "cp", str(tmp_path / "up.txt"), f"s3://{BUCKET}/denied.txt", *common], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "AccessDenied" in proc.stderr, proc.stderr
