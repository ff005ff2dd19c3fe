//! Known answers from the S3 API Reference ("Example: Browser-Based Upload using HTTP POST (Using
//! AWS Signature Version 4)") and the refusals S3 gives for bad forms and policies.

use time::macros::datetime;

use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// The published policy, base64 as the page gives it (648 bytes of JSON with CRLF line ends).
const DOC_POLICY: &str = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
/// The published signature of `DOC_POLICY`.
const DOC_SIGNATURE: &str = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e";
const DOC_CREDENTIAL: &str = "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request";

fn doc_fields<'a>() -> PostFields<'a> {
    PostFields {
        algorithm: Some("AWS4-HMAC-SHA256"),
        credential: Some(DOC_CREDENTIAL),
        date: Some("20151229T000000Z"),
        signature: Some(DOC_SIGNATURE),
        policy: Some(DOC_POLICY),
    }
}

/// The example form's fields, names as the page writes them, the file `MyPhoto.jpg` expanded
/// into the key.
fn doc_form() -> Vec<(&'static str, &'static str)> {
    vec![
        ("key", "user/user1/MyPhoto.jpg"),
        ("acl", "public-read"),
        (
            "success_action_redirect",
            "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html",
        ),
        ("Content-Type", "image/jpeg"),
        ("x-amz-meta-uuid", "14365123651274"),
        ("x-amz-server-side-encryption", "AES256"),
        ("X-Amz-Credential", DOC_CREDENTIAL),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Date", "20151229T000000Z"),
        ("x-amz-meta-tag", ""),
        ("Policy", DOC_POLICY),
        ("X-Amz-Signature", DOC_SIGNATURE),
    ]
}

#[test]
fn the_documented_example_signs_and_verifies() {
    let auth = PostAuth::parse(&doc_fields(), "us-east-1").expect("well-formed");
    assert_eq!(auth.access_key_id(), "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(auth.request_time(), datetime!(2015-12-29 0:00 UTC));
    let key = SigningKey::derive(SECRET, "20151229", "us-east-1", "s3");
    assert_eq!(post_signature(&key, DOC_POLICY).as_str(), DOC_SIGNATURE);
    auth.verify(SECRET).expect("the documented signature");
    auth.verify_with_key(&key)
        .expect("the documented signature");
    // Another secret, a key for another scope, or one changed character of the policy.
    assert_eq!(
        auth.verify("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ"),
        Err(PostAuthError::SignatureDoesNotMatch)
    );
    let other_scope = SigningKey::derive(SECRET, "20151229", "us-east-1", "iam");
    assert_eq!(
        auth.verify_with_key(&other_scope),
        Err(PostAuthError::SignatureDoesNotMatch)
    );
    let mut policy = DOC_POLICY.to_owned();
    policy.replace_range(10..11, "A");
    let fields = PostFields {
        policy: Some(&policy),
        ..doc_fields()
    };
    assert_eq!(
        PostAuth::parse(&fields, "us-east-1")
            .unwrap()
            .verify(SECRET),
        Err(PostAuthError::SignatureDoesNotMatch)
    );
}

#[test]
fn the_documented_policy_parses_and_the_documented_form_passes() {
    let policy = PostPolicy::from_base64(DOC_POLICY).expect("policy");
    assert_eq!(policy.expiration(), datetime!(2015-12-30 12:00 UTC));
    assert_eq!(policy.conditions().len(), 11);
    assert_eq!(policy.content_length_range(), None);
    let before = datetime!(2015-12-29 0:10 UTC);
    policy
        .check(&doc_form(), "sigv4examplebucket", before)
        .expect("the example form satisfies the example policy");

    // At the expiration instant and after it.
    for t in [
        datetime!(2015-12-30 12:00 UTC),
        datetime!(2016-01-01 0:00 UTC),
    ] {
        assert_eq!(
            policy.check(&doc_form(), "sigv4examplebucket", t),
            Err(PostViolation::Expired)
        );
    }
    // Another bucket.
    assert_eq!(
        policy.check(&doc_form(), "otherbucket", before),
        Err(PostViolation::ConditionFailed(
            r#"["eq", "$bucket", "sigv4examplebucket"]"#.into()
        ))
    );
    let with = |name: &str, value: &'static str| {
        let mut form = doc_form();
        for f in &mut form {
            if f.0 == name {
                f.1 = value;
            }
        }
        form
    };
    // A key outside the prefix (the message keeps the policy's spelling).
    assert_eq!(
        policy.check(
            &with("key", "user/user2/x.jpg"),
            "sigv4examplebucket",
            before
        ),
        Err(PostViolation::ConditionFailed(
            r#"["starts-with", "$key", "user/user1/"]"#.into()
        ))
    );
    assert_eq!(
        policy
            .check(
                &with("Content-Type", "text/plain"),
                "sigv4examplebucket",
                before
            )
            .unwrap_err()
            .to_string(),
        r#"Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", "image/"]"#
    );
    // Content-Type lists pass only when every item has the prefix.
    assert!(
        policy
            .check(
                &with("Content-Type", "image/jpg,image/png, image/gif"),
                "sigv4examplebucket",
                before
            )
            .is_ok()
    );
    assert!(
        policy
            .check(
                &with("Content-Type", "image/jpg,text/plain"),
                "sigv4examplebucket",
                before
            )
            .is_err()
    );
    // Values are case-sensitive.
    assert!(
        policy
            .check(&with("acl", "PUBLIC-READ"), "sigv4examplebucket", before)
            .is_err()
    );
    // A field the policy names but the form lacks fails, even for `starts-with ""`.
    let form: Vec<_> = doc_form()
        .into_iter()
        .filter(|(n, _)| *n != "x-amz-meta-tag")
        .collect();
    assert_eq!(
        policy.check(&form, "sigv4examplebucket", before),
        Err(PostViolation::ConditionFailed(
            r#"["starts-with", "$x-amz-meta-tag", ""]"#.into()
        ))
    );
    // A field no condition names; x-ignore-* fields are exempt.
    let mut form = doc_form();
    form.push(("x-ignore-flash", "1"));
    assert!(policy.check(&form, "sigv4examplebucket", before).is_ok());
    form.push(("X-Amz-Meta-Other", "1"));
    assert_eq!(
        policy.check(&form, "sigv4examplebucket", before),
        Err(PostViolation::ExtraField("X-Amz-Meta-Other".into()))
    );
    assert_eq!(
        PostViolation::ExtraField("x".into()).to_string(),
        "Invalid according to Policy: Extra input fields: x"
    );
}

/// botocore's `generate_presigned_post("sigv4examplebucket", "user/user1/photo.jpg")` with the
/// clock at 2015-12-29T00:00:00Z and the example credentials (compact JSON, no milliseconds).
#[test]
fn a_botocore_style_policy() {
    let json = r#"{"expiration": "2015-12-29T01:00:00Z", "conditions": [{"bucket": "sigv4examplebucket"}, {"key": "user/user1/photo.jpg"}, {"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"}, {"x-amz-date": "20151229T000000Z"}]}"#;
    let b64 = base64::engine::general_purpose::STANDARD.encode(json);
    let key = SigningKey::derive(SECRET, "20151229", "us-east-1", "s3");
    assert_eq!(
        post_signature(&key, &b64).as_str(),
        "3364624b39010d9b06f5d9b8c9a18a6e478d261c048159c92f2fd6fa885f14e6"
    );
    let policy = PostPolicy::from_base64(&b64).unwrap();
    assert_eq!(policy.expiration(), datetime!(2015-12-29 1:00 UTC));
    let form = [
        ("key", "user/user1/photo.jpg"),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        ("x-amz-credential", DOC_CREDENTIAL),
        ("x-amz-date", "20151229T000000Z"),
        ("policy", b64.as_str()),
        (
            "x-amz-signature",
            "3364624b39010d9b06f5d9b8c9a18a6e478d261c048159c92f2fd6fa885f14e6",
        ),
    ];
    policy
        .check(&form, "sigv4examplebucket", datetime!(2015-12-29 0:30 UTC))
        .unwrap();
}

use base64::Engine as _;

#[test]
fn content_length_range() {
    let p = PostPolicy::from_json(
        br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[["content-length-range",5,10]]}"#,
    )
    .unwrap();
    assert_eq!(p.content_length_range(), Some((5, 10)));
    for ok in [5, 7, 10] {
        assert_eq!(p.check_size(ok), Ok(()));
    }
    assert_eq!(
        p.check_size(11),
        Err(PostViolation::TooLarge {
            size: Some(11),
            max: 10
        })
    );
    assert_eq!(
        p.check_size(4),
        Err(PostViolation::TooSmall { size: 4, min: 5 })
    );
    assert_eq!(p.check_size(11).unwrap_err().code(), "EntityTooLarge");
    // Strings that are numbers count; other strings fail the condition.
    let p = PostPolicy::from_json(
        br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[["content-length-range","5","10"]]}"#,
    )
    .unwrap();
    assert_eq!(p.content_length_range(), Some((5, 10)));
    let p = PostPolicy::from_json(
        br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[["Content-Length-Range","test","10"]]}"#,
    )
    .unwrap();
    assert_eq!(
        p.check(&[], "b", datetime!(2020-01-01 0:00 UTC)),
        Err(PostViolation::ConditionFailed(
            r#"["content-length-range", "test", "10"]"#.into()
        ))
    );
    // Several ranges: their intersection.
    let p = PostPolicy::from_json(
        br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[["content-length-range",0,100],["content-length-range",10,1000]]}"#,
    )
    .unwrap();
    assert_eq!(p.content_length_range(), Some((10, 100)));
}

#[test]
fn operators_and_field_names_are_case_insensitive() {
    let p = PostPolicy::from_json(
        br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[{"bUcKeT":"b"},["StArTs-WiTh","$KeY","foo"],{"AcL":"private"}]}"#,
    )
    .unwrap();
    let form = [("kEy", "foo.txt"), ("aCl", "private"), ("pOLICy", "x")];
    // {"bUcKeT": …} names the bucket field in any case.
    assert_eq!(p.check(&form, "b", datetime!(2020-01-01 0:00 UTC)), Ok(()));
    // A name without `$` never matches.
    let p = PostPolicy::from_json(
        br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[["eq","key","foo.txt"]]}"#,
    )
    .unwrap();
    assert_eq!(
        p.check(&[("key", "foo.txt")], "b", datetime!(2020-01-01 0:00 UTC)),
        Err(PostViolation::ConditionFailed(
            r#"["eq", "key", "foo.txt"]"#.into()
        ))
    );
}

#[test]
fn malformed_policies_get_s3s_messages() {
    let cases: &[(&[u8], &str)] = &[
        (b"not json", "Invalid Policy: Invalid JSON."),
        (b"[]", "Invalid Policy: Invalid JSON."),
        (br#"{"conditions":[]}"#, "Invalid Policy: Policy missing expiration."),
        (
            br#"{"expiration":"2100-01-01T00:00:00Z"}"#,
            "Invalid Policy: Policy missing conditions.",
        ),
        (
            br#"{"EXPIRATION":"2100-01-01T00:00:00Z","conditions":[]}"#,
            "Invalid Policy: Unexpected: 'expiration'",
        ),
        (
            br#"{"expiration":"2100-01-01T00:00:00Z","conditions":{}}"#,
            "Invalid Policy: Invalid 'conditions' value: must be a List.",
        ),
        (
            br#"{"expiration":"2011-09-13T07:52:58+02:00","conditions":[]}"#,
            "Invalid Policy: Invalid 'expiration' value: '2011-09-13T07:52:58+02:00'",
        ),
        (
            br#"{"expiration":"2015-10-17 03:15:59 UTC","conditions":[]}"#,
            "Invalid Policy: Invalid 'expiration' value: '2015-10-17 03:15:59 UTC'",
        ),
        (
            br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[{}]}"#,
            "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
        ),
        (
            br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[{"a":"1","b":"2"}]}"#,
            "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
        ),
        (
            br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[{"Content-Length":6199034}]}"#,
            "Invalid Policy: Invalid Simple-Condition: value must be a string.",
        ),
        (
            br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[[]]}"#,
            "Invalid Policy: Invalid Condition: missing operation identifier.",
        ),
        (
            br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[["ends-with","$key","x"]]}"#,
            "Invalid Policy: Invalid Condition: unknown operation 'ends-with'.",
        ),
        (
            br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[["content-length-range",0]]}"#,
            "Invalid Policy: Invalid content-length-range: wrong number of arguments.",
        ),
        (
            br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[["content-length-range",-1,0]]}"#,
            "Invalid Policy: Invalid JSON.",
        ),
        (
            br#"{"expiration":"2100-01-01T00:00:00Z","conditions":[["content-length-range",0,512.0]]}"#,
            "Invalid Policy: Invalid JSON.",
        ),
        (
            br#"{"expiration":"2100-01-01T00:00:00Z","conditions":["key"]}"#,
            "Invalid Policy: Invalid condition test: must be a List or Object.",
        ),
    ];
    for (json, message) in cases {
        let err = PostPolicy::from_json(json).expect_err(&String::from_utf8_lossy(json));
        assert_eq!(
            err.to_string(),
            *message,
            "{}",
            String::from_utf8_lossy(json)
        );
    }
    assert_eq!(
        PostPolicy::from_base64("not base64!")
            .unwrap_err()
            .to_string(),
        "Invalid Policy: invalid Base64 encoding."
    );
}

#[test]
fn form_fields_are_checked_in_s3s_order() {
    let missing = |f: PostFields<'_>| match PostAuth::parse(&f, "us-east-1") {
        Err(PostAuthError::InvalidArgument { argument, message }) => (argument, message),
        other => panic!("{other:?}"),
    };
    let (arg, msg) = missing(PostFields {
        algorithm: None,
        credential: None,
        ..doc_fields()
    });
    assert_eq!(arg, "X-Amz-Algorithm");
    assert_eq!(
        msg,
        "Bucket POST must contain a field named 'X-Amz-Algorithm'.  If it is specified, please check the order of the fields."
    );
    for (fields, name) in [
        (
            PostFields {
                credential: None,
                ..doc_fields()
            },
            "X-Amz-Credential",
        ),
        (
            PostFields {
                date: None,
                ..doc_fields()
            },
            "X-Amz-Date",
        ),
        (
            PostFields {
                signature: None,
                ..doc_fields()
            },
            "X-Amz-Signature",
        ),
        (
            PostFields {
                policy: None,
                ..doc_fields()
            },
            "Policy",
        ),
        (
            PostFields {
                algorithm: Some("AWS4-ECDSA-P256-SHA256"),
                ..doc_fields()
            },
            "X-Amz-Algorithm",
        ),
        (
            PostFields {
                credential: Some("AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3"),
                ..doc_fields()
            },
            "X-Amz-Credential",
        ),
        (
            PostFields {
                credential: Some("AKIAIOSFODNN7EXAMPLE/20151228/us-east-1/s3/aws4_request"),
                ..doc_fields()
            },
            "X-Amz-Credential",
        ),
        (
            PostFields {
                credential: Some("AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/iam/aws4_request"),
                ..doc_fields()
            },
            "X-Amz-Credential",
        ),
        (
            PostFields {
                date: Some("2015-12-29T00:00:00Z"),
                ..doc_fields()
            },
            "X-Amz-Date",
        ),
    ] {
        assert_eq!(missing(fields).0, name, "{fields:?}");
    }
    let Err(PostAuthError::InvalidArgument { message: msg, .. }) =
        PostAuth::parse(&doc_fields(), "ap-northeast-1")
    else {
        panic!("another region must be refused");
    };
    assert_eq!(
        msg,
        "Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong; expecting 'ap-northeast-1'"
    );
    assert!(!PostFields::default().is_signed());
    assert!(
        !PostFields {
            policy: Some("x"),
            ..PostFields::default()
        }
        .is_signed()
    );
    assert!(doc_fields().is_signed());
    // The signature never appears in Debug.
    assert!(!format!("{:?}", doc_fields()).contains(DOC_SIGNATURE));
}

#[test]
fn the_date_is_bounded_by_the_clock() {
    let auth = PostAuth::parse(&doc_fields(), "us-east-1").unwrap();
    let skew = time::Duration::minutes(15);
    let t = datetime!(2015-12-29 0:00 UTC);
    assert_eq!(auth.check_time(t, skew), Ok(()));
    assert_eq!(
        auth.check_time(t - time::Duration::minutes(14), skew),
        Ok(())
    );
    assert_eq!(
        auth.check_time(t - time::Duration::minutes(16), skew),
        Err(PostAuthError::TooSkewed)
    );
    assert_eq!(auth.check_time(t + time::Duration::days(7), skew), Ok(()));
    assert_eq!(
        auth.check_time(
            t + time::Duration::days(7) + time::Duration::seconds(1),
            skew
        ),
        Err(PostAuthError::Expired)
    );
}
