//! S3's naming rules, defined once for every crate that stores or forwards buckets.

/// Prefixes S3 reserves (general purpose bucket naming rules, S3 User Guide).
const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
/// Suffixes S3 reserves for access point aliases, Object Lambda, Multi-Region Access Points,
/// directory buckets and table buckets.
const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// S3's general purpose bucket naming rules: 3 to 63 characters of `a-z`, `0-9`, `.` and `-`,
/// beginning and ending with a letter or digit, no two adjacent periods, not shaped like an
/// IPv4 address, none of the reserved prefixes (`xn--`, `sthree-`, `amzn-s3-demo-`) or
/// suffixes (`-s3alias`, `--ol-s3`, `.mrap`, `--x-s3`, `--table-s3`).
///
/// A name that passes is a safe single path component: it cannot be empty, `.` or `..`, and
/// holds no `/`.
pub fn is_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
        && !RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of the S3 User Guide's "General purpose bucket naming rules", and each
    /// rule broken once.
    #[test]
    fn bucket_names() {
        for ok in [
            "docexamplebucket1",
            "log-delivery-march-2020",
            "my-hosted-content",
            "docexamplewebsite.com",
            "www.docexamplewebsite.com",
            "my.example.s3.bucket",
            "adc-test-2020-08-26",
            "abc",
            "a1b",
            &"a".repeat(63),
        ] {
            assert!(is_bucket_name(ok), "{ok}");
        }
        for bad in [
            "doc_example_bucket",
            "DocExampleBucket",
            "doc-example-bucket-",
            "ab",
            &"a".repeat(64),
            "-ab",
            ".ab",
            "ab.",
            "a..b",
            "192.168.5.4",
            "xn--ab",
            "sthree-x",
            "amzn-s3-demo-bucket",
            "x-s3alias",
            "x--ol-s3",
            "x.mrap",
            "x--x-s3",
            "x--table-s3",
            "..",
            ".",
            "a/b",
            "",
        ] {
            assert!(!is_bucket_name(bad), "{bad}");
        }
    }
}
