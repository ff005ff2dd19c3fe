//! Browser-form uploads (S3 `POST Object`): the SigV4 fields of the form and the POST policy.
//!
//! A form upload carries no `Authorization` header and no presigned query: the client signs a
//! *POST policy* instead. The form holds `policy` (the base64 policy document), `x-amz-algorithm`
//! (`AWS4-HMAC-SHA256`), `x-amz-credential` (`AKID/YYYYMMDD/region/s3/aws4_request`),
//! `x-amz-date` (`YYYYMMDD'T'HHMMSS'Z'`), `x-amz-signature`, and `x-amz-security-token` for
//! temporary credentials. The string to sign is the base64 text of the policy *as received*; the
//! signature is `hex(HMAC-SHA256(signing key of the credential scope, policy))` (S3 API
//! Reference, "Authenticating Requests: Browser-Based Uploads Using POST").
//!
//! [`PostAuth`] checks the fields' shape and verifies the signature (constant time);
//! [`PostPolicy`] parses the document and checks a form against its expiration and conditions.
//! Every refusal carries AWS's error code and message; none carries a secret, a signature or a
//! token. Form field names are case-insensitive (the caller passes them as received).

mod policy;

use std::borrow::Cow;

use time::OffsetDateTime;

use crate::key::is_signature_syntax;
use crate::parse::{CredentialError, split_credential};
use crate::timestamp::AmzDate;
use crate::{ALGORITHM, CredentialScope, SigningKey};

pub use policy::{Bound, Condition, PolicyError, PostPolicy, PostViolation};

/// How old a form's `x-amz-date` may be: a SigV4 signing key is valid for seven days.
pub const MAX_SIGNATURE_AGE: time::Duration = time::Duration::days(7);

/// A form field S3 refuses to authenticate: `InvalidArgument` with its `ArgumentName`, or one of
/// the authentication codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PostAuthError {
    /// `InvalidArgument` (400): a required field is missing or malformed. `argument` is the
    /// field's canonical name (`X-Amz-Credential`, …).
    #[error("{message}")]
    InvalidArgument {
        /// The form field, as AWS names it in `ArgumentName`.
        argument: &'static str,
        /// AWS's message.
        message: Cow<'static, str>,
    },
    /// `AccessDenied` (403): the signing key of `x-amz-date` has expired (older than seven
    /// days).
    #[error("Request has expired")]
    Expired,
    /// `RequestTimeTooSkewed` (403): `x-amz-date` is more than the allowed skew in the future.
    #[error("The difference between the request time and the current time is too large.")]
    TooSkewed,
    /// `SignatureDoesNotMatch` (403).
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your key and signing method."
    )]
    SignatureDoesNotMatch,
}

impl PostAuthError {
    /// The AWS error code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidArgument { .. } => "InvalidArgument",
            Self::Expired => "AccessDenied",
            Self::TooSkewed => "RequestTimeTooSkewed",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
        }
    }

    fn argument(argument: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidArgument {
            argument,
            message: message.into(),
        }
    }

    fn missing(argument: &'static str) -> Self {
        Self::argument(
            argument,
            format!(
                "Bucket POST must contain a field named '{argument}'.  If it is specified, please check the order of the fields."
            ),
        )
    }
}

/// The SigV4 fields of one form, as received (values only; the caller finds them by
/// case-insensitive name).
#[derive(Clone, Copy, Default)]
pub struct PostFields<'a> {
    /// `x-amz-algorithm`.
    pub algorithm: Option<&'a str>,
    /// `x-amz-credential`.
    pub credential: Option<&'a str>,
    /// `x-amz-date`.
    pub date: Option<&'a str>,
    /// `x-amz-signature`.
    pub signature: Option<&'a str>,
    /// `policy`.
    pub policy: Option<&'a str>,
}

impl std::fmt::Debug for PostFields<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostFields")
            .field("algorithm", &self.algorithm)
            .field("credential", &self.credential)
            .field("date", &self.date)
            .field("signature", &self.signature.map(|_| "<redacted>"))
            .field("policy", &self.policy.map(str::len))
            .finish()
    }
}

impl PostFields<'_> {
    /// Whether the form asks to be authenticated at all: S3 treats a form with none of the
    /// SigV4 fields as anonymous (a `policy` alone does not make it signed).
    #[must_use]
    pub fn is_signed(&self) -> bool {
        self.algorithm.is_some() || self.credential.is_some() || self.signature.is_some()
    }
}

/// The checked SigV4 fields of a form: the credential, the date, the signature and the policy
/// text. `Debug` omits the signature.
pub struct PostAuth<'a> {
    credential: &'a str,
    slashes: [usize; 4],
    date: AmzDate,
    signature: &'a str,
    policy: &'a str,
}

impl std::fmt::Debug for PostAuth<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostAuth")
            .field("access_key_id", &self.access_key_id())
            .field("scope", &self.scope())
            .field("date", &self.date)
            .finish_non_exhaustive()
    }
}

impl<'a> PostAuth<'a> {
    /// Checks the fields in S3's order: each present (algorithm, credential, date, signature,
    /// policy), the algorithm, the credential's shape, its region (`region`) and service (`s3`),
    /// the date's format and that the credential's day is the date's.
    ///
    /// # Errors
    /// [`PostAuthError::InvalidArgument`] naming the field.
    pub fn parse(fields: &PostFields<'a>, region: &str) -> Result<Self, PostAuthError> {
        let algorithm = fields
            .algorithm
            .ok_or_else(|| PostAuthError::missing("X-Amz-Algorithm"))?;
        let credential = fields
            .credential
            .ok_or_else(|| PostAuthError::missing("X-Amz-Credential"))?;
        let date = fields
            .date
            .ok_or_else(|| PostAuthError::missing("X-Amz-Date"))?;
        let signature = fields
            .signature
            .ok_or_else(|| PostAuthError::missing("X-Amz-Signature"))?;
        let policy = fields
            .policy
            .ok_or_else(|| PostAuthError::missing("Policy"))?;
        if algorithm != ALGORITHM {
            return Err(PostAuthError::argument(
                "X-Amz-Algorithm",
                "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
            ));
        }
        let slashes = split_credential(credential).map_err(|e| {
            PostAuthError::argument(
                "X-Amz-Credential",
                match e {
                    CredentialError::Malformed => {
                        "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; \
                         expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
                    }
                    CredentialError::Terminator => {
                        "Error parsing the X-Amz-Credential parameter; incorrect terminal. \
                         This endpoint uses \"aws4_request\"."
                    }
                },
            )
        })?;
        let date = AmzDate::parse_amz(date.as_bytes()).ok_or_else(|| {
            PostAuthError::argument(
                "X-Amz-Date",
                "X-Amz-Date must be formatted via ISO8601 Long format",
            )
        })?;
        let auth = Self {
            credential,
            slashes,
            date,
            signature,
            policy,
        };
        let scope = auth.scope();
        if scope.region != region {
            return Err(PostAuthError::argument(
                "X-Amz-Credential",
                format!(
                    "Error parsing the X-Amz-Credential parameter; the region '{}' is wrong; expecting '{region}'",
                    scope.region
                ),
            ));
        }
        if scope.service != "s3" {
            return Err(PostAuthError::argument(
                "X-Amz-Credential",
                format!(
                    "Error parsing the X-Amz-Credential parameter; incorrect service '{}'. This endpoint belongs to \"s3\".",
                    scope.service
                ),
            ));
        }
        if scope.date != date.day() {
            return Err(PostAuthError::argument(
                "X-Amz-Credential",
                "Error parsing the X-Amz-Credential parameter; Invalid credential date. \
                 Date is not the same as X-Amz-Date.",
            ));
        }
        Ok(auth)
    }

    /// The access key id to look the secret up with.
    #[must_use]
    pub fn access_key_id(&self) -> &'a str {
        &self.credential[..self.slashes[0]]
    }

    /// The credential scope.
    #[must_use]
    pub fn scope(&self) -> CredentialScope<'a> {
        let [a, b, c, d] = self.slashes;
        CredentialScope {
            date: &self.credential[a + 1..b],
            region: &self.credential[b + 1..c],
            service: &self.credential[c + 1..d],
        }
    }

    /// The signing time, `x-amz-date`.
    #[must_use]
    pub fn request_time(&self) -> OffsetDateTime {
        self.date.to_offset_date_time()
    }

    /// The policy text as received (the string to sign).
    #[must_use]
    pub fn policy(&self) -> &'a str {
        self.policy
    }

    /// Checks `x-amz-date` against the clock: not more than `skew` in the future, not older
    /// than [`MAX_SIGNATURE_AGE`] (the policy's own `expiration` bounds the form further).
    ///
    /// # Errors
    /// [`PostAuthError::TooSkewed`] or [`PostAuthError::Expired`].
    pub fn check_time(
        &self,
        now: OffsetDateTime,
        skew: time::Duration,
    ) -> Result<(), PostAuthError> {
        let t = self.request_time();
        if t > now + skew {
            return Err(PostAuthError::TooSkewed);
        }
        if now - t > MAX_SIGNATURE_AGE {
            return Err(PostAuthError::Expired);
        }
        Ok(())
    }

    /// Verifies the signature with `secret_access_key` (derives the scope's signing key).
    ///
    /// # Errors
    /// [`PostAuthError::SignatureDoesNotMatch`].
    pub fn verify(&self, secret_access_key: &str) -> Result<(), PostAuthError> {
        let scope = self.scope();
        let key = SigningKey::derive(secret_access_key, scope.date, scope.region, scope.service);
        self.verify_with_key(&key)
    }

    /// Verifies the signature with a signing key derived for this form's scope, comparing in
    /// constant time.
    ///
    /// # Errors
    /// [`PostAuthError::SignatureDoesNotMatch`] (also when `key` is for another scope).
    pub fn verify_with_key(&self, key: &SigningKey) -> Result<(), PostAuthError> {
        let scope = self.scope();
        if !key.is_for(scope.date, scope.region, scope.service)
            || !is_signature_syntax(self.signature)
        {
            return Err(PostAuthError::SignatureDoesNotMatch);
        }
        post_signature(key, self.policy)
            .verify(self.signature)
            .map_err(|_| PostAuthError::SignatureDoesNotMatch)
    }
}

/// The signature of a POST policy: `hex(HMAC-SHA256(key, policy_base64))`, the string to sign
/// being the base64 text itself.
#[must_use]
pub fn post_signature(key: &SigningKey, policy_base64: &str) -> crate::Signature {
    key.sign(policy_base64.as_bytes())
}

#[cfg(test)]
mod tests;
