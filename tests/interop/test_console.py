"""The web console in a real browser: headless Chromium from Debian's packages, driven by
selenium (chromedriver from the same packages, no download).

The seed's whole set-up is done through the console only; the files it offers are then used
by curl (credentials) and aws-cli (the seed's S3 GET), and the Activity page shows the
issuance and a refusal with its reason. A read-only user is denied a write with AWS's message;
cross-site and same-site forged posts change nothing; sessions expire; failed sign-ins are
limited. Every page visited is saved as a screenshot at 1280 px and at phone width under
target/console-screenshots/ (not committed).
"""

import functools
import http.server
import json
import os
import pathlib
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import BIN, BUCKET, REGION, REPO, Server, read_answer

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

# Selenium must never fetch a driver or a browser: both come from Debian's packages.
os.environ.setdefault("SE_OFFLINE", "true")
os.environ.setdefault("SE_AVOID_STATS", "true")

CHROMIUM = os.environ.get("IOTCREDS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("IOTCREDS_CHROMEDRIVER", "/usr/bin/chromedriver")
SHOTS = REPO / "target" / "console-screenshots"
WIDE = (1280, 900)
PHONE = (390, 844)
PASSWORD = "Correct-horse1"

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.fail(f"the browser tests need {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)",
                pytrace=False)


class Browser:
    """One headless Chromium with its own empty profile and download directory."""

    def __init__(self, tmp_path, base_url):
        self.base = base_url
        self.downloads = tmp_path / "downloads"
        self.downloads.mkdir()
        profile = tmp_path / "chromium-profile"
        opts = Options()
        opts.binary_location = CHROMIUM
        for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                    f"--window-size={WIDE[0]},{WIDE[1]}"):
            opts.add_argument(arg)
        opts.add_experimental_option("prefs", {
            "download.default_directory": str(self.downloads),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        })
        service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
        self.d = webdriver.Chrome(options=opts, service=service)
        self.d.set_page_load_timeout(60)
        self.d.execute_cdp_cmd("Browser.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": str(self.downloads)})
        self.size(WIDE)

    def quit(self):
        self.d.quit()

    def size(self, wh):
        self.d.set_window_size(*wh)

    def go(self, path):
        self.d.get(self.base + path)

    def wait(self, cond, timeout=20):
        # While a page is replaced, Chromium answers a command about the old document with one
        # of several errors (a stale element, "Node with given id does not belong to the
        # document", a lost execution context): all mean "not yet", so the condition is asked
        # again until it holds or the time is up.
        return WebDriverWait(self.d, timeout, poll_frequency=0.1,
                             ignored_exceptions=(WebDriverException,)).until(cond)

    def css(self, sel):
        return self.d.find_element(By.CSS_SELECTOR, sel)

    def text(self):
        # One script, not find-then-read: no element handle can outlive the page it came from.
        return self.d.execute_script("return document.body ? document.body.innerText : ''")

    def fill(self, sel, value):
        el = self.css(sel)
        el.clear()
        el.send_keys(value)

    def submit(self, form_sel):
        """Submit a form with its submit button and wait for the next page."""
        self.navigating(lambda: self.css(f"{form_sel} button[type=submit]").click())

    def click(self, sel):
        self.navigating(lambda: self.css(sel).click())

    def navigating(self, action):
        """Run `action`, which loads a new page, and wait until that page has loaded.

        The old page's window is marked first; a new document has a new window without the mark.
        (Asking an element of the old page whether it is stale raced with Chromium replacing
        the document and failed with "Node with given id does not belong to the document".)
        """
        self.d.execute_script("window.__iotcredsOldPage = true")
        action()
        self.wait(lambda d: d.execute_script(
            "return window.__iotcredsOldPage !== true && document.readyState === 'complete'"))

    def flash(self):
        msgs = self.d.find_elements(By.CSS_SELECTOR, "main .msg")
        return " | ".join(m.text for m in msgs)

    def shot(self, name):
        """Screenshots of the whole page at 1280 px and at phone width."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        for label, (w, h) in (("1280", WIDE), ("phone", PHONE)):
            self.size((w, h))
            full = self.d.execute_script("return document.documentElement.scrollHeight")
            self.size((w, max(h, min(full, 5000))))
            self.d.save_screenshot(str(SHOTS / f"{name}-{label}.png"))
        self.size(WIDE)
        # The layout holds at phone width: nothing is wider than the screen but tables/code.
        self.size(PHONE)
        overflow = self.d.execute_script(
            "return document.documentElement.scrollWidth > window.innerWidth + 1")
        self.size(WIDE)
        assert not overflow, f"{name}: the page is wider than a phone screen"

    def sign_in_root(self, server):
        self.go("/signin")
        self.fill("#access_key_id", server.admin["AccessKeyId"])
        self.fill("#secret_access_key", server.admin["SecretAccessKey"])
        self.submit("#signin-root")

    def sign_in_user(self, user, password):
        self.go("/signin")
        self.fill("#user", user)
        self.fill("#password", password)
        self.submit("#signin-user")

    def downloaded(self, name, timeout=20):
        path = self.downloads / name
        self.wait(lambda d: path.exists() and not (self.downloads / (name + ".crdownload")).exists(), timeout)
        return path


def console_server(tmp_path, name="data", config=None):
    args = []
    if config:
        cfg = tmp_path / f"{name}.toml"
        cfg.write_text(config)
        args = ["--config", str(cfg)]
    s = Server(tmp_path / name, extra_args=args)
    assert s.console_addr, "the server did not report its console address"
    return s


@pytest.fixture
def seeded(tmp_path):
    server = console_server(tmp_path)
    b = Browser(tmp_path, f"http://{server.console_addr}")
    yield server, b
    b.quit()
    server.stop()


def test_the_seed_through_the_console_then_curl_aws_cli_and_activity(seeded, tmp_path):
    server, b = seeded
    b.go("/")
    assert "/signin" in b.d.current_url
    b.shot("signin")
    b.sign_in_root(server)
    assert b.d.current_url == b.base + "/"
    account = server.aws("sts", "get-caller-identity")["Account"]
    assert f"arn:aws:iam::{account}:root" in b.text()
    b.shot("home")

    # 1. The role, with the default trust policy (credentials.iot.amazonaws.com) and S3 read.
    b.go("/roles")
    b.fill("#role-name", "ADCTestRole")
    b.submit("form[action='/roles']")
    assert b.css("h1").text == "ADCTestRole", b.flash()
    b.fill("#inline-name", "ADCTestS3Read")
    b.submit("form[action$='/put-inline']")
    assert "Inline policy ADCTestS3Read saved." in b.flash()
    b.shot("role")

    # 2. The bucket and its object.
    b.go("/buckets")
    b.fill("#bucket-name", BUCKET)
    b.submit("form[action='/buckets']")
    assert f"Bucket {BUCKET} created." in b.flash()
    upload = tmp_path / "test.txt"
    upload.write_text("hello from the console\n")
    b.css("#upload-file").send_keys(str(upload))
    b.navigating(lambda: b.css("#upload-form button[type=submit]").click())
    b.wait(lambda d: "test.txt" in b.text())
    b.shot("bucket")

    # 3. Connect a device: thing → certificate → policy → role alias → device.
    b.go("/connect")
    b.shot("connect-thing")
    b.fill("#connect-thing", "ADCTestThing")
    b.submit("form[action^='/connect/thing']")
    assert "Thing ADCTestThing created." in b.flash()
    b.click("#connect-create-certificate")
    assert "Certificate attached to ADCTestThing." in b.flash()
    for link in ("#download-cert-pem", "#download-private-key", "#download-root-ca-pem"):
        b.css(link).click()
    cert = b.downloaded("cert.pem")
    key = b.downloaded("private.key")
    ca = b.downloaded("root-ca.pem")
    assert cert.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" in key.read_text()
    cert_id = urllib.parse.parse_qs(urllib.parse.urlparse(b.d.current_url).query)["cert"][0]
    assert len(cert_id) == 64
    b.go(b.d.current_url.replace(b.base, ""))  # reload: the key is offered once
    assert "private.key — already downloaded or expired" in b.text()
    b.shot("connect-certificate")
    b.click("#connect-next")
    b.fill("#connect-alias", "ADCTestRoleAlias")
    b.fill("#connect-policy", "ADCTestPolicy")
    b.shot("connect-policy")
    b.submit("form[action^='/connect/policy']")
    assert "Policy ADCTestPolicy created for role alias ADCTestRoleAlias" in b.flash()
    Select(b.css("select[name=role]")).select_by_visible_text("ADCTestRole")
    b.shot("connect-alias")
    b.submit("form[action^='/connect/alias']")
    assert "Role alias ADCTestRoleAlias created." in b.flash()
    curl_cmd = b.css("#curl-command").text
    agent_cmd = b.css("#agent-command").text
    endpoint = f"localhost:{server.credentials_port}"
    assert f"https://{endpoint}/role-aliases/ADCTestRoleAlias/credentials" in curl_cmd
    assert "x-amzn-iot-thingname: ADCTestThing" in curl_cmd
    assert agent_cmd.startswith("iotcreds device agent --cert cert.pem --key private.key")
    assert "--role-alias 'ADCTestRoleAlias' --thing-name 'ADCTestThing'" in agent_cmd
    assert b.css("#live-check [data-state]").get_attribute("data-state") == "waiting"
    b.shot("connect-device")

    # 4. The device: the exact curl command the console shows, in the download directory.
    proc = subprocess.run(["sh", "-c", curl_cmd.replace("curl ", "curl -sS ", 1)], cwd=b.downloads,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    creds = json.loads(proc.stdout)["credentials"]
    assert creds["accessKeyId"].startswith("ASIA")
    # The live check turns green by itself.
    b.wait(lambda d: b.css("#live-check [data-state]").get_attribute("data-state") == "issued", 30)
    assert creds["accessKeyId"] in b.css("#live-check").text
    b.shot("connect-live")

    # 5. The seed's S3 GET with aws-cli and those credentials.
    device = {"AccessKeyId": creds["accessKeyId"], "SecretAccessKey": creds["secretAccessKey"],
              "SessionToken": creds["sessionToken"]}
    out = tmp_path / "got.txt"
    server.aws("s3", "cp", f"s3://{BUCKET}/test.txt", str(out), creds=device)
    assert out.read_text() == "hello from the console\n"
    denied = server.aws("s3", "cp", str(out), f"s3://{BUCKET}/x", creds=device, check=False)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr

    # 6. A refusal: the wrong thing name.
    status, _, body = server.curl_credentials(cert, key, "ADCTestRoleAlias", thing="WrongThing")
    assert status == 403 and json.loads(body)["message"] == "Invalid thing name passed"

    # 7. Activity shows both, newest first, the refusal with its reason.
    def activity_has_both(_):
        b.go("/activity")
        t = b.text()
        return "refused (403)" in t and "issued" in t
    b.wait(activity_has_both, 30)
    rows = b.d.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert "refused (403)" in rows[0].text and "WrongThing" in rows[0].text
    assert 'thing "WrongThing" not attached to the certificate' in rows[0].text
    assert "issued" in rows[1].text and "ADCTestThing" in rows[1].text and creds["accessKeyId"] in rows[1].text
    b.shot("activity")
    b.fill("#filter-thing", "ADCTestThing")
    b.submit("#activity-filter")
    assert "WrongThing" not in b.css("tbody").text
    Select(b.css("select[name=outcome]")).select_by_visible_text("refused")
    b.fill("#filter-thing", "")
    b.submit("#activity-filter")
    assert all("refused" in r.text for r in b.d.find_elements(By.CSS_SELECTOR, "tbody tr"))

    # 8. The other pages, for the record (and their layout at phone width).
    for path, name in (("/things", "things"), ("/things/ADCTestThing", "thing"),
                       ("/certificates", "certificates"), ("/ca-certificates", "ca-certificates"),
                       ("/policies", "policies"), ("/policies/ADCTestPolicy", "policy"),
                       ("/role-aliases", "role-aliases"),
                       ("/role-aliases/ADCTestRoleAlias?thing=ADCTestThing", "role-alias"),
                       ("/roles", "roles"), ("/iam-policies", "iam-policies"), ("/users", "users"),
                       ("/buckets", "buckets")):
        b.go(path)
        assert b.d.find_elements(By.TAG_NAME, "h1"), path
        b.shot(name)
    b.go("/certificates")
    b.click(f"a[href^='/certificates/{cert_id[:12]}']")
    assert "ADCTestPolicy" in b.text() and "ADCTestThing" in b.text()
    b.shot("certificate")
    # The simulator agrees with what curl and aws-cli saw.
    b.go("/simulator")
    Select(b.css("select[name=principal]")).select_by_visible_text("role ADCTestRole")
    b.submit("form[action='/simulator']")
    assert "allowed" in b.css("table").text
    b.shot("simulator")
    # Download and delete the object through the console.
    b.go(f"/buckets/{BUCKET}")
    b.css("a[download][href*='test.txt']").click()
    assert b.downloaded("test.txt").read_text() == "hello from the console\n"
    b.css("form[action$='/delete'] button").click()
    b.d.switch_to.alert.accept()
    b.wait(lambda d: "Deleted test.txt." in b.flash())


@pytest.fixture
def plain(tmp_path):
    server = console_server(tmp_path)
    b = Browser(tmp_path, f"http://{server.console_addr}")
    yield server, b
    b.quit()
    server.stop()


def test_a_read_only_user_is_denied_a_write_with_aws_message(plain):
    server, b = plain
    account = server.aws("sts", "get-caller-identity")["Account"]
    b.sign_in_root(server)
    b.go("/users")
    b.fill("#new-user-name", "reader")
    b.fill("#new-user-password", PASSWORD)
    b.submit("form[action='/users']")
    assert "User reader created with a console password." in b.flash()
    b.fill("#user-inline-name", "ReadOnly")
    b.submit("form[action$='/put-inline']")
    assert "Inline policy ReadOnly saved." in b.flash()
    b.shot("user")
    b.click("#signout")
    assert "You are signed out." in b.text()

    b.sign_in_user("reader", PASSWORD)
    assert f"arn:aws:iam::{account}:user/reader" in b.text()
    b.go("/things")
    b.fill("#thing-name", "Intruder")
    b.submit("form[action='/things']")
    want = (f"AccessDeniedException: User: arn:aws:iam::{account}:user/reader is not authorized to perform: "
            f"iot:CreateThing on resource: arn:aws:iot:{REGION}:{account}:thing/Intruder because no "
            "identity-based policy allows the iot:CreateThing action")
    assert want in b.flash()
    b.shot("read-only-denied")
    gone = server.aws("iot", "describe-thing", "--thing-name", "Intruder", check=False)
    assert gone.returncode != 0 and "ResourceNotFoundException" in gone.stderr


class AttackerSite:
    """A page on another origin that posts a form to the console as soon as it loads."""

    def __init__(self, tmp_path, target):
        root = tmp_path / "attacker"
        root.mkdir()
        (root / "index.html").write_text(
            "<!doctype html><form id=f method=post action='" + target + "'>"
            "<input name=name value=ForgedThing></form>"
            "<script>document.getElementById('f').submit()</script>")
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()


def test_a_post_answered_before_its_body_arrives_closes_its_connection(tmp_path):
    """A console form or upload answered before its body was read (here: no session, sent to
    sign in) says `Connection: close` and the connection ends, so a browser does not send its
    next request into a connection being closed; pages without a body keep theirs."""
    server = console_server(tmp_path)
    host, port = server.console_addr.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(f"POST /things HTTP/1.1\r\nHost: {server.console_addr}\r\n"
                      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 24\r\n\r\n".encode())
            status, fields, _ = read_answer(s)  # no body byte sent yet
            assert status.startswith(b"HTTP/1.1 3"), status
            assert b"\r\nlocation: /signin" in fields, fields
            assert b"\r\nconnection: close\r\n" in fields, fields
            try:
                s.sendall(b"name=ADCTestThing&csrf=x")
                rest = s.recv(65536)
            except (BrokenPipeError, ConnectionResetError):
                rest = b""
            assert rest == b"", rest[:300]
        with socket.create_connection((host, int(port)), timeout=30) as s:
            for _ in range(2):
                s.sendall(f"GET /signin HTTP/1.1\r\nHost: {server.console_addr}\r\n\r\n".encode())
                status, fields, page = read_answer(s)
                assert status == b"HTTP/1.1 200 OK", status
                assert b"connection: close" not in fields, fields
                assert b"Sign in" in page
    finally:
        server.stop()


def test_forged_posts_expiry_and_sign_in_limits(tmp_path):
    server = console_server(tmp_path, config="[console]\nsession_ttl_secs = 4\nfailures_per_user = 3\n")
    console = f"http://{server.console_addr}"
    port = server.console_addr.rsplit(":", 1)[1]
    b = Browser(tmp_path, console)
    attacker = AttackerSite(tmp_path, f"{console}/things")
    try:
        # Forged posts: from a same-site origin (another port: the cookie is sent) and from a
        # cross-site origin (localhost vs 127.0.0.1: the SameSite=Strict cookie is not).
        b.sign_in_root(server)
        b.d.get(f"http://127.0.0.1:{attacker.port}/index.html")
        b.wait(lambda d: "Request refused" in b.text())
        assert "CSRF" in b.text()
        b.shot("csrf-refused")
        b.sign_in_root(server)
        b.d.get(f"http://localhost:{attacker.port}/index.html")
        b.wait(lambda d: d.current_url.startswith(console) or f":{port}/" in d.current_url)
        b.wait(lambda d: "Sign in" in b.text() or "Request refused" in b.text())
        missing = server.aws("iot", "describe-thing", "--thing-name", "ForgedThing", check=False)
        assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr

        # Session expiry (4 s here): the console sends the browser to sign in again.
        b.sign_in_root(server)
        signed_in_at = time.monotonic()

        def expired(_):
            b.go("/things")
            return "/signin" in b.d.current_url
        b.wait(expired, 30)
        assert time.monotonic() - signed_in_at >= 3.5
        assert "Your session has expired." in b.text()
        b.shot("session-expired")

        # Failed sign-ins: three for a user lock it, even for the right password.
        proc = subprocess.run([BIN, "user", "create", "alice"], env=cli_env(server),
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        proc = subprocess.run([BIN, "user", "login-profile", "create", "alice", "--password-stdin"],
                              input=PASSWORD + "\n", env=cli_env(server), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        for _ in range(3):
            b.sign_in_user("alice", "Wrong-pass1")
            assert "Your authentication information is incorrect. Please try again." in b.text()
        b.sign_in_user("alice", PASSWORD)
        assert "Too many failed sign-in attempts" in b.text()
        assert "/signin" in b.d.current_url or "Sign in" in b.text()
        b.shot("signin-locked")
    finally:
        attacker.stop()
        b.quit()
        server.stop()


def cli_env(server):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("IOTCREDS_")}
    env.update({"IOTCREDS_ENDPOINT_URL": server.api_url, "IOTCREDS_DATA_DIR": str(server.data_dir)})
    return env
