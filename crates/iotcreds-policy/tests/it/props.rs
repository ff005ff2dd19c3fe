//! Property tests: the matchers against simple reference implementations, and evaluation
//! invariants.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use iotcreds_policy::matching::{arn_match, wildcard_match, wildcard_match_ignore_ascii_case};
use iotcreds_policy::{
    Cidr, Context, Effect, EvalInput, Policy, PolicyKind, PolicyRef, Request, Target, evaluate,
    evaluate_effect,
};
use proptest::prelude::*;

/// Reference wildcard matcher: plain recursion over characters (exponential, fine for the
/// short strings generated here).
fn ref_glob(p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => (0..=t.len()).any(|i| ref_glob(rest, &t[i..])),
        Some(('?', rest)) => !t.is_empty() && ref_glob(rest, &t[1..]),
        Some((c, rest)) => t.first() == Some(c) && ref_glob(rest, &t[1..]),
    }
}

fn glob_str(p: &str, t: &str) -> bool {
    let p: Vec<char> = p.chars().collect();
    let t: Vec<char> = t.chars().collect();
    ref_glob(&p, &t)
}

/// Reference ARN matcher: split both sides at the first five colons, match segment by
/// segment; a shorter pattern whose last segment ends in `*` lets that segment take the rest.
fn ref_arn(p: &str, v: &str) -> bool {
    let ps: Vec<&str> = p.splitn(6, ':').collect();
    let vs: Vec<&str> = v.splitn(6, ':').collect();
    let n = ps.len();
    if n == vs.len() {
        ps.iter().zip(&vs).all(|(a, b)| glob_str(a, b))
    } else if vs.len() > n && ps[n - 1].ends_with('*') {
        ps[..n - 1].iter().zip(&vs).all(|(a, b)| glob_str(a, b))
            && glob_str(ps[n - 1], &vs[n - 1..].join(":"))
    } else {
        false
    }
}

fn pattern_chars() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just('a'),
            Just('b'),
            Just('*'),
            Just('?'),
            Just('/'),
            Just('é')
        ],
        0..10,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn text_chars() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![Just('a'), Just('b'), Just('/'), Just('é'), Just('*')],
        0..12,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn arn_like(parts: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    proptest::collection::vec(parts, 1..8).prop_map(|v| v.join(":"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn wildcard_matches_reference(p in pattern_chars(), t in text_chars()) {
        prop_assert_eq!(wildcard_match(&p, &t), glob_str(&p, &t), "pattern {:?} text {:?}", p, t);
    }

    #[test]
    fn wildcard_ignore_ascii_case_matches_reference(
        p in "[aAbB*?]{0,8}",
        t in "[aAbB]{0,10}",
    ) {
        let expected = glob_str(&p.to_ascii_lowercase(), &t.to_ascii_lowercase());
        prop_assert_eq!(wildcard_match_ignore_ascii_case(&p, &t), expected);
    }

    #[test]
    fn pattern_always_matches_itself_when_literal(t in text_chars()) {
        let literal: String = t.chars().filter(|c| *c != '*' && *c != '?').collect();
        prop_assert!(wildcard_match(&literal, &literal));
        prop_assert!(wildcard_match("*", &t));
    }

    #[test]
    fn arn_segments_match_reference(
        p in arn_like("[ab*?/]{0,4}".prop_map(String::from)),
        v in arn_like("[ab/]{0,4}".prop_map(String::from)),
    ) {
        prop_assert_eq!(arn_match(&p, &v), ref_arn(&p, &v), "pattern {:?} value {:?}", p, v);
    }

    #[test]
    fn arn_wildcard_in_region_never_crosses_colon(
        region in "[a-z0-9-]{1,8}",
        account in "[0-9]{12}",
        extra in "[a-z]{1,5}",
    ) {
        let pattern = "arn:aws:sqs:*:111122223333:queue";
        let crossing = format!("arn:aws:sqs:{region}:{extra}:111122223333:queue");
        prop_assert!(!arn_match(pattern, &crossing));
        let proper = format!("arn:aws:sqs:{region}:111122223333:queue");
        prop_assert!(arn_match(pattern, &proper));
        let other = format!("arn:aws:sqs:{region}:{account}:queue");
        prop_assert_eq!(arn_match(pattern, &other), account == "111122223333");
    }

    #[test]
    fn arn_resource_part_star_spans_slash_and_colon(path in "[a-z/:]{0,20}") {
        let value = format!("arn:aws:s3:::bucket/{path}");
        prop_assert!(arn_match("arn:aws:s3:::bucket/*", &value));
    }

    #[test]
    fn cidr_v4_matches_integer_range(net in any::<u32>(), prefix in 0u8..=32, addr in any::<u32>()) {
        let cidr = Cidr::parse(&format!("{}/{prefix}", Ipv4Addr::from(net))).expect("valid CIDR");
        let size = 1u64 << (32 - u32::from(prefix));
        let start = u64::from(net) / size * size;
        let inside = (start..start + size).contains(&u64::from(addr));
        prop_assert_eq!(cidr.contains(IpAddr::V4(Ipv4Addr::from(addr))), inside);
        prop_assert_eq!(cidr.prefix_len(), prefix);
    }

    #[test]
    fn cidr_v4_contains_every_host_of_its_range(net in any::<u32>(), prefix in 0u8..=32, host in any::<u32>()) {
        let host_mask = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
        let cidr = Cidr::parse(&format!("{}/{prefix}", Ipv4Addr::from(net))).expect("valid CIDR");
        let addr = (net & !host_mask) | (host & host_mask);
        prop_assert!(cidr.contains(IpAddr::V4(Ipv4Addr::from(addr))));
    }

    #[test]
    fn cidr_v6_matches_integer_range(net in any::<u128>(), prefix in 0u8..=128, addr in any::<u128>(), near in any::<bool>()) {
        let cidr = Cidr::parse(&format!("{}/{prefix}", Ipv6Addr::from(net))).expect("valid CIDR");
        // Half of the cases pick an address that shares the network's top bits.
        let addr = if near { (net & !(u128::MAX >> 1)) | (addr >> 1) } else { addr };
        let shift = 128 - u32::from(prefix);
        let inside = if shift == 128 { true } else { (addr >> shift) == (net >> shift) };
        prop_assert_eq!(cidr.contains(IpAddr::V6(Ipv6Addr::from(addr))), inside);
    }

    #[test]
    fn cidr_families_never_mix(v4 in any::<u32>(), prefix in 0u8..=32) {
        let cidr = Cidr::parse(&format!("{}/{prefix}", Ipv4Addr::from(v4))).expect("valid CIDR");
        let mapped = Ipv4Addr::from(v4).to_ipv6_mapped();
        prop_assert!(!cidr.contains(IpAddr::V6(mapped)));
    }

    #[test]
    fn explicit_deny_always_wins(
        action in prop_oneof![Just("s3:GetObject"), Just("s3:PutObject"), Just("iam:GetUser")],
        thing in "[a-z]{1,6}",
        deny_first in any::<bool>(),
    ) {
        let allow = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            PolicyKind::Identity,
        ).expect("allow policy");
        let deny = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::fleet/${credentials-iot:ThingName}/*"}}"#,
            PolicyKind::Identity,
        ).expect("deny policy");
        let mut ctx = Context::new();
        ctx.insert("credentials-iot:ThingName", thing.clone());
        let resource = format!("arn:aws:s3:::fleet/{thing}/x");
        let refs = if deny_first {
            [PolicyRef { id: "deny", policy: &deny }, PolicyRef { id: "allow", policy: &allow }]
        } else {
            [PolicyRef { id: "allow", policy: &allow }, PolicyRef { id: "deny", policy: &deny }]
        };
        let input = EvalInput {
            identity: &refs,
            resource: &[],
            session: None,
            boundary: None,
            request: Request { action, resource: &resource, principal: None, context: &ctx },
        };
        let decision = evaluate(&input);
        prop_assert_eq!(decision.effect, Effect::ExplicitDeny);
        prop_assert_eq!(evaluate_effect(&input), Effect::ExplicitDeny);
        prop_assert!(decision.matched.iter().all(|m| m.policy_id == "deny"));
    }

    #[test]
    fn thing_scoping_only_allows_own_prefix(own in "[a-zA-Z0-9_-]{1,10}", other in "[a-zA-Z0-9_*?-]{1,10}") {
        let policy = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::fleet/${credentials-iot:ThingName}/*"}}"#,
            PolicyKind::Identity,
        ).expect("policy");
        let mut ctx = Context::new();
        ctx.insert("credentials-iot:ThingName", other.clone());
        let resource = format!("arn:aws:s3:::fleet/{own}/data");
        let refs = [PolicyRef { id: "role", policy: &policy }];
        let input = EvalInput {
            identity: &refs,
            resource: &[],
            session: None,
            boundary: None,
            request: Request { action: "s3:GetObject", resource: &resource, principal: None, context: &ctx },
        };
        prop_assert_eq!(evaluate(&input).is_allowed(), own == other);
    }
}

/// A value of any of the condition types, or of none: numbers, dates (ISO 8601 and epoch),
/// IP addresses and CIDRs, ARNs, Booleans, base64 text and garbage.
fn condition_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..200).prop_map(|n| n.to_string()),
        Just("1.5".to_owned()),
        Just("ten".to_owned()),
        (1_500_000_000i64..1_600_000_000).prop_map(|n| n.to_string()),
        Just("2020-01-01T00:00:00Z".to_owned()),
        Just("2020-01-01".to_owned()),
        Just("2020-13-01".to_owned()),
        Just("10.0.0.0/8".to_owned()),
        Just("10.1.2.3".to_owned()),
        Just("2001:db8::/32".to_owned()),
        Just("10.0.0.0/33".to_owned()),
        Just("arn:aws:s3:::b/k".to_owned()),
        Just("arn:aws:s3:::b/*".to_owned()),
        Just("not-an-arn".to_owned()),
        Just("true".to_owned()),
        Just("FALSE".to_owned()),
        Just("QmluYXJ5".to_owned()),
        Just("%%%".to_owned()),
        Just(String::new()),
        "[a-z0-9:/.*-]{0,12}",
    ]
}

/// Operators with a negated twin: (positive, negated).
const TWINS: [(&str, &str); 7] = [
    ("StringEquals", "StringNotEquals"),
    ("StringLike", "StringNotLike"),
    ("NumericEquals", "NumericNotEquals"),
    ("DateEquals", "DateNotEquals"),
    ("IpAddress", "NotIpAddress"),
    ("ArnEquals", "ArnNotEquals"),
    ("ArnLike", "ArnNotLike"),
];

fn allowed_with(operator: &str, policy_values: &[String], context: &Context) -> bool {
    let condition = serde_json::json!({ operator: { "k": policy_values } });
    let document = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition}
    });
    let policy = Policy::parse(&document.to_string(), PolicyKind::Identity)
        .expect("any condition value is accepted by parse");
    let refs = [PolicyRef {
        id: "p",
        policy: &policy,
    }];
    let input = EvalInput {
        identity: &refs,
        resource: &[],
        session: None,
        boundary: None,
        request: Request {
            action: "s3:GetObject",
            resource: "arn:aws:s3:::b/k",
            principal: None,
            context,
        },
    };
    let decision = evaluate(&input);
    assert_eq!(decision.effect, evaluate_effect(&input));
    decision.is_allowed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// An operator and its negation never both hold; with a value of the wrong type neither
    /// does, and with a missing key exactly the negation does (IAM User Guide, "Condition
    /// operators": negated operators are true for a missing key).
    #[test]
    fn an_operator_and_its_negation_never_both_hold(
        twin in 0..TWINS.len(),
        policy_values in proptest::collection::vec(condition_value(), 0..3),
        request in proptest::option::of(condition_value()),
    ) {
        let (positive, negated) = TWINS[twin];
        let mut context = Context::new();
        if let Some(v) = &request {
            context.insert("k", v.clone());
        }
        let pos = allowed_with(positive, &policy_values, &context);
        let neg = allowed_with(negated, &policy_values, &context);
        prop_assert!(!(pos && neg), "{positive} and {negated} both hold for {policy_values:?} / {request:?}");
        if request.is_none() {
            prop_assert!(!pos && neg);
        }
    }

    /// A permissions boundary only ever takes permissions away from identity policies.
    #[test]
    fn a_boundary_never_grants(
        identity_actions in proptest::collection::vec(prop_oneof![Just("s3:*"), Just("s3:Get*"), Just("s3:PutObject"), Just("iam:*")], 1..3),
        boundary_actions in proptest::collection::vec(prop_oneof![Just("s3:*"), Just("s3:GetObject"), Just("iot:*"), Just("*")], 1..3),
        boundary_denies in any::<bool>(),
        action in prop_oneof![Just("s3:GetObject"), Just("s3:PutObject"), Just("iam:GetUser"), Just("iot:Connect")],
    ) {
        let identity = Policy::parse(
            &serde_json::json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": identity_actions, "Resource": "*"}}).to_string(),
            PolicyKind::Identity,
        ).expect("identity");
        let mut statements = vec![serde_json::json!({"Effect": "Allow", "Action": boundary_actions, "Resource": "*"})];
        if boundary_denies {
            statements.push(serde_json::json!({"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}));
        }
        let boundary = Policy::parse(
            &serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string(),
            PolicyKind::Identity,
        ).expect("boundary");
        let context = Context::new();
        let ids = [PolicyRef { id: "identity", policy: &identity }];
        let bounds = [PolicyRef { id: "boundary", policy: &boundary }];
        let request = Request { action, resource: "*", principal: None, context: &context };
        let without = evaluate(&EvalInput { identity: &ids, resource: &[], session: None, boundary: None, request });
        let with_boundary = EvalInput { identity: &ids, resource: &[], session: None, boundary: Some(&bounds), request };
        let with = evaluate(&with_boundary);
        prop_assert_eq!(with.effect, evaluate_effect(&with_boundary));
        prop_assert!(!with.is_allowed() || without.is_allowed());
        let boundary_alone = evaluate(&EvalInput { identity: &[], resource: &[], session: None, boundary: Some(&bounds), request });
        prop_assert!(!boundary_alone.is_allowed());
    }

    /// `Policy::validate` is `Policy::parse` plus write-time rules: what it accepts, `parse`
    /// accepts; its errors carry AWS's wording (AWS IoT's for IoT policies) and a location.
    #[test]
    fn validate_is_stricter_than_parse(
        version in prop_oneof![Just(None), Just(Some("2012-10-17")), Just(Some("2008-10-17"))],
        effect in prop_oneof![Just("Allow"), Just("Deny"), Just("allow")],
        action in prop_oneof![Just("s3:GetObject"), Just("s3:Get:Object"), Just("a b:Get"), Just("sts:AssumeRole"), Just("GetObject"), Just("*")],
        resource in prop_oneof![Just("*"), Just("arn:aws:s3:::b/*"), Just("arn:aws-cn:s3:::b"), Just("arn:aws:iam:us-east-1::user/x"), Just("arn:aws:iam::123456789012:widget/x"), Just("bucket"), Just("arn:aws:s3::b")],
        date in prop_oneof![Just("2020-01-01T00:00:00Z"), Just("1577836800"), Just("yesterday")],
        principal in prop_oneof![Just(None), Just(Some("*")), Just(Some("123456789012")), Just(Some("12345")), Just(Some("arn:aws:iam::123456789012:role/R"))],
        with_resource in any::<bool>(),
        target in prop_oneof![Just(Target::ManagedPolicy), Just(Target::InlinePolicy), Just(Target::TrustPolicy), Just(Target::IotPolicy)],
    ) {
        let mut statement = serde_json::json!({"Effect": effect, "Action": action,
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": date}}});
        if with_resource {
            statement["Resource"] = resource.into();
        }
        if let Some(p) = principal {
            statement["Principal"] = serde_json::json!({"AWS": p});
        }
        let mut document = serde_json::json!({"Statement": statement});
        if let Some(v) = version {
            document["Version"] = v.into();
        }
        let text = document.to_string();
        match Policy::validate(&text, target) {
            Ok(_) => prop_assert!(Policy::parse(&text, target.kind()).is_ok(), "{text}"),
            Err(e) => {
                prop_assert_eq!(e.code(), "MalformedPolicyDocument");
                prop_assert!(!e.message().is_empty());
                prop_assert!(e.statement_index().is_some() || e.element().is_some() || e.detail().is_some(), "{e}");
                prop_assert_eq!(target == Target::IotPolicy, e.message().starts_with("Policy document is Malformed:"), "{}", e);
            }
        }
    }
}
