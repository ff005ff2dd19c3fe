//! The running agent: one refresher task per role alias (the only code that fetches), the
//! file watcher (identities and token files), the credentials-file writer, and the state the
//! local endpoints read.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use serde::Serialize;
use tokio::sync::{Notify, watch};

use crate::authtoken::{self, ImdsTokens, TokenDigest};
use crate::config::{AgentConfig, AliasConfig};
use crate::fetch::{Fetcher, load_roots, now_ms};
use crate::identity::{FileStamp, Identities, file_stamp};
use crate::schedule::{AliasState, Answer, Mono};
use crate::{credfile, metrics};

/// How long a request waits for a fetch in flight before it is answered 503.
pub const REQUEST_WAIT: Duration = Duration::from_secs(5);

/// One role alias and its state.
pub struct AliasSlot {
    /// Its configuration.
    pub config: AliasConfig,
    /// Its state.
    pub state: Mutex<AliasState>,
    changed: watch::Sender<u64>,
    kick: Notify,
    token_file: PathBuf,
    token: RwLock<(Option<FileStamp>, TokenDigest)>,
}

impl AliasSlot {
    /// Whether `presented` is this alias's token (constant time).
    pub fn token_matches(&self, presented: &TokenDigest) -> bool {
        self.token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .matches(presented)
    }
}

/// The agent.
pub struct Agent {
    /// The configuration.
    pub config: AgentConfig,
    started: tokio::time::Instant,
    /// The identities.
    pub identities: Arc<Identities>,
    fetcher: Fetcher,
    /// The role aliases, the default first.
    pub aliases: Vec<AliasSlot>,
    /// IMDS session tokens.
    pub imds_tokens: Mutex<ImdsTokens>,
    creds_changed: Notify,
    shutdown: watch::Sender<bool>,
}

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

fn rand01() -> f64 {
    let mut b = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

impl Agent {
    /// Check the configuration, load the identities and tokens. Nothing is fetched yet.
    pub fn new(
        config: AgentConfig,
        provider: Arc<CryptoProvider>,
    ) -> Result<Arc<Self>, StartError> {
        let roots = load_roots(config.ca.as_deref()).map_err(StartError)?;
        let identities = Arc::new(Identities::new(config.identities.clone(), provider.clone()));
        let reload = identities.reload(now_ms());
        let Some(current) = identities.current() else {
            let errors: Vec<String> = reload.errors.iter().map(|(_, e)| e.clone()).collect();
            return Err(StartError(format!(
                "no usable certificate and key: {}",
                errors.join("; ")
            )));
        };
        for (source, e) in &reload.errors {
            tracing::warn!(source = %source, error = %e, "an identity could not be loaded; using the others");
        }
        tracing::info!(certificate_id = %current.info.id, source = %current.source, "device identity loaded");
        metrics::certificate_not_after(current.info.not_after_ms as f64 / 1000.0);
        let fetcher = Fetcher::new(
            config.endpoints.clone(),
            roots,
            provider,
            config.connect_timeout,
            config.request_timeout,
        );
        let mut aliases = Vec::new();
        for a in &config.aliases {
            let path = config.token_file_of(a).to_owned();
            let digest = authtoken::load_or_create(&path).map_err(StartError)?;
            aliases.push(AliasSlot {
                config: a.clone(),
                state: Mutex::new(AliasState::default()),
                changed: watch::channel(0).0,
                kick: Notify::new(),
                token: RwLock::new((file_stamp(&path), digest)),
                token_file: path,
            });
        }
        Ok(Arc::new(Self {
            imds_tokens: Mutex::new(ImdsTokens::new(config.imds_max_tokens)),
            config,
            started: tokio::time::Instant::now(),
            identities,
            fetcher,
            aliases,
            creds_changed: Notify::new(),
            shutdown: watch::channel(false).0,
        }))
    }

    /// Monotonic ms since start.
    pub fn now(&self) -> Mono {
        self.started.elapsed().as_millis() as u64
    }

    fn instant(&self, at: Mono) -> tokio::time::Instant {
        self.started + Duration::from_millis(at)
    }

    /// The slot of `name`.
    pub fn alias(&self, name: &str) -> Option<&AliasSlot> {
        self.aliases.iter().find(|a| a.config.name == name)
    }

    /// The answer for a request: valid credentials, or why not, waiting up to
    /// [`REQUEST_WAIT`] for a fetch in flight.
    pub async fn answer(&self, slot: &AliasSlot) -> Answer {
        let deadline = tokio::time::Instant::now() + REQUEST_WAIT;
        let mut rx = slot.changed.subscribe();
        loop {
            let a = slot
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .answer(self.now(), &self.config.policy);
            if !matches!(a, Answer::Wait) {
                return a;
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return Answer::Unavailable {
                    reason: "no credentials yet: the first fetch is still in progress".into(),
                    class: None,
                };
            }
        }
    }

    /// Start the background tasks; they end when [`Agent::shutdown`] is called.
    pub fn spawn(self: &Arc<Self>) {
        for i in 0..self.aliases.len() {
            let me = self.clone();
            tokio::spawn(async move { me.refresher(i).await });
        }
        let me = self.clone();
        tokio::spawn(async move { me.watcher().await });
        if self.config.credentials_file.is_some() {
            let me = self.clone();
            tokio::spawn(async move { me.credentials_file_writer().await });
        }
    }

    /// Stop the background tasks.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// A shutdown signal receiver.
    pub fn on_shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Re-read files now and retry failed set-ups at once (SIGHUP).
    pub async fn reload_now(self: &Arc<Self>) {
        self.check_files().await;
        self.retry_all();
    }

    fn retry_all(&self) {
        let now = self.now();
        for slot in &self.aliases {
            slot.state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retry_now(now);
            slot.kick.notify_one();
        }
    }

    async fn refresher(self: Arc<Self>, i: usize) {
        let slot = &self.aliases[i];
        let name = slot.config.name.clone();
        let mut stop = self.on_shutdown();
        loop {
            let at = slot
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .next_attempt(self.now());
            tokio::select! {
                _ = tokio::time::sleep_until(self.instant(at)) => {}
                _ = slot.kick.notified() => continue,
                _ = stop.changed() => return,
            }
            {
                let mut st = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                if st.next_attempt(self.now()) > self.now() {
                    continue;
                }
                st.start();
            }
            slot.changed.send_modify(|n| *n += 1);
            let Some(identity) = self.identities.current() else {
                continue;
            };
            let result = self
                .fetcher
                .fetch(&identity, &name, slot.config.thing.as_deref())
                .await;
            let now = self.now();
            {
                let mut st = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                match result {
                    Ok(f) => {
                        tracing::info!(role_alias = %name, endpoint = %f.endpoint,
                            access_key_id = %f.creds.access_key_id, expiration = %f.creds.expiration,
                            "credentials refreshed");
                        metrics::refresh(&name, "success");
                        metrics::expiry(&name, f.creds.expiration_ms as f64 / 1000.0);
                        st.succeeded(
                            now,
                            now_ms(),
                            f.creds,
                            f.lifetime,
                            &self.config.policy,
                            rand01(),
                        );
                    }
                    Err(e) => {
                        let class = e.class();
                        st.failed(
                            now,
                            now_ms(),
                            class,
                            e.to_string(),
                            &self.config.policy,
                            rand01(),
                        );
                        let f = st.failure.as_ref().expect("just recorded");
                        let retry_in = f.retry_at.saturating_sub(now) / 1000;
                        let still_valid = st.valid(now, &self.config.policy).is_some();
                        tracing::warn!(role_alias = %name, error = %e, class = class.label(),
                            consecutive = f.consecutive, retry_in_secs = retry_in,
                            serving_cached = still_valid, "credentials refresh failed");
                        metrics::refresh(&name, class.label());
                    }
                }
            }
            slot.changed.send_modify(|n| *n += 1);
            self.creds_changed.notify_one();
        }
    }

    async fn check_files(self: &Arc<Self>) {
        let me = self.clone();
        let reload = tokio::task::spawn_blocking(move || me.identities.reload(now_ms()))
            .await
            .unwrap_or_default();
        for (source, e) in &reload.errors {
            tracing::warn!(source = %source, error = %e, "reloading an identity failed; keeping the one in use");
            metrics::identity_reload("error");
        }
        if let Some(new) = reload.changed {
            tracing::info!(certificate_id = %new.info.id, source = %new.source,
                "device identity changed; fetching with it from now on");
            metrics::identity_reload("changed");
            metrics::certificate_not_after(new.info.not_after_ms as f64 / 1000.0);
            self.retry_all();
        }
        for slot in &self.aliases {
            let stamp = file_stamp(&slot.token_file);
            if stamp == slot.token.read().unwrap_or_else(|e| e.into_inner()).0 {
                continue;
            }
            match authtoken::load_or_create(&slot.token_file) {
                Ok(d) => {
                    *slot.token.write().unwrap_or_else(|e| e.into_inner()) =
                        (file_stamp(&slot.token_file), d);
                    tracing::info!(role_alias = %slot.config.name, file = %slot.token_file.display(), "token file reloaded");
                }
                Err(e) => {
                    tracing::warn!(role_alias = %slot.config.name, error = %e, "token file unusable; keeping the previous token");
                    slot.token.write().unwrap_or_else(|e| e.into_inner()).0 = stamp;
                }
            }
        }
    }

    async fn watcher(self: Arc<Self>) {
        let mut stop = self.on_shutdown();
        let mut tick = tokio::time::interval(self.config.reload_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => self.check_files().await,
                _ = stop.changed() => return,
            }
        }
    }

    async fn credentials_file_writer(self: Arc<Self>) {
        let Some(path) = self.config.credentials_file.clone() else {
            return;
        };
        let mut stop = self.on_shutdown();
        let mut written: Vec<Option<String>> = vec![None; self.aliases.len()];
        loop {
            let held: Vec<_> = self
                .aliases
                .iter()
                .map(|s| {
                    s.state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .held
                        .as_ref()
                        .map(|h| h.creds.clone())
                })
                .collect();
            let now_keys: Vec<Option<String>> = held
                .iter()
                .map(|h| h.as_ref().map(|c| c.access_key_id.clone()))
                .collect();
            if now_keys != written && held.iter().all(Option::is_some) {
                let entries: Vec<(&str, &crate::creds::Credentials)> = self
                    .aliases
                    .iter()
                    .zip(held.iter())
                    .filter_map(|(s, h)| h.as_deref().map(|c| (s.config.name.as_str(), c)))
                    .collect();
                let text = credfile::render(&entries);
                let p = path.clone();
                match tokio::task::spawn_blocking(move || {
                    credfile::write_atomic(&p, text.as_bytes())
                })
                .await
                {
                    Ok(Ok(())) => {
                        tracing::info!(file = %path.display(), "credentials file written");
                        written = now_keys;
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(file = %path.display(), error = %e, "cannot write the credentials file")
                    }
                    Err(_) => {}
                }
            }
            tokio::select! {
                _ = self.creds_changed.notified() => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// What the agent holds, without secrets.
    pub fn status(&self) -> Status {
        let now = self.now();
        let identity = self.identities.current();
        Status {
            certificate: identity.as_ref().map(|i| CertStatus {
                certificate_id: i.info.id.clone(),
                subject: i.info.subject_dn.clone(),
                not_before: crate::creds::format_time_ms(i.info.not_before_ms),
                not_after: crate::creds::format_time_ms(i.info.not_after_ms),
                source: i.source.clone(),
            }),
            identity_errors: self
                .identities
                .errors()
                .into_iter()
                .map(|(source, error)| IdentityErrorStatus { source, error })
                .collect(),
            endpoints: self
                .fetcher
                .endpoints()
                .iter()
                .map(|e| e.to_string())
                .collect(),
            role_aliases: self
                .aliases
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let st = s.state.lock().unwrap_or_else(|e| e.into_inner());
                    let held = st.held.as_ref();
                    AliasStatus {
                        name: s.config.name.clone(),
                        thing: s.config.thing.clone(),
                        default: i == 0,
                        state: if st.valid(now, &self.config.policy).is_some() {
                            "valid"
                        } else if held.is_some() {
                            "expired"
                        } else if st.fetching {
                            "fetching"
                        } else {
                            "none"
                        },
                        access_key_id: held.map(|h| h.creds.access_key_id.clone()),
                        expiration: held.map(|h| h.creds.expiration.clone()),
                        last_updated: held.map(|h| crate::creds::format_time_ms(h.fetched_wall_ms)),
                        next_refresh_in_secs: Some(st.next_attempt(now).saturating_sub(now) / 1000)
                            .filter(|_| !st.fetching),
                        last_error: st.failure.as_ref().map(|f| ErrorStatus {
                            class: f.class.label(),
                            message: f.message.clone(),
                            at: crate::creds::format_time_ms(f.at_wall_ms),
                            consecutive: f.consecutive,
                        }),
                    }
                })
                .collect(),
        }
    }
}

/// `GET /status`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The certificate in use.
    pub certificate: Option<CertStatus>,
    /// Identity sources that currently fail to load.
    pub identity_errors: Vec<IdentityErrorStatus>,
    /// Credentials endpoints, in order.
    pub endpoints: Vec<String>,
    /// Each alias.
    pub role_aliases: Vec<AliasStatus>,
}

/// The certificate in use.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertStatus {
    /// SHA-256 of the DER.
    pub certificate_id: String,
    /// Subject DN.
    pub subject: String,
    /// notBefore.
    pub not_before: String,
    /// notAfter.
    pub not_after: String,
    /// Files or token.
    pub source: String,
}

/// A failing identity source.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityErrorStatus {
    /// The certificate file.
    pub source: String,
    /// Why.
    pub error: String,
}

/// One alias.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AliasStatus {
    /// Alias.
    pub name: String,
    /// Thing.
    pub thing: Option<String>,
    /// Served on the TES path and IMDS listing.
    pub default: bool,
    /// `valid`, `expired`, `fetching`, `none`.
    pub state: &'static str,
    /// Access key id of the held credentials (not a secret).
    pub access_key_id: Option<String>,
    /// Their expiration.
    pub expiration: Option<String>,
    /// When they were fetched.
    pub last_updated: Option<String>,
    /// Seconds until the next fetch.
    pub next_refresh_in_secs: Option<u64>,
    /// The last failure since the last success.
    pub last_error: Option<ErrorStatus>,
}

/// A failure.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorStatus {
    /// `refused` or `unavailable`.
    pub class: &'static str,
    /// What happened.
    pub message: String,
    /// When.
    pub at: String,
    /// In a row.
    pub consecutive: u32,
}
