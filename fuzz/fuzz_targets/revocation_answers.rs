//! Arbitrary bytes as an OCSP answer and as a CRL of the fleet CA (over plain HTTP, a network
//! attacker chooses them): never panics, never accepted (the bytes are not signed by the CA's
//! key), bounded work.
#![no_main]

use libfuzzer_sys::fuzz_target;

const CA: &str = include_str!("../../crates/iotcreds-pki/testdata/ocsp/ca.pem");
const DEVICE: &str = include_str!("../../crates/iotcreds-pki/testdata/ocsp/ADCTestThing.pem");
/// When the known answers were made, plus a minute.
const NOW_MS: i64 = 1_796_625_834_000;

fuzz_target!(|data: &[u8]| {
    let ca = iotcreds_pki::pem_to_der(CA).unwrap();
    let device = iotcreds_pki::pem_to_der(DEVICE).unwrap();
    let req = iotcreds_pki::ocsp::request(&device, &ca).unwrap();
    if let Ok(answer) = iotcreds_pki::ocsp::verify_answer(data, &req, &ca, NOW_MS) {
        // Only the CA's own answer (or one differing outside the signed data) verifies.
        assert_eq!(answer.status, iotcreds_pki::ocsp::CertStatus::Good, "{data:?}");
    }
    if let Ok(der) = iotcreds_pki::crl::crl_der(data) {
        assert!(iotcreds_pki::crl::verify(&der, &ca, NOW_MS).is_err());
    }
    let _ = iotcreds_pki::ocsp::responder_urls(data);
});
