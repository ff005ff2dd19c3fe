//! `GetObjectAttributes`, as the S3 API reference states it: only the attributes asked for in
//! `x-amz-object-attributes` (`ETag`, `Checksum`, `ObjectParts`, `StorageClass`, `ObjectSize`),
//! `Last-Modified` always. `ObjectParts` only for a multipart object, paged by `MaxParts`
//! (at most 1000) and `PartNumberMarker`, with `TotalPartsCount`; its `Part` elements only when
//! the object has an additional checksum ("if an additional checksum ... isn't applied to the
//! object specified in the request, the response doesn't return the Part element").

use s3s::dto::{
    Checksum, GetObjectAttributesInput, GetObjectAttributesOutput, GetObjectAttributesParts,
    ObjectPart, StorageClass,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::format::ObjectMeta;
use super::list::max_items;
use super::read::set_checksum;
use super::{FsBackend, timestamp};

/// The attribute names S3 accepts.
const ATTRIBUTES: [&str; 5] = [
    "ETag",
    "Checksum",
    "ObjectParts",
    "StorageClass",
    "ObjectSize",
];

impl FsBackend {
    pub(crate) async fn get_object_attributes_impl(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let i = &req.input;
        // One header, comma-separated, as the SDKs send it (s3s keeps each header line whole).
        let wanted: Vec<&str> = i
            .object_attributes
            .iter()
            .flat_map(|a| a.as_str().split(','))
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .collect();
        if wanted.is_empty() {
            return Err(s3_error!(
                InvalidRequest,
                "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty"
            ));
        }
        if wanted.iter().any(|a| !ATTRIBUTES.contains(a)) {
            return Err(s3_error!(
                InvalidArgument,
                "Invalid attribute name specified."
            ));
        }
        let max_parts = max_items(i.max_parts, "max-parts")?;
        let marker = i.part_number_marker.unwrap_or(0);
        if marker < 0 {
            return Err(s3_error!(
                InvalidArgument,
                "Provided part-number-marker not an integer or within integer range"
            ));
        }
        let meta = self
            .meta_of(&i.bucket, &i.key, i.version_id.as_deref())
            .await?;
        let has = |name: &str| wanted.contains(&name);
        let out = GetObjectAttributesOutput {
            last_modified: Some(timestamp(meta.last_modified_ns)),
            e_tag: has("ETag").then(|| s3s::dto::ETag::Strong(meta.etag.clone())),
            object_size: has("ObjectSize").then(|| i64::try_from(meta.size).unwrap_or(i64::MAX)),
            storage_class: has("StorageClass")
                .then(|| StorageClass::from_static(StorageClass::STANDARD)),
            checksum: if has("Checksum") {
                checksum_of(&meta)
            } else {
                None
            },
            object_parts: if has("ObjectParts") {
                parts_of(&meta, max_parts, marker)
            } else {
                None
            },
            ..GetObjectAttributesOutput::default()
        };
        Ok(S3Response::new(out))
    }
}

/// The object's additional checksum; a composite one with its `-N` suffix, as HEAD gives it.
fn checksum_of(meta: &ObjectMeta) -> Option<Checksum> {
    let c = meta.checksum.as_ref()?;
    let value = if c.kind == "COMPOSITE" {
        format!("{}-{}", c.value, meta.parts.len())
    } else {
        c.value.clone()
    };
    let mut out = Checksum {
        checksum_type: Some(c.kind.clone().into()),
        ..Checksum::default()
    };
    set_checksum(Some(&c.algorithm), Some(value), |algo, v| match algo {
        "CRC32" => out.checksum_crc32 = Some(v),
        "CRC32C" => out.checksum_crc32c = Some(v),
        "CRC64NVME" => out.checksum_crc64nvme = Some(v),
        "SHA1" => out.checksum_sha1 = Some(v),
        _ => out.checksum_sha256 = Some(v),
    });
    Some(out)
}

/// The page of parts after `marker`, for a multipart object.
fn parts_of(meta: &ObjectMeta, max: usize, marker: i32) -> Option<GetObjectAttributesParts> {
    if meta.parts.is_empty() {
        return None;
    }
    let total = meta.parts.len();
    let skip = usize::try_from(marker).unwrap_or(0).min(total);
    let end = skip.saturating_add(max).min(total);
    let truncated = end < total;
    let algorithm = meta.checksum.as_ref().map(|c| c.algorithm.as_str());
    let parts = algorithm.map(|algo| {
        meta.parts[skip..end]
            .iter()
            .zip(skip + 1..)
            .map(|(p, n)| {
                let mut part = ObjectPart {
                    part_number: i32::try_from(n).ok(),
                    size: i64::try_from(p.size).ok(),
                    ..ObjectPart::default()
                };
                set_checksum(Some(algo), p.checksum.clone(), |algo, v| match algo {
                    "CRC32" => part.checksum_crc32 = Some(v),
                    "CRC32C" => part.checksum_crc32c = Some(v),
                    "CRC64NVME" => part.checksum_crc64nvme = Some(v),
                    "SHA1" => part.checksum_sha1 = Some(v),
                    _ => part.checksum_sha256 = Some(v),
                });
                part
            })
            .collect()
    });
    Some(GetObjectAttributesParts {
        total_parts_count: i32::try_from(total).ok(),
        part_number_marker: Some(marker),
        next_part_number_marker: i32::try_from(end).ok(),
        max_parts: i32::try_from(max).ok(),
        is_truncated: Some(truncated),
        parts,
    })
}

#[cfg(test)]
mod tests {
    use super::super::format::{Attrs, PartInfo, StoredChecksum};
    use super::*;

    fn multipart(parts: usize, checksum: bool) -> ObjectMeta {
        ObjectMeta {
            key: "ADCTestThing/attrs.bin".into(),
            size: 3 * parts as u64,
            etag: format!("0123456789abcdef0123456789abcdef-{parts}"),
            last_modified_ns: 0,
            attrs: Attrs::default(),
            checksum: checksum.then(|| StoredChecksum {
                algorithm: "CRC32".into(),
                kind: "COMPOSITE".into(),
                value: "AAAAAA==".into(),
            }),
            parts: (1..=parts)
                .map(|n| PartInfo {
                    size: 3,
                    etag: "e".into(),
                    checksum: checksum.then(|| format!("part{n}")),
                })
                .collect(),
            part_number: None,
            upload_id: None,
        }
    }

    #[test]
    fn parts_page_after_the_marker() {
        let meta = multipart(3, true);
        let first = parts_of(&meta, 2, 0).unwrap();
        assert_eq!(
            (
                first.total_parts_count,
                first.is_truncated,
                first.next_part_number_marker
            ),
            (Some(3), Some(true), Some(2))
        );
        let listed: Vec<_> = first
            .parts
            .unwrap()
            .into_iter()
            .map(|p| (p.part_number, p.size, p.checksum_crc32))
            .collect();
        assert_eq!(
            listed,
            [
                (Some(1), Some(3), Some("part1".to_owned())),
                (Some(2), Some(3), Some("part2".to_owned()))
            ]
        );
        let rest = parts_of(&meta, 2, 2).unwrap();
        assert_eq!(rest.is_truncated, Some(false));
        assert_eq!(rest.parts.unwrap()[0].part_number, Some(3));
        // A marker past the end lists nothing and is not truncated.
        let past = parts_of(&meta, 2, 9).unwrap();
        assert_eq!(
            (past.parts.unwrap().len(), past.is_truncated),
            (0, Some(false))
        );
    }

    #[test]
    fn parts_are_listed_only_with_a_checksum_and_only_for_multipart_objects() {
        let counted = parts_of(&multipart(2, false), 1000, 0).unwrap();
        assert_eq!((counted.total_parts_count, counted.parts), (Some(2), None));
        assert!(parts_of(&multipart(0, true), 1000, 0).is_none());
    }

    #[test]
    fn a_composite_checksum_carries_its_part_count() {
        let c = checksum_of(&multipart(3, true)).unwrap();
        assert_eq!(c.checksum_crc32.as_deref(), Some("AAAAAA==-3"));
        assert_eq!(
            c.checksum_type.as_ref().map(|t| t.as_str()),
            Some("COMPOSITE")
        );
        assert!(checksum_of(&multipart(3, false)).is_none());
    }
}
