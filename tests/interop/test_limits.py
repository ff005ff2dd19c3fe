"""What an anonymous or half-authenticated client can cost the server, as figures.

Each test starts the real binary with small, named limits (`[limits]` in its config file),
attacks it from 127.0.0.2 (loopback, bounded in count and time), and asserts:

- idle connections are closed within their deadline (measured from the client's side): silent
  sockets and the HTTP/1-vs-2 sniffing by `header_timeout_secs`, HTTP/1 keep-alive and HTTP/2
  connections that only answer pings by `idle_timeout_secs`;
- one address holds at most `max_connections_per_ip` connections, so a client from another
  address (127.0.0.1) is still served while the attack goes on;
- slow control-plane bodies are refused with `RequestTimeout` by `body_timeout_secs`, bodies of
  clients without credentials are never read, and the server's resident memory (VmRSS of
  /proc/PID/status) stays within its idle RSS plus `max_inflight_body_bytes` plus a fixed
  per-connection allowance.

The measured figures are printed (pytest -s shows them).
"""

import datetime
import pathlib
import socket
import struct
import threading
import time

import pytest

from conftest import REGION, Server

ATTACKER = "127.0.0.2"  # loopback, but another address than the legitimate client's 127.0.0.1
HEADER_S = 2
IDLE_S = 3
BODY_S = 3
SLACK_S = 1.0  # scheduling and log-flush allowance on a loaded 2-core machine
MIB = 1 << 20
PER_CONNECTION_MIB = 4 * 64 / 1024  # four HTTP/1 read buffers (net::H1_MAX_BUF = 64 KiB)
FIXED_MIB = 4  # log buffers, tasks, allocator bookkeeping


def start(tmp_path, **limits):
    settings = {
        "header_timeout_secs": HEADER_S,
        "idle_timeout_secs": IDLE_S,
        "body_timeout_secs": BODY_S,
        **limits,
    }
    config = tmp_path / "limits.toml"
    config.write_text("[limits]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    return Server(tmp_path / "data", extra_args=["--config", str(config)])


@pytest.fixture
def limited(request, tmp_path):
    s = start(tmp_path, **getattr(request, "param", {}))
    yield s
    s.stop()


def rss_mib(server):
    for line in pathlib.Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


class RssSampler:
    """The server's peak RSS while the block runs, sampled every 20 ms."""

    def __init__(self, server):
        self.server = server
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.server))
            self._stop.wait(0.02)  # sampling interval

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, rss_mib(self.server))


def api_host_port(server):
    host, port = server.api_addr.rsplit(":", 1)
    return host, int(port)


def connect(server, source=ATTACKER):
    s = socket.create_connection(api_host_port(server), timeout=30, source_address=(source, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def seconds_until_closed(sock, limit):
    """Read (discarding) until the server closes; seconds from now. Fails after `limit`."""
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        pytest.fail(f"connection still open after {limit} s")
    return time.monotonic() - start


def legit_call(server):
    """A legitimate IAM call from 127.0.0.1: the caller's identity."""
    from botocore.config import Config
    sts = server.boto3_client("sts", config=Config(retries={"max_attempts": 0}, connect_timeout=5, read_timeout=15))
    return sts.get_caller_identity()["Arn"]


def warm_up(server):
    """A few ordinary requests, so that idle RSS includes what serving any request allocates."""
    for _ in range(5):
        assert legit_call(server).endswith(":root")


# -- idle connections -----------------------------------------------------------------------


@pytest.mark.parametrize("limited", [{"max_connections": 50, "max_connections_per_ip": 20}], indirect=True)
def test_silent_connections_are_capped_per_address_and_closed_at_the_header_deadline(limited):
    server = limited
    warm_up(server)
    idle = rss_mib(server)
    with RssSampler(server) as rss:
        socks, opened = [], []
        for _ in range(100):
            socks.append(connect(server))
            opened.append(time.monotonic())
        # Another address is served while 100 silent sockets are open from the attacker's
        # (with max_connections = 50 they would have starved it before).
        assert legit_call(server).endswith(":root")
        closed = [None] * len(socks)

        def wait(i):
            seconds_until_closed(socks[i], HEADER_S + 10)
            closed[i] = time.monotonic() - opened[i]

        threads = [threading.Thread(target=wait, args=(i,)) for i in range(len(socks))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for s in socks:
        s.close()
    # From the moment they were opened: refused at once beyond the per-address limit, the
    # others at the header deadline.
    since_open = sorted(closed)
    refused = [t for t in since_open if t < HEADER_S / 2]
    held = [t for t in since_open if t >= HEADER_S / 2]
    print(f"\nsilent sockets: {len(refused)} refused at once, {len(held)} held and closed after "
          f"{min(held):.2f}-{max(held):.2f} s (header_timeout_secs = {HEADER_S}); "
          f"RSS idle {idle:.1f} MiB, peak {rss.peak:.1f} MiB")
    assert len(held) == 20 and len(refused) == 80
    assert max(held) <= HEADER_S + SLACK_S
    assert rss.peak <= idle + FIXED_MIB, "100 silent sockets cost almost nothing"


def test_http1_keep_alive_and_slow_headers_are_closed_at_their_deadlines(limited):
    server = limited
    # Keep-alive: one request, then silence.
    s = connect(server)
    s.sendall(b"GET /healthz-not-here HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(10)
    assert s.recv(65536).startswith(b"HTTP/1.1 ")
    took = seconds_until_closed(s, IDLE_S + 10)
    print(f"\nHTTP/1 keep-alive idle closed after {took:.2f} s (idle_timeout_secs = {IDLE_S})")
    assert IDLE_S - 0.3 <= took <= IDLE_S + SLACK_S
    s.close()

    # Headers dripped a byte every 300 ms: closed at the header deadline, counted from connect.
    s = connect(server)
    opened = time.monotonic()
    s.settimeout(0.3)
    line = b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 100
    closed_at = None
    for b in line:
        try:
            s.send(bytes([b]))
            if s.recv(65536) == b"":
                closed_at = time.monotonic()
                break
        except socket.timeout:
            continue
        except (BrokenPipeError, ConnectionResetError):
            closed_at = time.monotonic()
            break
    assert closed_at is not None, "still open after 30 s of dripped headers"
    took = closed_at - opened
    print(f"headers dripped at 1 byte/300 ms closed after {took:.2f} s (header_timeout_secs = {HEADER_S})")
    assert HEADER_S - 0.3 <= took <= HEADER_S + SLACK_S
    s.close()
    assert legit_call(server).endswith(":root")


# -- HTTP/2 ---------------------------------------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x4, 0x6, 0x7
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def read_frame(sock):
    def exact(n):
        out = b""
        while len(out) < n:
            chunk = sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed")
            out += chunk
        return out
    head = exact(9)
    length = int.from_bytes(head[:3], "big")
    return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, exact(length)


def h2_get(host):
    """HPACK without a table: :method GET, :scheme http, :path / (static indexes 2, 6, 4) and
    :authority as a literal without indexing (name index 1)."""
    auth = host.encode()
    return bytes([0x82, 0x86, 0x84, 0x01, len(auth)]) + auth


def ping_until_closed(sock, limit, ping_every=0.5):
    """Keep the connection 'alive' with PINGs (answering the server's too) until it closes.
    Returns (seconds, whether a GOAWAY came first)."""
    start = time.monotonic()
    goaway = False
    next_ping = start
    sock.settimeout(0.1)
    while time.monotonic() - start < limit:
        now = time.monotonic()
        if now >= next_ping:
            try:
                sock.sendall(frame(PING, 0, 0, b"keepaliv"))
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - start, goaway
            next_ping = now + ping_every
        try:
            kind, flags, _, payload = read_frame(sock)
        except socket.timeout:
            continue
        except (ConnectionError, OSError):
            return time.monotonic() - start, goaway
        if kind == PING and not flags & ACK:
            sock.sendall(frame(PING, ACK, 0, payload))
        elif kind == GOAWAY:
            goaway = True
    pytest.fail(f"HTTP/2 connection still open after {limit} s of pings")


def test_http2_connections_that_only_ping_are_closed(limited):
    server = limited
    # No request at all: the header deadline, counted from connect, covers the preface too.
    s = connect(server)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0))
    took, _ = ping_until_closed(s, HEADER_S + 10)
    print(f"\nh2c without a request, pinging every 500 ms: closed after {took:.2f} s "
          f"(header_timeout_secs = {HEADER_S})")
    assert HEADER_S - 0.3 <= took <= HEADER_S + SLACK_S
    s.close()

    # One request, then only pings: GOAWAY and close at the idle deadline.
    s = connect(server)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, END_STREAM | END_HEADERS, 1, h2_get(server.api_addr)))
    s.settimeout(10)
    status = None
    while True:
        kind, flags, stream, payload = read_frame(s)
        if kind == SETTINGS and not flags & ACK:
            s.sendall(frame(SETTINGS, ACK, 0))
        if kind == HEADERS and stream == 1:
            status = payload
        if stream == 1 and flags & END_STREAM:
            break
    assert status is not None, "the request was answered"
    took, goaway = ping_until_closed(s, IDLE_S + 10)
    print(f"h2c after one request, pinging every 500 ms: GOAWAY={goaway}, closed after {took:.2f} s "
          f"(idle_timeout_secs = {IDLE_S})")
    assert goaway
    assert IDLE_S - 0.3 <= took <= IDLE_S + SLACK_S
    s.close()
    assert legit_call(server).endswith(":root")


# -- slow control-plane bodies --------------------------------------------------------------


def control_post(server, access_key_id, length, sign_payload_hash=False):
    """Head of an IAM POST signed (badly: the signature is zeros) for `access_key_id`, now."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    signed = "content-type;host;x-amz-date" + (";x-amz-content-sha256" if sign_payload_hash else "")
    extra = f"x-amz-content-sha256: {'0' * 64}\r\n" if sign_payload_hash else ""
    return (
        f"POST / HTTP/1.1\r\nHost: {server.api_addr}\r\n"
        f"Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
        f"X-Amz-Date: {amz_date}\r\n{extra}"
        f"Authorization: AWS4-HMAC-SHA256 Credential={access_key_id}/{now:%Y%m%d}/us-east-1/iam/aws4_request, "
        f"SignedHeaders={signed}, Signature={'0' * 64}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def status_of(sock, limit):
    sock.settimeout(limit)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return data


def slow_body_attack(server, heads, body_len, connections):
    """`connections` clients each send a head and `body_len` bytes, never the rest. Returns
    [(seconds to the answer, the answer's head)]."""
    results = [None] * connections
    started = threading.Barrier(connections + 1)

    def attacker(i):
        s = connect(server)
        started.wait()
        t0 = time.monotonic()
        try:
            s.sendall(heads[i])
            chunk = b"A" * 65536
            sent = 0
            while sent < body_len:
                n = min(len(chunk), body_len - sent)
                s.sendall(chunk[:n])
                sent += n
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = status_of(s, BODY_S + 15)
        results[i] = (time.monotonic() - t0, answer)
        s.close()

    threads = [threading.Thread(target=attacker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    started.wait()
    return threads, results


@pytest.mark.parametrize("limited", [{"max_inflight_body_bytes": 16 * MIB, "max_connections_per_ip": 100}],
                         indirect=True)
def test_slow_control_plane_bodies_are_bounded_in_time_and_memory(limited):
    server = limited
    warm_up(server)
    idle = rss_mib(server)
    known_key = server.admin["AccessKeyId"]  # access key ids are not secret
    connections = 60
    with RssSampler(server) as rss:
        heads = [control_post(server, known_key, MIB) for _ in range(connections)]
        threads, results = slow_body_attack(server, heads, MIB - 1, connections)
        # A legitimate call while 60 clients trickle 60 MiB at a 16 MiB budget.
        during = time.monotonic()
        assert legit_call(server).endswith(":root")
        legit_s = time.monotonic() - during
        for t in threads:
            t.join()
    times = sorted(t for t, _ in results)
    answered = [a for _, a in results if a]
    timed_out = sum(1 for a in answered if b"<Code>RequestTimeout</Code>" in a)
    print(f"\n{connections} x (1 MiB - 1) bodies at max_inflight_body_bytes = 16 MiB: RSS idle {idle:.1f} MiB, "
          f"peak {rss.peak:.1f} MiB (+{rss.peak - idle:.1f}); all closed after {times[0]:.2f}-{times[-1]:.2f} s "
          f"(body_timeout_secs = {BODY_S}); {timed_out} read a RequestTimeout answer, "
          f"{connections - len(answered)} a reset; legit call took {legit_s:.2f} s")
    # A client refused while it is still sending may see the reset before the answer (the
    # server does not read the rest of its body); every answer that arrives is the AWS one.
    assert timed_out == len(answered) >= 1, {a.split(b"\r\n", 1)[0] for a in answered}
    assert all(a.startswith(b"HTTP/1.1 400 Bad Request") for a in answered)
    assert times[-1] <= BODY_S + 2 * SLACK_S
    # The budget, plus per connection what the HTTP/1 layer may hold while bytes flow (its read
    # buffer is capped at 64 KiB, net::H1_MAX_BUF; allow four), plus a fixed allowance.
    bound = 16 + connections * PER_CONNECTION_MIB + FIXED_MIB
    print(f"bound: idle + 16 MiB budget + {connections} x {PER_CONNECTION_MIB * 1024:.0f} KiB + {FIXED_MIB} MiB "
          f"= idle + {bound:.1f} MiB")
    assert rss.peak <= idle + bound, f"RSS grew by {rss.peak - idle:.1f} MiB"
    assert legit_call(server).endswith(":root")


@pytest.mark.parametrize("limited", [{"max_connections_per_ip": 100}], indirect=True)
def test_bodies_of_clients_without_credentials_are_never_read(limited):
    server = limited
    warm_up(server)
    idle = rss_mib(server)
    connections = 60
    unknown = [control_post(server, "AKIA" + f"{i:016d}", MIB) for i in range(connections)]
    forged = [control_post(server, server.admin["AccessKeyId"], MIB, sign_payload_hash=True)
              for _ in range(connections)]
    for heads, code in [(unknown, b"InvalidClientTokenId"), (forged, b"SignatureDoesNotMatch")]:
        results = [None] * connections

        def attacker(i):
            s = connect(server)
            t0 = time.monotonic()
            s.sendall(heads[i])
            # The answer comes without a single body byte sent.
            answer = status_of(s, BODY_S + 10)
            results[i] = (time.monotonic() - t0, answer)
            try:
                s.sendall(b"A" * (MIB - 1))  # what it would have cost: not read
            except OSError:
                pass
            s.close()

        with RssSampler(server) as rss:
            threads = [threading.Thread(target=attacker, args=(i,)) for i in range(connections)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        times = sorted(t for t, _ in results)
        refused = sum(1 for _, a in results if a.startswith(b"HTTP/1.1 403 Forbidden") and b"<Code>" + code in a)
        print(f"\n{connections} POSTs declaring 1 MiB with {code.decode()}: refused after {times[0]:.2f}-{times[-1]:.2f} s "
              f"before any body byte, RSS idle {idle:.1f} MiB, peak {rss.peak:.1f} MiB")
        assert refused == connections, [a[:300] for _, a in results][:3]
        assert times[-1] < BODY_S, "refused at the headers, not at the body deadline"
        # No body is buffered; what the HTTP/1 layer reads of the head and the body's first
        # bytes before it closes is the per-connection allowance.
        assert rss.peak <= idle + connections * PER_CONNECTION_MIB + FIXED_MIB, f"RSS grew by {rss.peak - idle:.1f} MiB"
