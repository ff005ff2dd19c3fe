//! `iotcreds device …`: what runs on a device.
//!
//! - `device credentials`: credentials in `credential_process` format (or the endpoint's JSON,
//!   or `export` lines). It asks the running agent first, then the user's cache file, and only
//!   then the credentials endpoint itself (mutual TLS), caching what it got: aws-cli runs it
//!   for every command, and no command should cost an issuance.
//! - `device agent`: the long-running agent (`iotcreds_agent`); `device agent status` asks a
//!   running agent what it holds.
//! - `device csr`: a PKCS#10 request signed by the device key, wherever it lives (a PEM file or
//!   a PKCS#11 token, where the key is generated and stays).
//!
//! Printing credentials is `device credentials`'s purpose; they go to standard output only.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use iotcreds_agent::config::{self, AgentConfig, ConfigFile, Overrides};
use iotcreds_agent::creds::Credentials;
use iotcreds_agent::fetch::{Fetcher, load_roots, now_ms};
use iotcreds_agent::identity::KeySource;
use iotcreds_agent::{client::AgentClient, usercache};
use iotcreds_types::names::{ROLE_ALIAS, THING_NAME};
use serde_json::Value;

use super::invalid;
use super::output::{self, Output};

/// `iotcreds device`.
#[derive(Args, Debug)]
pub struct DeviceArgs {
    #[command(subcommand)]
    command: DeviceCommand,
}

#[derive(Subcommand, Debug)]
enum DeviceCommand {
    /// Print credentials for a role alias: from the running agent, the cache, or the endpoint.
    Credentials(CredentialsArgs),
    /// Run the device agent (or `agent status`: ask the running one what it holds).
    Agent(AgentArgs),
    /// Write a certificate signing request signed by the device key (PEM file or PKCS#11 URI).
    Csr(CsrArgs),
}

/// How to print the credentials.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// aws-cli / SDK `credential_process` JSON (Version 1).
    CredentialProcess,
    /// The credentials endpoint's JSON.
    Json,
    /// `export AWS_ACCESS_KEY_ID=…` lines for `eval`.
    Env,
}

/// Where the device's settings come from: the agent's configuration file and flags.
#[derive(Args, Debug, Default)]
struct DeviceSettings {
    /// The agent's configuration file (TOML; docs/device.md).
    #[arg(long, env = "IOTCREDS_AGENT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Credentials endpoint HOST[:PORT] (repeat to fail over in order; `iotcreds endpoint`
    /// prints it).
    #[arg(
        long = "endpoint",
        env = "IOTCREDS_CREDENTIALS_ENDPOINT",
        value_name = "HOST[:PORT]",
        value_delimiter = ','
    )]
    endpoints: Vec<String>,
    /// The device certificate (PEM; may include its chain). Repeat with --key for rotation.
    #[arg(long = "cert", value_name = "FILE")]
    certs: Vec<PathBuf>,
    /// The device key: a PEM file or a PKCS#11 URI (`pkcs11:token=…;object=…?module-path=…`).
    #[arg(long = "key", value_name = "FILE|URI")]
    keys: Vec<String>,
    /// CA certificate(s) to trust for the endpoint (PEM) [default: the system roots].
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Send x-amzn-iot-thingname: the thing the certificate is attached to.
    #[arg(long, value_name = "NAME")]
    thing: Option<String>,
}

impl DeviceSettings {
    fn overrides(&self) -> anyhow::Result<Overrides> {
        if self.certs.len() != self.keys.len() {
            anyhow::bail!("give --cert and --key in pairs (one --key for each --cert)");
        }
        Ok(Overrides {
            endpoints: self.endpoints.clone(),
            ca: self.ca.clone(),
            identities: self
                .certs
                .iter()
                .cloned()
                .zip(self.keys.iter().cloned())
                .collect(),
            thing: self.thing.clone(),
            ..Overrides::default()
        })
    }

    fn file(&self) -> anyhow::Result<ConfigFile> {
        match &self.config {
            Some(p) => config::read_file(p).map_err(anyhow::Error::msg),
            None => Ok(ConfigFile::default()),
        }
    }
}

/// `iotcreds device credentials`.
#[derive(Args, Debug)]
pub struct CredentialsArgs {
    #[command(flatten)]
    settings: DeviceSettings,
    /// The role alias to assume [default: the configuration's first].
    #[arg(long, value_name = "ALIAS")]
    role_alias: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "credential-process")]
    format: Format,
    /// A running agent, HOST:PORT [default: from --config].
    #[arg(long, value_name = "HOST:PORT")]
    agent: Option<String>,
    /// The agent's token file [default: the alias's, from --config].
    #[arg(long, value_name = "FILE")]
    agent_token_file: Option<PathBuf>,
    /// Neither read nor write the cache file.
    #[arg(long)]
    no_cache: bool,
    /// The cache file [default: $XDG_CACHE_HOME/iotcreds/credentials-ALIAS-….json].
    #[arg(long, value_name = "FILE")]
    cache_file: Option<PathBuf>,
}

/// `iotcreds device agent`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AgentArgs {
    #[command(subcommand)]
    command: Option<AgentCommand>,
    #[command(flatten)]
    settings: DeviceSettings,
    /// A role alias, with its thing after a colon (repeat for several; the first is the
    /// default). Replaces the configuration's.
    #[arg(long = "role-alias", value_name = "ALIAS[:THING]")]
    role_aliases: Vec<String>,
    /// Port of the container-credentials listener (0: any) [default: 8770].
    #[arg(long)]
    port: Option<u16>,
    /// Serve IMDSv2 on this port too (0: any).
    #[arg(long)]
    imds_port: Option<u16>,
    /// Listen on this address instead of 127.0.0.1 and ::1 (repeat for several).
    #[arg(long = "listen", value_name = "IP")]
    listen: Vec<IpAddr>,
    /// The token file of the local endpoints (created, mode 0640, if missing) [default:
    /// /run/iotcreds-agent/token].
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Keep this AWS shared-credentials file fresh (written atomically, mode 0600).
    #[arg(long, value_name = "FILE")]
    write_credentials_file: Option<PathBuf>,
    /// The account id to put in the answers (`AccountId`).
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
    /// Log format.
    #[arg(long, env = "IOTCREDS_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: crate::serve::LogFormat,
}

#[derive(Subcommand, Debug)]
enum AgentCommand {
    /// Print what a running agent holds: aliases, expiry, last error (no secrets).
    Status(StatusArgs),
}

/// `iotcreds device agent status`.
#[derive(Args, Debug)]
struct StatusArgs {
    /// The agent's configuration file.
    #[arg(long, env = "IOTCREDS_AGENT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The agent, HOST:PORT [default: from --config, else 127.0.0.1:8770].
    #[arg(long, value_name = "HOST:PORT")]
    agent: Option<String>,
    /// A token file of the agent [default: from --config].
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

/// `iotcreds device csr`.
#[derive(Args, Debug)]
pub struct CsrArgs {
    /// The device key: a PEM file or a PKCS#11 URI.
    #[arg(long, value_name = "FILE|URI")]
    key: String,
    /// The certificate's common name.
    #[arg(long)]
    cn: String,
    /// Where to write the CSR (PEM) [default: standard output].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Single-quote a value for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Render credentials in `format`.
pub fn render(c: &Credentials, format: Format) -> String {
    match format {
        Format::CredentialProcess => c.process_json(),
        Format::Json => c.endpoint_json(),
        Format::Env => [
            ("AWS_ACCESS_KEY_ID", c.access_key_id.as_str()),
            ("AWS_SECRET_ACCESS_KEY", c.secret_access_key.expose()),
            ("AWS_SESSION_TOKEN", c.session_token.expose()),
            ("AWS_CREDENTIAL_EXPIRATION", c.expiration.as_str()),
        ]
        .iter()
        .map(|(k, v)| format!("export {k}={}", shell_quote(v)))
        .collect::<Vec<_>>()
        .join("\n"),
    }
}

/// Run `iotcreds device …`.
pub fn run(args: DeviceArgs, out: Output) -> anyhow::Result<()> {
    match args.command {
        DeviceCommand::Credentials(a) => super::block_on(credentials(a)),
        DeviceCommand::Agent(a) => match a.command {
            Some(AgentCommand::Status(s)) => super::block_on(status(s, out)),
            None => agent(a),
        },
        DeviceCommand::Csr(a) => csr(a),
    }
}

/// The agent's address from its configuration: its first listen address and port.
fn agent_authority(file: &ConfigFile, agent_flag: Option<&str>) -> anyhow::Result<String> {
    if let Some(a) = agent_flag {
        return Ok(a.to_owned());
    }
    let probe = config::resolve(
        file.clone(),
        Overrides {
            endpoints: vec!["unused:1".into()],
            identities: vec![("/unused".into(), "/unused".into())],
            aliases: vec!["unused".into()],
            ..Overrides::default()
        },
    )
    .map_err(anyhow::Error::msg)?;
    let ip = probe.addresses[0];
    Ok(match ip {
        IpAddr::V6(v6) => format!("[{v6}]:{}", probe.port),
        IpAddr::V4(v4) => format!("{v4}:{}", probe.port),
    })
}

async fn credentials(args: CredentialsArgs) -> anyhow::Result<()> {
    let file = args.settings.file()?;
    let file_aliases = file_alias_list(&file);
    let alias = args
        .role_alias
        .clone()
        .or_else(|| file_aliases.first().map(|a| a.name.clone()))
        .ok_or_else(|| anyhow::anyhow!("give --role-alias (or --config with a [[role_alias]])"))?;
    ROLE_ALIAS.check("roleAlias", &alias).map_err(invalid)?;
    let from_file = file_aliases.iter().find(|a| a.name == alias).cloned();
    let thing = args
        .settings
        .thing
        .clone()
        .or_else(|| from_file.as_ref().and_then(|a| a.thing.clone()));
    if let Some(t) = &thing {
        THING_NAME.check("thingName", t).map_err(invalid)?;
    }
    let mut notes = Vec::new();

    // 1. The running agent.
    let agent_known = args.agent.is_some() || args.settings.config.is_some();
    if agent_known {
        match ask_agent(&args, &file, &alias, from_file.as_ref()).await {
            Ok(c) => {
                output::print_line(&render(&c, args.format));
                return Ok(());
            }
            Err(e) => notes.push(format!("agent: {e}")),
        }
    }

    // 2. The cache, 3. the endpoint.
    let mut o = args.settings.overrides()?;
    o.aliases = vec![match &thing {
        Some(t) => format!("{alias}:{t}"),
        None => alias.clone(),
    }];
    let cfg = match config::resolve(file, o) {
        Ok(c) => c,
        Err(e) if notes.is_empty() => anyhow::bail!(e),
        Err(e) => anyhow::bail!("{}; and no direct fetch is possible: {e}", notes.join("; ")),
    };
    let cache = if args.no_cache {
        None
    } else {
        args.cache_file.clone().or_else(|| {
            usercache::default_dir(|k| std::env::var(k).ok()).map(|dir| {
                let endpoints: Vec<String> = cfg.endpoints.iter().map(|e| e.to_string()).collect();
                usercache::file_for(
                    &dir,
                    &endpoints.join(","),
                    &cfg.identities[0].cert,
                    &alias,
                    thing.as_deref(),
                )
            })
        })
    };
    if let Some(path) = &cache
        && let Some(c) = usercache::read(path, now_ms())
    {
        output::print_line(&render(&c, args.format));
        return Ok(());
    }
    let c = fetch_direct(&cfg, &alias, thing.as_deref())
        .await
        .map_err(|e| {
            if notes.is_empty() {
                e
            } else {
                anyhow::anyhow!("{e:#} ({})", notes.join("; "))
            }
        })?;
    if let Some(path) = &cache
        && let Err(e) = usercache::write(path, &c)
    {
        eprintln!("iotcreds: note: credentials not cached: {e}");
    }
    output::print_line(&render(&c, args.format));
    Ok(())
}

fn file_alias_list(file: &ConfigFile) -> Vec<config::AliasConfig> {
    // The aliases as the agent would resolve them (a probe with placeholders for the rest).
    config::resolve(
        file.clone(),
        Overrides {
            endpoints: vec!["unused:1".into()],
            identities: vec![("/unused".into(), "/unused".into())],
            ..Overrides::default()
        },
    )
    .map(|c| c.aliases)
    .unwrap_or_default()
}

async fn ask_agent(
    args: &CredentialsArgs,
    file: &ConfigFile,
    alias: &str,
    from_file: Option<&config::AliasConfig>,
) -> anyhow::Result<Credentials> {
    let authority = agent_authority(file, args.agent.as_deref())?;
    let token_file = match (&args.agent_token_file, from_file) {
        (Some(t), _) => t.clone(),
        (None, Some(a)) => a
            .token_file
            .clone()
            .or_else(|| file_token_file(file))
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_TOKEN_FILE)),
        (None, None) => {
            file_token_file(file).unwrap_or_else(|| PathBuf::from(config::DEFAULT_TOKEN_FILE))
        }
    };
    let client = AgentClient::new(authority, &token_file).map_err(anyhow::Error::msg)?;
    let path = format!(
        "/credentials/{}",
        percent_encoding::utf8_percent_encode(alias, percent_encoding::NON_ALPHANUMERIC)
    );
    let (status, body) = client.get(&path).await.map_err(anyhow::Error::msg)?;
    if status != 200 {
        let msg = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("Message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        anyhow::bail!("the agent answered {status}: {msg}");
    }
    Credentials::from_container_json(&body).map_err(anyhow::Error::msg)
}

fn file_token_file(file: &ConfigFile) -> Option<PathBuf> {
    config::resolve(
        file.clone(),
        Overrides {
            endpoints: vec!["unused:1".into()],
            identities: vec![("/unused".into(), "/unused".into())],
            aliases: vec!["unused".into()],
            ..Overrides::default()
        },
    )
    .ok()
    .map(|c| c.token_file)
}

async fn fetch_direct(
    cfg: &AgentConfig,
    alias: &str,
    thing: Option<&str>,
) -> anyhow::Result<Credentials> {
    let provider = iotcreds_agent::provider();
    let roots = load_roots(cfg.ca.as_deref()).map_err(anyhow::Error::msg)?;
    let identities =
        iotcreds_agent::identity::Identities::new(cfg.identities.clone(), provider.clone());
    let reload = identities.reload(now_ms());
    let identity = identities.current().ok_or_else(|| {
        let errors: Vec<String> = reload.errors.iter().map(|(_, e)| e.clone()).collect();
        anyhow::anyhow!("no usable certificate and key: {}", errors.join("; "))
    })?;
    let fetcher = Fetcher::new(
        cfg.endpoints.clone(),
        roots,
        provider,
        cfg.connect_timeout,
        cfg.request_timeout,
    );
    let fetched = fetcher
        .fetch(&identity, alias, thing)
        .await
        .map_err(|e| match e {
            iotcreds_agent::fetch::FetchError::Refused { .. } => {
                anyhow::anyhow!("the credentials endpoint {e}")
            }
            other => anyhow::anyhow!("cannot get credentials: {other}"),
        })?;
    Ok(fetched.creds)
}

fn agent(args: AgentArgs) -> anyhow::Result<()> {
    let _log_guard = crate::serve::init_logging(args.log_format);
    let file = args.settings.file()?;
    let mut o = args.settings.overrides()?;
    o.aliases = args.role_aliases;
    o.port = args.port;
    o.imds_port = args.imds_port;
    o.listen = args.listen;
    o.token_file = args.token_file;
    o.credentials_file = args.write_credentials_file;
    o.account_id = args.account_id;
    let cfg = config::resolve(file, o).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let aliases: Vec<String> = cfg.aliases.iter().map(|a| a.name.clone()).collect();
    runtime
        .block_on(iotcreds_agent::run(cfg, |bound| {
            let list = |v: &[std::net::SocketAddr]| {
                v.iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            tracing::info!(
                container_addrs = %list(&bound.container),
                imds_addrs = %list(&bound.imds),
                role_aliases = %aliases.join(","),
                "iotcreds agent is serving"
            );
        }))
        .map_err(|e| anyhow::anyhow!("{e}"))
}

async fn status(args: StatusArgs, out: Output) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(p) => config::read_file(p).map_err(anyhow::Error::msg)?,
        None => ConfigFile::default(),
    };
    let authority = agent_authority(&file, args.agent.as_deref())?;
    let token_file = args
        .token_file
        .or_else(|| file_token_file(&file))
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_TOKEN_FILE));
    let client = AgentClient::new(authority, &token_file).map_err(anyhow::Error::msg)?;
    let (code, body) = client.get("/status").await.map_err(anyhow::Error::msg)?;
    let v: Value = serde_json::from_slice(&body).context("the agent's status is not JSON")?;
    if code != 200 {
        anyhow::bail!(
            "the agent answered {code}: {}",
            v.get("Message").and_then(Value::as_str).unwrap_or("")
        );
    }
    output::emit_with(out, &v, status_text);
    Ok(())
}

fn status_text(v: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let mut lines = Vec::new();
    if let Some(c) = v.get("certificate").filter(|c| !c.is_null()) {
        lines.push(format!(
            "certificate: {} ({})",
            s(&c["certificateId"]),
            s(&c["subject"])
        ));
        lines.push(format!(
            "  valid: {} .. {}",
            s(&c["notBefore"]),
            s(&c["notAfter"])
        ));
        lines.push(format!("  source: {}", s(&c["source"])));
    }
    for e in v["identityErrors"].as_array().into_iter().flatten() {
        lines.push(format!(
            "identity error: {}: {}",
            s(&e["source"]),
            s(&e["error"])
        ));
    }
    let endpoints: Vec<String> = v["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(s)
        .collect();
    lines.push(format!("endpoints: {}", endpoints.join(", ")));
    for a in v["roleAliases"].as_array().into_iter().flatten() {
        lines.push(format!(
            "role alias {}{} (thing {}): {}",
            s(&a["name"]),
            if a["default"].as_bool() == Some(true) {
                " [default]"
            } else {
                ""
            },
            s(&a["thing"]),
            s(&a["state"])
        ));
        if !a["expiration"].is_null() {
            lines.push(format!(
                "  access key {} expires {} (fetched {})",
                s(&a["accessKeyId"]),
                s(&a["expiration"]),
                s(&a["lastUpdated"])
            ));
        }
        if let Some(n) = a["nextRefreshInSecs"].as_u64() {
            lines.push(format!("  next fetch in {n} s"));
        }
        if let Some(e) = a.get("lastError").filter(|e| !e.is_null()) {
            lines.push(format!(
                "  last error ({}, {} in a row, {}): {}",
                s(&e["class"]),
                e["consecutive"],
                s(&e["at"]),
                s(&e["message"])
            ));
        }
    }
    lines.join("\n")
}

fn csr(args: CsrArgs) -> anyhow::Result<()> {
    use rcgen::{CertificateParams, DistinguishedName, DnType};
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, args.cn.as_str());
    params.distinguished_name = dn;
    let key = KeySource::parse(&args.key).map_err(anyhow::Error::msg)?;
    let pem = match &key {
        KeySource::File(p) => {
            let text = super::read_text(p)?;
            let kp = rcgen::KeyPair::from_pem(&text).map_err(|e| {
                anyhow::anyhow!("{} is not a usable PEM private key: {e}", p.display())
            })?;
            params.serialize_request(&kp)
        }
        KeySource::Token(uri) => {
            let k = iotcreds_agent::identity::pkcs11::TokenKey::open(uri)?;
            params.serialize_request(&k)
        }
    }
    .and_then(|c| c.pem())
    .map_err(|e| anyhow::anyhow!("CSR generation failed: {e}"))?;
    match &args.out {
        Some(p) => super::write_public(p, &pem),
        None => {
            output::print_line(pem.trim_end());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BODY: &str = r#"{"credentials":{"accessKeyId":"ASIAEXAMPLE","secretAccessKey":"s/e+c","sessionToken":"tok'en","expiration":"2026-01-01T00:00:00Z"}}"#;

    #[test]
    fn formats() {
        let c = Credentials::from_endpoint_json(BODY.as_bytes()).unwrap();
        let v: Value = serde_json::from_str(&render(&c, Format::CredentialProcess)).unwrap();
        assert_eq!(
            v,
            json!({"Version": 1, "AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "s/e+c",
                   "SessionToken": "tok'en", "Expiration": "2026-01-01T00:00:00Z"})
        );
        let v: Value = serde_json::from_str(&render(&c, Format::Json)).unwrap();
        assert_eq!(v, serde_json::from_str::<Value>(BODY).unwrap());
        let env = render(&c, Format::Env);
        assert!(env.contains("export AWS_ACCESS_KEY_ID='ASIAEXAMPLE'\n"));
        assert!(env.contains(r"export AWS_SESSION_TOKEN='tok'\''en'"));
    }

    #[test]
    fn status_text_has_no_secret_fields() {
        let v = json!({"certificate": {"certificateId": "ab", "subject": "CN=x", "notBefore": "a", "notAfter": "b", "source": "c + k"},
            "identityErrors": [], "endpoints": ["h:1"],
            "roleAliases": [{"name": "A", "thing": "T", "default": true, "state": "valid", "accessKeyId": "ASIA1",
              "expiration": "e", "lastUpdated": "u", "nextRefreshInSecs": 5,
              "lastError": {"class": "unavailable", "consecutive": 2, "at": "t", "message": "down"}}]});
        let t = status_text(&v);
        assert!(t.contains("role alias A [default] (thing T): valid"), "{t}");
        assert!(
            t.contains("last error (unavailable, 2 in a row, t): down"),
            "{t}"
        );
    }
}
