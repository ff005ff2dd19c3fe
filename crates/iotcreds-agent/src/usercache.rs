//! The per-user cache of `iotcreds device credentials` (a `credential_process`): aws-cli runs
//! the helper for every command, so without a cache each command would cost an issuance.
//!
//! The cache is a file in a directory that belongs to the user (`$XDG_CACHE_HOME/iotcreds`,
//! else `~/.cache/iotcreds`, mode 0700), one file per endpoint, certificate, alias and thing,
//! mode 0600. It is used only while it is a regular file owned by the user, readable by no one
//! else, in such a directory, and while the credentials have at least [`MIN_REMAINING`] left;
//! otherwise it is ignored (and replaced after the next fetch).

use std::io::Read as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::creds::Credentials;

/// Credentials with less than this left are fetched anew.
pub const MIN_REMAINING: Duration = Duration::from_secs(300);

/// `$XDG_CACHE_HOME/iotcreds`, else `$HOME/.cache/iotcreds`.
pub fn default_dir(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(x) = env("XDG_CACHE_HOME").filter(|x| x.starts_with('/')) {
        return Some(Path::new(&x).join("iotcreds"));
    }
    env("HOME")
        .filter(|h| h.starts_with('/'))
        .map(|h| Path::new(&h).join(".cache").join("iotcreds"))
}

/// The cache file for one (endpoints, certificate, alias, thing).
pub fn file_for(
    dir: &Path,
    endpoints: &str,
    cert: &Path,
    alias: &str,
    thing: Option<&str>,
) -> PathBuf {
    let key = format!(
        "{endpoints}\n{}\n{alias}\n{}",
        cert.display(),
        thing.unwrap_or("")
    );
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    dir.join(format!(
        "credentials-{alias}-{}.json",
        hex::encode(&d.as_ref()[..8])
    ))
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Whether `dir` is the user's own and nobody else may write in it.
fn dir_is_private(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == euid() && m.mode() & 0o022 == 0)
}

/// The cached credentials, if the file is trustworthy and they have long enough left.
pub fn read(path: &Path, now_ms: i64) -> Option<Credentials> {
    if !path.parent().is_some_and(dir_is_private) {
        return None;
    }
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .ok()?;
    let m = f.metadata().ok()?;
    if !m.is_file() || m.uid() != euid() || m.mode() & 0o077 != 0 || m.len() > 64 * 1024 {
        return None;
    }
    let mut body = Vec::new();
    f.read_to_end(&mut body).ok()?;
    let c = Credentials::from_endpoint_json(&body).ok()?;
    (c.expiration_ms - now_ms > MIN_REMAINING.as_millis() as i64).then_some(c)
}

/// Store `creds` (atomically, 0600), creating the directory (0700) if needed. A directory
/// that is not the user's own is left alone.
pub fn write(path: &Path, creds: &Credentials) -> Result<(), String> {
    let dir = path.parent().ok_or("no directory")?;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    if !dir_is_private(dir) {
        return Err(format!(
            "{} is not a directory only you can write to; not caching credentials there",
            dir.display()
        ));
    }
    crate::credfile::write_atomic(path, creds.endpoint_json().as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::creds::Secret;
    use std::os::unix::fs::PermissionsExt as _;

    fn creds(exp_ms: i64) -> Credentials {
        Credentials {
            access_key_id: "ASIA1".into(),
            secret_access_key: Secret::new("s".into()),
            session_token: Secret::new("t".into()),
            expiration: crate::creds::format_time_ms(exp_ms),
            expiration_ms: exp_ms,
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("iotcreds");
        let path = file_for(&dir, "h:1", Path::new("/c.pem"), "A", Some("T"));
        assert_ne!(
            path,
            file_for(&dir, "h:1", Path::new("/c.pem"), "A", Some("U"))
        );
        let now = 1_800_000_000_000;
        write(&path, &creds(now + 3_600_000)).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read(&path, now).unwrap().access_key_id, "ASIA1");
        // Nearly expired: not used.
        assert!(read(&path, now + 3_400_000).is_none());
        // Readable by others: not used.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read(&path, now).is_none());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        // A symlink: not followed.
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(read(&link, now).is_none());
        // A directory others may write to: neither read nor written.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(read(&path, now).is_none());
        assert!(write(&path, &creds(now)).is_err());
        // Garbage: not used.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(&path, "not json").unwrap();
        assert!(read(&path, now).is_none());
    }

    #[test]
    fn default_dirs() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/u".to_owned()),
            _ => None,
        };
        assert_eq!(
            default_dir(env),
            Some(PathBuf::from("/home/u/.cache/iotcreds"))
        );
        let env = |k: &str| match k {
            "XDG_CACHE_HOME" => Some("/x".to_owned()),
            _ => None,
        };
        assert_eq!(default_dir(env), Some(PathBuf::from("/x/iotcreds")));
        assert_eq!(default_dir(|_| None), None);
    }
}
