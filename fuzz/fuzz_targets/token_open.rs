//! Open arbitrary bytes as a session token and as an access key id: never panics, never opens.
#![no_main]

use iotcreds_token::{KeyMaterial, KeyRing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ring = KeyRing::new(&[KeyMaterial { id: 1, material: vec![7; 32], retired: false, revoked: false }]).unwrap();
    if let Ok(s) = std::str::from_utf8(data) {
        assert!(ring.open(s, 0).is_err());
        let _ = ring.secret_for(s);
    }
    let _ = iotcreds_token::Claims::decode(data);
});
