//! `DescribeEndpoint`: where devices connect.
//!
//! `iot:CredentialProvider` names the credentials endpoint; the data-plane types
//! (`iot:Data-ATS`, legacy `iot:Data`, `iot:Jobs`) name the data host. `endpointType` is
//! optional and defaults to `iot:Data`.

use serde_json::json;

use super::errors::invalid;
use super::json::{check_length, ok};
use super::{Reply, Req};

/// Which of iotcreds' hosts serves an endpoint type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    Credentials,
    Data,
}

fn host(endpoint_type: &str) -> Option<Host> {
    match endpoint_type {
        "iot:CredentialProvider" => Some(Host::Credentials),
        "iot:Data" | "iot:Data-ATS" | "iot:Jobs" => Some(Host::Data),
        _ => None,
    }
}

/// `GET /endpoint?endpointType=…`
pub(super) async fn describe_endpoint(req: &Req<'_>) -> Reply {
    let endpoint_type = req.query.get("endpointType").unwrap_or("iot:Data");
    check_length("endpointType", endpoint_type, 0, 128)?;
    let Some(host) = host(endpoint_type) else {
        return Err(invalid(format!(
            "Endpoint type '{endpoint_type}' is not supported. Supported types: iot:Data, iot:Data-ATS, iot:CredentialProvider, iot:Jobs."
        )));
    };
    req.authorize(&crate::Resource::any())?;
    let address = match host {
        Host::Credentials => &req.ctx.credentials_endpoint,
        Host::Data => &req.ctx.data_endpoint,
    };
    Ok(ok(json!({ "endpointAddress": address })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_types() {
        assert_eq!(host("iot:CredentialProvider"), Some(Host::Credentials));
        assert_eq!(host("iot:Data-ATS"), Some(Host::Data));
        assert_eq!(host("iot:Data"), Some(Host::Data));
        assert_eq!(host("iot:Jobs"), Some(Host::Data));
        assert_eq!(host("iot:credentialprovider"), None);
        assert_eq!(host(""), None);
        assert_eq!(host("iot:DeviceAdvisor"), None);
    }
}
