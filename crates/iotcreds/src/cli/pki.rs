//! `iotcreds pki …`: local X.509 helpers (no server): a CA of your own, device certificates
//! it issues, device-side keys and CSRs, CSR signing, the verification certificate of
//! `RegisterCACertificate`, and inspection. Private keys are written with mode 0600 and never
//! printed.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use iotcreds_pki::ca::aws_device_not_after;
use iotcreds_pki::{CertInfo, CertificateAuthority, IssuedCertificate, KeyKind};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
    RsaKeySize,
};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::output::{Output, emit_with, fields, render};
use super::{read_text, write_public, write_secret};

/// `iotcreds pki`.
#[derive(Args, Debug)]
pub struct PkiArgs {
    #[command(subcommand)]
    command: PkiCommand,
}

/// Key algorithm.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// ECDSA P-256.
    Ec,
    /// RSA 2048 (what CreateKeysAndCertificate returns).
    Rsa,
}

#[derive(Subcommand, Debug)]
enum PkiCommand {
    /// Create a self-signed CA (ECDSA P-256) to issue device certificates with.
    Ca {
        /// Write the CA certificate (PEM) here.
        #[arg(long, value_name = "FILE")]
        cert_out: PathBuf,
        /// Write the CA private key (PEM, mode 0600) here.
        #[arg(long, value_name = "FILE")]
        key_out: PathBuf,
        /// Common name.
        #[arg(long, default_value = "iotcreds device CA")]
        cn: String,
        /// Organization.
        #[arg(long, default_value = "iotcreds")]
        org: String,
        /// Validity in years.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..=100))]
        years: i64,
    },
    /// Issue a device certificate and key from a CA.
    Device {
        #[command(flatten)]
        ca: CaFiles,
        /// The device's common name.
        #[arg(long)]
        cn: String,
        /// Write the certificate (PEM) here.
        #[arg(long, value_name = "FILE")]
        cert_out: PathBuf,
        /// Write the private key (PEM, mode 0600) here.
        #[arg(long, value_name = "FILE")]
        key_out: PathBuf,
        /// Key algorithm.
        #[arg(long, value_enum, default_value = "ec")]
        key_type: KeyType,
        /// Validity in days [default: until 2049-12-31T23:59:59Z, as AWS IoT issues them].
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=36500))]
        days: Option<i64>,
    },
    /// Make a key and a certificate signing request on the device (for `cert from-csr` or
    /// `pki sign-csr`).
    Csr {
        /// The device's common name.
        #[arg(long)]
        cn: String,
        /// Write the private key (PEM, mode 0600) here.
        #[arg(long, value_name = "FILE")]
        key_out: PathBuf,
        /// Write the CSR (PEM) here.
        #[arg(long, value_name = "FILE")]
        csr_out: PathBuf,
        /// Key algorithm.
        #[arg(long, value_enum, default_value = "ec")]
        key_type: KeyType,
    },
    /// Sign a CSR with a CA.
    SignCsr {
        #[command(flatten)]
        ca: CaFiles,
        /// The CSR (PEM).
        #[arg(long, value_name = "FILE")]
        csr: PathBuf,
        /// Write the certificate (PEM) here.
        #[arg(long, value_name = "FILE")]
        cert_out: PathBuf,
        /// Validity in days [default: until 2049-12-31T23:59:59Z].
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=36500))]
        days: Option<i64>,
    },
    /// Issue the verification certificate of `ca register`: CN = the registration code
    /// (`iotcreds ca registration-code`), signed by the CA.
    VerificationCert {
        #[command(flatten)]
        ca: CaFiles,
        /// The registration code.
        #[arg(long)]
        code: String,
        /// Write the certificate (PEM) here.
        #[arg(long, value_name = "FILE")]
        cert_out: PathBuf,
        /// Write its private key (PEM, mode 0600) here (not needed to register).
        #[arg(long, value_name = "FILE")]
        key_out: Option<PathBuf>,
    },
    /// Show a certificate (or each of a PEM bundle): id (SHA-256 of the DER), subject,
    /// issuer, validity, serial.
    Inspect {
        /// PEM file.
        file: PathBuf,
    },
}

/// A CA certificate and its key, from files.
#[derive(Args, Debug)]
struct CaFiles {
    /// The CA certificate (PEM).
    #[arg(long, value_name = "FILE")]
    ca_cert: PathBuf,
    /// The CA private key (PKCS#8 PEM).
    #[arg(long, value_name = "FILE")]
    ca_key: PathBuf,
}

impl CaFiles {
    fn load(&self) -> anyhow::Result<CertificateAuthority> {
        let cert = read_text(&self.ca_cert)?;
        let key = read_text(&self.ca_key)?;
        CertificateAuthority::from_pem(&cert, &key).map_err(|e| {
            anyhow::anyhow!(
                "--ca-cert {} / --ca-key {}: {e}",
                self.ca_cert.display(),
                self.ca_key.display()
            )
        })
    }
}

fn iso(ms: i64) -> String {
    iotcreds_types::time_fmt::iso8601_seconds(ms)
}

/// What `inspect` and the issuing commands report about a certificate.
fn describe(info: &CertInfo) -> Value {
    let sans = &info.sans;
    let mut v = json!({
        "certificateId": info.id,
        "subject": info.subject_dn,
        "issuer": info.issuer_dn,
        "serialNumber": info.serial_hex,
        "notBefore": iso(info.not_before_ms),
        "notAfter": iso(info.not_after_ms),
        "isCa": info.is_ca,
    });
    let mut alt = serde_json::Map::new();
    for (k, list) in [
        ("dns", &sans.dns),
        ("ip", &sans.ip),
        ("email", &sans.email),
        ("uri", &sans.uri),
    ] {
        if !list.is_empty() {
            alt.insert(k.into(), json!(list));
        }
    }
    if !alt.is_empty() {
        v["subjectAlternativeNames"] = Value::Object(alt);
    }
    v
}

/// Text of [`describe`]: the most telling fields first.
fn cert_text(v: &Value) -> String {
    fields(
        v,
        &[
            "certificateId",
            "subject",
            "issuer",
            "serialNumber",
            "notBefore",
            "notAfter",
            "isCa",
            "subjectAlternativeNames",
            "files",
        ],
    )
}

fn describe_pem(pem: &str) -> anyhow::Result<Value> {
    Ok(describe(&CertInfo::from_pem(pem)?))
}

/// Print a report on an issued certificate and the files written.
fn report(out: Output, cert_pem: &str, files: &[(&str, &Path)]) -> anyhow::Result<()> {
    let mut v = describe_pem(cert_pem)?;
    let mut written = serde_json::Map::new();
    for (what, path) in files {
        written.insert((*what).into(), json!(path.display().to_string()));
    }
    v["files"] = Value::Object(written);
    emit_with(out, &v, cert_text);
    Ok(())
}

fn not_after(now: OffsetDateTime, days: Option<i64>) -> OffsetDateTime {
    match days {
        Some(d) => now + time::Duration::days(d),
        None => aws_device_not_after(),
    }
}

fn write_issued(
    issued: &IssuedCertificate,
    cert_out: &Path,
    key_out: Option<&Path>,
) -> anyhow::Result<()> {
    if let (Some(path), Some(key)) = (key_out, &issued.private_key_pem) {
        write_secret(path, key)?;
    }
    write_public(cert_out, &issued.cert_pem)
}

/// A key pair and a PKCS#10 request for `CN=<cn>`: `(key PEM, CSR PEM)`.
pub fn make_csr(cn: &str, key_type: KeyType) -> anyhow::Result<(String, String)> {
    let key = match key_type {
        KeyType::Ec => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
        KeyType::Rsa => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
    }
    .map_err(|e| anyhow::anyhow!("key generation failed: {e}"))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .and_then(|c| c.pem())
        .map_err(|e| anyhow::anyhow!("CSR generation failed: {e}"))?;
    Ok((key.serialize_pem(), csr))
}

/// Run `iotcreds pki …`.
pub fn run(args: PkiArgs, out: Output) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    match args.command {
        PkiCommand::Ca {
            cert_out,
            key_out,
            cn,
            org,
            years,
        } => {
            let ca = CertificateAuthority::generate(&cn, &org, now, years)?;
            write_secret(&key_out, &ca.key_pem())?;
            write_public(&cert_out, ca.cert_pem())?;
            report(
                out,
                ca.cert_pem(),
                &[("certificate", &cert_out), ("privateKey", &key_out)],
            )
        }
        PkiCommand::Device {
            ca,
            cn,
            cert_out,
            key_out,
            key_type,
            days,
        } => {
            let kind = match key_type {
                KeyType::Ec => KeyKind::EcdsaP256,
                KeyType::Rsa => KeyKind::Rsa2048,
            };
            let issued = ca
                .load()?
                .issue_device(kind, &cn, now, not_after(now, days))?;
            write_issued(&issued, &cert_out, Some(&key_out))?;
            report(
                out,
                &issued.cert_pem,
                &[("certificate", &cert_out), ("privateKey", &key_out)],
            )
        }
        PkiCommand::Csr {
            cn,
            key_out,
            csr_out,
            key_type,
        } => {
            let (key, csr) = make_csr(&cn, key_type)?;
            write_secret(&key_out, &key)?;
            write_public(&csr_out, &csr)?;
            let v = json!({
                "subject": format!("CN={cn}"),
                "files": {"csr": csr_out.display().to_string(), "privateKey": key_out.display().to_string()},
            });
            emit_with(out, &v, render);
            Ok(())
        }
        PkiCommand::SignCsr {
            ca,
            csr,
            cert_out,
            days,
        } => {
            let csr_pem = read_text(&csr)?;
            let issued = ca.load()?.sign_csr(&csr_pem, now, not_after(now, days))?;
            write_issued(&issued, &cert_out, None)?;
            report(out, &issued.cert_pem, &[("certificate", &cert_out)])
        }
        PkiCommand::VerificationCert {
            ca,
            code,
            cert_out,
            key_out,
        } => {
            let issued = ca.load()?.issue_verification(code.trim(), now)?;
            write_issued(&issued, &cert_out, key_out.as_deref())?;
            let mut files = vec![("certificate", cert_out.as_path())];
            if let Some(k) = &key_out {
                files.push(("privateKey", k.as_path()));
            }
            report(out, &issued.cert_pem, &files)
        }
        PkiCommand::Inspect { file } => {
            let pem = read_text(&file)?;
            let ders = iotcreds_pki::pem_chain_to_der(&pem)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let certs = ders
                .iter()
                .map(|der| CertInfo::from_der(der).map(|i| describe(&i)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let v = json!({ "certificates": certs });
            emit_with(out, &v, |_| {
                certs.iter().map(cert_text).collect::<Vec<_>>().join("\n")
            });
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csr_round_trip_through_a_ca() {
        let now = OffsetDateTime::now_utc();
        let ca = CertificateAuthority::generate("test CA", "test", now, 1).unwrap();
        for kt in [KeyType::Ec, KeyType::Rsa] {
            let (key, csr) = make_csr("sensor-1", kt).unwrap();
            assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
            let issued = ca.sign_csr(&csr, now, not_after(now, Some(30))).unwrap();
            let v = describe_pem(&issued.cert_pem).unwrap();
            assert_eq!(v["subject"], "CN=sensor-1");
            assert_eq!(v["issuer"], "CN=test CA, O=test");
            assert_eq!(v["isCa"], false);
            assert_eq!(v["certificateId"].as_str().unwrap().len(), 64);
        }
        assert_eq!(
            iotcreds_types::time_fmt::to_millis(not_after(now, None)),
            2_524_607_999_000
        );
    }
}
