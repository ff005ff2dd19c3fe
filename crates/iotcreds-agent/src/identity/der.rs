//! The little DER a hardware key needs: a raw ECDSA signature (r‖s, as PKCS#11 returns it) as
//! the DER `Ecdsa-Sig-Value` TLS and X.509 expect, and a SubjectPublicKeyInfo from the public
//! values a token reports.

/// A DER length.
fn len(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let first = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - first) as u8);
        out.extend_from_slice(&bytes[first..]);
    }
}

/// A TLV.
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    len(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// A non-negative INTEGER from big-endian magnitude bytes.
fn uint(magnitude: &[u8]) -> Vec<u8> {
    let first = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len());
    let mut body = Vec::with_capacity(magnitude.len() - first + 1);
    if first == magnitude.len() {
        body.push(0);
    } else {
        if magnitude[first] & 0x80 != 0 {
            body.push(0);
        }
        body.extend_from_slice(&magnitude[first..]);
    }
    tlv(0x02, &body)
}

/// r‖s (two equal halves) → `SEQUENCE { INTEGER r, INTEGER s }`.
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return None;
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = uint(r);
    body.extend(uint(s));
    Some(tlv(0x30, &body))
}

/// id-ecPublicKey.
const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// prime256v1 / secp256r1.
pub const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// secp384r1.
pub const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// rsaEncryption, NULL parameters.
const RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// The SubjectPublicKeyInfo of an EC key: `curve_oid` is the full DER OID (CKA_EC_PARAMS),
/// `point` the uncompressed point.
pub fn ec_spki(curve_oid: &[u8], point: &[u8]) -> Vec<u8> {
    let mut alg = EC_PUBLIC_KEY.to_vec();
    alg.extend_from_slice(curve_oid);
    let mut bits = vec![0u8];
    bits.extend_from_slice(point);
    let mut body = tlv(0x30, &alg);
    body.extend(tlv(0x03, &bits));
    tlv(0x30, &body)
}

/// `RSAPublicKey ::= SEQUENCE { modulus, publicExponent }`.
pub fn rsa_public_key(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let mut body = uint(modulus);
    body.extend(uint(exponent));
    tlv(0x30, &body)
}

/// The SubjectPublicKeyInfo of an RSA key.
pub fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let mut bits = vec![0u8];
    bits.extend(rsa_public_key(modulus, exponent));
    let mut body = tlv(0x30, RSA_ENCRYPTION);
    body.extend(tlv(0x03, &bits));
    tlv(0x30, &body)
}

/// CKA_EC_POINT is a DER OCTET STRING holding the point (PKCS#11 2.40 §2.3.3); some modules
/// return the bare point. Either way, the point.
pub fn unwrap_ec_point(v: &[u8]) -> Option<Vec<u8>> {
    if v.first() == Some(&0x04) && v.len() >= 2 {
        // An uncompressed point starts with 0x04 too; an OCTET STRING's length tells them apart.
        let (n, hdr) = match v[1] {
            n if n < 0x80 => (n as usize, 2),
            0x81 if v.len() >= 3 => (v[2] as usize, 3),
            0x82 if v.len() >= 4 => (((v[2] as usize) << 8) | v[3] as usize, 4),
            _ => return Some(v.to_vec()),
        };
        if hdr + n == v.len() && v.get(hdr) == Some(&0x04) {
            return Some(v[hdr..].to_vec());
        }
        return Some(v.to_vec());
    }
    None
}

/// DigestInfo prefixes for RSASSA-PKCS1-v1_5 (RFC 8017 §9.2, note 1).
pub const SHA256_DIGEST_INFO: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
/// SHA-384.
pub const SHA384_DIGEST_INFO: &[u8] = &[
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
/// SHA-512.
pub const SHA512_DIGEST_INFO: &[u8] = &[
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};

    /// A raw (fixed) signature from aws-lc converted to DER verifies with aws-lc's ASN.1 verifier.
    #[test]
    fn ecdsa_conversion_verifies() {
        let rng = SystemRandom::new();
        for (fixed, asn1, oid) in [
            (
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &signature::ECDSA_P256_SHA256_ASN1,
                P256,
            ),
            (
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                &signature::ECDSA_P384_SHA384_ASN1,
                P384,
            ),
        ] {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(fixed, &rng).unwrap();
            let key = EcdsaKeyPair::from_pkcs8(fixed, pkcs8.as_ref()).unwrap();
            for i in 0..50u8 {
                let msg = [i; 17];
                let raw = key.sign(&rng, &msg).unwrap();
                let der = ecdsa_raw_to_der(raw.as_ref()).unwrap();
                signature::UnparsedPublicKey::new(asn1, key.public_key().as_ref())
                    .verify(&msg, &der)
                    .unwrap();
            }
            let spki = ec_spki(oid, key.public_key().as_ref());
            // The SPKI parses as what x509 would carry.
            assert_eq!(spki[0], 0x30);
            assert!(spki.ends_with(key.public_key().as_ref()));
        }
        assert!(ecdsa_raw_to_der(&[1, 2, 3]).is_none());
    }

    #[test]
    fn integers_and_lengths() {
        assert_eq!(uint(&[0, 0, 1]), vec![2, 1, 1]);
        assert_eq!(uint(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(uint(&[0, 0]), vec![2, 1, 0]);
        let mut v = Vec::new();
        len(&mut v, 300);
        assert_eq!(v, vec![0x82, 1, 44]);
        assert_eq!(unwrap_ec_point(&[4, 3, 4, 1, 2]), Some(vec![4, 1, 2]));
        assert_eq!(unwrap_ec_point(&[4, 1, 2]), Some(vec![4, 1, 2]));
        assert_eq!(unwrap_ec_point(&[]), None);
    }
}
