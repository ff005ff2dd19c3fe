//! Integration tests of the server, in process: a real server on ports chosen by the OS, a
//! registry set up through the store (as the control plane would), and TLS clients.

mod common;
mod compatibility;
mod credentials;
mod key_ids;
mod s3;
mod s3_authz;
