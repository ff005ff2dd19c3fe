//! A role alias's session-tag mapping (an iotcreds extension): which facts about the device
//! become the session tags of the credentials issued through the alias, so that one role can
//! serve a fleet with `aws:PrincipalTag/<key>` in its policies (`bucket/${aws:PrincipalTag/site}/*`).
//!
//! A mapping is a list of `tag key → source`, the source named as the AWS IoT policy variable
//! that holds the same fact, so nothing new has to be learnt:
//!
//! | source | value |
//! |---|---|
//! | `iot:Connection.Thing.ThingName` | the thing named in `x-amzn-iot-thingname` (verified attached) |
//! | `iot:Connection.Thing.ThingTypeName` | its thing type |
//! | `iot:Connection.Thing.Attributes[NAME]` | its attribute `NAME` |
//! | `credentials-iot:AwsCertificateId` | the certificate id |
//! | `iot:Certificate.Subject.CommonName` (`.Organization`, `.OrganizationalUnit`, …), `iot:Certificate.Issuer.…`, `iot:Certificate.SerialNumber`, `iot:Certificate.Subject.AlternativeName.DNSName` (`.UniformResourceIdentifier`, …) | the certificate's field, its first value (`…​.2` for the second) |
//!
//! A source with no value for a device (no thing named, no such attribute) gives no tag. A
//! value that is not a valid session-tag value (more than 256 characters, characters AWS does
//! not allow) refuses the issuance rather than dropping the tag: a policy may `Deny` on a tag,
//! and a missing tag would then allow.
//!
//! Pure: no I/O. The control plane checks a mapping with [`check`]; the credentials endpoint
//! evaluates it with [`evaluate`].

use std::collections::BTreeMap;

use iotcreds_types::names::check_tag;

/// Most tags a mapping may produce: AWS's limit on session tags.
pub const MAX_TAGS: usize = 50;

const THING_NAME: &str = "iot:Connection.Thing.ThingName";
const THING_TYPE: &str = "iot:Connection.Thing.ThingTypeName";
const THING_ATTRIBUTE: &str = "iot:Connection.Thing.Attributes[";
const CERTIFICATE_ID: &str = "credentials-iot:AwsCertificateId";
const CERTIFICATE: &str = "iot:Certificate.";

/// Where a tag's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The thing's name.
    ThingName,
    /// The thing's type.
    ThingType,
    /// One of the thing's attributes.
    ThingAttribute(String),
    /// The certificate id.
    CertificateId,
    /// A certificate field, as its IoT policy variable (`iot:Certificate.Subject.CommonName`).
    Certificate(String),
}

/// Parse a source (the names are matched without regard to case, as policy variables are).
pub fn parse_source(s: &str) -> Result<Source, String> {
    let lower = s.to_ascii_lowercase();
    if lower == THING_NAME.to_ascii_lowercase() {
        return Ok(Source::ThingName);
    }
    if lower == THING_TYPE.to_ascii_lowercase() {
        return Ok(Source::ThingType);
    }
    if lower == CERTIFICATE_ID.to_ascii_lowercase() {
        return Ok(Source::CertificateId);
    }
    if lower.starts_with(&THING_ATTRIBUTE.to_ascii_lowercase()) {
        let name = s[THING_ATTRIBUTE.len()..]
            .strip_suffix(']')
            .filter(|n| is_attribute_name(n))
            .ok_or_else(|| {
                format!(
                    "'{s}': a thing attribute source is {THING_ATTRIBUTE}NAME] with NAME as thing attribute names are ([a-zA-Z0-9_.,@/:#-]+, at most 128)"
                )
            })?;
        return Ok(Source::ThingAttribute(name.to_owned()));
    }
    if lower.starts_with(&CERTIFICATE.to_ascii_lowercase()) {
        let field = &s[CERTIFICATE.len()..];
        let ok = !field.is_empty()
            && field.len() <= 128
            && field
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
            && !field.to_ascii_lowercase().ends_with(".list");
        if ok {
            return Ok(Source::Certificate(format!("{CERTIFICATE}{field}")));
        }
        return Err(format!(
            "'{s}': a certificate source is an iot:Certificate.* policy variable with one value, such as iot:Certificate.Subject.CommonName"
        ));
    }
    Err(format!(
        "'{s}' is not a session tag source: use {THING_NAME}, {THING_TYPE}, {THING_ATTRIBUTE}NAME], {CERTIFICATE_ID} or an iot:Certificate.* policy variable"
    ))
}

fn is_attribute_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.,@/:#-".contains(&b))
}

/// Check a mapping: at most [`MAX_TAGS`] entries, valid tag keys, unique without regard to
/// case (as STS requires of session tags), valid sources.
pub fn check(mapping: &BTreeMap<String, String>) -> Result<(), String> {
    if mapping.len() > MAX_TAGS {
        return Err(format!(
            "a role alias maps at most {MAX_TAGS} session tags; got {}",
            mapping.len()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (key, source) in mapping {
        check_tag(key, "").map_err(|e| format!("session tag key '{key}': {e}"))?;
        if key.contains(['\t', '\n']) {
            return Err(format!(
                "session tag key '{key}' contains a control character"
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(format!(
                "session tag key '{key}': keys starting with aws: are reserved"
            ));
        }
        if !seen.insert(key.to_lowercase()) {
            return Err(format!(
                "session tag key '{key}' appears twice (keys are compared without case)"
            ));
        }
        parse_source(source)?;
    }
    Ok(())
}

/// What is known about the device at issuance.
pub struct Device<'a> {
    /// Its certificate id.
    pub certificate_id: &'a str,
    /// The certificate's IoT policy variables (`CertificateInfo::iot_variables`).
    pub certificate_variables: &'a [(String, Vec<String>)],
    /// The thing, when one was named and verified attached.
    pub thing: Option<&'a iotcreds_store::Thing>,
}

/// The session tags `mapping` gives `device`, in key order. An error names the tag whose value
/// is not a valid session-tag value (AWS: 0–256 characters of letters, digits, spaces and
/// `_.:/=+-@`).
pub fn evaluate(
    mapping: &BTreeMap<String, String>,
    device: &Device<'_>,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::with_capacity(mapping.len());
    for (key, source) in mapping {
        // Checked when stored; a source that no longer parses gives nothing.
        let Ok(source) = parse_source(source) else {
            continue;
        };
        let value = match &source {
            Source::ThingName => device.thing.map(|t| t.name.clone()),
            Source::ThingType => device.thing.and_then(|t| t.thing_type.clone()),
            Source::ThingAttribute(name) => {
                device.thing.and_then(|t| t.attributes.get(name).cloned())
            }
            Source::CertificateId => Some(device.certificate_id.to_owned()),
            Source::Certificate(variable) => device
                .certificate_variables
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(variable))
                .and_then(|(_, v)| v.first().cloned()),
        };
        let Some(value) = value else { continue };
        if !is_tag_value(&value) {
            return Err(format!(
                "session tag '{key}' from {source:?}: its value is not a valid session tag value (at most 256 characters of letters, digits, spaces and _.:/=+-@)"
            ));
        }
        out.push((key.clone(), value));
    }
    Ok(out)
}

/// AWS's session-tag value rule: `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`, at most 256 characters.
fn is_tag_value(v: &str) -> bool {
    v.chars().count() <= 256 && iotcreds_types::names::is_tag_text(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn thing() -> iotcreds_store::Thing {
        iotcreds_store::Thing {
            name: "ADCTestThing".into(),
            id: "0".into(),
            thing_type: Some("Sensor".into()),
            attributes: [("site".to_owned(), "osaka".to_owned())].into(),
            version: 1,
            created_at: 0,
            modified_at: 0,
            sessions_revoked_before: None,
        }
    }

    #[test]
    fn sources_parse_as_policy_variables_do() {
        assert_eq!(
            parse_source("iot:Connection.Thing.ThingName"),
            Ok(Source::ThingName)
        );
        assert_eq!(
            parse_source("IOT:connection.thing.thingtypename"),
            Ok(Source::ThingType)
        );
        assert_eq!(
            parse_source("iot:Connection.Thing.Attributes[site]"),
            Ok(Source::ThingAttribute("site".into()))
        );
        assert_eq!(
            parse_source("credentials-iot:AwsCertificateId"),
            Ok(Source::CertificateId)
        );
        assert_eq!(
            parse_source("iot:Certificate.Subject.AlternativeName.DNSName.2"),
            Ok(Source::Certificate(
                "iot:Certificate.Subject.AlternativeName.DNSName.2".into()
            ))
        );
        for bad in [
            "",
            "site",
            "aws:username",
            "iot:Connection.Thing.Attributes[]",
            "iot:Connection.Thing.Attributes[a b]",
            "iot:Connection.Thing.Attributes[site",
            "iot:Certificate.",
            "iot:Certificate.Subject..CommonName",
            "iot:Certificate.Subject.OrganizationalUnit.List",
            "iot:Certificate.Subject.Common Name",
        ] {
            assert!(parse_source(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mappings_are_checked_against_the_session_tag_rules() {
        check(&mapping(&[
            ("site", "iot:Connection.Thing.Attributes[site]"),
            ("device", "iot:Connection.Thing.ThingName"),
        ]))
        .unwrap();
        let too_many: BTreeMap<String, String> = (0..=MAX_TAGS)
            .map(|i| {
                (
                    format!("k{i}"),
                    "credentials-iot:AwsCertificateId".to_owned(),
                )
            })
            .collect();
        assert!(check(&too_many).unwrap_err().contains("at most 50"));
        for (key, source, why) in [
            ("", "iot:Connection.Thing.ThingName", "key"),
            (&*"k".repeat(129), "iot:Connection.Thing.ThingName", "key"),
            ("aws:site", "iot:Connection.Thing.ThingName", "reserved"),
            ("site", "somewhere", "not a session tag source"),
        ] {
            let err = check(&mapping(&[(key, source)])).unwrap_err();
            assert!(err.contains(why), "{key}: {err}");
        }
        let err = check(&mapping(&[
            ("Site", "iot:Connection.Thing.ThingName"),
            ("site", "iot:Connection.Thing.ThingName"),
        ]))
        .unwrap_err();
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn evaluation_takes_each_fact_and_skips_what_is_absent() {
        let vars = vec![
            (
                "iot:Certificate.Subject.CommonName".to_owned(),
                vec!["ADCTestThing".to_owned()],
            ),
            (
                "iot:Certificate.Subject.OrganizationalUnit".to_owned(),
                vec!["plant-7".to_owned()],
            ),
        ];
        let t = thing();
        let m = mapping(&[
            ("site", "iot:Connection.Thing.Attributes[site]"),
            ("floor", "iot:Connection.Thing.Attributes[floor]"),
            ("type", "iot:Connection.Thing.ThingTypeName"),
            ("cn", "iot:certificate.subject.commonname"),
            ("ou", "iot:Certificate.Subject.OrganizationalUnit"),
            ("o", "iot:Certificate.Subject.Organization"),
            ("cert", "credentials-iot:AwsCertificateId"),
        ]);
        let with_thing = Device {
            certificate_id: "ab12",
            certificate_variables: &vars,
            thing: Some(&t),
        };
        assert_eq!(
            evaluate(&m, &with_thing).unwrap(),
            vec![
                ("cert".to_owned(), "ab12".to_owned()),
                ("cn".to_owned(), "ADCTestThing".to_owned()),
                ("ou".to_owned(), "plant-7".to_owned()),
                ("site".to_owned(), "osaka".to_owned()),
                ("type".to_owned(), "Sensor".to_owned()),
            ]
        );
        // No thing named: the thing's facts give no tags.
        let without = Device {
            thing: None,
            ..with_thing
        };
        assert_eq!(evaluate(&m, &without).unwrap().len(), 3);
    }

    #[test]
    fn a_value_that_is_no_tag_value_refuses_instead_of_dropping() {
        let mut t = thing();
        t.attributes.insert("site".into(), "osaka#2".into());
        let t = t;
        let vars = Vec::new();
        let device = Device {
            certificate_id: "ab12",
            certificate_variables: &vars,
            thing: Some(&t),
        };
        let m = mapping(&[("site", "iot:Connection.Thing.Attributes[site]")]);
        assert!(evaluate(&m, &device).unwrap_err().contains("'site'"));
        let mut long = thing();
        long.attributes.insert("site".into(), "x".repeat(257));
        let device = Device {
            thing: Some(&long),
            ..device
        };
        assert!(evaluate(&m, &device).is_err());
        assert!(is_tag_value("Ōsaka plant 7/line:2=a+b-c@d_e"));
        assert!(is_tag_value(""));
    }
}
