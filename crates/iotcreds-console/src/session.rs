//! Console sessions: who is signed in, their CSRF token, a one-shot message, and files offered
//! for download once (a new certificate's private key).
//!
//! The cookie carries 32 random bytes; the server keeps only their SHA-256, so the table is no
//! use to anyone who reads memory or a heap dump, and a look-up never compares secrets. A
//! session ends at sign-out, after `ttl` since sign-in, or after `idle` without a request,
//! whichever comes first. The table holds at most `max` sessions (the least recently used one
//! goes first); only a successful sign-in adds one, so an anonymous client cannot fill it.
//!
//! Session fixation cannot happen: an id is only ever one the server made at a successful
//! sign-in, and each sign-in makes a new one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// The account root, signed in with its access key.
    Root {
        /// The root access key id it signed in with (a rotated key ends the session).
        access_key_id: String,
    },
    /// An IAM user, signed in with their console password.
    User {
        /// The user's name.
        name: String,
        /// The user's id (a user deleted and re-created under the name ends the session).
        id: String,
        /// When the password was set (a new password ends the session).
        password_set_at: i64,
    },
}

/// A file offered for download once.
#[derive(Clone)]
pub struct OneTimeFile {
    /// File name (`cert.pem`, `private.key`).
    pub name: &'static str,
    /// Contents.
    pub contents: String,
}

impl std::fmt::Debug for OneTimeFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneTimeFile")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Files of one certificate creation, each downloadable once.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Random id in the download URLs.
    pub token: String,
    /// The certificate id the files belong to.
    pub certificate_id: String,
    /// What is left to download.
    pub files: Vec<OneTimeFile>,
    /// When it was made.
    pub created: Instant,
}

/// How long one-time downloads stay available.
pub const BUNDLE_TTL: Duration = Duration::from_secs(15 * 60);
/// Most bundles kept per session.
const MAX_BUNDLES: usize = 4;

/// One signed-in browser.
#[derive(Debug)]
pub struct Session {
    /// Who signed in.
    pub who: Who,
    /// The token every state-changing request must carry.
    pub csrf: String,
    /// A short public id for audit lines (not the cookie).
    pub marker: String,
    /// When the session began.
    pub created: Instant,
    /// The last request.
    pub last_seen: Instant,
    /// A message for the next page shown (`ok`, `error`, `info`).
    pub flash: Option<(&'static str, String)>,
    /// The user must choose a new password before anything else.
    pub must_change_password: bool,
    /// One-time downloads.
    pub bundles: Vec<Bundle>,
}

impl Session {
    /// Offer `files` of certificate `certificate_id` for download once; returns the token.
    pub fn offer(&mut self, certificate_id: &str, files: Vec<OneTimeFile>, now: Instant) -> String {
        self.bundles
            .retain(|b| now.duration_since(b.created) < BUNDLE_TTL && !b.files.is_empty());
        if self.bundles.len() >= MAX_BUNDLES {
            self.bundles.remove(0);
        }
        let token = random_token(16);
        self.bundles.push(Bundle {
            token: token.clone(),
            certificate_id: certificate_id.to_owned(),
            files,
            created: now,
        });
        token
    }

    /// Take file `name` of bundle `token` (it cannot be downloaded again).
    pub fn take(&mut self, token: &str, name: &str, now: Instant) -> Option<OneTimeFile> {
        let b = self
            .bundles
            .iter_mut()
            .find(|b| b.token == token && now.duration_since(b.created) < BUNDLE_TTL)?;
        let i = b.files.iter().position(|f| f.name == name)?;
        Some(b.files.remove(i))
    }

    /// The bundle `token`, if it is still there.
    pub fn bundle(&self, token: &str, now: Instant) -> Option<&Bundle> {
        self.bundles
            .iter()
            .find(|b| b.token == token && now.duration_since(b.created) < BUNDLE_TTL)
    }
}

/// Why a cookie did not lead to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// No such session (never made, signed out, or evicted).
    Unknown,
    /// It ended by time.
    Expired,
}

/// `n` random bytes, base64url.
pub fn random_token(n: usize) -> String {
    let mut b = vec![0u8; n];
    // The system random source failing leaves nothing safe to do.
    aws_lc_rs::rand::fill(&mut b).expect("system random number generator failed");
    URL_SAFE_NO_PAD.encode(b)
}

fn digest(cookie: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cookie.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Compare two secrets in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// The session table.
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
    ttl: Duration,
    idle: Duration,
    max: usize,
}

impl Sessions {
    /// Sessions lasting at most `ttl`, ending after `idle` without a request; at most `max`.
    pub fn new(ttl: Duration, idle: Duration, max: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            ttl,
            idle,
            max: max.max(1),
        }
    }

    /// How long a session may last in all (the cookie's `Max-Age`).
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        // A panic while holding the lock cannot leave a half-written session: recover.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expired(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.created) >= self.ttl || now.duration_since(s.last_seen) >= self.idle
    }

    /// Start a session for `who`; returns the cookie value. `replacing` (the cookie the
    /// browser still had, if any) is ended first.
    pub fn create(&self, who: Who, replacing: Option<&str>, now: Instant) -> String {
        let cookie = random_token(32);
        let mut map = self.lock();
        if let Some(old) = replacing {
            map.remove(&digest(old));
        }
        map.retain(|_, s| !self.expired(s, now));
        while map.len() >= self.max {
            let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| *k) else {
                break;
            };
            map.remove(&oldest);
        }
        let marker = hex::encode(&digest(&cookie)[..6]);
        map.insert(
            digest(&cookie),
            Session {
                who,
                csrf: random_token(32),
                marker,
                created: now,
                last_seen: now,
                flash: None,
                must_change_password: false,
                bundles: Vec::new(),
            },
        );
        cookie
    }

    /// Run `f` on the session of `cookie`, marking it used at `now`.
    pub fn with<R>(
        &self,
        cookie: &str,
        now: Instant,
        f: impl FnOnce(&mut Session) -> R,
    ) -> Result<R, Lookup> {
        let key = digest(cookie);
        let mut map = self.lock();
        let Some(s) = map.get_mut(&key) else {
            return Err(Lookup::Unknown);
        };
        if self.expired(s, now) {
            map.remove(&key);
            return Err(Lookup::Expired);
        }
        s.last_seen = now;
        Ok(f(s))
    }

    /// End the session of `cookie` (sign-out, or its principal is gone).
    pub fn end(&self, cookie: &str) {
        self.lock().remove(&digest(cookie));
    }

    /// How many sessions are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Who {
        Who::Root {
            access_key_id: "AKIAROOT".into(),
        }
    }

    #[test]
    fn sessions_expire_by_age_and_by_idleness() {
        let t0 = Instant::now();
        let s = Sessions::new(Duration::from_secs(100), Duration::from_secs(10), 10);
        let c = s.create(root(), None, t0);
        assert_eq!(c.len(), 43, "32 bytes, base64url");
        // Used every 9 s it stays, until the absolute limit.
        let mut t = t0;
        for _ in 0..11 {
            t += Duration::from_secs(9);
            assert!(s.with(&c, t, |_| ()).is_ok());
        }
        t += Duration::from_secs(9);
        assert_eq!(
            s.with(&c, t, |_| ()),
            Err(Lookup::Expired),
            "absolute limit"
        );
        assert_eq!(s.with(&c, t, |_| ()), Err(Lookup::Unknown), "and gone");
        let c = s.create(root(), None, t);
        assert_eq!(
            s.with(&c, t + Duration::from_secs(10), |_| ()),
            Err(Lookup::Expired),
            "idle limit"
        );
    }

    #[test]
    fn unknown_and_forged_cookies_find_nothing() {
        let t = Instant::now();
        let s = Sessions::new(Duration::from_secs(100), Duration::from_secs(100), 10);
        let c = s.create(root(), None, t);
        assert_eq!(s.with("", t, |_| ()), Err(Lookup::Unknown));
        assert_eq!(s.with(&random_token(32), t, |_| ()), Err(Lookup::Unknown));
        let mut forged = c.clone();
        forged.pop();
        assert_eq!(s.with(&forged, t, |_| ()), Err(Lookup::Unknown));
        assert!(s.with(&c, t, |_| ()).is_ok());
    }

    #[test]
    fn sign_in_replaces_the_old_session_and_sign_out_ends_it() {
        let t = Instant::now();
        let s = Sessions::new(Duration::from_secs(100), Duration::from_secs(100), 10);
        let a = s.create(root(), None, t);
        let csrf_a = s.with(&a, t, |x| x.csrf.clone()).unwrap();
        let b = s.create(root(), Some(&a), t);
        assert_ne!(a, b);
        assert_eq!(
            s.with(&a, t, |_| ()),
            Err(Lookup::Unknown),
            "old id is void"
        );
        let csrf_b = s.with(&b, t, |x| x.csrf.clone()).unwrap();
        assert_ne!(csrf_a, csrf_b, "a new CSRF token with each session");
        s.end(&b);
        assert_eq!(s.with(&b, t, |_| ()), Err(Lookup::Unknown));
        assert!(s.is_empty());
    }

    #[test]
    fn the_table_is_bounded_least_recently_used_first() {
        let t0 = Instant::now();
        let s = Sessions::new(Duration::from_secs(1000), Duration::from_secs(1000), 3);
        let a = s.create(root(), None, t0);
        let b = s.create(root(), None, t0 + Duration::from_secs(1));
        let c = s.create(root(), None, t0 + Duration::from_secs(2));
        s.with(&a, t0 + Duration::from_secs(3), |_| ()).unwrap();
        let d = s.create(root(), None, t0 + Duration::from_secs(4));
        assert_eq!(s.len(), 3);
        assert!(
            s.with(&b, t0 + Duration::from_secs(5), |_| ()).is_err(),
            "b was least recently used"
        );
        for k in [&a, &c, &d] {
            assert!(s.with(k, t0 + Duration::from_secs(5), |_| ()).is_ok());
        }
    }

    #[test]
    fn one_time_downloads() {
        let t = Instant::now();
        let s = Sessions::new(Duration::from_secs(3600), Duration::from_secs(3600), 3);
        let c = s.create(root(), None, t);
        let token = s
            .with(&c, t, |x| {
                x.offer(
                    "abc",
                    vec![
                        OneTimeFile {
                            name: "cert.pem",
                            contents: "C".into(),
                        },
                        OneTimeFile {
                            name: "private.key",
                            contents: "K".into(),
                        },
                    ],
                    t,
                )
            })
            .unwrap();
        let key = s.with(&c, t, |x| x.take(&token, "private.key", t)).unwrap();
        assert_eq!(key.unwrap().contents, "K");
        assert!(
            s.with(&c, t, |x| x.take(&token, "private.key", t))
                .unwrap()
                .is_none(),
            "once"
        );
        assert!(
            s.with(&c, t, |x| x.take("other", "cert.pem", t))
                .unwrap()
                .is_none()
        );
        let late = t + BUNDLE_TTL;
        assert!(
            s.with(&c, late, |x| x.take(&token, "cert.pem", late))
                .unwrap()
                .is_none(),
            "expired"
        );
        let f = OneTimeFile {
            name: "private.key",
            contents: "SECRET".into(),
        };
        assert!(
            !format!("{f:?}").contains("SECRET"),
            "Debug hides the contents"
        );
    }

    #[test]
    fn secrets_compare() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", "a"));
    }
}
