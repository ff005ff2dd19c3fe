//! Issuance rate limits: a token bucket per certificate and one for the account, taken from
//! when a registered, ACTIVE certificate asks for credentials (the step after the certificate
//! check of [`super::issue`]). A request that finds either bucket empty is refused with AWS's
//! throttling shape (HTTP 429, `ThrottlingException`) before any further look-up, policy
//! evaluation or sealing.
//!
//! What an attacker costs us: only certificates the registry knows and accepts get a bucket, so
//! the map is bounded by the registry, never by what anonymous clients present; a bucket that
//! has refilled is the same as no bucket and is dropped when the map is next pruned (pruning is
//! amortised: it runs when the map has doubled since the last one).
//!
//! Each instance keeps its own buckets (no store round trip per issuance). Behind a load
//! balancer spreading requests over N instances, one certificate can therefore be issued up to
//! N times its configured rate, and the account N times its rate; set the rates divided by N for
//! a fleet-wide figure (docs/deployment.md). Written by hand: the crates that do this
//! (`governor`) key on `Hash + Clone` values with their own clock and no way to bound the map by
//! what the registry accepts, and this is forty lines.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One limit: `rate` tokens per second, at most `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Sustained issuances per second.
    pub rate: f64,
    /// Issuances allowed at once after a quiet period.
    pub burst: f64,
}

impl Limit {
    /// `rate` per second (may be below 1: 0.1 is one every 10 s) with a burst of `burst`;
    /// `None` (no limit) when either is 0 (or the rate is not a positive number).
    pub fn new(rate: f64, burst: u32) -> Option<Self> {
        (rate.is_finite() && rate > 0.0 && burst > 0).then(|| Self {
            rate,
            burst: f64::from(burst),
        })
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The certificate's own.
    Certificate,
    /// The account's, shared by every certificate.
    Account,
}

impl Scope {
    /// For the audit line.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Certificate => "certificate",
            Scope::Account => "account",
        }
    }
}

/// A refusal: which limit, and when a token is back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttled {
    /// The limit that refused.
    pub scope: Scope,
    /// How long until the next issuance would be allowed.
    pub retry_after: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(limit: Limit, now: Instant) -> Self {
        Self {
            tokens: limit.burst,
            at: now,
        }
    }

    fn refill(&mut self, limit: Limit, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.rate).min(limit.burst);
        self.at = now;
    }

    fn wait(&self, limit: Limit) -> Duration {
        Duration::from_secs_f64(((1.0 - self.tokens) / limit.rate).max(0.0))
    }
}

#[derive(Debug)]
struct State {
    account: Option<Bucket>,
    certificates: HashMap<String, Bucket>,
    prune_at: usize,
}

/// The limits of one credentials endpoint.
#[derive(Debug)]
pub struct Throttle {
    per_certificate: Option<Limit>,
    per_account: Option<Limit>,
    state: Mutex<State>,
}

const FIRST_PRUNE: usize = 1024;

impl Throttle {
    /// Limits per certificate and for the account (`None`: that limit is off).
    pub fn new(per_certificate: Option<Limit>, per_account: Option<Limit>) -> Self {
        Self {
            per_certificate,
            per_account,
            state: Mutex::new(State {
                account: None,
                certificates: HashMap::new(),
                prune_at: FIRST_PRUNE,
            }),
        }
    }

    /// No limits.
    pub fn off() -> Self {
        Self::new(None, None)
    }

    /// Take one issuance for `certificate_id` at `now`, from both buckets or from neither.
    pub fn take(&self, certificate_id: &str, now: Instant) -> Result<(), Throttled> {
        if self.per_certificate.is_none() && self.per_account.is_none() {
            return Ok(());
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *state;
        let account = match self.per_account {
            Some(limit) => {
                let b = state
                    .account
                    .get_or_insert_with(|| Bucket::full(limit, now));
                b.refill(limit, now);
                if b.tokens < 1.0 {
                    return Err(Throttled {
                        scope: Scope::Account,
                        retry_after: b.wait(limit),
                    });
                }
                Some(b)
            }
            None => None,
        };
        if let Some(limit) = self.per_certificate {
            let b = match state.certificates.get_mut(certificate_id) {
                Some(b) => {
                    b.refill(limit, now);
                    b
                }
                None => state
                    .certificates
                    .entry(certificate_id.to_owned())
                    .or_insert(Bucket::full(limit, now)),
            };
            if b.tokens < 1.0 {
                return Err(Throttled {
                    scope: Scope::Certificate,
                    retry_after: b.wait(limit),
                });
            }
            b.tokens -= 1.0;
        }
        if let Some(b) = account {
            b.tokens -= 1.0;
        }
        if let Some(limit) = self.per_certificate
            && state.certificates.len() >= state.prune_at
        {
            // A bucket that is full again holds nothing a new one would not.
            state.certificates.retain(|_, b| {
                b.refill(limit, now);
                b.tokens < limit.burst
            });
            state.prune_at = (state.certificates.len() * 2).max(FIRST_PRUNE);
        }
        Ok(())
    }

    /// How many certificates have a bucket (for tests and the attack bound).
    pub fn tracked(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .certificates
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(rate: u32, burst: u32) -> Option<Limit> {
        Limit::new(f64::from(rate), burst)
    }

    #[test]
    fn a_certificate_gets_its_burst_then_its_rate() {
        let t = Throttle::new(limit(2, 3), None);
        let t0 = Instant::now();
        for _ in 0..3 {
            t.take("a", t0).unwrap();
        }
        let refused = t.take("a", t0).unwrap_err();
        assert_eq!(refused.scope, Scope::Certificate);
        assert_eq!(refused.retry_after, Duration::from_millis(500));
        // Another certificate has its own bucket.
        t.take("b", t0).unwrap();
        // Half a second later, one token (rate 2/s) is back, and only one.
        let t1 = t0 + Duration::from_millis(500);
        t.take("a", t1).unwrap();
        assert!(t.take("a", t1).is_err());
        // Long quiet: the bucket refills to the burst, never beyond.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..3 {
            t.take("a", t2).unwrap();
        }
        assert!(t.take("a", t2).is_err());
    }

    #[test]
    fn the_account_limit_is_shared_and_a_refusal_takes_nothing() {
        let t = Throttle::new(limit(10, 5), limit(1, 4));
        let t0 = Instant::now();
        for c in ["a", "b", "c", "d"] {
            t.take(c, t0).unwrap();
        }
        let refused = t.take("e", t0).unwrap_err();
        assert_eq!(refused.scope, Scope::Account);
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        // The account's refusal took nothing from "a": after the account refills by one,
        // "a" still has 4 of its 5.
        let t1 = t0 + Duration::from_secs(1);
        t.take("a", t1).unwrap();
        let t2 = t1 + Duration::from_secs(100);
        for _ in 0..4 {
            t.take("a", t2).unwrap();
        }
        // The certificate's refusal takes nothing from the account either.
        let t3 = t2 + Duration::from_secs(100);
        let t = Throttle::new(limit(1, 1), limit(1, 2));
        t.take("a", t3).unwrap();
        assert_eq!(t.take("a", t3).unwrap_err().scope, Scope::Certificate);
        t.take("b", t3).unwrap();
    }

    #[test]
    fn off_means_off() {
        let t = Throttle::off();
        let now = Instant::now();
        for _ in 0..10_000 {
            t.take("a", now).unwrap();
        }
        assert_eq!(t.tracked(), 0);
        assert!(Limit::new(0.0, 10).is_none());
        assert!(Limit::new(10.0, 0).is_none());
        assert!(Limit::new(f64::NAN, 10).is_none());
        assert!(Limit::new(-1.0, 10).is_none());
        assert!(Limit::new(0.01, 1).is_some());
    }

    /// Many certificates, each used once: buckets that refilled are dropped, so the map does
    /// not keep one per certificate ever seen.
    #[test]
    fn refilled_buckets_are_pruned() {
        let t = Throttle::new(limit(100, 2), None);
        let start = Instant::now();
        for i in 0..100_000u32 {
            // 10 ms apart: each bucket is full again 10 ms after its one use.
            let now = start + Duration::from_millis(u64::from(i) * 10);
            t.take(&format!("cert-{i}"), now).unwrap();
        }
        assert!(
            t.tracked() <= 2 * FIRST_PRUNE,
            "{} buckets kept",
            t.tracked()
        );
    }
}
