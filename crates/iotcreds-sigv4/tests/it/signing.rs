//! Signing API behaviour, the `Date` header, non-UTF-8 header values.

use iotcreds_sigv4::{
    EMPTY_SHA256, KeyCache, Mode, ParsedAuth, RequestParts, Rules, SigV4Error, SigningKey,
    SigningParams, VerifyOptions, canonical_request, payload_sha256, presign, sign, sign_cached,
    string_to_sign,
};

use crate::api::{AKID, CRED, SECRET, authz, iam_list_users, iam_params, presigned_query, t};
use crate::suite::{M, Req, verify_with};

#[test]
fn date_header_instead_of_x_amz_date() {
    let headers: Vec<(&str, &[u8])> = vec![
        ("Host", b"iam.amazonaws.com"),
        ("Date", b"Sun, 30 Aug 2015 12:36:00 GMT"),
    ];
    let parts = RequestParts {
        method: "GET",
        path: "/",
        query: "Action=ListUsers&Version=2010-05-08",
        headers: &headers,
    };
    let creq =
        canonical_request(&parts, Rules::GENERIC, "date;host", EMPTY_SHA256, false).expect("creq");
    let key = SigningKey::derive(SECRET, "20150830", "us-east-1", "iam");
    let sig = key.sign(&string_to_sign("20150830T123600Z", key.scope(), &creq));
    let header = authz(CRED, "date;host", sig.as_str());
    let mut with_auth = headers.clone();
    with_auth.push(("Authorization", header.as_bytes()));
    let parts = RequestParts {
        headers: &with_auth,
        ..parts
    };
    let auth = ParsedAuth::parse(&parts).expect("parse");
    assert_eq!(auth.amz_date(), "20150830T123600Z");
    let mode = Mode::Generic {
        payload_sha256: EMPTY_SHA256,
    };
    assert!(
        auth.verify(&parts, SECRET, mode, &VerifyOptions::default(), t())
            .is_ok()
    );
}

#[test]
fn non_utf8_header_values_are_signed_as_bytes() {
    let value: &[u8] = b"caf\xe9 \xff";
    let mut req = Req {
        method: "POST".into(),
        path: "/things/my%3Athing".into(),
        query: String::new(),
        headers: vec![
            ("Host".into(), b"iot.example.com".to_vec()),
            ("X-Custom".into(), value.to_vec()),
        ],
        body: b"{}".to_vec(),
    };
    let hash = payload_sha256(&req.body);
    let params = SigningParams {
        access_key_id: AKID,
        secret_access_key: SECRET,
        session_token: None,
        region: "us-east-1",
        service: "iot",
        time: t(),
        rules: Rules::GENERIC,
        payload_hash: hash.as_str(),
        content_sha256_header: false,
    };
    let signed = req.with_parts(|p| sign(p, &params)).expect("sign");
    for (n, v) in signed.headers {
        req.headers.push((n.into(), v.into_bytes()));
    }
    assert!(verify_with(&req, SECRET, M::Generic, &VerifyOptions::default(), t()).is_ok());
    req.headers[1].1[3] = 0xe8;
    assert_eq!(
        verify_with(&req, SECRET, M::Generic, &VerifyOptions::default(), t()).err(),
        Some(SigV4Error::SignatureDoesNotMatch)
    );
}

#[test]
fn signing_with_a_key_cache_signs_as_without() {
    let req = iam_list_users();
    let base = iam_params();
    let cache = KeyCache::new(64 * 1024);
    let plain = req.with_parts(|p| sign(p, &base)).expect("sign");
    for _ in 0..2 {
        // derived the first time, from the cache the second
        let cached = req
            .with_parts(|p| sign_cached(p, &base, &cache))
            .expect("sign");
        assert_eq!(cached.headers, plain.headers);
    }
    assert!(cache.bytes() > 0);
    // Another secret under the same key id, and another day: never the cached key.
    for params in [
        SigningParams {
            secret_access_key: "another-secret",
            ..base
        },
        SigningParams {
            time: t() + time::Duration::days(1),
            ..base
        },
    ] {
        let cached = req
            .with_parts(|p| sign_cached(p, &params, &cache))
            .expect("sign");
        let fresh = req.with_parts(|p| sign(p, &params)).expect("sign");
        assert_eq!(cached.headers, fresh.headers);
        assert_ne!(cached.signature.as_str(), plain.signature.as_str());
    }
}

#[test]
fn signing_api_errors_and_output() {
    let req = iam_list_users();
    let base = SigningParams {
        session_token: Some("tok+/="),
        content_sha256_header: true,
        ..iam_params()
    };
    let signed = req.with_parts(|p| sign(p, &base)).expect("sign");
    let names: Vec<&str> = signed.headers.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "X-Amz-Date",
            "X-Amz-Security-Token",
            "x-amz-content-sha256",
            "Authorization"
        ]
    );
    assert!(signed.headers[3].1.contains(
        "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"
    ));

    let no_host = Req {
        headers: vec![],
        ..req.clone()
    };
    assert!(no_host.with_parts(|p| sign(p, &base)).is_err());
    for expires in [0, 604_801] {
        let e = req
            .with_parts(|p| presign(p, &base, expires))
            .expect_err("range");
        assert_eq!(e.code(), "AuthorizationQueryParametersError");
    }
    let bad_region = SigningParams {
        region: "us east",
        ..base
    };
    assert!(req.with_parts(|p| sign(p, &bad_region)).is_err());
    let bad_akid = SigningParams {
        access_key_id: "AKID/x",
        ..base
    };
    assert!(req.with_parts(|p| sign(p, &bad_akid)).is_err());
    let twice = Req {
        query: presigned_query("60"),
        ..req.clone()
    };
    assert!(twice.with_parts(|p| presign(p, &base, 60)).is_err());

    // A presigned generic URL verifies, including its (signed) token.
    let bare = Req {
        headers: vec![("Host".into(), b"iam.amazonaws.com".to_vec())],
        ..req.clone()
    };
    let pre = bare
        .with_parts(|p| presign(p, &base, 300))
        .expect("presign");
    assert!(
        pre.query
            .starts_with("Action=ListUsers&Version=2010-05-08&X-Amz-Algorithm=AWS4-HMAC-SHA256&")
    );
    assert!(pre.query.contains("&X-Amz-Security-Token=tok%2B%2F%3D&"));
    let url = Req {
        query: pre.query.clone(),
        ..bare
    };
    let v =
        verify_with(&url, SECRET, M::Generic, &VerifyOptions::default(), t()).expect("presigned");
    assert!(v.session_token_signed);
}
