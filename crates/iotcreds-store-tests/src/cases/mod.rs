//! The conformance cases, one module per area. Each case is `async fn case<H: Harness>()`,
//! creates its own registry through `H::create` and panics on the first deviation.

pub mod certificates;
pub mod concurrency;
pub mod console;
pub mod engine;
pub mod iam_policies;
pub mod iam_roles;
pub mod iam_users;
pub mod iot_policies;
pub mod paging;
pub mod role_aliases;
pub mod things;
