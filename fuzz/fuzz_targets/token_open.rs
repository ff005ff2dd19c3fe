//! Open arbitrary bytes as a session token and as an access key id: never panics, never opens;
//! the access key id shape check never accepts what AWS's model refuses.
#![no_main]

use iotcreds_token::{KeyMaterial, KeyRing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ring = KeyRing::new(&[KeyMaterial { id: 1, material: vec![7; 32], retired: false, revoked: false }]).unwrap();
    if let Ok(s) = std::str::from_utf8(data) {
        assert!(ring.open(s, 0).is_err());
        let _ = ring.secret_for(s);
        if let Some(kind) = iotcreds_token::access_key_kind(s) {
            assert!((16..=128).contains(&s.len()));
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            if kind == iotcreds_token::AccessKeyKind::Temporary {
                assert!(KeyRing::key_id_of(s).is_ok());
            }
        }
    }
    let _ = iotcreds_token::Claims::decode(data);
});
