//! Request features that are not forwarded.
//!
//! The upstream acts on the gateway's credentials, not the device's, so a request header that
//! changes access, ownership, retention, encryption keys or billing at the upstream would let a
//! device do, through the gateway, what its own policy never granted (ACLs that make objects
//! public, KMS keys of the operator, object lock that the operator cannot undo,
//! requester-pays). These features are refused with the same answers as the
//! embedded backend gives (which does not have them either), or dropped when they only
//! restate the default:
//!
//! | device sends | answer |
//! |---|---|
//! | ACL other than `private`/`bucket-owner-full-control`, any `x-amz-grant-*` | `AccessControlListNotSupported` (CreateBucket: `InvalidBucketAclWithObjectOwnership`) |
//! | SSE-S3/SSE-KMS, SSE-C (also for copy sources), bucket keys | `NotImplemented` |
//! | object lock mode/retention/legal hold | `InvalidRequest` (CreateBucket with object lock: `NotImplemented`) |
//! | storage class other than `STANDARD` | `InvalidStorageClass` |
//! | `x-amz-write-offset-bytes` (append) | `NotImplemented` |
//! | a `versionId` other than `null` | `InvalidArgument` (versions are not exposed) |
//! | directory-bucket configuration | `NotImplemented` |
//! | `x-amz-expected-bucket-owner`, `x-amz-source-expected-bucket-owner`, `x-amz-request-payer`, `x-amz-mfa`, `x-amz-bypass-governance-retention`, object ownership | dropped: they name the device's account or privileges, which mean nothing at the upstream |
//!
//! Everything else (content headers, user metadata, conditionals, ranges, part numbers,
//! checksums, Content-MD5, website redirect, metadata directive) is forwarded unchanged. So are
//! object tags (`x-amz-tagging`, the tagging directive, the tagging operations): the gateway has
//! already authorised them as S3 does, as `s3:PutObjectTagging` besides the write, with the
//! tags as `s3:RequestObjectTag/<key>` and `s3:RequestObjectTagKeys`, and refused a malformed
//! `x-amz-tagging` itself.

use s3s::dto::{ObjectCannedACL, StorageClass};
use s3s::{S3Error, S3Result, s3_error};

/// The features of one request, gathered from its input DTO.
#[derive(Default)]
pub(crate) struct Features<'a> {
    pub acl: Option<&'a ObjectCannedACL>,
    pub grants: bool,
    pub sse: bool,
    pub sse_customer: bool,
    pub object_lock: bool,
    pub storage_class: Option<&'a StorageClass>,
    pub append: bool,
}

impl Features<'_> {
    /// Refuses what is not forwarded (see the module docs).
    pub(crate) fn check(&self) -> S3Result<()> {
        if self.grants
            || self.acl.is_some_and(|a| {
                a.as_str() != "private" && a.as_str() != "bucket-owner-full-control"
            })
        {
            return Err(s3_error!(
                AccessControlListNotSupported,
                "The bucket does not allow ACLs"
            ));
        }
        if self.sse || self.sse_customer {
            return Err(s3_error!(
                NotImplemented,
                "Server-side encryption is not supported by this endpoint."
            ));
        }
        if self.object_lock {
            return Err(s3_error!(
                InvalidRequest,
                "Bucket is missing Object Lock Configuration"
            ));
        }
        if self.storage_class.is_some_and(|c| c.as_str() != "STANDARD") {
            return Err(s3_error!(
                InvalidStorageClass,
                "The storage class you specified is not valid"
            ));
        }
        if self.append {
            return Err(s3_error!(
                NotImplemented,
                "Appending to objects is not supported by this endpoint."
            ));
        }
        Ok(())
    }
}

/// Versions are not exposed: `null` (the only version of an unversioned object) is accepted and
/// dropped, anything else is refused.
pub(crate) fn version_id(v: Option<String>) -> S3Result<()> {
    match v.as_deref() {
        None | Some("null") => Ok(()),
        Some(_) => Err(invalid_version()),
    }
}

pub(crate) const INVALID_VERSION: &str = "Invalid version id specified";

fn invalid_version() -> S3Error {
    S3Error::with_message(s3s::S3ErrorCode::InvalidArgument, INVALID_VERSION)
}

/// The error of a CreateBucket that asks for ACLs.
pub(crate) fn bucket_acl_refused() -> S3Error {
    let mut err = S3Error::with_message(
        s3s::S3ErrorCode::Custom("InvalidBucketAclWithObjectOwnership".into()),
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    );
    err.set_status_code(http::StatusCode::BAD_REQUEST);
    err
}

/// User metadata as it is sent on to the upstream: values outside US-ASCII as RFC 2047 words,
/// as S3 expects them (s3s decoded the device's words; the SDK would send raw bytes).
pub(crate) fn mail_safe_metadata(metadata: &mut Option<s3s::dto::Metadata>) {
    for v in metadata.iter_mut().flat_map(|m| m.values_mut()) {
        if let std::borrow::Cow::Owned(encoded) = iotcreds_types::mime_words::encode(v) {
            *v = encoded;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(f: &Features<'_>) -> Option<String> {
        f.check().err().map(|e| e.code().as_str().to_owned())
    }

    #[test]
    fn refusals() {
        let private = ObjectCannedACL::from_static(ObjectCannedACL::PRIVATE);
        let public = ObjectCannedACL::from_static(ObjectCannedACL::PUBLIC_READ);
        let glacier = StorageClass::from_static(StorageClass::GLACIER);
        let standard = StorageClass::from_static(StorageClass::STANDARD);
        assert_eq!(code(&Features::default()), None);
        assert_eq!(
            code(&Features {
                acl: Some(&private),
                storage_class: Some(&standard),
                ..Features::default()
            }),
            None
        );
        assert_eq!(
            code(&Features {
                acl: Some(&public),
                ..Features::default()
            })
            .as_deref(),
            Some("AccessControlListNotSupported")
        );
        assert_eq!(
            code(&Features {
                grants: true,
                ..Features::default()
            })
            .as_deref(),
            Some("AccessControlListNotSupported")
        );
        assert_eq!(
            code(&Features {
                sse: true,
                ..Features::default()
            })
            .as_deref(),
            Some("NotImplemented")
        );
        assert_eq!(
            code(&Features {
                sse_customer: true,
                ..Features::default()
            })
            .as_deref(),
            Some("NotImplemented")
        );
        assert_eq!(
            code(&Features {
                object_lock: true,
                ..Features::default()
            })
            .as_deref(),
            Some("InvalidRequest")
        );
        assert_eq!(
            code(&Features {
                storage_class: Some(&glacier),
                ..Features::default()
            })
            .as_deref(),
            Some("InvalidStorageClass")
        );
        assert_eq!(
            code(&Features {
                append: true,
                ..Features::default()
            })
            .as_deref(),
            Some("NotImplemented")
        );
        assert!(version_id(None).is_ok());
        assert!(version_id(Some("null".into())).is_ok());
        assert!(version_id(Some("3HL4kqtJlcpXroDTDmJ".into())).is_err());
        assert_eq!(
            bucket_acl_refused().status_code().map(|s| s.as_u16()),
            Some(400)
        );
    }
}
