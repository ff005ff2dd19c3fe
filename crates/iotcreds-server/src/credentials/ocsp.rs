//! OCSP at issuance (an iotcreds extension; AWS IoT checks none) for the devices of CAs whose
//! revocation setting turns it on (`UpdateCACertificateRevocationConfig`).
//!
//! The responder asked is the CA's configured one, else the first `http://` OCSP responder
//! the device certificate's Authority Information Access names. The answer is checked by
//! [`iotcreds_pki::ocsp::verify_answer`] (signed by the CA or its delegated responder, about
//! this certificate, current). Each instance caches what it learnt, per certificate, until the
//! answer's `nextUpdate` (at most a day; an answer without `nextUpdate` is not cached), so a
//! device asking once a minute costs the responder one request per `nextUpdate` period.
//!
//! What an anonymous client costs: nothing. Only certificates the registry accepts, after the
//! issuance rate limits, reach this module. What a registered device costs: at most one
//! exchange of at most [`MAX_ANSWER_BYTES`] within [`DEADLINE`], with at most [`MAX_IN_FLIGHT`]
//! exchanges at once per instance; a responder that did not answer in time is not asked again
//! for [`DOWN_FOR_MS`], so an outage costs no waiting on every issuance.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::Full;
use iotcreds_pki::ocsp::{self, CertStatus};
use iotcreds_registry::CachedCertificate;
use iotcreds_store::CaCertificate;
use iotcreds_types::OcspMode;
use tokio::sync::Semaphore;

use crate::net::fetch::{FetchError, Fetcher};

/// How a timed-out exchange's error starts (the responder is then left alone for a while).
const TIMED_OUT: &str = "the responder did not answer in time";

/// The largest answer read (a basic response with a responder certificate is about 1 KiB).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The deadline of one exchange with a responder, waiting for a slot included.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// Exchanges at once per instance.
pub const MAX_IN_FLIGHT: usize = 32;
/// How long a responder that did not answer within [`DEADLINE`] is not asked again (one that
/// refuses connections or answers wrongly fails fast and is asked each time).
pub const DOWN_FOR_MS: i64 = 10_000;
/// The longest an answer is cached, whatever its `nextUpdate`.
const MAX_CACHE_MS: i64 = 86_400_000;
/// Certificates whose answers are cached at once.
const MAX_CACHED: usize = 100_000;
/// Responders remembered as down at once.
const MAX_DOWN: usize = 1_024;

/// What OCSP says of one issuance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// OCSP is off for the certificate's CA (or it has none).
    NotChecked,
    /// The responder says good (`cached`: this instance knew already).
    Good { cached: bool },
    /// The responder says revoked: refused, and the certificate is marked `REVOKED`.
    Revoked { cached: bool },
    /// The responder does not know the certificate: refused.
    Unknown,
    /// No answer could be had, and the CA fails open: issued, with this reason logged.
    FailedOpen(String),
    /// No answer could be had, and the CA fails closed: refused.
    Unavailable(String),
}

#[derive(Debug, Clone, Copy)]
struct Cached {
    revoked: bool,
    until_ms: i64,
}

/// The per-instance OCSP client and cache.
pub struct OcspChecker {
    fetcher: Fetcher,
    cache: Mutex<HashMap<String, Cached>>,
    down: Mutex<HashMap<String, i64>>,
    slots: Semaphore,
    checks: Vec<(&'static str, metrics::Counter)>,
}

impl Default for OcspChecker {
    fn default() -> Self {
        Self::new()
    }
}

impl OcspChecker {
    /// A checker with an empty cache.
    pub fn new() -> Self {
        Self {
            fetcher: Fetcher::new(),
            cache: Mutex::new(HashMap::new()),
            down: Mutex::new(HashMap::new()),
            slots: Semaphore::new(MAX_IN_FLIGHT),
            checks: ["good", "cached", "revoked", "unknown", "failed"]
                .into_iter()
                .map(|o| {
                    (
                        o,
                        metrics::counter!("iotcreds_ocsp_checks_total", "outcome" => o),
                    )
                })
                .collect(),
        }
    }

    fn count(&self, outcome: &str) {
        if let Some((_, c)) = self.checks.iter().find(|(o, _)| *o == outcome) {
            c.increment(1);
        }
    }

    /// Check `cert`, a device of `ca`, at `now_ms`.
    pub async fn check(
        &self,
        ca: &CaCertificate,
        cert: &CachedCertificate,
        now_ms: i64,
    ) -> Verdict {
        let mode = ca.revocation.ocsp;
        if mode == OcspMode::Off {
            return Verdict::NotChecked;
        }
        let id = &cert.cert.id;
        let cached = lock(&self.cache)
            .get(id)
            .copied()
            .filter(|c| c.until_ms > now_ms);
        if let Some(c) = cached {
            self.count("cached");
            return if c.revoked {
                Verdict::Revoked { cached: true }
            } else {
                Verdict::Good { cached: true }
            };
        }
        match self.ask(ca, cert, now_ms).await {
            Ok(answer) => {
                let until_ms = answer.next_update_ms.map(|n| n.min(now_ms + MAX_CACHE_MS));
                match answer.status {
                    CertStatus::Good => {
                        self.count("good");
                        self.remember(id, false, until_ms, now_ms);
                        Verdict::Good { cached: false }
                    }
                    CertStatus::Revoked { .. } => {
                        self.count("revoked");
                        self.remember(id, true, until_ms, now_ms);
                        Verdict::Revoked { cached: false }
                    }
                    CertStatus::Unknown => {
                        self.count("unknown");
                        Verdict::Unknown
                    }
                }
            }
            Err(reason) => {
                self.count("failed");
                let reason = format!("no OCSP answer: {reason}");
                match mode {
                    OcspMode::FailOpen => Verdict::FailedOpen(reason),
                    _ => Verdict::Unavailable(reason),
                }
            }
        }
    }

    fn remember(&self, id: &str, revoked: bool, until_ms: Option<i64>, now_ms: i64) {
        let Some(until_ms) = until_ms else { return };
        let mut cache = lock(&self.cache);
        if cache.len() >= MAX_CACHED && !cache.contains_key(id) {
            cache.retain(|_, c| c.until_ms > now_ms);
            if cache.len() >= MAX_CACHED {
                return;
            }
        }
        cache.insert(id.to_owned(), Cached { revoked, until_ms });
    }

    /// One exchange with the responder, or why there was none.
    async fn ask(
        &self,
        ca: &CaCertificate,
        cert: &CachedCertificate,
        now_ms: i64,
    ) -> Result<ocsp::OcspAnswer, String> {
        let cert_der = iotcreds_pki::pem_to_der(&cert.cert.pem).map_err(|e| e.to_string())?;
        let ca_der = iotcreds_pki::pem_to_der(&ca.pem).map_err(|e| e.to_string())?;
        let url = match &ca.revocation.ocsp_responder_url {
            Some(url) => url.clone(),
            None => ocsp::responder_urls(&cert_der)
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|u| u.starts_with("http://"))
                .ok_or("the certificate names no http:// OCSP responder and the CA has none configured")?,
        };
        if lock(&self.down)
            .get(&url)
            .is_some_and(|until| *until > now_ms)
        {
            return Err("the responder did not answer in time less than 10 s ago".into());
        }
        let request = ocsp::request(&cert_der, &ca_der).map_err(|e| e.to_string())?;
        let result = self
            .exchange(&url, request.der.clone())
            .await
            .and_then(|body| {
                ocsp::verify_answer(&body, &request, &ca_der, now_ms).map_err(|e| e.to_string())
            });
        if matches!(&result, Err(e) if e.starts_with(TIMED_OUT)) {
            let mut down = lock(&self.down);
            if down.len() >= MAX_DOWN {
                down.retain(|_, until| *until > now_ms);
            }
            if down.len() < MAX_DOWN {
                down.insert(url, now_ms + DOWN_FOR_MS);
            }
        }
        result
    }

    async fn exchange(&self, url: &str, der: Vec<u8>) -> Result<Bytes, String> {
        let _slot = tokio::time::timeout(DEADLINE, self.slots.acquire())
            .await
            .map_err(|_| "too many OCSP requests in flight".to_owned())?
            .map_err(|_| "closed".to_owned())?;
        let req = Request::post(url)
            .header(header::CONTENT_TYPE, "application/ocsp-request")
            .header(header::ACCEPT, "application/ocsp-response")
            .body(Full::new(Bytes::from(der)))
            .map_err(|_| "the responder URL is not valid".to_owned())?;
        self.fetcher
            .send(req, MAX_ANSWER_BYTES, DEADLINE)
            .await
            .map_err(|e| match e {
                FetchError::Timeout(_) => format!("{TIMED_OUT} ({e})"),
                e => e.to_string(),
            })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
