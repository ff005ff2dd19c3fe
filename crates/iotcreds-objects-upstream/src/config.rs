//! [`UpstreamConfig`]: where the upstream cluster is, the gateway's service credentials for it,
//! how device bucket names map to upstream buckets, and the timeouts.
//!
//! ```toml
//! [objects.upstream]
//! endpoint = "http://127.0.0.1:9000"      # MinIO, Ceph RGW, Garage, or https://s3.eu-west-1.amazonaws.com
//! region = "us-east-1"                    # the upstream's signing region
//! access_key_id = "iotcreds-gateway"
//! secret_access_key = "..."               # never logged; Debug shows "<redacted>"
//! # force_path_style = true               # default; false for virtual-hosted-style upstreams
//! # bucket_prefix = "fleet-"              # device bucket "logs" is upstream "fleet-logs"
//! # allow_unmapped = false                # true: other device names are upstream names as they are
//! # ca_bundle = "/etc/iotcreds/upstream-ca.pem"  # trust only these CAs for an https:// endpoint
//! # client_cert = "/etc/iotcreds/upstream-client.pem"  # TLS client certificate (chain) ...
//! # client_key = "/etc/iotcreds/upstream-client.key"   # ... and its key, if the upstream asks
//! # connect_timeout_secs = 5              # TCP connect
//! # first_byte_timeout_secs = 60          # request sent -> response headers
//! # idle_timeout_secs = 30                # longest stall of the upstream inside a transfer
//! # operation_timeout_secs = 60           # listings, buckets, deletes, multipart bookkeeping
//! # transfer_timeout_secs = 3600          # CopyObject, UploadPartCopy, CompleteMultipartUpload
//! # max_attempts = 3                      # retries of reads and bookkeeping (uploads are sent once)
//! # max_idle_connections = 64             # kept-alive connections to the upstream
//! # checksum_calculation = "when_supported"   # or "when_required" for upstreams without aws-chunked trailers
//! # checksum_validation = "when_supported"    # or "when_required": check GET bodies only when the device asks
//!
//! [objects.upstream.buckets]              # explicit map, consulted first
//! firmware = "prod-firmware-7f3a"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Settings of an [`crate::UpstreamBackend`]. Deserialised from the server's TOML
/// (`[objects.upstream]`); unknown keys are refused.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Base URL of the upstream S3 API, `http://` or `https://`, without a path.
    pub endpoint: String,
    /// The upstream's signing region. Default `us-east-1`.
    #[serde(default = "default_region")]
    pub region: String,
    /// The gateway's own access key id at the upstream.
    pub access_key_id: String,
    /// The gateway's own secret key at the upstream. Never logged: `Debug` redacts it.
    pub secret_access_key: String,
    /// Path-style addressing (`endpoint/bucket/key`). Default `true`, what MinIO, Ceph and
    /// Garage expect; `false` for virtual-hosted style (`bucket.endpoint/key`).
    #[serde(default = "default_true")]
    pub force_path_style: bool,
    /// A device bucket that is not in [`Self::buckets`] is the upstream bucket
    /// `bucket_prefix + name`.
    #[serde(default)]
    pub bucket_prefix: Option<String>,
    /// Device bucket name → upstream bucket name. Consulted first. Two device names may not
    /// share an upstream bucket.
    #[serde(default)]
    pub buckets: BTreeMap<String, String>,
    /// Without a prefix, a device bucket not in [`Self::buckets`] is the upstream bucket of the
    /// same name (except the targets of explicit entries). Default `false`: such names do not
    /// exist (`NoSuchBucket`).
    #[serde(default)]
    pub allow_unmapped: bool,
    /// PEM file of the CA certificates that an `https://` upstream's certificate must chain to.
    /// When set, only these are trusted (not the system's trust store). Default: the system's
    /// trust store.
    #[serde(default)]
    pub ca_bundle: Option<PathBuf>,
    /// PEM file of the gateway's TLS client certificate (leaf first, then intermediates), for
    /// upstreams that require mutual TLS. Needs [`Self::client_key`].
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// PEM file of the private key of [`Self::client_cert`] (PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// Longest TCP connect to the upstream, in seconds. Default 5.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Longest wait for the upstream's response headers once the request is sent (for uploads:
    /// once the last byte of the body is sent), in seconds; includes a TLS handshake. Default 60
    /// (what botocore allows for a read).
    #[serde(default = "default_first_byte_timeout")]
    pub first_byte_timeout_secs: u64,
    /// Longest stall of the upstream inside a transfer, in seconds: an upload chunk the upstream
    /// does not take, or a download the upstream stops sending. A stall of the device does not
    /// count. Default 30.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Longest operation (all attempts, until the response headers) of the operations that go
    /// through the AWS SDK (listings, bucket operations, deletes, multipart bookkeeping), in
    /// seconds. Default 60.
    #[serde(default = "default_operation_timeout")]
    pub operation_timeout_secs: u64,
    /// Longest CopyObject, UploadPartCopy and CompleteMultipartUpload, in seconds: these make
    /// up to 5 GiB at the upstream. Default 3600.
    #[serde(default = "default_transfer_timeout")]
    pub transfer_timeout_secs: u64,
    /// Attempts per operation for failures worth retrying (throttling, 5xx, I/O errors), with
    /// exponential back-off. A request whose body streams from the device is sent once.
    /// Default 3.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Idle keep-alive connections kept to the upstream. Default 64.
    #[serde(default = "default_max_idle_connections")]
    pub max_idle_connections: usize,
    /// When the SDK adds its own CRC32 (aws-chunked trailer) to uploads that the device sent
    /// without a checksum header. Default `when_supported`.
    #[serde(default)]
    pub checksum_calculation: ChecksumCalculation,
    /// When the gateway checks a GetObject body against the upstream's full-object checksum
    /// while streaming it. Default `when_supported`.
    #[serde(default)]
    pub checksum_validation: ChecksumValidation,
}

/// [`UpstreamConfig::checksum_validation`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumValidation {
    /// Every whole-object GetObject asks the upstream for its checksum, and the gateway checks
    /// the bytes against it while streaming them (a mismatch ends the device's response early,
    /// so the device never gets a complete wrong object).
    #[default]
    WhenSupported,
    /// The upstream's checksum is asked for only when the device asks
    /// (`x-amz-checksum-mode: ENABLED`); the device then checks the bytes itself.
    WhenRequired,
}

/// [`UpstreamConfig::checksum_calculation`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumCalculation {
    /// Every upload to the upstream carries a checksum (the device's, or a CRC32 the SDK
    /// computes while streaming, sent as an aws-chunked trailer), so the upstream verifies the
    /// gateway-to-upstream leg too. Needs an upstream that accepts aws-chunked trailers.
    #[default]
    WhenSupported,
    /// Only checksums the device sent as headers are forwarded; uploads are otherwise plain
    /// (`UNSIGNED-PAYLOAD`). For upstreams that refuse aws-chunked trailers.
    WhenRequired,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}
fn default_true() -> bool {
    true
}
fn default_connect_timeout() -> u64 {
    5
}
fn default_first_byte_timeout() -> u64 {
    60
}
fn default_idle_timeout() -> u64 {
    30
}
fn default_max_idle_connections() -> usize {
    64
}
fn default_operation_timeout() -> u64 {
    60
}
fn default_transfer_timeout() -> u64 {
    3600
}
fn default_max_attempts() -> u32 {
    3
}

impl UpstreamConfig {
    /// A configuration with the defaults and the given endpoint and credentials.
    #[must_use]
    pub fn new(
        endpoint: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            region: default_region(),
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            force_path_style: true,
            bucket_prefix: None,
            buckets: BTreeMap::new(),
            allow_unmapped: false,
            ca_bundle: None,
            client_cert: None,
            client_key: None,
            connect_timeout_secs: default_connect_timeout(),
            first_byte_timeout_secs: default_first_byte_timeout(),
            idle_timeout_secs: default_idle_timeout(),
            operation_timeout_secs: default_operation_timeout(),
            transfer_timeout_secs: default_transfer_timeout(),
            max_attempts: default_max_attempts(),
            max_idle_connections: default_max_idle_connections(),
            checksum_calculation: ChecksumCalculation::WhenSupported,
            checksum_validation: ChecksumValidation::WhenSupported,
        }
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    pub(crate) fn first_byte_timeout(&self) -> Duration {
        Duration::from_secs(self.first_byte_timeout_secs)
    }

    pub(crate) fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    pub(crate) fn operation_timeout(&self) -> Duration {
        Duration::from_secs(self.operation_timeout_secs)
    }

    pub(crate) fn transfer_timeout(&self) -> Duration {
        Duration::from_secs(self.transfer_timeout_secs)
    }

    /// Checks everything that does not need the network.
    ///
    /// # Errors
    /// The first problem found, naming the setting (never its secret value).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let endpoint = self.endpoint.trim_end_matches('/');
        let rest = endpoint
            .strip_prefix("http://")
            .or_else(|| endpoint.strip_prefix("https://"))
            .ok_or(ConfigError::Endpoint("must start with http:// or https://"))?;
        if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
            return Err(ConfigError::Endpoint(
                "must be scheme://host[:port] without path, query or user info",
            ));
        }
        if self.region.is_empty() {
            return Err(ConfigError::Missing("region"));
        }
        if self.access_key_id.is_empty() {
            return Err(ConfigError::Missing("access_key_id"));
        }
        if self.secret_access_key.is_empty() {
            return Err(ConfigError::Missing("secret_access_key"));
        }
        for (field, secs) in [
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("first_byte_timeout_secs", self.first_byte_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("operation_timeout_secs", self.operation_timeout_secs),
            ("transfer_timeout_secs", self.transfer_timeout_secs),
        ] {
            if secs == 0 {
                return Err(ConfigError::Zero(field));
            }
        }
        if self.max_attempts == 0 {
            return Err(ConfigError::Zero("max_attempts"));
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Err(ConfigError::ClientIdentity);
        }
        if endpoint.starts_with("http://")
            && (self.ca_bundle.is_some() || self.client_cert.is_some())
        {
            return Err(ConfigError::TlsWithoutHttps);
        }
        if let Some(p) = &self.bucket_prefix
            && (p.is_empty()
                || p.len() > 62
                || !p.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                })
                || p.starts_with(['.', '-']))
        {
            return Err(ConfigError::Prefix);
        }
        let mut targets = BTreeMap::new();
        for (device, upstream) in &self.buckets {
            if !crate::names::valid_bucket_name(device) {
                return Err(ConfigError::BucketName(device.clone()));
            }
            if !crate::names::valid_bucket_name(upstream) {
                return Err(ConfigError::BucketName(upstream.clone()));
            }
            if let Some(first) = targets.insert(upstream, device) {
                return Err(ConfigError::SharedTarget {
                    upstream: upstream.clone(),
                    first: first.clone(),
                    second: device.clone(),
                });
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("force_path_style", &self.force_path_style)
            .field("bucket_prefix", &self.bucket_prefix)
            .field("buckets", &self.buckets)
            .field("allow_unmapped", &self.allow_unmapped)
            .field("ca_bundle", &self.ca_bundle)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("first_byte_timeout_secs", &self.first_byte_timeout_secs)
            .field("idle_timeout_secs", &self.idle_timeout_secs)
            .field("operation_timeout_secs", &self.operation_timeout_secs)
            .field("transfer_timeout_secs", &self.transfer_timeout_secs)
            .field("max_attempts", &self.max_attempts)
            .field("max_idle_connections", &self.max_idle_connections)
            .field("checksum_calculation", &self.checksum_calculation)
            .field("checksum_validation", &self.checksum_validation)
            .finish()
    }
}

/// An [`UpstreamConfig`] that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `endpoint` is not a usable base URL.
    #[error("objects.upstream.endpoint {0}")]
    Endpoint(&'static str),
    /// A required setting is empty.
    #[error("objects.upstream.{0} must not be empty")]
    Missing(&'static str),
    /// A timeout or count is zero.
    #[error("objects.upstream.{0} must be greater than zero")]
    Zero(&'static str),
    /// `bucket_prefix` is not the start of a valid bucket name.
    #[error(
        "objects.upstream.bucket_prefix must be 1-62 characters of a-z, 0-9, '-' and '.', not starting with '.' or '-'"
    )]
    Prefix,
    /// A name in `buckets` is not a valid bucket name.
    #[error("objects.upstream.buckets: {0:?} is not a valid bucket name")]
    BucketName(String),
    /// Only one of `client_cert` and `client_key` is set.
    #[error("objects.upstream.client_cert and objects.upstream.client_key go together")]
    ClientIdentity,
    /// TLS settings with an `http://` endpoint.
    #[error("objects.upstream.ca_bundle and client_cert need an https:// endpoint")]
    TlsWithoutHttps,
    /// A TLS file cannot be read or holds nothing usable.
    #[error("objects.upstream.{setting}: {path}: {message}")]
    TlsFile {
        /// `ca_bundle`, `client_cert` or `client_key`.
        setting: &'static str,
        /// The file.
        path: String,
        /// What is wrong (never key material).
        message: String,
    },
    /// Two device buckets map to one upstream bucket.
    #[error("objects.upstream.buckets: {first:?} and {second:?} both map to {upstream:?}")]
    SharedTarget {
        /// The upstream bucket.
        upstream: String,
        /// One device bucket.
        first: String,
        /// The other.
        second: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> UpstreamConfig {
        UpstreamConfig::new("http://127.0.0.1:9000", "AKID", "topsecretvalue")
    }

    #[test]
    fn debug_redacts_the_secret() {
        let text = format!("{:?}", base());
        assert!(text.contains("<redacted>"), "{text}");
        assert!(!text.contains("topsecretvalue"), "{text}");
        assert!(text.contains("AKID"), "{text}");
    }

    #[test]
    fn toml_defaults_and_unknown_keys() {
        let c: UpstreamConfig = toml::from_str(
            "endpoint = \"http://minio:9000\"\naccess_key_id = \"a\"\nsecret_access_key = \"b\"\n\
             bucket_prefix = \"fleet-\"\n[buckets]\nfirmware = \"prod-fw\"\n",
        )
        .expect("parse");
        assert_eq!(c.region, "us-east-1");
        assert!(c.force_path_style);
        assert!(!c.allow_unmapped);
        assert_eq!(c.bucket_prefix.as_deref(), Some("fleet-"));
        assert_eq!(
            c.buckets.get("firmware").map(String::as_str),
            Some("prod-fw")
        );
        assert_eq!(c.checksum_calculation, ChecksumCalculation::WhenSupported);
        assert_eq!((c.connect_timeout_secs, c.operation_timeout_secs), (5, 60));
        c.validate().expect("valid");
        let c: UpstreamConfig = toml::from_str(
            "endpoint = \"https://s3.amazonaws.com\"\naccess_key_id = \"a\"\nsecret_access_key = \"b\"\n\
             checksum_calculation = \"when_required\"\nforce_path_style = false\n",
        )
        .expect("parse");
        assert_eq!(c.checksum_calculation, ChecksumCalculation::WhenRequired);
        assert!(!c.force_path_style);
        assert!(
            toml::from_str::<UpstreamConfig>(
                "endpoint = \"x\"\naccess_key_id = \"a\"\nsecret_access_key = \"b\"\nsecret = 1\n"
            )
            .is_err()
        );
        assert!(
            toml::from_str::<UpstreamConfig>("endpoint = \"x\"\naccess_key_id = \"a\"\n").is_err(),
            "secret_access_key is required"
        );
    }

    #[test]
    fn validation() {
        let bad = |f: &dyn Fn(&mut UpstreamConfig)| {
            let mut c = base();
            f(&mut c);
            c.validate().expect_err("invalid").to_string()
        };
        assert!(bad(&|c| c.endpoint = "127.0.0.1:9000".into()).contains("endpoint"));
        assert!(bad(&|c| c.endpoint = "http://h:9000/path".into()).contains("endpoint"));
        assert!(bad(&|c| c.endpoint = "http://user:pw@h".into()).contains("endpoint"));
        assert!(bad(&|c| c.secret_access_key.clear()).contains("secret_access_key"));
        assert!(bad(&|c| c.access_key_id.clear()).contains("access_key_id"));
        assert!(bad(&|c| c.operation_timeout_secs = 0).contains("operation_timeout_secs"));
        assert!(bad(&|c| c.max_attempts = 0).contains("max_attempts"));
        assert!(bad(&|c| c.bucket_prefix = Some("Fleet".into())).contains("bucket_prefix"));
        assert!(bad(&|c| c.bucket_prefix = Some(String::new())).contains("bucket_prefix"));
        assert!(
            bad(&|c| {
                c.buckets.insert("Bad_Name".into(), "x-y".into());
            })
            .contains("Bad_Name")
        );
        let shared = bad(&|c| {
            c.buckets.insert("one".into(), "target".into());
            c.buckets.insert("two".into(), "target".into());
        });
        assert!(shared.contains("both map to"), "{shared}");
        let msg = bad(&|c| c.endpoint = "ftp://x".into());
        assert!(!msg.contains("topsecretvalue"));
        let mut ok = base();
        ok.endpoint = "https://s3.eu-west-1.amazonaws.com/".into();
        ok.bucket_prefix = Some("fleet-".into());
        ok.validate().expect("valid");
    }
}
