//! Typed condition values: exact decimals, timestamps, CIDR ranges, base64 bytes.
//!
//! Policy values are parsed once when the policy is compiled; request values are parsed at
//! evaluation time without allocation (except base64, used only by `BinaryEquals`).

use std::cmp::Ordering;
use std::net::IpAddr;

/// An exact decimal number: `[+-]digits[.digits]` (no exponent). Compared exactly, so large
/// integers and long fractions never lose precision as they would through `f64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    neg: bool,
    int: Box<str>,
    frac: Box<str>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct DecimalRef<'a> {
    neg: bool,
    int: &'a str,
    frac: &'a str,
}

impl Decimal {
    pub(crate) fn parse(s: &str) -> Option<Decimal> {
        parse_decimal(s).map(|d| Decimal {
            neg: d.neg,
            int: d.int.into(),
            frac: d.frac.into(),
        })
    }

    pub(crate) fn as_ref(&self) -> DecimalRef<'_> {
        DecimalRef {
            neg: self.neg,
            int: &self.int,
            frac: &self.frac,
        }
    }
}

/// Parse without allocating; leading zeros of the integer part and trailing zeros of the
/// fraction are dropped so that equal numbers compare equal.
pub(crate) fn parse_decimal(s: &str) -> Option<DecimalRef<'_>> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let zero = int.is_empty() && frac.is_empty();
    Some(DecimalRef {
        neg: neg && !zero,
        int,
        frac,
    })
}

pub(crate) fn cmp_decimal(a: DecimalRef<'_>, b: DecimalRef<'_>) -> Ordering {
    match (a.neg, b.neg) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (neg, _) => {
            let magnitude = a
                .int
                .len()
                .cmp(&b.int.len())
                .then_with(|| a.int.cmp(b.int))
                .then_with(|| a.frac.cmp(b.frac));
            if neg { magnitude.reverse() } else { magnitude }
        }
    }
}

/// A point in time, nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timestamp(i128);

const NANOS: i128 = 1_000_000_000;

impl Timestamp {
    /// Parse epoch seconds (`1700000000`, optionally with a fraction) or a W3C profile of
    /// ISO 8601: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh:mm[:ss[.s...]]` followed by
    /// `Z` or `±hh:mm` (a missing zone is read as UTC).
    pub(crate) fn parse(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.is_empty() {
            return None;
        }
        let looks_epoch = b
            .iter()
            .all(|c| c.is_ascii_digit() || *c == b'.' || *c == b'-')
            && (b.len() != 4 && !(b.len() > 4 && b[4] == b'-'));
        if looks_epoch {
            return parse_epoch(s);
        }
        parse_iso(b)
    }
}

fn parse_epoch(s: &str) -> Option<Timestamp> {
    let d = parse_decimal(s)?;
    if d.int.len() > 15 {
        return None;
    }
    let secs: i128 = if d.int.is_empty() {
        0
    } else {
        d.int.parse().ok()?
    };
    let mut frac_nanos: i128 = 0;
    for (i, c) in d.frac.bytes().take(9).enumerate() {
        frac_nanos += i128::from(c - b'0') * 10i128.pow(8 - i as u32);
    }
    let total = secs * NANOS + frac_nanos;
    Some(Timestamp(if d.neg { -total } else { total }))
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let slice = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in slice {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn parse_iso(b: &[u8]) -> Option<Timestamp> {
    let year = digits(b, 0, 4)?;
    let mut at = 4;
    let (mut month, mut day) = (1u32, 1u32);
    let (mut hour, mut minute, mut second, mut nanos) = (0u32, 0u32, 0u32, 0i128);
    let mut offset_secs: i128 = 0;
    if b.get(at) == Some(&b'-') {
        month = digits(b, at + 1, 2)?;
        at += 3;
        if b.get(at) == Some(&b'-') {
            day = digits(b, at + 1, 2)?;
            at += 3;
            if matches!(b.get(at), Some(b'T' | b't')) {
                hour = digits(b, at + 1, 2)?;
                if b.get(at + 3) != Some(&b':') {
                    return None;
                }
                minute = digits(b, at + 4, 2)?;
                at += 6;
                if b.get(at) == Some(&b':') {
                    second = digits(b, at + 1, 2)?;
                    at += 3;
                    if b.get(at) == Some(&b'.') {
                        at += 1;
                        let start = at;
                        while b.get(at).is_some_and(u8::is_ascii_digit) {
                            if at - start < 9 {
                                nanos +=
                                    i128::from(b[at] - b'0') * 10i128.pow(8 - (at - start) as u32);
                            }
                            at += 1;
                        }
                        if at == start {
                            return None;
                        }
                    }
                }
                match b.get(at) {
                    None => {}
                    Some(b'Z' | b'z') => at += 1,
                    Some(&sign @ (b'+' | b'-')) => {
                        let oh = digits(b, at + 1, 2)?;
                        if b.get(at + 3) != Some(&b':') {
                            return None;
                        }
                        let om = digits(b, at + 4, 2)?;
                        if oh > 23 || om > 59 {
                            return None;
                        }
                        let off = i128::from(oh * 3600 + om * 60);
                        offset_secs = if sign == b'+' { off } else { -off };
                        at += 6;
                    }
                    Some(_) => return None,
                }
            }
        }
    }
    if at != b.len() || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?)
            .ok()?;
    let days = i128::from(date.to_julian_day()) - 2_440_588;
    let secs = days * 86_400 + i128::from(hour * 3600 + minute * 60 + second) - offset_secs;
    Some(Timestamp(secs * NANOS + nanos))
}

/// An IPv4 or IPv6 network in CIDR notation. An address without a prefix length is a single
/// host (`/32` or `/128`), as IAM documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: u128,
    prefix_len: u8,
    v6: bool,
}

impl Cidr {
    /// Parse `203.0.113.0/24`, `2001:DB8:1234:5678::/64`, or a bare address. Host bits
    /// are cleared.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                (a, Some(p.parse::<u8>().ok()?))
            }
            None => (s, None),
        };
        let ip: IpAddr = addr.parse().ok()?;
        let (bits, v6, max) = ip_bits(ip);
        let prefix_len = prefix.unwrap_or(max);
        if prefix_len > max {
            return None;
        }
        Some(Cidr {
            network: bits & mask(prefix_len, max),
            prefix_len,
            v6,
        })
    }

    /// Whether `ip` is inside this network. IPv4 and IPv6 never match each other.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (bits, v6, max) = ip_bits(ip);
        v6 == self.v6 && bits & mask(self.prefix_len, max) == self.network
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }
}

fn ip_bits(ip: IpAddr) -> (u128, bool, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), false, 32),
        IpAddr::V6(v6) => (u128::from(v6), true, 128),
    }
}

/// Mask selecting the top `prefix_len` bits of a `width`-bit address held in a u128.
fn mask(prefix_len: u8, width: u8) -> u128 {
    let full: u128 = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    // `checked_shr` because shifting a u128 by 128 would overflow (a `/128` host).
    full & !full.checked_shr(u32::from(prefix_len)).unwrap_or(0)
}

/// Decode standard base64 (padding optional). `None` when the text is not base64.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut nbits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
            acc &= (1 << nbits) - 1;
        }
    }
    if nbits >= 6 {
        return None;
    }
    Some(out)
}

/// Parse a Boolean condition value (`true`/`false`, any ASCII case).
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}
