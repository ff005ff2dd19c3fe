//! Fetching the CRLs of registered CAs that have a `crlUrl` (an iotcreds extension, set with
//! `UpdateCACertificateRevocationConfig`), on a schedule, on every instance.
//!
//! Every `crl_refresh_secs` each instance GETs each such CA's CRL (plain HTTP, at most
//! `max_crl_bytes`, within [`DEADLINE`]), checks it exactly as `ImportCACertificateCrl` does
//! (`iotcreds_pki::crl::verify`: the CA's name and key, `thisUpdate` not in the future,
//! `nextUpdate` not past) and stores it unless the registry already holds it or a newer one.
//! A fetch that fails, and a CA whose stored CRL's `nextUpdate` falls before the next refresh,
//! is tried again every `crl_retry_secs`, so a CRL replaced at its `nextUpdate` is picked up
//! within that time. A CRL that fails the checks changes nothing: the stored one stays, and once
//! it is past its `nextUpdate` the CA's devices are refused (fail closed), as with imports.
//! Instances fetching the same CRL store it once; a CRL older than the stored one is refused by
//! the store (a replayed CRL cannot un-revoke).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use iotcreds_pki::crl;
use iotcreds_registry::Registry;
use iotcreds_store::{CaCertificate, CaCrl, PageRequest, StoreError};
use tokio_util::sync::CancellationToken;

use crate::config::RevocationConfig;
use crate::net::fetch::Fetcher;

/// The deadline of one fetch.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// What one fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A CRL newer than the stored one (or the first) was stored.
    Imported { revoked: usize },
    /// The registry already holds this CRL.
    Unchanged,
}

/// The schedule of one CA.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    at_ms: i64,
    ok: bool,
}

/// Fetch until `shutdown`.
pub async fn run(
    registry: Arc<Registry>,
    settings: RevocationConfig,
    now_ms: fn() -> i64,
    shutdown: CancellationToken,
) {
    let fetcher = Fetcher::new();
    let mut attempts: HashMap<String, Attempt> = HashMap::new();
    let tick = settings
        .crl_refresh_secs
        .min(settings.crl_retry_secs)
        .clamp(1, 30);
    let mut ticker = tokio::time::interval(Duration::from_secs(tick));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let imported = metrics::counter!("iotcreds_crl_fetches_total", "outcome" => "imported");
    let unchanged = metrics::counter!("iotcreds_crl_fetches_total", "outcome" => "unchanged");
    let failed = metrics::counter!("iotcreds_crl_fetches_total", "outcome" => "failed");
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let cas = match with_crl_urls(&registry).await {
            Ok(cas) => cas,
            Err(e) => {
                tracing::warn!(error = %e, "could not list CA certificates to fetch their CRLs");
                continue;
            }
        };
        attempts.retain(|id, _| cas.iter().any(|ca| &ca.id == id));
        for ca in cas {
            let now = now_ms();
            if !due(&ca, attempts.get(&ca.id).copied(), now, &settings) {
                continue;
            }
            let result = fetch(&registry, &fetcher, &ca, settings.max_crl_bytes, now).await;
            let ok = result.is_ok();
            match result {
                Ok(Fetched::Imported { revoked }) => {
                    imported.increment(1);
                    tracing::info!(
                        ca_certificate_id = ca.id.as_str(),
                        revoked,
                        "fetched and imported a CA certificate revocation list"
                    );
                }
                Ok(Fetched::Unchanged) => unchanged.increment(1),
                Err(reason) => {
                    failed.increment(1);
                    tracing::warn!(
                        ca_certificate_id = ca.id.as_str(),
                        reason = reason.as_str(),
                        "could not fetch a CA certificate revocation list"
                    );
                }
            }
            attempts.insert(ca.id.clone(), Attempt { at_ms: now, ok });
        }
    }
}

/// Every registered CA with a `crlUrl`.
async fn with_crl_urls(registry: &Registry) -> Result<Vec<CaCertificate>, StoreError> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(250);
    loop {
        let got = registry.store().list_ca_certificates(&page).await?;
        out.extend(
            got.items
                .into_iter()
                .filter(|ca| ca.revocation.crl_url.is_some()),
        );
        match got.next_marker {
            Some(marker) => page.marker = Some(marker),
            None => return Ok(out),
        }
    }
}

/// Whether `ca`'s CRL should be fetched at `now_ms`, given the last attempt.
fn due(ca: &CaCertificate, last: Option<Attempt>, now_ms: i64, s: &RevocationConfig) -> bool {
    let Some(last) = last else { return true };
    let refresh_ms = i64::try_from(s.crl_refresh_secs).unwrap_or(i64::MAX / 2_000) * 1000;
    let retry_ms = i64::try_from(s.crl_retry_secs).unwrap_or(i64::MAX / 2_000) * 1000;
    let expiring = ca
        .crl
        .as_ref()
        .is_none_or(|c| c.next_update.is_some_and(|n| n <= now_ms + refresh_ms));
    let wait = if last.ok && !expiring {
        refresh_ms
    } else {
        retry_ms.min(refresh_ms)
    };
    now_ms >= last.at_ms.saturating_add(wait)
}

/// Fetch, check and store `ca`'s CRL.
pub async fn fetch(
    registry: &Registry,
    fetcher: &Fetcher,
    ca: &CaCertificate,
    max_bytes: usize,
    now_ms: i64,
) -> Result<Fetched, String> {
    let url = ca.revocation.crl_url.as_deref().ok_or("no crlUrl")?;
    let req = Request::get(url)
        .header(http::header::ACCEPT, "application/pkix-crl")
        .body(Full::new(Bytes::new()))
        .map_err(|_| "the crlUrl is not a valid URL".to_owned())?;
    let body = fetcher
        .send(req, max_bytes, DEADLINE)
        .await
        .map_err(|e| e.to_string())?;
    let der = crl::crl_der(&body).map_err(|e| e.to_string())?;
    let ca_der = iotcreds_pki::pem_to_der(&ca.pem).map_err(|e| e.to_string())?;
    let verified = crl::verify(&der, &ca_der, now_ms).map_err(|e| e.to_string())?;
    let row = CaCrl {
        der: verified.der,
        this_update: verified.this_update_ms,
        number: verified.number,
        next_update: verified.next_update_ms,
        revoked_serials: verified.revoked_serials,
        imported_at: now_ms,
    };
    if let Some(stored) = &ca.crl {
        if stored.der == row.der {
            return Ok(Fetched::Unchanged);
        }
        if !row.supersedes(stored) {
            return Err(
                "the CRL served is older than the one imported (by its cRLNumber or thisUpdate); kept the imported one"
                    .into(),
            );
        }
    }
    let revoked = row.revoked_serials.len();
    match registry
        .mutate(registry.store().set_ca_crl(&ca.id, Some(&row)))
        .await
    {
        Ok(_) => Ok(Fetched::Imported { revoked }),
        // Another instance stored a newer one meanwhile.
        Err(StoreError::Conflict { .. }) => Ok(Fetched::Unchanged),
        Err(e) => Err(format!("storing it failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(next_update: Option<Option<i64>>) -> CaCertificate {
        let mut ca = iotcreds_store_fixture();
        ca.crl = next_update.map(|next_update| CaCrl {
            der: vec![0x30, 0x00],
            this_update: 0,
            number: None,
            next_update,
            revoked_serials: Default::default(),
            imported_at: 0,
        });
        ca
    }

    fn iotcreds_store_fixture() -> CaCertificate {
        CaCertificate {
            id: "ab".repeat(32),
            pem: String::new(),
            status: iotcreds_types::CaCertificateStatus::Active,
            auto_registration: iotcreds_types::AutoRegistrationStatus::Disable,
            mode: iotcreds_types::CertificateMode::Default,
            subject: "CN=ADCTestFleetCA".into(),
            not_before: 0,
            not_after: i64::MAX,
            created_at: 0,
            modified_at: 0,
            customer_version: 1,
            generation_id: "g".into(),
            owned_by: "123456789012".into(),
            crl: None,
            revocation: Default::default(),
        }
    }

    #[test]
    fn the_schedule() {
        let s = RevocationConfig {
            crl_refresh_secs: 3_600,
            crl_retry_secs: 60,
            ..RevocationConfig::default()
        };
        let hour = 3_600_000;
        let ok = |at_ms| Some(Attempt { at_ms, ok: true });
        let failed = |at_ms| Some(Attempt { at_ms, ok: false });
        // Never tried: now.
        assert!(due(&ca(None), None, 0, &s));
        // Fetched, CRL good for a day: again after the refresh period.
        let fresh = ca(Some(Some(24 * hour)));
        assert!(!due(&fresh, ok(0), hour - 1, &s));
        assert!(due(&fresh, ok(0), hour, &s));
        // Without nextUpdate the CRL does not expire.
        assert!(!due(&ca(Some(None)), ok(0), hour - 1, &s));
        // Failed: again after the retry period.
        assert!(!due(&fresh, failed(0), 59_999, &s));
        assert!(due(&fresh, failed(0), 60_000, &s));
        // Fetched, but the CRL's nextUpdate comes before the next refresh: every retry period.
        let expiring = ca(Some(Some(30 * 60_000)));
        assert!(due(&expiring, ok(0), 60_000, &s));
        // Fetched but nothing stored yet (for example, what was served was out of date).
        assert!(due(&ca(None), ok(0), 60_000, &s));
    }
}
