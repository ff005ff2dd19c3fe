//! `iotcreds cert …` (device certificates) and `iotcreds ca …` (CA certificates).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use iotcreds_types::names::ValidationError;
use serde_json::{Map, Value, json};

use super::client::{Client, Rest, encode};
use super::config::ClientArgs;
use super::output::{Output, emit, emit_message, emit_with, fields, list_table};
use super::{invalid, read_text, write_public, write_secret};

/// A certificate id (64 hex digits, lowercased) from an id or a `…:cert/<id>` or
/// `…:cacert/<id>` ARN.
pub fn certificate_id(arg: &str) -> anyhow::Result<String> {
    let id = match arg.strip_prefix("arn:") {
        Some(_) => arg.rsplit_once('/').map_or(arg, |(_, id)| id),
        None => arg,
    };
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(ValidationError::new(
            "certificateId",
            arg,
            "Member must have length 64 and satisfy regular expression pattern: (0x)?[a-fA-F0-9]+",
        )));
    }
    Ok(id.to_ascii_lowercase())
}

/// The ARN of a certificate given by id or ARN (an id is looked up with DescribeCertificate,
/// which also checks that it exists).
pub async fn certificate_arn(client: &Client, arg: &str) -> anyhow::Result<String> {
    if arg.starts_with("arn:") && arg.contains(":cert/") {
        return Ok(arg.to_owned());
    }
    let id = certificate_id(arg)?;
    let v = client
        .iot(Rest::get(
            "DescribeCertificate",
            format!("/certificates/{id}"),
        ))
        .await?;
    v.pointer("/certificateDescription/certificateArn")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("DescribeCertificate answered without a certificateArn"))
}

/// `iotcreds cert`.
#[derive(Args, Debug)]
pub struct CertArgs {
    #[command(flatten)]
    conn: ClientArgs,
    #[command(subcommand)]
    command: CertCommand,
}

#[derive(Subcommand, Debug)]
enum CertCommand {
    /// Create a key pair and a certificate signed by the server's CA
    /// (CreateKeysAndCertificate). The private key is returned only once.
    Create {
        /// Make the certificate ACTIVE (otherwise INACTIVE).
        #[arg(long)]
        active: bool,
        /// Write the certificate (PEM) here.
        #[arg(long, value_name = "FILE")]
        cert_out: Option<PathBuf>,
        /// Write the private key (PEM, mode 0600) here; required unless --output json.
        #[arg(long, value_name = "FILE")]
        key_out: Option<PathBuf>,
        /// Write the public key (PEM) here.
        #[arg(long, value_name = "FILE")]
        public_key_out: Option<PathBuf>,
    },
    /// Have the server's CA sign a certificate signing request (CreateCertificateFromCsr).
    FromCsr {
        /// The CSR (PEM), e.g. from `iotcreds pki csr`.
        #[arg(long, value_name = "FILE")]
        csr: PathBuf,
        /// Make the certificate ACTIVE.
        #[arg(long)]
        active: bool,
        /// Write the certificate (PEM) here.
        #[arg(long, value_name = "FILE")]
        cert_out: Option<PathBuf>,
    },
    /// Register a certificate issued elsewhere (RegisterCertificate, or
    /// RegisterCertificateWithoutCA with --without-ca).
    Register {
        /// The device certificate (PEM).
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// The issuing CA's certificate (PEM), if registered.
        #[arg(long, value_name = "FILE", conflicts_with = "without_ca")]
        ca_cert: Option<PathBuf>,
        /// Make the certificate ACTIVE.
        #[arg(long)]
        active: bool,
        /// Register without a registered CA (SNI_ONLY mode).
        #[arg(long)]
        without_ca: bool,
    },
    /// Change a certificate's status (UpdateCertificate).
    SetStatus {
        /// Certificate id or ARN.
        cert: String,
        /// New status.
        #[arg(value_parser = ["ACTIVE", "INACTIVE", "REVOKED"], ignore_case = true)]
        status: String,
    },
    /// Show a certificate (DescribeCertificate).
    Describe {
        /// Certificate id or ARN.
        cert: String,
        /// Print only the certificate PEM.
        #[arg(long)]
        pem: bool,
    },
    /// List certificates (ListCertificates, or ListCertificatesByCA with --ca; every page).
    List {
        /// Only certificates issued by this registered CA (id or ARN).
        #[arg(long, value_name = "CA_ID")]
        ca: Option<String>,
    },
    /// Delete an INACTIVE or REVOKED certificate (DeleteCertificate).
    Delete {
        /// Certificate id or ARN.
        cert: String,
        /// Delete even if policies are attached.
        #[arg(long)]
        force: bool,
    },
}

/// Run `iotcreds cert …`.
pub async fn run(args: CertArgs, out: Output) -> anyhow::Result<()> {
    if let CertCommand::Create { key_out: None, .. } = &args.command
        && out == Output::Text
    {
        anyhow::bail!(
            "give --key-out FILE: the private key is returned only once (or use --output json)"
        );
    }
    match &args.command {
        CertCommand::SetStatus { cert, .. }
        | CertCommand::Describe { cert, .. }
        | CertCommand::Delete { cert, .. } => {
            certificate_id(cert)?;
        }
        _ => {}
    }
    let client = super::connect(&args.conn)?;
    match args.command {
        CertCommand::Create {
            active,
            cert_out,
            key_out,
            public_key_out,
        } => {
            let req = Rest::post("CreateKeysAndCertificate", "/keys-and-certificate")
                .query("setAsActive", active);
            let mut v = client.iot(req).await?;
            let mut notes = Vec::new();
            if let Some(path) = &key_out {
                let key = v
                    .pointer("/keyPair/PrivateKey")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow::anyhow!("the answer carries no private key"))?;
                write_secret(path, key)?;
                notes.push(format!("private key: {} (mode 0600)", path.display()));
                if let Some(pair) = v.get_mut("keyPair").and_then(Value::as_object_mut) {
                    pair.remove("PrivateKey");
                }
            }
            if let Some(path) = &public_key_out {
                let key = v
                    .pointer("/keyPair/PublicKey")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                write_public(path, key)?;
                notes.push(format!("public key: {}", path.display()));
            }
            notes.extend(write_cert(&v, cert_out.as_ref())?);
            let status = if active { "ACTIVE" } else { "INACTIVE" };
            emit_with(out, &v, |v| created_text(v, status, &notes));
        }
        CertCommand::FromCsr {
            csr,
            active,
            cert_out,
        } => {
            let pem = read_text(&csr)?;
            let req = Rest::post("CreateCertificateFromCsr", "/certificates")
                .query("setAsActive", active)
                .json(json!({ "certificateSigningRequest": pem }));
            let v = client.iot(req).await?;
            let notes = write_cert(&v, cert_out.as_ref())?;
            let status = if active { "ACTIVE" } else { "INACTIVE" };
            emit_with(out, &v, |v| created_text(v, status, &notes));
        }
        CertCommand::Register {
            cert,
            ca_cert,
            active,
            without_ca,
        } => {
            let mut body = Map::new();
            body.insert("certificatePem".into(), Value::String(read_text(&cert)?));
            if active {
                body.insert("status".into(), Value::String("ACTIVE".into()));
            }
            let req = if without_ca {
                Rest::post(
                    "RegisterCertificateWithoutCA",
                    "/certificate/register-no-ca",
                )
            } else {
                if let Some(ca) = &ca_cert {
                    body.insert("caCertificatePem".into(), Value::String(read_text(ca)?));
                }
                Rest::post("RegisterCertificate", "/certificate/register")
                    .query_opt("setAsActive", active.then_some(true))
            };
            let v = client.iot(req.json(Value::Object(body))).await?;
            let status = if active { "ACTIVE" } else { "INACTIVE" };
            emit_with(out, &v, |v| created_text(v, status, &[]));
        }
        CertCommand::SetStatus { cert, status } => {
            let id = certificate_id(&cert)?;
            let status = status.to_ascii_uppercase();
            let req = Rest::put("UpdateCertificate", format!("/certificates/{id}"))
                .query("newStatus", &status);
            let v = client.iot(req).await?;
            emit_message(out, &v, &format!("Certificate {id} is now {status}."));
        }
        CertCommand::Describe { cert, pem } => {
            let id = certificate_id(&cert)?;
            let v = client
                .iot(Rest::get(
                    "DescribeCertificate",
                    format!("/certificates/{id}"),
                ))
                .await?;
            if pem {
                emit_with(out, &v, |v| {
                    v.pointer("/certificateDescription/certificatePem")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                });
            } else {
                emit(out, &v);
            }
        }
        CertCommand::List { ca } => {
            let req = match ca {
                Some(ca) => Rest::get(
                    "ListCertificatesByCA",
                    format!("/certificates-by-ca/{}", certificate_id(&ca)?),
                ),
                None => Rest::get("ListCertificates", "/certificates"),
            };
            let v = client
                .iot_all(req, "certificates", "nextMarker", "marker")
                .await?;
            emit_with(out, &v, certificate_table);
        }
        CertCommand::Delete { cert, force } => {
            let id = certificate_id(&cert)?;
            let req = Rest::delete("DeleteCertificate", format!("/certificates/{id}"))
                .query_opt("forceDelete", force.then_some(true));
            let v = client.iot(req).await?;
            emit_message(out, &v, &format!("Certificate {id} deleted."));
        }
    }
    Ok(())
}

/// Write `certificatePem` of an answer to `path`, if given; the note to print.
fn write_cert(v: &Value, path: Option<&PathBuf>) -> anyhow::Result<Vec<String>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let pem = v
        .get("certificatePem")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("the answer carries no certificatePem"))?;
    write_public(path, pem)?;
    Ok(vec![format!("certificate: {}", path.display())])
}

fn certificate_table(v: &Value) -> String {
    list_table(
        v,
        "certificates",
        &["certificateId", "status", "certificateMode", "creationDate"],
    )
}

fn created_text(v: &Value, status: &str, notes: &[String]) -> String {
    let mut s = fields(v, &["certificateId", "certificateArn"]);
    s.push_str(&format!("status: {status}\n"));
    for n in notes {
        s.push_str(n);
        s.push('\n');
    }
    s
}

/// `iotcreds ca`.
#[derive(Args, Debug)]
pub struct CaArgs {
    #[command(flatten)]
    conn: ClientArgs,
    #[command(subcommand)]
    command: CaCommand,
}

#[derive(Subcommand, Debug)]
enum CaCommand {
    /// Print the registration code to put in a verification certificate's CN
    /// (GetRegistrationCode).
    RegistrationCode,
    /// Register a CA certificate (RegisterCACertificate).
    Register {
        /// The CA certificate (PEM).
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// A certificate signed by the CA with the registration code as CN (proves possession
        /// of the CA key; see `iotcreds pki verification-cert`).
        #[arg(long, value_name = "FILE", required_unless_present = "sni_only")]
        verification_cert: Option<PathBuf>,
        /// Register in SNI_ONLY mode, without a verification certificate.
        #[arg(long, conflicts_with = "verification_cert")]
        sni_only: bool,
        /// Make the CA ACTIVE.
        #[arg(long)]
        active: bool,
        /// Allow automatic registration of device certificates it issued.
        #[arg(long)]
        allow_auto_registration: bool,
    },
    /// Change a CA certificate's status (UpdateCACertificate).
    SetStatus {
        /// CA certificate id or ARN.
        ca: String,
        /// New status.
        #[arg(value_parser = ["ACTIVE", "INACTIVE"], ignore_case = true)]
        status: String,
    },
    /// Show a CA certificate (DescribeCACertificate).
    Describe {
        /// CA certificate id or ARN.
        ca: String,
    },
    /// List CA certificates (ListCACertificates, every page).
    List,
    /// Delete an INACTIVE CA certificate (DeleteCACertificate).
    Delete {
        /// CA certificate id or ARN.
        ca: String,
    },
    /// Import the CA's certificate revocation list (ImportCACertificateCrl, an iotcreds
    /// extension): its revoked certificates get no more credentials and their sessions end.
    ImportCrl {
        /// CA certificate id or ARN.
        ca: String,
        /// The CRL, PEM or DER (`openssl ca -gencrl` writes PEM).
        crl: PathBuf,
    },
    /// Remove the CA's certificate revocation list (DeleteCACertificateCrl).
    DeleteCrl {
        /// CA certificate id or ARN.
        ca: String,
    },
    /// Set how the CA's devices are checked online (UpdateCACertificateRevocationConfig, an
    /// iotcreds extension): OCSP at issuance, and a CRL fetched on a schedule. Replaces the
    /// whole setting: what is not given is turned off.
    SetRevocation {
        /// CA certificate id or ARN.
        ca: String,
        /// OCSP at issuance: off, fail-open (issue when the responder cannot answer) or
        /// fail-closed (refuse then).
        #[arg(long, default_value = "off", value_parser = ["off", "fail-open", "fail-closed"])]
        ocsp: String,
        /// The OCSP responder to ask (http://), instead of the one each device certificate
        /// names in its Authority Information Access.
        #[arg(long, value_name = "URL")]
        ocsp_responder: Option<String>,
        /// Fetch the CA's CRL from this http:// URL on a schedule.
        #[arg(long, value_name = "URL")]
        crl_url: Option<String>,
    },
}

/// Run `iotcreds ca …`.
pub async fn run_ca(args: CaArgs, out: Output) -> anyhow::Result<()> {
    let id = match &args.command {
        CaCommand::SetStatus { ca, .. }
        | CaCommand::Describe { ca }
        | CaCommand::Delete { ca }
        | CaCommand::ImportCrl { ca, .. }
        | CaCommand::DeleteCrl { ca }
        | CaCommand::SetRevocation { ca, .. } => certificate_id(ca)?,
        _ => String::new(),
    };
    let client = super::connect(&args.conn)?;
    let path = format!("/cacertificate/{}", encode(&id));
    match args.command {
        CaCommand::RegistrationCode => {
            let v = client
                .iot(Rest::get("GetRegistrationCode", "/registrationcode"))
                .await?;
            emit_with(out, &v, |v| {
                v.get("registrationCode")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            });
        }
        CaCommand::Register {
            cert,
            verification_cert,
            sni_only,
            active,
            allow_auto_registration,
        } => {
            let mut body = Map::new();
            body.insert("caCertificate".into(), Value::String(read_text(&cert)?));
            if let Some(vc) = &verification_cert {
                body.insert(
                    "verificationCertificate".into(),
                    Value::String(read_text(vc)?),
                );
            }
            if sni_only {
                body.insert("certificateMode".into(), Value::String("SNI_ONLY".into()));
            }
            let req = Rest::post("RegisterCACertificate", "/cacertificate")
                .query("setAsActive", active)
                .query("allowAutoRegistration", allow_auto_registration)
                .json(Value::Object(body));
            let v = client.iot(req).await?;
            let status = if active { "ACTIVE" } else { "INACTIVE" };
            emit_with(out, &v, |v| created_text(v, status, &[]));
        }
        CaCommand::SetStatus { status, .. } => {
            let status = status.to_ascii_uppercase();
            let req = Rest::put("UpdateCACertificate", path).query("newStatus", &status);
            let v = client.iot(req).await?;
            emit_message(out, &v, &format!("CA certificate {id} is now {status}."));
        }
        CaCommand::Describe { .. } => {
            emit(
                out,
                &client.iot(Rest::get("DescribeCACertificate", path)).await?,
            );
        }
        CaCommand::List => {
            let req = Rest::get("ListCACertificates", "/cacertificates");
            let v = client
                .iot_all(req, "certificates", "nextMarker", "marker")
                .await?;
            emit_with(out, &v, certificate_table);
        }
        CaCommand::Delete { .. } => {
            let v = client
                .iot(Rest::delete("DeleteCACertificate", path))
                .await?;
            emit_message(out, &v, &format!("CA certificate {id} deleted."));
        }
        CaCommand::ImportCrl { crl, .. } => {
            let bytes = std::fs::read(&crl)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", crl.display()))?;
            let der = iotcreds_pki::crl::crl_der(&bytes)?;
            let pem = iotcreds_pki::crl::to_pem(&der);
            let req = Rest::put("ImportCACertificateCrl", format!("{path}/crl"))
                .json(serde_json::json!({ "crlPem": pem }));
            let v = client.iot(req).await?;
            let revoked = v
                .pointer("/iotcredsCrl/revokedCount")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            emit_message(
                out,
                &v,
                &format!("CRL imported for CA certificate {id}: {revoked} revoked."),
            );
        }
        CaCommand::DeleteCrl { .. } => {
            let v = client
                .iot(Rest::delete(
                    "DeleteCACertificateCrl",
                    format!("{path}/crl"),
                ))
                .await?;
            emit_message(out, &v, &format!("CRL of CA certificate {id} removed."));
        }
        CaCommand::SetRevocation {
            ocsp,
            ocsp_responder,
            crl_url,
            ..
        } => {
            let mode = ocsp.to_ascii_uppercase().replace('-', "_");
            let req = Rest::put(
                "UpdateCACertificateRevocationConfig",
                format!("{path}/revocation-config"),
            )
            .json(serde_json::json!({
                "ocsp": mode,
                "ocspResponderUrl": ocsp_responder,
                "crlUrl": crl_url,
            }));
            let v = client.iot(req).await?;
            let fetch = match &crl_url {
                Some(url) => format!("CRL fetched from {url}"),
                None => "no CRL fetched".to_owned(),
            };
            emit_message(
                out,
                &v,
                &format!("CA certificate {id}: OCSP {ocsp}, {fetch}."),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_ids_from_ids_and_arns() {
        let id = "AB".repeat(32);
        assert_eq!(certificate_id(&id).unwrap(), "ab".repeat(32));
        let arn = format!(
            "arn:aws:iot:ap-northeast-1:123456789012:cert/{}",
            "cd".repeat(32)
        );
        assert_eq!(certificate_id(&arn).unwrap(), "cd".repeat(32));
        let err = certificate_id("nothex").unwrap_err().to_string();
        assert!(
            err.contains("at 'certificateId'") && err.contains("length 64"),
            "{err}"
        );
        assert!(certificate_id(&"g".repeat(64)).is_err());
    }
}
