//! moto's S3 server (PyPI `moto`, in the workspace's `.venv`) as the upstream cluster, one per
//! test, with IAM authentication enforced: every S3 request the gateway sends is SigV4-verified
//! and policy-checked by moto, so signing, streaming uploads and the auth error class are real.
//!
//! moto counts the first `INITIAL_NO_AUTH_ACTION_COUNT` requests as unauthenticated; the
//! bootstrap uses exactly those to create two IAM users: `gateway` (allowed `s3:*`) and
//! `nopolicy` (no policy: every S3 call is `AccessDenied`).

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Requests of the bootstrap script (CreateUser, PutUserPolicy, CreateAccessKey, CreateUser,
/// CreateAccessKey).
const BOOTSTRAP_REQUESTS: u32 = 5;

const BOOTSTRAP: &str = r#"
import json, sys, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="gateway")
iam.put_user_policy(UserName="gateway", PolicyName="s3-all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
g = iam.create_access_key(UserName="gateway")["AccessKey"]
iam.create_user(UserName="nopolicy")
n = iam.create_access_key(UserName="nopolicy")["AccessKey"]
print(json.dumps({"gateway": [g["AccessKeyId"], g["SecretAccessKey"]],
                  "nopolicy": [n["AccessKeyId"], n["SecretAccessKey"]]}))
"#;

/// A running moto server; killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub port: u16,
    /// `(access key id, secret)` of the user allowed `s3:*`.
    pub gateway: (String, String),
    /// `(access key id, secret)` of a user without any policy.
    pub nopolicy: (String, String),
    log: Arc<Mutex<Vec<String>>>,
}

fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: these tests run moto's S3 server from the workspace's Python \
         environment; create it with `scripts/python-env` (installs tests/interop/requirements.txt)",
        venv.display()
    );
    venv
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl Moto {
    /// Starts `python -m moto.server` on a free port, waits until it reports that it listens
    /// (reading its output, no fixed sleep), and creates the IAM users.
    pub fn start() -> Self {
        let python = python();
        let port = free_port();
        let mut child = Command::new(&python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env(
                "INITIAL_NO_AUTH_ACTION_COUNT",
                BOOTSTRAP_REQUESTS.to_string(),
            )
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn moto.server");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        // werkzeug announces "Running on http://127.0.0.1:PORT" on stderr; keep draining both
        // pipes so that moto never blocks on a full pipe.
        for pipe in [
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let (log, ready_tx) = (Arc::clone(&log), ready_tx.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if line.contains("Running on") {
                        let _ = ready_tx.send(());
                    }
                    let mut log = log.lock().expect("log");
                    if log.len() < 2000 {
                        log.push(line);
                    }
                }
            });
        }
        drop(ready_tx);
        let endpoint = format!("http://127.0.0.1:{port}");
        let mut moto = Self {
            child,
            endpoint,
            port,
            gateway: (String::new(), String::new()),
            nopolicy: (String::new(), String::new()),
            log,
        };
        if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
            panic!("moto.server did not start:\n{}", moto.log_text());
        }
        std::net::TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("moto.server announced {port} but refuses: {e}"));
        let out = Command::new(&python)
            .args(["-c", BOOTSTRAP, &moto.endpoint])
            .output()
            .expect("run the IAM bootstrap");
        assert!(
            out.status.success(),
            "IAM bootstrap failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            moto.log_text()
        );
        let keys: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bootstrap json");
        let pair = |name: &str| {
            (
                keys[name][0].as_str().expect("akid").to_owned(),
                keys[name][1].as_str().expect("secret").to_owned(),
            )
        };
        moto.gateway = pair("gateway");
        moto.nopolicy = pair("nopolicy");
        moto
    }

    /// moto's output so far (for assertion messages).
    pub fn log_text(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
