//! The simulator, its report and the `KEY=VALUE` context parser.

use iotcreds_policy::simulate::{
    ContextArgError, PolicyDocument, Simulation, format_report, parse_context_args, simulate,
};
use iotcreds_policy::{ContextValue, Effect, PolicyKind, PolicySource, RequestPrincipal};

const ROLE: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"OwnPrefix","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],
   "Resource":"arn:aws:s3:::fleet/${credentials-iot:ThingName}/*"},
  {"Sid":"NoDeletes","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#;

const BOUNDARY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;

fn run(
    action: &str,
    resource: &str,
    args: &[&str],
    boundary: &[PolicyDocument<'_>],
) -> iotcreds_policy::simulate::SimulationResult {
    let context = parse_context_args(args).expect("context");
    let policies = [PolicyDocument {
        id: "arn:aws:iam::123456789012:policy/device",
        text: ROLE,
        kind: PolicyKind::Identity,
    }];
    simulate(&Simulation {
        policies: &policies,
        boundary,
        action,
        resource,
        principal: None,
        context: &context,
    })
    .expect("simulation")
}

#[test]
fn allowed_names_the_statement() {
    let r = run(
        "s3:PutObject",
        "arn:aws:s3:::fleet/t1/a",
        &["credentials-iot:ThingName=t1"],
        &[],
    );
    assert_eq!(r.decision, Effect::Allow);
    assert_eq!(r.matched.len(), 1);
    assert_eq!(r.matched[0].index, 0);
    assert_eq!(r.matched[0].sid.as_deref(), Some("OwnPrefix"));
    assert_eq!(r.matched[0].source, PolicySource::Identity);
    let report = format_report(&r);
    assert!(report.starts_with("Decision: allowed\n"), "{report}");
    assert!(report.contains("Allow identity policy \"arn:aws:iam::123456789012:policy/device\" statement 0 (Sid \"OwnPrefix\")"), "{report}");
}

#[test]
fn explicit_deny_is_explained() {
    let r = run(
        "s3:DeleteObject",
        "arn:aws:s3:::fleet/t1/a",
        &["credentials-iot:ThingName=t1"],
        &[],
    );
    assert_eq!(r.decision.as_str(), "explicitDeny");
    assert_eq!(r.matched[0].sid.as_deref(), Some("NoDeletes"));
    assert!(format_report(&r).contains("Denied explicitly by:"));
}

#[test]
fn implicit_deny_reports_missing_context() {
    let r = run("s3:GetObject", "arn:aws:s3:::fleet/t1/a", &[], &[]);
    assert_eq!(r.decision.as_str(), "implicitDeny");
    assert!(r.matched.is_empty());
    assert_eq!(
        r.missing_context_values,
        vec!["credentials-iot:ThingName".to_owned()]
    );
    let report = format_report(&r);
    assert!(
        report.contains("No statement allows this request"),
        "{report}"
    );
    assert!(
        report.contains("Missing context values: credentials-iot:ThingName"),
        "{report}"
    );
}

#[test]
fn boundary_cut_is_shown_as_partial_allow() {
    let boundary = [PolicyDocument {
        id: "boundary",
        text: BOUNDARY,
        kind: PolicyKind::Identity,
    }];
    let r = run(
        "s3:PutObject",
        "arn:aws:s3:::fleet/t1/a",
        &["credentials-iot:ThingName=t1"],
        &boundary,
    );
    assert_eq!(r.decision, Effect::ImplicitDeny);
    assert_eq!(r.partial_allows.len(), 1);
    assert!(format_report(&r).contains("permissions boundary or session policy"));
    let r = run(
        "s3:GetObject",
        "arn:aws:s3:::fleet/t1/a",
        &["credentials-iot:ThingName=t1"],
        &boundary,
    );
    assert_eq!(r.decision, Effect::Allow);
    assert_eq!(r.matched.len(), 2);
}

#[test]
fn trust_policy_simulation() {
    let trust = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"credentials.iot.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
    let policies = [PolicyDocument {
        id: "trust",
        text: trust,
        kind: PolicyKind::Trust,
    }];
    let principal = RequestPrincipal::Service("credentials.iot.amazonaws.com".into());
    let context = parse_context_args(Vec::<String>::new()).expect("empty context");
    let r = simulate(&Simulation {
        policies: &policies,
        boundary: &[],
        action: "sts:AssumeRole",
        resource: "arn:aws:iam::123456789012:role/ADCTestRole",
        principal: Some(&principal),
        context: &context,
    })
    .expect("simulation");
    assert_eq!(r.decision, Effect::Allow);
    assert_eq!(r.matched[0].source, PolicySource::Resource);
}

#[test]
fn bad_document_names_the_policy() {
    let policies = [PolicyDocument {
        id: "broken.json",
        text: "{",
        kind: PolicyKind::Identity,
    }];
    let context = parse_context_args(["a=b"]).expect("context");
    let err = simulate(&Simulation {
        policies: &policies,
        boundary: &[],
        action: "s3:GetObject",
        resource: "*",
        principal: None,
        context: &context,
    })
    .unwrap_err();
    assert_eq!(err.policy_id, "broken.json");
    assert!(
        err.to_string()
            .starts_with("policy broken.json: MalformedPolicyDocument: Syntax errors in policy.")
    );
}

#[test]
fn context_args_syntax() {
    let ctx = parse_context_args([
        "aws:SourceIp=203.0.113.7",
        "aws:TagKeys=env",
        "AWS:TagKeys=team",
        "s3:prefix=",
        "x:query=a=b",
    ])
    .expect("valid args");
    assert_eq!(
        ctx.get("aws:sourceip"),
        Some(&ContextValue::Single("203.0.113.7".into()))
    );
    assert_eq!(
        ctx.get("aws:tagkeys"),
        Some(&ContextValue::Multi(vec!["env".into(), "team".into()]))
    );
    assert_eq!(
        ctx.get("s3:prefix"),
        Some(&ContextValue::Single(String::new()))
    );
    assert_eq!(
        ctx.get("x:query"),
        Some(&ContextValue::Single("a=b".into()))
    );
    for bad in ["novalue", "=value", "has space=1"] {
        assert_eq!(
            parse_context_args([bad]).unwrap_err(),
            ContextArgError { arg: bad.into() }
        );
    }
}
