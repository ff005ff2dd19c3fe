//! The claims a session token carries, and their compact binary record.
//!
//! Record layout (all integers big-endian; `str` = `u16` length + UTF-8 bytes; `opt` = one
//! presence byte `0`/`1` then a `str` if present):
//!
//! ```text
//! str access_key_id | u8 kind | str account | str role_name | str role_id | str role_path
//! | str session_name | i64 issued_at_ms | i64 expires_at_ms | opt certificate_id
//! | opt thing_name | opt thing_type | opt source_arn | u8 tag_count | (str key, str value)*
//! ```
//!
//! The record is only ever decoded after AEAD authentication succeeded, but the decoder still
//! treats it as untrusted input: every length is checked and trailing bytes are refused.

use crate::TokenError;

/// How the session was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// From the credentials endpoint, with a device certificate (`credentials.iot.amazonaws.com`
    /// assumed the role).
    IotCertificate,
    /// From STS `AssumeRole`, by an IAM principal (role chaining or a user).
    AssumeRole,
}

/// What a session token says about its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The temporary access key id this token belongs to.
    pub access_key_id: String,
    /// How the session was obtained.
    pub kind: SessionKind,
    /// The account id.
    pub account: String,
    /// The assumed role's name.
    pub role_name: String,
    /// The assumed role's unique id (`AROA…`).
    pub role_id: String,
    /// The assumed role's path (`/` or `/a/b/`).
    pub role_path: String,
    /// The role session name (the certificate id for device sessions).
    pub session_name: String,
    /// Issue time (ms since the epoch).
    pub issued_at_ms: i64,
    /// Expiry (ms since the epoch).
    pub expires_at_ms: i64,
    /// `credentials-iot:AwsCertificateId`.
    pub certificate_id: Option<String>,
    /// `credentials-iot:ThingName` (only when the request named a verified thing).
    pub thing_name: Option<String>,
    /// `credentials-iot:ThingTypeName`.
    pub thing_type: Option<String>,
    /// For `AssumeRole` sessions: the ARN of the principal that assumed the role.
    pub source_arn: Option<String>,
    /// Session tags (`aws:PrincipalTag/…`), at most 50.
    pub tags: Vec<(String, String)>,
}

/// Most tags a token may carry (the STS session-tag limit).
pub const MAX_TAGS: usize = 50;

impl Claims {
    /// Encode the record.
    pub fn encode(&self) -> Result<Vec<u8>, TokenError> {
        if self.tags.len() > MAX_TAGS {
            return Err(TokenError::ClaimsTooLarge("more than 50 tags"));
        }
        let mut out = Vec::with_capacity(256);
        put_str(&mut out, &self.access_key_id)?;
        out.push(match self.kind {
            SessionKind::IotCertificate => 0,
            SessionKind::AssumeRole => 1,
        });
        for s in [
            &self.account,
            &self.role_name,
            &self.role_id,
            &self.role_path,
            &self.session_name,
        ] {
            put_str(&mut out, s)?;
        }
        out.extend_from_slice(&self.issued_at_ms.to_be_bytes());
        out.extend_from_slice(&self.expires_at_ms.to_be_bytes());
        for o in [
            &self.certificate_id,
            &self.thing_name,
            &self.thing_type,
            &self.source_arn,
        ] {
            match o {
                None => out.push(0),
                Some(s) => {
                    out.push(1);
                    put_str(&mut out, s)?;
                }
            }
        }
        // Checked above: at most 50 tags, fits a byte.
        out.push(self.tags.len() as u8);
        for (k, v) in &self.tags {
            put_str(&mut out, k)?;
            put_str(&mut out, v)?;
        }
        Ok(out)
    }

    /// Decode a record; any malformation is [`TokenError::Invalid`].
    pub fn decode(bytes: &[u8]) -> Result<Self, TokenError> {
        let mut r = Reader(bytes);
        let access_key_id = r.str()?;
        let kind = match r.u8()? {
            0 => SessionKind::IotCertificate,
            1 => SessionKind::AssumeRole,
            _ => return Err(TokenError::Invalid),
        };
        let account = r.str()?;
        let role_name = r.str()?;
        let role_id = r.str()?;
        let role_path = r.str()?;
        let session_name = r.str()?;
        let issued_at_ms = r.i64()?;
        let expires_at_ms = r.i64()?;
        let certificate_id = r.opt()?;
        let thing_name = r.opt()?;
        let thing_type = r.opt()?;
        let source_arn = r.opt()?;
        let n = usize::from(r.u8()?);
        if n > MAX_TAGS {
            return Err(TokenError::Invalid);
        }
        let mut tags = Vec::with_capacity(n);
        for _ in 0..n {
            tags.push((r.str()?, r.str()?));
        }
        if !r.0.is_empty() {
            return Err(TokenError::Invalid);
        }
        Ok(Claims {
            access_key_id,
            kind,
            account,
            role_name,
            role_id,
            role_path,
            session_name,
            issued_at_ms,
            expires_at_ms,
            certificate_id,
            thing_name,
            thing_type,
            source_arn,
            tags,
        })
    }

    /// `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
    pub fn role_arn(&self) -> String {
        iotcreds_types::arn::iam_role(&self.account, &self.role_path, &self.role_name)
    }

    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub fn assumed_role_arn(&self) -> String {
        iotcreds_types::arn::sts_assumed_role(&self.account, &self.role_name, &self.session_name)
    }

    /// `ROLEID:SESSION`, the `aws:userid` of the session.
    pub fn user_id(&self) -> String {
        format!("{}:{}", self.role_id, self.session_name)
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), TokenError> {
    let len = u16::try_from(s.len())
        .map_err(|_| TokenError::ClaimsTooLarge("string over 65535 bytes"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], TokenError> {
        if self.0.len() < n {
            return Err(TokenError::Invalid);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, TokenError> {
        Ok(self.take(1)?[0])
    }

    fn i64(&mut self) -> Result<i64, TokenError> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| TokenError::Invalid)?;
        Ok(i64::from_be_bytes(b))
    }

    fn str(&mut self) -> Result<String, TokenError> {
        let b: [u8; 2] = self.take(2)?.try_into().map_err(|_| TokenError::Invalid)?;
        let n = usize::from(u16::from_be_bytes(b));
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| TokenError::Invalid)
    }

    fn opt(&mut self) -> Result<Option<String>, TokenError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.str().map(Some),
            _ => Err(TokenError::Invalid),
        }
    }
}
