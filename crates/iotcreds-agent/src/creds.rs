//! Temporary credentials as the agent holds them, and every shape it hands them out in: the
//! container credentials protocol, IMDS, `credential_process`, the credentials endpoint's own
//! JSON and the shared-credentials file.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A secret string: its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(s: String) -> Self {
        Self(s)
    }
    /// The secret itself (for the answers whose purpose is to hand it out).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One set of temporary credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// `ASIA…`: not secret (it appears in the server's audit log).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token.
    pub session_token: Secret,
    /// The expiration exactly as the credentials endpoint wrote it (RFC 3339).
    pub expiration: String,
    /// The expiration, ms since the epoch.
    pub expiration_ms: i64,
}

/// Why a credentials endpoint answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the credentials endpoint's answer is unusable: {0}")]
pub struct MalformedAnswer(pub String);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

#[derive(Deserialize)]
struct WireBody {
    credentials: Wire,
}

/// Parse an RFC 3339 time to ms since the epoch.
pub fn parse_time_ms(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// An RFC 3339 UTC time with seconds (`2026-01-01T00:00:00Z`).
pub fn format_time_ms(ms: i64) -> String {
    iotcreds_types::time_fmt::iso8601_seconds(ms)
}

impl Credentials {
    /// Parse the credentials endpoint's `{"credentials": {…}}` answer.
    pub fn from_endpoint_json(body: &[u8]) -> Result<Self, MalformedAnswer> {
        let w: WireBody = serde_json::from_slice(body)
            .map_err(|_| MalformedAnswer("not the {\"credentials\": {…}} JSON".into()))?;
        let c = w.credentials;
        let expiration_ms = parse_time_ms(&c.expiration).ok_or_else(|| {
            MalformedAnswer(format!(
                "expiration {:?} is not an RFC 3339 time",
                c.expiration
            ))
        })?;
        if c.access_key_id.is_empty()
            || c.secret_access_key.is_empty()
            || c.session_token.is_empty()
        {
            return Err(MalformedAnswer("an empty credential field".into()));
        }
        Ok(Self {
            access_key_id: c.access_key_id,
            secret_access_key: Secret(c.secret_access_key),
            session_token: Secret(c.session_token),
            expiration: c.expiration,
            expiration_ms,
        })
    }

    /// The credentials endpoint's own JSON.
    pub fn endpoint_json(&self) -> String {
        json!({"credentials": {
            "accessKeyId": self.access_key_id,
            "secretAccessKey": self.secret_access_key.0,
            "sessionToken": self.session_token.0,
            "expiration": self.expiration,
        }})
        .to_string()
    }

    /// The container credentials protocol's body (ECS, Greengrass TES, `fromHttp`).
    pub fn container_json(&self, account_id: Option<&str>) -> String {
        let mut v = json!({
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key.0,
            "Token": self.session_token.0,
            "Expiration": self.expiration,
        });
        if let Some(a) = account_id {
            v["AccountId"] = json!(a);
        }
        v.to_string()
    }

    /// IMDS's `iam/security-credentials/NAME` document.
    pub fn imds_json(&self, last_updated_ms: i64, account_id: Option<&str>) -> String {
        let mut v = json!({
            "Code": "Success",
            "LastUpdated": format_time_ms(last_updated_ms),
            "Type": "AWS-HMAC",
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key.0,
            "Token": self.session_token.0,
            "Expiration": self.expiration,
        });
        if let Some(a) = account_id {
            v["AccountId"] = json!(a);
        }
        v.to_string()
    }

    /// `credential_process` output (Version 1).
    pub fn process_json(&self) -> String {
        json!({
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key.0,
            "SessionToken": self.session_token.0,
            "Expiration": self.expiration,
        })
        .to_string()
    }

    /// Parse the container protocol's body (what the agent serves), for clients of the agent.
    pub fn from_container_json(body: &[u8]) -> Result<Self, MalformedAnswer> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct C {
            access_key_id: String,
            secret_access_key: String,
            token: String,
            expiration: String,
        }
        let c: C = serde_json::from_slice(body)
            .map_err(|_| MalformedAnswer("not the container credentials JSON".into()))?;
        let expiration_ms = parse_time_ms(&c.expiration)
            .ok_or_else(|| MalformedAnswer("expiration is not an RFC 3339 time".into()))?;
        Ok(Self {
            access_key_id: c.access_key_id,
            secret_access_key: Secret(c.secret_access_key),
            session_token: Secret(c.token),
            expiration: c.expiration,
            expiration_ms,
        })
    }

    /// One `[profile]` section of a shared-credentials file.
    pub fn ini_section(&self, profile: &str) -> String {
        format!(
            "[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n# expires {}\n",
            self.access_key_id, self.secret_access_key.0, self.session_token.0, self.expiration
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const BODY: &str = r#"{"credentials":{"accessKeyId":"ASIAEXAMPLE","secretAccessKey":"s/e+c","sessionToken":"tok'en","expiration":"2026-01-01T00:00:00Z"}}"#;

    #[test]
    fn parses_and_renders_every_shape() {
        let c = Credentials::from_endpoint_json(BODY.as_bytes()).unwrap();
        assert_eq!(c.expiration_ms, 1_767_225_600_000);
        let v: Value = serde_json::from_str(&c.endpoint_json()).unwrap();
        assert_eq!(v, serde_json::from_str::<Value>(BODY).unwrap());
        let v: Value = serde_json::from_str(&c.container_json(Some("123456789012"))).unwrap();
        assert_eq!(
            v,
            json!({"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "s/e+c", "Token": "tok'en",
                   "Expiration": "2026-01-01T00:00:00Z", "AccountId": "123456789012"})
        );
        assert!(!c.container_json(None).contains("AccountId"));
        let v: Value = serde_json::from_str(&c.imds_json(1_767_222_000_000, None)).unwrap();
        assert_eq!(v["Code"], "Success");
        assert_eq!(v["Type"], "AWS-HMAC");
        assert_eq!(v["LastUpdated"], "2025-12-31T23:00:00Z");
        assert_eq!(v["Token"], "tok'en");
        let v: Value = serde_json::from_str(&c.process_json()).unwrap();
        assert_eq!(v["Version"], 1);
        assert_eq!(v["SessionToken"], "tok'en");
        let back = Credentials::from_container_json(c.container_json(None).as_bytes()).unwrap();
        assert_eq!(back, c);
        assert!(
            c.ini_section("default")
                .starts_with("[default]\naws_access_key_id = ASIAEXAMPLE\n")
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credentials::from_endpoint_json(BODY.as_bytes()).unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("s/e+c") && !d.contains("tok'en"), "{d}");
    }

    #[test]
    fn refuses_malformed_answers() {
        for bad in [
            "",
            "{}",
            r#"{"credentials":{"accessKeyId":"A","secretAccessKey":"s","sessionToken":"t","expiration":"tomorrow"}}"#,
            r#"{"credentials":{"accessKeyId":"","secretAccessKey":"s","sessionToken":"t","expiration":"2026-01-01T00:00:00Z"}}"#,
        ] {
            assert!(
                Credentials::from_endpoint_json(bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
    }
}
