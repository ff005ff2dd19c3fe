//! `X-Amz-Date` (`YYYYMMDD'T'HHMMSS'Z'`) and HTTP `Date` (IMF-fixdate) handling, without
//! allocation.

use time::OffsetDateTime;

/// A request timestamp: the 16 ASCII bytes of its `X-Amz-Date` form and the Unix time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct AmzDate {
    text: [u8; 16],
    unix: i64,
}

impl std::fmt::Debug for AmzDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AmzDate {
    /// `YYYYMMDDTHHMMSSZ`.
    pub(crate) fn as_str(&self) -> &str {
        // The text is built from ASCII digits and 'T'/'Z' only.
        std::str::from_utf8(&self.text).unwrap_or("")
    }

    /// `YYYYMMDD`, the credential scope date.
    pub(crate) fn day(&self) -> &str {
        &self.as_str()[..8]
    }

    pub(crate) fn unix(&self) -> i64 {
        self.unix
    }

    pub(crate) fn to_offset_date_time(self) -> OffsetDateTime {
        // Always in range: built from a four-digit year.
        OffsetDateTime::from_unix_timestamp(self.unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Formats a time (any offset; converted to UTC).
    pub(crate) fn from_time(t: OffsetDateTime) -> Result<Self, ()> {
        let t = t.to_offset(time::UtcOffset::UTC);
        let year = t.year();
        if !(0..=9999).contains(&year) {
            return Err(());
        }
        let mut text = *b"00000000T000000Z";
        put_digits(&mut text[0..4], year as u32);
        put_digits(&mut text[4..6], u32::from(u8::from(t.month())));
        put_digits(&mut text[6..8], u32::from(t.day()));
        put_digits(&mut text[9..11], u32::from(t.hour()));
        put_digits(&mut text[11..13], u32::from(t.minute()));
        put_digits(&mut text[13..15], u32::from(t.second()));
        Ok(Self {
            text,
            unix: t.unix_timestamp(),
        })
    }

    /// Parses the ISO 8601 basic form SigV4 uses, exactly: `20150830T123600Z`.
    pub(crate) fn parse_amz(s: &[u8]) -> Option<Self> {
        if s.len() != 16 || s[8] != b'T' || s[15] != b'Z' {
            return None;
        }
        let year = digits(&s[0..4])?;
        let month = digits(&s[4..6])?;
        let day = digits(&s[6..8])?;
        let hour = digits(&s[9..11])?;
        let minute = digits(&s[11..13])?;
        let second = digits(&s[13..15])?;
        let unix = unix_time(year, month, day, hour, minute, second)?;
        let mut text = [0u8; 16];
        text.copy_from_slice(s);
        Some(Self { text, unix })
    }

    /// Parses an HTTP `Date` header in IMF-fixdate form: `Fri, 24 May 2013 00:00:00 GMT`.
    pub(crate) fn parse_http_date(s: &[u8]) -> Option<Self> {
        let s = trim_ascii_ws(s);
        if s.len() != 29 || &s[3..5] != b", " || s[7] != b' ' || s[11] != b' ' || s[16] != b' ' {
            return None;
        }
        if !s[0..3].iter().all(u8::is_ascii_alphabetic) || &s[25..29] != b" GMT" {
            return None;
        }
        if s[19] != b':' || s[22] != b':' {
            return None;
        }
        const MONTHS: [&[u8; 3]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        let month = MONTHS.iter().position(|m| m[..] == s[8..11])? as u32 + 1;
        let day = digits(&s[5..7])?;
        let year = digits(&s[12..16])?;
        let hour = digits(&s[17..19])?;
        let minute = digits(&s[20..22])?;
        let second = digits(&s[23..25])?;
        let unix = unix_time(year, month, day, hour, minute, second)?;
        let t = OffsetDateTime::from_unix_timestamp(unix).ok()?;
        Self::from_time(t).ok()
    }
}

/// Checks a credential-scope date `YYYYMMDD` (digits, a real calendar day).
pub(crate) fn valid_scope_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 8 {
        return false;
    }
    match (digits(&b[0..4]), digits(&b[4..6]), digits(&b[6..8])) {
        (Some(y), Some(m), Some(d)) => unix_time(y, m, d, 0, 0, 0).is_some(),
        _ => false,
    }
}

fn trim_ascii_ws(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

fn digits(s: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn put_digits(out: &mut [u8], mut v: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn unix_time(year: u32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day > days_in_month {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_date_round_trip() {
        let d = AmzDate::parse_amz(b"20150830T123600Z").expect("valid");
        assert_eq!(d.unix(), 1_440_938_160);
        assert_eq!(d.day(), "20150830");
        let again = AmzDate::from_time(d.to_offset_date_time()).expect("in range");
        assert_eq!(again, d);
    }

    #[test]
    fn amz_date_rejects_malformed() {
        for bad in [
            &b"20150830T123600"[..],
            b"20150830t123600Z",
            b"20151330T123600Z",
            b"20150230T123600Z",
            b"20150830T246000Z",
            b"2015083OT123600Z",
            b"+0150830T123600Z",
        ] {
            assert!(AmzDate::parse_amz(bad).is_none(), "{bad:?}");
        }
        assert!(AmzDate::parse_amz(b"20160229T000000Z").is_some());
        assert!(AmzDate::parse_amz(b"21000229T000000Z").is_none());
    }

    #[test]
    fn http_date() {
        let d = AmzDate::parse_http_date(b"Fri, 24 May 2013 00:00:00 GMT").expect("valid");
        assert_eq!(d.as_str(), "20130524T000000Z");
        assert!(AmzDate::parse_http_date(b"Fri, 24 May 2013 00:00:00 UTC").is_none());
        assert!(AmzDate::parse_http_date(b"Fri, 24 Mai 2013 00:00:00 GMT").is_none());
    }

    #[test]
    fn scope_dates() {
        assert!(valid_scope_date("20150830"));
        assert!(!valid_scope_date("2015083"));
        assert!(!valid_scope_date("20150832"));
        assert!(!valid_scope_date("2015-830"));
    }
}
