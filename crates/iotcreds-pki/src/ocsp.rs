//! OCSP (RFC 6960) for devices of registered CAs: the request for one certificate, where to send
//! it (the certificate's Authority Information Access), and the check of the answer. No I/O:
//! the server sends the request and hands the answer back.
//!
//! The request is what `openssl ocsp -no_nonce` sends (one `CertID` by SHA-1, unsigned, no
//! nonce, so responders may answer from their pre-signed cache). An answer is accepted only if:
//! its status is `successful` with a basic response; it is signed by the CA's key, or by a
//! delegated responder certificate it carries that the CA signed, with the `OCSPSigning` extended
//! key usage, valid now (§4.2.2.2); it holds a response for exactly the `CertID` asked about; its
//! `thisUpdate` is not in the future (a minute of skew) and its `nextUpdate` has not passed, or,
//! without a `nextUpdate`, its `thisUpdate` is under an hour old. Without a nonce a replayed
//! answer is possible within that window, which is what `nextUpdate` promises anyway.

use x509_parser::asn1_rs::{BitString, FromDer as _};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP;
use x509_parser::prelude::X509Certificate;
use x509_parser::x509::AlgorithmIdentifier;

use crate::PkiError;
use crate::der::{self, Reader};

/// Clock skew allowed between the responder and this server.
const SKEW_MS: i64 = 60_000;
/// How old an answer without `nextUpdate` may be.
const MAX_AGE_WITHOUT_NEXT_UPDATE_MS: i64 = 3_600_000;
/// `sha1` with NULL parameters, as OpenSSL and every responder write it.
const SHA1_ALGORITHM: &[u8] = &[
    0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00,
];
/// `id-pkix-ocsp-basic`, 1.3.6.1.5.5.7.48.1.1.
const OCSP_BASIC: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];

/// A request for one certificate's status, and what identifies it in the answer.
#[derive(Debug, Clone)]
pub struct OcspRequest {
    /// The `OCSPRequest`, DER, to POST as `application/ocsp-request`.
    pub der: Vec<u8>,
    cert_id: CertId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CertId {
    name_hash: Vec<u8>,
    key_hash: Vec<u8>,
    /// The INTEGER's contents, as the certificate encodes them.
    serial: Vec<u8>,
}

impl CertId {
    fn encode(&self) -> Vec<u8> {
        let body = [
            SHA1_ALGORITHM,
            &der::write(der::OCTET_STRING, &self.name_hash),
            &der::write(der::OCTET_STRING, &self.key_hash),
            &der::write(der::INTEGER, &self.serial),
        ]
        .concat();
        der::write(der::SEQUENCE, &body)
    }

    fn parse(body: &[u8]) -> Result<Self, PkiError> {
        let mut r = Reader::new(body);
        let algorithm = r.expect(der::SEQUENCE, "CertID.hashAlgorithm")?;
        let mut a = Reader::new(algorithm.body);
        let oid = a.expect(der::OID, "CertID.hashAlgorithm")?;
        if oid.raw != &SHA1_ALGORITHM[2..9] {
            return Err(PkiError::Untrusted(
                "The OCSP answer identifies the certificate by another hash than the request's SHA-1"
                    .into(),
            ));
        }
        let _ = a.optional(der::NULL)?;
        let name_hash = r.expect(der::OCTET_STRING, "CertID.issuerNameHash")?;
        let key_hash = r.expect(der::OCTET_STRING, "CertID.issuerKeyHash")?;
        let serial = r.expect(der::INTEGER, "CertID.serialNumber")?;
        Ok(Self {
            name_hash: name_hash.body.to_vec(),
            key_hash: key_hash.body.to_vec(),
            serial: serial.body.to_vec(),
        })
    }
}

/// What the responder says of the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertStatus {
    /// Not revoked.
    Good,
    /// Revoked at this time (ms since the epoch).
    Revoked {
        /// `revocationTime`.
        at_ms: i64,
    },
    /// The responder does not know the certificate.
    Unknown,
}

/// A verified answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcspAnswer {
    /// The certificate's status.
    pub status: CertStatus,
    /// `thisUpdate`, ms since the epoch.
    pub this_update_ms: i64,
    /// `nextUpdate`, ms since the epoch, if the responder gave one: until then the answer may be
    /// cached.
    pub next_update_ms: Option<i64>,
}

fn parse_cert<'a>(der: &'a [u8], what: &str) -> Result<X509Certificate<'a>, PkiError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        _ => Err(PkiError::Malformed(format!(
            "The {what} is not valid X.509"
        ))),
    }
}

fn sha1(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

/// The OCSP responders a certificate names in its Authority Information Access extension
/// (`id-ad-ocsp` URIs), in its order.
pub fn responder_urls(cert_der: &[u8]) -> Result<Vec<String>, PkiError> {
    let cert = parse_cert(cert_der, "certificate")?;
    let mut urls = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() {
            for desc in aia.iter() {
                if desc.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP
                    && let GeneralName::URI(uri) = &desc.access_location
                {
                    urls.push((*uri).to_owned());
                }
            }
        }
    }
    Ok(urls)
}

/// The request for the status of `cert_der`, issued by `ca_der`.
pub fn request(cert_der: &[u8], ca_der: &[u8]) -> Result<OcspRequest, PkiError> {
    let cert = parse_cert(cert_der, "certificate")?;
    let ca = parse_cert(ca_der, "CA certificate")?;
    if cert.issuer().as_raw() != ca.subject().as_raw() {
        return Err(PkiError::Untrusted(
            "The certificate was not issued by this CA".into(),
        ));
    }
    let cert_id = CertId {
        name_hash: sha1(ca.subject().as_raw()),
        key_hash: sha1(&ca.public_key().subject_public_key.data),
        serial: cert.raw_serial().to_vec(),
    };
    // OCSPRequest { TBSRequest { requestList { Request { reqCert } } } }
    let request = der::write(der::SEQUENCE, &cert_id.encode());
    let request_list = der::write(der::SEQUENCE, &request);
    let tbs = der::write(der::SEQUENCE, &request_list);
    Ok(OcspRequest {
        der: der::write(der::SEQUENCE, &tbs),
        cert_id,
    })
}

fn response_status_name(code: u8) -> &'static str {
    match code {
        1 => "malformedRequest",
        2 => "internalError",
        3 => "tryLater",
        5 => "sigRequired",
        6 => "unauthorized",
        _ => "an unassigned status",
    }
}

/// Check `answer_der`, the responder's answer to `req`, against the CA `ca_der` at `now_ms`.
pub fn verify_answer(
    answer_der: &[u8],
    req: &OcspRequest,
    ca_der: &[u8],
    now_ms: i64,
) -> Result<OcspAnswer, PkiError> {
    let ca = parse_cert(ca_der, "CA certificate")?;
    // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT ... }
    let top = der::single(answer_der, der::SEQUENCE, "OCSPResponse")?;
    let mut r = Reader::new(top.body);
    let status = r.expect(der::ENUMERATED, "OCSPResponse.responseStatus")?;
    match status.body {
        [0] => {}
        [code] => {
            return Err(PkiError::Untrusted(format!(
                "The OCSP responder answered {}",
                response_status_name(*code)
            )));
        }
        _ => {
            return Err(PkiError::Malformed(
                "The OCSP responseStatus is invalid".into(),
            ));
        }
    }
    let bytes = r.expect(der::context(0), "OCSPResponse.responseBytes")?;
    let bytes = der::single(bytes.body, der::SEQUENCE, "ResponseBytes")?;
    let mut b = Reader::new(bytes.body);
    let kind = b.expect(der::OID, "ResponseBytes.responseType")?;
    if kind.body != OCSP_BASIC {
        return Err(PkiError::Untrusted(
            "The OCSP answer is not a basic OCSP response".into(),
        ));
    }
    let basic = b.expect(der::OCTET_STRING, "ResponseBytes.response")?;

    // BasicOCSPResponse ::= SEQUENCE { tbsResponseData, signatureAlgorithm, signature, certs }
    let basic = der::single(basic.body, der::SEQUENCE, "BasicOCSPResponse")?;
    let mut b = Reader::new(basic.body);
    let tbs = b.expect(der::SEQUENCE, "BasicOCSPResponse.tbsResponseData")?;
    let algorithm = b.expect(der::SEQUENCE, "BasicOCSPResponse.signatureAlgorithm")?;
    let signature = b.expect(der::BIT_STRING, "BasicOCSPResponse.signature")?;
    let certs = b.optional(der::context(0))?;
    verify_signature(tbs.raw, algorithm.raw, signature.body, certs, &ca, now_ms)?;

    // ResponseData ::= SEQUENCE { version [0], responderID, producedAt, responses, extensions [1] }
    let mut d = Reader::new(tbs.body);
    if let Some(version) = d.optional(der::context(0))? {
        let v = der::single(version.body, der::INTEGER, "ResponseData.version")?;
        if v.body != [0] {
            return Err(PkiError::Malformed(
                "The OCSP answer has an unknown version".into(),
            ));
        }
    }
    let _responder = d.next()?;
    let _produced_at = d.expect(der::GENERALIZED_TIME, "ResponseData.producedAt")?;
    let responses = d.expect(der::SEQUENCE, "ResponseData.responses")?;
    let mut responses = Reader::new(responses.body);
    while !responses.is_empty() {
        let single = responses.expect(der::SEQUENCE, "SingleResponse")?;
        let mut s = Reader::new(single.body);
        let id = s.expect(der::SEQUENCE, "SingleResponse.certID")?;
        let Ok(id) = CertId::parse(id.body) else {
            continue;
        };
        if id != req.cert_id {
            continue;
        }
        return single_response(s, now_ms);
    }
    Err(PkiError::Untrusted(
        "The OCSP answer does not speak of the certificate asked about".into(),
    ))
}

/// The rest of the `SingleResponse` after its `certID`: status and dates.
fn single_response(mut s: Reader<'_>, now_ms: i64) -> Result<OcspAnswer, PkiError> {
    let status = s.next()?;
    let status = match status.tag {
        t if t == der::context_primitive(0) => CertStatus::Good,
        t if t == der::context(1) => {
            let mut info = Reader::new(status.body);
            let at = info.expect(der::GENERALIZED_TIME, "RevokedInfo.revocationTime")?;
            CertStatus::Revoked {
                at_ms: der::generalized_time_ms(at.body)?,
            }
        }
        t if t == der::context_primitive(2) => CertStatus::Unknown,
        _ => {
            return Err(PkiError::Malformed(
                "The OCSP answer's certStatus is invalid".into(),
            ));
        }
    };
    let this_update = s.expect(der::GENERALIZED_TIME, "SingleResponse.thisUpdate")?;
    let this_update_ms = der::generalized_time_ms(this_update.body)?;
    let next_update_ms = match s.optional(der::context(0))? {
        Some(next) => {
            let t = der::single(
                next.body,
                der::GENERALIZED_TIME,
                "SingleResponse.nextUpdate",
            )?;
            Some(der::generalized_time_ms(t.body)?)
        }
        None => None,
    };
    if this_update_ms > now_ms + SKEW_MS {
        return Err(PkiError::Untrusted(
            "The OCSP answer's thisUpdate is in the future".into(),
        ));
    }
    match next_update_ms {
        Some(next) if next <= now_ms => {
            return Err(PkiError::Untrusted(
                "The OCSP answer is out of date: its nextUpdate has passed".into(),
            ));
        }
        None if this_update_ms + MAX_AGE_WITHOUT_NEXT_UPDATE_MS <= now_ms => {
            return Err(PkiError::Untrusted(
                "The OCSP answer is out of date: it has no nextUpdate and its thisUpdate is over an hour old"
                    .into(),
            ));
        }
        _ => {}
    }
    Ok(OcspAnswer {
        status,
        this_update_ms,
        next_update_ms,
    })
}

/// The answer's signature verifies with the CA's key, or with the key of a delegated responder
/// certificate among `certs` (RFC 6960 §4.2.2.2): signed by the CA, `OCSPSigning`, valid now.
fn verify_signature(
    tbs: &[u8],
    algorithm: &[u8],
    signature: &[u8],
    certs: Option<der::Tlv<'_>>,
    ca: &X509Certificate<'_>,
    now_ms: i64,
) -> Result<(), PkiError> {
    let (_, algorithm) = AlgorithmIdentifier::from_der(algorithm).map_err(|_| {
        PkiError::Malformed("The OCSP answer's signature algorithm is invalid".into())
    })?;
    let (&unused, bits) = signature
        .split_first()
        .ok_or_else(|| PkiError::Malformed("The OCSP answer's signature is empty".into()))?;
    let signature = BitString::new(unused, bits);
    let verifies = |key: &x509_parser::x509::SubjectPublicKeyInfo<'_>| {
        x509_parser::verify::verify_signature(key, &algorithm, &signature, tbs).is_ok()
    };
    if verifies(ca.public_key()) {
        return Ok(());
    }
    if let Some(certs) = certs {
        let list = der::single(certs.body, der::SEQUENCE, "BasicOCSPResponse.certs")?;
        let mut list = Reader::new(list.body);
        while !list.is_empty() {
            let raw = list.next()?.raw;
            let Ok(responder) = parse_cert(raw, "responder certificate") else {
                continue;
            };
            if delegated_by(&responder, ca, now_ms) && verifies(responder.public_key()) {
                return Ok(());
            }
        }
    }
    Err(PkiError::Untrusted(
        "The OCSP answer is signed neither by the CA nor by a responder the CA delegated to".into(),
    ))
}

/// `responder` is a delegated OCSP responder of `ca`, valid at `now_ms`.
fn delegated_by(responder: &X509Certificate<'_>, ca: &X509Certificate<'_>, now_ms: i64) -> bool {
    let validity = responder.validity();
    let now = now_ms / 1000;
    responder.issuer().as_raw() == ca.subject().as_raw()
        && responder.verify_signature(Some(ca.public_key())).is_ok()
        && validity.not_before.timestamp() <= now
        && now <= validity.not_after.timestamp()
        && matches!(responder.extended_key_usage(), Ok(Some(eku)) if eku.value.ocsp_signing)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When the known answers were made (testdata/ocsp/README.md), plus a minute.
    const MADE_MS: i64 = 1_796_625_774_000;
    const NOW_MS: i64 = MADE_MS + 60_000;

    fn pem(name: &str) -> Vec<u8> {
        let path = format!("{}/testdata/ocsp/{name}", env!("CARGO_MANIFEST_DIR"));
        crate::pem_to_der(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn der(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/testdata/ocsp/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn req(device: &str) -> OcspRequest {
        request(&pem(&format!("{device}.pem")), &pem("ca.pem")).unwrap()
    }

    /// The request is byte for byte what `openssl ocsp -no_nonce -reqout` writes.
    #[test]
    fn requests_are_openssls() {
        for device in ["ADCTestThing", "ADCTestThing-2"] {
            assert_eq!(
                req(device).der,
                der(&format!("{device}.req.der")),
                "{device}"
            );
        }
        // A certificate of another CA is not asked about.
        assert!(request(&pem("ADCTestThing.pem"), &pem("ADCTestThing-2.pem")).is_err());
    }

    #[test]
    fn the_responder_named_in_the_certificate() {
        assert_eq!(
            responder_urls(&pem("ADCTestThing.pem")).unwrap(),
            ["http://127.0.0.1:8888/ocsp"]
        );
        assert!(responder_urls(&pem("ca.pem")).unwrap().is_empty());
    }

    #[test]
    fn good_revoked_and_delegated_answers() {
        let ca = pem("ca.pem");
        let good = verify_answer(&der("good.der"), &req("ADCTestThing"), &ca, NOW_MS).unwrap();
        assert_eq!(good.status, CertStatus::Good);
        assert_eq!(good.this_update_ms, MADE_MS);
        assert_eq!(good.next_update_ms, Some(MADE_MS + 36_500 * 86_400_000));
        let revoked =
            verify_answer(&der("revoked.der"), &req("ADCTestThing-2"), &ca, NOW_MS).unwrap();
        assert!(
            matches!(revoked.status, CertStatus::Revoked { at_ms } if at_ms <= MADE_MS),
            "{revoked:?}"
        );
        let delegated =
            verify_answer(&der("delegated.der"), &req("ADCTestThing"), &ca, NOW_MS).unwrap();
        assert_eq!(delegated.status, CertStatus::Good);
    }

    #[test]
    fn answers_that_must_not_be_believed() {
        let ca = pem("ca.pem");
        let err = |answer: &[u8], device: &str, now: i64| {
            verify_answer(answer, &req(device), &ca, now)
                .unwrap_err()
                .to_string()
        };
        // Signed by another key under the CA's name.
        assert!(err(&der("forged.der"), "ADCTestThing", NOW_MS).contains("signed neither"));
        // The answer about ADCTestThing does not answer for ADCTestThing-2.
        assert!(err(&der("good.der"), "ADCTestThing-2", NOW_MS).contains("asked about"));
        // Before its thisUpdate, and without a nextUpdate an hour later.
        assert!(err(&der("good.der"), "ADCTestThing", MADE_MS - 120_000).contains("future"));
        let nonext = der("nonext.der");
        assert!(verify_answer(&nonext, &req("ADCTestThing"), &ca, NOW_MS).is_ok());
        assert!(err(&nonext, "ADCTestThing", MADE_MS + 3_600_000).contains("over an hour"));
        // After its nextUpdate.
        let late = MADE_MS + 36_501 * 86_400_000;
        assert!(err(&der("good.der"), "ADCTestThing", late).contains("nextUpdate"));
        // A delegated responder's certificate is not the CA's: with the responder's certificate
        // as the CA, the answer is refused.
        assert!(
            verify_answer(
                &der("good.der"),
                &req("ADCTestThing"),
                &pem("responder.pem"),
                NOW_MS
            )
            .is_err()
        );
        // Error statuses, truncation, trailing bytes, a flipped byte in the signed data.
        assert!(err(&[0x30, 0x03, 0x0a, 0x01, 0x03], "ADCTestThing", NOW_MS).contains("tryLater"));
        let good = der("good.der");
        for cut in [0, 1, 10, good.len() / 2, good.len() - 1] {
            assert!(
                verify_answer(&good[..cut], &req("ADCTestThing"), &ca, NOW_MS).is_err(),
                "{cut}"
            );
        }
        let mut long = good.clone();
        long.push(0);
        assert!(verify_answer(&long, &req("ADCTestThing"), &ca, NOW_MS).is_err());
        for i in 0..good.len() {
            let mut flipped = good.clone();
            flipped[i] ^= 0x01;
            if let Ok(a) = verify_answer(&flipped, &req("ADCTestThing"), &ca, NOW_MS) {
                // Only bytes outside the signed data (the embedded certificate, the tags'
                // unused bits) may change without refusal, and they change nothing.
                assert_eq!(a.status, CertStatus::Good, "byte {i}");
            }
        }
    }
}
