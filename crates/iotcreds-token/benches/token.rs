//! Cost of issuing (access key id + seal + secret) and of opening a session token.

use criterion::{Criterion, criterion_group, criterion_main};
use iotcreds_token::{Claims, KeyMaterial, KeyRing, SessionKind};

fn bench(c: &mut Criterion) {
    let ring = KeyRing::new(&[KeyMaterial {
        id: 1,
        material: vec![1; 32],
        retired: false,
        revoked: false,
    }])
    .unwrap();
    let make = |ring: &KeyRing| Claims {
        access_key_id: ring.new_access_key_id().unwrap(),
        kind: SessionKind::IotCertificate,
        account: "123456789012".into(),
        role_name: "ADCTestRole".into(),
        role_id: "AROAEXAMPLEEXAMPLE12".into(),
        role_path: "/".into(),
        session_name: "ab".repeat(32),
        issued_at_ms: 1,
        expires_at_ms: i64::MAX,
        certificate_id: Some("ab".repeat(32)),
        thing_name: Some("ADCTestThing".into()),
        thing_type: None,
        source_arn: None,
        tags: vec![],
        transitive_keys: vec![],
    };
    c.bench_function("issue", |b| {
        b.iter(|| {
            let claims = make(&ring);
            let token = ring.seal(&claims).unwrap();
            let secret = ring.secret_for(&claims.access_key_id).unwrap();
            (token, secret)
        })
    });
    let claims = make(&ring);
    let token = ring.seal(&claims).unwrap();
    c.bench_function("open", |b| {
        b.iter(|| ring.open_for(&token, &claims.access_key_id, 2).unwrap())
    });
    c.bench_function("secret_for", |b| {
        b.iter(|| ring.secret_for(&claims.access_key_id).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
