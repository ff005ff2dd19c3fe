//! Header-auth verification on the hot path: a typical S3 GET and an IAM POST, with the signing
//! key derived per request and with a cached `SigningKey`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use iotcreds_sigv4::{
    Mode, ParsedAuth, RequestParts, Rules, SigningKey, SigningParams, VerifyOptions,
    payload_sha256, sign,
};
use time::OffsetDateTime;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMic\
RXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

struct Prepared {
    method: &'static str,
    path: &'static str,
    query: &'static str,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    service: &'static str,
}

fn prepare(
    method: &'static str,
    path: &'static str,
    query: &'static str,
    base: &[(&str, &str)],
    body: &[u8],
    s3: bool,
    now: OffsetDateTime,
) -> Prepared {
    let mut headers: Vec<(String, Vec<u8>)> = base
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
        .collect();
    let hash = payload_sha256(body);
    let service = if s3 { "s3" } else { "iam" };
    let params = SigningParams {
        access_key_id: "ASIAQEXAMPLEKEY12345",
        secret_access_key: SECRET,
        session_token: Some(TOKEN),
        region: "us-east-1",
        service,
        time: now,
        rules: if s3 { Rules::S3 } else { Rules::GENERIC },
        payload_hash: hash.as_str(),
        content_sha256_header: s3,
    };
    let signed = {
        let refs: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        let parts = RequestParts {
            method,
            path,
            query,
            headers: &refs,
        };
        sign(&parts, &params).expect("sign")
    };
    for (n, v) in signed.headers {
        headers.push((n.to_owned(), v.into_bytes()));
    }
    Prepared {
        method,
        path,
        query,
        headers,
        body: body.to_vec(),
        service,
    }
}

fn bench(c: &mut Criterion) {
    let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
    let s3_get = prepare(
        "GET",
        "/my-bucket/devices/thing-0042/logs/2024-05-01T12%3A00%3A00Z.log.gz",
        "versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        &[
            ("host", "s3.iotcreds.example.com:8443"),
            (
                "user-agent",
                "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/s3.cp",
            ),
            ("accept-encoding", "identity"),
            ("range", "bytes=0-1048575"),
        ],
        b"",
        true,
        now,
    );
    let iam_post = prepare(
        "POST",
        "/",
        "",
        &[
            ("host", "iam.iotcreds.example.com"),
            ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("user-agent", "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.6"),
            ("content-length", "108"),
        ],
        b"Action=CreateRole&Version=2010-05-08&RoleName=device-uploader&AssumeRolePolicyDocument=%7B%7D&MaxSessionDuration=3600",
        false,
        now,
    );
    let opts = VerifyOptions::default();
    for (name, p) in [("s3_get", &s3_get), ("iam_post", &iam_post)] {
        let refs: Vec<(&str, &[u8])> = p
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        let parts = RequestParts {
            method: p.method,
            path: p.path,
            query: p.query,
            headers: &refs,
        };
        let key = SigningKey::derive(SECRET, "20231114", "us-east-1", p.service);
        let is_s3 = p.service == "s3";
        let run = |cached: Option<&SigningKey>| {
            let body_hash;
            let mode = if is_s3 {
                Mode::S3
            } else {
                body_hash = payload_sha256(black_box(&p.body));
                Mode::Generic {
                    payload_sha256: body_hash.as_str(),
                }
            };
            let auth = ParsedAuth::parse(black_box(&parts)).expect("parse");
            let v = match cached {
                Some(k) => auth.verify_with_key(&parts, k, mode, &opts, now),
                None => auth.verify(&parts, SECRET, mode, &opts, now),
            };
            black_box(v.expect("verifies"));
        };
        c.bench_function(&format!("verify_header/{name}/derive_key"), |b| {
            b.iter(|| run(None))
        });
        c.bench_function(&format!("verify_header/{name}/cached_key"), |b| {
            b.iter(|| run(Some(&key)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
