//! S3 aws-chunked uploads: the chunk signature chain (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) and
//! the trailer signature (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`).
//!
//! Pure functions: the caller decodes the aws-chunked framing, and for each chunk passes the
//! signing key of the seed request, the seed's `X-Amz-Date`, the previous signature (the seed
//! signature for the first chunk) and the chunk data. The final zero-length chunk is signed like
//! any other. With a trailer, the trailer signature chains from the final chunk's signature.
//!
//! ```text
//! chunk:   AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<previous>\n<sha256("")>\n<sha256(chunk)>
//! trailer: AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<previous>\n<sha256(canonical trailer)>
//! ```

use crate::canonical::{sha256_hex, write_canonical_header};
use crate::key::{Signature, SigningKey};
use crate::{EMPTY_SHA256, SigV4Error};

const CHUNK_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";
const TRAILER_ALGORITHM: &str = "AWS4-HMAC-SHA256-TRAILER";

fn write_prefix(out: &mut Vec<u8>, algorithm: &str, amz_date: &str, scope: &str, previous: &str) {
    out.extend_from_slice(algorithm.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(amz_date.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(scope.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(previous.as_bytes());
    out.push(b'\n');
}

/// The string to sign for one chunk whose data hashes to `chunk_sha256_hex`.
#[must_use]
pub fn chunk_string_to_sign(
    amz_date: &str,
    scope: &str,
    previous_signature: &str,
    chunk_sha256_hex: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(288);
    write_prefix(
        &mut out,
        CHUNK_ALGORITHM,
        amz_date,
        scope,
        previous_signature,
    );
    out.extend_from_slice(EMPTY_SHA256.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(chunk_sha256_hex.as_bytes());
    out
}

/// The signature of one chunk.
#[must_use]
pub fn chunk_signature(
    key: &SigningKey,
    amz_date: &str,
    previous_signature: &str,
    chunk: &[u8],
) -> Signature {
    let hash = sha256_hex(chunk);
    // `sha256_hex` only produces ASCII hex.
    let hash = std::str::from_utf8(&hash).unwrap_or("");
    key.sign(&chunk_string_to_sign(
        amz_date,
        key.scope(),
        previous_signature,
        hash,
    ))
}

/// Checks a chunk's `chunk-signature` in constant time; returns the signature to chain from.
///
/// # Errors
/// `SignatureDoesNotMatch`.
pub fn verify_chunk_signature(
    key: &SigningKey,
    amz_date: &str,
    previous_signature: &str,
    chunk: &[u8],
    provided: &str,
) -> Result<Signature, SigV4Error> {
    let computed = chunk_signature(key, amz_date, previous_signature, chunk);
    computed.verify(provided)?;
    Ok(computed)
}

/// The canonical trailer: one `name:value\n` line per trailing header, names lowercased and
/// sorted, values trimmed with inner whitespace collapsed (as canonical headers).
#[must_use]
pub fn canonical_trailer(trailers: &[(&str, &[u8])]) -> Vec<u8> {
    let mut names: Vec<String> = trailers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::with_capacity(64 * names.len());
    for name in &names {
        write_canonical_header(&mut out, name, trailers);
    }
    out
}

/// The string to sign for a trailer.
#[must_use]
pub fn trailer_string_to_sign(
    amz_date: &str,
    scope: &str,
    previous_signature: &str,
    trailers: &[(&str, &[u8])],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(224);
    write_prefix(
        &mut out,
        TRAILER_ALGORITHM,
        amz_date,
        scope,
        previous_signature,
    );
    out.extend_from_slice(&sha256_hex(&canonical_trailer(trailers)));
    out
}

/// The trailer signature (`x-amz-trailer-signature`).
#[must_use]
pub fn trailer_signature(
    key: &SigningKey,
    amz_date: &str,
    previous_signature: &str,
    trailers: &[(&str, &[u8])],
) -> Signature {
    key.sign(&trailer_string_to_sign(
        amz_date,
        key.scope(),
        previous_signature,
        trailers,
    ))
}

/// Checks a trailer signature in constant time.
///
/// # Errors
/// `SignatureDoesNotMatch`.
pub fn verify_trailer_signature(
    key: &SigningKey,
    amz_date: &str,
    previous_signature: &str,
    trailers: &[(&str, &[u8])],
    provided: &str,
) -> Result<Signature, SigV4Error> {
    let computed = trailer_signature(key, amz_date, previous_signature, trailers);
    computed.verify(provided)?;
    Ok(computed)
}
