//! S3 operation → IAM action, resource ARN and condition keys, as the S3 authorisation
//! reference gives them ("Actions, resources, and condition keys for Amazon S3" and "Required
//! permissions for Amazon S3 API operations", AWS Service Authorization Reference).
//!
//! Each row is tested in `tests` below, and every operation s3s routes is driven through the
//! server by the integration test `s3_authz` (generated from s3s's own operation list).
//! Operations without an `s3:` action of their own are asked as `s3:<OperationName>`, so only a
//! policy naming them could allow them.

use iotcreds_policy::Context;

/// What one S3 request asks permission for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The IAM action.
    pub action: String,
    /// The resource ARN.
    pub resource: String,
    /// Further actions on the same resource that must be allowed too (GetObjectAttributes
    /// needs `s3:GetObject` besides `s3:GetObjectAttributes`).
    pub also: Option<&'static str>,
}

/// `arn:aws:s3:::BUCKET`.
pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// `arn:aws:s3:::BUCKET/KEY`.
pub fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

/// The IAM action of operation `op`; `version_id` selects the `…Version…` actions where S3 has
/// them. `None` for an operation S3 does not authorise with an `s3:` action of its own
/// (`CreateSession`, `ListDirectoryBuckets`: S3 Express; `WriteGetObjectResponse`: Object
/// Lambda), which are then asked as `s3:<Operation>` so only a policy naming them could allow
/// them (the backends refuse them anyway).
pub fn action(op: &str, version_id: bool) -> Option<&'static str> {
    let v = version_id;
    Some(match op {
        // Account.
        "ListBuckets" => "s3:ListAllMyBuckets",
        // Buckets.
        "CreateBucket" => "s3:CreateBucket",
        "DeleteBucket" => "s3:DeleteBucket",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "s3:ListBucket",
        "ListObjectVersions" => "s3:ListBucketVersions",
        "ListMultipartUploads" => "s3:ListBucketMultipartUploads",
        "GetBucketLocation" => "s3:GetBucketLocation",
        "GetBucketAcl" => "s3:GetBucketAcl",
        "PutBucketAcl" => "s3:PutBucketAcl",
        "GetBucketCors" => "s3:GetBucketCORS",
        "PutBucketCors" | "DeleteBucketCors" => "s3:PutBucketCORS",
        "GetBucketEncryption" => "s3:GetEncryptionConfiguration",
        "PutBucketEncryption" | "DeleteBucketEncryption" => "s3:PutEncryptionConfiguration",
        "GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => {
            "s3:PutLifecycleConfiguration"
        }
        "GetBucketLogging" => "s3:GetBucketLogging",
        "PutBucketLogging" => "s3:PutBucketLogging",
        "GetBucketNotificationConfiguration" => "s3:GetBucketNotification",
        "PutBucketNotificationConfiguration" => "s3:PutBucketNotification",
        "GetBucketOwnershipControls" => "s3:GetBucketOwnershipControls",
        "PutBucketOwnershipControls" | "DeleteBucketOwnershipControls" => {
            "s3:PutBucketOwnershipControls"
        }
        "GetBucketPolicy" => "s3:GetBucketPolicy",
        "PutBucketPolicy" => "s3:PutBucketPolicy",
        "DeleteBucketPolicy" => "s3:DeleteBucketPolicy",
        "GetBucketPolicyStatus" => "s3:GetBucketPolicyStatus",
        "GetBucketReplication" => "s3:GetReplicationConfiguration",
        "PutBucketReplication" | "DeleteBucketReplication" => "s3:PutReplicationConfiguration",
        "GetBucketRequestPayment" => "s3:GetBucketRequestPayment",
        "PutBucketRequestPayment" => "s3:PutBucketRequestPayment",
        "GetBucketTagging" => "s3:GetBucketTagging",
        "PutBucketTagging" | "DeleteBucketTagging" => "s3:PutBucketTagging",
        "GetBucketVersioning" => "s3:GetBucketVersioning",
        "PutBucketVersioning" => "s3:PutBucketVersioning",
        "GetBucketWebsite" => "s3:GetBucketWebsite",
        "PutBucketWebsite" => "s3:PutBucketWebsite",
        "DeleteBucketWebsite" => "s3:DeleteBucketWebsite",
        "GetObjectLockConfiguration" => "s3:GetBucketObjectLockConfiguration",
        "PutObjectLockConfiguration" => "s3:PutBucketObjectLockConfiguration",
        "GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock",
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "s3:PutBucketPublicAccessBlock",
        "GetBucketAccelerateConfiguration" => "s3:GetAccelerateConfiguration",
        "PutBucketAccelerateConfiguration" => "s3:PutAccelerateConfiguration",
        "GetBucketAnalyticsConfiguration" | "ListBucketAnalyticsConfigurations" => {
            "s3:GetAnalyticsConfiguration"
        }
        "PutBucketAnalyticsConfiguration" | "DeleteBucketAnalyticsConfiguration" => {
            "s3:PutAnalyticsConfiguration"
        }
        "GetBucketIntelligentTieringConfiguration"
        | "ListBucketIntelligentTieringConfigurations" => "s3:GetIntelligentTieringConfiguration",
        "PutBucketIntelligentTieringConfiguration"
        | "DeleteBucketIntelligentTieringConfiguration" => "s3:PutIntelligentTieringConfiguration",
        "GetBucketInventoryConfiguration" | "ListBucketInventoryConfigurations" => {
            "s3:GetInventoryConfiguration"
        }
        "PutBucketInventoryConfiguration" | "DeleteBucketInventoryConfiguration" => {
            "s3:PutInventoryConfiguration"
        }
        "GetBucketMetricsConfiguration" | "ListBucketMetricsConfigurations" => {
            "s3:GetMetricsConfiguration"
        }
        "PutBucketMetricsConfiguration" | "DeleteBucketMetricsConfiguration" => {
            "s3:PutMetricsConfiguration"
        }
        "CreateBucketMetadataTableConfiguration" => "s3:CreateBucketMetadataTableConfiguration",
        "GetBucketMetadataTableConfiguration" => "s3:GetBucketMetadataTableConfiguration",
        "DeleteBucketMetadataTableConfiguration" => "s3:DeleteBucketMetadataTableConfiguration",
        // Objects.
        "GetObject" | "HeadObject" if v => "s3:GetObjectVersion",
        "GetObject" | "HeadObject" | "SelectObjectContent" => "s3:GetObject",
        "GetObjectAttributes" if v => "s3:GetObjectVersionAttributes",
        "GetObjectAttributes" => "s3:GetObjectAttributes",
        "DeleteObject" if v => "s3:DeleteObjectVersion",
        // DeleteObjects is decided on each key by the access hook, never on the bucket.
        "DeleteObject" | "DeleteObjects" => "s3:DeleteObject",
        "PutObject"
        | "PostObject"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload" => "s3:PutObject",
        "AbortMultipartUpload" => "s3:AbortMultipartUpload",
        "ListParts" => "s3:ListMultipartUploadParts",
        "GetObjectAcl" if v => "s3:GetObjectVersionAcl",
        "GetObjectAcl" => "s3:GetObjectAcl",
        "PutObjectAcl" if v => "s3:PutObjectVersionAcl",
        "PutObjectAcl" => "s3:PutObjectAcl",
        "GetObjectTagging" if v => "s3:GetObjectVersionTagging",
        "GetObjectTagging" => "s3:GetObjectTagging",
        "PutObjectTagging" if v => "s3:PutObjectVersionTagging",
        "PutObjectTagging" => "s3:PutObjectTagging",
        "DeleteObjectTagging" if v => "s3:DeleteObjectVersionTagging",
        "DeleteObjectTagging" => "s3:DeleteObjectTagging",
        "GetObjectTorrent" if v => "s3:GetObjectVersionTorrent",
        "GetObjectTorrent" => "s3:GetObjectTorrent",
        "GetObjectLegalHold" => "s3:GetObjectLegalHold",
        "PutObjectLegalHold" => "s3:PutObjectLegalHold",
        "GetObjectRetention" => "s3:GetObjectRetention",
        "PutObjectRetention" => "s3:PutObjectRetention",
        "RestoreObject" => "s3:RestoreObject",
        _ => return None,
    })
}

/// The action and resource of operation `op` on `bucket`/`key`; `version_id` selects the
/// `…Version…` actions where S3 has them.
pub fn requirement(
    op: &str,
    bucket: Option<&str>,
    key: Option<&str>,
    version_id: bool,
) -> Requirement {
    let resource = match (op, bucket, key) {
        ("ListBuckets" | "ListDirectoryBuckets", _, _) => "arn:aws:s3:::*".to_owned(),
        (_, Some(b), Some(k)) => object_arn(b, k),
        (_, Some(b), None) => bucket_arn(b),
        _ => "arn:aws:s3:::*".to_owned(),
    };
    let also = match (op, version_id) {
        ("GetObjectAttributes", false) => Some("s3:GetObject"),
        ("GetObjectAttributes", true) => Some("s3:GetObjectVersion"),
        _ => None,
    };
    Requirement {
        action: action(op, version_id).map_or_else(|| format!("s3:{op}"), str::to_owned),
        resource,
        also,
    }
}

/// Whether `s3:ExistingObjectTag/<key>` is evaluated for operation `op`: the operations that read
/// an object or its subresources, or change its tags, ACL, retention or legal hold. Not for
/// writes or deletes of the object itself ("When granting permissions for the PUT Object and
/// DELETE Object operations, this condition key is not supported", S3 User Guide, "Tagging and
/// access control policies").
pub fn existing_tags_apply(op: &str) -> bool {
    matches!(
        op,
        "GetObject"
            | "HeadObject"
            | "GetObjectAttributes"
            | "GetObjectTagging"
            | "PutObjectTagging"
            | "DeleteObjectTagging"
            | "GetObjectAcl"
            | "PutObjectAcl"
            | "GetObjectTorrent"
            | "GetObjectLegalHold"
            | "PutObjectLegalHold"
            | "GetObjectRetention"
            | "PutObjectRetention"
    )
}

/// Whether operation `op` sets tags from an `x-amz-tagging` header; S3 then also requires
/// `s3:PutObjectTagging` ("To successfully set the tag-set with your PutObject request, you
/// must have the s3:PutObjectTagging", PutObject API reference; likewise CopyObject and
/// CreateMultipartUpload).
pub fn tags_header_applies(op: &str) -> bool {
    matches!(op, "PutObject" | "CopyObject" | "CreateMultipartUpload")
}

/// The condition key prefix of the existing object's tags, lower case (for
/// `Principal::refers_to`).
pub const EXISTING_TAG_KEYS: &str = "s3:existingobjecttag/";

/// The condition key prefix of the request's tags, lower case: `s3:RequestObjectTag/<key>` and
/// `s3:RequestObjectTagKeys`.
pub const REQUEST_TAG_KEYS: &str = "s3:requestobjecttag";

/// Add an object's tags as `s3:ExistingObjectTag/<key>`.
pub fn insert_existing_tags(ctx: &mut Context, tags: &[(String, String)]) {
    for (k, v) in tags {
        ctx.insert(&format!("s3:ExistingObjectTag/{k}"), v.clone());
    }
}

/// Add the tags a request sets as `s3:RequestObjectTag/<key>` and `s3:RequestObjectTagKeys`
/// (multivalued: every key, for `ForAllValues:`/`ForAnyValue:`).
pub fn insert_request_tags(ctx: &mut Context, tags: &[(String, String)]) {
    for (k, v) in tags {
        ctx.insert(&format!("s3:RequestObjectTag/{k}"), v.clone());
    }
    ctx.insert_multi(
        "s3:RequestObjectTagKeys",
        tags.iter().map(|(k, _)| k.clone()).collect(),
    );
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

    /// The tag keys: `s3:ExistingObjectTag/<key>` only where S3 evaluates it (reads and
    /// subresource changes, never PUT or DELETE of the object), and the request's tags as
    /// `s3:RequestObjectTag/<key>` plus the multivalued `s3:RequestObjectTagKeys`.
    #[test]
    fn tag_keys() {
        for op in [
            "GetObject",
            "HeadObject",
            "GetObjectTagging",
            "PutObjectTagging",
        ] {
            assert!(existing_tags_apply(op), "{op}");
        }
        for op in [
            "PutObject",
            "DeleteObject",
            "DeleteObjects",
            "CopyObject",
            "ListObjectsV2",
        ] {
            assert!(!existing_tags_apply(op), "{op}");
        }
        for op in ["PutObject", "CopyObject", "CreateMultipartUpload"] {
            assert!(tags_header_applies(op), "{op}");
        }
        assert!(!tags_header_applies("UploadPart"));
        let tags = vec![
            ("site".to_owned(), "tokyo".to_owned()),
            ("team".to_owned(), "a".to_owned()),
        ];
        let mut ctx = Context::new();
        insert_request_tags(&mut ctx, &tags);
        assert_eq!(
            ctx.get("s3:RequestObjectTag/site")
                .and_then(|v| v.as_single()),
            Some("tokyo")
        );
        assert_eq!(
            ctx.get("s3:RequestObjectTagKeys")
                .map(|v| v.as_slice().to_vec()),
            Some(vec!["site".to_owned(), "team".to_owned()])
        );
        let mut ctx = Context::new();
        insert_existing_tags(&mut ctx, &tags);
        assert_eq!(
            ctx.get("s3:ExistingObjectTag/team")
                .and_then(|v| v.as_single()),
            Some("a")
        );
        assert!(EXISTING_TAG_KEYS.starts_with("s3:existingobjecttag"));
        assert_eq!(REQUEST_TAG_KEYS, REQUEST_TAG_KEYS.to_ascii_lowercase());
    }
}
