//! Property tests: sign-then-verify round trips, single-byte mutations, and no panic on
//! arbitrary input.

use iotcreds_sigv4::{
    Mode, ParsedAuth, RequestParts, Rules, SigningParams, UNSIGNED_PAYLOAD, VerifyOptions,
    payload_sha256, presign, sign,
};
use proptest::prelude::*;
use time::OffsetDateTime;

use crate::suite::{M, Req, verify_with};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time")
}

/// Percent-encodes everything but unreserved characters, as a client would for the wire.
fn wire_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Shape {
    method: String,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    s3: bool,
    presigned: bool,
    token: Option<String>,
}

fn shape(alphabet: &'static str) -> impl Strategy<Value = Shape> {
    let seg = proptest::string::string_regex(alphabet).expect("regex");
    let qval = proptest::string::string_regex(alphabet).expect("regex");
    let hval = proptest::string::string_regex(alphabet).expect("regex");
    (
        prop::sample::select(vec!["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"]),
        prop::collection::vec(seg, 0..4),
        prop::collection::vec(("[a-zA-Z][a-zA-Z0-9_]{0,6}", qval), 0..4),
        prop::collection::vec(("x-[a-z]{1,8}", hval), 0..3),
        prop::collection::vec(any::<u8>(), 0..40),
        any::<bool>(),
        any::<bool>(),
        prop::option::of("[A-Za-z0-9+/=]{8,40}"),
    )
        .prop_map(
            |(method, segments, query, headers, body, s3, presigned, token)| Shape {
                method: method.to_owned(),
                segments,
                query,
                headers,
                body,
                s3,
                presigned,
                token,
            },
        )
}

/// Builds the request and signs it (header or presigned, generic or S3).
fn signed(shape: &Shape) -> Req {
    let path = format!(
        "/{}",
        shape
            .segments
            .iter()
            .map(|s| wire_encode(s))
            .collect::<Vec<_>>()
            .join("/")
    );
    let query = shape
        .query
        .iter()
        .map(|(k, v)| format!("{k}={}", wire_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers: Vec<(String, Vec<u8>)> = vec![("Host".into(), b"svc.example.com".to_vec())];
    for (n, v) in &shape.headers {
        headers.push((n.clone(), v.as_bytes().to_vec()));
    }
    let mut req = Req {
        method: shape.method.clone(),
        path,
        query,
        headers,
        body: shape.body.clone(),
    };
    let hash = payload_sha256(&req.body);
    let payload = if shape.s3 && shape.presigned {
        UNSIGNED_PAYLOAD
    } else {
        hash.as_str()
    };
    let params = SigningParams {
        access_key_id: "ASIAEXAMPLE",
        secret_access_key: SECRET,
        session_token: shape.token.as_deref(),
        region: "eu-west-1",
        service: if shape.s3 { "s3" } else { "iot" },
        time: now(),
        rules: if shape.s3 { Rules::S3 } else { Rules::GENERIC },
        payload_hash: payload,
        content_sha256_header: shape.s3,
    };
    if shape.presigned {
        let p = req
            .with_parts(|parts| presign(parts, &params, 900))
            .expect("presign");
        req.query = p.query;
    } else {
        let s = req.with_parts(|parts| sign(parts, &params)).expect("sign");
        for (n, v) in s.headers {
            req.headers.push((n.to_owned(), v.into_bytes()));
        }
    }
    req
}

fn mode(shape: &Shape) -> M {
    if shape.s3 { M::S3 } else { M::Generic }
}

fn other_alnum(c: u8, pick: u8) -> u8 {
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut n = ALNUM[usize::from(pick) % ALNUM.len()];
    if n == c {
        n = ALNUM[(usize::from(pick) + 1) % ALNUM.len()];
    }
    n
}

fn mutate_at(s: &str, index: usize, pick: u8) -> Option<String> {
    let bytes = s.as_bytes();
    let positions: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i].is_ascii_alphanumeric())
        .collect();
    let i = *positions.get(index % positions.len().max(1))?;
    let mut b = bytes.to_vec();
    b[i] = other_alnum(b[i], pick);
    String::from_utf8(b).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever the signer produces, the verifier accepts under the same rules.
    #[test]
    fn sign_then_verify_round_trip(shape in shape("[ -~]{0,12}")) {
        let req = signed(&shape);
        let v = verify_with(&req, SECRET, mode(&shape), &VerifyOptions::default(), now());
        prop_assert!(v.is_ok(), "{:?}: {:?}", req, v);
        let v = v.expect("ok");
        prop_assert_eq!(v.session_token_signed, shape.token.is_some());
        prop_assert!(verify_with(&req, "wrong", mode(&shape), &VerifyOptions::default(), now()).is_err());
    }

    /// Changing one byte of the signature, the method, the path, a query value or a signed
    /// header value (to another alphanumeric byte, so the change survives canonicalisation)
    /// makes verification fail.
    #[test]
    fn single_byte_mutations_fail(
        shape in shape("[a-zA-Z0-9]{1,10}"),
        target in 0u8..5,
        index in any::<usize>(),
        pick in any::<u8>(),
    ) {
        let req = signed(&shape);
        let m = mode(&shape);
        prop_assert!(verify_with(&req, SECRET, m, &VerifyOptions::default(), now()).is_ok());
        let mut r = req.clone();
        let changed = match target {
            0 => {
                if shape.presigned {
                    let sig = r.query_param("X-Amz-Signature").expect("sig");
                    let i = index % 64;
                    let mut b = sig.into_bytes();
                    b[i] = if b[i] == b'0' { b'1' + (pick % 9) } else { b'0' };
                    r.set_query_param("X-Amz-Signature", std::str::from_utf8(&b).expect("ascii"));
                } else {
                    let a = r.header_str("authorization").expect("authz");
                    let i = a.len() - 64 + index % 64;
                    let mut b = a.into_bytes();
                    b[i] = if b[i] == b'f' { b'a' + (pick % 5) } else { b'f' };
                    r.set_header("authorization", std::str::from_utf8(&b).expect("ascii"));
                }
                true
            }
            1 => match mutate_at(&r.method, index, pick) {
                Some(m) => { r.method = m; true }
                None => false,
            },
            2 => match mutate_at(&r.path, index, pick) {
                Some(p) => { r.path = p; true }
                None => false,
            },
            3 => {
                let user: Vec<(String, String)> = r.query_pairs().into_iter().filter(|(k, _)| !k.starts_with("X-Amz-")).collect();
                if user.is_empty() {
                    false
                } else {
                    let (k, v) = &user[index % user.len()];
                    match mutate_at(v, index / 7, pick) {
                        Some(nv) => { r.set_query_param(k, &nv); true }
                        None => false,
                    }
                }
            }
            _ => {
                let i = index % r.headers.len();
                let (name, value) = r.headers[i].clone();
                let name_l = name.to_ascii_lowercase();
                if name_l == "authorization" || (name_l == "x-amz-content-sha256" && shape.presigned) {
                    false
                } else {
                    match mutate_at(&String::from_utf8_lossy(&value), index / 7, pick) {
                        Some(nv) => { r.headers[i].1 = nv.into_bytes(); true }
                        None => false,
                    }
                }
            }
        };
        prop_assume!(changed && r != req);
        prop_assert!(verify_with(&r, SECRET, m, &VerifyOptions::default(), now()).is_err(), "accepted: {:?}", r);
    }

    /// Parsing and verifying arbitrary headers and query strings never panics.
    #[test]
    fn arbitrary_input_never_panics(
        query in "[ -~]{0,200}",
        path in "[ -~]{0,40}",
        headers in prop::collection::vec((
            prop::sample::select(vec!["authorization", "x-amz-date", "date", "host", "x-amz-content-sha256", "x-amz-security-token", "x-amz-meta-a", "other"]),
            prop::collection::vec(any::<u8>(), 0..120),
        ), 0..6),
        s3 in any::<bool>(),
    ) {
        let hs: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        let parts = RequestParts { method: "GET", path: &path, query: &query, headers: &hs };
        if let Ok(auth) = ParsedAuth::parse(&parts) {
            let mode = if s3 { Mode::S3 } else { Mode::Generic { payload_sha256: "" } };
            let _ = auth.verify(&parts, SECRET, mode, &VerifyOptions::default(), now());
        }
    }

    /// The same with a well-formed prefix, so the fuzzing reaches the later checks.
    #[test]
    fn structured_input_never_panics(
        cred in "[A-Za-z0-9/_-]{0,60}",
        signed_headers in "[a-z;-]{0,30}",
        date in "[0-9TZ]{0,18}",
        expires in "-?[0-9]{0,12}",
        presigned in any::<bool>(),
    ) {
        let sig = "0".repeat(64);
        let (query, headers): (String, Vec<(&str, Vec<u8>)>) = if presigned {
            (format!("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders={signed_headers}&X-Amz-Signature={sig}"),
             vec![("host", b"h".to_vec())])
        } else {
            (String::new(), vec![
                ("host", b"h".to_vec()),
                ("x-amz-date", date.clone().into_bytes()),
                ("authorization", format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={signed_headers}, Signature={sig}").into_bytes()),
            ])
        };
        let hs: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        let parts = RequestParts { method: "GET", path: "/", query: &query, headers: &hs };
        if let Ok(auth) = ParsedAuth::parse(&parts) {
            let _ = auth.verify(&parts, SECRET, Mode::S3, &VerifyOptions::default(), now());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A POST policy signed with a secret verifies with it; changing one character of the
    /// policy text or of the signature makes it fail.
    #[test]
    fn post_policy_signatures_round_trip(
        policy in "[A-Za-z0-9+/]{4,200}={0,2}",
        at in 0usize..200,
        sig_at in 0usize..64,
    ) {
        use iotcreds_sigv4::{PostAuth, PostAuthError, PostFields, SigningKey, post_signature};
        let key = SigningKey::derive(SECRET, "20231114", "ap-northeast-1", "s3");
        let signature = post_signature(&key, &policy);
        let fields = |policy: &str, signature: &str| -> Result<(), PostAuthError> {
            let f = PostFields {
                algorithm: Some("AWS4-HMAC-SHA256"),
                credential: Some("AKIDEXAMPLE/20231114/ap-northeast-1/s3/aws4_request"),
                date: Some("20231114T221320Z"),
                signature: Some(signature),
                policy: Some(policy),
            };
            PostAuth::parse(&f, "ap-northeast-1")?.verify(SECRET)
        };
        prop_assert!(fields(&policy, signature.as_str()).is_ok());
        let i = at % policy.len();
        let mut changed = policy.clone().into_bytes();
        changed[i] = if changed[i] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).unwrap();
        if changed != policy {
            prop_assert_eq!(fields(&changed, signature.as_str()), Err(PostAuthError::SignatureDoesNotMatch));
        }
        let mut sig = signature.as_str().to_owned().into_bytes();
        sig[sig_at] = if sig[sig_at] == b'0' { b'1' } else { b'0' };
        prop_assert_eq!(
            fields(&policy, std::str::from_utf8(&sig).unwrap()),
            Err(PostAuthError::SignatureDoesNotMatch)
        );
    }

    /// Parsing and checking never panic on arbitrary documents and forms.
    #[test]
    fn post_policies_never_panic(
        json in proptest::collection::vec(any::<u8>(), 0..300),
        doc in r#"\{"expiration":"2[0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z","conditions":\[(\{"[a-z$-]{0,6}":"[a-z]{0,4}"\}|\["(eq|starts-with|content-length-range)",("\$[a-z]{0,4}"|[0-9]{1,3}),("[a-z]{0,4}"|[0-9]{1,3})\]|,){0,6}\]\}"#,
        fields in proptest::collection::vec(("[a-zA-Z$-]{0,6}", "[a-z,/ ]{0,8}"), 0..6),
        size in any::<u64>(),
    ) {
        use iotcreds_sigv4::PostPolicy;
        let _ = PostPolicy::from_json(&json);
        let _ = PostPolicy::from_base64(&String::from_utf8_lossy(&json));
        if let Ok(p) = PostPolicy::from_json(doc.as_bytes()) {
            let form: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let _ = p.check(&form, "bucket", now());
            let _ = p.check_size(size);
        }
    }
}
