//! Virtual-hosted-style addressing (`BUCKET.<domain>`), as S3 documents it.
//!
//! s3s's `SingleDomain` compares the Host header, port included, with the domain, and takes any
//! other host name for a bucket (a CNAME), so a client reaching the server as
//! `s3.example.com:9000` (every client of a non-default port) had its host name taken for a bucket
//! name and was refused. Here the domain matches with or without a port, case-insensitively as
//! DNS names do; `BUCKET.<domain>` names the bucket (lower-cased: DNS does not keep case), and
//! every other host (the domain itself, `localhost`, another name of the machine) is path
//! style. CNAME-style buckets are not served: a bucket is never named by an arbitrary Host header.

use std::borrow::Cow;

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// The configured base domain of virtual-hosted-style requests.
#[derive(Debug, Clone)]
pub struct VirtualHostDomain {
    /// Lower case, without a port.
    domain: String,
}

impl VirtualHostDomain {
    /// `domain` as configured (`s3.example.com`, or with a port, which is ignored).
    pub fn new(domain: &str) -> anyhow::Result<Self> {
        let name = strip_port(domain.trim()).to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !valid {
            anyhow::bail!(
                "virtual_host_domain {domain:?}: not a DNS name (labels of letters, digits and '-', separated by '.')"
            );
        }
        Ok(Self { domain: name })
    }

    /// The bucket a Host header names, if it is `BUCKET.<domain>[:port]`.
    pub fn bucket<'a>(&self, host: &'a str) -> Option<Cow<'a, str>> {
        let name = strip_port(host);
        let name = name.strip_suffix('.').unwrap_or(name); // a fully qualified name
        let split = name.len().checked_sub(self.domain.len() + 1)?;
        let (bucket, dot_domain) = (name.get(..split)?, name.get(split..)?);
        if !dot_domain.starts_with('.') || !dot_domain[1..].eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        if bucket.is_empty() {
            return None;
        }
        Some(if bucket.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(bucket.to_ascii_lowercase())
        } else {
            Cow::Borrowed(bucket)
        })
    }
}

impl S3Host for VirtualHostDomain {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let vh = VirtualHost::new(self.domain.as_str());
        Ok(match self.bucket(host) {
            Some(bucket) => vh.with_bucket(bucket),
            None => vh,
        })
    }
}

/// `host` without a trailing `:port` (an IPv6 literal keeps its brackets).
fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port))
            if !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!name.contains(':') || name.ends_with(']')) =>
        {
            name
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain() -> VirtualHostDomain {
        VirtualHostDomain::new("s3.example.com").unwrap()
    }

    #[test]
    fn the_bucket_is_found_with_or_without_a_port() {
        let d = domain();
        for host in [
            "adc-test-2020-08-26.s3.example.com",
            "adc-test-2020-08-26.s3.example.com:9000",
            "adc-test-2020-08-26.s3.example.com.:443",
            "ADC-Test-2020-08-26.S3.Example.COM:9000",
        ] {
            assert_eq!(
                d.bucket(host).as_deref(),
                Some("adc-test-2020-08-26"),
                "{host}"
            );
        }
        // Dotted bucket names are bucket names too.
        assert_eq!(
            d.bucket("logs.adc.s3.example.com:9000").as_deref(),
            Some("logs.adc")
        );
    }

    #[test]
    fn other_hosts_are_path_style() {
        let d = domain();
        for host in [
            "s3.example.com",
            "s3.example.com:9000",
            ".s3.example.com",
            "localhost:9000",
            "example.com",
            "bucket.s3.example.com.evil.net",
            "bucket.s3-example.com",
            "buckets3.example.com",
            "[::1]:9000",
            "127.0.0.1:9000",
            "",
            "bucket.s3.example.com:",
            "bucket.s3.example.com:x",
        ] {
            assert_eq!(d.bucket(host), None, "{host:?}");
        }
    }

    #[test]
    fn a_configured_port_is_ignored_and_bad_domains_are_refused() {
        let d = VirtualHostDomain::new("S3.Example.com:9000").unwrap();
        assert_eq!(d.bucket("b.s3.example.com").as_deref(), Some("b"));
        for bad in [
            "",
            ":9000",
            "s3..example.com",
            "-s3.example.com",
            "s3_x.example.com",
            "s3.example.com/x",
        ] {
            assert!(VirtualHostDomain::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn s3s_gets_a_bucket_only_for_its_domain() {
        let d = domain();
        let vh = d
            .parse_host_header("adc-test-2020-08-26.s3.example.com:9000")
            .unwrap();
        assert_eq!(vh.bucket(), Some("adc-test-2020-08-26"));
        let vh = d.parse_host_header("iotcreds.internal:9000").unwrap();
        assert_eq!(vh.bucket(), None);
    }
}
