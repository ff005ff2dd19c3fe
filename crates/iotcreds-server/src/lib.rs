//! The iotcreds server: a device trades its X.509 certificate for short-lived, least-privilege
//! credentials (the credentials endpoint), and those credentials are honoured on an S3 API and
//! an AWS-compatible control plane (the service endpoint).
//!
//! # Architecture
//!
//! - `iotcreds-registry` (a crate): the store behind a cache, the account, the built-in CA and
//!   the token key ring, and principal resolution. Every hot-path read goes through it; every
//!   write drops its cache.
//! - `iotcreds-control` (a crate): the IoT, IAM and STS handlers.
//! - [`credentials`]: `GET /role-aliases/{alias}/credentials` over mutual TLS.
//! - [`service`]: the SigV4 service endpoint; requests are routed by the service name in the
//!   signed credential scope (`s3`, `iot`, `iam`, `sts`), authenticated to a
//!   `Principal`, and authorised by the policy engine before they touch state.
//! - [`admin`]: health and metrics.
//! - [`net`]: the accept loop (TLS handshakes in their own tasks, timeouts, graceful drain).
//!
//! Only this crate's HTTP edges know status codes; the registry, the token, policy and SigV4
//! crates report domain errors.

pub mod admin;
pub mod config;
pub mod credentials;
pub mod crl_fetch;
pub mod data_dir;
pub mod net;
pub mod registry_store;
pub mod service;
mod startup;

pub use config::Config;
pub use startup::{Running, start};
