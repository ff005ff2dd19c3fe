//! The claims a session token carries, and their compact binary record.
//!
//! Record layout (all integers big-endian; `str` = `u16` length + UTF-8 bytes; `opt` = one
//! presence byte `0`/`1` then a `str` if present):
//!
//! ```text
//! str access_key_id | u8 kind | str account | str role_name | str role_id | str role_path
//! | str session_name | i64 issued_at_ms | i64 expires_at_ms | opt certificate_id
//! | opt thing_name | opt thing_type | opt source_arn | u8 tag_count | (str key, str value)*
//! [ | u8 transitive_count | u8 tag_index* ]
//! ```
//!
//! The last part is there only when the session has transitive tags (STS `TransitiveTagKeys`):
//! the indexes, ascending, of the tags that pass on to sessions this one assumes. A record
//! without it is a session without transitive tags, so records written before transitive tags
//! existed still decode as what they were.
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
    /// The keys of the tags in `tags` that are transitive (passed on, and kept transitive, to
    /// the sessions this one assumes), in `tags`' order.
    pub transitive_keys: Vec<String>,
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
        if !self.transitive_keys.is_empty() {
            let mut indexes = Vec::with_capacity(self.transitive_keys.len());
            for key in &self.transitive_keys {
                let i = self.tags.iter().position(|(k, _)| k == key).ok_or(
                    TokenError::ClaimsTooLarge("a transitive key without its tag"),
                )?;
                // At most 50 tags: the index fits a byte.
                indexes.push(i as u8);
            }
            indexes.sort_unstable();
            indexes.dedup();
            out.push(indexes.len() as u8);
            out.extend_from_slice(&indexes);
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
        let mut transitive_keys = Vec::new();
        if !r.0.is_empty() {
            let count = usize::from(r.u8()?);
            if count == 0 || count > n {
                return Err(TokenError::Invalid);
            }
            let mut last = None;
            for _ in 0..count {
                let i = r.u8()?;
                // Ascending, no repeats, each naming a tag.
                if usize::from(i) >= n || last.is_some_and(|l| i <= l) {
                    return Err(TokenError::Invalid);
                }
                last = Some(i);
                transitive_keys.push(tags[usize::from(i)].0.clone());
            }
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
            transitive_keys,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            access_key_id: "ASIAAAAAAAAAAAAAAAAA".into(),
            kind: SessionKind::AssumeRole,
            account: "123456789012".into(),
            role_name: "ADCTestRole".into(),
            role_id: "AROAEXAMPLEEXAMPLE12".into(),
            role_path: "/".into(),
            session_name: "s1".into(),
            issued_at_ms: 1,
            expires_at_ms: 2,
            certificate_id: None,
            thing_name: None,
            thing_type: None,
            source_arn: Some("arn:aws:iam::123456789012:user/judy".into()),
            tags: vec![
                ("Star".into(), "1".into()),
                ("Sun".into(), "2".into()),
                ("Heart".into(), "1".into()),
            ],
            transitive_keys: vec![],
        }
    }

    /// Without transitive keys the record is the record of before they existed (no trailer);
    /// with them, one count byte and the ascending tag indexes follow.
    #[test]
    fn transitive_keys_are_an_optional_trailer_of_tag_indexes() {
        let plain = claims();
        let old = plain.encode().unwrap();
        assert_eq!(Claims::decode(&old).unwrap(), plain);
        let mut c = claims();
        c.transitive_keys = vec!["Star".into(), "Heart".into()];
        let new = c.encode().unwrap();
        assert_eq!(&new[..old.len()], &old[..]);
        assert_eq!(&new[old.len()..], &[2, 0, 2]);
        assert_eq!(Claims::decode(&new).unwrap(), c);
        // A transitive key needs its tag.
        c.transitive_keys = vec!["Moon".into()];
        assert!(c.encode().is_err());
    }

    #[test]
    fn malformed_trailers_are_refused() {
        let old = claims().encode().unwrap();
        for trailer in [
            &[0u8][..],       // no keys
            &[1, 3],          // no such tag
            &[2, 2, 0],       // not ascending
            &[2, 1, 1],       // repeated
            &[4, 0, 1, 2, 2], // more keys than tags
            &[1],             // cut short
            &[1, 0, 9],       // trailing byte
        ] {
            let mut bytes = old.clone();
            bytes.extend_from_slice(trailer);
            assert!(
                matches!(Claims::decode(&bytes), Err(TokenError::Invalid)),
                "{trailer:?}"
            );
        }
    }
}
