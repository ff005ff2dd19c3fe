//! The few DER primitives the OCSP messages need: reading one element (tag, length, contents)
//! and writing one. Written by hand because the OCSP crate of the RustCrypto stack
//! (`x509-ocsp` 0.2) pins `der` 0.7 and `x509-cert` 0.2, a second copy of the DER stack beside
//! the one in the tree, and its types do not meet x509-parser's, which verifies the signatures;
//! the structures read here (RFC 6960 §4.1.1, §4.2.1) are small and fixed.
//!
//! Only what DER allows is read: single-byte tags (OCSP uses no high tag numbers), definite
//! lengths of at most four bytes, and no element longer than its container.

use crate::PkiError;

pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const ENUMERATED: u8 = 0x0a;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
pub(crate) const SEQUENCE: u8 = 0x30;

/// A context-specific constructed tag `[n]` (EXPLICIT tagging, or IMPLICIT of a SEQUENCE).
pub(crate) const fn context(n: u8) -> u8 {
    0xa0 | n
}

/// A context-specific primitive tag `[n]` (IMPLICIT of a primitive type).
pub(crate) const fn context_primitive(n: u8) -> u8 {
    0x80 | n
}

/// One element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    /// The contents, without tag and length.
    pub body: &'a [u8],
    /// The whole encoding, tag and length included.
    pub raw: &'a [u8],
}

fn malformed(what: &str) -> PkiError {
    PkiError::Malformed(format!("The OCSP message is not valid DER: {what}"))
}

/// The elements of a constructed value, read in order.
pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Self(input)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The next element, whatever its tag.
    pub fn next(&mut self) -> Result<Tlv<'a>, PkiError> {
        let input = self.0;
        let (&tag, rest) = input.split_first().ok_or_else(|| malformed("truncated"))?;
        if tag & 0x1f == 0x1f {
            return Err(malformed("high tag number"));
        }
        let (&first, rest) = rest.split_first().ok_or_else(|| malformed("truncated"))?;
        let (len, rest) = match first {
            0..=0x7f => (usize::from(first), rest),
            0x81..=0x84 => {
                let n = usize::from(first & 0x7f);
                if rest.len() < n {
                    return Err(malformed("truncated length"));
                }
                let len = rest[..n]
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
                (len, &rest[n..])
            }
            _ => return Err(malformed("indefinite or oversized length")),
        };
        if rest.len() < len {
            return Err(malformed("an element is longer than its container"));
        }
        let header = input.len() - rest.len();
        self.0 = &rest[len..];
        Ok(Tlv {
            tag,
            body: &rest[..len],
            raw: &input[..header + len],
        })
    }

    /// The next element, which must have `tag`.
    pub fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>, PkiError> {
        let e = self.next().map_err(|_| malformed(what))?;
        if e.tag != tag {
            return Err(malformed(what));
        }
        Ok(e)
    }

    /// The next element if it has `tag`; nothing is consumed otherwise.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, PkiError> {
        if self.0.first() != Some(&tag) {
            return Ok(None);
        }
        self.next().map(Some)
    }
}

/// The single element `input` holds, with nothing after it.
pub(crate) fn single<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<Tlv<'a>, PkiError> {
    let mut r = Reader::new(input);
    let e = r.expect(tag, what)?;
    if !r.is_empty() {
        return Err(malformed("trailing data"));
    }
    Ok(e)
}

/// `tag`, the DER length of `body`, then `body`.
pub(crate) fn write(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 6);
    out.push(tag);
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(body);
    out
}

/// A GeneralizedTime's contents (`YYYYMMDDHHMMSS[.fff]Z`, as DER requires) as ms since the
/// epoch.
pub(crate) fn generalized_time_ms(body: &[u8]) -> Result<i64, PkiError> {
    let bad = || malformed("a GeneralizedTime is not YYYYMMDDHHMMSS[.f]Z");
    let s = std::str::from_utf8(body).map_err(|_| bad())?;
    let s = s.strip_suffix('Z').ok_or_else(bad)?;
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n = |r: std::ops::Range<usize>| whole[r].parse::<u32>().map_err(|_| bad());
    let month = time::Month::try_from(n(4..6)? as u8).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(n(0..4)? as i32, month, n(6..8)? as u8)
        .map_err(|_| bad())?;
    let t = time::Time::from_hms(n(8..10)? as u8, n(10..12)? as u8, n(12..14)? as u8)
        .map_err(|_| bad())?;
    let seconds = time::PrimitiveDateTime::new(date, t)
        .assume_utc()
        .unix_timestamp();
    let millis: i64 = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |acc, d| acc * 10 + i64::from(d - b'0'));
    Ok(seconds * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_in_short_and_long_form() {
        for len in [0usize, 1, 127, 128, 255, 256, 65_535, 65_536, 1 << 20] {
            let body = vec![7u8; len];
            let enc = write(OCTET_STRING, &body);
            let e = single(&enc, OCTET_STRING, "x").unwrap();
            assert_eq!(e.body.len(), len);
            assert_eq!(e.raw, &enc[..]);
        }
        assert_eq!(write(SEQUENCE, &[0; 128])[..3], [0x30, 0x81, 0x80]);
    }

    #[test]
    fn what_der_does_not_allow_is_refused() {
        for bad in [
            &b""[..],
            &[0x30],
            &[0x30, 0x80, 0x00, 0x00],       // indefinite length
            &[0x30, 0x85, 0, 0, 0, 0, 1, 0], // five length bytes
            &[0x30, 0x03, 0x01],             // longer than the input
            &[0x1f, 0x81, 0x01, 0x00],       // high tag number
            &[0x30, 0x82, 0x01],             // truncated length
            &[0x30, 0x00, 0x00],             // trailing data
            &[0x04, 0x00],                   // another tag
        ] {
            assert!(single(bad, SEQUENCE, "x").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn generalized_times() {
        assert_eq!(generalized_time_ms(b"19700101000000Z").unwrap(), 0);
        assert_eq!(
            generalized_time_ms(b"20261207064254Z").unwrap(),
            1_796_625_774_000
        );
        assert_eq!(
            generalized_time_ms(b"20261207064254.5Z").unwrap(),
            1_796_625_774_500
        );
        for bad in [
            &b"20261207064254"[..],
            b"2026120706425Z",
            b"20261307064254Z",
            b"20261207064254+0100",
            b"2026120706425aZ",
            b"20261207064254.xZ",
        ] {
            assert!(generalized_time_ms(bad).is_err(), "{bad:?}");
        }
    }
}
