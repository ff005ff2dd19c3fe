//! Token properties: tamper evidence, rotation, expiry bounds.

use iotcreds_token::{
    AccessKeyKind, Claims, KeyMaterial, KeyRing, SessionKind, TokenError, access_key_kind,
    session_expiry,
};
use proptest::prelude::*;

fn material(id: u16, retired: bool) -> KeyMaterial {
    KeyMaterial {
        id,
        material: vec![id as u8; 32],
        retired,
        revoked: false,
    }
}

fn claims(ring: &KeyRing, now: i64) -> Claims {
    Claims {
        access_key_id: ring.new_access_key_id().unwrap(),
        kind: SessionKind::IotCertificate,
        account: "123456789012".into(),
        role_name: "ADCTestRole".into(),
        role_id: "AROAEXAMPLEEXAMPLE12".into(),
        role_path: "/".into(),
        session_name: "ab".repeat(32),
        issued_at_ms: now,
        expires_at_ms: now + 3_600_000,
        certificate_id: Some("ab".repeat(32)),
        thing_name: Some("ADCTestThing".into()),
        thing_type: None,
        source_arn: None,
        tags: vec![("model".into(), "m1".into())],
        transitive_keys: vec![],
    }
}

const NOW: i64 = 1_598_400_000_000;

#[test]
fn round_trip_and_shapes() {
    let ring = KeyRing::new(&[material(7, false)]).unwrap();
    let c = claims(&ring, NOW);
    let token = ring.seal(&c).unwrap();
    assert_eq!(ring.open_for(&token, &c.access_key_id, NOW).unwrap(), c);
    assert!(c.access_key_id.starts_with("ASIA"));
    assert_eq!(c.access_key_id.len(), 20);
    assert_eq!(KeyRing::key_id_of(&c.access_key_id).unwrap(), 7);
    let secret = ring.secret_for(&c.access_key_id).unwrap();
    assert_eq!(secret.expose().len(), 40);
    // Deterministic: any instance derives the same secret.
    let other = KeyRing::new(&[material(7, false)]).unwrap();
    assert_eq!(other.secret_for(&c.access_key_id).unwrap(), secret);
    // Small enough for the 2048-byte credentials body.
    assert!(token.len() < 700, "token is {} chars", token.len());
    assert_eq!(
        c.assumed_role_arn(),
        format!(
            "arn:aws:sts::123456789012:assumed-role/ADCTestRole/{}",
            "ab".repeat(32)
        )
    );
}

#[test]
fn wrong_access_key_and_expiry() {
    let ring = KeyRing::new(&[material(7, false)]).unwrap();
    let c = claims(&ring, NOW);
    let token = ring.seal(&c).unwrap();
    let other_akid = ring.new_access_key_id().unwrap();
    assert_eq!(
        ring.open_for(&token, &other_akid, NOW),
        Err(TokenError::AccessKeyMismatch)
    );
    assert_eq!(ring.open(&token, c.expires_at_ms), Err(TokenError::Expired));
    assert!(ring.open(&token, c.expires_at_ms - 1).is_ok());
}

#[test]
fn a_remembered_token_is_checked_like_a_new_one() {
    let ring = KeyRing::new(&[material(7, false)]).unwrap();
    let c = claims(&ring, NOW);
    let token = ring.seal(&c).unwrap();
    let other_akid = ring.new_access_key_id().unwrap();
    // First use opens it; every later use answers from memory with the same checks.
    for _ in 0..2 {
        assert_eq!(*ring.open_cached(&token, &c.access_key_id, NOW).unwrap(), c);
        assert_eq!(
            ring.open_cached(&token, &other_akid, NOW).map(|_| ()),
            Err(TokenError::AccessKeyMismatch)
        );
        assert_eq!(
            ring.open_cached(&token, &c.access_key_id, c.expires_at_ms)
                .map(|_| ()),
            Err(TokenError::Expired)
        );
    }
    // A token differing in one character is not the remembered one.
    let mut changed = token.clone().into_bytes();
    changed[40] = if changed[40] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8(changed).unwrap();
    assert!(ring.open_cached(&changed, &c.access_key_id, NOW).is_err());
    // Another ring (a reload without the key) remembers nothing.
    let rotated = KeyRing::new(&[material(8, false)]).unwrap();
    assert_eq!(
        rotated
            .open_cached(&token, &c.access_key_id, NOW)
            .map(|_| ()),
        Err(TokenError::UnknownKey)
    );
}

#[test]
fn the_opened_token_memo_is_bounded_in_bytes() {
    // Tokens as large as a session may be (50 session tags of the largest size), opened until
    // the memo has started over several times: it never accounts for more than 16 MiB, and
    // its accounting is no smaller than what the tokens and their claims hold.
    let ring = KeyRing::new(&[material(7, false)]).unwrap();
    let mut largest = 0;
    for i in 0..1500 {
        let mut c = claims(&ring, NOW);
        c.tags = (0..50)
            .map(|t| (format!("{t:02}{}", "k".repeat(126)), "v".repeat(256)))
            .collect();
        c.session_name = format!("s{i}");
        let token = ring.seal(&c).unwrap();
        let before = ring.opened_bytes();
        ring.open_cached(&token, &c.access_key_id, NOW).unwrap();
        let after = ring.opened_bytes();
        assert!(after <= 16 << 20, "{after} bytes");
        if after > before {
            let held: usize =
                token.len() + c.tags.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
            assert!(after - before >= held, "{} < {held}", after - before);
        }
        largest = largest.max(after);
    }
    assert!(largest > 8 << 20, "the memo was used ({largest} bytes)");
}

#[test]
fn rotation_keeps_old_tokens_until_key_deleted() {
    let old = KeyRing::new(&[material(1, false)]).unwrap();
    let c = claims(&old, NOW);
    let token = old.seal(&c).unwrap();
    // Rotate: key 2 seals, key 1 retired but still opens.
    let rotated = KeyRing::new(&[material(1, true), material(2, false)]).unwrap();
    assert_eq!(rotated.active_id(), Some(2));
    assert_eq!(rotated.open(&token, NOW).unwrap(), c);
    assert_eq!(
        rotated.secret_for(&c.access_key_id).unwrap(),
        old.secret_for(&c.access_key_id).unwrap()
    );
    let fresh = claims(&rotated, NOW);
    assert_eq!(KeyRing::key_id_of(&fresh.access_key_id).unwrap(), 2);
    // Still refused after expiry, even though the key is there.
    assert_eq!(
        rotated.open(&token, c.expires_at_ms + 1),
        Err(TokenError::Expired)
    );
    // Key 1 deleted: its tokens and access keys stop working.
    let pruned = KeyRing::new(&[material(2, false)]).unwrap();
    assert_eq!(pruned.open(&token, NOW), Err(TokenError::UnknownKey));
    assert_eq!(
        pruned.secret_for(&c.access_key_id),
        Err(TokenError::InvalidAccessKeyId)
    );
}

#[test]
fn a_wrong_key_with_the_same_id_fails() {
    let a = KeyRing::new(&[material(3, false)]).unwrap();
    let b = KeyRing::new(&[KeyMaterial {
        id: 3,
        material: vec![9; 32],
        retired: false,
        revoked: false,
    }])
    .unwrap();
    let token = a.seal(&claims(&a, NOW)).unwrap();
    assert_eq!(b.open(&token, NOW), Err(TokenError::Invalid));
}

#[test]
fn no_active_key_cannot_seal() {
    let ring = KeyRing::new(&[material(1, true)]).unwrap();
    assert_eq!(ring.new_access_key_id(), Err(TokenError::NoActiveKey));
    assert!(
        KeyRing::new(&[KeyMaterial {
            id: 1,
            material: vec![0; 31],
            retired: false,
            revoked: false,
        }])
        .is_err()
    );
    assert!(KeyRing::new(&[material(1, false), material(1, false)]).is_err());
}

/// A revoked key is remembered by id only: its tokens are refused with its id (and no
/// decryption), its access key ids get no secret, it never seals, and the other keys work on.
#[test]
fn a_revoked_key_refuses_its_tokens_by_id() {
    let before = KeyRing::new(&[material(4, true), material(5, false)]).unwrap();
    let old = before.seal(&claims(&before, NOW)).unwrap();
    // A token of key 4: seal with a ring where 4 is active.
    let four = KeyRing::new(&[material(4, false)]).unwrap();
    let c4 = claims(&four, NOW);
    let t4 = four.seal(&c4).unwrap();

    let revoked = KeyMaterial {
        id: 4,
        material: Vec::new(),
        retired: true,
        revoked: true,
    };
    let after = KeyRing::new(&[revoked, material(5, false)]).unwrap();
    assert_eq!(after.open(&t4, NOW), Err(TokenError::RevokedKey(4)));
    assert!(matches!(
        after.open_cached(&t4, &c4.access_key_id, NOW),
        Err(TokenError::RevokedKey(4))
    ));
    assert!(after.secret_for(&c4.access_key_id).is_err());
    assert!(!after.contains(4));
    assert!(after.is_revoked(4) && !after.is_revoked(5));
    assert_eq!(after.revoked_key_of(&c4.access_key_id), Some(4));
    assert_eq!(after.revoked_ids(), &[4]);
    assert_eq!(after.active_id(), Some(5));
    assert_eq!(
        after.open(&old, NOW).map(|c| c.role_name),
        Ok("ADCTestRole".into())
    );
    // The message a client sees does not say why.
    assert_eq!(
        TokenError::RevokedKey(4).to_string(),
        TokenError::Invalid.to_string()
    );
    // A revoked key alone cannot seal; its id cannot be reused in the same ring.
    let only = KeyRing::new(&[KeyMaterial {
        id: 4,
        material: Vec::new(),
        retired: false,
        revoked: true,
    }])
    .unwrap();
    assert_eq!(only.active_id(), None);
    assert!(
        KeyRing::new(&[
            KeyMaterial {
                id: 4,
                material: Vec::new(),
                retired: true,
                revoked: true,
            },
            material(4, false),
        ])
        .is_err()
    );
}

#[test]
fn access_key_id_validation() {
    for bad in [
        "",
        "ASIA",
        "AKIAAAAAAAAAAAAAAAAA",
        "ASIAaaaaaaaaaaaaaaaa",
        "ASIAAAAAAAAAAAAAAAAAA",
        "ASIA1111111111111111",
    ] {
        assert_eq!(
            KeyRing::key_id_of(bad),
            Err(TokenError::InvalidAccessKeyId),
            "{bad}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any changed byte of the decoded token makes it fail to open.
    #[test]
    fn any_changed_byte_fails(pos in 0usize..4096, flip in 1u8..=255) {
        use base64::Engine as _;
        let ring = KeyRing::new(&[material(5, false)]).unwrap();
        let c = claims(&ring, NOW);
        let token = ring.seal(&c).unwrap();
        let mut raw = base64::engine::general_purpose::STANDARD.decode(&token).unwrap();
        let i = pos % raw.len();
        raw[i] ^= flip;
        let tampered = base64::engine::general_purpose::STANDARD.encode(&raw);
        prop_assert!(ring.open(&tampered, NOW).is_err());
    }

    /// The shape check accepts exactly AWS's `[\w]{16,128}` restricted to our prefixes, and an
    /// accepted temporary id always names a sealing key id.
    #[test]
    fn access_key_shapes_follow_the_model(s in "(AKIA|ASIA|AKID|)[A-Za-z0-9_+/=-]{0,140}") {
        let aws_shape = (16..=128).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        match access_key_kind(&s) {
            Some(AccessKeyKind::LongTerm) => {
                prop_assert!(aws_shape);
                prop_assert!(s.starts_with("AKIA"));
            }
            Some(AccessKeyKind::Temporary) => {
                prop_assert!(aws_shape);
                prop_assert_eq!(s.len(), 20);
                prop_assert!(KeyRing::key_id_of(&s).is_ok());
            }
            None => prop_assert!(
                !aws_shape
                    || !(s.starts_with("AKIA") || s.starts_with("ASIA"))
                    || (s.starts_with("ASIA") && KeyRing::key_id_of(&s).is_err())
            ),
        }
    }

    /// Every id the ring issues passes the shape check as temporary; any string longer than
    /// 128 characters fails it, whatever it holds.
    #[test]
    fn issued_ids_pass_and_long_ones_fail(id in 1u16..=u16::MAX, extra in 129usize..4096) {
        let ring = KeyRing::new(&[material(id, false)]).unwrap();
        let akid = ring.new_access_key_id().unwrap();
        prop_assert_eq!(access_key_kind(&akid), Some(AccessKeyKind::Temporary));
        let long = format!("AKIA{}", "A".repeat(extra - 4));
        prop_assert_eq!(access_key_kind(&long), None);
    }

    /// Arbitrary strings never open and never panic.
    #[test]
    fn garbage_never_opens(s in ".{0,600}") {
        let ring = KeyRing::new(&[material(5, false)]).unwrap();
        prop_assert!(ring.open(&s, NOW).is_err());
    }

    /// Claims survive the record round trip, transitive keys included.
    #[test]
    fn record_round_trip(
        thing in proptest::option::of("[a-zA-Z0-9:_-]{1,128}"),
        tags in proptest::collection::btree_map("[a-z]{1,20}", ".{0,40}", 0..50),
        transitive in proptest::collection::vec(any::<bool>(), 50),
    ) {
        let ring = KeyRing::new(&[material(5, false)]).unwrap();
        let mut c = claims(&ring, NOW);
        c.thing_name = thing;
        c.tags = tags.into_iter().collect();
        c.transitive_keys = c
            .tags
            .iter()
            .zip(&transitive)
            .filter(|(_, t)| **t)
            .map(|((k, _), _)| k.clone())
            .collect();
        let token = ring.seal(&c).unwrap();
        prop_assert_eq!(ring.open(&token, NOW).unwrap(), c);
    }

    /// Expiry is `now + duration` but never passes the certificate's notAfter.
    #[test]
    fn expiry_never_passes_not_after(now in 0i64..4_000_000_000_000, dur in 900i64..=43_200, not_after in 0i64..4_100_000_000_000) {
        let e = session_expiry(now, dur, not_after);
        prop_assert!(e <= not_after);
        prop_assert!(e <= now + dur * 1000);
        prop_assert!(e == not_after || e == now + dur * 1000);
    }
}
