//! Connection settings of the administration commands: endpoint, region and credentials.
//!
//! Precedence:
//! - endpoint: `--endpoint-url`, `IOTCREDS_ENDPOINT_URL`, `http://127.0.0.1:9000`;
//! - credentials: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) when
//!   both are set, else the `[default]` profile of `DATA/admin-credentials` (AWS
//!   shared-credentials format; refused when group or others can read it);
//! - region: `--region`, `IOTCREDS_REGION`, `AWS_REGION`, the credentials file's `region`,
//!   `us-east-1`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use iotcreds_token::Secret;

/// The default service endpoint.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:9000";
/// The region when nothing names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where the server is and who calls it (every administration command takes these).
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// Service endpoint of the server (S3, IoT, IAM, STS).
    #[arg(
        long,
        global = true,
        env = "IOTCREDS_ENDPOINT_URL",
        default_value = DEFAULT_ENDPOINT,
        value_name = "URL"
    )]
    pub endpoint_url: String,
    /// Region to sign for [default: $AWS_REGION, else the credentials file's, else us-east-1].
    #[arg(long, global = true, env = "IOTCREDS_REGION")]
    pub region: Option<String>,
    /// Data directory whose admin-credentials file is used unless AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY are set.
    #[arg(
        long,
        global = true,
        env = "IOTCREDS_DATA_DIR",
        default_value = "iotcreds-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// PEM bundle of CAs to trust for an https:// endpoint (instead of the system roots).
    #[arg(long, global = true, env = "IOTCREDS_CA_BUNDLE", value_name = "FILE")]
    pub ca_bundle: Option<PathBuf>,
}

/// Access key, secret and optional session token.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token of temporary credentials.
    pub session_token: Option<Secret>,
}

/// The effective connection settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--endpoint-url`.
    pub endpoint_url: String,
    /// The signing region.
    pub region: String,
    /// Who signs.
    pub credentials: Credentials,
    /// `--ca-bundle`.
    pub ca_bundle: Option<PathBuf>,
}

/// One profile of an AWS shared-credentials file.
#[derive(Debug, Clone)]
pub struct Profile {
    /// `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`.
    pub credentials: Credentials,
    /// `region`.
    pub region: Option<String>,
}

/// Parse `profile` out of an AWS shared-credentials (INI) text: `[name]` sections,
/// `key = value` lines, `#` and `;` comment lines. Keys are matched case-insensitively.
pub fn parse_credentials_file(text: &str, profile: &str) -> Result<Profile, String> {
    let mut in_profile = false;
    let mut seen_profile = false;
    let (mut akid, mut secret, mut token, mut region) = (None, None, None, None);
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| format!("line {}: unterminated section header", n + 1))?;
            in_profile = name.trim() == profile;
            seen_profile |= in_profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected `key = value`", n + 1))?;
        let value = value.trim().to_owned();
        match key.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => akid = Some(value),
            "aws_secret_access_key" => secret = Some(value),
            "aws_session_token" => token = Some(value),
            "region" => region = Some(value),
            _ => {}
        }
    }
    if !seen_profile {
        return Err(format!("no [{profile}] profile"));
    }
    let akid = akid
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("[{profile}] has no aws_access_key_id"))?;
    let secret = secret
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("[{profile}] has no aws_secret_access_key"))?;
    Ok(Profile {
        credentials: Credentials {
            access_key_id: akid,
            secret_access_key: Secret::new(secret),
            session_token: token.filter(|t| !t.is_empty()).map(Secret::new),
        },
        region: region.filter(|r| !r.is_empty()),
    })
}

/// Read the `[default]` profile of a credentials file, refusing one that group or others can
/// read.
pub fn read_credentials_file(path: &Path) -> anyhow::Result<Profile> {
    let text = iotcreds_server::data_dir::read_secret_file(path)
        .with_context(|| format!("reading the credentials file {}", path.display()))?;
    parse_credentials_file(&text, "default")
        .map_err(|e| anyhow::anyhow!("credentials file {}: {e}", path.display()))
}

/// Resolve the settings; `env` looks environment variables up (a parameter for tests).
pub fn resolve(
    args: &ClientArgs,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Settings> {
    let env = |k: &str| env(k).filter(|v| !v.is_empty());
    let file = args.data_dir.join("admin-credentials");
    let from_env = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(akid), Some(secret)) => Some(Credentials {
            access_key_id: akid,
            secret_access_key: Secret::new(secret),
            session_token: env("AWS_SESSION_TOKEN").map(Secret::new),
        }),
        _ => None,
    };
    let (credentials, file_region) = match from_env {
        Some(c) => {
            // The file may still name the region; it is optional here.
            let region = file
                .exists()
                .then(|| read_credentials_file(&file).ok())
                .flatten()
                .and_then(|p| p.region);
            (c, region)
        }
        None => {
            let profile = read_credentials_file(&file).with_context(|| {
                format!(
                    "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or point \
                     --data-dir (IOTCREDS_DATA_DIR) at the server's data directory (now {})",
                    args.data_dir.display()
                )
            })?;
            (profile.credentials, profile.region)
        }
    };
    let region = args
        .region
        .clone()
        .filter(|r| !r.is_empty())
        .or_else(|| env("AWS_REGION"))
        .or(file_region)
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    Ok(Settings {
        endpoint_url: args.endpoint_url.clone(),
        region,
        credentials,
        ca_bundle: args.ca_bundle.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const FILE: &str = "# iotcreds root credentials\n[other]\naws_access_key_id = AKIAOTHER\n\
                        aws_secret_access_key = nope\n\n[default]\naws_access_key_id = AKIAEXAMPLE\n\
                        AWS_Secret_Access_Key=wJalr/K7+x=\n; comment\nregion = ap-northeast-1\n";

    #[test]
    fn parses_the_default_profile() {
        let p = parse_credentials_file(FILE, "default").unwrap();
        assert_eq!(p.credentials.access_key_id, "AKIAEXAMPLE");
        assert_eq!(p.credentials.secret_access_key.expose(), "wJalr/K7+x=");
        assert!(p.credentials.session_token.is_none());
        assert_eq!(p.region.as_deref(), Some("ap-northeast-1"));
        let o = parse_credentials_file(FILE, "other").unwrap();
        assert_eq!(o.credentials.access_key_id, "AKIAOTHER");
        assert_eq!(o.region, None);
        // Debug never shows the secret.
        assert!(!format!("{p:?}").contains("wJalr"));
    }

    #[test]
    fn rejects_incomplete_files() {
        assert_eq!(
            parse_credentials_file("[x]\n", "default").unwrap_err(),
            "no [default] profile"
        );
        assert_eq!(
            parse_credentials_file("[default]\naws_access_key_id = A\n", "default").unwrap_err(),
            "[default] has no aws_secret_access_key"
        );
        assert_eq!(
            parse_credentials_file("[default]\naws_secret_access_key = s\n", "default")
                .unwrap_err(),
            "[default] has no aws_access_key_id"
        );
        assert!(
            parse_credentials_file("[default\n", "default")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(
            parse_credentials_file("[default]\njunk\n", "default")
                .unwrap_err()
                .contains("line 2")
        );
    }

    fn args(dir: &Path, region: Option<&str>) -> ClientArgs {
        ClientArgs {
            endpoint_url: DEFAULT_ENDPOINT.into(),
            region: region.map(str::to_owned),
            data_dir: dir.to_owned(),
            ca_bundle: None,
        }
    }

    #[test]
    fn file_credentials_and_region_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-credentials");
        std::fs::write(&path, FILE).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let none = |_: &str| None;
        let s = resolve(&args(dir.path(), None), none).unwrap();
        assert_eq!(s.credentials.access_key_id, "AKIAEXAMPLE");
        assert_eq!(s.region, "ap-northeast-1");
        let s = resolve(&args(dir.path(), Some("eu-west-1")), none).unwrap();
        assert_eq!(s.region, "eu-west-1");
        let aws_region = |k: &str| (k == "AWS_REGION").then(|| "us-west-2".to_owned());
        assert_eq!(
            resolve(&args(dir.path(), None), aws_region).unwrap().region,
            "us-west-2"
        );
        // Environment credentials win over the file.
        let env = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("ASIAENV".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("envsecret".to_owned()),
            "AWS_SESSION_TOKEN" => Some("tok".to_owned()),
            _ => None,
        };
        let s = resolve(&args(dir.path(), None), env).unwrap();
        assert_eq!(s.credentials.access_key_id, "ASIAENV");
        assert_eq!(
            s.credentials.session_token.as_ref().map(Secret::expose),
            Some("tok")
        );
        assert_eq!(s.region, "ap-northeast-1");
    }

    #[test]
    fn refuses_a_readable_file_and_explains_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-credentials");
        std::fs::write(&path, FILE).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = format!(
            "{:#}",
            resolve(&args(dir.path(), None), |_| None).unwrap_err()
        );
        assert!(err.contains("readable by group or others"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = format!(
            "{:#}",
            resolve(&args(empty.path(), None), |_| None).unwrap_err()
        );
        assert!(err.contains("no credentials"), "{err}");
        // Environment credentials need no file, and the region falls back to us-east-1.
        let env = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKIAENV".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("s".to_owned()),
            _ => None,
        };
        let s = resolve(&args(empty.path(), None), env).unwrap();
        assert_eq!(s.region, DEFAULT_REGION);
    }
}
