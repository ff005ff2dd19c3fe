//! SigV4 parse + check + verify over arbitrary requests (generic and S3 mode): never panics.
//! Where the input is signable, sign it and verify: a signed request must verify.
//!
//! Input layout: byte 0 picks mode/auth kind/clock; the rest is split on 0x00 into
//! method, path, query, body, then header name/value pairs.
#![no_main]

use iotcreds_sigv4::time::{Duration, OffsetDateTime};
use iotcreds_sigv4::{
    Mode, ParsedAuth, RequestParts, Rules, SigningKey, SigningParams, UNSIGNED_PAYLOAD,
    VerifyOptions, payload_sha256, presign, sign,
};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// Headers the verifier interprets (or the signer sets): inputs with them are still fuzzed
/// through parse/verify, but not used for the round-trip oracle.
const INTERPRETED: [&str; 6] = [
    "authorization",
    "x-amz-date",
    "date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "host",
];

fn token_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn text(field: Option<&[u8]>) -> Option<&str> {
    std::str::from_utf8(field.unwrap_or(b"")).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut fields = rest.split(|&b| b == 0);
    let (Some(method), Some(path), Some(query)) = (
        text(fields.next()),
        text(fields.next()),
        text(fields.next()),
    ) else {
        return;
    };
    let body = fields.next().unwrap_or(b"");
    let mut headers: Vec<(&str, &[u8])> = Vec::new();
    while let (Some(n), Some(v)) = (fields.next(), fields.next()) {
        let Ok(n) = std::str::from_utf8(n) else {
            return;
        };
        headers.push((n, v));
    }
    let s3 = flags & 1 == 1;
    let now = OffsetDateTime::from_unix_timestamp(1_440_938_160)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        + Duration::seconds(i64::from(flags >> 4) * 97);
    let hash = payload_sha256(body);
    let mode = if s3 {
        Mode::S3
    } else {
        Mode::Generic {
            payload_sha256: hash.as_str(),
        }
    };
    let opts = VerifyOptions {
        normalize_path: flags & 2 == 0,
        ..VerifyOptions::default()
    };

    // 1. Arbitrary input through the verifier.
    let parts = RequestParts {
        method,
        path,
        query,
        headers: &headers,
    };
    if let Ok(auth) = ParsedAuth::parse(&parts) {
        let _ = auth.access_key_id();
        let _ = auth.scope();
        let _ = auth.signed_headers().count();
        let _ = auth.canonical_request(&parts, mode, &opts);
        let _ = auth.check(&parts, mode, &opts, now);
        let _ = auth.verify(&parts, SECRET, mode, &opts, now);
        let scope = auth.scope();
        let key = SigningKey::derive(SECRET, scope.date, scope.region, scope.service);
        let _ = auth.verify_with_key(&parts, &key, mode, &opts, now);
    }

    // 2. Round trip: sign what is signable, then it must verify.
    if headers
        .iter()
        .any(|(n, _)| !token_name(n) || INTERPRETED.iter().any(|i| n.eq_ignore_ascii_case(i)))
    {
        return;
    }
    let mut base: Vec<(&str, &[u8])> = vec![("host", b"svc.example.com")];
    base.extend(headers.iter().copied());
    let presigned = flags & 4 == 4;
    let payload = if s3 && presigned {
        UNSIGNED_PAYLOAD
    } else {
        hash.as_str()
    };
    let params = SigningParams {
        access_key_id: "ASIAFUZZ",
        secret_access_key: SECRET,
        session_token: if flags & 8 == 8 {
            Some("FQoGZXIvYXdzEFUZZ/+=")
        } else {
            None
        },
        region: "us-east-1",
        service: if s3 { "s3" } else { "iot" },
        time: now,
        rules: if s3 {
            Rules::S3
        } else {
            Rules::Generic {
                normalize_path: opts.normalize_path,
            }
        },
        payload_hash: payload,
        content_sha256_header: s3,
    };
    let unsigned = RequestParts {
        method,
        path,
        query,
        headers: &base,
    };
    let (final_query, added): (String, Vec<(&'static str, String)>) = if presigned {
        match presign(&unsigned, &params, 900) {
            Ok(p) => (p.query, Vec::new()),
            Err(_) => return,
        }
    } else {
        match sign(&unsigned, &params) {
            Ok(s) => (query.to_owned(), s.headers),
            Err(_) => return,
        }
    };
    let mut all = base.clone();
    all.extend(added.iter().map(|(n, v)| (*n, v.as_bytes())));
    let signed = RequestParts {
        method,
        path,
        query: &final_query,
        headers: &all,
    };
    let verified =
        ParsedAuth::parse(&signed).and_then(|a| a.verify(&signed, SECRET, mode, &opts, now));
    assert!(
        verified.is_ok(),
        "signed request failed to verify: {verified:?}"
    );
});
