//! The aws-c-auth SigV4 suite (38 cases) and the smithy-rs extra case, each signed with an
//! `Authorization` header and as a presigned URL: intermediate values, signer output, and the
//! verdict of the verifier in generic and S3 mode against `manifest.json`.

use iotcreds_sigv4::{
    AuthKind, Mode, ParsedAuth, Rules, SigV4Error, SigningKey, SigningParams, VerifyOptions,
    canonical_request, payload_sha256, presign, sign, string_to_sign,
};

use crate::suite::{Case, M, Req, Variant, cases, verify_with};

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

/// The suite's `*-canonical-request.txt` and `*-string-to-sign.txt` equal what the verifier
/// builds from the signed request, and `*-signature.txt` is what the request carries.
#[test]
fn intermediate_values_match_the_suite() {
    let mut checked = 0;
    for case in cases() {
        for variant in Variant::BOTH {
            let mut req = case.signed_request(variant);
            if case.omit_session_token && variant == Variant::Query {
                // The suite signed this URL before appending the token; its canonical request is
                // the one without it.
                req.remove_query_param("X-Amz-Security-Token");
            }
            let expected_creq = case.file(variant, "canonical-request.txt");
            let expected_sts = case.file(variant, "string-to-sign.txt");
            let expected_sig = case.file(variant, "signature.txt");
            let hash = payload_sha256(&req.body);
            let mode = Mode::Generic {
                payload_sha256: hash.as_str(),
            };
            req.with_parts(|parts| {
                let auth = ParsedAuth::parse(parts).expect("parse");
                assert_eq!(
                    auth.kind(),
                    match variant {
                        Variant::Header => AuthKind::Header,
                        Variant::Query => AuthKind::Presigned,
                    }
                );
                assert_eq!(auth.access_key_id(), case.akid);
                assert_eq!(auth.scope().region, case.region);
                assert_eq!(auth.scope().service, case.service);
                assert_eq!(auth.request_time(), case.time);
                let creq = auth
                    .canonical_request(parts, mode, &case.opts())
                    .expect("creq");
                assert_eq!(
                    text(&creq),
                    expected_creq,
                    "{} {variant:?} canonical request",
                    case.name
                );
                let sts = auth.string_to_sign(&creq);
                assert_eq!(
                    text(&sts),
                    expected_sts,
                    "{} {variant:?} string to sign",
                    case.name
                );
                let scope = auth.scope();
                let key = SigningKey::derive(&case.secret, scope.date, scope.region, scope.service);
                assert_eq!(
                    key.sign(&sts).as_str(),
                    expected_sig.trim(),
                    "{} {variant:?}",
                    case.name
                );
                // The free functions give the same bytes.
                let signed: Vec<&str> = auth.signed_headers().collect();
                let free = canonical_request(
                    parts,
                    Rules::Generic {
                        normalize_path: case.normalize,
                    },
                    &signed.join(";"),
                    hash.as_str(),
                    variant == Variant::Query,
                )
                .expect("creq");
                assert_eq!(free, creq);
                assert_eq!(
                    string_to_sign(auth.amz_date(), auth.scope_str(), &creq),
                    sts
                );
            });
            checked += 1;
        }
    }
    assert_eq!(checked, 78);
}

/// `sign`/`presign` applied to `request.txt` with the case's context reproduce the suite's
/// signatures (and, for header signing, its exact `Authorization` header).
#[test]
fn signer_reproduces_the_suite() {
    let mut checked = 0;
    for case in cases() {
        let unsigned = case.unsigned_request();
        let hash = payload_sha256(&unsigned.body);
        let params = SigningParams {
            access_key_id: &case.akid,
            secret_access_key: &case.secret,
            // A token the suite added after signing is not part of what it signed.
            session_token: if case.omit_session_token {
                None
            } else {
                case.token.as_deref()
            },
            region: &case.region,
            service: &case.service,
            time: case.time,
            rules: Rules::Generic {
                normalize_path: case.normalize,
            },
            payload_hash: hash.as_str(),
            content_sha256_header: case.sign_body,
        };
        let expected_header = case.signed_request(Variant::Header);
        let signed = unsigned.with_parts(|p| sign(p, &params)).expect("sign");
        assert_eq!(
            signed.signature.as_str(),
            case.file(Variant::Header, "signature.txt").trim()
        );
        let authz = signed
            .headers
            .iter()
            .find(|(n, _)| *n == "Authorization")
            .expect("authz");
        assert_eq!(
            Some(authz.1.clone()),
            expected_header.header_str("authorization"),
            "{}",
            case.name
        );
        let date = signed
            .headers
            .iter()
            .find(|(n, _)| *n == "X-Amz-Date")
            .expect("date");
        assert_eq!(date.1, "20150830T123600Z");

        let presigned = unsigned
            .with_parts(|p| presign(p, &params, case.expires))
            .expect("presign");
        assert_eq!(
            presigned.signature.as_str(),
            case.file(Variant::Query, "signature.txt").trim(),
            "{}",
            case.name
        );
        // Same parameters as the suite's URL (order aside).
        // (`c+d` and `c+d=` are the same parameter.)
        let pairs = |q: &str| -> Vec<String> {
            q.split('&')
                .map(|p| {
                    if p.contains('=') {
                        p.to_owned()
                    } else {
                        format!("{p}=")
                    }
                })
                .collect()
        };
        let mut ours = pairs(&presigned.query);
        let suite_req = case.signed_request(Variant::Query);
        let mut theirs = pairs(&suite_req.query);
        if case.omit_session_token {
            theirs.retain(|p| !p.starts_with("X-Amz-Security-Token="));
        }
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{}", case.name);
        checked += 2;
    }
    assert_eq!(checked, 78);
}

/// Generic mode, each case verified with its own `normalize` setting at its timestamp: the
/// manifest's `generic_mode_expectation` (every one is `accept`).
#[test]
fn generic_mode_verdicts_match_the_manifest() {
    let (mut accepted, mut rejected) = (0, 0);
    for case in cases() {
        for variant in Variant::BOTH {
            let req = case.signed_request(variant);
            let got = verify_with(&req, &case.secret, M::Generic, &case.opts(), case.time);
            let expected = case.expectation("generic", variant);
            assert_eq!(got.is_ok(), expected, "{} {variant:?}: {got:?}", case.name);
            if let Ok(v) = got {
                accepted += 1;
                // Only post-sts-header-after carries a token that was not signed.
                assert_eq!(
                    v.session_token_signed,
                    case.token.is_some() && !case.omit_session_token,
                    "{}",
                    case.name
                );
            } else {
                rejected += 1;
            }
        }
    }
    println!("generic mode: {accepted} accepted, {rejected} rejected (manifest: 78 accept)");
    assert_eq!((accepted, rejected), (78, 0));
}

/// With `normalize_path: true` (what an AWS endpoint does) the cases that were signed without
/// normalisation are rejected exactly when normalising changes their path.
#[test]
fn unnormalised_cases_under_the_default_options() {
    let mut rejected = Vec::new();
    for case in cases().into_iter().filter(|c| !c.normalize) {
        for variant in Variant::BOTH {
            let req = case.signed_request(variant);
            let got = verify_with(
                &req,
                &case.secret,
                M::Generic,
                &VerifyOptions::default(),
                case.time,
            );
            let path_changes = !matches!(case.name.as_str(), "get-space-unnormalized");
            assert_eq!(got.is_err(), path_changes, "{} {variant:?}", case.name);
            if let Err(e) = got {
                assert_eq!(e, SigV4Error::SignatureDoesNotMatch);
                rejected.push(format!("{} {variant:?}", case.name));
            }
        }
    }
    assert_eq!(rejected.len(), 12, "{rejected:?}");
}

/// S3 mode with the full S3 rules, on the requests exactly as received. The suite was signed
/// for a generic service: no `x-amz-content-sha256` header and a body hash (not
/// `UNSIGNED-PAYLOAD`) in the presigned variants, so S3 rules reject all but the two cases that
/// signed `x-amz-content-sha256`. This is where the manifest's `s3_mode_expectation` column and
/// the S3 rules of the README disagree; see `s3_canonicalisation_matches_the_manifest` for
/// the rules that column does encode.
#[test]
fn s3_mode_full_rules_on_the_suite_as_received() {
    let (mut accepted, mut missing_sha, mut unsigned_token, mut mismatch) = (0, 0, 0, 0);
    for case in cases() {
        for variant in Variant::BOTH {
            let req = case.signed_request(variant);
            let got = verify_with(
                &req,
                &case.secret,
                M::S3,
                &VerifyOptions::default(),
                case.time,
            );
            let signs_content_sha = req
                .header_str("authorization")
                .is_some_and(|a| a.contains("x-amz-content-sha256"));
            match (variant, got) {
                (Variant::Header, Ok(_)) => {
                    assert!(
                        signs_content_sha && case.s3_path_unchanged(),
                        "{}",
                        case.name
                    );
                    assert!(case.expectation("s3", variant));
                    accepted += 1;
                }
                (Variant::Header, Err(SigV4Error::UnsignedAmzHeader(h))) => {
                    assert_eq!(h, "x-amz-security-token");
                    assert!(case.omit_session_token, "{}", case.name);
                    unsigned_token += 1;
                }
                (Variant::Header, Err(SigV4Error::MissingContentSha256)) => {
                    assert!(!signs_content_sha, "{}", case.name);
                    missing_sha += 1;
                }
                (Variant::Query, Err(SigV4Error::SignatureDoesNotMatch)) => mismatch += 1,
                (v, other) => panic!("{} {v:?}: unexpected {other:?}", case.name),
            }
        }
    }
    println!(
        "S3 mode, full rules: {accepted} accepted; rejected: {missing_sha} missing x-amz-content-sha256, \
         {unsigned_token} unsigned session token, {mismatch} presigned signature mismatch (UNSIGNED-PAYLOAD)"
    );
    assert_eq!(
        (accepted, missing_sha, unsigned_token, mismatch),
        (2, 36, 1, 39)
    );
}

impl Case {
    fn s3_path_unchanged(&self) -> bool {
        !self.manifest["path_changed_by_normalization"]
            .as_bool()
            .unwrap_or(false)
    }
}

/// The rules the manifest's `s3_mode_expectation` column encodes: S3's canonical URI (no
/// normalisation, single encoding) and "the session token must be signed". The verdict is
/// computed with the library's S3 canonicalisation and the payload hash the suite signed (the
/// one thing S3 would take from `x-amz-content-sha256`/`UNSIGNED-PAYLOAD` instead).
#[test]
fn s3_canonicalisation_matches_the_manifest() {
    let (mut accepted, mut rejected) = (0, 0);
    for case in cases() {
        for variant in Variant::BOTH {
            let req = case.signed_request(variant);
            let suite_creq = case.file(variant, "canonical-request.txt");
            let payload = suite_creq.lines().last().expect("payload line").to_owned();
            let verdict = req.with_parts(|parts| {
                let auth = ParsedAuth::parse(parts).expect("parse");
                let token_signed = auth.session_token().is_none()
                    || variant == Variant::Query
                    || auth.is_signed("x-amz-security-token");
                let signed: Vec<&str> = auth.signed_headers().collect();
                let creq = canonical_request(
                    parts,
                    Rules::S3,
                    &signed.join(";"),
                    &payload,
                    variant == Variant::Query,
                )
                .expect("creq");
                let sts = auth.string_to_sign(&creq);
                let scope = auth.scope();
                let key = SigningKey::derive(&case.secret, scope.date, scope.region, scope.service);
                let signature_ok =
                    key.sign(&sts).as_str() == case.file(variant, "signature.txt").trim();
                token_signed && signature_ok
            });
            assert_eq!(
                verdict,
                case.expectation("s3", variant),
                "{} {variant:?}",
                case.name
            );
            if verdict {
                accepted += 1;
            } else {
                rejected += 1;
            }
        }
    }
    println!(
        "S3 canonicalisation + token rule: {accepted} accepted, {rejected} rejected (= manifest)"
    );
    assert_eq!((accepted, rejected), (64, 14));
}

/// The suite's two request lines that are not valid HTTP (`/example space/`, raw UTF-8) are
/// signed as if that were the wire path. Percent-encoded for a real wire, they verify in S3 mode
/// (decode, encode once) but not in generic mode, where AWS encodes the wire path once more.
#[test]
fn percent_encoded_wire_forms_of_the_raw_paths() {
    for (name, wire, generic_uri) in [
        (
            "get-space-normalized",
            "/example%20space/",
            "/example%2520space/",
        ),
        (
            "get-space-unnormalized",
            "/example%20space/",
            "/example%2520space/",
        ),
        ("get-utf8", "/%E1%88%B4", "/%25E1%2588%25B4"),
    ] {
        let case = cases().into_iter().find(|c| c.name == name).expect("case");
        for variant in Variant::BOTH {
            let mut req: Req = case.signed_request(variant);
            req.path = wire.to_owned();
            let got = verify_with(&req, &case.secret, M::Generic, &case.opts(), case.time);
            assert_eq!(got.err(), Some(SigV4Error::SignatureDoesNotMatch), "{name}");
            let hash = payload_sha256(&req.body);
            req.with_parts(|parts| {
                let auth = ParsedAuth::parse(parts).expect("parse");
                let g = auth
                    .canonical_request(
                        parts,
                        Mode::Generic {
                            payload_sha256: hash.as_str(),
                        },
                        &case.opts(),
                    )
                    .expect("creq");
                assert_eq!(text(&g).lines().nth(1), Some(generic_uri));
                let signed: Vec<&str> = auth.signed_headers().collect();
                let s3 = canonical_request(
                    parts,
                    Rules::S3,
                    &signed.join(";"),
                    hash.as_str(),
                    variant == Variant::Query,
                )
                .expect("creq");
                let sts = auth.string_to_sign(&s3);
                let key = SigningKey::derive(&case.secret, "20150830", "us-east-1", "service");
                assert_eq!(
                    key.sign(&sts).as_str(),
                    case.file(variant, "signature.txt").trim(),
                    "{name}"
                );
            });
        }
    }
}
