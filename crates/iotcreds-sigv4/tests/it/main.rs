//! Integration tests for iotcreds-sigv4: the conformance suite in `tests/data/`, the README's
//! mutations, the S3 documentation examples, API behaviour, and property tests.

mod api;
mod conformance;
mod mutations;
mod props;
mod s3_examples;
mod signing;
mod suite;
