//! The agent's configuration: a TOML file (`--config`), overridden by command-line flags.
//!
//! ```toml
//! endpoints = ["creds1.example.com:8443", "creds2.example.com:8443"]  # fail over in order
//! ca = "/etc/iotcreds/root-ca.pem"        # else the system's CAs
//! token_file = "/run/iotcreds-agent/token"
//! account_id = "123456789012"             # optional: AccountId in the answers
//! credentials_file = "/var/lib/iotcreds-agent/credentials"   # optional
//!
//! [[identity]]                            # one or more; the newest valid certificate wins
//! cert = "/etc/iotcreds/device.pem"
//! key = "/etc/iotcreds/device.key"        # or "pkcs11:token=…;object=…?module-path=…&pin-source=…"
//!
//! [[role_alias]]                          # one or more; the first is the default
//! name = "ADCTestRoleAlias"
//! thing = "ADCTestThing"
//! token_file = "/run/iotcreds-agent/token-s3"   # optional: its own token
//!
//! [listen]
//! addresses = ["127.0.0.1", "::1"]
//! port = 8770                             # container protocol, TES path, status, metrics
//! imds_port = 8771                        # optional: IMDSv2 emulation
//! hosts = []                              # extra Host names accepted
//!
//! [refresh]                               # seconds
//! before_expiry_secs = 300
//! jitter_secs = 60
//! min_interval_secs = 60
//! client_error_backoff_secs = 120
//! server_error_backoff_secs = 15
//! max_backoff_secs = 900
//! connect_timeout_secs = 5
//! request_timeout_secs = 15
//! reload_interval_secs = 10
//!
//! [imds]
//! max_tokens = 256
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use iotcreds_types::names::{ROLE_ALIAS, THING_NAME};
use serde::Deserialize;

use crate::fetch::Endpoint;
use crate::identity::{IdentitySource, KeySource};
use crate::schedule::Policy;

/// The default port of the container-protocol listener.
pub const DEFAULT_PORT: u16 = 8770;
/// The default token file.
pub const DEFAULT_TOKEN_FILE: &str = "/run/iotcreds-agent/token";

/// A role alias the agent fetches credentials for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasConfig {
    /// The alias.
    pub name: String,
    /// `x-amzn-iot-thingname`.
    #[serde(default)]
    pub thing: Option<String>,
    /// Its own token file (else the agent's).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityFile {
    cert: PathBuf,
    key: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenFile {
    addresses: Option<Vec<IpAddr>>,
    port: Option<u16>,
    imds_port: Option<u16>,
    #[serde(default)]
    hosts: Vec<String>,
    max_connections: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshFile {
    before_expiry_secs: Option<u64>,
    jitter_secs: Option<u64>,
    min_interval_secs: Option<u64>,
    client_error_backoff_secs: Option<u64>,
    server_error_backoff_secs: Option<u64>,
    max_backoff_secs: Option<u64>,
    connect_timeout_secs: Option<u64>,
    request_timeout_secs: Option<u64>,
    reload_interval_secs: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImdsFile {
    max_tokens: Option<usize>,
}

/// The TOML file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    endpoints: Vec<String>,
    ca: Option<PathBuf>,
    token_file: Option<PathBuf>,
    account_id: Option<String>,
    credentials_file: Option<PathBuf>,
    #[serde(default)]
    identity: Vec<IdentityFile>,
    #[serde(default)]
    role_alias: Vec<AliasConfig>,
    #[serde(default)]
    listen: ListenFile,
    #[serde(default)]
    refresh: RefreshFile,
    #[serde(default)]
    imds: ImdsFile,
}

/// Command-line values that override the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--endpoint` (replaces the file's list when given).
    pub endpoints: Vec<String>,
    /// `--ca`.
    pub ca: Option<PathBuf>,
    /// `--cert` / `--key` pairs (replace the file's identities when given).
    pub identities: Vec<(PathBuf, String)>,
    /// `--role-alias ALIAS[:THING]` (replaces the file's aliases when given).
    pub aliases: Vec<String>,
    /// `--thing`: for command-line aliases without one.
    pub thing: Option<String>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--imds-port`.
    pub imds_port: Option<u16>,
    /// `--listen` (replaces the addresses).
    pub listen: Vec<IpAddr>,
    /// `--token-file`.
    pub token_file: Option<PathBuf>,
    /// `--write-credentials-file`.
    pub credentials_file: Option<PathBuf>,
    /// `--account-id`.
    pub account_id: Option<String>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Credentials endpoints, in failover order.
    pub endpoints: Vec<Endpoint>,
    /// CA bundle for the endpoints (else the system's).
    pub ca: Option<PathBuf>,
    /// Certificates and keys.
    pub identities: Vec<IdentitySource>,
    /// Role aliases; the first is the default.
    pub aliases: Vec<AliasConfig>,
    /// Listen addresses.
    pub addresses: Vec<IpAddr>,
    /// Container-protocol port (0: any).
    pub port: u16,
    /// IMDS port, when IMDS is served (0: any).
    pub imds_port: Option<u16>,
    /// Extra Host header names accepted.
    pub hosts: Vec<String>,
    /// Concurrent local connections.
    pub max_connections: usize,
    /// The agent's token file.
    pub token_file: PathBuf,
    /// `AccountId` for the answers.
    pub account_id: Option<String>,
    /// The shared-credentials file to keep fresh.
    pub credentials_file: Option<PathBuf>,
    /// Refresh and backoff rules.
    pub policy: Policy,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// One endpoint's whole exchange.
    pub request_timeout: Duration,
    /// How often files are checked for changes.
    pub reload_interval: Duration,
    /// Live IMDS session tokens at most.
    pub imds_max_tokens: usize,
}

impl AgentConfig {
    /// The default role alias.
    pub fn default_alias(&self) -> &AliasConfig {
        &self.aliases[0]
    }

    /// The alias named `name`.
    pub fn alias(&self, name: &str) -> Option<&AliasConfig> {
        self.aliases.iter().find(|a| a.name == name)
    }

    /// The token file of `alias`.
    pub fn token_file_of<'a>(&'a self, alias: &'a AliasConfig) -> &'a Path {
        alias.token_file.as_deref().unwrap_or(&self.token_file)
    }
}

/// Read and parse a configuration file.
pub fn read_file(path: &Path) -> Result<ConfigFile, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse_alias(arg: &str, thing: Option<&String>) -> AliasConfig {
    // Role alias names cannot contain ':', thing names can: split at the first one.
    match arg.split_once(':') {
        Some((a, t)) => AliasConfig {
            name: a.to_owned(),
            thing: Some(t.to_owned()),
            token_file: None,
        },
        None => AliasConfig {
            name: arg.to_owned(),
            thing: thing.cloned(),
            token_file: None,
        },
    }
}

fn secs(v: Option<u64>, default: Duration) -> Duration {
    v.map_or(default, Duration::from_secs)
}

/// Merge the file and the flags, and check the result.
pub fn resolve(file: ConfigFile, o: Overrides) -> Result<AgentConfig, String> {
    let endpoint_args = if o.endpoints.is_empty() {
        file.endpoints
    } else {
        o.endpoints
    };
    if endpoint_args.is_empty() {
        return Err("no credentials endpoint: give --endpoint HOST[:PORT] or endpoints = [...] in the configuration".into());
    }
    let endpoints = endpoint_args
        .iter()
        .map(|e| Endpoint::parse(e))
        .collect::<Result<Vec<_>, _>>()?;
    let identities = if o.identities.is_empty() {
        file.identity
            .into_iter()
            .map(|i| (i.cert, i.key))
            .collect::<Vec<_>>()
    } else {
        o.identities
    };
    if identities.is_empty() {
        return Err(
            "no certificate: give --cert and --key, or [[identity]] in the configuration".into(),
        );
    }
    let identities = identities
        .into_iter()
        .map(|(cert, key)| {
            Ok(IdentitySource {
                cert,
                key: KeySource::parse(&key).map_err(|e| e.to_string())?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let aliases = if o.aliases.is_empty() {
        file.role_alias
    } else {
        o.aliases
            .iter()
            .map(|a| parse_alias(a, o.thing.as_ref()))
            .collect()
    };
    if aliases.is_empty() {
        return Err(
            "no role alias: give --role-alias ALIAS[:THING] or [[role_alias]] in the configuration"
                .into(),
        );
    }
    for (i, a) in aliases.iter().enumerate() {
        ROLE_ALIAS
            .check("roleAlias", &a.name)
            .map_err(|e| format!("role alias {:?}: {e}", a.name))?;
        if let Some(t) = &a.thing {
            THING_NAME
                .check("thingName", t)
                .map_err(|e| format!("thing of role alias {}: {e}", a.name))?;
        }
        if aliases[..i].iter().any(|b| b.name == a.name) {
            return Err(format!("role alias {} is listed twice", a.name));
        }
    }
    let account_id = o.account_id.or(file.account_id);
    if let Some(a) = &account_id
        && (a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("account_id {a:?} must be 12 digits"));
    }
    let addresses = if !o.listen.is_empty() {
        o.listen
    } else {
        file.listen.addresses.unwrap_or_else(|| {
            vec![
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            ]
        })
    };
    if addresses.is_empty() {
        return Err("listen.addresses is empty".into());
    }
    for h in &file.listen.hosts {
        if h.is_empty() || h.contains(['/', ' ', '@']) {
            return Err(format!("listen.hosts: {h:?} is not a host name"));
        }
    }
    let r = file.refresh;
    let d = Policy::default();
    let policy = Policy {
        before_expiry: secs(r.before_expiry_secs, d.before_expiry),
        jitter: secs(r.jitter_secs, d.jitter),
        min_interval: secs(r.min_interval_secs, d.min_interval),
        client_error_backoff: secs(r.client_error_backoff_secs, d.client_error_backoff),
        server_error_backoff: secs(r.server_error_backoff_secs, d.server_error_backoff),
        max_backoff: secs(r.max_backoff_secs, d.max_backoff),
        serve_margin: d.serve_margin,
    };
    if policy.min_interval.is_zero()
        || policy.client_error_backoff.is_zero()
        || policy.server_error_backoff.is_zero()
    {
        return Err("refresh.min_interval_secs and the backoffs must be at least 1 s (a zero would let a broken set-up loop)".into());
    }
    let imds_max_tokens = file.imds.max_tokens.unwrap_or(256);
    if !(1..=100_000).contains(&imds_max_tokens) {
        return Err("imds.max_tokens must be within 1..=100000".into());
    }
    let reload_interval = secs(r.reload_interval_secs, Duration::from_secs(10));
    if reload_interval.is_zero() {
        return Err("refresh.reload_interval_secs must be at least 1".into());
    }
    Ok(AgentConfig {
        endpoints,
        ca: o.ca.or(file.ca),
        identities,
        aliases,
        addresses,
        port: o.port.or(file.listen.port).unwrap_or(DEFAULT_PORT),
        imds_port: o.imds_port.or(file.listen.imds_port),
        hosts: file.listen.hosts,
        max_connections: file.listen.max_connections.unwrap_or(256).max(1),
        token_file: o
            .token_file
            .or(file.token_file)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_TOKEN_FILE)),
        account_id,
        credentials_file: o.credentials_file.or(file.credentials_file),
        policy,
        connect_timeout: secs(r.connect_timeout_secs, Duration::from_secs(5)),
        request_timeout: secs(r.request_timeout_secs, Duration::from_secs(15)),
        reload_interval,
        imds_max_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
endpoints = ["a.example.com:8443", "b.example.com"]
ca = "/etc/ca.pem"
account_id = "123456789012"
[[identity]]
cert = "/c.pem"
key = "/k.pem"
[[identity]]
cert = "/c2.pem"
key = "pkcs11:object=dev?module-path=/m.so"
[[role_alias]]
name = "ADCTestRoleAlias"
thing = "ADCTestThing"
[[role_alias]]
name = "Other"
token_file = "/run/t2"
[listen]
port = 9000
imds_port = 9001
[refresh]
before_expiry_secs = 600
server_error_backoff_secs = 5
"#;

    #[test]
    fn file_and_defaults() {
        let c = resolve(toml::from_str(FILE).unwrap(), Overrides::default()).unwrap();
        assert_eq!(c.endpoints.len(), 2);
        assert_eq!(c.endpoints[1].port, 443);
        assert!(matches!(c.identities[1].key, KeySource::Token(_)));
        assert_eq!(c.default_alias().thing.as_deref(), Some("ADCTestThing"));
        assert_eq!(c.token_file_of(&c.aliases[1]), Path::new("/run/t2"));
        assert_eq!(
            c.token_file_of(&c.aliases[0]),
            Path::new(DEFAULT_TOKEN_FILE)
        );
        assert_eq!(c.addresses.len(), 2);
        assert!(c.addresses.iter().all(|a| a.is_loopback()));
        assert_eq!((c.port, c.imds_port), (9000, Some(9001)));
        assert_eq!(c.policy.before_expiry, Duration::from_secs(600));
        assert_eq!(c.policy.server_error_backoff, Duration::from_secs(5));
        assert_eq!(c.policy.client_error_backoff, Duration::from_secs(120));
    }

    #[test]
    fn flags_override() {
        let o = Overrides {
            endpoints: vec!["localhost:8443".into()],
            identities: vec![("/x.pem".into(), "/x.key".into())],
            aliases: vec!["A:thing:with:colons".into(), "B".into()],
            thing: Some("T".into()),
            port: Some(0),
            ..Overrides::default()
        };
        let c = resolve(toml::from_str(FILE).unwrap(), o).unwrap();
        assert_eq!(c.endpoints.len(), 1);
        assert_eq!(c.identities.len(), 1);
        assert_eq!(c.aliases[0].thing.as_deref(), Some("thing:with:colons"));
        assert_eq!(c.aliases[1].thing.as_deref(), Some("T"));
        assert_eq!(c.port, 0);
    }

    #[test]
    fn refusals() {
        let base = |extra: &str| {
            let (top, tail) = if extra.starts_with('[') {
                ("", extra)
            } else {
                (extra, "")
            };
            format!(
                "{top}\nendpoints=[\"h:1\"]\n[[identity]]\ncert=\"/c\"\nkey=\"/k\"\n[[role_alias]]\nname=\"A\"\n{tail}"
            )
        };
        for (extra, want) in [
            ("[[role_alias]]\nname=\"A\"", "twice"),
            ("[[role_alias]]\nname=\"bad name\"", "roleAlias"),
            ("account_id=\"12\"", "12 digits"),
            ("[refresh]\nserver_error_backoff_secs=0", "at least 1 s"),
            ("[imds]\nmax_tokens=0", "max_tokens"),
            ("unknown=1", "unknown field"),
        ] {
            let r = toml::from_str::<ConfigFile>(&base(extra))
                .map_err(|e| e.to_string())
                .and_then(|f| resolve(f, Overrides::default()).map(|_| ()));
            let err = r.expect_err(extra);
            assert!(err.contains(want), "{extra}: {err}");
        }
        let err = resolve(ConfigFile::default(), Overrides::default()).unwrap_err();
        assert!(err.contains("--endpoint"), "{err}");
    }
}
