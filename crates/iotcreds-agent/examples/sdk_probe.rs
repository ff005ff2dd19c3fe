//! The seed's S3 GET (allowed) and a PUT (denied) with the AWS SDK for Rust, its credentials
//! from `aws-config`'s default chain: the container provider
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + token) or IMDS (`AWS_EC2_METADATA_SERVICE_ENDPOINT`),
//! whichever the environment selects. A client of the interop tests
//! (`tests/interop/test_agent_sdks.py`), built by `cargo test --workspace`.
//!
//! Usage: `sdk_probe [CALLS]` with `S3_ENDPOINT`, `S3_BUCKET` and `AWS_REGION` set. Each of the
//! CALLS rounds loads a new configuration (so credentials are resolved through the chain
//! again). Prints one JSON line: `{"get", "put", "errors", "accessKeyId"}`.

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::ProvideCredentials as _;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let endpoint = std::env::var("S3_ENDPOINT").expect("S3_ENDPOINT");
    let bucket = std::env::var("S3_BUCKET").expect("S3_BUCKET");
    let (mut get, mut put, mut errors, mut akid) = (None, None, 0, None);
    for i in 0..calls {
        let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
        if let Some(p) = shared.credentials_provider() {
            match p.provide_credentials().await {
                Ok(c) => akid = Some(c.access_key_id().to_owned()),
                Err(e) => {
                    errors += 1;
                    eprintln!("call {i}: credentials: {e:?}");
                    continue;
                }
            }
        }
        let conf = aws_sdk_s3::config::Builder::from(&shared)
            .endpoint_url(&endpoint)
            .force_path_style(true)
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(conf);
        match s3.get_object().bucket(&bucket).key("test.txt").send().await {
            Ok(o) => match o.body.collect().await {
                Ok(b) => get = Some(String::from_utf8_lossy(&b.into_bytes()).into_owned()),
                Err(e) => {
                    errors += 1;
                    eprintln!("call {i}: body: {e}");
                }
            },
            Err(e) => {
                errors += 1;
                eprintln!("call {i}: GetObject: {e:?}");
            }
        }
        if i == 0 {
            let r = s3
                .put_object()
                .bucket(&bucket)
                .key("denied.txt")
                .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
                .send()
                .await;
            put = Some(match r {
                Ok(_) => "allowed".to_owned(),
                Err(e) => e
                    .as_service_error()
                    .and_then(|s| {
                        aws_sdk_s3::error::ProvideErrorMetadata::code(s).map(str::to_owned)
                    })
                    .unwrap_or_else(|| format!("{e:?}")),
            });
        }
    }
    println!(
        "{}",
        serde_json::json!({"get": get, "put": put, "errors": errors, "accessKeyId": akid})
    );
}
