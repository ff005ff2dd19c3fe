//! `iotcreds endpoint` (IoT DescribeEndpoint) and `iotcreds whoami` (STS GetCallerIdentity).

use clap::Args;
use serde_json::Value;

use super::client::Rest;
use super::config::ClientArgs;
use super::output::{Output, emit_with, fields};

/// `iotcreds endpoint`.
#[derive(Args, Debug)]
pub struct EndpointArgs {
    #[command(flatten)]
    conn: ClientArgs,
    /// Endpoint type: iot:CredentialProvider (devices fetch credentials there), iot:Data-ATS,
    /// iot:Data, iot:Jobs.
    #[arg(long, default_value = "iot:CredentialProvider")]
    endpoint_type: String,
}

/// DescribeEndpoint; prints the host[:port].
pub async fn endpoint(args: EndpointArgs, out: Output) -> anyhow::Result<()> {
    let client = super::connect(&args.conn)?;
    let v = client
        .iot(Rest::get("DescribeEndpoint", "/endpoint").query("endpointType", &args.endpoint_type))
        .await?;
    emit_with(out, &v, |v| {
        v.get("endpointAddress")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    });
    Ok(())
}

/// `iotcreds whoami`.
#[derive(Args, Debug)]
pub struct WhoamiArgs {
    #[command(flatten)]
    conn: ClientArgs,
}

/// GetCallerIdentity; prints account, ARN and user id.
pub async fn whoami(args: WhoamiArgs, out: Output) -> anyhow::Result<()> {
    let client = super::connect(&args.conn)?;
    let v = client.query("sts", "GetCallerIdentity", &[]).await?;
    emit_with(out, &v, |v| fields(v, &["Account", "Arn", "UserId"]));
    Ok(())
}
