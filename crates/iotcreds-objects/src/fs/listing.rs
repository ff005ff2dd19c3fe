//! ListObjectsV2, ListObjects (v1) and ListObjectVersions over the bucket index.

use s3s::dto::{
    CommonPrefix, ETag, ListObjectVersionsInput, ListObjectVersionsOutput, ListObjectsInput,
    ListObjectsOutput, ListObjectsV2Input, ListObjectsV2Output, Object, ObjectVersion, Owner,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::bucket::owner;
use super::list::{
    Entry, Walk, decode_token, encode_token, max_items, page, url_encode, url_encoding,
};
use super::{FsBackend, ObjSummary, timestamp};

/// One page of objects and common prefixes, already converted.
struct Page {
    objects: Vec<(String, ObjSummary)>,
    prefixes: Vec<String>,
    truncated: bool,
    /// Marker of the last entry (key or common prefix).
    last: Option<String>,
}

impl FsBackend {
    fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        marker: Option<&str>,
        max: usize,
    ) -> S3Result<Page> {
        let bucket = self.inner().bucket(bucket)?;
        let st = bucket.lock_live()?;
        let (entries, truncated) = page(Walk::new(&st.objects, prefix, delimiter, marker), max);
        let last = entries.last().map(|e| e.marker().to_owned());
        let mut objects = Vec::new();
        let mut prefixes = Vec::new();
        for e in entries {
            match e {
                Entry::Key(k, v) => objects.push((k.to_owned(), v.clone())),
                Entry::Prefix(p) => prefixes.push(p),
            }
        }
        Ok(Page {
            objects,
            prefixes,
            truncated,
            last,
        })
    }

    pub(crate) async fn list_objects_v2_impl(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let i = req.input;
        let enc = url_encoding(i.encoding_type.as_ref())?;
        let max = max_items(i.max_keys, "max-keys")?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let from_token = match i.continuation_token.as_deref() {
            Some(t) => Some(decode_token(t)?),
            None => None,
        };
        // The continuation token wins over start-after.
        let marker = from_token
            .as_deref()
            .or(i.start_after.as_deref())
            .filter(|m| !m.is_empty());
        let page = self.list_page(&i.bucket, &prefix, i.delimiter.as_deref(), marker, max)?;
        let e = |s: &str| if enc { url_encode(s) } else { s.to_owned() };
        let fetch_owner = i.fetch_owner.unwrap_or(false).then(|| owner(self.inner()));
        let key_count = i32::try_from(page.objects.len() + page.prefixes.len()).unwrap_or(i32::MAX);
        let contents: Vec<Object> = page
            .objects
            .iter()
            .map(|(k, s)| object_dto(&e(k), s, fetch_owner.clone()))
            .collect();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(i.bucket),
            prefix: Some(e(&prefix)),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            key_count: Some(key_count),
            continuation_token: i.continuation_token,
            is_truncated: Some(page.truncated),
            next_continuation_token: page
                .truncated
                .then(|| page.last.as_deref().map(encode_token))
                .flatten(),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: prefixes_dto(&page.prefixes, &e),
            // An empty delimiter is no delimiter, and S3 does not echo it.
            delimiter: i.delimiter.as_deref().filter(|d| !d.is_empty()).map(&e),
            encoding_type: i.encoding_type,
            start_after: i.start_after.as_deref().map(&e),
            request_charged: None,
        }))
    }

    pub(crate) async fn list_objects_impl(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let i = req.input;
        let enc = url_encoding(i.encoding_type.as_ref())?;
        let max = max_items(i.max_keys, "max-keys")?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let marker = i.marker.as_deref().filter(|m| !m.is_empty());
        let page = self.list_page(&i.bucket, &prefix, i.delimiter.as_deref(), marker, max)?;
        let e = |s: &str| if enc { url_encode(s) } else { s.to_owned() };
        // v1 always reports the owner.
        let own = Some(owner(self.inner()));
        let contents: Vec<Object> = page
            .objects
            .iter()
            .map(|(k, s)| object_dto(&e(k), s, own.clone()))
            .collect();
        // NextMarker is returned only with a delimiter; without one clients use the last key.
        let next_marker = (page.truncated && i.delimiter.as_deref().is_some_and(|d| !d.is_empty()))
            .then(|| page.last.as_deref().map(&e))
            .flatten();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(i.bucket),
            prefix: Some(e(&prefix)),
            marker: Some(i.marker.as_deref().map(&e).unwrap_or_default()),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            is_truncated: Some(page.truncated),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: prefixes_dto(&page.prefixes, &e),
            // An empty delimiter is no delimiter, and S3 does not echo it.
            delimiter: i.delimiter.as_deref().filter(|d| !d.is_empty()).map(&e),
            next_marker,
            encoding_type: i.encoding_type,
            request_charged: None,
        }))
    }

    /// Unversioned buckets: every object is its only version, `null`, and the latest.
    pub(crate) async fn list_object_versions_impl(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let i = req.input;
        let enc = url_encoding(i.encoding_type.as_ref())?;
        let max = max_items(i.max_keys, "max-keys")?;
        let key_marker = i.key_marker.as_deref().filter(|m| !m.is_empty());
        match (key_marker, i.version_id_marker.as_deref()) {
            (None, Some(v)) if !v.is_empty() => {
                return Err(s3_error!(
                    InvalidArgument,
                    "A version-id marker cannot be specified without a key marker."
                ));
            }
            (_, Some(v)) if !v.is_empty() && v != "null" => {
                return Err(s3_error!(InvalidArgument, "Invalid version id specified"));
            }
            _ => {}
        }
        let prefix = i.prefix.clone().unwrap_or_default();
        // Each key has one version, so continuing "after version null of K" is "after K".
        let page = self.list_page(&i.bucket, &prefix, i.delimiter.as_deref(), key_marker, max)?;
        let e = |s: &str| if enc { url_encode(s) } else { s.to_owned() };
        let own = Some(owner(self.inner()));
        let versions: Vec<ObjectVersion> = page
            .objects
            .iter()
            .map(|(k, s)| ObjectVersion {
                e_tag: Some(ETag::Strong(s.etag.clone())),
                is_latest: Some(true),
                key: Some(e(k)),
                last_modified: Some(timestamp(s.last_modified_ns)),
                owner: own.clone(),
                size: Some(i64::try_from(s.size).unwrap_or(i64::MAX)),
                storage_class: Some("STANDARD".to_owned().into()),
                version_id: Some("null".to_owned()),
                checksum_algorithm: s.checksum_algorithm.clone().map(|a| vec![a.into()]),
                checksum_type: s.checksum_type.clone().map(Into::into),
                restore_status: None,
            })
            .collect();
        let last_is_key = page.objects.last().map(|(k, _)| k.as_str()) == page.last.as_deref();
        Ok(S3Response::new(ListObjectVersionsOutput {
            common_prefixes: prefixes_dto(&page.prefixes, &e),
            delete_markers: None,
            // An empty delimiter is no delimiter, and S3 does not echo it.
            delimiter: i.delimiter.as_deref().filter(|d| !d.is_empty()).map(&e),
            encoding_type: i.encoding_type,
            is_truncated: Some(page.truncated),
            key_marker: Some(i.key_marker.as_deref().map(&e).unwrap_or_default()),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            name: Some(i.bucket),
            next_key_marker: page
                .truncated
                .then(|| page.last.as_deref().map(&e))
                .flatten(),
            next_version_id_marker: (page.truncated && last_is_key).then(|| "null".to_owned()),
            prefix: Some(e(&prefix)),
            request_charged: None,
            version_id_marker: Some(i.version_id_marker.unwrap_or_default()),
            versions: (!versions.is_empty()).then_some(versions),
        }))
    }
}

fn object_dto(key: &str, s: &ObjSummary, owner: Option<Owner>) -> Object {
    Object {
        checksum_algorithm: s.checksum_algorithm.clone().map(|a| vec![a.into()]),
        checksum_type: s.checksum_type.clone().map(Into::into),
        e_tag: Some(ETag::Strong(s.etag.clone())),
        key: Some(key.to_owned()),
        last_modified: Some(timestamp(s.last_modified_ns)),
        owner,
        restore_status: None,
        size: Some(i64::try_from(s.size).unwrap_or(i64::MAX)),
        storage_class: Some("STANDARD".to_owned().into()),
    }
}

fn prefixes_dto(prefixes: &[String], e: &impl Fn(&str) -> String) -> Option<Vec<CommonPrefix>> {
    (!prefixes.is_empty()).then(|| {
        prefixes
            .iter()
            .map(|p| CommonPrefix { prefix: Some(e(p)) })
            .collect()
    })
}
