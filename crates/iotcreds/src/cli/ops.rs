//! Operations on the registry itself (not through the API): `iotcreds keys
//! rotate|list|revoke` and `iotcreds migrate`.
//!
//! These open the registry the server uses (`DATA/registry.db`, a `sqlite://` URL or a
//! `postgres://` URL) next to any running server: SQLite allows other processes in WAL mode,
//! and servers notice a change by polling the registry generation (SQLite) or by
//! `LISTEN/NOTIFY` (PostgreSQL), so a rotation takes effect everywhere within seconds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use iotcreds_server::registry_store::RegistryLocation;
use iotcreds_store::{Limits, Store};
use iotcreds_types::time_fmt;
use serde_json::json;

use super::config::DEFAULT_REGION;
use super::output::{Output, emit_with, render, table};

/// Which registry to open.
#[derive(Args, Debug, Clone)]
pub struct RegistryArgs {
    /// Data directory of the embedded default (its registry.db).
    #[arg(
        long,
        env = "IOTCREDS_DATA_DIR",
        default_value = "iotcreds-data",
        value_name = "DIR"
    )]
    data_dir: PathBuf,
    /// Registry URL: sqlite://PATH or postgres://... (instead of --data-dir).
    #[arg(long, env = "IOTCREDS_REGISTRY_URL", value_name = "URL")]
    registry_url: Option<String>,
}

impl RegistryArgs {
    fn location(&self) -> anyhow::Result<RegistryLocation> {
        let url = self.registry_url.as_deref().filter(|u| !u.is_empty());
        RegistryLocation::parse(url, &self.data_dir.join("registry.db"))
    }
}

fn require_file(path: &Path) -> anyhow::Result<()> {
    if path.is_file() {
        return Ok(());
    }
    anyhow::bail!(
        "no registry at {}: point --data-dir at the server's data directory or give --registry-url",
        path.display()
    )
}

/// Open an existing registry store (schema already current for PostgreSQL).
async fn open_store(args: &RegistryArgs) -> anyhow::Result<Arc<dyn Store>> {
    let location = args.location()?;
    if let RegistryLocation::Sqlite(path) = &location {
        require_file(path)?;
    }
    location
        .open(false)
        .await
        .context("run `iotcreds migrate` if the schema is behind")
}

fn now_ms() -> i64 {
    time_fmt::to_millis(time::OffsetDateTime::now_utc())
}

/// `iotcreds keys`.
#[derive(Args, Debug)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Add a new token-sealing key and retire the others: new credentials are sealed with it,
    /// credentials issued before stay valid until they expire.
    Rotate(RegistryArgs),
    /// List the token-sealing keys (ids and dates, never the key material).
    List(RegistryArgs),
    /// Emergency revocation: every credential sealed with key ID is refused at once by every
    /// server (its material is erased). If ID is the active key, a new one is rotated in first,
    /// so that issuing credentials goes on. Devices holding refused credentials must fetch new
    /// ones.
    Revoke(RevokeArgs),
}

/// `iotcreds keys revoke`.
#[derive(Args, Debug)]
struct RevokeArgs {
    /// The key id (`iotcreds keys list`; also the first two bytes of every access key id it
    /// issued).
    #[arg(value_name = "ID", value_parser = clap::value_parser!(u16).range(1..))]
    id: u16,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// The registry service on `reg`, refusing one no server has used (opening the service
/// bootstraps an empty registry; key operations must not).
async fn open_used_registry(reg: &RegistryArgs) -> anyhow::Result<iotcreds_registry::Registry> {
    let store = open_store(reg).await?;
    if store
        .sealing_keys()
        .await
        .context("reading the registry")?
        .is_empty()
    {
        anyhow::bail!(
            "the registry has never been used by a server (it has no sealing key yet): \
             start `iotcreds serve` on it first"
        );
    }
    // The region only shapes ARNs in memory; nothing region-specific is written.
    let (registry, _) = iotcreds_registry::open(store, DEFAULT_REGION, now_ms())
        .await
        .context("opening the registry")?;
    Ok(registry)
}

/// Run `iotcreds keys …`.
pub async fn keys(args: KeysArgs, out: Output) -> anyhow::Result<()> {
    match args.command {
        KeysCommand::Rotate(reg) => {
            let registry = open_used_registry(&reg).await?;
            let now = now_ms();
            let previous = registry.keyring().active_id();
            let id = registry
                .rotate_keys(now)
                .await
                .context("rotating the token-sealing key")?;
            let v = json!({
                "activeKeyId": id,
                "previousKeyId": previous,
                "keyIds": registry.keyring().ids(),
            });
            emit_with(out, &v, |_| {
                format!(
                    "Token-sealing key {id} is now active{}.\nCredentials sealed with earlier keys \
                     stay valid until they expire; running servers switch within seconds.",
                    previous.map_or_else(String::new, |p| format!(" (was {p})"))
                )
            });
        }
        KeysCommand::List(reg) => {
            let store = open_store(&reg).await?;
            let keys = store.sealing_keys().await.context("reading the keys")?;
            let list: Vec<_> = keys
                .iter()
                .map(|k| {
                    json!({
                        "keyId": k.id,
                        "createdAt": time_fmt::iso8601_seconds(k.created_at),
                        "retiredAt": k.retired_at.map(time_fmt::iso8601_seconds),
                        "revokedAt": k.revoked_at.map(time_fmt::iso8601_seconds),
                        "active": k.retired_at.is_none() && k.revoked_at.is_none(),
                    })
                })
                .collect();
            let v = json!({ "keys": list });
            emit_with(out, &v, |_| {
                let mut rows = vec![vec![
                    "KEY".to_owned(),
                    "CREATED".to_owned(),
                    "RETIRED".to_owned(),
                    "REVOKED".to_owned(),
                ]];
                rows.extend(keys.iter().map(|k| {
                    vec![
                        k.id.to_string(),
                        time_fmt::iso8601_seconds(k.created_at),
                        k.retired_at
                            .map_or_else(|| "active".to_owned(), time_fmt::iso8601_seconds),
                        k.revoked_at
                            .map_or_else(|| "-".to_owned(), time_fmt::iso8601_seconds),
                    ]
                }));
                table(&rows)
            });
        }
        KeysCommand::Revoke(args) => {
            let registry = open_used_registry(&args.registry).await?;
            let done = match registry.revoke_key(args.id, now_ms()).await {
                Ok(done) => done,
                Err(iotcreds_store::StoreError::NotFound { .. }) => anyhow::bail!(
                    "there is no token-sealing key {} (see `iotcreds keys list`)",
                    args.id
                ),
                Err(e) => {
                    return Err(anyhow::Error::new(e).context("revoking the token-sealing key"));
                }
            };
            let v = json!({
                "revokedKeyId": done.id,
                "alreadyRevoked": done.already_revoked,
                "rotatedTo": done.rotated_to,
                "activeKeyId": done.active,
                "keyIds": registry.keyring().ids(),
            });
            emit_with(out, &v, |_| {
                let mut text = if done.already_revoked {
                    format!("Token-sealing key {} was already revoked.", done.id)
                } else {
                    format!(
                        "Token-sealing key {} is revoked: every credential it sealed is refused; \
                         running servers refuse them within a second.",
                        done.id
                    )
                };
                if let Some(new) = done.rotated_to {
                    text.push_str(&format!(
                        "\nIt was the active key: key {new} now seals new credentials."
                    ));
                }
                text
            });
        }
    }
    Ok(())
}

/// `iotcreds migrate`.
#[derive(Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Apply pending schema migrations and report which.
pub async fn migrate(args: MigrateArgs, out: Output) -> anyhow::Result<()> {
    match args.registry.location()? {
        RegistryLocation::Postgres(url) => {
            let applied = iotcreds_store_postgres::migrate(&url)
                .await
                .context("migrating the PostgreSQL registry")?;
            let v = json!({ "engine": "postgres", "applied": applied });
            emit_with(out, &v, |_| {
                if applied.is_empty() {
                    "The registry schema is up to date; nothing to apply.".to_owned()
                } else {
                    format!("Applied migrations: {applied:?}")
                }
            });
        }
        RegistryLocation::Sqlite(path) => {
            require_file(&path)?;
            // Opening a SQLite registry applies its pending migrations.
            iotcreds_store_sqlite::open(&path, Limits::default())
                .await
                .with_context(|| format!("migrating the SQLite registry {}", path.display()))?;
            let v = json!({ "engine": "sqlite", "path": path.display().to_string() });
            emit_with(out, &v, |v| {
                format!(
                    "The registry schema is up to date.\n{}",
                    render(v).trim_end()
                )
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(data_dir: &str, url: Option<&str>) -> RegistryArgs {
        RegistryArgs {
            data_dir: data_dir.into(),
            registry_url: url.map(str::to_owned),
        }
    }

    #[test]
    fn registry_locations() {
        assert_eq!(
            args("d", None).location().unwrap(),
            RegistryLocation::Sqlite("d/registry.db".into())
        );
        assert_eq!(
            args("d", Some("sqlite:///tmp/r.db")).location().unwrap(),
            RegistryLocation::Sqlite("/tmp/r.db".into())
        );
        assert_eq!(
            args("d", Some("postgres://u@h/db")).location().unwrap(),
            RegistryLocation::Postgres("postgres://u@h/db".into())
        );
        let err = args("d", Some("mysql://x")).location().unwrap_err();
        assert!(err.to_string().contains("sqlite://PATH or postgres://"));
    }

    #[test]
    fn a_missing_registry_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let reg = args(dir.path().to_str().unwrap(), None);
        let err = rt.block_on(open_store(&reg)).err().unwrap();
        assert!(err.to_string().contains("no registry at"), "{err}");
        assert!(!dir.path().join("registry.db").exists());
    }
}
