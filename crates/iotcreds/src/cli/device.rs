//! `iotcreds device credentials`: what a device runs to trade its certificate for credentials.
//!
//! It makes the mutual-TLS `GET /role-aliases/ALIAS/credentials` request of the AWS IoT
//! credentials provider (optionally with `x-amzn-iot-thingname`) and prints the answer in
//! aws-cli `credential_process` format (so `credential_process = iotcreds device credentials
//! …` in an AWS config file gives every AWS tool the device's credentials), as the raw JSON, or
//! as `export AWS_…` lines for a shell. Printing the credentials is the command's purpose; they
//! go to standard output only.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use iotcreds_types::names::{ROLE_ALIAS, THING_NAME};
use serde_json::{Value, json};

use super::client::encode;
use super::{invalid, read_text};

/// `iotcreds device`.
#[derive(Args, Debug)]
pub struct DeviceArgs {
    #[command(subcommand)]
    command: DeviceCommand,
}

#[derive(Subcommand, Debug)]
enum DeviceCommand {
    /// Fetch credentials from the credentials endpoint with the device certificate.
    Credentials(CredentialsArgs),
}

/// How to print the credentials.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// aws-cli / SDK `credential_process` JSON (Version 1).
    CredentialProcess,
    /// The endpoint's JSON as received.
    Json,
    /// `export AWS_ACCESS_KEY_ID=…` lines for `eval`.
    Env,
}

/// `iotcreds device credentials`.
#[derive(Args, Debug)]
pub struct CredentialsArgs {
    /// Credentials endpoint, HOST[:PORT] (`iotcreds endpoint` prints it).
    #[arg(
        long,
        env = "IOTCREDS_CREDENTIALS_ENDPOINT",
        value_name = "HOST[:PORT]"
    )]
    endpoint: String,
    /// The device certificate (PEM; may include its chain).
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// The device private key (PEM).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// CA certificate(s) to trust for the endpoint (PEM), e.g. DATA/root-ca.pem [default:
    /// the system roots].
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// The role alias to assume.
    #[arg(long, value_name = "ALIAS")]
    role_alias: String,
    /// Send x-amzn-iot-thingname: the thing the certificate is attached to.
    #[arg(long, value_name = "NAME")]
    thing: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "credential-process")]
    format: Format,
}

/// The request URL for `endpoint` and `alias`.
fn url(endpoint: &str, alias: &str) -> anyhow::Result<String> {
    let base = endpoint
        .strip_prefix("https://")
        .unwrap_or(endpoint)
        .trim_end_matches('/');
    if base.is_empty() || base.contains(['/', '?', '#', '@']) || base.contains("://") {
        anyhow::bail!("--endpoint {endpoint:?} must be HOST[:PORT], e.g. localhost:8443");
    }
    Ok(format!(
        "https://{base}/role-aliases/{}/credentials",
        encode(alias)
    ))
}

/// Single-quote a value for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Render the endpoint's `{"credentials": {…}}` answer in `format`.
pub fn render(body: &str, format: Format) -> anyhow::Result<String> {
    if format == Format::Json {
        return Ok(body.trim_end().to_owned());
    }
    let v: Value =
        serde_json::from_str(body).context("the credentials endpoint's answer is not JSON")?;
    let field = |k: &str| {
        v.pointer(&format!("/credentials/{k}"))
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow::anyhow!("the credentials endpoint's answer has no {k}"))
    };
    let (akid, secret, token, expiration) = (
        field("accessKeyId")?,
        field("secretAccessKey")?,
        field("sessionToken")?,
        field("expiration")?,
    );
    Ok(match format {
        Format::CredentialProcess => json!({
            "Version": 1,
            "AccessKeyId": akid,
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": expiration,
        })
        .to_string(),
        Format::Env => [
            ("AWS_ACCESS_KEY_ID", akid),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_SESSION_TOKEN", token),
            ("AWS_CREDENTIAL_EXPIRATION", expiration),
        ]
        .iter()
        .map(|(k, v)| format!("export {k}={}", shell_quote(v)))
        .collect::<Vec<_>>()
        .join("\n"),
        Format::Json => body.to_owned(),
    })
}

/// Run `iotcreds device …`.
pub async fn run(args: DeviceArgs) -> anyhow::Result<()> {
    let DeviceCommand::Credentials(args) = args.command;
    ROLE_ALIAS
        .check("roleAlias", &args.role_alias)
        .map_err(invalid)?;
    if let Some(t) = &args.thing {
        THING_NAME.check("thingName", t).map_err(invalid)?;
    }
    let url = url(&args.endpoint, &args.role_alias)?;
    let mut identity_pem = read_text(&args.cert)?;
    identity_pem.push('\n');
    identity_pem.push_str(&read_text(&args.key)?);
    let identity = reqwest::Identity::from_pem(identity_pem.as_bytes()).map_err(|e| {
        anyhow::anyhow!(
            "--cert {} / --key {} are not a PEM certificate and private key: {e}",
            args.cert.display(),
            args.key.display()
        )
    })?;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .identity(identity)
        .timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("iotcreds-device/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &args.ca {
        let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("--ca {} is not PEM", ca.display()))?;
        builder = builder.tls_certs_only(roots);
    }
    let client = builder.build().context("building the TLS client")?;
    let mut request = client.get(&url);
    if let Some(t) = &args.thing {
        request = request.header("x-amzn-iot-thingname", t);
    }
    let response = request.send().await.map_err(|e| {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(&format!(": {s}"));
            source = s.source();
        }
        anyhow::anyhow!(
            "cannot reach the credentials endpoint {}: {msg}",
            args.endpoint
        )
    })?;
    let status = response.status();
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .text()
        .await
        .context("reading the credentials endpoint's answer")?;
    if !status.is_success() {
        let message = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| body.trim().chars().take(200).collect());
        let code = error_type.map_or_else(String::new, |c| format!(" {c}"));
        anyhow::bail!(
            "the credentials endpoint answered {}{code}: {message}",
            status.as_u16()
        );
    }
    super::output::print_line(&render(&body, args.format)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"credentials":{"accessKeyId":"ASIAEXAMPLE","secretAccessKey":"s/e+c","sessionToken":"tok'en","expiration":"2026-01-01T00:00:00Z"}}"#;

    #[test]
    fn formats() {
        let v: Value =
            serde_json::from_str(&render(BODY, Format::CredentialProcess).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"Version": 1, "AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "s/e+c",
                   "SessionToken": "tok'en", "Expiration": "2026-01-01T00:00:00Z"})
        );
        assert_eq!(render(BODY, Format::Json).unwrap(), BODY);
        let env = render(BODY, Format::Env).unwrap();
        assert!(env.contains("export AWS_ACCESS_KEY_ID='ASIAEXAMPLE'\n"));
        assert!(env.contains(r"export AWS_SESSION_TOKEN='tok'\''en'"));
        assert!(render("{}", Format::Env).is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(
            url("localhost:8443", "ADCTestRoleAlias").unwrap(),
            "https://localhost:8443/role-aliases/ADCTestRoleAlias/credentials"
        );
        assert_eq!(
            url("https://h.example.com/", "a=b").unwrap(),
            "https://h.example.com/role-aliases/a%3Db/credentials"
        );
        for bad in ["", "http://h", "h/p", "u@h"] {
            assert!(url(bad, "a").is_err(), "{bad}");
        }
    }
}
