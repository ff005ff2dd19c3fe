//! The commands a device runs, written in one place so their shape is easy to change: the
//! `curl` request of the AWS walkthrough, and the `iotcreds device agent` that keeps a device's
//! credentials fresh.
//!
//! Every value is single-quoted for a POSIX shell (names of things and role aliases cannot
//! hold a quote, but a quote is escaped all the same).

/// What a device needs to know.
#[derive(Debug, Clone, Copy)]
pub struct Device<'a> {
    /// The credentials endpoint, `host:port` (`DescribeEndpoint iot:CredentialProvider`).
    pub endpoint: &'a str,
    /// The role alias.
    pub role_alias: &'a str,
    /// The thing name.
    pub thing_name: &'a str,
}

/// The certificate file as the console's download names it.
pub const CERT_FILE: &str = "cert.pem";
/// The private key file.
pub const KEY_FILE: &str = "private.key";
/// The root CA file.
pub const CA_FILE: &str = "root-ca.pem";

/// `s` quoted for a POSIX shell.
pub fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Device<'_> {
    /// The credentials URL.
    pub fn url(&self) -> String {
        format!(
            "https://{}/role-aliases/{}/credentials",
            self.endpoint,
            crate::url::enc(self.role_alias)
        )
    }

    /// The `curl` command of the AWS walkthrough.
    pub fn curl(&self) -> String {
        format!(
            "curl --cacert {CA_FILE} --cert {CERT_FILE} --key {KEY_FILE} \\\n  -H {} \\\n  {}",
            sh(&format!("x-amzn-iot-thingname: {}", self.thing_name)),
            sh(&self.url())
        )
    }

    /// The device agent.
    pub fn agent(&self) -> String {
        format!(
            "iotcreds device agent --cert {CERT_FILE} --key {KEY_FILE} \\\n  --role-alias {} --thing-name {} \\\n  --endpoint {}",
            sh(self.role_alias),
            sh(self.thing_name),
            sh(self.endpoint)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        let d = Device {
            endpoint: "localhost:8443",
            role_alias: "ADCTestRoleAlias",
            thing_name: "ADCTestThing",
        };
        assert_eq!(
            d.curl(),
            "curl --cacert root-ca.pem --cert cert.pem --key private.key \\\n  -H 'x-amzn-iot-thingname: ADCTestThing' \\\n  'https://localhost:8443/role-aliases/ADCTestRoleAlias/credentials'"
        );
        assert_eq!(
            d.agent(),
            "iotcreds device agent --cert cert.pem --key private.key \\\n  --role-alias 'ADCTestRoleAlias' --thing-name 'ADCTestThing' \\\n  --endpoint 'localhost:8443'"
        );
        assert_eq!(sh("a'b"), "'a'\\''b'");
    }
}
