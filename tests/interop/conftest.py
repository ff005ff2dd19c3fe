"""Shared harness of the interop tests: the real `iotcreds` binary driven by real clients.

Each test gets a fresh server (its own data directory, ports chosen by the OS) through the
`server` fixture. The server's addresses come from its JSON start-up log line; readiness is
polled on /healthz, never slept for. Clients: curl (mutual TLS), aws-cli v1 and boto3 from the
venv that scripts/python-env builds.
"""

import json
import os
import socket
import urllib.parse
import uuid
import pathlib
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
BIN = os.environ.get("IOTCREDS_BIN", str(REPO / "target" / "debug" / "iotcreds"))
VENV_BIN = pathlib.Path(sys.executable).parent
AWS = str(VENV_BIN / "aws")
REGION = "ap-northeast-1"
BUCKET = "adc-test-2020-08-26"
START_TIMEOUT = 60


def read_admin_credentials(data_dir):
    """The [default] profile of DATA/admin-credentials."""
    creds = {}
    for line in (pathlib.Path(data_dir) / "admin-credentials").read_text().splitlines():
        if "=" in line:
            k, v = (x.strip() for x in line.split("=", 1))
            creds[k] = v
    return {"AccessKeyId": creds["aws_access_key_id"], "SecretAccessKey": creds["aws_secret_access_key"]}


def read_answer(s):
    """One HTTP/1.1 answer from socket `s`, read to the end of its Content-Length (or of the
    stream): (status line, its header lines lowercased, each between CRLFs, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, f"closed before the answer's head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, _, fields = head.partition(b"\r\n")
    fields = b"\r\n" + fields.lower() + b"\r\n"
    length = next((int(line.split(b":", 1)[1]) for line in fields.split(b"\r\n")
                   if line.startswith(b"content-length:")), None)
    while length is None or len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, fields, body


class Server:
    """A running `iotcreds serve`."""

    def __init__(self, data_dir, extra_args=(), env=None, upstream=None, api_addr="127.0.0.1:0"):
        self.data_dir = pathlib.Path(data_dir)
        self.upstream = upstream  # the Moto holding the objects, when not the embedded store
        self.log_path = self.data_dir.parent / (self.data_dir.name + ".log")
        args = [
            BIN, "serve",
            "--data-dir", str(self.data_dir),
            "--region", REGION,
            "--credentials-addr", "127.0.0.1:0",
            "--api-addr", api_addr,
            "--admin-addr", "127.0.0.1:0",
            "--console-addr", "127.0.0.1:0",
            "--log-format", "json",
            *extra_args,
        ]
        full_env = dict(os.environ)
        full_env.setdefault("RUST_LOG", "info")
        full_env.update(env or {})
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=full_env)
        self.lines = []
        self._serving = threading.Event()
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if not self._serving.wait(START_TIMEOUT) or self.proc.poll() is not None:
            self.proc.kill()
            raise RuntimeError("iotcreds did not start:\n" + "\n".join(self.lines[-50:]))
        self._wait_healthy()
        self.admin = read_admin_credentials(self.data_dir)

    def _read_log(self):
        with open(self.log_path, "a") as log:
            for raw in self.proc.stderr:
                line = raw.decode(errors="replace").rstrip("\n")
                self.lines.append(line)
                log.write(line + "\n")
                log.flush()
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("message") == "iotcreds is serving":
                    self.credentials_addr = event["credentials_addr"]
                    self.api_addr = event["api_addr"]
                    self.admin_addr = event["admin_addr"]
                    self.console_addr = event.get("console_addr") or None
                    self.credentials_proxy_addr = event.get("credentials_proxy_addr") or None
                    self._serving.set()

    def _wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if requests.get(f"http://{self.admin_addr}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("iotcreds never became healthy:\n" + "\n".join(self.lines[-50:]))
            threading.Event().wait(0.05)  # poll interval, not a wait for readiness

    # -- addresses -------------------------------------------------------------------------

    @property
    def api_url(self):
        return f"http://{self.api_addr}"

    @property
    def credentials_port(self):
        return int(self.credentials_addr.rsplit(":", 1)[1])

    @property
    def credentials_url(self):
        return f"https://localhost:{self.credentials_port}"

    @property
    def root_ca(self):
        return str(self.data_dir / "root-ca.pem")

    def audit_events(self):
        """The audit log lines written so far, parsed."""
        out = []
        for line in list(self.lines):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("target") == "iotcreds::audit":
                out.append(e)
        return out

    def wait_for_audit(self, predicate, timeout=10):
        """The audit events once `predicate(events)` holds. The server writes its log through a
        buffer flushed every 100 ms, so a line may arrive a moment after the response."""
        return self._wait_log(self.audit_events, predicate, timeout, "audit lines")

    def wait_for_line(self, text, timeout=10):
        """The first log line containing `text`, once it has arrived (see `wait_for_audit`)."""
        lines = self._wait_log(lambda: list(self.lines), lambda ls: any(text in ln for ln in ls), timeout,
                               f"a log line with {text!r}")
        return next(ln for ln in lines if text in ln)

    def _wait_log(self, read, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            got = read()
            if predicate(got):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not as expected after {timeout} s: {got[-10:]}")
            threading.Event().wait(0.02)  # poll interval

    # -- clients ---------------------------------------------------------------------------

    def env_for(self, creds=None):
        """Environment for a client process: only these credentials, nothing from ~/.aws."""
        creds = creds or self.admin
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        })
        if creds.get("SessionToken"):
            env["AWS_SESSION_TOKEN"] = creds["SessionToken"]
        return env

    def aws(self, *args, creds=None, check=True, cwd=None):
        """Run aws-cli against the service endpoint. Returns the parsed JSON output (None for
        empty output, the text for the `aws s3` commands, which print text) when the command
        succeeds; with check=False returns the CompletedProcess."""
        cmd = [AWS, *args, "--endpoint-url", self.api_url, "--region", REGION, "--output", "json"]
        proc = subprocess.run(cmd, env=self.env_for(creds), capture_output=True, text=True, cwd=cwd, timeout=300)
        if not check:
            return proc
        if proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        if not proc.stdout.strip():
            return None
        try:
            return json.loads(proc.stdout)
        except ValueError:
            return proc.stdout

    def boto3_client(self, service, creds=None, **kwargs):
        import boto3
        creds = creds or self.admin
        return boto3.client(
            service,
            endpoint_url=self.api_url,
            region_name=REGION,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("SessionToken"),
            **kwargs,
        )

    def iotcreds(self, *args, check=True, cwd=None):
        """Run the `iotcreds` CLI against this server as the administrator."""
        cmd = [BIN, *args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("IOTCREDS_")}
        env.update({"IOTCREDS_ENDPOINT_URL": self.api_url, "IOTCREDS_DATA_DIR": str(self.data_dir)})
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=cwd, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"iotcreds {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def curl_credentials(self, cert, key, alias, thing=None, extra=()):
        """GET /role-aliases/ALIAS/credentials with curl --cert/--key. Returns (status, headers, body)."""
        cmd = ["curl", "-sS", "-i", "--cacert", self.root_ca]
        if cert:
            cmd += ["--cert", str(cert), "--key", str(key)]
        if thing is not None:
            cmd += ["-H", f"x-amzn-iot-thingname: {thing}"]
        cmd += [*extra, f"{self.credentials_url}/role-aliases/{alias}/credentials"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise AssertionError(f"curl failed ({proc.returncode}): {proc.stderr}")
        head, _, body = proc.stdout.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return status, headers, body

    # -- lifecycle -------------------------------------------------------------------------

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Signal the server and return its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code


class Moto:
    """moto's S3 server in its own process: the upstream S3 cluster of the scale-out tests. It
    does not check signatures, so the gateway's service key is any pair."""

    ACCESS_KEY_ID = "iotcreds-gateway"
    SECRET_ACCESS_KEY = "gateway-secret-not-for-devices"

    def __init__(self, log_path):
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, str(HERE / "moto_upstream.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log)
        line = self.proc.stdout.readline().decode().split()  # blocks until it listens (or dies)
        if len(line) != 2 or line[0] != "PORT":
            self.proc.kill()
            raise RuntimeError(f"moto did not start; see {log_path}")
        self.endpoint = f"http://127.0.0.1:{line[1]}"

    def client(self):
        """A boto3 S3 client on moto itself (what the upstream really holds)."""
        import boto3
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=self.ACCESS_KEY_ID, aws_secret_access_key=self.SECRET_ACCESS_KEY)

    def keys(self, bucket):
        """Object keys in an upstream bucket."""
        listing = self.client().list_objects_v2(Bucket=bucket)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def open_uploads(self, bucket):
        """Multipart uploads still open in an upstream bucket."""
        return self.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])

    def write_config(self, path, bucket_prefix="fleet-"):
        """A server config file that keeps objects in this moto, device bucket B in
        upstream bucket `bucket_prefix + B`."""
        path = pathlib.Path(path)
        path.write_text(
            "[objects.upstream]\n"
            f'endpoint = "{self.endpoint}"\n'
            f'region = "{REGION}"\n'
            f'access_key_id = "{self.ACCESS_KEY_ID}"\n'
            f'secret_access_key = "{self.SECRET_ACCESS_KEY}"\n'
            f'bucket_prefix = "{bucket_prefix}"\n'
        )
        path.chmod(0o600)
        return path

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class S3sFs:
    """The s3s project's s3s-fs server (crates.io, pinned; scripts/upstream-tools installs it into
    .tools/bin, or $IOTCREDS_S3S_FS names it): a second real S3 implementation as the upstream.
    It checks SigV4 with one key pair and keeps each object as the file ROOT/bucket/key, so a
    test can read what the upstream stores."""

    ACCESS_KEY_ID = "S3SFSGATEWAY"
    SECRET_ACCESS_KEY = "s3s-fs-gateway-secret-key-0123456789"

    def __init__(self, root, log_path):
        binary = os.environ.get("IOTCREDS_S3S_FS", str(REPO / ".tools" / "bin" / "s3s-fs"))
        if not os.access(binary, os.X_OK):
            raise RuntimeError(f"{binary} is missing: install s3s-fs with scripts/upstream-tools")
        self.root = pathlib.Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0", "--access-key",
                                      self.ACCESS_KEY_ID, "--secret-key", self.SECRET_ACCESS_KEY, str(self.root)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env={**os.environ, "RUST_LOG": "s3s_fs=info", "NO_COLOR": "1"})
        for line in self.proc.stdout:  # blocks until it logs its address (or dies)
            if "server is running at " in line:
                self.endpoint = line.split("server is running at ", 1)[1].strip()
                break
        else:
            raise RuntimeError(f"s3s-fs did not start; see {log_path}")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def keys(self, bucket):
        """Object keys in an upstream bucket: the files s3s-fs wrote."""
        base = self.root / bucket
        return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())

    def open_uploads(self, bucket):
        """Multipart uploads still open (s3s-fs keeps one `.upload-<id>.json` per upload)."""
        return sorted(p.name for p in self.root.glob(".upload-*.json"))

    def write_config(self, path, bucket_prefix="fleet-"):
        path = pathlib.Path(path)
        path.write_text(
            "[objects.upstream]\n"
            f'endpoint = "{self.endpoint}"\n'
            f'region = "{REGION}"\n'
            f'access_key_id = "{self.ACCESS_KEY_ID}"\n'
            f'secret_access_key = "{self.SECRET_ACCESS_KEY}"\n'
            f'bucket_prefix = "{bucket_prefix}"\n'
        )
        path.chmod(0o600)
        return path

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(params=["embedded", "upstream-moto"])
def s3_backend(request, tmp_path):
    """A server whose objects are on the embedded store, or in moto through the upstream
    backend (one test per backend), with the seed's bucket created; yields the server."""
    moto = None
    args = []
    if request.param == "upstream-moto":
        moto = Moto(tmp_path / "moto.log")
        args = ["--config", str(moto.write_config(tmp_path / "iotcreds.toml"))]
    server = Server(tmp_path / "data", extra_args=args, upstream=moto)
    try:
        server.boto3_client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield server
    finally:
        server.stop()
        if moto:
            moto.stop()


@pytest.fixture
def moto(tmp_path):
    m = Moto(tmp_path / "moto.log")
    yield m
    m.stop()


def postgres_url():
    """The PostgreSQL server of the tests (scripts/test checks that it is reachable)."""
    url = os.environ.get("IOTCREDS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    u = urllib.parse.urlparse(url)
    socket.create_connection((u.hostname or "127.0.0.1", u.port or 5432), timeout=5).close()
    return url


@pytest.fixture
def postgres_database():
    """A fresh PostgreSQL database for one test, dropped afterwards; yields its URL."""
    url = postgres_url()
    db = f"iotcreds_it_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", url, "-Atc", f"CREATE DATABASE {db}"], check=True, capture_output=True, timeout=60)
    try:
        yield url.rsplit("/", 1)[0] + "/" + db
    finally:
        subprocess.run(["psql", url, "-Atc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"], capture_output=True,
                       timeout=60)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data")
    yield s
    s.stop()


# The administrator's boto3 clients of the `server` fixture, one per control-plane service.
@pytest.fixture
def iam(server):
    return server.boto3_client("iam")


@pytest.fixture
def iot(server):
    return server.boto3_client("iot")


@pytest.fixture
def sts(server):
    return server.boto3_client("sts")
