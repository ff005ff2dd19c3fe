//! Presigned (query-string) authentication: finding the `X-Amz-*` parameters and parsing them.

use std::borrow::Cow;

use crate::canonical::canonical_component;
use crate::key::is_signature_syntax;
use crate::parse::{
    AuthKind, BAD_AMZ_DATE, BAD_SIGNED_HEADERS, CredentialError, ParsedAuth, check_scope_date,
    check_signed_headers, decode, header_token, split_credential, terminator_error,
    unsupported_scheme,
};
use crate::timestamp::AmzDate;
use crate::{ALGORITHM, MAX_PRESIGNED_EXPIRES, RequestParts, SigV4Error};

const MALFORMED_QUERY_CREDENTIAL: &str = "Error parsing the X-Amz-Credential parameter; the Credential is \
     mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";
const QUERY_REQUIRED: &str = "Query-string authentication version 4 requires the X-Amz-Algorithm, \
     X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";

/// The authentication-related query parameters of a request, found in one pass.
#[derive(Default)]
pub(crate) struct QueryAuth<'q> {
    pub(crate) algorithm: Option<&'q str>,
    pub(crate) credential: Option<&'q str>,
    pub(crate) date: Option<&'q str>,
    pub(crate) expires: Option<&'q str>,
    pub(crate) signed_headers: Option<&'q str>,
    pub(crate) signature: Option<&'q str>,
    pub(crate) token: Option<&'q str>,
    pub(crate) content_sha256: Option<&'q str>,
    pub(crate) sigv2: bool,
}

impl<'q> QueryAuth<'q> {
    pub(crate) fn scan(query: &'q str) -> Result<Self, SigV4Error> {
        let mut q = Self::default();
        let (mut v2_key, mut v2_sig) = (false, false);
        for part in query.split('&') {
            if part.is_empty() {
                continue;
            }
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let key = canonical_component(k.as_bytes());
            let slot = match &*key {
                b"X-Amz-Algorithm" => &mut q.algorithm,
                b"X-Amz-Credential" => &mut q.credential,
                b"X-Amz-Date" => &mut q.date,
                b"X-Amz-Expires" => &mut q.expires,
                b"X-Amz-SignedHeaders" => &mut q.signed_headers,
                b"X-Amz-Signature" => &mut q.signature,
                b"X-Amz-Security-Token" => &mut q.token,
                b"X-Amz-Content-Sha256" => &mut q.content_sha256,
                b"AWSAccessKeyId" => {
                    v2_key = true;
                    continue;
                }
                b"Signature" => {
                    v2_sig = true;
                    continue;
                }
                _ => continue,
            };
            if slot.replace(v).is_some() {
                return Err(SigV4Error::query_param(
                    "A query authentication parameter appears more than once.",
                ));
            }
        }
        q.sigv2 = v2_key && v2_sig;
        Ok(q)
    }

    pub(crate) fn is_presigned(&self) -> bool {
        self.algorithm.is_some() || self.credential.is_some() || self.signature.is_some()
    }
}

/// Whether a header-authenticated request with this query would be taken as presigned (or is
/// malformed): the signer refuses to sign such a request.
pub(crate) fn query_looks_presigned(query: &str) -> bool {
    QueryAuth::scan(query).map_or(true, |q| q.is_presigned())
}

/// The decoded `X-Amz-Content-Sha256` query parameter; `Err` for an unparsable query.
pub(crate) fn query_content_sha256(query: &str) -> Result<Option<Cow<'_, str>>, ()> {
    match QueryAuth::scan(query) {
        Err(_) => Err(()),
        Ok(q) => q.content_sha256.map(|v| decode(v).ok_or(())).transpose(),
    }
}

/// Whether `query` already carries any parameter that presigning adds.
pub(crate) fn query_has_auth_params(query: &str) -> bool {
    QueryAuth::scan(query).map_or(true, |q| {
        q.is_presigned()
            || q.date.is_some()
            || q.expires.is_some()
            || q.signed_headers.is_some()
            || q.token.is_some()
    })
}

pub(crate) fn parse_query_auth<'a>(
    req: &RequestParts<'a>,
    q: &QueryAuth<'a>,
) -> Result<ParsedAuth<'a>, SigV4Error> {
    let (
        Some(algorithm),
        Some(credential),
        Some(date),
        Some(expires),
        Some(signed_headers),
        Some(signature),
    ) = (
        q.algorithm,
        q.credential,
        q.date,
        q.expires,
        q.signed_headers,
        q.signature,
    )
    else {
        return Err(SigV4Error::query_param(QUERY_REQUIRED));
    };
    let algorithm = decode(algorithm).unwrap_or(Cow::Borrowed(""));
    if algorithm != ALGORITHM {
        return Err(if algorithm == "AWS4-ECDSA-P256-SHA256" {
            unsupported_scheme(&algorithm)
        } else {
            SigV4Error::query_param("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
        });
    }
    let credential =
        decode(credential).ok_or(SigV4Error::query_param(MALFORMED_QUERY_CREDENTIAL))?;
    let slashes = split_credential(&credential).map_err(|e| match e {
        CredentialError::Malformed => SigV4Error::query_param(MALFORMED_QUERY_CREDENTIAL),
        CredentialError::Terminator => terminator_error(),
    })?;
    let date = decode(date)
        .and_then(|d| AmzDate::parse_amz(d.as_bytes()))
        .ok_or(SigV4Error::query_param(BAD_AMZ_DATE))?;
    let expires = parse_expires(expires)?;
    let signed_headers =
        decode(signed_headers).ok_or(SigV4Error::incomplete(BAD_SIGNED_HEADERS))?;
    check_signed_headers(&signed_headers)?;
    let signature = decode(signature).unwrap_or(Cow::Borrowed(""));
    if !is_signature_syntax(&signature) {
        return Err(SigV4Error::query_param(
            "X-Amz-Signature must be 64 lowercase hexadecimal characters.",
        ));
    }
    let query_token = match q.token {
        Some(t) => Some(decode(t).ok_or(SigV4Error::query_param(
            "X-Amz-Security-Token is not valid UTF-8.",
        ))?),
        None => None,
    };
    let header_token = header_token(req.headers)?;
    let (session_token, token_in_query) = match (query_token, header_token) {
        (Some(_), Some(_)) => {
            return Err(SigV4Error::incomplete(
                "The session token may be given either as a header or as a query parameter, not both.",
            ));
        }
        (Some(t), None) => (Some(t), true),
        (None, h) => (h.map(Cow::Borrowed), false),
    };
    let parsed = ParsedAuth {
        kind: AuthKind::Presigned,
        credential,
        slashes,
        signed_headers,
        signature,
        date,
        expires: Some(expires),
        session_token,
        token_in_query,
        query_content_sha256: match q.content_sha256 {
            Some(v) => Some(decode(v).ok_or(SigV4Error::InvalidContentSha256)?),
            None => None,
        },
    };
    check_scope_date(&parsed)?;
    Ok(parsed)
}

fn parse_expires(raw: &str) -> Result<u32, SigV4Error> {
    if let Some(rest) = raw.strip_prefix('-')
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(SigV4Error::query_param(
            "X-Amz-Expires must be non-negative",
        ));
    }
    if raw.is_empty() || raw.len() > 10 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SigV4Error::query_param("X-Amz-Expires should be a number"));
    }
    let v: u64 = raw
        .parse()
        .map_err(|_| SigV4Error::query_param("X-Amz-Expires should be a number"))?;
    if v == 0 {
        return Err(SigV4Error::query_param(
            "X-Amz-Expires must be at least 1 second",
        ));
    }
    if v > u64::from(MAX_PRESIGNED_EXPIRES) {
        return Err(SigV4Error::query_param(
            "X-Amz-Expires must be less than a week (in seconds) that is; 604800",
        ));
    }
    u32::try_from(v).map_err(|_| SigV4Error::query_param("X-Amz-Expires should be a number"))
}
