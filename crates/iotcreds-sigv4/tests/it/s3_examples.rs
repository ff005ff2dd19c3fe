//! The S3 API Reference worked examples (`tests/data/s3-doc-examples/vectors.json`): header
//! signing, presigning, the aws-chunked signature chain and the trailer signature, in S3 mode.

use iotcreds_sigv4::chunked::{
    canonical_trailer, chunk_signature, chunk_string_to_sign, trailer_signature,
    trailer_string_to_sign, verify_chunk_signature, verify_trailer_signature,
};
use iotcreds_sigv4::{
    Mode, ParsedAuth, Rules, SigV4Error, SignedPayload, SigningKey, SigningParams,
    UNSIGNED_PAYLOAD, VerifyOptions, presign, sign,
};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::suite::{M, Req, data_dir, json, verify_with};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const AKID: &str = "AKIAIOSFODNN7EXAMPLE";

fn vectors() -> Value {
    let v = json(&data_dir().join("s3-doc-examples/vectors.json"));
    assert_eq!(v["credentials"]["secret_access_key"], SECRET);
    assert_eq!(v["credentials"]["access_key_id"], AKID);
    v
}

fn s(v: &Value) -> &str {
    v.as_str().expect("string")
}

/// 2013-05-24T00:00:00Z.
fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_369_353_600).expect("time")
}

fn request(ex: &Value, authorization: Option<&str>) -> Req {
    let target = s(&ex["target"]);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers: Vec<(String, Vec<u8>)> = ex["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|h| (s(&h[0]).to_owned(), s(&h[1]).as_bytes().to_vec()))
        .filter(|(n, _)| n != "Authorization")
        .collect();
    if let Some(a) = authorization {
        headers.push(("Authorization".into(), a.as_bytes().to_vec()));
    }
    Req {
        method: s(&ex["method"]).to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: ex["body"].as_str().unwrap_or("").as_bytes().to_vec(),
    }
}

fn params<'a>(payload_hash: &'a str) -> SigningParams<'a> {
    SigningParams {
        access_key_id: AKID,
        secret_access_key: SECRET,
        session_token: None,
        region: "us-east-1",
        service: "s3",
        time: t0(),
        rules: Rules::S3,
        payload_hash,
        content_sha256_header: true,
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("utf-8")
}

#[test]
fn header_signed_examples() {
    let v = vectors();
    let examples = v["single_chunk"].as_array().expect("examples");
    assert_eq!(examples.len(), 4);
    for ex in examples {
        let name = s(&ex["name"]);
        let req = request(ex, Some(s(&ex["authorization"])));
        req.with_parts(|parts| {
            let auth = ParsedAuth::parse(parts).expect("parse");
            assert_eq!(auth.scope_str(), s(&ex["scope"]));
            let creq = auth
                .canonical_request(parts, Mode::S3, &VerifyOptions::default())
                .expect("creq");
            assert_eq!(text(&creq), s(&ex["canonical_request"]), "{name}");
            assert_eq!(
                text(&auth.string_to_sign(&creq)),
                s(&ex["string_to_sign"]),
                "{name}"
            );
        });
        let verified =
            verify_with(&req, SECRET, M::S3, &VerifyOptions::default(), t0()).expect(name);
        assert_eq!(verified.signature.as_str(), s(&ex["signature"]));
        assert!(matches!(verified.payload, SignedPayload::Sha256(_)));
        verified
            .check_body(&req.body)
            .expect("body matches x-amz-content-sha256");
        assert_eq!(
            verified.check_body(b"tampered"),
            Err(SigV4Error::ContentSha256Mismatch)
        );

        // The signer produces the documented Authorization header.
        let unsigned = request(ex, None);
        let declared = unsigned
            .header_str("x-amz-content-sha256")
            .expect("declared");
        let signed = unsigned
            .with_parts(|p| sign(p, &params(&declared)))
            .expect("sign");
        let authz = signed
            .headers
            .iter()
            .find(|(n, _)| *n == "Authorization")
            .expect("authz");
        assert_eq!(authz.1, s(&ex["authorization"]), "{name}");

        // S3-mode mutations.
        let mut r = req.clone();
        r.set_header("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
        assert_eq!(
            verify_with(&r, SECRET, M::S3, &VerifyOptions::default(), t0()).err(),
            Some(SigV4Error::SignatureDoesNotMatch),
            "{name}"
        );
        let mut r = req.clone();
        r.set_header("x-amz-content-sha256", "not-a-hash");
        assert_eq!(
            verify_with(&r, SECRET, M::S3, &VerifyOptions::default(), t0()).err(),
            Some(SigV4Error::InvalidContentSha256)
        );
        let mut r = req.clone();
        r.remove_header("x-amz-content-sha256");
        assert!(matches!(
            verify_with(&r, SECRET, M::S3, &VerifyOptions::default(), t0()),
            Err(SigV4Error::IncompleteSignature(_))
        ));
        let mut r = req.clone();
        r.path.push('x');
        assert_eq!(
            verify_with(&r, SECRET, M::S3, &VerifyOptions::default(), t0()).err(),
            Some(SigV4Error::SignatureDoesNotMatch)
        );
        let mut r = req.clone();
        r.headers
            .push(("x-amz-acl".into(), b"public-read".to_vec()));
        assert_eq!(
            verify_with(&r, SECRET, M::S3, &VerifyOptions::default(), t0()).err(),
            Some(SigV4Error::UnsignedAmzHeader("x-amz-acl".into()))
        );
        let mut r = req.clone();
        r.headers
            .push(("X-Forwarded-For".into(), b"10.0.0.1".to_vec()));
        assert!(verify_with(&r, SECRET, M::S3, &VerifyOptions::default(), t0()).is_ok());
    }
}

#[test]
fn s3_path_encoding_of_the_dollar_key() {
    let v = vectors();
    let ex = &v["single_chunk"][1];
    assert_eq!(s(&ex["target"]), "/test$file.text");
    let mut req = request(ex, Some(s(&ex["authorization"])));
    req.path = "/test%24file.text".into();
    assert!(verify_with(&req, SECRET, M::S3, &VerifyOptions::default(), t0()).is_ok());
    req.path = "/test%2524file.text".into();
    assert!(verify_with(&req, SECRET, M::S3, &VerifyOptions::default(), t0()).is_err());
}

#[test]
fn s3_header_auth_requires_content_sha256() {
    let v = vectors();
    let ex = &v["single_chunk"][0];
    // Signed without x-amz-content-sha256: fine for a generic service, not for S3.
    let mut unsigned = request(ex, None);
    unsigned.remove_header("x-amz-content-sha256");
    let mut p = params(iotcreds_sigv4::EMPTY_SHA256);
    p.content_sha256_header = false;
    let signed = unsigned.with_parts(|parts| sign(parts, &p)).expect("sign");
    let mut req = unsigned.clone();
    for (n, val) in &signed.headers {
        req.remove_header(n);
        req.headers.push(((*n).to_owned(), val.as_bytes().to_vec()));
    }
    assert_eq!(
        verify_with(&req, SECRET, M::S3, &VerifyOptions::default(), t0()).err(),
        Some(SigV4Error::MissingContentSha256)
    );
    assert!(verify_with(&req, SECRET, M::Generic, &VerifyOptions::default(), t0()).is_ok());
}

#[test]
fn presigned_example() {
    let v = vectors();
    let ex = &v["presigned"][0];
    let req = request(ex, None);
    req.with_parts(|parts| {
        let auth = ParsedAuth::parse(parts).expect("parse");
        assert_eq!(auth.expires(), Some(86_400));
        let creq = auth
            .canonical_request(parts, Mode::S3, &VerifyOptions::default())
            .expect("creq");
        assert_eq!(text(&creq), s(&ex["canonical_request"]));
        assert_eq!(text(&auth.string_to_sign(&creq)), s(&ex["string_to_sign"]));
    });
    let opts = VerifyOptions::default();
    let ok = verify_with(&req, SECRET, M::S3, &opts, t0() + Duration::hours(1)).expect("valid");
    assert_eq!(ok.payload, SignedPayload::Unsigned);
    assert!(verify_with(&req, SECRET, M::S3, &opts, t0() + Duration::seconds(86_399)).is_ok());
    assert_eq!(
        verify_with(&req, SECRET, M::S3, &opts, t0() + Duration::seconds(86_400)).err(),
        Some(SigV4Error::RequestExpired)
    );
    // An x-amz-content-sha256 header added by whoever uses the URL is exempt and unused.
    let mut r = req.clone();
    r.headers
        .push(("x-amz-content-sha256".into(), b"UNSIGNED-PAYLOAD".to_vec()));
    assert!(verify_with(&r, SECRET, M::S3, &opts, t0()).is_ok());
    // Any other unsigned x-amz-* header is not.
    let mut r = req.clone();
    r.headers
        .push(("x-amz-date".into(), b"20130524T000000Z".to_vec()));
    assert!(matches!(
        verify_with(&r, SECRET, M::S3, &opts, t0()),
        Err(SigV4Error::UnsignedAmzHeader(_))
    ));

    let unsigned = Req {
        query: String::new(),
        ..req.clone()
    };
    let mut p = params(UNSIGNED_PAYLOAD);
    p.content_sha256_header = false;
    let presigned = unsigned
        .with_parts(|parts| presign(parts, &p, 86_400))
        .expect("presign");
    assert_eq!(presigned.signature.as_str(), s(&ex["signature"]));
    assert_eq!(presigned.query, req.query);
}

#[test]
fn chunked_upload_chain_and_trailer() {
    let v = vectors();
    let c = &v["chunked"];
    let req = request(c, Some(s(&c["seed_authorization"])));
    req.with_parts(|parts| {
        let auth = ParsedAuth::parse(parts).expect("parse");
        let creq = auth
            .canonical_request(parts, Mode::S3, &VerifyOptions::default())
            .expect("creq");
        assert_eq!(text(&creq), s(&c["seed_canonical_request"]));
    });
    let seed = verify_with(&req, SECRET, M::S3, &VerifyOptions::default(), t0()).expect("seed");
    assert_eq!(seed.payload, SignedPayload::StreamingSigned);
    assert_eq!(seed.signature.as_str(), s(&c["seed_signature"]));
    assert_eq!(seed.check_body(b""), Err(SigV4Error::InvalidContentSha256));

    let key = SigningKey::derive(SECRET, "20130524", "us-east-1", "s3");
    assert_eq!(key.scope(), s(&c["scope"]));
    let amz_date = s(&c["amz_date"]);
    let mut previous = seed.signature;
    let mut wire_len = 0usize;
    for chunk in c["chunks"].as_array().expect("chunks") {
        let size = usize::try_from(chunk["size"].as_u64().expect("size")).expect("usize");
        let data = vec![s(&chunk["data_byte"]).as_bytes()[0]; size];
        let hash = iotcreds_sigv4::payload_sha256(&data);
        let sts = chunk_string_to_sign(amz_date, key.scope(), previous.as_str(), hash.as_str());
        assert_eq!(text(&sts), s(&chunk["string_to_sign"]));
        let expected = s(&chunk["signature"]);
        let sig = verify_chunk_signature(&key, amz_date, previous.as_str(), &data, expected)
            .expect("chunk");
        assert_eq!(sig.as_str(), expected);
        // Tampering: other data, or the chain broken (previous signature wrong).
        let mut other = data.clone();
        other.push(b'a');
        assert_eq!(
            verify_chunk_signature(&key, amz_date, previous.as_str(), &other, expected).err(),
            Some(SigV4Error::SignatureDoesNotMatch)
        );
        assert_eq!(
            verify_chunk_signature(&key, amz_date, s(&c["seed_signature"]), &data, expected)
                .is_ok(),
            previous.as_str() == s(&c["seed_signature"])
        );
        wire_len += format!("{size:x};chunk-signature={expected}\r\n").len() + size + 2;
        previous = sig;
    }
    assert_eq!(wire_len, 66_824, "matches the signed Content-Length");
    assert_eq!(chunk_signature(&key, amz_date, "x", b"").as_str().len(), 64);

    let tr = &c["trailer"];
    let trailers_owned: Vec<(String, Vec<u8>)> = tr["trailing_headers"]
        .as_array()
        .expect("trailers")
        .iter()
        .map(|h| (s(&h[0]).to_owned(), s(&h[1]).as_bytes().to_vec()))
        .collect();
    let trailers: Vec<(&str, &[u8])> = trailers_owned
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    assert_eq!(
        text(&canonical_trailer(&trailers)),
        s(&tr["canonical_trailer"])
    );
    assert_eq!(
        text(&trailer_string_to_sign(
            amz_date,
            key.scope(),
            previous.as_str(),
            &trailers
        )),
        s(&tr["string_to_sign"])
    );
    let expected = s(&tr["signature"]);
    assert_eq!(
        trailer_signature(&key, amz_date, previous.as_str(), &trailers).as_str(),
        expected
    );
    verify_trailer_signature(&key, amz_date, previous.as_str(), &trailers, expected)
        .expect("trailer");
    let mut reversed = trailers.clone();
    reversed.reverse();
    assert!(
        verify_trailer_signature(&key, amz_date, previous.as_str(), &reversed, expected).is_ok()
    );
    let tampered = [
        ("first", &b"1st"[..]),
        ("second", b"2nd"),
        ("third", b"3RD"),
    ];
    assert_eq!(
        verify_trailer_signature(&key, amz_date, previous.as_str(), &tampered, expected).err(),
        Some(SigV4Error::SignatureDoesNotMatch)
    );
}

#[test]
fn s3_session_token_must_be_signed() {
    let v = vectors();
    let ex = &v["single_chunk"][0];
    let unsigned = request(ex, None);
    let declared = unsigned
        .header_str("x-amz-content-sha256")
        .expect("declared");
    let mut p = params(&declared);
    p.session_token = Some("FQoGZXIvYXdzEXAMPLE+token/==");
    let signed = unsigned.with_parts(|parts| sign(parts, &p)).expect("sign");
    let mut req = unsigned.clone();
    for (n, val) in &signed.headers {
        req.remove_header(n);
        req.headers.push(((*n).to_owned(), val.as_bytes().to_vec()));
    }
    let ok =
        verify_with(&req, SECRET, M::S3, &VerifyOptions::default(), t0()).expect("signed token");
    assert!(ok.session_token_signed);

    // Same request signed without the token, token added afterwards: rejected in S3 mode even
    // with the x-amz-* rule switched off, accepted (unsigned) in generic mode.
    let mut p2 = params(&declared);
    p2.session_token = None;
    let signed2 = unsigned.with_parts(|parts| sign(parts, &p2)).expect("sign");
    let mut late = unsigned.clone();
    for (n, val) in &signed2.headers {
        late.remove_header(n);
        late.headers
            .push(((*n).to_owned(), val.as_bytes().to_vec()));
    }
    late.headers.push((
        "X-Amz-Security-Token".into(),
        b"FQoGZXIvYXdzEXAMPLE+token/==".to_vec(),
    ));
    let lax = VerifyOptions {
        require_signed_amz_headers: false,
        ..VerifyOptions::default()
    };
    assert_eq!(
        verify_with(&late, SECRET, M::S3, &lax, t0()).err(),
        Some(SigV4Error::UnsignedAmzHeader("x-amz-security-token".into()))
    );
    let generic =
        verify_with(&late, SECRET, M::Generic, &VerifyOptions::default(), t0()).expect("generic");
    assert!(!generic.session_token_signed);

    // Presigned with a token: the token is in the canonical query; removing it breaks the URL.
    let bare = Req {
        query: String::new(),
        headers: vec![("Host".into(), b"examplebucket.s3.amazonaws.com".to_vec())],
        ..unsigned.clone()
    };
    let mut p3 = params(UNSIGNED_PAYLOAD);
    p3.session_token = Some("FQoGZXIvYXdzEXAMPLE+token/==");
    let pre = bare
        .with_parts(|parts| presign(parts, &p3, 3600))
        .expect("presign");
    let url = Req {
        query: pre.query.clone(),
        ..bare.clone()
    };
    let ok = verify_with(&url, SECRET, M::S3, &VerifyOptions::default(), t0()).expect("presigned");
    assert!(ok.session_token_signed);
    let mut r = url.clone();
    r.remove_query_param("X-Amz-Security-Token");
    assert_eq!(
        verify_with(&r, SECRET, M::S3, &VerifyOptions::default(), t0()).err(),
        Some(SigV4Error::SignatureDoesNotMatch)
    );
}

/// A presigned S3 URL can pin the payload with an `X-Amz-Content-Sha256` query parameter (it is
/// part of the signed canonical query); S3 mode then uses it as the payload hash.
#[test]
fn presigned_url_with_content_sha256_parameter() {
    let body = b"Welcome to Amazon S3.";
    let hash = iotcreds_sigv4::payload_sha256(body);
    let unsigned = Req {
        method: "PUT".into(),
        path: "/test%24file.text".into(),
        query: format!("X-Amz-Content-Sha256={}", hash.as_str()),
        headers: vec![("Host".into(), b"examplebucket.s3.amazonaws.com".to_vec())],
        body: body.to_vec(),
    };
    let mut p = params(hash.as_str());
    p.content_sha256_header = false;
    let pre = unsigned
        .with_parts(|parts| presign(parts, &p, 600))
        .expect("presign");
    let url = Req {
        query: pre.query.clone(),
        ..unsigned.clone()
    };
    let v = verify_with(&url, SECRET, M::S3, &VerifyOptions::default(), t0()).expect("verifies");
    assert!(matches!(v.payload, SignedPayload::Sha256(_)));
    v.check_body(body).expect("body matches");
    assert_eq!(
        v.check_body(b"other"),
        Err(SigV4Error::ContentSha256Mismatch)
    );
    let mut r = url.clone();
    r.set_query_param("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD);
    assert_eq!(
        verify_with(&r, SECRET, M::S3, &VerifyOptions::default(), t0()).err(),
        Some(SigV4Error::SignatureDoesNotMatch)
    );
    // The signer refuses a parameter that contradicts the payload hash it is asked to sign.
    let mut q = params(UNSIGNED_PAYLOAD);
    q.content_sha256_header = false;
    assert!(
        unsigned
            .with_parts(|parts| presign(parts, &q, 600))
            .is_err()
    );
}
