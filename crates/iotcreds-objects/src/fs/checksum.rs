//! Content-MD5 and the flexible checksums (`x-amz-checksum-*`, in headers or trailers).
//!
//! s3s parses the headers and verifies SigV4 (including trailer signatures); checking that the
//! digests match the bytes is the backend's job. The primitives are s3s's own
//! ([`s3s::crypto`]), so no other crypto crate is compiled for this.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderMap;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Md5, Sha1, Sha256};
use s3s::dto::ChecksumAlgorithm;
use s3s::{S3Request, S3Result, s3_error};

/// A flexible-checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algo {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

pub(crate) const ALL_ALGOS: [Algo; 5] = [
    Algo::Crc32,
    Algo::Crc32c,
    Algo::Crc64Nvme,
    Algo::Sha1,
    Algo::Sha256,
];

impl Algo {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    pub(crate) fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// Case-insensitive, as SDKs send both `crc32` and `CRC32`.
    pub(crate) fn from_name(s: &str) -> Option<Self> {
        ALL_ALGOS
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
    }

    pub(crate) fn from_header(s: &str) -> Option<Self> {
        ALL_ALGOS
            .into_iter()
            .find(|a| a.header().eq_ignore_ascii_case(s.trim()))
    }

    /// May a multipart upload combine parts into a whole-object checksum (`FULL_OBJECT`)?
    pub(crate) fn supports_full_object(self) -> bool {
        matches!(self, Self::Crc32 | Self::Crc32c | Self::Crc64Nvme)
    }

    /// May a multipart upload use a checksum of part checksums (`COMPOSITE`)?
    pub(crate) fn supports_composite(self) -> bool {
        !matches!(self, Self::Crc64Nvme)
    }

    /// Base64 digest of `data` in one go.
    #[cfg(test)]
    pub(crate) fn digest_b64(self, data: &[u8]) -> String {
        let mut h = Hasher::new(self);
        h.update(data);
        h.finish_b64()
    }

    fn invalid_value(self) -> s3s::S3Error {
        s3_error!(
            InvalidRequest,
            "Value for {} header is invalid.",
            self.header()
        )
    }

    /// Validates a client-supplied base64 digest (shape only).
    pub(crate) fn check_value(self, value: &str) -> S3Result<()> {
        match B64.decode(value.trim()) {
            Ok(raw) if raw.len() == self.digest_len() => Ok(()),
            _ => Err(self.invalid_value()),
        }
    }

    /// AWS's message for a checksum that does not match the bytes.
    pub(crate) fn bad_digest(self) -> s3s::S3Error {
        s3_error!(
            BadDigest,
            "The {} you specified did not match the calculated checksum.",
            self.name()
        )
    }
}

/// An incremental hasher for one algorithm.
pub(crate) enum Hasher {
    Crc32(Crc32),
    Crc32c(Crc32c),
    Crc64Nvme(Crc64Nvme),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    pub(crate) fn new(algo: Algo) -> Self {
        match algo {
            Algo::Crc32 => Self::Crc32(Crc32::new()),
            Algo::Crc32c => Self::Crc32c(Crc32c::new()),
            Algo::Crc64Nvme => Self::Crc64Nvme(Crc64Nvme::new()),
            Algo::Sha1 => Self::Sha1(Sha1::new()),
            Algo::Sha256 => Self::Sha256(Sha256::new()),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc32(h) => h.update(data),
            Self::Crc32c(h) => h.update(data),
            Self::Crc64Nvme(h) => h.update(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
        }
    }

    pub(crate) fn finish_b64(self) -> String {
        match self {
            Self::Crc32(h) => B64.encode(h.finalize()),
            Self::Crc32c(h) => B64.encode(h.finalize()),
            Self::Crc64Nvme(h) => B64.encode(h.finalize()),
            Self::Sha1(h) => B64.encode(h.finalize()),
            Self::Sha256(h) => B64.encode(h.finalize()),
        }
    }
}

/// Composite multipart checksum: the checksum of the concatenated raw part checksums (base64,
/// without the `-N` suffix). `None` if a part checksum is not valid base64.
pub(crate) fn composite(algo: Algo, part_values: &[&str]) -> Option<String> {
    let mut h = Hasher::new(algo);
    for v in part_values {
        h.update(&B64.decode(v).ok()?);
    }
    Some(h.finish_b64())
}

/// Parses `Content-MD5`: base64 of 16 bytes, else `InvalidDigest`.
pub(crate) fn parse_content_md5(value: Option<&str>) -> S3Result<Option<[u8; 16]>> {
    let Some(value) = value else { return Ok(None) };
    let raw = B64
        .decode(value.trim())
        .map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified was invalid."))?;
    let md5: [u8; 16] = raw
        .try_into()
        .map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified was invalid."))?;
    Ok(Some(md5))
}

/// The multipart ETag: `hex(md5(md5_1 ‖ … ‖ md5_N))-N` from the parts' hex MD5s.
pub(crate) fn multipart_etag(part_md5_hex: &[&str]) -> Option<String> {
    let mut h = Md5::new();
    for p in part_md5_hex {
        h.update(&hex::decode(p).ok()?);
    }
    Some(format!(
        "{}-{}",
        hex::encode(h.finalize()),
        part_md5_hex.len()
    ))
}

/// Where the expected checksum of a body comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expected {
    /// The body carries no checksum; `algo` is still computed (requested or default).
    None,
    /// `x-amz-checksum-<algo>` request header.
    Header(String),
    /// Announced by `x-amz-trailer`, read from the trailing headers after the body.
    Trailer,
}

/// What to compute over a body and what to compare it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub algo: Algo,
    pub expected: Expected,
    /// Did the client name or send this algorithm (so that responses echo it)?
    pub requested: bool,
}

/// The checksum values of a PutObject / UploadPart input, in [`ALL_ALGOS`] order.
pub(crate) type HeaderValues<'a> = [Option<&'a str>; 5];

/// Works out the checksum plan of a request body from the parsed headers, `x-amz-trailer` and
/// `x-amz-sdk-checksum-algorithm`. `default` is used when the client asked for nothing.
pub(crate) fn plan<T>(
    req: &S3Request<T>,
    values: HeaderValues<'_>,
    sdk_algorithm: Option<&ChecksumAlgorithm>,
    default: Algo,
) -> S3Result<Plan> {
    let mut found: Option<(Algo, Expected)> = None;
    for (algo, v) in ALL_ALGOS.into_iter().zip(values) {
        if let Some(v) = v {
            if found.is_some() {
                return Err(multiple());
            }
            algo.check_value(v)?;
            found = Some((algo, Expected::Header(v.trim().to_owned())));
        }
    }
    if let Some(trailer) = trailer_algo(&req.headers)? {
        if found.is_some() {
            return Err(multiple());
        }
        found = Some((trailer, Expected::Trailer));
    }
    // s3s fills the input field from `x-amz-checksum-algorithm` (or the trailer); SDKs send
    // `x-amz-sdk-checksum-algorithm`. Both name the same thing.
    let invalid = || {
        s3_error!(
            InvalidRequest,
            "Value for x-amz-sdk-checksum-algorithm header is invalid."
        )
    };
    let from_input = sdk_algorithm
        .map(|a| Algo::from_name(a.as_str()).ok_or_else(invalid))
        .transpose()?;
    let from_header = match req.headers.get("x-amz-sdk-checksum-algorithm") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(Algo::from_name)
                .ok_or_else(invalid)?,
        ),
        None => None,
    };
    if from_input.is_some() && from_header.is_some() && from_input != from_header {
        return Err(invalid());
    }
    let sdk = from_input.or(from_header);
    match (found, sdk) {
        (Some((algo, expected)), sdk) => {
            if sdk.is_some_and(|s| s != algo) {
                return Err(s3_error!(
                    InvalidRequest,
                    "Value for x-amz-sdk-checksum-algorithm header is invalid."
                ));
            }
            Ok(Plan {
                algo,
                expected,
                requested: true,
            })
        }
        (None, Some(algo)) => Err(s3_error!(
            InvalidRequest,
            "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found. ({})",
            algo.name()
        )),
        (None, None) => Ok(Plan {
            algo: default,
            expected: Expected::None,
            requested: false,
        }),
    }
}

fn multiple() -> s3s::S3Error {
    s3_error!(
        InvalidRequest,
        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
    )
}

/// The checksum announced in `x-amz-trailer`, if any. Other trailers are not checksums and are
/// ignored.
fn trailer_algo(headers: &HeaderMap) -> S3Result<Option<Algo>> {
    let mut found = None;
    for v in headers.get_all("x-amz-trailer") {
        let v = v
            .to_str()
            .map_err(|_| s3_error!(InvalidRequest, "Invalid x-amz-trailer header."))?;
        for name in v.split(',') {
            if let Some(a) = Algo::from_header(name) {
                if found.is_some() {
                    return Err(multiple());
                }
                found = Some(a);
            }
        }
    }
    Ok(found)
}

/// Checks a computed digest against the plan, reading the trailer if that is where it is.
/// Call only after the whole body has been consumed.
pub(crate) fn verify<T>(req: &S3Request<T>, plan: &Plan, computed_b64: &str) -> S3Result<()> {
    let expected = match &plan.expected {
        Expected::None => return Ok(()),
        Expected::Header(v) => v.clone(),
        Expected::Trailer => {
            let name = plan.algo.header();
            let value = req
                .trailing_headers
                .as_ref()
                .and_then(|t| {
                    t.read(|h| h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned))
                })
                .flatten()
                .ok_or_else(|| {
                    s3_error!(
                        InvalidRequest,
                        "The trailing {name} checksum was not received."
                    )
                })?;
            plan.algo.check_value(&value)?;
            value.trim().to_owned()
        }
    };
    if expected == computed_b64 {
        Ok(())
    } else {
        Err(plan.algo.bad_digest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // "hello world": CRC32 0x0d4a1185, CRC32C 0xc99465aa
        assert_eq!(
            Algo::Crc32.digest_b64(b"hello world"),
            B64.encode([0x0d, 0x4a, 0x11, 0x85])
        );
        assert_eq!(
            Algo::Crc32c.digest_b64(b"hello world"),
            B64.encode([0xc9, 0x94, 0x65, 0xaa])
        );
        assert_eq!(
            Algo::Sha256.digest_b64(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(Algo::Sha1.digest_b64(b""), "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
    }

    #[test]
    fn multipart_etag_known_answer() {
        // md5("a") = 0cc175b9c0f1b6a831c399e269772661, md5("b") = 92eb5ffee6ae2fec3ad71c777531578f
        let etag = multipart_etag(&[
            "0cc175b9c0f1b6a831c399e269772661",
            "92eb5ffee6ae2fec3ad71c777531578f",
        ]);
        let mut raw = hex::decode("0cc175b9c0f1b6a831c399e269772661").expect("hex");
        raw.extend(hex::decode("92eb5ffee6ae2fec3ad71c777531578f").expect("hex"));
        assert_eq!(
            etag,
            Some(format!("{}-2", hex::encode(Md5::checksum(&raw))))
        );
        assert_eq!(multipart_etag(&["zz"]), None);
    }

    #[test]
    fn content_md5() {
        assert!(
            parse_content_md5(Some("XrY7u+Ae7tCTyyK7j1rNww=="))
                .expect("ok")
                .is_some()
        );
        assert!(parse_content_md5(Some("not base64!")).is_err());
        assert!(parse_content_md5(Some("AAAA")).is_err());
    }

    #[test]
    fn names() {
        for a in ALL_ALGOS {
            assert_eq!(Algo::from_name(&a.name().to_lowercase()), Some(a));
            assert_eq!(Algo::from_header(&a.header().to_uppercase()), Some(a));
            assert!(a.check_value(&a.digest_b64(b"x")).is_ok());
            assert!(a.check_value("AAAA").is_err() || a.digest_len() == 3);
        }
    }
}
