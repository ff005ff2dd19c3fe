//! The console over a real registry (SQLite in a temporary directory), driven with HTTP
//! requests as a browser sends them: sign-in and its limits, sessions and sign-out, CSRF and
//! origin checks, session fixation, open redirects, escaping, IAM's decisions for a read-only
//! user, the forced password change, the Activity page, and the event log's writer.

mod harness;

mod activity;
mod auth;
mod pages;
