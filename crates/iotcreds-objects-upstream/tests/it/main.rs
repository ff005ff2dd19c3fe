//! End-to-end tests of the upstream backend: a device's requests go through an in-process s3s
//! gateway over [`iotcreds_objects_upstream::UpstreamBackend`] to moto's S3 server (started per
//! test from the workspace's `.venv`, IAM auth enforced), or to a scripted upstream for the
//! answers moto never gives.

mod buckets;
mod checksums;
mod common;
mod errors;
mod mapping;
mod moto;
mod multipart;
mod objects;
mod scripted;
mod streaming;
