//! What iotcreds needs to know about a certificate, read with x509-parser.

use x509_parser::der_parser::oid::Oid;
use x509_parser::prelude::*;

use crate::PkiError;

/// The certificate id AWS IoT uses: lowercase hex SHA-256 of the DER encoding.
pub fn certificate_id(der: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der))
}

/// Subject alternative names, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AltNames {
    /// `DNSName`.
    pub dns: Vec<String>,
    /// `RFC822Name` (e-mail).
    pub email: Vec<String>,
    /// `UniformResourceIdentifier`.
    pub uri: Vec<String>,
    /// `IPAddress`, in text form.
    pub ip: Vec<String>,
    /// `DirectoryName`, as an RFC 4514 string.
    pub directory: Vec<String>,
}

/// A parsed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The DER encoding.
    pub der: Vec<u8>,
    /// Lowercase hex SHA-256 of `der`.
    pub id: String,
    /// The subject as an RFC 4514 string.
    pub subject_dn: String,
    /// The issuer as an RFC 4514 string.
    pub issuer_dn: String,
    /// Subject attributes in IoT's names (`CommonName`, `Organization`, ...), in order.
    pub subject: Vec<(&'static str, String)>,
    /// Issuer attributes in IoT's names.
    pub issuer: Vec<(&'static str, String)>,
    /// Serial number, lowercase hex without leading zero bytes.
    pub serial_hex: String,
    /// notBefore, ms since the epoch.
    pub not_before_ms: i64,
    /// notAfter, ms since the epoch.
    pub not_after_ms: i64,
    /// basicConstraints CA:TRUE.
    pub is_ca: bool,
    /// Subject alternative names.
    pub sans: AltNames,
    /// SubjectPublicKeyInfo, DER.
    pub public_key_der: Vec<u8>,
}

/// IoT policy variable names of the X.509 attributes (`iot:Certificate.Subject.<name>`).
fn attribute_name(oid: &Oid<'_>) -> Option<&'static str> {
    Some(match oid.to_id_string().as_str() {
        "2.5.4.3" => "CommonName",
        "2.5.4.6" => "Country",
        "2.5.4.10" => "Organization",
        "2.5.4.11" => "OrganizationalUnit",
        "2.5.4.8" => "State",
        "2.5.4.7" => "Locality",
        "2.5.4.5" => "SerialNumber",
        "2.5.4.12" => "Title",
        "2.5.4.4" => "Surname",
        "2.5.4.42" => "GivenName",
        "2.5.4.43" => "Initials",
        "2.5.4.65" => "Pseudonym",
        "2.5.4.44" => "GenerationQualifier",
        "2.5.4.46" => "DistinguishedNameQualifier",
        _ => return None,
    })
}

fn attributes(name: &X509Name<'_>) -> Vec<(&'static str, String)> {
    name.iter_attributes()
        .filter_map(|a| Some((attribute_name(a.attr_type())?, a.as_str().ok()?.to_owned())))
        .collect()
}

impl CertInfo {
    /// Parse the first certificate of a PEM text.
    pub fn from_pem(pem: &str) -> Result<Self, PkiError> {
        Self::from_der(&crate::pem_to_der(pem)?)
    }

    /// Parse a DER certificate. Trailing bytes are refused.
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        let (rest, cert) = parse_x509_certificate(der).map_err(|_| {
            PkiError::Malformed("The certificate is not a valid X.509 certificate".into())
        })?;
        if !rest.is_empty() {
            return Err(PkiError::Malformed(
                "The certificate has trailing data".into(),
            ));
        }
        let mut sans = AltNames::default();
        if let Ok(Some(ext)) = cert.subject_alternative_name() {
            for name in &ext.value.general_names {
                match name {
                    GeneralName::DNSName(s) => sans.dns.push((*s).to_owned()),
                    GeneralName::RFC822Name(s) => sans.email.push((*s).to_owned()),
                    GeneralName::URI(s) => sans.uri.push((*s).to_owned()),
                    GeneralName::IPAddress(b) => {
                        if let Some(ip) = ip_text(b) {
                            sans.ip.push(ip);
                        }
                    }
                    GeneralName::DirectoryName(n) => sans.directory.push(n.to_string()),
                    _ => {}
                }
            }
        }
        let serial = cert.raw_serial();
        let first = serial
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(serial.len().saturating_sub(1));
        Ok(CertInfo {
            der: der.to_vec(),
            id: certificate_id(der),
            subject_dn: cert.subject().to_string(),
            issuer_dn: cert.issuer().to_string(),
            subject: attributes(cert.subject()),
            issuer: attributes(cert.issuer()),
            serial_hex: hex::encode(&serial[first..]),
            not_before_ms: cert.validity().not_before.timestamp().saturating_mul(1000),
            not_after_ms: cert.validity().not_after.timestamp().saturating_mul(1000),
            is_ca: cert.is_ca(),
            sans,
            public_key_der: cert.public_key().raw.to_vec(),
        })
    }

    /// Whether `now_ms` lies within notBefore..=notAfter.
    pub fn is_valid_at(&self, now_ms: i64) -> bool {
        self.not_before_ms <= now_ms && now_ms <= self.not_after_ms
    }

    /// The public key as a `PUBLIC KEY` PEM.
    pub fn public_key_pem(&self) -> String {
        crate::der_to_pem(&self.public_key_der).replace("CERTIFICATE", "PUBLIC KEY")
    }

    /// The certificate's IoT policy variables (`iot:Certificate.*`), as AWS IoT defines them:
    /// `Subject.<attr>`, `Issuer.<attr>`, `SerialNumber`, and the alternative names
    /// `Subject.AlternativeName.<kind>`. A multi-valued attribute also gives `<key>.1`..`.5`
    /// (1-based) and `<key>.List` (all values); the plain key is its first value.
    /// Values over 1024 characters are left out, as AWS does.
    pub fn iot_variables(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        let mut push = |key: String, values: Vec<String>| {
            let values: Vec<String> = values
                .into_iter()
                .filter(|v| v.len() <= 1024)
                .take(5)
                .collect();
            if values.is_empty() {
                return;
            }
            if values.len() > 1 {
                for (i, v) in values.iter().enumerate() {
                    out.push((format!("{key}.{}", i + 1), vec![v.clone()]));
                }
            }
            out.push((format!("{key}.List"), values.clone()));
            out.push((key, vec![values[0].clone()]));
        };
        for (prefix, attrs) in [("Subject", &self.subject), ("Issuer", &self.issuer)] {
            let mut names: Vec<&str> = attrs.iter().map(|(n, _)| *n).collect();
            names.dedup();
            for name in names {
                let values = attrs
                    .iter()
                    .filter(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
                    .collect();
                push(format!("iot:Certificate.{prefix}.{name}"), values);
            }
        }
        push(
            "iot:Certificate.SerialNumber".into(),
            vec![self.serial_hex.clone()],
        );
        let alt = "iot:Certificate.Subject.AlternativeName";
        push(format!("{alt}.DNSName"), self.sans.dns.clone());
        push(format!("{alt}.RFC822Name"), self.sans.email.clone());
        push(
            format!("{alt}.UniformResourceIdentifier"),
            self.sans.uri.clone(),
        );
        push(format!("{alt}.IPAddress"), self.sans.ip.clone());
        push(format!("{alt}.DirectoryName"), self.sans.directory.clone());
        out
    }
}

fn ip_text(b: &[u8]) -> Option<String> {
    match b.len() {
        4 => Some(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
        16 => {
            let arr: [u8; 16] = b.try_into().ok()?;
            Some(std::net::Ipv6Addr::from(arr).to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::{CertificateAuthority, KeyKind, aws_device_not_after};

    #[test]
    fn id_is_sha256_of_der_and_variables_resolve() {
        let now = ::time::OffsetDateTime::now_utc();
        let ca =
            CertificateAuthority::generate("iotcreds root CA", "Example Corp", now, 1).unwrap();
        let dev = ca
            .issue_device(
                KeyKind::EcdsaP256,
                "ADCTestThing",
                now,
                aws_device_not_after(),
            )
            .unwrap();
        let info = CertInfo::from_pem(&dev.cert_pem).unwrap();
        assert_eq!(info.id, certificate_id(&dev.cert_der));
        assert_eq!(info.id.len(), 64);
        assert!(info.is_valid_at(crate::tests_now_ms()));
        let vars = info.iot_variables();
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(
            get("iot:Certificate.Subject.CommonName"),
            Some(vec!["ADCTestThing".to_string()])
        );
        assert_eq!(
            get("iot:Certificate.Issuer.Organization"),
            Some(vec!["Example Corp".to_string()])
        );
        assert_eq!(
            get("iot:Certificate.SerialNumber"),
            Some(vec![info.serial_hex.clone()])
        );
        assert_eq!(get("iot:Certificate.Subject.AlternativeName.DNSName"), None);
        assert!(CertInfo::from_der(b"not a certificate").is_err());
        let mut trailing = dev.cert_der.clone();
        trailing.push(0);
        assert!(CertInfo::from_der(&trailing).is_err());
    }
}
