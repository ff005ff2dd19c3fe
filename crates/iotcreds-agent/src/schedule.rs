//! When to fetch and what to answer: the refresh and error-backoff rules of one role alias, as a
//! pure state machine over a monotonic clock in milliseconds (no I/O, no clock reads, randomness
//! passed in), so that hours of outages and thousands of requests are simulated in tests.
//!
//! Rules:
//! - Credentials are refreshed at `expiry − before_expiry − jitter`, but never sooner than
//!   `min_interval` after they were fetched (so a device clock or a server that hands out short
//!   lifetimes cannot turn into a fetch loop).
//! - Only the refresher fetches, one fetch at a time; requests only read the state.
//! - Held credentials are served while valid (`serve_margin` before their expiry), whatever the
//!   refreshes are doing.
//! - A failure is remembered with its class; the next attempt waits `backoff(class) · 2^(n−1)`
//!   (capped by `max_backoff`, ±20 % jitter). While held credentials are still valid the wait
//!   is also capped at half their remaining life (never below the class's base), so a
//!   recovering endpoint is noticed before they expire.
//! - Without valid credentials, a request during the backoff gets the remembered error at once:
//!   no request reaches the endpoint because of a local client.

use std::sync::Arc;
use std::time::Duration;

use crate::creds::Credentials;

/// A point on the agent's monotonic clock, ms since the agent started.
pub type Mono = u64;

/// The tunables (from `[refresh]` in the agent configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Refresh this long before the expiry (AWS SDKs and Greengrass use 5 minutes).
    pub before_expiry: Duration,
    /// Up to this much earlier still, at random, so a fleet does not refresh in step.
    pub jitter: Duration,
    /// Never refresh sooner than this after a successful fetch.
    pub min_interval: Duration,
    /// First wait after a refusal (4xx, TLS or configuration errors).
    pub client_error_backoff: Duration,
    /// First wait after an outage (5xx, 429, network errors, timeouts).
    pub server_error_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// Stop serving credentials this long before they expire.
    pub serve_margin: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            before_expiry: Duration::from_secs(300),
            jitter: Duration::from_secs(60),
            min_interval: Duration::from_secs(60),
            client_error_backoff: Duration::from_secs(120),
            server_error_backoff: Duration::from_secs(15),
            max_backoff: Duration::from_secs(900),
            serve_margin: Duration::from_secs(10),
        }
    }
}

/// Which backoff a failure gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The endpoint (or the TLS handshake, or the local set-up) refused: retrying soon will
    /// not help.
    Refused,
    /// The endpoint is down, overloaded or unreachable.
    Unavailable,
}

impl ErrorClass {
    /// A label for metrics and status.
    pub fn label(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::Unavailable => "unavailable",
        }
    }
}

/// Credentials held, with their schedule.
#[derive(Debug, Clone)]
pub struct Held {
    /// The credentials.
    pub creds: Arc<Credentials>,
    /// When they were fetched.
    pub fetched_at: Mono,
    /// Wall-clock time of the fetch, ms since the epoch (IMDS's `LastUpdated`).
    pub fetched_wall_ms: i64,
    /// When they expire on the monotonic clock (their lifetime as the server counted it).
    pub expires_at: Mono,
    /// When the refresher fetches new ones.
    pub refresh_at: Mono,
}

/// The last failure since the last success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Its class.
    pub class: ErrorClass,
    /// What went wrong (no secret: endpoint names, statuses and the endpoint's messages).
    pub message: String,
    /// When it happened.
    pub at: Mono,
    /// Wall-clock time, ms since the epoch.
    pub at_wall_ms: i64,
    /// Failures in a row.
    pub consecutive: u32,
    /// When the refresher tries again.
    pub retry_at: Mono,
}

/// What a request gets.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Valid credentials.
    Serve(Held),
    /// A fetch is in flight or about to start: wait for it.
    Wait,
    /// Nothing valid to serve, and no fetch before `retry_at`.
    Unavailable {
        /// Why.
        reason: String,
        /// The failure class, when a fetch failed.
        class: Option<ErrorClass>,
    },
}

/// The state of one role alias.
#[derive(Debug, Clone, Default)]
pub struct AliasState {
    /// The credentials held, valid or not.
    pub held: Option<Held>,
    /// The last failure since the last success.
    pub failure: Option<Failure>,
    /// A fetch is in flight.
    pub fetching: bool,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `d` scaled by a factor in [0.8, 1.2) from `rand01` in [0, 1).
fn jittered(d: u64, rand01: f64) -> u64 {
    let f = 0.8 + 0.4 * rand01.clamp(0.0, 1.0);
    (d as f64 * f) as u64
}

impl AliasState {
    /// When the refresher should start the next fetch.
    pub fn next_attempt(&self, now: Mono) -> Mono {
        if let Some(f) = &self.failure {
            return f.retry_at;
        }
        match &self.held {
            Some(h) => h.refresh_at,
            None => now,
        }
    }

    /// Whether the held credentials may be served at `now`.
    pub fn valid(&self, now: Mono, policy: &Policy) -> Option<&Held> {
        self.held
            .as_ref()
            .filter(|h| now.saturating_add(ms(policy.serve_margin)) < h.expires_at)
    }

    /// What a request at `now` gets.
    pub fn answer(&self, now: Mono, policy: &Policy) -> Answer {
        if let Some(h) = self.valid(now, policy) {
            return Answer::Serve(h.clone());
        }
        if self.fetching {
            return Answer::Wait;
        }
        if let Some(f) = &self.failure {
            let secs = f.retry_at.saturating_sub(now).div_ceil(1000);
            return Answer::Unavailable {
                reason: format!("{} (next attempt in {secs} s)", f.message),
                class: Some(f.class),
            };
        }
        match &self.held {
            None => Answer::Wait,
            Some(h) if h.refresh_at <= now => Answer::Wait,
            Some(h) => Answer::Unavailable {
                reason: format!(
                    "the credentials expired and the next refresh is in {} s (the role alias's credential duration is shorter than the agent's refresh.min_interval_secs)",
                    h.refresh_at.saturating_sub(now).div_ceil(1000)
                ),
                class: None,
            },
        }
    }

    /// A fetch starts.
    pub fn start(&mut self) {
        self.fetching = true;
    }

    /// A fetch at `now` returned `creds`, valid for `lifetime` as the server counted it.
    pub fn succeeded(
        &mut self,
        now: Mono,
        wall_ms: i64,
        creds: Credentials,
        lifetime: Duration,
        policy: &Policy,
        rand01: f64,
    ) {
        let expires_at = now.saturating_add(ms(lifetime));
        let jitter = (ms(policy.jitter) as f64 * rand01.clamp(0.0, 1.0)) as u64;
        let planned = expires_at
            .saturating_sub(ms(policy.before_expiry))
            .saturating_sub(jitter);
        let refresh_at = planned.max(now.saturating_add(ms(policy.min_interval)));
        self.held = Some(Held {
            creds: Arc::new(creds),
            fetched_at: now,
            fetched_wall_ms: wall_ms,
            expires_at,
            refresh_at,
        });
        self.failure = None;
        self.fetching = false;
    }

    /// A fetch at `now` failed.
    pub fn failed(
        &mut self,
        now: Mono,
        wall_ms: i64,
        class: ErrorClass,
        message: String,
        policy: &Policy,
        rand01: f64,
    ) {
        let consecutive = self.failure.as_ref().map_or(0, |f| f.consecutive) + 1;
        let base = ms(match class {
            ErrorClass::Refused => policy.client_error_backoff,
            ErrorClass::Unavailable => policy.server_error_backoff,
        })
        .max(1);
        let exp = base.saturating_mul(1u64 << (consecutive - 1).min(20));
        let mut wait = exp.min(ms(policy.max_backoff).max(base));
        if let Some(h) = self.valid(now, policy) {
            wait = wait.min(base.max(h.expires_at.saturating_sub(now) / 2));
        }
        self.failure = Some(Failure {
            class,
            message,
            at: now,
            at_wall_ms: wall_ms,
            consecutive,
            retry_at: now.saturating_add(jittered(wait, rand01).max(1)),
        });
        self.fetching = false;
    }

    /// Forget the backoff (the identity changed, or the operator asked): a failed set-up is
    /// retried at once. Held credentials keep their schedule.
    pub fn retry_now(&mut self, now: Mono) {
        if let Some(f) = &mut self.failure {
            f.retry_at = f.retry_at.min(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: u64 = 1000;
    const HOUR: Duration = Duration::from_secs(3600);

    fn creds(n: u32) -> Credentials {
        Credentials {
            access_key_id: format!("ASIA{n:016}"),
            secret_access_key: crate::creds::Secret::new("s".into()),
            session_token: crate::creds::Secret::new("t".into()),
            expiration: "2026-01-01T00:00:00Z".into(),
            expiration_ms: 0,
        }
    }

    #[test]
    fn refreshes_five_minutes_before_expiry_with_jitter() {
        let p = Policy::default();
        let mut s = AliasState::default();
        assert_eq!(s.next_attempt(7), 7);
        assert!(matches!(s.answer(7, &p), Answer::Wait));
        s.start();
        s.succeeded(0, 0, creds(1), HOUR, &p, 0.0);
        assert_eq!(s.next_attempt(0), 3300 * S);
        s.succeeded(0, 0, creds(1), HOUR, &p, 0.5);
        assert_eq!(s.next_attempt(0), 3270 * S);
        assert!(matches!(s.answer(3589 * S, &p), Answer::Serve(_)));
        // Past the serve margin: wait for the refresher.
        assert!(matches!(s.answer(3591 * S, &p), Answer::Wait));
    }

    #[test]
    fn short_lifetimes_never_loop() {
        let p = Policy::default();
        let mut s = AliasState::default();
        s.succeeded(0, 0, creds(1), Duration::from_secs(30), &p, 0.0);
        assert_eq!(s.next_attempt(0), 60 * S);
        match s.answer(45 * S, &p) {
            Answer::Unavailable { reason, class } => {
                assert!(class.is_none());
                assert!(reason.contains("next refresh is in 15 s"), "{reason}");
            }
            a => panic!("{a:?}"),
        }
    }

    #[test]
    fn failures_back_off_per_class_and_keep_serving() {
        let p = Policy::default();
        let mut s = AliasState::default();
        s.succeeded(0, 0, creds(1), HOUR, &p, 0.0);
        let t = 3300 * S;
        s.start();
        assert!(
            matches!(s.answer(t, &p), Answer::Serve(_)),
            "serves during a fetch"
        );
        s.failed(t, 0, ErrorClass::Unavailable, "down".into(), &p, 0.5);
        assert_eq!(s.next_attempt(t), t + 15 * S);
        assert!(matches!(s.answer(t + S, &p), Answer::Serve(_)));
        s.failed(
            t + 15 * S,
            0,
            ErrorClass::Unavailable,
            "down".into(),
            &p,
            0.5,
        );
        assert_eq!(s.next_attempt(0), t + 45 * S);
        // A refusal starts from its own base.
        let mut r = AliasState::default();
        r.failed(0, 0, ErrorClass::Refused, "403".into(), &p, 0.5);
        assert_eq!(r.next_attempt(0), 120 * S);
        match r.answer(S, &p) {
            Answer::Unavailable { reason, class } => {
                assert_eq!(class, Some(ErrorClass::Refused));
                assert_eq!(reason, "403 (next attempt in 119 s)");
            }
            a => panic!("{a:?}"),
        }
        r.retry_now(5 * S);
        assert_eq!(r.next_attempt(5 * S), 5 * S);
    }

    #[test]
    fn backoff_is_capped_by_the_remaining_life() {
        let p = Policy {
            server_error_backoff: Duration::from_secs(100),
            ..Policy::default()
        };
        let mut s = AliasState::default();
        s.succeeded(0, 0, creds(1), HOUR, &p, 0.0);
        let t = 3500 * S; // 100 s left
        for _ in 0..5 {
            s.failed(t, 0, ErrorClass::Unavailable, "down".into(), &p, 0.5);
        }
        // 1600 s by the exponent, capped at max(base, 50 s) = 100 s.
        assert_eq!(s.next_attempt(t), t + 100 * S);
    }

    /// Two minutes of an endpoint outage, a local SDK request every 100 ms, with the default
    /// policy in simulated time: no request fails while the held credentials are valid, and the
    /// endpoint sees few attempts.
    #[test]
    fn two_minute_outage_costs_no_request_and_few_attempts() {
        let p = Policy::default();
        let mut s = AliasState::default();
        s.succeeded(0, 0, creds(1), HOUR, &p, 0.3);
        let refresh = s.next_attempt(0);
        let (start, end) = (refresh - 10 * S, refresh + 120 * S);
        let (mut attempts, mut served) = (0, 0);
        let mut now = start;
        while now < end {
            if s.next_attempt(now) <= now {
                attempts += 1;
                s.start();
                s.failed(
                    now,
                    0,
                    ErrorClass::Unavailable,
                    "connection refused".into(),
                    &p,
                    0.9,
                );
            }
            match s.answer(now, &p) {
                Answer::Serve(h) => {
                    assert_eq!(h.creds.access_key_id, creds(1).access_key_id);
                    served += 1;
                }
                a => panic!("request at {now} ms failed: {a:?}"),
            }
            now += 100;
        }
        assert_eq!(served, 1300);
        assert!((3..=5).contains(&attempts), "{attempts} attempts");
        // The endpoint comes back: the next attempt succeeds and is served.
        now = s.next_attempt(now);
        s.succeeded(now, 0, creds(2), HOUR, &p, 0.3);
        match s.answer(now, &p) {
            Answer::Serve(h) => assert_eq!(h.creds.access_key_id, creds(2).access_key_id),
            a => panic!("{a:?}"),
        }
    }

    proptest! {
        /// Whatever the sequence of failures, attempts are at least the class's base apart
        /// (less 20 % jitter) and never more than the cap apart.
        #[test]
        fn attempts_are_spaced(classes in proptest::collection::vec(any::<bool>(), 1..40),
                               r in 0.0f64..1.0) {
            let p = Policy::default();
            let mut s = AliasState::default();
            let mut now = 0;
            for refused in classes {
                let class = if refused { ErrorClass::Refused } else { ErrorClass::Unavailable };
                s.failed(now, 0, class, "x".into(), &p, r);
                let next = s.next_attempt(now);
                let base = if refused { 120 * S } else { 15 * S };
                prop_assert!(next - now >= base * 8 / 10);
                prop_assert!(next - now <= 900 * S * 12 / 10);
                now = next;
            }
        }

        /// Held credentials are served at every instant before expiry − margin.
        #[test]
        fn valid_credentials_are_always_served(fails in 0u32..20, t in 0u64..3590) {
            let p = Policy::default();
            let mut s = AliasState::default();
            s.succeeded(0, 0, creds(1), HOUR, &p, 0.5);
            for i in 0..fails {
                s.failed(u64::from(i) * S, 0, ErrorClass::Unavailable, "x".into(), &p, 0.5);
            }
            prop_assert!(matches!(s.answer(t * S, &p), Answer::Serve(_)));
        }
    }
}
