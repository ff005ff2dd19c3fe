//! S3 edges as the AWS SDK for Rust exercises them, for the interop tests
//! (`tests/interop/test_s3_rust_sdk.py`): Content-Encoding, tags (header and document), its
//! own ListObjectsV2 paginator, GetObjectAttributes. Built by `cargo test --workspace` beside
//! `sdk_probe`.
//!
//! Usage: `s3_fidelity_probe` with `S3_ENDPOINT`, `S3_BUCKET`, `AWS_REGION` and static
//! credentials in `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` set. Prints one JSON line of what
//! the server answered; the test asserts on it.

use aws_config::BehaviorVersion;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ObjectAttributes, Tag, Tagging};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::var("S3_ENDPOINT")?;
    let bucket = std::env::var("S3_BUCKET")?;
    let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let conf = aws_sdk_s3::config::Builder::from(&shared)
        .endpoint_url(&endpoint)
        .force_path_style(true)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(conf);

    // An upload with a Content-Encoding (kept verbatim) and tags.
    s3.put_object()
        .bucket(&bucket)
        .key("ADCTestThing/rust/gzip.txt")
        .content_encoding("gzip")
        .tagging("site=tokyo&team=fleet%20one")
        .body(ByteStream::from_static(b"compressed, supposedly"))
        .send()
        .await?;
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("ADCTestThing/rust/gzip.txt")
        .send()
        .await?;
    let get = s3
        .get_object()
        .bucket(&bucket)
        .key("ADCTestThing/rust/gzip.txt")
        .send()
        .await?;
    let tag_count = get.tag_count();
    let body = get.body.collect().await?.into_bytes();

    // Tags, through the SDK's own XML.
    s3.put_object_tagging()
        .bucket(&bucket)
        .key("ADCTestThing/rust/gzip.txt")
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("site").value("osaka").build()?)
                .build()?,
        )
        .send()
        .await?;
    let tags: Vec<(String, String)> = s3
        .get_object_tagging()
        .bucket(&bucket)
        .key("ADCTestThing/rust/gzip.txt")
        .send()
        .await?
        .tag_set()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();

    // The SDK's paginator, one key per page.
    for i in 0..3 {
        s3.put_object()
            .bucket(&bucket)
            .key(format!("ADCTestThing/rust/page-{i}.txt"))
            .body(ByteStream::from(vec![b'p'; i + 1]))
            .send()
            .await?;
    }
    let mut pages = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("ADCTestThing/rust/")
        .max_keys(1)
        .into_paginator()
        .send();
    let mut listed = Vec::new();
    let mut page_count = 0;
    while let Some(page) = pages.next().await {
        page_count += 1;
        listed.extend(
            page?
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }

    let attributes = s3
        .get_object_attributes()
        .bucket(&bucket)
        .key("ADCTestThing/rust/page-2.txt")
        .object_attributes(ObjectAttributes::ObjectSize)
        .object_attributes(ObjectAttributes::Etag)
        .send()
        .await?;

    println!(
        "{}",
        serde_json::json!({
            "contentEncoding": head.content_encoding(),
            "body": String::from_utf8_lossy(&body),
            "tagCount": tag_count,
            "tags": tags,
            "listed": listed,
            "pages": page_count,
            "size": attributes.object_size(),
            "etag": attributes.e_tag(),
        })
    );
    Ok(())
}
