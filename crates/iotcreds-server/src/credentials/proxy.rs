//! Trusted-proxy mode of the credentials endpoint: a TLS-terminating proxy (Envoy, nginx) in
//! front verifies the device's TLS handshake and passes its certificate in a header, on a
//! plain-HTTP listener of its own that answers only the configured proxy addresses.
//!
//! Header formats, both URL-encoded PEM:
//! - Envoy's `x-forwarded-client-cert` (XFCC): `By=…;Hash=…;Cert="-----BEGIN%20CERTIFICATE…"`,
//!   elements separated by `,`. The **last** element is taken: it is the one the proxy next to
//!   us added (configure Envoy with `forward_client_cert_details: SANITIZE_SET`, so a client
//!   cannot send elements of its own).
//! - nginx's `$ssl_client_escaped_cert` in a header of your choice (`proxy_set_header
//!   X-Forwarded-Client-Cert $ssl_client_escaped_cert;`, which also replaces any such header
//!   the client sent); empty when the client sent no certificate.
//!
//! What an attacker costs us: a connection from any other address is answered 403 at once and
//! closed, before any header is parsed; the header is bounded by the request-head limit, and
//! parsing it is a percent-decode and a PEM decode.

use std::net::IpAddr;

use iotcreds_types::percent::{self, Plus};
use ipnet::IpNet;

/// The proxy listener's settings.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// Networks the proxy connects from; every other source is refused.
    pub trusted: Vec<IpNet>,
    /// The header carrying the client certificate (lowercase).
    pub client_cert_header: http::HeaderName,
    /// The header carrying the server name the client asked for (SNI), if configured.
    pub server_name_header: Option<http::HeaderName>,
    /// The header carrying the client's address (the last address of `X-Forwarded-For`), if
    /// configured.
    pub client_addr_header: Option<http::HeaderName>,
}

impl ProxySettings {
    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.trusted.iter().any(|n| n.contains(&ip))
    }
}

/// The client certificate (DER) a header value carries; `Ok(None)` when it carries none (the
/// client sent no certificate), `Err` when it is not a certificate in either format.
pub fn client_certificate(value: &str) -> Result<Option<Vec<u8>>, &'static str> {
    let value = value.trim();
    // XFCC is `key=value` pairs; URL-encoded PEM has no raw `=` (nginx escapes its base64
    // padding as `%3D`).
    let encoded = if value.contains('=') {
        let Some(last) = value.rsplit(',').next() else {
            return Ok(None);
        };
        match xfcc_field(last, "cert") {
            Some(c) => c,
            None => return Ok(None),
        }
    } else {
        value
    };
    if encoded.is_empty() {
        return Ok(None);
    }
    let pem = percent::decode(encoded.as_bytes(), Plus::Literal)
        .ok_or("the client certificate header is not URL-encoded UTF-8")?;
    iotcreds_pki::pem_to_der(&pem)
        .map(Some)
        .map_err(|_| "the client certificate header does not hold a PEM certificate")
}

/// The value of `key` (compared without case) in one XFCC element `k=v;k="v";…`.
fn xfcc_field<'a>(element: &'a str, key: &str) -> Option<&'a str> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"'))
    })
}

/// The client's address from an `X-Forwarded-For`-style value: its last entry (the one the
/// trusted proxy appended).
pub fn client_addr(value: &str) -> Option<IpAddr> {
    value.rsplit(',').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device_pem() -> (String, Vec<u8>) {
        let now = time::OffsetDateTime::now_utc();
        let ca = iotcreds_pki::CertificateAuthority::generate("ADCTestCA", "o", now, 1).unwrap();
        let dev = ca
            .issue_device(
                iotcreds_pki::KeyKind::EcdsaP256,
                "ADCTestThing",
                now,
                iotcreds_pki::ca::aws_device_not_after(),
            )
            .unwrap();
        (iotcreds_pki::der_to_pem(&dev.cert_der), dev.cert_der)
    }

    fn escaped(pem: &str) -> String {
        percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    #[test]
    fn nginx_and_envoy_headers_carry_the_certificate() {
        let (pem, der) = device_pem();
        assert_eq!(
            client_certificate(&escaped(&pem)).unwrap(),
            Some(der.clone())
        );
        // Envoy: the last element is the trusted proxy's own.
        let (other, _) = device_pem();
        let xfcc = format!(
            "By=spiffe://forged;Cert=\"{}\",By=spiffe://envoy;Hash=ab;Cert=\"{}\";Subject=\"CN=ADCTestThing\"",
            escaped(&other),
            escaped(&pem)
        );
        assert_eq!(client_certificate(&xfcc).unwrap(), Some(der));
        // No certificate: nginx's empty value, an XFCC element without Cert.
        assert_eq!(client_certificate("").unwrap(), None);
        assert_eq!(
            client_certificate("By=spiffe://envoy;Hash=ab").unwrap(),
            None
        );
        assert!(client_certificate("not%20a%20certificate").is_err());
        assert!(client_certificate("%FF%FE").is_err());
    }

    #[test]
    fn only_trusted_networks_and_the_last_forwarded_address_count() {
        let s = ProxySettings {
            trusted: vec![
                "127.0.0.1/32".parse().unwrap(),
                "10.0.0.0/8".parse().unwrap(),
            ],
            client_cert_header: http::HeaderName::from_static("x-forwarded-client-cert"),
            server_name_header: None,
            client_addr_header: None,
        };
        assert!(s.trusts("127.0.0.1".parse().unwrap()));
        assert!(s.trusts("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!s.trusts("127.0.0.2".parse().unwrap()));
        assert!(!s.trusts("::1".parse().unwrap()));
        assert_eq!(
            client_addr("203.0.113.9, 198.51.100.7"),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(client_addr("unknown"), None);
    }
}
