//! End-to-end tests of the upstream backend: a device's requests go through an in-process s3s
//! gateway over [`iotcreds_objects_upstream::UpstreamBackend`] to moto's S3 server (started per
//! test from the workspace's `.venv`, IAM auth enforced), or to a scripted upstream for the
//! answers moto never gives.

mod backpressure;
mod buckets;
mod checksums;
mod common;
mod errors;
mod forwarding;
mod keys;
mod mapping;
mod moto;
mod multipart;
mod objects;
mod s3sfs;
mod scripted;
mod streaming;
mod tls;
