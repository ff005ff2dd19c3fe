//! The README's mutation list, applied to all 78 signed requests of the suite (generic mode,
//! each case's own options, the full caller flow with a key lookup).

use std::collections::BTreeMap;

use iotcreds_sigv4::{SigV4Error, VerifyOptions};
use time::Duration;

use crate::suite::{Case, Keyring, M, Reject, Req, Variant, cases};

#[derive(Default)]
struct Tally(BTreeMap<&'static str, (usize, usize)>);

impl Tally {
    /// Records that `label` was applied and must have been rejected.
    fn rejected<T: std::fmt::Debug>(
        &mut self,
        label: &'static str,
        what: &str,
        got: Result<T, Reject>,
    ) -> Reject {
        let entry = self.0.entry(label).or_default();
        entry.0 += 1;
        match got {
            Ok(v) => panic!("{what}: mutation '{label}' was accepted: {v:?}"),
            Err(e) => {
                entry.1 += 1;
                e
            }
        }
    }

    fn accepted<T, E: std::fmt::Debug>(
        &mut self,
        label: &'static str,
        what: &str,
        got: Result<T, E>,
    ) {
        let entry = self.0.entry(label).or_default();
        entry.0 += 1;
        if let Err(e) = got {
            panic!("{what}: '{label}' must still be accepted: {e:?}");
        }
        entry.1 += 1;
    }
}

fn flip_hex(c: u8) -> u8 {
    if c == b'0' { b'1' } else { b'0' }
}

fn flip_signature(req: &mut Req, variant: Variant) {
    match variant {
        Variant::Header => {
            let mut a = req.header("authorization").expect("authz").to_vec();
            let i = a.len() - 1;
            a[i] = flip_hex(a[i]);
            req.set_header("authorization", std::str::from_utf8(&a).expect("ascii"));
        }
        Variant::Query => {
            let mut s = req
                .query_param("X-Amz-Signature")
                .expect("sig")
                .into_bytes();
            s[10] = flip_hex(s[10]);
            req.set_query_param("X-Amz-Signature", std::str::from_utf8(&s).expect("ascii"));
        }
    }
}

/// Rewrites the credential scope (`from` → `to`) in the header or query.
fn rewrite_scope(req: &mut Req, variant: Variant, from: &str, to: &str) {
    match variant {
        Variant::Header => {
            let a = req
                .header_str("authorization")
                .expect("authz")
                .replacen(from, to, 1);
            req.set_header("authorization", &a);
        }
        Variant::Query => {
            let c = req
                .query_param("X-Amz-Credential")
                .expect("cred")
                .replacen(from, to, 1);
            req.set_query_param("X-Amz-Credential", &c);
        }
    }
}

fn add_signed_header_name(req: &mut Req, variant: Variant, name: &str) {
    match variant {
        Variant::Header => {
            let a = req.header_str("authorization").expect("authz");
            let a = a.replacen(", Signature=", &format!(";{name}, Signature="), 1);
            req.set_header("authorization", &a);
        }
        Variant::Query => {
            let s = req.query_param("X-Amz-SignedHeaders").expect("sh");
            req.set_query_param("X-Amz-SignedHeaders", &format!("{s}%3B{name}"));
        }
    }
}

const AUTH_PARAMS: [&str; 6] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
];

fn is_sig_err(r: &Reject, e: &SigV4Error) -> bool {
    matches!(r, Reject::Sig(x) if x == e)
}

#[test]
#[allow(clippy::too_many_lines)]
fn readme_mutations_are_rejected() {
    let mut t = Tally::default();
    for case in cases() {
        for variant in Variant::BOTH {
            let what = format!("{} {variant:?}", case.name);
            let base = case.signed_request(variant);
            let ring = case.keyring();
            let opts = case.opts();
            let now = case.time;
            let run = |req: &Req, ring: &Keyring, opts: &VerifyOptions<'_>, now| {
                ring.authenticate(req, M::Generic, opts, now)
            };
            t.accepted("baseline accepted", &what, run(&base, &ring, &opts, now));

            let mut r = base.clone();
            flip_signature(&mut r, variant);
            let e = t.rejected(
                "signature hex digit flipped",
                &what,
                run(&r, &ring, &opts, now),
            );
            assert!(
                is_sig_err(&e, &SigV4Error::SignatureDoesNotMatch),
                "{what}: {e:?}"
            );

            let other = Keyring::single(&case.akid, "another-secret-key", case.token.as_deref());
            let e = t.rejected("another secret", &what, run(&base, &other, &opts, now));
            assert!(
                is_sig_err(&e, &SigV4Error::SignatureDoesNotMatch),
                "{what}: {e:?}"
            );

            let unknown = Keyring::single("AKIDOTHER", &case.secret, case.token.as_deref());
            let e = t.rejected(
                "unknown access key",
                &what,
                run(&base, &unknown, &opts, now),
            );
            assert_eq!(e, Reject::UnknownAccessKey);

            let mut r = base.clone();
            r.method = if r.method == "GET" {
                "POST".into()
            } else {
                "GET".into()
            };
            let e = t.rejected("other method", &what, run(&r, &ring, &opts, now));
            assert!(
                is_sig_err(&e, &SigV4Error::SignatureDoesNotMatch),
                "{what}: {e:?}"
            );

            let mut r = base.clone();
            r.query = if r.query.is_empty() {
                "added=1".into()
            } else {
                format!("{}&added=1", r.query)
            };
            let e = t.rejected("query parameter added", &what, run(&r, &ring, &opts, now));
            assert!(
                is_sig_err(&e, &SigV4Error::SignatureDoesNotMatch),
                "{what}: {e:?}"
            );

            let user_params: Vec<String> = base
                .query_pairs()
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| !k.starts_with("X-Amz-"))
                .collect();
            if let Some(first) = user_params.first() {
                let mut r = base.clone();
                r.remove_query_param(first);
                let e = t.rejected("query parameter dropped", &what, run(&r, &ring, &opts, now));
                assert!(
                    is_sig_err(&e, &SigV4Error::SignatureDoesNotMatch),
                    "{what}: {e:?}"
                );

                let mut r = base.clone();
                let v = r.query_param(first).unwrap_or_default();
                r.set_query_param(first, &format!("{v}x"));
                let e = t.rejected(
                    "query parameter value changed",
                    &what,
                    run(&r, &ring, &opts, now),
                );
                assert!(
                    is_sig_err(&e, &SigV4Error::SignatureDoesNotMatch),
                    "{what}: {e:?}"
                );
            }
            if variant == Variant::Query {
                for p in AUTH_PARAMS {
                    let mut r = base.clone();
                    r.remove_query_param(p);
                    t.rejected(
                        "presigned auth parameter dropped",
                        &what,
                        run(&r, &ring, &opts, now),
                    );
                }
                let mut r = base.clone();
                r.set_query_param("X-Amz-Expires", "3601");
                let e = t.rejected("X-Amz-Expires changed", &what, run(&r, &ring, &opts, now));
                assert!(
                    is_sig_err(&e, &SigV4Error::SignatureDoesNotMatch),
                    "{what}: {e:?}"
                );
            }

            let mut r = base.clone();
            let last = r.path.pop().unwrap_or('/');
            r.path.push(if last == 'x' { 'y' } else { 'x' });
            let e = t.rejected(
                "one path character changed",
                &what,
                run(&r, &ring, &opts, now),
            );
            assert!(
                is_sig_err(&e, &SigV4Error::SignatureDoesNotMatch),
                "{what}: {e:?}"
            );

            let mut r = base.clone();
            r.set_header("host", "example.amazonaws.org");
            let e = t.rejected(
                "signed header value changed (host)",
                &what,
                run(&r, &ring, &opts, now),
            );
            assert!(
                is_sig_err(&e, &SigV4Error::SignatureDoesNotMatch),
                "{what}: {e:?}"
            );

            if base.header("my-header1").is_some() {
                let mut r = base.clone();
                let v = r.header_str("my-header1").unwrap_or_default();
                r.set_header("my-header1", &format!("{v}x"));
                let e = t.rejected(
                    "signed header value changed (other)",
                    &what,
                    run(&r, &ring, &opts, now),
                );
                assert!(
                    is_sig_err(&e, &SigV4Error::SignatureDoesNotMatch),
                    "{what}: {e:?}"
                );
            }

            let mut r = base.clone();
            r.remove_header("host");
            let e = t.rejected(
                "signed header dropped (host)",
                &what,
                run(&r, &ring, &opts, now),
            );
            assert!(
                matches!(e, Reject::Sig(SigV4Error::IncompleteSignature(_))),
                "{what}: {e:?}"
            );

            if variant == Variant::Header {
                let mut r = base.clone();
                r.remove_header("x-amz-date");
                let e = t.rejected(
                    "signed header dropped (x-amz-date)",
                    &what,
                    run(&r, &ring, &opts, now),
                );
                assert!(
                    matches!(e, Reject::Sig(SigV4Error::IncompleteSignature(_))),
                    "{what}: {e:?}"
                );
            }

            let mut r = base.clone();
            add_signed_header_name(&mut r, variant, "zz-not-sent");
            let e = t.rejected(
                "SignedHeaders names an unsent header",
                &what,
                run(&r, &ring, &opts, now),
            );
            assert!(
                matches!(e, Reject::Sig(SigV4Error::IncompleteSignature(_))),
                "{what}: {e:?}"
            );

            let scoped = VerifyOptions {
                region: Some("us-east-1"),
                service: Some("service"),
                ..opts
            };
            t.accepted(
                "baseline with region/service pinned",
                &what,
                run(&base, &ring, &scoped, now),
            );
            let slash = if variant == Variant::Query {
                "%2F"
            } else {
                "/"
            };
            for (label, from, to) in [
                ("scope region changed", "/us-east-1/", "/us-west-2/"),
                ("scope service changed", "/service/", "/iam/"),
            ] {
                let mut r = base.clone();
                rewrite_scope(
                    &mut r,
                    variant,
                    &from.replace('/', slash),
                    &to.replace('/', slash),
                );
                let e = t.rejected(label, &what, run(&r, &ring, &opts, now));
                assert!(
                    is_sig_err(&e, &SigV4Error::SignatureDoesNotMatch),
                    "{what}: {e:?}"
                );
                let e = t.rejected(label, &what, run(&r, &ring, &scoped, now));
                assert!(
                    matches!(e, Reject::Sig(SigV4Error::InvalidScope(_))),
                    "{what}: {e:?}"
                );
            }
            let mut r = base.clone();
            rewrite_scope(&mut r, variant, "20150830", "20150831");
            let e = t.rejected("scope date changed", &what, run(&r, &ring, &opts, now));
            assert!(
                matches!(e, Reject::Sig(SigV4Error::InvalidScope(_))),
                "{what}: {e:?}"
            );

            match variant {
                Variant::Query => {
                    let exp = Duration::seconds(i64::from(case.expires));
                    t.accepted(
                        "presigned, last valid second",
                        &what,
                        run(&base, &ring, &opts, now + exp - Duration::SECOND),
                    );
                    let e = t.rejected(
                        "presigned, now = date + expires",
                        &what,
                        run(&base, &ring, &opts, now + exp),
                    );
                    assert!(is_sig_err(&e, &SigV4Error::RequestExpired), "{what}: {e:?}");
                    let e = t.rejected(
                        "presigned, dated > 15 min in the future",
                        &what,
                        run(&base, &ring, &opts, now - Duration::minutes(16)),
                    );
                    assert!(
                        is_sig_err(&e, &SigV4Error::RequestTimeTooSkewed),
                        "{what}: {e:?}"
                    );
                    let mut r = base.clone();
                    r.set_query_param("X-Amz-Expires", "604801");
                    let e = t.rejected("X-Amz-Expires > 604800", &what, run(&r, &ring, &opts, now));
                    assert!(
                        matches!(
                            e,
                            Reject::Sig(SigV4Error::AuthorizationQueryParametersError(_))
                        ),
                        "{what}: {e:?}"
                    );
                    let mut r = base.clone();
                    r.set_query_param("X-Amz-Expires", "0");
                    let e = t.rejected("X-Amz-Expires = 0", &what, run(&r, &ring, &opts, now));
                    assert!(
                        matches!(
                            e,
                            Reject::Sig(SigV4Error::AuthorizationQueryParametersError(_))
                        ),
                        "{what}: {e:?}"
                    );
                }
                Variant::Header => {
                    let skew = Duration::minutes(15);
                    t.accepted(
                        "header auth, exactly 15 min skew",
                        &what,
                        run(&base, &ring, &opts, now + skew),
                    );
                    t.accepted(
                        "header auth, exactly -15 min skew",
                        &what,
                        run(&base, &ring, &opts, now - skew),
                    );
                    for (label, at) in [
                        (
                            "header auth, now > date + 15 min",
                            now + skew + Duration::SECOND,
                        ),
                        (
                            "header auth, now < date - 15 min",
                            now - skew - Duration::SECOND,
                        ),
                    ] {
                        let e = t.rejected(label, &what, run(&base, &ring, &opts, at));
                        assert!(
                            is_sig_err(&e, &SigV4Error::RequestTimeTooSkewed),
                            "{what}: {e:?}"
                        );
                    }
                }
            }

            let mut r = base.clone();
            r.body.push(b'!');
            let e = t.rejected("body byte appended", &what, run(&r, &ring, &opts, now));
            assert!(
                is_sig_err(&e, &SigV4Error::SignatureDoesNotMatch),
                "{what}: {e:?}"
            );

            if case.token.is_some() {
                let mut r = base.clone();
                r.remove_header("x-amz-security-token");
                r.remove_query_param("X-Amz-Security-Token");
                let e = t.rejected("session token removed", &what, run(&r, &ring, &opts, now));
                if case.omit_session_token {
                    // Unsigned token: only the key lookup notices.
                    assert_eq!(e, Reject::SessionTokenMismatch);
                } else {
                    assert!(
                        matches!(e, Reject::Sig(_) | Reject::SessionTokenMismatch),
                        "{what}: {e:?}"
                    );
                    // And the verifier alone rejects it too, whatever the key lookup does.
                    let lax = Keyring::single(&case.akid, &case.secret, None);
                    t.rejected(
                        "session token removed (lenient key lookup)",
                        &what,
                        run(&r, &lax, &opts, now),
                    );
                }
                let mut r = base.clone();
                r.set_header("x-amz-security-token", "AQoDYXdzEXAMPLEtoken");
                if variant == Variant::Query {
                    r.set_query_param("X-Amz-Security-Token", "AQoDYXdzEXAMPLEtoken");
                }
                t.rejected("session token replaced", &what, run(&r, &ring, &opts, now));
            }

            let mut r = base.clone();
            r.headers
                .push(("X-Unsigned-Extra".into(), b"anything".to_vec()));
            t.accepted(
                "unsigned ordinary header added",
                &what,
                run(&r, &ring, &opts, now),
            );

            let mut r = base.clone();
            r.headers.push(("X-Amz-Meta-Extra".into(), b"1".to_vec()));
            let e = t.rejected(
                "unsigned x-amz-* header added",
                &what,
                run(&r, &ring, &opts, now),
            );
            assert_eq!(
                e,
                Reject::Sig(SigV4Error::UnsignedAmzHeader("x-amz-meta-extra".into()))
            );
            let lax = VerifyOptions {
                require_signed_amz_headers: false,
                ..opts
            };
            t.accepted(
                "unsigned x-amz-* header, option off",
                &what,
                run(&r, &ring, &lax, now),
            );
        }
    }
    println!("{:<48} {:>8} {:>9}", "mutation", "applied", "as-expected");
    for (label, (applied, ok)) in &t.0 {
        println!("{label:<48} {applied:>8} {ok:>9}");
    }
    let total: usize = t.0.values().map(|(a, _)| a).sum();
    println!("total checks: {total}");
    assert_eq!(t.0["baseline accepted"], (78, 78));
    assert_eq!(t.0["signature hex digit flipped"], (78, 78));
}

/// Checks that need a specific case.
#[test]
fn unsigned_session_token_policy() {
    let case: Case = cases()
        .into_iter()
        .find(|c| c.name == "post-sts-header-after")
        .expect("case");
    let strict = VerifyOptions {
        allow_unsigned_session_token: false,
        ..case.opts()
    };
    let ring = case.keyring();
    let header = case.signed_request(Variant::Header);
    assert_eq!(
        ring.authenticate(&header, M::Generic, &strict, case.time)
            .err(),
        Some(Reject::Sig(SigV4Error::UnsignedAmzHeader(
            "x-amz-security-token".into()
        )))
    );
    let query = case.signed_request(Variant::Query);
    assert_eq!(
        ring.authenticate(&query, M::Generic, &strict, case.time)
            .err(),
        Some(Reject::Sig(SigV4Error::SignatureDoesNotMatch))
    );
    // The signed-token case still verifies under the strict policy.
    let signed = cases()
        .into_iter()
        .find(|c| c.name == "post-sts-header-before")
        .expect("case");
    for variant in Variant::BOTH {
        let req = signed.signed_request(variant);
        let v = signed
            .keyring()
            .authenticate(&req, M::Generic, &strict, signed.time)
            .expect("ok");
        assert!(v.session_token_signed);
    }
}
