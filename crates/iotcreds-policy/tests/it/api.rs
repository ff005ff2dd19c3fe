//! Public API behaviour not tied to one documentation example.

use iotcreds_policy::{
    Context, ContextValue, ErrorKind, Policy, PolicyKind, PolicyVersion, SizeLimit,
    check_characters, check_size, policy_size,
};

#[test]
fn error_display_names_statement_sid_and_element() {
    let doc = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"First","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
        {"Sid":"Second","Effect":"Allow","Action":"GetObject","Resource":"*"}]}"#;
    let err = Policy::parse(doc, PolicyKind::Identity).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MalformedPolicyDocument);
    assert_eq!(err.statement_index(), Some(1));
    assert_eq!(err.sid(), Some("Second"));
    assert_eq!(err.element(), Some("Action"));
    let shown = err.to_string();
    assert!(
        shown.starts_with(
            "MalformedPolicyDocument: Actions/Conditions must be prefaced by a vendor"
        ),
        "{shown}"
    );
    assert!(
        shown.ends_with("(Statement[1] \"Second\", element Action)"),
        "{shown}"
    );
}

#[test]
fn json_syntax_error_is_malformed() {
    let err = Policy::parse("{\"Version\":", PolicyKind::Identity).unwrap_err();
    assert_eq!(err.code(), "MalformedPolicyDocument");
    assert!(err.message().starts_with("Syntax errors in policy."));
}

#[test]
fn version_and_counts() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},
            {"Sid":"Two","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    assert_eq!(p.version(), PolicyVersion::V2012_10_17);
    assert_eq!(p.version().as_str(), "2012-10-17");
    assert_eq!(p.statement_count(), 2);
    assert_eq!(p.statement_sid(1), Some("Two"));
    assert_eq!(p.statement_sid(0), None);
    assert_eq!(p.kind(), PolicyKind::Identity);
    let old = Policy::parse(
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    assert_eq!(old.version(), PolicyVersion::V2008_10_17);
}

#[test]
fn context_keys_lists_conditions_and_variables() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
            "Resource":"arn:aws:s3:::b/${credentials-iot:ThingName}/*",
            "Condition":{"StringEquals":{"aws:PrincipalTag/team":"${aws:username}"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    assert_eq!(
        p.context_keys(),
        vec![
            "aws:PrincipalTag/team",
            "aws:SourceIp",
            "aws:username",
            "credentials-iot:ThingName"
        ]
    );
    assert_eq!(p.condition_operators(), vec!["IpAddress", "StringEquals"]);
}

#[test]
fn context_is_case_insensitive_and_push_builds_sets() {
    let mut ctx = Context::new();
    ctx.insert("AWS:UserName", "Alice");
    assert_eq!(
        ctx.get("aws:username"),
        Some(&ContextValue::Single("Alice".into()))
    );
    ctx.push("aws:TagKeys", "a");
    ctx.push("AWS:tagkeys", "b");
    assert_eq!(
        ctx.get("aws:tagkeys").map(ContextValue::as_slice),
        Some(&["a".to_owned(), "b".to_owned()][..])
    );
    assert_eq!(ctx.len(), 2);
    assert!(ctx.remove("Aws:UserName").is_some());
    assert!(ctx.get("aws:username").is_none());
    ctx.insert_multi("k", vec![]);
    assert_eq!(ctx.get("K").map(|v| v.as_slice().len()), Some(0));
}

#[test]
fn size_counts_characters_without_whitespace() {
    assert_eq!(policy_size(" { \"a\" :\n\t\"é b\" } "), 10);
    let body = "x".repeat(2048);
    assert!(check_size(&body, SizeLimit::IotPolicy).is_ok());
    let spaced = format!("{body}    \n\n   ");
    assert!(check_size(&spaced, SizeLimit::IotPolicy).is_ok());
    let err = check_size(&format!("{body}x"), SizeLimit::IotPolicy).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    assert_eq!(
        err.to_string(),
        "LimitExceeded: Cannot exceed quota for PolicySize: 2048"
    );
    let err = check_size(&"y".repeat(2049), SizeLimit::TrustPolicy).unwrap_err();
    assert_eq!(
        err.to_string(),
        "LimitExceeded: Cannot exceed quota for ACLSizePerRole: 2048"
    );
    assert!(check_size(&"y".repeat(6144), SizeLimit::Managed).is_ok());
    assert!(check_size(&"y".repeat(6145), SizeLimit::Managed).is_err());
    assert!(check_size(&"y".repeat(10240), SizeLimit::RoleInline).is_ok());
    assert!(check_size(&"y".repeat(10241), SizeLimit::RoleInline).is_err());
    assert!(check_size(&"y".repeat(2049), SizeLimit::UserInline).is_err());
}

#[test]
fn character_set_check() {
    assert!(check_characters("{\"a\":\"café\"}\r\n\t").is_ok());
    assert!(check_characters("{\"a\":\"\u{1F600}\"}").is_err());
    assert!(check_characters("\u{7}").is_err());
}

#[test]
fn policy_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Policy>();
}
