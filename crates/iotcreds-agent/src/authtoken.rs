//! The tokens that protect the local endpoints.
//!
//! **Container tokens** (what `AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]` carries): one file per
//! token, readable only by the processes that may have the role (mode 0600 or 0640 with a
//! group). A file that exists is used as the administrator wrote it; a missing one is created
//! with 256 random bits (mode 0640: owner and group). Compared in constant time, by their
//! SHA-256 digests so that not even the length leaks.
//!
//! **IMDS session tokens** (`PUT /latest/api/token`): random, with a TTL, in a bounded table.
//! When the table is full the token closest to expiry is dropped (an SDK that held it asks for
//! a new one on its next 401), so a local flood cannot lock the legitimate clients out.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use base64::Engine as _;

/// Shortest token accepted from a file.
pub const MIN_TOKEN_LEN: usize = 16;

/// A token's SHA-256.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDigest(<redacted>)")
    }
}

impl TokenDigest {
    /// The digest of `token`.
    pub fn of(token: &[u8]) -> Self {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }

    /// Constant-time equality.
    pub fn matches(&self, other: &Self) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(&self.0, &other.0).is_ok()
    }
}

/// 32 random bytes, base64url without padding (43 characters).
pub fn random_token() -> Result<String, String> {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b)
        .map_err(|_| "the system random number generator failed".to_owned())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// Check a token read from a file: long enough, and only characters an HTTP header can carry
/// unchanged (visible ASCII).
fn check_token(token: &str, path: &Path) -> Result<(), String> {
    if token.len() < MIN_TOKEN_LEN {
        return Err(format!(
            "the token in {} is shorter than {MIN_TOKEN_LEN} characters",
            path.display()
        ));
    }
    if !token.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(format!(
            "the token in {} must be visible ASCII only (no spaces or control characters)",
            path.display()
        ));
    }
    Ok(())
}

/// Read the token in `path`, creating the file (0640) with a random token if it is missing.
/// A file others may read is refused.
pub fn load_or_create(path: &Path) -> Result<TokenDigest, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
            if meta.permissions().mode() & 0o007 != 0 {
                return Err(format!(
                    "the token file {} is accessible to every user; `chmod o-rwx` it",
                    path.display()
                ));
            }
            let token = text.trim_end_matches(['\r', '\n']);
            check_token(token, path)?;
            Ok(TokenDigest::of(token.as_bytes()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent()
                && !dir.as_os_str().is_empty()
                && !dir.exists()
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750));
            }
            let token = random_token()?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o640)
                .open(path)
                .map_err(|e| format!("creating the token file {}: {e}", path.display()))?;
            f.write_all(token.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
            Ok(TokenDigest::of(token.as_bytes()))
        }
        Err(e) => Err(format!("reading the token file {}: {e}", path.display())),
    }
}

/// Live IMDS session tokens.
#[derive(Debug)]
pub struct ImdsTokens {
    max: usize,
    live: HashMap<TokenDigest, u64>,
}

impl ImdsTokens {
    /// At most `max` live tokens.
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            live: HashMap::new(),
        }
    }

    /// Issue a token valid until `expires_at` (monotonic ms); returns it.
    pub fn issue(&mut self, now: u64, expires_at: u64) -> Result<String, String> {
        self.live.retain(|_, exp| *exp > now);
        while self.live.len() >= self.max {
            let Some(oldest) = self
                .live
                .iter()
                .min_by_key(|(_, exp)| **exp)
                .map(|(k, _)| *k)
            else {
                break;
            };
            self.live.remove(&oldest);
        }
        let token = random_token()?;
        self.live
            .insert(TokenDigest::of(token.as_bytes()), expires_at);
        Ok(token)
    }

    /// Whether `token` is live at `now`. The look-up is by digest: timing reveals nothing
    /// about any live token.
    pub fn check(&self, token: &[u8], now: u64) -> bool {
        self.live
            .get(&TokenDigest::of(token))
            .is_some_and(|exp| *exp > now)
    }

    /// Live tokens (for the metrics).
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// No live token.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_compare() {
        let a = TokenDigest::of(b"token-aaaaaaaaaaaaaaaa");
        assert!(a.matches(&TokenDigest::of(b"token-aaaaaaaaaaaaaaaa")));
        assert!(!a.matches(&TokenDigest::of(b"token-aaaaaaaaaaaaaaab")));
        assert!(!a.matches(&TokenDigest::of(b"")));
        assert!(!format!("{a:?}").contains(&hex::encode(a.0)));
    }

    #[test]
    fn token_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/token");
        let made = load_or_create(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 43);
        assert!(made.matches(&TokenDigest::of(text.as_bytes())));
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        // Read back as written (a trailing newline is not part of it).
        std::fs::write(&path, "administrator-chosen-token\n").unwrap();
        let read = load_or_create(&path).unwrap();
        assert!(read.matches(&TokenDigest::of(b"administrator-chosen-token")));
        std::fs::write(&path, "short").unwrap();
        assert!(load_or_create(&path).unwrap_err().contains("shorter"));
        std::fs::write(&path, "has a space in the middle").unwrap();
        assert!(load_or_create(&path).unwrap_err().contains("visible ASCII"));
        std::fs::write(&path, "administrator-chosen-token").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create(&path).unwrap_err().contains("every user"));
    }

    #[test]
    fn imds_table_is_bounded_and_expires() {
        let mut t = ImdsTokens::new(3);
        let a = t.issue(0, 100).unwrap();
        let b = t.issue(0, 300).unwrap();
        let c = t.issue(0, 200).unwrap();
        assert!(t.check(a.as_bytes(), 50));
        assert!(!t.check(a.as_bytes(), 100), "expired at its TTL");
        assert!(!t.check(b"made-up", 0));
        // Full: the one closest to expiry goes.
        let d = t.issue(10, 400).unwrap();
        assert_eq!(t.len(), 3);
        assert!(!t.check(a.as_bytes(), 10));
        assert!(
            t.check(b.as_bytes(), 10) && t.check(c.as_bytes(), 10) && t.check(d.as_bytes(), 10)
        );
        // A flood never grows the table.
        for i in 0..1000 {
            t.issue(20, 1000 + i).unwrap();
        }
        assert_eq!(t.len(), 3);
    }
}
