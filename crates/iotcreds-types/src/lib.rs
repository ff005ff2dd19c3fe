//! Identifiers, ARNs, names, limits and time formats shared by every iotcreds crate.
//!
//! This crate is pure: no I/O, no async. It holds the *vocabulary* of AWS IoT, IAM and STS as
//! iotcreds speaks it: how an identifier looks, which characters a name may use and how long it
//! may be (see `../shared/spec/aws-credentials-provider.md` §7 and §8 and the botocore service
//! models), how ARNs are built and taken apart, and how timestamps are written on the wire.
//!
//! Validation failures are [`ValidationError`]s that name the field and the rule it broke, in
//! the words AWS uses (`Value 'x' at 'thingName' failed to satisfy constraint: ...`), so every
//! edge can turn them into its own error shape without rewording them.

pub mod arn;
pub mod enums;
pub mod ids;
pub mod mime_words;
pub mod names;
pub mod percent;
pub mod s3_names;
pub mod s3_tags;
pub mod time_fmt;

pub use arn::Arn;
pub use enums::*;
pub use names::{NameRule, ValidationError};
