//! Parse arbitrary text as a policy of every kind and, when it parses, evaluate requests made
//! from the rest of the input: never panics, and the explained and the fast evaluations agree.
//! Also: `Policy::validate` (every target) never accepts what `Policy::parse` refuses, and its
//! errors always carry a message; a permissions boundary never grants; evaluation never panics
//! on condition values of the wrong type (the policy text and the context are both free-form,
//! and each typed operator is also tried against the context values).
//!
//! Input layout: `<policy text> \0 <action> \n <resource> \n <KEY=VALUE> \n ...`; the first byte
//! of the policy text also picks the request principal.
#![no_main]

use iotcreds_policy::matching::{arn_match, wildcard_match};
use iotcreds_policy::{
    Context, Effect, EvalInput, Policy, PolicyKind, PolicyRef, Request, RequestPrincipal, SizeLimit, Target, check_size,
    evaluate, evaluate_effect,
};
use libfuzzer_sys::fuzz_target;

const KINDS: [PolicyKind; 5] =
    [PolicyKind::Identity, PolicyKind::Trust, PolicyKind::Resource, PolicyKind::Iot, PolicyKind::Session];
const TARGETS: [Target; 4] = [Target::ManagedPolicy, Target::InlinePolicy, Target::TrustPolicy, Target::IotPolicy];
const TYPED: [&str; 10] = [
    "NumericLessThan",
    "NumericNotEquals",
    "DateGreaterThan",
    "DateNotEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnLike",
    "ArnNotEquals",
    "Bool",
    "BinaryEquals",
];

/// `s` as the inside of a JSON string.
fn json_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn check(input: &EvalInput<'_>) {
    let decision = evaluate(input);
    assert_eq!(decision.effect, evaluate_effect(input));
    assert!(!decision.is_allowed() || !decision.matched.is_empty());
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (policy_text, request_text) = text.split_once('\0').unwrap_or((text, "s3:GetObject\narn:aws:s3:::b/k"));
    let _ = check_size(policy_text, SizeLimit::IotPolicy);

    let mut lines = request_text.split('\n');
    let action = lines.next().unwrap_or_default();
    let resource = lines.next().unwrap_or_default();
    let mut context = Context::new();
    let mut pairs = Vec::new();
    for line in lines {
        if let Some((k, v)) = line.split_once('=') {
            context.push(k, v);
            pairs.push((k, v));
        }
    }
    let _ = wildcard_match(action, resource);
    let _ = arn_match(action, resource);

    let principal = match policy_text.len() % 4 {
        0 => RequestPrincipal::Service("credentials.iot.amazonaws.com".into()),
        1 => RequestPrincipal::Aws { arn: resource.into(), account: "123456789012".into() },
        2 => RequestPrincipal::Anonymous,
        _ => RequestPrincipal::Federated(action.into()),
    };
    let request = Request { action, resource, principal: Some(&principal), context: &context };
    for target in TARGETS {
        match Policy::validate(policy_text, target) {
            Ok(_) => assert!(Policy::parse(policy_text, target.kind()).is_ok()),
            Err(e) => assert!(!e.message().is_empty()),
        }
    }
    for kind in KINDS {
        let Ok(policy) = Policy::parse(policy_text, kind) else { continue };
        let _ = policy.context_keys();
        let refs = [PolicyRef { id: "fuzz", policy: &policy }];
        for (identity, resource_policies, session) in [
            (&refs[..], &[][..], None),
            (&[][..], &refs[..], None),
            (&refs[..], &refs[..], Some(&refs[..])),
        ] {
            let input = EvalInput { identity, resource: resource_policies, session, boundary: None, request };
            check(&input);
            // The same policy as a boundary: it can only take away.
            let bounded = EvalInput { boundary: Some(&refs[..]), ..input };
            check(&bounded);
            if resource_policies.is_empty() && session.is_none() {
                assert!(evaluate_effect(&bounded) != Effect::Allow || evaluate_effect(&input) == Effect::Allow);
            }
        }
    }
    // Each typed operator against each context value, with the policy's text as one of its
    // values: wrong types on either side never panic, and positive and negated never both hold.
    for (key, value) in pairs.iter().take(4) {
        for operator in TYPED {
            let document = format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{{"{operator}":{{"{}":["{}","{}"]}}}}}}}}"#,
                json_text(key),
                json_text(value),
                json_text(&policy_text.chars().take(32).collect::<String>()),
            );
            let Ok(policy) = Policy::parse(&document, PolicyKind::Identity) else { continue };
            let refs = [PolicyRef { id: "typed", policy: &policy }];
            check(&EvalInput { identity: &refs, resource: &[], session: None, boundary: None, request });
        }
    }
});
