//! The one integration-test binary of iotcreds-policy.

mod api;
mod kat;
mod props;
mod simulate;
