//! PKCS#11 URIs (RFC 7512): which module, token and object hold the device key, and where its
//! PIN comes from. Parsing only; [`super::pkcs11`] does the looking up.

use std::fmt;

/// A parsed `pkcs11:` URI. Every attribute is optional; absent ones match anything.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// `token`: the token label.
    pub token: Option<String>,
    /// `manufacturer`: the token manufacturer.
    pub manufacturer: Option<String>,
    /// `serial`: the token serial number.
    pub serial: Option<String>,
    /// `model`: the token model.
    pub model: Option<String>,
    /// `object`: the object label (CKA_LABEL).
    pub object: Option<String>,
    /// `id`: the object id (CKA_ID), raw bytes.
    pub id: Option<Vec<u8>>,
    /// `type`: the object class (`private`, `public`, `cert`, …).
    pub object_type: Option<String>,
    /// `slot-id`.
    pub slot_id: Option<u64>,
    /// `slot-description`.
    pub slot_description: Option<String>,
    /// `slot-manufacturer`.
    pub slot_manufacturer: Option<String>,
    /// `library-manufacturer`.
    pub library_manufacturer: Option<String>,
    /// `library-description`.
    pub library_description: Option<String>,
    /// `library-version` (`M` or `M.N`).
    pub library_version: Option<String>,
    /// `pin-value` (query): the PIN itself. Never printed.
    pub pin_value: Option<String>,
    /// `pin-source` (query): a file holding the PIN (`file:` URI or path).
    pub pin_source: Option<String>,
    /// `module-name` (query): a module looked up in the system's PKCS#11 module directories.
    pub module_name: Option<String>,
    /// `module-path` (query): the module's path.
    pub module_path: Option<String>,
}

/// Why a URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid PKCS#11 URI: {0}")]
pub struct UriError(String);

fn decode(raw: &str, what: &str) -> Result<Vec<u8>, UriError> {
    // Only a well-formed %XX is an escape (RFC 3986); a stray '%' is an error, not a literal.
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let ok =
                i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit();
            if !ok {
                return Err(UriError(format!("{what}: a '%' that is not a %XX escape")));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(percent_encoding::percent_decode_str(raw).collect())
}

fn text(raw: &str, what: &str) -> Result<String, UriError> {
    String::from_utf8(decode(raw, what)?)
        .map_err(|_| UriError(format!("{what}: not UTF-8 once decoded")))
}

fn set<T>(slot: &mut Option<T>, v: T, name: &str) -> Result<(), UriError> {
    if slot.is_some() {
        return Err(UriError(format!("attribute {name} given twice")));
    }
    *slot = Some(v);
    Ok(())
}

impl Pkcs11Uri {
    /// Whether `s` is meant as a PKCS#11 URI (rather than a file path).
    pub fn is_uri(s: &str) -> bool {
        s.len() >= 7 && s[..7].eq_ignore_ascii_case("pkcs11:")
    }

    /// Parse `pkcs11:path-attrs[?query-attrs]`.
    pub fn parse(s: &str) -> Result<Self, UriError> {
        if !Self::is_uri(s) {
            return Err(UriError("it does not start with pkcs11:".into()));
        }
        let rest = &s[7..];
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        if rest.contains('#') {
            return Err(UriError("a fragment ('#') is not allowed".into()));
        }
        let mut u = Self::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, raw) = attr
                .split_once('=')
                .ok_or_else(|| UriError(format!("path attribute {attr:?} has no '='")))?;
            let name_l = name.to_ascii_lowercase();
            match name_l.as_str() {
                "token" => set(&mut u.token, text(raw, name)?, name)?,
                "manufacturer" => set(&mut u.manufacturer, text(raw, name)?, name)?,
                "serial" => set(&mut u.serial, text(raw, name)?, name)?,
                "model" => set(&mut u.model, text(raw, name)?, name)?,
                "object" => set(&mut u.object, text(raw, name)?, name)?,
                "id" => set(&mut u.id, decode(raw, name)?, name)?,
                "type" => {
                    let t = text(raw, name)?;
                    if !["public", "private", "cert", "secret-key", "data"].contains(&t.as_str()) {
                        return Err(UriError(format!("type={t} is not a PKCS#11 object type")));
                    }
                    set(&mut u.object_type, t, name)?
                }
                "slot-id" => {
                    let v = text(raw, name)?
                        .parse::<u64>()
                        .map_err(|_| UriError("slot-id is not a number".into()))?;
                    set(&mut u.slot_id, v, name)?
                }
                "slot-description" => set(&mut u.slot_description, text(raw, name)?, name)?,
                "slot-manufacturer" => set(&mut u.slot_manufacturer, text(raw, name)?, name)?,
                "library-manufacturer" => set(&mut u.library_manufacturer, text(raw, name)?, name)?,
                "library-description" => set(&mut u.library_description, text(raw, name)?, name)?,
                "library-version" => set(&mut u.library_version, text(raw, name)?, name)?,
                n if n.starts_with("x-") => {}
                _ => return Err(UriError(format!("unknown path attribute {name}"))),
            }
        }
        for attr in query.unwrap_or("").split('&').filter(|a| !a.is_empty()) {
            let (name, raw) = attr
                .split_once('=')
                .ok_or_else(|| UriError(format!("query attribute {attr:?} has no '='")))?;
            match name.to_ascii_lowercase().as_str() {
                "pin-value" => set(&mut u.pin_value, text(raw, name)?, name)?,
                "pin-source" => set(&mut u.pin_source, text(raw, name)?, name)?,
                "module-name" => set(&mut u.module_name, text(raw, name)?, name)?,
                "module-path" => set(&mut u.module_path, text(raw, name)?, name)?,
                n if n.starts_with("x-") => {}
                _ => return Err(UriError(format!("unknown query attribute {name}"))),
            }
        }
        if u.pin_value.is_some() && u.pin_source.is_some() {
            return Err(UriError("give pin-value or pin-source, not both".into()));
        }
        if matches!(u.object_type.as_deref(), Some(t) if t != "private") {
            return Err(UriError(
                "the device key must be a private key (type=private, or no type)".into(),
            ));
        }
        Ok(u)
    }
}

/// The URI without the PIN (`pin-value=` is shown as `***`), for logs and errors.
impl fmt::Display for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~')
            .remove(b'/');
        let enc = |v: &[u8]| percent_encoding::percent_encode(v, SET).to_string();
        let mut path = Vec::new();
        let mut add = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                path.push(format!("{k}={}", enc(v.as_bytes())));
            }
        };
        add("token", &self.token);
        add("manufacturer", &self.manufacturer);
        add("serial", &self.serial);
        add("model", &self.model);
        add("slot-description", &self.slot_description);
        add("slot-manufacturer", &self.slot_manufacturer);
        add("object", &self.object);
        add("type", &self.object_type);
        if let Some(id) = &self.slot_id {
            path.push(format!("slot-id={id}"));
        }
        if let Some(id) = &self.id {
            path.push(format!("id={}", enc(id)));
        }
        let mut query = Vec::new();
        if self.pin_value.is_some() {
            query.push("pin-value=***".to_owned());
        }
        if let Some(v) = &self.pin_source {
            query.push(format!("pin-source={}", enc(v.as_bytes())));
        }
        if let Some(v) = &self.module_name {
            query.push(format!("module-name={}", enc(v.as_bytes())));
        }
        if let Some(v) = &self.module_path {
            query.push(format!("module-path={}", enc(v.as_bytes())));
        }
        write!(f, "pkcs11:{}", path.join(";"))?;
        if !query.is_empty() {
            write!(f, "?{}", query.join("&"))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of RFC 7512 section 3.4.
    #[test]
    fn rfc7512_examples() {
        assert_eq!(Pkcs11Uri::parse("pkcs11:").unwrap(), Pkcs11Uri::default());
        let u = Pkcs11Uri::parse("pkcs11:object=my-pubkey;type=private").unwrap();
        assert_eq!(u.object.as_deref(), Some("my-pubkey"));
        let u = Pkcs11Uri::parse(
            "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=private;id=%69%95%3E%5C%F4%BD%EC%91",
        );
        // type=private with object named "my-certificate": fine, it is only a label.
        let u = u.unwrap();
        assert_eq!(u.token.as_deref(), Some("The Software PKCS#11 Softtoken"));
        assert_eq!(u.manufacturer.as_deref(), Some("Snake Oil, Inc."));
        assert_eq!(
            u.id.as_deref(),
            Some(&[0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91][..])
        );
        let u = Pkcs11Uri::parse(
            "pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin",
        )
        .unwrap();
        assert_eq!(u.pin_value.as_deref(), Some("the-pin"));
        let u = Pkcs11Uri::parse("pkcs11:slot-description=Sun%20Metaslot").unwrap();
        assert_eq!(u.slot_description.as_deref(), Some("Sun Metaslot"));
        let u = Pkcs11Uri::parse(
            "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23",
        )
        .unwrap();
        assert_eq!(u.library_version.as_deref(), Some("1.23"));
        let u = Pkcs11Uri::parse(
            "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=private",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("A name with a substring %;"));
        let u = Pkcs11Uri::parse(
            "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=private",
        )
        .unwrap();
        assert_eq!(
            u.token.as_deref(),
            Some("Name with a small A with acute: á")
        );
        let u = Pkcs11Uri::parse(
            "pkcs11:token=my-token;object=my-certificate;type=private;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b",
        );
        // Unknown non-"x-" attributes are refused rather than silently ignored.
        assert!(u.is_err());
        let u = Pkcs11Uri::parse(
            "pkcs11:token=my-token;object=my-key;x-vendor=1?pin-source=file:/etc/token_pin&module-name=softhsm2",
        )
        .unwrap();
        assert_eq!(u.pin_source.as_deref(), Some("file:/etc/token_pin"));
        assert_eq!(u.module_name.as_deref(), Some("softhsm2"));
        let u = Pkcs11Uri::parse(
            "pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1",
        )
        .unwrap();
        assert_eq!(u.module_path.as_deref(), Some("/mnt/libmypkcs11.so.1"));
    }

    #[test]
    fn refusals() {
        for bad in [
            "file:/x",
            "pkcs11:token",
            "pkcs11:token=a;token=b",
            "pkcs11:type=cert",
            "pkcs11:type=banana",
            "pkcs11:slot-id=x",
            "pkcs11:object=%zz",
            "pkcs11:object=50%",
            "pkcs11:object=a#frag",
            "pkcs11:object=a?pin-value=1&pin-source=/p",
            "pkcs11:object=a?unknown=1",
        ] {
            assert!(Pkcs11Uri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_hides_the_pin() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=t%20x;object=k;id=%01%02?pin-value=1234&module-path=/usr/lib/softhsm/libsofthsm2.so",
        )
        .unwrap();
        let shown = u.to_string();
        assert!(!shown.contains("1234"), "{shown}");
        assert_eq!(
            shown,
            "pkcs11:token=t%20x;object=k;id=%01%02?pin-value=***&module-path=/usr/lib/softhsm/libsofthsm2.so"
        );
        assert_eq!(format!("{u:?}"), shown);
        let again = Pkcs11Uri::parse(&shown.replace("pin-value=***&", "")).unwrap();
        assert_eq!(again.token, u.token);
        assert_eq!(again.id, u.id);
    }
}
