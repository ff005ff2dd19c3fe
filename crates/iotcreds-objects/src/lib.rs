//! Object storage backends for the iotcreds S3 endpoint.
//!
//! The S3 endpoint is built on [`s3s`]: the gateway wraps any [`s3s::S3`] implementation with
//! SigV4 authentication and IAM policy checks. This crate provides the storage side of that
//! seam. A backend implements S3 semantics (status codes, error codes, headers, listing order)
//! and assumes nothing about who is calling: authorisation happened before the call reached it.
//!
//! * [`fs`]: the embedded backend of the default deployment. Objects live in a data directory
//!   on the local file system; every write is atomic and durable. See the module docs for the
//!   on-disk format, the crash-safety argument and the path-safety (security) rules.
//!
//! * [`zerocopy`]: memory-mapped response bodies that plain-TCP connections send with
//!   `sendfile(2)`.
//!
//! A backend forwarding to an existing S3-compatible cluster will implement the same trait.

pub mod fs;
pub mod zerocopy;
