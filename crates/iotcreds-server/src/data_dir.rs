//! The data directory: what the embedded default keeps on disk, and the files operators and
//! devices read.
//!
//! ```text
//! DATA/
//!   iotcreds.lock        held (flock) while a server uses the directory
//!   registry.db          the SQLite registry (+ -wal, -shm), unless registry_url says otherwise
//!   objects/             the file-system object store
//!   root-ca.pem          the built-in CA certificate: what devices trust (0644)
//!   admin-credentials    the account's root access key, AWS shared-credentials format (0600)
//!   tls/credentials.pem  the credentials endpoint's server certificate chain (0644)
//!   tls/credentials.key  its private key (0600)
//! ```
//!
//! Files are written to a temporary name with their final mode and renamed into place, so a
//! reader never sees half a file and a secret is never briefly world-readable.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// An open, locked data directory.
pub struct DataDir {
    root: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Create (mode 0700) and lock the directory; fails if another process holds the lock.
    pub fn open(root: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(root)?;
        let meta = std::fs::metadata(root)?;
        if meta.permissions().mode() & 0o077 != 0 && meta.permissions().mode() & 0o7777 == 0o755 {
            // Tighten a fresh default-mode directory; leave deliberate operator choices alone.
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))?;
        }
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(root.join("iotcreds.lock"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "data directory {} is in use by another iotcreds process",
                        root.display()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        Ok(Self {
            root: root.to_owned(),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `DATA/registry.db`.
    pub fn registry_path(&self) -> PathBuf {
        self.root.join("registry.db")
    }

    /// `DATA/objects`.
    pub fn objects_dir(&self) -> PathBuf {
        self.root.join("objects")
    }

    /// `DATA/root-ca.pem`.
    pub fn root_ca_path(&self) -> PathBuf {
        self.root.join("root-ca.pem")
    }

    /// `DATA/admin-credentials`.
    pub fn admin_credentials_path(&self) -> PathBuf {
        self.root.join("admin-credentials")
    }

    /// Write `DATA/root-ca.pem` if it differs.
    pub fn write_root_ca(&self, pem: &str) -> io::Result<()> {
        write_if_changed(&self.root_ca_path(), pem.as_bytes(), 0o644)
    }

    /// Write `DATA/admin-credentials` (mode 0600) in AWS shared-credentials format.
    pub fn write_admin_credentials(
        &self,
        access_key_id: &str,
        secret: &str,
        region: &str,
    ) -> io::Result<()> {
        let text = format!(
            "# iotcreds root credentials: full rights on this account. Keep this file secret.\n\
             [default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret}\nregion = {region}\n"
        );
        write_if_changed(&self.admin_credentials_path(), text.as_bytes(), 0o600)
    }

    /// The credentials endpoint's server certificate chain and key, if present.
    pub fn read_credentials_tls(&self) -> Option<(String, String)> {
        let dir = self.root.join("tls");
        let chain = std::fs::read_to_string(dir.join("credentials.pem")).ok()?;
        let key = std::fs::read_to_string(dir.join("credentials.key")).ok()?;
        Some((chain, key))
    }

    /// Store the credentials endpoint's server certificate chain (0644) and key (0600).
    pub fn write_credentials_tls(&self, chain_pem: &str, key_pem: &str) -> io::Result<()> {
        let dir = self.root.join("tls");
        std::fs::create_dir_all(&dir)?;
        write_if_changed(&dir.join("credentials.key"), key_pem.as_bytes(), 0o600)?;
        write_if_changed(&dir.join("credentials.pem"), chain_pem.as_bytes(), 0o644)
    }
}

/// Write `contents` to `path` with `mode` through a temporary file and a rename, unless the
/// file already holds exactly `contents` (then only the mode is enforced).
pub fn write_if_changed(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    if std::fs::read(path).is_ok_and(|c| c == contents) {
        return std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    {
        let mut f = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Read a secret file, refusing one that group or others can read.
pub fn read_secret_file(path: &Path) -> io::Result<String> {
    let meta = std::fs::metadata(path)?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is readable by group or others; chmod 600 it",
                path.display()
            ),
        ));
    }
    std::fs::read_to_string(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        let d = DataDir::open(&root).unwrap();
        let err = DataDir::open(&root).err().unwrap();
        assert!(err.to_string().contains("in use"), "{err}");
        d.write_admin_credentials("AKIAEXAMPLE", "secret", "us-east-1")
            .unwrap();
        let mode = std::fs::metadata(d.admin_credentials_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(d.admin_credentials_path()).unwrap();
        assert!(text.contains(
            "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n"
        ));
        assert!(read_secret_file(&d.admin_credentials_path()).is_ok());
        d.write_root_ca("pem").unwrap();
        assert!(read_secret_file(&d.root_ca_path()).is_err());
        drop(d);
        assert!(DataDir::open(&root).is_ok());
    }
}
