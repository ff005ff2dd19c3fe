//! Parse arbitrary text as a policy of every kind and, when it parses, evaluate requests made
//! from the rest of the input: never panics, and the explained and the fast evaluations agree.
//!
//! Input layout: `<policy text> \0 <action> \n <resource> \n <KEY=VALUE> \n ...`; the first byte
//! of the policy text also picks the request principal.
#![no_main]

use iotcreds_policy::matching::{arn_match, wildcard_match};
use iotcreds_policy::{
    Context, EvalInput, Policy, PolicyKind, PolicyRef, Request, RequestPrincipal, SizeLimit, check_size, evaluate,
    evaluate_effect,
};
use libfuzzer_sys::fuzz_target;

const KINDS: [PolicyKind; 5] =
    [PolicyKind::Identity, PolicyKind::Trust, PolicyKind::Resource, PolicyKind::Iot, PolicyKind::Session];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (policy_text, request_text) = text.split_once('\0').unwrap_or((text, "s3:GetObject\narn:aws:s3:::b/k"));
    let _ = check_size(policy_text, SizeLimit::IotPolicy);

    let mut lines = request_text.split('\n');
    let action = lines.next().unwrap_or_default();
    let resource = lines.next().unwrap_or_default();
    let mut context = Context::new();
    for line in lines {
        if let Some((k, v)) = line.split_once('=') {
            context.push(k, v);
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
    for kind in KINDS {
        let Ok(policy) = Policy::parse(policy_text, kind) else { continue };
        let _ = policy.context_keys();
        let refs = [PolicyRef { id: "fuzz", policy: &policy }];
        let request = Request { action, resource, principal: Some(&principal), context: &context };
        for (identity, resource_policies, session) in [
            (&refs[..], &[][..], None),
            (&[][..], &refs[..], None),
            (&refs[..], &refs[..], Some(&refs[..])),
        ] {
            let input = EvalInput { identity, resource: resource_policies, session, boundary: None, request };
            let decision = evaluate(&input);
            assert_eq!(decision.effect, evaluate_effect(&input));
            assert!(!decision.is_allowed() || !decision.matched.is_empty());
        }
    }
});
