//! Evaluation of a compiled 10-statement device role policy with conditions and variables.
//! Target: at most 1 µs median for `evaluate` on the project's 2-core machine.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use iotcreds_policy::{
    Context, EvalInput, Policy, PolicyKind, PolicyRef, Request, evaluate, evaluate_effect,
};

const ROLE_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ListOwnPrefix", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::fleet-bucket",
     "Condition": {"StringLike": {"s3:prefix": ["${credentials-iot:ThingName}/*", "shared/*"]}}},
    {"Sid": "OwnObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
     "Resource": "arn:aws:s3:::fleet-bucket/${credentials-iot:ThingName}/*"},
    {"Sid": "Firmware", "Effect": "Allow", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::firmware/${credentials-iot:ThingTypeName, 'generic'}/*"},
    {"Sid": "NoDeletes", "Effect": "Deny", "Action": ["s3:DeleteObject", "s3:DeleteBucket"], "Resource": "*"},
    {"Sid": "TlsOnly", "Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Sid": "SiteNetworks", "Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"NotIpAddressIfExists": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"]}}},
    {"Sid": "Video", "Effect": "Allow", "Action": ["kinesisvideo:PutMedia", "kinesisvideo:DescribeStream"],
     "Resource": "arn:aws:kinesisvideo:*:*:stream/${credentials-iot:ThingName}/*"},
    {"Sid": "Telemetry", "Effect": "Allow", "Action": "iot:Publish",
     "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/telemetry/${credentials-iot:ThingName}",
     "Condition": {"StringEquals": {"aws:PrincipalTag/fleet": "prod"}}},
    {"Sid": "Sunset", "Effect": "Deny", "Action": "s3:PutObject", "Resource": "*",
     "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2035-01-01T00:00:00Z"}}},
    {"Sid": "Registry", "Effect": "Allow", "Action": "dynamodb:GetItem",
     "Resource": "arn:aws:dynamodb:eu-west-1:123456789012:table/things",
     "Condition": {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["state", "firmware"]},
                   "StringEquals": {"dynamodb:LeadingKeys": "${credentials-iot:ThingName}"}}}
  ]
}"#;

fn context() -> Context {
    let mut ctx = Context::new();
    ctx.insert("credentials-iot:ThingName", "sensor-0042");
    ctx.insert("credentials-iot:ThingTypeName", "TemperatureSensor");
    ctx.insert(
        "credentials-iot:AwsCertificateId",
        "9f2b1c7d3e4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e",
    );
    ctx.insert("aws:SourceIp", "10.20.30.40");
    ctx.insert("aws:SecureTransport", "true");
    ctx.insert("aws:CurrentTime", "2025-06-01T12:34:56Z");
    ctx.insert("aws:PrincipalTag/fleet", "prod");
    ctx.insert(
        "aws:PrincipalArn",
        "arn:aws:iam::123456789012:role/DeviceRole",
    );
    ctx
}

fn bench(c: &mut Criterion) {
    let policy = Policy::parse(ROLE_POLICY, PolicyKind::Identity).expect("bench policy parses");
    assert_eq!(policy.statement_count(), 10);
    let ctx = context();
    let refs = [PolicyRef {
        id: "arn:aws:iam::123456789012:role/DeviceRole",
        policy: &policy,
    }];
    let input = EvalInput {
        identity: &refs,
        resource: &[],
        session: None,
        boundary: None,
        request: Request {
            action: "s3:PutObject",
            resource: "arn:aws:s3:::fleet-bucket/sensor-0042/2025/06/01/readings.json",
            principal: None,
            context: &ctx,
        },
    };
    assert!(evaluate(&input).is_allowed());
    let denied = EvalInput {
        request: Request {
            resource: "arn:aws:s3:::fleet-bucket/sensor-0043/2025/06/01/readings.json",
            ..input.request
        },
        ..input
    };
    assert!(!evaluate(&denied).is_allowed());

    c.bench_function("evaluate/allow_10_statements", |b| {
        b.iter(|| evaluate(black_box(&input)))
    });
    c.bench_function("evaluate/implicit_deny_10_statements", |b| {
        b.iter(|| evaluate(black_box(&denied)))
    });
    c.bench_function("evaluate_effect/allow_10_statements", |b| {
        b.iter(|| evaluate_effect(black_box(&input)))
    });
    c.bench_function("parse/10_statements", |b| {
        b.iter(|| Policy::parse(black_box(ROLE_POLICY), PolicyKind::Identity))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
