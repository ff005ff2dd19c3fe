//! [`UpstreamBackend`]: the SDK clients, the bucket mapping, and the helpers every operation
//! shares.

use std::sync::Arc;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use s3s_aws::Proxy;

use crate::config::{ChecksumCalculation, ConfigError, UpstreamConfig};
use crate::names::BucketNames;
use crate::transport::{SdkHttp, Transport};
use crate::wire::Wire;

/// An [`s3s::S3`] backend that forwards to an existing S3-compatible cluster with the gateway's
/// own credentials. Cheap to clone (clones share the SDK clients and their connection pools).
#[derive(Clone)]
pub struct UpstreamBackend {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The hot operations, sent by hand.
    pub(crate) wire: Wire,
    /// The SDK for every other operation but the long transfers: `operation_timeout`.
    pub(crate) proxy: Proxy,
    /// CopyObject, UploadPartCopy, CompleteMultipartUpload: `transfer_timeout`.
    pub(crate) transfer: Proxy,
    pub(crate) names: BucketNames,
    pub(crate) config: UpstreamConfig,
}

impl std::fmt::Debug for UpstreamBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamBackend")
            .field("endpoint", &self.inner.config.endpoint)
            .field("region", &self.inner.config.region)
            .finish_non_exhaustive()
    }
}

impl UpstreamBackend {
    /// Validates the configuration, reads the TLS files and builds the clients. Does not
    /// contact the upstream (the first request does; a wrong endpoint or key shows up there, as
    /// `ServiceUnavailable` or `InternalError` for the device and a log line naming the cause).
    ///
    /// # Errors
    /// The configuration is invalid ([`UpstreamConfig::validate`]), or a TLS file
    /// (`ca_bundle`, `client_cert`, `client_key`) cannot be read or used.
    pub fn new(config: UpstreamConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let names = BucketNames::new(&config);
        let transport = Arc::new(Transport::new(&config)?);
        let wire = Wire::new(&config, Arc::clone(&transport));
        let base = aws_sdk_s3::Config::builder()
            .http_client(SdkHttp(transport))
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(config.endpoint.trim_end_matches('/'))
            .region(Region::new(config.region.clone()))
            .force_path_style(config.force_path_style)
            .credentials_provider(Credentials::new(
                config.access_key_id.clone(),
                config.secret_access_key.clone(),
                None,
                None,
                "iotcreds-objects-upstream",
            ))
            .retry_config(RetryConfig::standard().with_max_attempts(config.max_attempts))
            .request_checksum_calculation(match config.checksum_calculation {
                ChecksumCalculation::WhenSupported => RequestChecksumCalculation::WhenSupported,
                ChecksumCalculation::WhenRequired => RequestChecksumCalculation::WhenRequired,
            })
            .response_checksum_validation(ResponseChecksumValidation::WhenSupported);
        let timeouts = |operation| {
            TimeoutConfig::builder()
                .connect_timeout(config.connect_timeout())
                .operation_timeout(operation)
                .build()
        };
        let proxy = Proxy::from(aws_sdk_s3::Client::from_conf(
            base.clone()
                .timeout_config(timeouts(config.operation_timeout()))
                .build(),
        ));
        let transfer = Proxy::from(aws_sdk_s3::Client::from_conf(
            base.timeout_config(timeouts(config.transfer_timeout()))
                .build(),
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                wire,
                proxy,
                transfer,
                names,
                config,
            }),
        })
    }

    /// The configuration the backend was built with.
    #[must_use]
    pub fn config(&self) -> &UpstreamConfig {
        &self.inner.config
    }

    /// The upstream bucket of a device bucket, and the `(upstream, device)` pair for errors.
    pub(crate) fn upstream(&self, device: &str) -> s3s::S3Result<(String, (String, String))> {
        let up = self.inner.names.to_upstream(device)?;
        Ok((up.clone(), (up, device.to_owned())))
    }
}

/// Calls an operation of an `s3s_aws::Proxy` and maps its error for the device:
/// `forward!(proxy_field, op, req, SdkErrorType, ctx)`.
macro_rules! forward {
    ($self:ident . $proxy:ident . $op:ident($req:expr), $err:ty, $cx:expr) => {
        match s3s::S3::$op(&$self.inner.$proxy, $req).await {
            Ok(resp) => resp.output,
            Err(e) => return Err($crate::errors::from_upstream::<$err>(&$cx, e)),
        }
    };
}
pub(crate) use forward;

/// Drops owner identities (the gateway's account at the upstream) from a listing entry.
macro_rules! hide_owner {
    ($list:expr) => {
        if let Some(items) = $list.as_mut() {
            for item in items.iter_mut() {
                item.owner = None;
            }
        }
    };
}
pub(crate) use hide_owner;
