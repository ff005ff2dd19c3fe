//! Every `iotcreds` command except `serve`: administration (a SigV4 client of the server's
//! IoT, IAM and STS APIs), the policy simulator, PKI helpers, registry operations and the
//! device-side credentials helper. One module per command group; the shared pieces (client,
//! settings, output, files) live here.

pub mod account;
pub mod aliases;
pub mod certs;
pub mod client;
pub mod config;
pub mod device;
pub mod login;
pub mod ops;
pub mod output;
pub mod pki;
pub mod policies;
pub mod roles;
pub mod simulate;
pub mod things;
pub mod users;
mod xml;

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use anyhow::Context as _;
use clap::Subcommand;
use iotcreds_types::names::ValidationError;

use client::Client;
use config::ClientArgs;
use output::Output;

/// The commands of this module.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the credentials endpoint (DescribeEndpoint iot:CredentialProvider).
    Endpoint(account::EndpointArgs),
    /// Print who the credentials in use belong to (STS GetCallerIdentity).
    Whoami(account::WhoamiArgs),
    /// Things: create, describe, list, update, delete, attach and detach certificates.
    Thing(things::ThingArgs),
    /// Thing types: create, describe, list, deprecate, delete.
    ThingType(things::ThingTypeArgs),
    /// Device certificates: create, from a CSR, register, set status, describe, list, delete.
    Cert(certs::CertArgs),
    /// CA certificates: registration code, register, set status, describe, list, delete.
    Ca(certs::CaArgs),
    /// IoT policies: create, get, list, delete, attach, detach, versions; and the local
    /// policy simulator.
    Policy(policies::PolicyArgs),
    /// IAM roles: create, get, list, update, delete, inline and attached policies.
    Role(roles::RoleArgs),
    /// IAM managed policies: create, get, list, delete.
    IamPolicy(roles::IamPolicyArgs),
    /// Role aliases: create, describe, list, update, delete.
    RoleAlias(aliases::RoleAliasArgs),
    /// IAM users: create, list, delete, access keys, inline policies, console passwords.
    User(users::UserArgs),
    /// Local PKI helpers: a CA, device certificates, CSRs, verification certificates, inspect.
    Pki(pki::PkiArgs),
    /// Token-sealing keys, directly on the registry: rotate, list.
    Keys(ops::KeysArgs),
    /// Apply pending registry schema migrations.
    Migrate(ops::MigrateArgs),
    /// Device-side helpers: fetch credentials with the device certificate.
    Device(device::DeviceArgs),
}

/// How a command ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done.
    Success,
    /// `policy simulate`: the request is denied (exit code 2).
    Denied,
}

/// Run one command.
pub fn run(command: Command, out: Output) -> anyhow::Result<Status> {
    let done = |r: anyhow::Result<()>| r.map(|()| Status::Success);
    match command {
        Command::Endpoint(a) => done(block_on(account::endpoint(a, out))),
        Command::Whoami(a) => done(block_on(account::whoami(a, out))),
        Command::Thing(a) => done(block_on(things::run(a, out))),
        Command::ThingType(a) => done(block_on(things::run_type(a, out))),
        Command::Cert(a) => done(block_on(certs::run(a, out))),
        Command::Ca(a) => done(block_on(certs::run_ca(a, out))),
        Command::Policy(a) => policies::run(a, out),
        Command::Role(a) => done(block_on(roles::run(a, out))),
        Command::IamPolicy(a) => done(block_on(roles::run_managed(a, out))),
        Command::RoleAlias(a) => done(block_on(aliases::run(a, out))),
        Command::User(a) => done(block_on(users::run(a, out))),
        Command::Pki(a) => done(pki::run(a, out)),
        Command::Keys(a) => done(block_on(ops::keys(a, out))),
        Command::Migrate(a) => done(block_on(ops::migrate(a, out))),
        Command::Device(a) => done(device::run(a, out)),
    }
}

/// Run a command's future on a single-threaded runtime (the CLI makes one request at a time).
pub fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(f)
}

/// A signing client for `args`, with settings from flags, environment and the data directory.
pub fn connect(args: &ClientArgs) -> anyhow::Result<Client> {
    Client::new(config::resolve(args, |k| std::env::var(k).ok())?)
}

/// A local validation failure as an error naming the field and the rule.
pub fn invalid(e: ValidationError) -> anyhow::Error {
    anyhow::anyhow!("invalid argument: {e}")
}

/// Read a text file, naming it in the error.
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// A policy document given as inline JSON (starting with `{`), `file://PATH` or a path. The
/// text is returned as given after checking that it is JSON.
pub fn read_document(arg: &str) -> anyhow::Result<String> {
    let text = if arg.trim_start().starts_with('{') {
        arg.to_owned()
    } else {
        let path = arg.strip_prefix("file://").unwrap_or(arg);
        read_text(Path::new(path))?
    };
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
        anyhow::bail!(
            "the policy document {} is not JSON: {e}",
            if arg.trim_start().starts_with('{') {
                "given inline".to_owned()
            } else {
                format!("in {arg}")
            }
        );
    }
    Ok(text)
}

/// Write `contents` to `path` with `mode` (through a temporary file created with that mode and
/// a rename, so a key is never briefly readable by others and never half-written).
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} is not a file name", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// Write a private key: mode 0600.
pub fn write_secret(path: &Path, contents: &str) -> anyhow::Result<()> {
    write_file(path, contents.as_bytes(), 0o600)
}

/// Write a public file (certificate, CSR, public key): mode 0644.
pub fn write_public(path: &Path, contents: &str) -> anyhow::Result<()> {
    write_file(path, contents.as_bytes(), 0o644)
}

/// `KEY=VALUE` into its halves (the key must be non-empty).
pub fn key_value(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {arg:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn documents_inline_file_and_broken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, "{\"Version\":\"2012-10-17\"}").unwrap();
        assert_eq!(
            read_document(path.to_str().unwrap()).unwrap(),
            "{\"Version\":\"2012-10-17\"}"
        );
        let uri = format!("file://{}", path.display());
        assert!(read_document(&uri).is_ok());
        assert_eq!(read_document(" {\"a\":1}").unwrap(), " {\"a\":1}");
        let err = read_document("{\"a\":").unwrap_err().to_string();
        assert!(err.contains("not JSON") && err.contains("inline"), "{err}");
        std::fs::write(&path, "Version: 1").unwrap();
        let err = read_document(path.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not JSON"), "{err}");
        assert!(read_document("/nonexistent/p.json").is_err());
    }

    #[test]
    fn secret_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private.key");
        write_secret(&path, "KEY").unwrap();
        write_secret(&path, "KEY2").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "KEY2");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(write_secret(&dir.path().join("missing/k"), "x").is_err());
    }

    #[test]
    fn key_values() {
        assert_eq!(key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(key_value("a="), Ok(("a".into(), String::new())));
        assert!(key_value("=b").is_err());
        assert!(key_value("ab").is_err());
    }
}
