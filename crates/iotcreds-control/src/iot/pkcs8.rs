//! RSA private keys in the form AWS IoT returns them: `CreateKeysAndCertificate` answers a
//! PKCS#1 `-----BEGIN RSA PRIVATE KEY-----`, while the CA writes PKCS#8 `PRIVATE KEY`.
//!
//! A PKCS#8 `PrivateKeyInfo` is `SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING
//! privateKey }`, and for `rsaEncryption` the octet string holds the PKCS#1 `RSAPrivateKey`
//! DER. Unwrapping it needs a few DER reads, no cryptography.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The DER of OID 1.2.840.113549.1.1.1 (`rsaEncryption`), tag and length included.
const RSA_ENCRYPTION_OID: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

/// One DER element at the start of `input`: `(tag, content, rest)`.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The PKCS#1 `RSAPrivateKey` DER inside a PKCS#8 `PrivateKeyInfo` DER, if it is an RSA key.
fn pkcs1_der(pkcs8: &[u8]) -> Option<&[u8]> {
    let (0x30, info, _) = element(pkcs8)? else {
        return None;
    };
    let (0x02, _version, rest) = element(info)? else {
        return None;
    };
    let (0x30, algorithm, rest) = element(rest)? else {
        return None;
    };
    if !algorithm.starts_with(RSA_ENCRYPTION_OID) {
        return None;
    }
    let (0x04, key, _) = element(rest)? else {
        return None;
    };
    Some(key)
}

/// A PKCS#8 `PRIVATE KEY` PEM of an RSA key as a PKCS#1 `RSA PRIVATE KEY` PEM; `None` when
/// the input is not that (the caller then keeps the PKCS#8 form).
pub(super) fn rsa_pkcs1_pem(pkcs8_pem: &str) -> Option<String> {
    let body: String = pkcs8_pem
        .trim()
        .strip_prefix("-----BEGIN PRIVATE KEY-----")?
        .strip_suffix("-----END PRIVATE KEY-----")?
        .split_whitespace()
        .collect();
    let der = STANDARD.decode(body).ok()?;
    let pem = iotcreds_pki::der_to_pem(pkcs1_der(&der)?);
    Some(
        pem.replacen(
            "-----BEGIN CERTIFICATE-----",
            "-----BEGIN RSA PRIVATE KEY-----",
            1,
        )
        .replacen(
            "-----END CERTIFICATE-----",
            "-----END RSA PRIVATE KEY-----",
            1,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotcreds_pki::CertificateAuthority;
    use iotcreds_pki::ca::{KeyKind, aws_device_not_after};

    #[test]
    fn rsa_keys_unwrap_to_pkcs1() {
        let now = time::OffsetDateTime::now_utc();
        let ca = CertificateAuthority::generate("CA", "o", now, 1).unwrap();
        let dev = ca
            .issue_device(
                KeyKind::Rsa2048,
                "AWS IoT Certificate",
                now,
                aws_device_not_after(),
            )
            .unwrap();
        let pkcs8 = dev.private_key_pem.unwrap();
        let pkcs1 = rsa_pkcs1_pem(&pkcs8).unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        assert!(pkcs1.ends_with("-----END RSA PRIVATE KEY-----\n"));
        assert!(pkcs1.lines().all(|l| l.len() <= 64));
        // RSAPrivateKey ::= SEQUENCE { version 0, modulus, ... }: 2048-bit modulus.
        let body: String = pkcs1.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(body).unwrap();
        let (tag, seq, rest) = element(&der).unwrap();
        assert_eq!((tag, rest.len()), (0x30, 0));
        let (tag, version, seq) = element(seq).unwrap();
        assert_eq!((tag, version), (0x02, &[0u8][..]));
        let (tag, modulus, _) = element(seq).unwrap();
        assert_eq!(tag, 0x02);
        assert_eq!(modulus.len(), 257); // leading zero + 256 bytes
        // The PKCS#8 DER contains exactly this PKCS#1 DER.
        let p8: String = pkcs8.lines().filter(|l| !l.starts_with("-----")).collect();
        let p8 = STANDARD.decode(p8).unwrap();
        assert!(p8.windows(der.len()).any(|w| w == der.as_slice()));
    }

    #[test]
    fn other_keys_are_left_alone() {
        let now = time::OffsetDateTime::now_utc();
        let ca = CertificateAuthority::generate("CA", "o", now, 1).unwrap();
        let ec = ca
            .issue_device(KeyKind::EcdsaP256, "d", now, aws_device_not_after())
            .unwrap();
        assert!(rsa_pkcs1_pem(&ec.private_key_pem.unwrap()).is_none());
        assert!(
            rsa_pkcs1_pem("-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----").is_none()
        );
        assert!(rsa_pkcs1_pem("garbage").is_none());
        assert!(element(&[0x30, 0x85, 1, 2, 3, 4, 5]).is_none());
        assert!(element(&[0x30, 0x05, 1]).is_none());
    }
}
