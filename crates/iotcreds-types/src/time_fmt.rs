//! Timestamps as the wire formats write them.
//!
//! The registry keeps time as milliseconds since the Unix epoch (`i64`). The credentials
//! endpoint writes `YYYY-MM-DDTHH:MM:SSZ`, IAM and STS write ISO 8601 with the `Z` zone, the IoT
//! control plane writes epoch seconds with a fraction, and HTTP writes RFC 7231 dates.

use time::OffsetDateTime;
use time::macros::format_description;

/// Milliseconds since the Unix epoch of `t`.
pub fn to_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// `t` (ms since the epoch) as an `OffsetDateTime` in UTC; out-of-range values clamp to the epoch.
pub fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the credentials endpoint's `expiration` (second precision, no fraction).
///
/// Written digit by digit: it is part of every issuance, and `time`'s format-description
/// machinery cost more than the rest of the expiry computation.
pub fn iso8601_seconds(ms: i64) -> String {
    let t = from_millis(ms);
    let Some(year) = u32::try_from(t.year()).ok().filter(|y| *y <= 9999) else {
        let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        return t.format(fmt).unwrap_or_default();
    };
    let mut out = String::with_capacity(20);
    let mut push = |v: u32, width: u32, sep: char| {
        for i in (0..width).rev() {
            out.push(char::from(b'0' + (v / 10u32.pow(i) % 10) as u8));
        }
        out.push(sep);
    };
    push(year, 4, '-');
    push(u32::from(u8::from(t.month())), 2, '-');
    push(u32::from(t.day()), 2, 'T');
    push(u32::from(t.hour()), 2, ':');
    push(u32::from(t.minute()), 2, ':');
    push(u32::from(t.second()), 2, 'Z');
    out
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, as IAM and STS write `CreateDate` and `Expiration`.
pub fn iso8601_millis(ms: i64) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    from_millis(ms).format(fmt).unwrap_or_default()
}

/// Epoch seconds with a millisecond fraction, as the IoT rest-json protocol writes timestamps.
pub fn epoch_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// An RFC 7231 `Date` header value: `Tue, 06 Feb 2023 04:54:46 GMT`.
pub fn http_date(ms: i64) -> String {
    let fmt = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    from_millis(ms).format(fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let ms = 1_516_267_086_123; // 2018-01-18T09:18:06.123Z
        assert_eq!(iso8601_seconds(ms), "2018-01-18T09:18:06Z");
        assert_eq!(iso8601_seconds(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_seconds(253_402_300_799_000), "9999-12-31T23:59:59Z");
        // The digit-by-digit writer agrees with `time`'s formatter across the range.
        let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        let mut at: i64 = 0;
        while at < 253_402_300_799_000 {
            assert_eq!(iso8601_seconds(at), from_millis(at).format(fmt).unwrap());
            at += 7_777_777_777; // about 90 days and an odd number of seconds
        }
        assert_eq!(iso8601_millis(ms), "2018-01-18T09:18:06.123Z");
        assert_eq!(http_date(ms), "Thu, 18 Jan 2018 09:18:06 GMT");
        assert!((epoch_seconds(ms) - 1_516_267_086.123).abs() < 1e-6);
        assert_eq!(to_millis(from_millis(ms)), ms);
    }
}
