//! Property tests: the matchers against simple reference implementations, and evaluation
//! invariants.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use iotcreds_policy::matching::{arn_match, wildcard_match, wildcard_match_ignore_ascii_case};
use iotcreds_policy::{
    Cidr, Context, Effect, EvalInput, Policy, PolicyKind, PolicyRef, Request, evaluate,
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
