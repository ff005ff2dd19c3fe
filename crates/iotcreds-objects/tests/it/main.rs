//! End-to-end tests of the file-system backend through a real s3s service over HTTP.

mod bucket;
mod checksum;
mod common;
mod copy;
mod keys;
mod list;
mod multipart;
mod object;
mod persistence;
mod read;
mod tagging;
