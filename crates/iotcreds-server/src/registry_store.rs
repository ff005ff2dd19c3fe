//! Where the registry lives and how to open it: the one place that turns a `registry_url`
//! (or the data directory's default) into a store, shared by `iotcreds serve` and the
//! operations commands (`iotcreds keys`, `iotcreds migrate`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use iotcreds_store::{Limits, Store};

/// A registry location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryLocation {
    /// A SQLite file (the embedded default: `DATA/registry.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl RegistryLocation {
    /// `url` if given (`sqlite://PATH`, `sqlite:PATH`, `postgres://…`, `postgresql://…`), else
    /// the SQLite file `default_sqlite`.
    pub fn parse(url: Option<&str>, default_sqlite: &Path) -> anyhow::Result<Self> {
        match url {
            None => Ok(Self::Sqlite(default_sqlite.to_owned())),
            Some(u) if u.starts_with("sqlite:") => Ok(Self::Sqlite(PathBuf::from(
                u.trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:"),
            ))),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(Self::Postgres(u.to_owned()))
            }
            Some(_) => anyhow::bail!(
                "registry URL must be sqlite://PATH or postgres://USER@HOST/DB (engines: sqlite, postgres)"
            ),
        }
    }

    /// Open the store. SQLite files are created and migrated; PostgreSQL databases are
    /// migrated only when `migrate` is set (otherwise a database whose schema is behind is
    /// refused with a hint to run `iotcreds migrate`).
    pub async fn open(&self, migrate: bool) -> anyhow::Result<Arc<dyn Store>> {
        let limits = Limits::default();
        match self {
            Self::Sqlite(path) => {
                let store = iotcreds_store_sqlite::open(path, limits)
                    .await
                    .with_context(|| format!("opening the SQLite registry {}", path.display()))?;
                Ok(Arc::new(store))
            }
            Self::Postgres(url) => {
                let options = iotcreds_store_postgres::PgOptions {
                    migrate,
                    ..Default::default()
                };
                let store = iotcreds_store_postgres::open(url, limits, options)
                    .await
                    .context("opening the PostgreSQL registry (check registry_url)")?;
                Ok(Arc::new(store))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let d = Path::new("/d/registry.db");
        assert_eq!(
            RegistryLocation::parse(None, d).unwrap(),
            RegistryLocation::Sqlite(d.into())
        );
        assert_eq!(
            RegistryLocation::parse(Some("sqlite:///tmp/r.db"), d).unwrap(),
            RegistryLocation::Sqlite("/tmp/r.db".into())
        );
        assert_eq!(
            RegistryLocation::parse(Some("sqlite:r.db"), d).unwrap(),
            RegistryLocation::Sqlite("r.db".into())
        );
        assert_eq!(
            RegistryLocation::parse(Some("postgres://u@h/db"), d).unwrap(),
            RegistryLocation::Postgres("postgres://u@h/db".into())
        );
        let err = RegistryLocation::parse(Some("mysql://x"), d).unwrap_err();
        assert!(err.to_string().contains("engines: sqlite, postgres"));
    }
}
