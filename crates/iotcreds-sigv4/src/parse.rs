//! Phase one: find and parse the SigV4 authentication of a request, without any secret.

use std::borrow::Cow;

use time::OffsetDateTime;

use crate::key::is_signature_syntax;
use crate::query::{QueryAuth, parse_query_auth};
use crate::timestamp::{AmzDate, valid_scope_date};
use crate::{ALGORITHM, RequestParts, SigV4Error, TERMINATOR};

/// How the request carried its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    Header,
    /// `X-Amz-Algorithm`, `X-Amz-Credential`, … query parameters (a presigned URL).
    Presigned,
}

/// The credential scope `date/region/service/aws4_request`, split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialScope<'s> {
    /// `YYYYMMDD`.
    pub date: &'s str,
    /// For example `us-east-1`.
    pub region: &'s str,
    /// For example `s3`, `iot`, `iam`, `sts`: what the edge routes on.
    pub service: &'s str,
}

/// The SigV4 authentication of one request, parsed and structurally checked, not yet verified.
///
/// Borrowed from the request where possible (presigned values that were percent-encoded are
/// decoded into owned strings). `Debug` omits the signature and the session token.
pub struct ParsedAuth<'a> {
    pub(crate) kind: AuthKind,
    /// `AKID/date/region/service/aws4_request`.
    pub(crate) credential: Cow<'a, str>,
    /// Byte offsets of the four `/` in `credential`.
    pub(crate) slashes: [usize; 4],
    pub(crate) signed_headers: Cow<'a, str>,
    pub(crate) signature: Cow<'a, str>,
    pub(crate) date: AmzDate,
    pub(crate) expires: Option<u32>,
    pub(crate) session_token: Option<Cow<'a, str>>,
    /// Presigned requests: whether the token came from the query (else a header).
    pub(crate) token_in_query: bool,
    /// Presigned requests: an `X-Amz-Content-Sha256` query parameter (signed, being part of the
    /// canonical query), which S3 mode then uses as the payload hash.
    pub(crate) query_content_sha256: Option<Cow<'a, str>>,
}

impl std::fmt::Debug for ParsedAuth<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedAuth")
            .field("kind", &self.kind)
            .field("access_key_id", &self.access_key_id())
            .field("scope", &self.scope())
            .field("signed_headers", &self.signed_headers)
            .field("date", &self.date)
            .field("expires", &self.expires)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl<'a> ParsedAuth<'a> {
    /// Finds the request's SigV4 authentication (header or presigned query) and parses it.
    ///
    /// Checks done here, before any secret is looked up: the algorithm, the presence and syntax of
    /// every parameter, the credential's shape and `aws4_request` terminator, `host` among the
    /// signed headers, the timestamp's format and that the scope date is its day, the signature's
    /// syntax (64 lowercase hex digits), `X-Amz-Expires` in `1..=604800`, and that only one
    /// mechanism is used.
    ///
    /// # Errors
    /// `MissingAuthenticationToken` when there is no SigV4 authentication at all,
    /// `UnsupportedAlgorithm` for SigV2/SigV4a, `IncompleteSignature`,
    /// `AuthorizationQueryParametersError` or `InvalidScope` for malformed input.
    pub fn parse(req: &RequestParts<'a>) -> Result<Self, SigV4Error> {
        let mut auth = None;
        let mut auth_count = 0usize;
        for (name, value) in req.headers {
            if name.eq_ignore_ascii_case("authorization") {
                auth_count += 1;
                auth = Some(*value);
            }
        }
        let q = QueryAuth::scan(req.query)?;
        match auth {
            Some(_) if q.is_presigned() => Err(SigV4Error::incomplete(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
                 Signature query string parameter or the Authorization header should be specified",
            )),
            Some(_) if auth_count > 1 => Err(SigV4Error::incomplete(
                "The Authorization header may appear only once.",
            )),
            Some(value) => parse_header_auth(req, value),
            None if q.is_presigned() => parse_query_auth(req, &q),
            None if q.sigv2 => Err(SigV4Error::UnsupportedAlgorithm(Cow::Borrowed(
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
            ))),
            None => Err(SigV4Error::MissingAuthenticationToken),
        }
    }

    /// Header or presigned.
    #[must_use]
    pub fn kind(&self) -> AuthKind {
        self.kind
    }

    /// The access key id to look the secret up with.
    #[must_use]
    pub fn access_key_id(&self) -> &str {
        &self.credential[..self.slashes[0]]
    }

    /// The credential scope (date, region, service).
    #[must_use]
    pub fn scope(&self) -> CredentialScope<'_> {
        let [a, b, c, d] = self.slashes;
        CredentialScope {
            date: &self.credential[a + 1..b],
            region: &self.credential[b + 1..c],
            service: &self.credential[c + 1..d],
        }
    }

    /// The scope as it appears in the string to sign: `date/region/service/aws4_request`.
    #[must_use]
    pub fn scope_str(&self) -> &str {
        &self.credential[self.slashes[0] + 1..]
    }

    /// The signed header names, lowercase, in the order the client listed them.
    pub fn signed_headers(&self) -> impl Iterator<Item = &str> + '_ {
        self.signed_headers.split(';')
    }

    /// Whether `name` (any case) is among the signed headers.
    #[must_use]
    pub fn is_signed(&self, name: &str) -> bool {
        self.signed_headers().any(|h| h.eq_ignore_ascii_case(name))
    }

    /// The session token (`X-Amz-Security-Token` header or query parameter), if any.
    ///
    /// The caller must check that the token belongs to [`Self::access_key_id`].
    #[must_use]
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// The signing time (`X-Amz-Date`, or the `Date` header for header authentication).
    #[must_use]
    pub fn request_time(&self) -> OffsetDateTime {
        self.date.to_offset_date_time()
    }

    /// The signing time as in the string to sign: `YYYYMMDD'T'HHMMSS'Z'`.
    #[must_use]
    pub fn amz_date(&self) -> &str {
        self.date.as_str()
    }

    /// Presigned requests: `X-Amz-Expires` in seconds.
    #[must_use]
    pub fn expires(&self) -> Option<u32> {
        self.expires
    }
}

pub(crate) fn decode(v: &str) -> Option<Cow<'_, str>> {
    iotcreds_types::percent::decode(v.as_bytes(), iotcreds_types::percent::Plus::Literal)
}

const MALFORMED_HEADER_CREDENTIAL: &str = "Authorization header credential is malformed; expecting \
     \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";
const HOST_NOT_SIGNED: &str =
    "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.";
pub(crate) const BAD_SIGNED_HEADERS: &str =
    "SignedHeaders must be a ';'-separated list of lowercase header names.";
pub(crate) const BAD_AMZ_DATE: &str =
    "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"";
const SCOPE_DATE_MISMATCH: &str =
    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.";

pub(crate) enum CredentialError {
    Malformed,
    Terminator,
}

/// Splits `AKID/YYYYMMDD/region/service/aws4_request`, returning the offsets of the slashes.
pub(crate) fn split_credential(c: &str) -> Result<[usize; 4], CredentialError> {
    let mut slashes = [0usize; 4];
    let mut n = 0;
    for (i, b) in c.bytes().enumerate() {
        if b == b'/' {
            if n == 4 {
                return Err(CredentialError::Malformed);
            }
            slashes[n] = i;
            n += 1;
        }
    }
    if n != 4 {
        return Err(CredentialError::Malformed);
    }
    let [a, b, cc, d] = slashes;
    let akid = &c[..a];
    let date = &c[a + 1..b];
    let region = &c[b + 1..cc];
    let service = &c[cc + 1..d];
    let terminator = &c[d + 1..];
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if akid.is_empty()
        || !akid.bytes().all(|b| b.is_ascii_alphanumeric())
        || !valid_scope_date(date)
        || !name_ok(region)
        || !name_ok(service)
    {
        return Err(CredentialError::Malformed);
    }
    if terminator != TERMINATOR {
        return Err(CredentialError::Terminator);
    }
    Ok(slashes)
}

pub(crate) fn check_signed_headers(list: &str) -> Result<(), SigV4Error> {
    // One pass: every name non-empty and made of lowercase token characters.
    let mut segment_len = 0usize;
    for b in list.bytes() {
        match b {
            b';' if segment_len == 0 => return Err(SigV4Error::incomplete(BAD_SIGNED_HEADERS)),
            b';' => segment_len = 0,
            b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'!'
            | b'#'
            | b'$'
            | b'%'
            | b'&'
            | b'\''
            | b'*'
            | b'+'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~' => segment_len += 1,
            _ => return Err(SigV4Error::incomplete(BAD_SIGNED_HEADERS)),
        }
    }
    if segment_len == 0 {
        return Err(SigV4Error::incomplete(BAD_SIGNED_HEADERS));
    }
    if !list.split(';').any(|h| h == "host") {
        return Err(SigV4Error::incomplete(HOST_NOT_SIGNED));
    }
    Ok(())
}

fn single_header<'h>(
    headers: &[(&str, &'h [u8])],
    name: &str,
    dup: &'static str,
) -> Result<Option<&'h [u8]>, SigV4Error> {
    let mut found = None;
    for (n, v) in headers {
        if n.eq_ignore_ascii_case(name) && found.replace(*v).is_some() {
            return Err(SigV4Error::incomplete(dup));
        }
    }
    Ok(found)
}

pub(crate) fn header_token<'h>(
    headers: &[(&str, &'h [u8])],
) -> Result<Option<&'h str>, SigV4Error> {
    match single_header(
        headers,
        "x-amz-security-token",
        "X-Amz-Security-Token may appear only once.",
    )? {
        None => Ok(None),
        Some(v) => std::str::from_utf8(v.trim_ascii())
            .map(Some)
            .map_err(|_| SigV4Error::incomplete("X-Amz-Security-Token is not valid UTF-8.")),
    }
}

fn parse_header_auth<'a>(
    req: &RequestParts<'a>,
    value: &'a [u8],
) -> Result<ParsedAuth<'a>, SigV4Error> {
    let value = std::str::from_utf8(value)
        .map_err(|_| SigV4Error::incomplete("The Authorization header is not valid UTF-8."))?
        .trim_matches(|c: char| c.is_ascii_whitespace());
    let (scheme, rest) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    if scheme != ALGORITHM {
        return Err(unsupported_scheme(scheme));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',') {
        let component = component.trim_matches(|c: char| c.is_ascii_whitespace());
        if component.is_empty() {
            continue;
        }
        let Some((k, v)) = component.split_once('=') else {
            return Err(SigV4Error::incomplete(
                "Authorization header parameters must have the form Name=Value.",
            ));
        };
        let slot = match k.trim_end() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(SigV4Error::incomplete(
                    "Authorization header contains an unknown parameter; expected Credential, \
                     SignedHeaders and Signature.",
                ));
            }
        };
        if slot.replace(v.trim_start()).is_some() {
            return Err(SigV4Error::incomplete(
                "Authorization header parameters may appear only once.",
            ));
        }
    }
    let date_header = match single_header(
        req.headers,
        "x-amz-date",
        "X-Amz-Date may appear only once.",
    )? {
        Some(v) => {
            Some(AmzDate::parse_amz(v.trim_ascii()).ok_or(SigV4Error::incomplete(BAD_AMZ_DATE))?)
        }
        None => match single_header(req.headers, "date", "Date may appear only once.")? {
            Some(v) => Some(AmzDate::parse_http_date(v).ok_or(SigV4Error::incomplete(
                "The Date header must be an IMF-fixdate such as 'Fri, 24 May 2013 00:00:00 GMT'.",
            ))?),
            None => None,
        },
    };
    let (Some(credential), Some(signed_headers), Some(signature), Some(date)) =
        (credential, signed_headers, signature, date_header)
    else {
        let mut msg = String::new();
        for (missing, text) in [
            (
                credential.is_none(),
                "Authorization header requires 'Credential' parameter. ",
            ),
            (
                signature.is_none(),
                "Authorization header requires 'Signature' parameter. ",
            ),
            (
                signed_headers.is_none(),
                "Authorization header requires 'SignedHeaders' parameter. ",
            ),
            (
                date_header.is_none(),
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            ),
        ] {
            if missing {
                msg.push_str(text);
            }
        }
        return Err(SigV4Error::IncompleteSignature(Cow::Owned(
            msg.trim_end().to_owned(),
        )));
    };
    let slashes = split_credential(credential).map_err(|e| match e {
        CredentialError::Malformed => SigV4Error::incomplete(MALFORMED_HEADER_CREDENTIAL),
        CredentialError::Terminator => terminator_error(),
    })?;
    check_signed_headers(signed_headers)?;
    if !is_signature_syntax(signature) {
        return Err(SigV4Error::incomplete(
            "Signature must be 64 lowercase hexadecimal characters.",
        ));
    }
    let parsed = ParsedAuth {
        kind: AuthKind::Header,
        credential: Cow::Borrowed(credential),
        slashes,
        signed_headers: Cow::Borrowed(signed_headers),
        signature: Cow::Borrowed(signature),
        date,
        expires: None,
        session_token: header_token(req.headers)?.map(Cow::Borrowed),
        token_in_query: false,
        query_content_sha256: None,
    };
    check_scope_date(&parsed)?;
    Ok(parsed)
}

pub(crate) fn terminator_error() -> SigV4Error {
    SigV4Error::scope("Credential should be scoped with a valid terminator: 'aws4_request'.")
}

pub(crate) fn check_scope_date(p: &ParsedAuth<'_>) -> Result<(), SigV4Error> {
    if p.scope().date == p.date.day() {
        Ok(())
    } else {
        Err(SigV4Error::scope(SCOPE_DATE_MISMATCH))
    }
}

pub(crate) fn unsupported_scheme(scheme: &str) -> SigV4Error {
    if scheme == "AWS4-ECDSA-P256-SHA256" {
        SigV4Error::UnsupportedAlgorithm(Cow::Borrowed(
            "SigV4a (AWS4-ECDSA-P256-SHA256) is not supported; please use AWS4-HMAC-SHA256.",
        ))
    } else if scheme == "AWS" || scheme.starts_with("AWS4") {
        SigV4Error::UnsupportedAlgorithm(Cow::Borrowed(
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ))
    } else {
        SigV4Error::incomplete(
            "Authorization header requires 'Credential' parameter. Authorization header requires \
             'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
             Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    }
}
