//! Failed sign-ins, counted per user and per source address, in tables of fixed size.
//!
//! A key (a user, an address) that has failed `max_failures` times within `window` is refused
//! until its window ends, before any password is checked: a locked-out guesser costs a table
//! look-up, not a password hash. A successful sign-in clears the user's count.
//!
//! Memory is bounded by `capacity` entries per table. To make room the table drops entries
//! whose window has ended, then the oldest entry that is not locked. If every entry is locked
//! (someone is failing with very many names or addresses), a key the table does not know is
//! refused too: the limiter fails closed rather than forgetting a lock-out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: Instant,
}

/// Why an attempt is refused before its password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// This key failed too often; it may try again after this long.
    Locked(Duration),
    /// The table is full of locked keys.
    Saturated,
}

/// One table of failure counts.
pub struct FailureLimiter {
    map: Mutex<HashMap<String, Entry>>,
    max_failures: u32,
    window: Duration,
    capacity: usize,
}

impl FailureLimiter {
    /// At most `max_failures` failures per key per `window`; at most `capacity` keys.
    pub fn new(max_failures: u32, window: Duration, capacity: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            max_failures: max_failures.max(1),
            window,
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn live(&self, e: &Entry, now: Instant) -> bool {
        now.duration_since(e.window_start) < self.window
    }

    fn locked(&self, e: &Entry, now: Instant) -> bool {
        self.live(e, now) && e.failures >= self.max_failures
    }

    /// Whether `key` may try now.
    pub fn admit(&self, key: &str, now: Instant) -> Result<(), Refused> {
        let mut map = self.lock();
        if let Some(e) = map.get(key) {
            if self.locked(e, now) {
                let left = self
                    .window
                    .saturating_sub(now.duration_since(e.window_start));
                return Err(Refused::Locked(left));
            }
            return Ok(());
        }
        if map.len() >= self.capacity {
            map.retain(|_, e| self.live(e, now));
            if map.len() >= self.capacity && map.values().all(|e| self.locked(e, now)) {
                return Err(Refused::Saturated);
            }
        }
        Ok(())
    }

    /// Count a failure of `key`.
    pub fn fail(&self, key: &str, now: Instant) {
        let mut map = self.lock();
        if let Some(e) = map.get_mut(key) {
            if self.live(e, now) {
                e.failures = e.failures.saturating_add(1);
            } else {
                *e = Entry {
                    failures: 1,
                    window_start: now,
                };
            }
            return;
        }
        if map.len() >= self.capacity {
            map.retain(|_, e| self.live(e, now));
        }
        if map.len() >= self.capacity {
            let victim = map
                .iter()
                .filter(|(_, e)| !self.locked(e, now))
                .min_by_key(|(_, e)| e.window_start)
                .map(|(k, _)| k.clone());
            match victim {
                Some(k) => {
                    map.remove(&k);
                }
                // Every entry is locked: `admit` refuses unknown keys meanwhile.
                None => return,
            }
        }
        map.insert(
            key.to_owned(),
            Entry {
                failures: 1,
                window_start: now,
            },
        );
    }

    /// Forget `key`'s failures (it signed in).
    pub fn clear(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The key of a source address: IPv4 addresses alone, IPv6 addresses by their /64 (one host
/// usually holds a whole /64).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(60);

    #[test]
    fn locks_after_max_failures_until_the_window_ends() {
        let t0 = Instant::now();
        let l = FailureLimiter::new(3, W, 100);
        for i in 0..3 {
            assert_eq!(l.admit("u", t0), Ok(()), "attempt {i}");
            l.fail("u", t0);
        }
        assert!(
            matches!(l.admit("u", t0 + Duration::from_secs(1)), Err(Refused::Locked(d)) if d == Duration::from_secs(59))
        );
        assert_eq!(l.admit("other", t0), Ok(()), "other keys are not affected");
        assert_eq!(l.admit("u", t0 + W), Ok(()), "the window ended");
        l.fail("u", t0 + W);
        assert_eq!(
            l.admit("u", t0 + W),
            Ok(()),
            "a new window starts at one failure"
        );
    }

    #[test]
    fn success_clears() {
        let t0 = Instant::now();
        let l = FailureLimiter::new(2, W, 100);
        l.fail("u", t0);
        l.clear("u");
        l.fail("u", t0);
        assert_eq!(l.admit("u", t0), Ok(()));
    }

    #[test]
    fn memory_is_bounded_and_locks_survive_a_flood() {
        let t0 = Instant::now();
        let l = FailureLimiter::new(2, W, 4);
        // The victim's guesser is locked out.
        l.fail("victim", t0);
        l.fail("victim", t0);
        // A flood of single failures with other names cannot push the lock out.
        for i in 0..1000 {
            l.fail(&format!("noise{i}"), t0 + Duration::from_millis(i));
        }
        assert!(l.len() <= 4);
        assert!(matches!(
            l.admit("victim", t0 + Duration::from_secs(2)),
            Err(Refused::Locked(_))
        ));
        // When every entry is locked, unknown keys are refused rather than forgotten.
        let l = FailureLimiter::new(1, W, 2);
        l.fail("a", t0);
        l.fail("b", t0);
        l.fail("c", t0);
        assert_eq!(l.len(), 2);
        assert_eq!(l.admit("c", t0), Err(Refused::Saturated));
        assert!(matches!(l.admit("a", t0), Err(Refused::Locked(_))));
        // Once windows end, room comes back.
        assert_eq!(l.admit("c", t0 + W), Ok(()));
    }

    #[test]
    fn address_keys() {
        assert_eq!(address_key("192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(
            address_key("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            address_key("2001:db8:1:2:ffff::1".parse().unwrap()),
            address_key("2001:db8:1:2::9".parse().unwrap())
        );
        assert_eq!(
            address_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7"
        );
    }
}
