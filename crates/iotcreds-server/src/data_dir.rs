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
//!
//! The directory itself must be private (mode 0700, as created): a server refuses to start on
//! one that group or others may enter, and says how to fix it. What is inside is written
//! owner-only whatever the umask (directories 0700; objects, registry, keys and credentials
//! 0600); only the two public certificates are 0644.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// An open, locked data directory.
pub struct DataDir {
    root: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Create (mode 0700) and lock the directory; fails if another process holds the lock, or
    /// if group or others have any access to it (the message says how to fix that).
    pub fn open(root: &Path) -> io::Result<Self> {
        DirBuilder::new().recursive(true).mode(0o700).create(root)?;
        check_private(root)?;
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
        DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        write_if_changed(&dir.join("credentials.key"), key_pem.as_bytes(), 0o600)?;
        write_if_changed(&dir.join("credentials.pem"), chain_pem.as_bytes(), 0o644)
    }
}

/// Refuse a data directory that group or others may read, write or enter.
fn check_private(root: &Path) -> io::Result<()> {
    let mode = std::fs::metadata(root)?.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the data directory {dir} is accessible by group or others (mode {mode:04o}); \
                 it holds the registry, private keys and objects: run `chmod 700 {dir}`",
                dir = root.display()
            ),
        ));
    }
    Ok(())
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
        d.write_credentials_tls("chain", "key").unwrap();
        let mode_of = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode_of(&root), 0o700);
        assert_eq!(mode_of(&root.join("tls")), 0o700);
        assert_eq!(mode_of(&root.join("tls/credentials.key")), 0o600);
        assert_eq!(mode_of(&root.join("iotcreds.lock")), 0o600);
        drop(d);
        assert!(DataDir::open(&root).is_ok());
    }

    #[test]
    fn a_directory_open_to_group_or_others_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o755, 0o750, 0o701, 0o710, 0o702] {
            let root = dir.path().join(format!("data-{mode:o}"));
            std::fs::create_dir(&root).unwrap();
            std::fs::set_permissions(&root, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = DataDir::open(&root).err().expect("refused");
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("chmod 700 {}", root.display())),
                "{msg}"
            );
            assert!(msg.contains(&format!("{mode:04o}")), "{msg}");
            // Refused before anything was written into it, and its mode was left alone.
            assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
            let now = std::fs::metadata(&root).unwrap().permissions().mode() & 0o777;
            assert_eq!(now, mode);
            std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
            assert!(DataDir::open(&root).is_ok());
        }
    }
}
