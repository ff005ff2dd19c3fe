//! Parsing errors, error codes and messages, options, key caching, signing API behaviour.

use iotcreds_sigv4::{
    AuthKind, EMPTY_SHA256, Mode, ParsedAuth, RequestParts, Rules, SigV4Error, SigningKey,
    SigningParams, VerifyOptions,
};
use time::OffsetDateTime;

use crate::suite::{M, Req, verify_with};

pub const AKID: &str = "AKIDEXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const SIG: &str = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

/// 2015-08-30T12:36:00Z.
pub fn t() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_440_938_160).expect("time")
}

fn parse_err(headers: &[(&str, &str)], query: &str) -> SigV4Error {
    let owned: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    let parts = RequestParts {
        method: "GET",
        path: "/",
        query,
        headers: &owned,
    };
    ParsedAuth::parse(&parts).expect_err("must not parse")
}

pub fn authz(cred: &str, signed: &str, sig: &str) -> String {
    format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={signed}, Signature={sig}")
}

pub const CRED: &str = "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request";
const DATE: (&str, &str) = ("X-Amz-Date", "20150830T123600Z");
const HOST: (&str, &str) = ("Host", "iam.amazonaws.com");

/// The IAM `ListUsers` example of the AWS SigV4 documentation ("Create a signed AWS API
/// request"): a generic (query protocol) request.
/// Parameters signing the IAM example with its documented key: no token, no
/// `x-amz-content-sha256`.
pub fn iam_params() -> SigningParams<'static> {
    SigningParams {
        access_key_id: AKID,
        secret_access_key: SECRET,
        session_token: None,
        region: "us-east-1",
        service: "iam",
        time: t(),
        rules: Rules::GENERIC,
        payload_hash: EMPTY_SHA256,
        content_sha256_header: false,
    }
}

pub fn iam_list_users() -> Req {
    Req {
        method: "GET".into(),
        path: "/".into(),
        query: "Action=ListUsers&Version=2010-05-08".into(),
        headers: vec![
            ("Host".into(), b"iam.amazonaws.com".to_vec()),
            (
                "Content-Type".into(),
                b"application/x-www-form-urlencoded; charset=utf-8".to_vec(),
            ),
            ("X-Amz-Date".into(), b"20150830T123600Z".to_vec()),
            (
                "Authorization".into(),
                authz(CRED, "content-type;host;x-amz-date", SIG).into_bytes(),
            ),
        ],
        body: Vec::new(),
    }
}

#[test]
fn aws_documentation_iam_example() {
    let req = iam_list_users();
    let v =
        verify_with(&req, SECRET, M::Generic, &VerifyOptions::default(), t()).expect("verifies");
    assert_eq!(v.signature.as_str(), SIG);
    req.with_parts(|parts| {
        let auth = ParsedAuth::parse(parts).expect("parse");
        let creq = auth
            .canonical_request(
                parts,
                Mode::Generic {
                    payload_sha256: EMPTY_SHA256,
                },
                &VerifyOptions::default(),
            )
            .expect("creq");
        let sts = String::from_utf8(auth.string_to_sign(&creq)).expect("utf-8");
        assert!(
            sts.ends_with("f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"),
            "{sts}"
        );
    });
}

#[test]
fn authorization_header_spacing_is_tolerated() {
    for header in [
        format!(
            "AWS4-HMAC-SHA256 Credential={CRED},SignedHeaders=content-type;host;x-amz-date,Signature={SIG}"
        ),
        format!(
            "AWS4-HMAC-SHA256    Credential={CRED} ,  SignedHeaders=content-type;host;x-amz-date ,Signature={SIG}  "
        ),
        format!(
            "  AWS4-HMAC-SHA256\tCredential = {CRED}, SignedHeaders= content-type;host;x-amz-date, Signature={SIG},"
        ),
    ] {
        let mut req = iam_list_users();
        req.set_header("authorization", &header);
        assert!(
            verify_with(&req, SECRET, M::Generic, &VerifyOptions::default(), t()).is_ok(),
            "{header}"
        );
    }
}

#[test]
fn missing_and_malformed_authentication() {
    assert_eq!(
        parse_err(&[HOST, DATE], ""),
        SigV4Error::MissingAuthenticationToken
    );
    assert_eq!(
        parse_err(&[HOST], "Action=ListUsers"),
        SigV4Error::MissingAuthenticationToken
    );
    assert_eq!(
        SigV4Error::MissingAuthenticationToken.code(),
        "MissingAuthenticationToken"
    );

    let e = parse_err(
        &[
            HOST,
            DATE,
            (
                "Authorization",
                "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
            ),
        ],
        "",
    );
    assert_eq!(e.code(), "IncompleteSignature");
    assert!(
        e.to_string()
            .contains("Authorization header requires 'Credential' parameter."),
        "{e}"
    );
    let e = parse_err(&[HOST, ("Authorization", "AWS4-HMAC-SHA256")], "");
    for part in [
        "'Credential'",
        "'Signature'",
        "'SignedHeaders'",
        "'X-Amz-Date' or a 'Date'",
    ] {
        assert!(e.to_string().contains(part), "{e}");
    }
    let e = parse_err(&[HOST, DATE, ("Authorization", "Bearer abc")], "");
    assert_eq!(e.code(), "IncompleteSignature");

    for (header, code) in [
        (
            "AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
            "InvalidRequest",
        ),
        (
            "AWS4-ECDSA-P256-SHA256 Credential=AKID/20150830/s3/aws4_request, SignedHeaders=host, Signature=3045",
            "InvalidRequest",
        ),
        ("AWS4-HMAC-SHA512 Credential=x", "InvalidRequest"),
    ] {
        let e = parse_err(&[HOST, DATE, ("Authorization", header)], "");
        assert!(
            matches!(e, SigV4Error::UnsupportedAlgorithm(_)),
            "{header}: {e:?}"
        );
        assert_eq!(e.code(), code);
    }
    let e = parse_err(&[HOST], "AWSAccessKeyId=AKID&Expires=1&Signature=abc");
    assert!(matches!(e, SigV4Error::UnsupportedAlgorithm(_)));
    let e = parse_err(
        &[HOST],
        "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&X-Amz-Credential=a",
    );
    assert!(
        matches!(e, SigV4Error::AuthorizationQueryParametersError(_)),
        "{e:?}"
    );

    let good = authz(CRED, "host;x-amz-date", SIG);
    let cases: Vec<MalformedCase> = vec![
        (
            vec![
                ("Authorization", good.clone()),
                ("Authorization", good.clone()),
            ],
            "",
            "IncompleteSignature",
        ),
        (
            vec![("Authorization", good.clone())],
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "IncompleteSignature",
        ),
        (
            vec![("Authorization", format!("{good}, Signature={SIG}"))],
            "",
            "IncompleteSignature",
        ),
        (
            vec![("Authorization", format!("{good}, Extra=1"))],
            "",
            "IncompleteSignature",
        ),
        (
            vec![(
                "Authorization",
                authz("AKIDEXAMPLE/20150830/us-east-1/iam", "host", SIG),
            )],
            "",
            "IncompleteSignature",
        ),
        (
            vec![(
                "Authorization",
                authz(
                    "AKIDEXAMPLE/2015083/us-east-1/iam/aws4_request",
                    "host",
                    SIG,
                ),
            )],
            "",
            "IncompleteSignature",
        ),
        (
            vec![(
                "Authorization",
                authz("/20150830/us-east-1/iam/aws4_request", "host", SIG),
            )],
            "",
            "IncompleteSignature",
        ),
        (
            vec![(
                "Authorization",
                authz(
                    "AKIDEXAMPLE/20150830/us-east-1/iam/aws5_request",
                    "host",
                    SIG,
                ),
            )],
            "",
            "SignatureDoesNotMatch",
        ),
        (
            vec![("Authorization", authz(CRED, "x-amz-date", SIG))],
            "",
            "IncompleteSignature",
        ),
        (
            vec![("Authorization", authz(CRED, "Host;x-amz-date", SIG))],
            "",
            "IncompleteSignature",
        ),
        (
            vec![("Authorization", authz(CRED, "host;;x-amz-date", SIG))],
            "",
            "IncompleteSignature",
        ),
        (
            vec![("Authorization", authz(CRED, "host", &SIG.to_uppercase()))],
            "",
            "IncompleteSignature",
        ),
        (
            vec![("Authorization", authz(CRED, "host", &SIG[..63]))],
            "",
            "IncompleteSignature",
        ),
        (
            vec![(
                "Authorization",
                authz(
                    "AKIDEXAMPLE/20150831/us-east-1/iam/aws4_request",
                    "host",
                    SIG,
                ),
            )],
            "",
            "SignatureDoesNotMatch",
        ),
    ];
    for (extra, query, code) in cases {
        let mut headers: Vec<(&str, &str)> = vec![HOST, DATE];
        headers.extend(extra.iter().map(|(n, v)| (*n, v.as_str())));
        let e = parse_err(&headers, query);
        assert_eq!(e.code(), code, "{extra:?}: {e:?}");
        assert!(!e.to_string().contains(SIG), "no signature in messages");
    }
    let e = parse_err(
        &[
            HOST,
            ("Authorization", &good),
            ("X-Amz-Date", "2015-08-30T12:36:00Z"),
        ],
        "",
    );
    assert_eq!(e.code(), "IncompleteSignature");
    let e = parse_err(&[HOST, ("Authorization", &good), DATE, DATE], "");
    assert_eq!(e.code(), "IncompleteSignature");
    let owned: Vec<(&str, &[u8])> = vec![
        ("Host", b"h"),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("Authorization", b"AWS4-HMAC-SHA256 \xff"),
    ];
    let parts = RequestParts {
        method: "GET",
        path: "/",
        query: "",
        headers: &owned,
    };
    assert_eq!(
        ParsedAuth::parse(&parts).expect_err("utf8").code(),
        "IncompleteSignature"
    );
}

/// Extra headers, query, expected error code.
type MalformedCase<'a> = (Vec<(&'a str, String)>, &'a str, &'a str);

pub fn presigned_query(expires: &str) -> String {
    format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request\
         &X-Amz-Date=20150830T123600Z&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={SIG}"
    )
}

#[test]
fn presigned_parameter_errors() {
    for (expires, msg) in [
        ("abc", "X-Amz-Expires should be a number"),
        ("", "X-Amz-Expires should be a number"),
        ("-1", "X-Amz-Expires must be non-negative"),
        ("0", "at least 1"),
        ("604801", "less than a week"),
        ("99999999999999999999", "should be a number"),
    ] {
        let e = parse_err(&[HOST], &presigned_query(expires));
        assert_eq!(e.code(), "AuthorizationQueryParametersError", "{expires}");
        assert!(e.to_string().contains(msg), "{expires}: {e}");
    }
    let owned: Vec<(&str, &[u8])> = vec![("Host", b"example.amazonaws.com")];
    let q = presigned_query("604800");
    let parts = RequestParts {
        method: "GET",
        path: "/",
        query: &q,
        headers: &owned,
    };
    let auth = ParsedAuth::parse(&parts).expect("max expiry parses");
    assert_eq!(auth.kind(), AuthKind::Presigned);
    assert_eq!(auth.expires(), Some(604_800));

    let e = parse_err(
        &[HOST],
        &format!("{}&X-Amz-Date=20150830T123600Z", presigned_query("60")),
    );
    assert_eq!(e.code(), "AuthorizationQueryParametersError");
    let e = parse_err(
        &[HOST],
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00",
    );
    assert!(
        e.to_string().contains("requires the X-Amz-Algorithm"),
        "{e}"
    );
    let e = parse_err(
        &[HOST],
        &presigned_query("60").replace("Z&X-Amz-Expires", "&X-Amz-Expires"),
    );
    assert_eq!(e.code(), "AuthorizationQueryParametersError");
    let e = parse_err(
        &[HOST],
        &presigned_query("60").replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
    );
    assert_eq!(e.code(), "AuthorizationQueryParametersError");
}

#[test]
fn error_codes_are_aws_codes() {
    use std::borrow::Cow;
    let all = [
        (
            SigV4Error::MissingAuthenticationToken,
            "MissingAuthenticationToken",
        ),
        (
            SigV4Error::IncompleteSignature(Cow::Borrowed("x")),
            "IncompleteSignature",
        ),
        (SigV4Error::SignatureDoesNotMatch, "SignatureDoesNotMatch"),
        (SigV4Error::RequestTimeTooSkewed, "RequestTimeTooSkewed"),
        (SigV4Error::RequestExpired, "RequestExpired"),
        (
            SigV4Error::AuthorizationQueryParametersError(Cow::Borrowed("x")),
            "AuthorizationQueryParametersError",
        ),
        (
            SigV4Error::UnsignedAmzHeader("x-amz-meta-a".into()),
            "AccessDenied",
        ),
        (
            SigV4Error::InvalidScope(Cow::Borrowed("x")),
            "SignatureDoesNotMatch",
        ),
        (
            SigV4Error::UnsupportedAlgorithm(Cow::Borrowed("x")),
            "InvalidRequest",
        ),
        (SigV4Error::MissingContentSha256, "InvalidRequest"),
        (SigV4Error::InvalidContentSha256, "InvalidArgument"),
        (
            SigV4Error::ContentSha256Mismatch,
            "XAmzContentSHA256Mismatch",
        ),
    ];
    for (e, code) in all {
        assert_eq!(e.code(), code);
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(
        SigV4Error::UnsignedAmzHeader("x-amz-meta-a".into()).to_string(),
        "There were headers present in the request which were not signed: x-amz-meta-a"
    );
}

#[test]
fn secrets_stay_out_of_errors_and_debug() {
    let token = "FQoGZXIvYXdzSECRETTOKEN";
    let mut req = iam_list_users();
    req.headers
        .push(("X-Amz-Security-Token".into(), token.as_bytes().to_vec()));
    let mut errors = Vec::new();
    let strict = VerifyOptions {
        allow_unsigned_session_token: false,
        ..VerifyOptions::default()
    };
    errors.push(verify_with(&req, SECRET, M::Generic, &strict, t()).expect_err("unsigned token"));
    errors.push(
        verify_with(&req, "other", M::Generic, &VerifyOptions::default(), t()).expect_err("secret"),
    );
    let later = t() + time::Duration::hours(1);
    errors.push(
        verify_with(&req, SECRET, M::Generic, &VerifyOptions::default(), later).expect_err("skew"),
    );
    for e in &errors {
        let text = format!("{e} {e:?}");
        for secret in [SECRET, SIG, token] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    req.with_parts(|parts| {
        let auth = ParsedAuth::parse(parts).expect("parse");
        let dbg = format!("{auth:?}");
        assert!(!dbg.contains(SIG) && !dbg.contains(token), "{dbg}");
        assert!(dbg.contains("AKIDEXAMPLE"));
    });
    let params = SigningParams {
        session_token: Some(token),
        ..iam_params()
    };
    let dbg = format!("{params:?}");
    assert!(!dbg.contains(SECRET) && !dbg.contains(token), "{dbg}");
}

#[test]
fn scope_pinning_and_cached_keys() {
    let req = iam_list_users();
    let iam = VerifyOptions {
        region: Some("us-east-1"),
        service: Some("iam"),
        ..VerifyOptions::default()
    };
    assert!(verify_with(&req, SECRET, M::Generic, &iam, t()).is_ok());
    let sts = VerifyOptions {
        service: Some("sts"),
        ..iam
    };
    let e = verify_with(&req, SECRET, M::Generic, &sts, t()).expect_err("service");
    assert_eq!(
        e.to_string(),
        "Credential should be scoped to correct service: 'sts'."
    );
    let eu = VerifyOptions {
        region: Some("eu-west-1"),
        ..iam
    };
    let e = verify_with(&req, SECRET, M::Generic, &eu, t()).expect_err("region");
    assert_eq!(
        e.to_string(),
        "Credential should be scoped to a valid region."
    );

    let key = SigningKey::derive(SECRET, "20150830", "us-east-1", "iam");
    let wrong = SigningKey::derive(SECRET, "20150830", "us-east-1", "sts");
    let mode = Mode::Generic {
        payload_sha256: EMPTY_SHA256,
    };
    req.with_parts(|parts| {
        let auth = ParsedAuth::parse(parts).expect("parse");
        for _ in 0..3 {
            assert!(auth.verify_with_key(parts, &key, mode, &iam, t()).is_ok());
        }
        assert_eq!(
            auth.verify_with_key(parts, &wrong, mode, &VerifyOptions::default(), t())
                .err(),
            Some(SigV4Error::SignatureDoesNotMatch)
        );
        // Time is checked before any key work: `check` alone reports it.
        let late = t() + time::Duration::minutes(20);
        assert_eq!(
            auth.check(parts, mode, &iam, late),
            Err(SigV4Error::RequestTimeTooSkewed)
        );
        assert_eq!(
            auth.verify_with_key(parts, &key, mode, &iam, late).err(),
            Some(SigV4Error::RequestTimeTooSkewed)
        );
    });
}
