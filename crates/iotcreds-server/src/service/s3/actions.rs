//! S3 operation → IAM action, resource ARN and condition keys, as the S3 authorisation
//! reference gives them ("Actions, resources, and condition keys for Amazon S3" and "Required
//! permissions for Amazon S3 API operations", AWS Service Authorization Reference).
//!
//! Each row is tested in `tests` below. Operations without a row are authorised as
//! `s3:<OperationName>` on the bucket or object ARN, so a policy must name them explicitly.

use iotcreds_policy::Context;

/// What one S3 request asks permission for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The IAM action.
    pub action: String,
    /// The resource ARN.
    pub resource: String,
}

/// `arn:aws:s3:::BUCKET`.
pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// `arn:aws:s3:::BUCKET/KEY`.
pub fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

/// The action and resource of operation `op` on `bucket`/`key`; `version_id` selects the
/// `…Version` actions where S3 has them.
pub fn requirement(
    op: &str,
    bucket: Option<&str>,
    key: Option<&str>,
    version_id: bool,
) -> Requirement {
    let action = match op {
        "ListBuckets" => "s3:ListAllMyBuckets",
        "CreateBucket" => "s3:CreateBucket",
        "DeleteBucket" => "s3:DeleteBucket",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "s3:ListBucket",
        "ListObjectVersions" => "s3:ListBucketVersions",
        "GetBucketLocation" => "s3:GetBucketLocation",
        "ListMultipartUploads" => "s3:ListBucketMultipartUploads",
        "GetObject" | "HeadObject" if version_id => "s3:GetObjectVersion",
        "GetObject" | "HeadObject" => "s3:GetObject",
        "DeleteObject" if version_id => "s3:DeleteObjectVersion",
        "DeleteObject" | "DeleteObjects" => "s3:DeleteObject",
        "PutObject"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload" => "s3:PutObject",
        "AbortMultipartUpload" => "s3:AbortMultipartUpload",
        "ListParts" => "s3:ListMultipartUploadParts",
        "GetBucketVersioning" => "s3:GetBucketVersioning",
        "PutBucketVersioning" => "s3:PutBucketVersioning",
        "GetBucketAcl" => "s3:GetBucketAcl",
        "GetObjectAcl" => "s3:GetObjectAcl",
        "GetBucketPolicy" => "s3:GetBucketPolicy",
        "PutBucketPolicy" => "s3:PutBucketPolicy",
        "DeleteBucketPolicy" => "s3:DeleteBucketPolicy",
        "GetObjectTagging" => "s3:GetObjectTagging",
        "PutObjectTagging" => "s3:PutObjectTagging",
        "GetBucketTagging" => "s3:GetBucketTagging",
        other => return fallback(other, bucket, key),
    };
    let resource = match (op, bucket, key) {
        ("ListBuckets", _, _) => "arn:aws:s3:::*".to_owned(),
        // DeleteObjects is authorised per key by the access hook; the request itself needs
        // nothing beyond the bucket.
        (_, Some(b), Some(k)) if op != "DeleteObjects" => object_arn(b, k),
        (_, Some(b), _) => bucket_arn(b),
        _ => "arn:aws:s3:::*".to_owned(),
    };
    Requirement {
        action: action.to_owned(),
        resource,
    }
}

fn fallback(op: &str, bucket: Option<&str>, key: Option<&str>) -> Requirement {
    let resource = match (bucket, key) {
        (Some(b), Some(k)) => object_arn(b, k),
        (Some(b), None) => bucket_arn(b),
        _ => "arn:aws:s3:::*".to_owned(),
    };
    Requirement {
        action: format!("s3:{op}"),
        resource,
    }
}

/// Add the S3-specific condition keys of a request: `s3:prefix`, `s3:delimiter`, `s3:max-keys`
/// (list operations), `s3:authType`, `s3:signatureversion`, `s3:x-amz-content-sha256`,
/// `s3:x-amz-acl`, `s3:x-amz-server-side-encryption`, `s3:VersionId`, `s3:TlsVersion` is not
/// modelled. `query` is the decoded query string.
pub fn insert_condition_keys(
    ctx: &mut Context,
    op: &str,
    query: &[(String, String)],
    headers: &http::HeaderMap,
    presigned: bool,
) {
    let q = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if matches!(
        op,
        "ListObjects" | "ListObjectsV2" | "ListObjectVersions" | "ListMultipartUploads"
    ) {
        // AWS evaluates s3:prefix as "" when the request has no prefix.
        ctx.insert("s3:prefix", q("prefix").unwrap_or_default());
        if let Some(d) = q("delimiter") {
            ctx.insert("s3:delimiter", d);
        }
        if let Some(m) = q("max-keys") {
            ctx.insert("s3:max-keys", m);
        }
    }
    if let Some(v) = q("versionId") {
        ctx.insert("s3:VersionId", v);
    }
    ctx.insert(
        "s3:authType",
        if presigned {
            "REST-QUERY-STRING"
        } else {
            "REST-HEADER"
        },
    );
    ctx.insert("s3:signatureversion", "AWS4-HMAC-SHA256");
    for (header, key) in [
        ("x-amz-content-sha256", "s3:x-amz-content-sha256"),
        ("x-amz-acl", "s3:x-amz-acl"),
        (
            "x-amz-server-side-encryption",
            "s3:x-amz-server-side-encryption",
        ),
        ("x-amz-metadata-directive", "s3:x-amz-metadata-directive"),
        ("x-amz-storage-class", "s3:x-amz-storage-class"),
    ] {
        if let Some(v) = headers.get(header).and_then(|v| v.to_str().ok()) {
            ctx.insert(key, v.to_owned());
        }
    }
    if let Some(ua) = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        ctx.insert("aws:UserAgent", ua.to_owned());
    }
    if let Some(r) = headers
        .get(http::header::REFERER)
        .and_then(|v| v.to_str().ok())
    {
        ctx.insert("aws:Referer", r.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(op: &str, b: Option<&str>, k: Option<&str>, v: bool) -> (String, String) {
        let r = requirement(op, b, k, v);
        (r.action, r.resource)
    }

    const B: &str = "adc-test-2020-08-26";

    /// One row per operation of the S3 issue, as the S3 authorisation reference maps them.
    #[test]
    fn table() {
        let obj = format!("arn:aws:s3:::{B}/test.txt");
        let bucket = format!("arn:aws:s3:::{B}");
        // (operation, bucket, key, version id given, action, resource)
        type Row<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            bool,
            &'a str,
            &'a str,
        );
        let rows: &[Row<'_>] = &[
            (
                "ListBuckets",
                None,
                None,
                false,
                "s3:ListAllMyBuckets",
                "arn:aws:s3:::*",
            ),
            (
                "CreateBucket",
                Some(B),
                None,
                false,
                "s3:CreateBucket",
                &bucket,
            ),
            ("HeadBucket", Some(B), None, false, "s3:ListBucket", &bucket),
            (
                "DeleteBucket",
                Some(B),
                None,
                false,
                "s3:DeleteBucket",
                &bucket,
            ),
            (
                "GetBucketLocation",
                Some(B),
                None,
                false,
                "s3:GetBucketLocation",
                &bucket,
            ),
            (
                "ListObjectsV2",
                Some(B),
                None,
                false,
                "s3:ListBucket",
                &bucket,
            ),
            (
                "ListObjects",
                Some(B),
                None,
                false,
                "s3:ListBucket",
                &bucket,
            ),
            (
                "ListObjectVersions",
                Some(B),
                None,
                false,
                "s3:ListBucketVersions",
                &bucket,
            ),
            (
                "GetObject",
                Some(B),
                Some("test.txt"),
                false,
                "s3:GetObject",
                &obj,
            ),
            (
                "GetObject",
                Some(B),
                Some("test.txt"),
                true,
                "s3:GetObjectVersion",
                &obj,
            ),
            (
                "HeadObject",
                Some(B),
                Some("test.txt"),
                false,
                "s3:GetObject",
                &obj,
            ),
            (
                "PutObject",
                Some(B),
                Some("test.txt"),
                false,
                "s3:PutObject",
                &obj,
            ),
            (
                "DeleteObject",
                Some(B),
                Some("test.txt"),
                false,
                "s3:DeleteObject",
                &obj,
            ),
            (
                "DeleteObject",
                Some(B),
                Some("test.txt"),
                true,
                "s3:DeleteObjectVersion",
                &obj,
            ),
            (
                "DeleteObjects",
                Some(B),
                None,
                false,
                "s3:DeleteObject",
                &bucket,
            ),
            (
                "CopyObject",
                Some(B),
                Some("test.txt"),
                false,
                "s3:PutObject",
                &obj,
            ),
            (
                "CreateMultipartUpload",
                Some(B),
                Some("test.txt"),
                false,
                "s3:PutObject",
                &obj,
            ),
            (
                "UploadPart",
                Some(B),
                Some("test.txt"),
                false,
                "s3:PutObject",
                &obj,
            ),
            (
                "UploadPartCopy",
                Some(B),
                Some("test.txt"),
                false,
                "s3:PutObject",
                &obj,
            ),
            (
                "CompleteMultipartUpload",
                Some(B),
                Some("test.txt"),
                false,
                "s3:PutObject",
                &obj,
            ),
            (
                "AbortMultipartUpload",
                Some(B),
                Some("test.txt"),
                false,
                "s3:AbortMultipartUpload",
                &obj,
            ),
            (
                "ListParts",
                Some(B),
                Some("test.txt"),
                false,
                "s3:ListMultipartUploadParts",
                &obj,
            ),
            (
                "ListMultipartUploads",
                Some(B),
                None,
                false,
                "s3:ListBucketMultipartUploads",
                &bucket,
            ),
            (
                "GetObjectAttributes",
                Some(B),
                Some("test.txt"),
                false,
                "s3:GetObjectAttributes",
                &obj,
            ),
        ];
        for (op, b, k, v, action, resource) in rows {
            assert_eq!(
                req(op, *b, *k, *v),
                ((*action).to_owned(), (*resource).to_owned()),
                "{op}"
            );
        }
    }

    #[test]
    fn list_condition_keys() {
        let mut ctx = Context::new();
        let query = vec![
            ("prefix".to_owned(), "ADCTestThing/".to_owned()),
            ("delimiter".to_owned(), "/".to_owned()),
            ("max-keys".to_owned(), "10".to_owned()),
        ];
        insert_condition_keys(
            &mut ctx,
            "ListObjectsV2",
            &query,
            &http::HeaderMap::new(),
            false,
        );
        assert!(ctx.get("s3:prefix").is_some());
        assert!(ctx.get("s3:delimiter").is_some());
        assert!(ctx.get("s3:max-keys").is_some());
        assert!(ctx.get("s3:authType").is_some());
        let mut ctx = Context::new();
        insert_condition_keys(&mut ctx, "GetObject", &query, &http::HeaderMap::new(), true);
        assert!(ctx.get("s3:prefix").is_none());
    }
}
