//! `--write-credentials-file`: an AWS shared-credentials file kept fresh for tools that only
//! read files. `[default]` holds the default role alias, and each alias also has a profile of
//! its own name. Written atomically (a 0600 temporary file in the same directory, fsync,
//! rename), so a reader sees the old file or the new one, never a part.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use crate::creds::Credentials;

/// The file's text for `(alias, credentials)` pairs, the default alias first.
pub fn render(entries: &[(&str, &Credentials)]) -> String {
    let mut out = String::from(
        "# Written by iotcreds device agent; replaced before the credentials expire. Do not edit.\n",
    );
    if let Some((_, c)) = entries.first() {
        out.push_str(&c.ini_section("default"));
    }
    for (alias, c) in entries {
        out.push('\n');
        out.push_str(&c.ini_section(alias));
    }
    out
}

/// Replace `path` with `contents` atomically, mode 0600.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::creds::Secret;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn renders_and_replaces_atomically() {
        let c = Credentials {
            access_key_id: "ASIA1".into(),
            secret_access_key: Secret::new("s1".into()),
            session_token: Secret::new("t1".into()),
            expiration: "2026-01-01T00:00:00Z".into(),
            expiration_ms: 0,
        };
        let text = render(&[("A", &c), ("B", &c)]);
        assert!(text.contains("[default]\naws_access_key_id = ASIA1\naws_secret_access_key = s1\naws_session_token = t1\n"));
        assert!(text.contains("\n[A]\n") && text.contains("\n[B]\n"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(write_atomic(&dir.path().join("missing/x"), b"x").is_err());
    }
}
