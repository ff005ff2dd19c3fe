//! Device bucket names ↔ upstream bucket names.
//!
//! The mapping is a partial injection: every device name resolves to at most one upstream
//! bucket and every upstream bucket is shown under at most one device name, so a response can
//! always name the bucket the way the device does, and no upstream bucket is reachable under two
//! names (which would let a device side-step a policy written for one of them).
//!
//! Resolution of a device name `d`:
//! 1. an explicit entry `buckets[d]`;
//! 2. else, with a prefix, `prefix + d`; without one, `d` itself when `allow_unmapped`;
//! 3. in step 2, a candidate that is the target of an explicit entry is reserved for that entry's
//!    device name: `d` does not exist; nor does a `d` that breaks S3's bucket naming rules.
//!
//! Anything else is `NoSuchBucket`, exactly as if the bucket did not exist.

use std::collections::BTreeMap;

use s3s::{S3Error, S3Result, s3_error};

use crate::UpstreamConfig;

/// The bucket-name mapping of one backend.
#[derive(Debug, Clone)]
pub(crate) struct BucketNames {
    explicit: BTreeMap<String, String>,
    /// upstream → device, for the explicit entries (unique: checked by the config).
    reverse: BTreeMap<String, String>,
    prefix: Option<String>,
    allow_unmapped: bool,
}

impl BucketNames {
    pub(crate) fn new(config: &UpstreamConfig) -> Self {
        let reverse = config
            .buckets
            .iter()
            .map(|(d, u)| (u.clone(), d.clone()))
            .collect();
        Self {
            explicit: config.buckets.clone(),
            reverse,
            prefix: config.bucket_prefix.clone(),
            allow_unmapped: config.allow_unmapped,
        }
    }

    /// The upstream bucket of a device bucket, or `NoSuchBucket`.
    pub(crate) fn to_upstream(&self, device: &str) -> S3Result<String> {
        self.resolve(device).ok_or_else(no_such_bucket)
    }

    fn resolve(&self, device: &str) -> Option<String> {
        if let Some(u) = self.explicit.get(device) {
            return Some(u.clone());
        }
        // Only names a device could have created: the same rule as `to_device`, so the
        // mapping stays an injection.
        if !valid_bucket_name(device) {
            return None;
        }
        let candidate = match &self.prefix {
            Some(p) => format!("{p}{device}"),
            None if self.allow_unmapped => device.to_owned(),
            None => return None,
        };
        (!self.reverse.contains_key(&candidate)).then_some(candidate)
    }

    /// The device name of an upstream bucket, if devices can see it at all.
    pub(crate) fn to_device(&self, upstream: &str) -> Option<String> {
        if let Some(d) = self.reverse.get(upstream) {
            return Some(d.clone());
        }
        let device = match &self.prefix {
            Some(p) => upstream.strip_prefix(p.as_str())?,
            None if self.allow_unmapped => upstream,
            None => return None,
        };
        (valid_bucket_name(device) && !self.explicit.contains_key(device))
            .then(|| device.to_owned())
    }
}

pub(crate) fn no_such_bucket() -> S3Error {
    s3_error!(NoSuchBucket, "The specified bucket does not exist")
}

/// S3's bucket naming rules ([`iotcreds_types::s3_names::is_bucket_name`]), for the names
/// devices use and the upstream names they map to.
pub(crate) fn valid_bucket_name(name: &str) -> bool {
    iotcreds_types::s3_names::is_bucket_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(prefix: Option<&str>, allow_unmapped: bool, map: &[(&str, &str)]) -> BucketNames {
        let mut c = UpstreamConfig::new("http://h", "a", "b");
        c.bucket_prefix = prefix.map(str::to_owned);
        c.allow_unmapped = allow_unmapped;
        c.buckets = map
            .iter()
            .map(|(d, u)| ((*d).to_owned(), (*u).to_owned()))
            .collect();
        c.validate().expect("valid");
        BucketNames::new(&c)
    }

    fn up(n: &BucketNames, d: &str) -> Option<String> {
        n.to_upstream(d).ok()
    }

    #[test]
    fn explicit_only() {
        let n = names(None, false, &[("firmware", "prod-fw")]);
        assert_eq!(up(&n, "firmware").as_deref(), Some("prod-fw"));
        assert_eq!(up(&n, "prod-fw"), None);
        assert_eq!(up(&n, "other"), None);
        assert_eq!(n.to_device("prod-fw").as_deref(), Some("firmware"));
        assert_eq!(n.to_device("firmware"), None);
        assert_eq!(n.to_device("other"), None);
        let e = n.to_upstream("other").expect_err("refused");
        assert_eq!(e.code().as_str(), "NoSuchBucket");
    }

    #[test]
    fn prefix_and_explicit() {
        let n = names(
            Some("fleet-"),
            false,
            &[("logs", "archive-logs"), ("x-y", "fleet-z-z")],
        );
        assert_eq!(up(&n, "images").as_deref(), Some("fleet-images"));
        assert_eq!(up(&n, "logs").as_deref(), Some("archive-logs"));
        // fleet-z-z is reserved for its explicit name
        assert_eq!(up(&n, "z-z"), None);
        assert_eq!(up(&n, "x-y").as_deref(), Some("fleet-z-z"));
        assert_eq!(n.to_device("fleet-images").as_deref(), Some("images"));
        assert_eq!(n.to_device("fleet-z-z").as_deref(), Some("x-y"));
        assert_eq!(n.to_device("archive-logs").as_deref(), Some("logs"));
        // fleet-logs would be device "logs", but "logs" is explicitly somewhere else
        assert_eq!(n.to_device("fleet-logs"), None);
        assert_eq!(n.to_device("images"), None);
        // the stripped rest must be a bucket name
        assert_eq!(n.to_device("fleet-"), None);
        assert_eq!(n.to_device("fleet-ab"), None);
    }

    #[test]
    fn unmapped() {
        let n = names(None, true, &[("firmware", "prod-fw")]);
        assert_eq!(up(&n, "anything").as_deref(), Some("anything"));
        assert_eq!(up(&n, "firmware").as_deref(), Some("prod-fw"));
        assert_eq!(
            up(&n, "prod-fw"),
            None,
            "an explicit target has one name only"
        );
        assert_eq!(n.to_device("anything").as_deref(), Some("anything"));
        assert_eq!(n.to_device("prod-fw").as_deref(), Some("firmware"));
        assert_eq!(n.to_device("firmware"), None);
    }

    /// The two directions agree on every name: d shows u exactly when d resolves to u.
    #[test]
    fn round_trip() {
        let all = [
            "images",
            "logs",
            "fleet-images",
            "fleet-logs",
            "archive-logs",
            "prod-fw",
            "firmware",
            "fleet-firmware",
            "x-y",
            "fleet-x-y",
            "abc",
        ];
        for n in [
            names(
                Some("fleet-"),
                false,
                &[("logs", "archive-logs"), ("firmware", "fleet-x-y")],
            ),
            names(
                None,
                true,
                &[("logs", "archive-logs"), ("firmware", "prod-fw")],
            ),
            names(None, false, &[("logs", "archive-logs")]),
        ] {
            for u in all {
                if let Some(d) = n.to_device(u) {
                    assert_eq!(up(&n, &d).as_deref(), Some(u), "{n:?} {u}");
                }
            }
            for d in all {
                if let Some(u) = up(&n, d) {
                    assert_eq!(n.to_device(&u).as_deref(), Some(d), "{n:?} {d}");
                }
            }
        }
    }
}
