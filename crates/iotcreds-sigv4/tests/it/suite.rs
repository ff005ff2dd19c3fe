//! Loading the conformance material in `tests/data/` and a small owned request type the tests
//! can mutate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use iotcreds_sigv4::{
    Mode, ParsedAuth, RequestParts, SigV4Error, Verified, VerifyOptions, payload_sha256,
};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An owned HTTP request, parsed from the suite's text form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Req {
    /// Parses `METHOD TARGET HTTP/1.1` + `Name:value` lines (continuation lines that start with
    /// whitespace are kept, with their line break, as part of the previous value: obsolete line
    /// folding) + blank line + body. The target is taken verbatim (it may contain a space or raw
    /// UTF-8, which is what the suite's signer signed).
    pub fn parse(text: &str) -> Self {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let request_line = lines.next().expect("request line");
        let (method, rest) = request_line.split_once(' ').expect("method");
        let target = rest.strip_suffix(" HTTP/1.1").expect("HTTP/1.1");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let last = headers.last_mut().expect("continuation after a header");
                last.1.push(b'\n');
                last.1.extend_from_slice(line.as_bytes());
            } else {
                let (n, v) = line.split_once(':').expect("header colon");
                headers.push((n.to_owned(), v.as_bytes().to_vec()));
            }
        }
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn header_refs(&self) -> Vec<(&str, &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect()
    }

    pub fn with_parts<R>(&self, f: impl FnOnce(&RequestParts<'_>) -> R) -> R {
        let headers = self.header_refs();
        let parts = RequestParts {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
        };
        f(&parts)
    }

    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    pub fn header_str(&self, name: &str) -> Option<String> {
        self.header(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        for (n, v) in &mut self.headers {
            if n.eq_ignore_ascii_case(name) {
                *v = value.as_bytes().to_vec();
            }
        }
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    pub fn set_query_pairs(&mut self, pairs: &[(String, String)]) {
        self.query = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
    }

    pub fn query_param(&self, key: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn set_query_param(&mut self, key: &str, value: &str) {
        let pairs: Vec<_> = self
            .query_pairs()
            .into_iter()
            .map(|(k, v)| {
                if k == key {
                    (k, value.to_owned())
                } else {
                    (k, v)
                }
            })
            .collect();
        self.set_query_pairs(&pairs);
    }

    pub fn remove_query_param(&mut self, key: &str) {
        let pairs: Vec<_> = self
            .query_pairs()
            .into_iter()
            .filter(|(k, _)| k != key)
            .collect();
        self.set_query_pairs(&pairs);
    }
}

/// Which rules to verify under (the generic mode's payload hash is computed from the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum M {
    Generic,
    S3,
}

pub fn verify_with(
    req: &Req,
    secret: &str,
    m: M,
    opts: &VerifyOptions<'_>,
    now: OffsetDateTime,
) -> Result<Verified, SigV4Error> {
    let hash = payload_sha256(&req.body);
    let mode = match m {
        M::Generic => Mode::Generic {
            payload_sha256: hash.as_str(),
        },
        M::S3 => Mode::S3,
    };
    req.with_parts(|parts| {
        let auth = ParsedAuth::parse(parts)?;
        let direct = auth.verify(parts, secret, mode, opts, now);
        // The cached-key path agrees, on a miss and on a hit.
        let cache = iotcreds_sigv4::KeyCache::new(64 * 1024);
        for _ in 0..2 {
            let cached = auth.verify_cached(parts, secret, &cache, mode, opts, now);
            assert_eq!(cached.as_ref().err(), direct.as_ref().err());
        }
        direct
    })
}

/// Why a request was turned away, including the caller-side key lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    Sig(SigV4Error),
    UnknownAccessKey,
    SessionTokenMismatch,
}

/// A caller's key store: access key id → (secret, session token that must accompany it).
pub struct Keyring(pub HashMap<String, (String, Option<String>)>);

impl Keyring {
    pub fn single(akid: &str, secret: &str, token: Option<&str>) -> Self {
        let mut m = HashMap::new();
        m.insert(
            akid.to_owned(),
            (secret.to_owned(), token.map(str::to_owned)),
        );
        Self(m)
    }

    /// The full server-side flow: parse, look the key up, require its session token, verify.
    pub fn authenticate(
        &self,
        req: &Req,
        m: M,
        opts: &VerifyOptions<'_>,
        now: OffsetDateTime,
    ) -> Result<Verified, Reject> {
        let hash = payload_sha256(&req.body);
        let mode = match m {
            M::Generic => Mode::Generic {
                payload_sha256: hash.as_str(),
            },
            M::S3 => Mode::S3,
        };
        req.with_parts(|parts| {
            let auth = ParsedAuth::parse(parts).map_err(Reject::Sig)?;
            auth.check(parts, mode, opts, now).map_err(Reject::Sig)?;
            let (secret, token) = self
                .0
                .get(auth.access_key_id())
                .ok_or(Reject::UnknownAccessKey)?;
            if token.as_deref() != auth.session_token() {
                return Err(Reject::SessionTokenMismatch);
            }
            auth.verify(parts, secret, mode, opts, now)
                .map_err(Reject::Sig)
        })
    }
}

/// One case of the aws-c-auth / smithy-rs suite.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub akid: String,
    pub secret: String,
    pub token: Option<String>,
    pub region: String,
    pub service: String,
    pub time: OffsetDateTime,
    pub expires: u32,
    pub normalize: bool,
    pub sign_body: bool,
    pub omit_session_token: bool,
    pub manifest: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Header,
    Query,
}

impl Variant {
    pub const BOTH: [Self; 2] = [Self::Header, Self::Query];

    pub fn prefix(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Query => "query",
        }
    }
}

impl Case {
    pub fn file(&self, variant: Variant, suffix: &str) -> String {
        read(&self.dir.join(format!("{}-{suffix}", variant.prefix())))
    }

    pub fn signed_request(&self, variant: Variant) -> Req {
        Req::parse(&self.file(variant, "signed-request.txt"))
    }

    pub fn unsigned_request(&self) -> Req {
        Req::parse(&read(&self.dir.join("request.txt")))
    }

    /// `"accept"` or `"reject"` from the manifest.
    pub fn expectation(&self, mode: &str, variant: Variant) -> bool {
        let v = &self.manifest[format!("{mode}_mode_expectation")][variant.prefix()];
        match v.as_str() {
            Some("accept") => true,
            Some("reject") => false,
            other => panic!("{}: bad expectation {other:?}", self.name),
        }
    }

    pub fn keyring(&self) -> Keyring {
        Keyring::single(&self.akid, &self.secret, self.token.as_deref())
    }

    pub fn opts(&self) -> VerifyOptions<'static> {
        VerifyOptions {
            normalize_path: self.normalize,
            ..VerifyOptions::default()
        }
    }
}

/// All 39 cases, with their manifest rows.
pub fn cases() -> Vec<Case> {
    let data = data_dir();
    let manifest = json(&data.join("manifest.json"));
    let rows = manifest.as_array().expect("manifest array");
    let mut out = Vec::new();
    for row in rows {
        let name = row["case"].as_str().expect("case").to_owned();
        let source = row["source"].as_str().expect("source");
        let dir = if source.starts_with("awslabs/aws-c-auth") {
            data.join("aws-c-auth/tests/aws-signing-test-suite/v4")
                .join(&name)
        } else {
            data.join("smithy-rs-extra").join(&name)
        };
        let ctx = json(&dir.join("context.json"));
        let creds = &ctx["credentials"];
        let s = |v: &Value| v.as_str().expect("string").to_owned();
        out.push(Case {
            akid: s(&creds["access_key_id"]),
            secret: s(&creds["secret_access_key"]),
            token: creds["token"].as_str().map(str::to_owned),
            region: s(&ctx["region"]),
            service: s(&ctx["service"]),
            time: OffsetDateTime::parse(ctx["timestamp"].as_str().expect("ts"), &Rfc3339)
                .expect("timestamp"),
            expires: u32::try_from(ctx["expiration_in_seconds"].as_u64().expect("exp"))
                .expect("u32"),
            normalize: ctx["normalize"].as_bool().expect("normalize"),
            sign_body: ctx["sign_body"].as_bool().expect("sign_body"),
            omit_session_token: ctx["omit_session_token"].as_bool().unwrap_or(false),
            manifest: row.clone(),
            name,
            dir,
        });
    }
    assert_eq!(out.len(), 39, "38 aws-c-auth cases + 1 smithy-rs case");
    out
}
