//! Signing-key derivation and the signature value type.

use aws_lc_rs::{constant_time, hmac};

use crate::{SigV4Error, TERMINATOR};

/// A derived SigV4 signing key for one `(secret, date, region, service)`:
/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
///
/// Derivation costs four HMACs; a server can cache one per access key and scope (it only changes
/// daily) and use [`crate::ParsedAuth::verify_with_key`]. The key material lives only inside
/// aws-lc's HMAC context, which aws-lc cleanses when the key is dropped. The type deliberately
/// implements neither `Debug` nor `Display`.
#[derive(Clone)]
pub struct SigningKey {
    key: hmac::Key,
    /// `date/region/service/aws4_request`.
    scope: String,
}

impl SigningKey {
    /// Derives the key. `date` is the scope date `YYYYMMDD`.
    #[must_use]
    pub fn derive(secret_access_key: &str, date: &str, region: &str, service: &str) -> Self {
        let mut k_secret = Vec::with_capacity(4 + secret_access_key.len());
        k_secret.extend_from_slice(b"AWS4");
        k_secret.extend_from_slice(secret_access_key.as_bytes());
        let k = hmac::Key::new(hmac::HMAC_SHA256, &k_secret);
        wipe(&mut k_secret);
        let mut k_date = hmac::sign(&k, date.as_bytes());
        let mut k_region = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, k_date.as_ref()),
            region.as_bytes(),
        );
        let mut k_service = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, k_region.as_ref()),
            service.as_bytes(),
        );
        let mut k_signing = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, k_service.as_ref()),
            TERMINATOR.as_bytes(),
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref());
        // Best effort: overwrite the intermediate tags we own with a public constant (aws-lc's
        // `Tag` is `Copy`, so copies made by the compiler cannot be reached from safe code).
        let blank = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[]), b"");
        for tag in [&mut k_date, &mut k_region, &mut k_service, &mut k_signing] {
            *tag = blank;
        }
        std::hint::black_box((&k_date, &k_region, &k_service, &k_signing));
        let scope = format!("{date}/{region}/{service}/{TERMINATOR}");
        Self { key, scope }
    }

    /// The credential scope this key signs for: `date/region/service/aws4_request`.
    #[must_use]
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// `true` when this key was derived for the given scope components.
    #[must_use]
    pub fn is_for(&self, date: &str, region: &str, service: &str) -> bool {
        let mut parts = self.scope.split('/');
        parts.next() == Some(date) && parts.next() == Some(region) && parts.next() == Some(service)
    }

    /// HMAC-SHA256 of a string to sign, as lowercase hex.
    #[must_use]
    pub fn sign(&self, string_to_sign: &[u8]) -> Signature {
        let tag = hmac::sign(&self.key, string_to_sign);
        let mut out = [0u8; 64];
        // 32 bytes always encode into 64.
        let _ = hex::encode_to_slice(tag.as_ref(), &mut out);
        Signature(out)
    }
}

fn wipe(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        *b = 0;
    }
    std::hint::black_box(buf);
}

/// A SigV4 signature: 64 lowercase hex characters, kept on the stack.
///
/// `Debug` is redacted so a signature cannot end up in a log by accident; use [`Self::as_str`]
/// explicitly where the value is needed (a header, a chunk's previous signature). Equality is
/// only offered in constant time ([`Self::verify`]).
#[derive(Clone, Copy)]
pub struct Signature([u8; 64]);

impl Signature {
    /// The hex text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// Constant-time comparison with a signature received from a client.
    ///
    /// # Errors
    /// [`SigV4Error::SignatureDoesNotMatch`] when they differ (a length difference is not secret
    /// and returns early).
    pub fn verify(&self, provided: &str) -> Result<(), SigV4Error> {
        constant_time::verify_slices_are_equal(&self.0, provided.as_bytes())
            .map_err(|_| SigV4Error::SignatureDoesNotMatch)
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signature(<redacted>)")
    }
}

/// `true` for exactly 64 lowercase hex digits.
pub(crate) fn is_signature_syntax(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The derivation example from the AWS SigV4 documentation ("Examples of how to derive a
    /// signing key"): secret `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`, 20120215/us-east-1/iam.
    #[test]
    fn documented_signing_key() {
        let key = SigningKey::derive(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        // The documented kSigning is f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d;
        // an HMAC with key kSigning over "" pins it without exposing the raw bytes.
        let expected_key =
            hex::decode("f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
                .expect("hex");
        let reference = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &expected_key), b"probe");
        assert_eq!(key.sign(b"probe").as_str(), hex::encode(reference.as_ref()));
        assert_eq!(key.scope(), "20120215/us-east-1/iam/aws4_request");
        assert!(key.is_for("20120215", "us-east-1", "iam"));
        assert!(!key.is_for("20120215", "us-east-1", "sts"));
    }

    #[test]
    fn signature_debug_is_redacted_and_compare_is_exact() {
        let key = SigningKey::derive("secret", "20150830", "us-east-1", "service");
        let sig = key.sign(b"x");
        assert_eq!(format!("{sig:?}"), "Signature(<redacted>)");
        assert!(sig.verify(sig.as_str()).is_ok());
        let upper = sig.as_str().to_ascii_uppercase();
        assert_eq!(sig.verify(&upper), Err(SigV4Error::SignatureDoesNotMatch));
        assert_eq!(sig.verify(""), Err(SigV4Error::SignatureDoesNotMatch));
        assert!(is_signature_syntax(sig.as_str()));
        assert!(!is_signature_syntax(&upper) || upper.bytes().all(|b| b.is_ascii_digit()));
    }
}
