//! CompleteMultipartUpload: validate the part list, assemble, and publish atomically.

use std::fs::File;
use std::io::SeekFrom;
use std::sync::Arc;

use futures::StreamExt as _;
use s3s::dto::{CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CompletedPart, ETag};
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};
use tokio_util::io::ReaderStream;

use super::checksum::{self, Algo, Hasher};
use super::format::{self, ObjectMeta, PartInfo, StoredChecksum};
use super::list::IndexKey;
use super::multipart::{has_upload, load_upload, upload_dir};
use super::object::put_checksum;
use super::read::set_checksum;
use super::write::{Staged, TempFile, summary_of, write_precondition};
use super::{Bucket, FsBackend, blocking, internal, layout, no_such_upload};

fn invalid_part() -> s3s::S3Error {
    s3_error!(
        InvalidPart,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
    )
}

/// The checksum a CompletedPart carries for `algo`, if any.
fn completed_checksum(p: &CompletedPart, algo: Algo) -> Option<&str> {
    match algo {
        Algo::Crc32 => p.checksum_crc32.as_deref(),
        Algo::Crc32c => p.checksum_crc32c.as_deref(),
        Algo::Crc64Nvme => p.checksum_crc64nvme.as_deref(),
        Algo::Sha1 => p.checksum_sha1.as_deref(),
        Algo::Sha256 => p.checksum_sha256.as_deref(),
    }
}

/// Opens and checks the listed parts (blocking): each must exist with the given ETag (and
/// checksum, if given). The descriptors pin the part versions for the assembly.
fn open_parts(
    bucket: &Bucket,
    upload_id: &str,
    listed: &[CompletedPart],
    algo: Algo,
) -> S3Result<Vec<(File, ObjectMeta)>> {
    let dir = upload_dir(bucket, upload_id)?;
    let mut out = Vec::with_capacity(listed.len());
    for p in listed {
        let n = p
            .part_number
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(invalid_part)?;
        let file = match File::open(dir.join(layout::part_file_name(n))) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(invalid_part()),
            Err(e) => return Err(internal(e)),
        };
        let meta = format::read_meta(&file).map_err(internal)?;
        if p.e_tag.as_ref().map(ETag::value) != Some(meta.etag.as_str()) {
            return Err(invalid_part());
        }
        let stored = meta.checksum.as_ref().map(|c| c.value.as_str());
        if let Some(given) = completed_checksum(p, algo)
            && Some(given.trim()) != stored
        {
            return Err(invalid_part());
        }
        out.push((file, meta));
    }
    Ok(out)
}

impl FsBackend {
    pub(crate) async fn complete_multipart_upload_impl(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let i = req.input;
        let inner = Arc::clone(self.inner());
        let bucket = inner.bucket(&i.bucket)?;
        let (b, k, id) = (Arc::clone(&bucket), i.key.clone(), i.upload_id.clone());
        let listed = i
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.clone())
            .unwrap_or_default();
        let upload = match blocking(move || load_upload(&b, &k, &id)).await {
            Ok(upload) => upload,
            Err(e) if *e.code() == S3ErrorCode::NoSuchUpload => {
                let (b, k, id, l) = (
                    Arc::clone(&bucket),
                    i.key.clone(),
                    i.upload_id.clone(),
                    listed.clone(),
                );
                return match blocking(move || completed_before(&b, &k, &id, &l)).await? {
                    Some(meta) => Ok(S3Response::new(completed(&i, &meta))),
                    None => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        if listed.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        let mut prev = 0;
        for p in &listed {
            let n = p.part_number.ok_or_else(|| s3_error!(MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema"))?;
            if n <= prev {
                return Err(s3_error!(
                    InvalidPartOrder,
                    "The list of parts was not in ascending order. The parts list must be specified in order by part number."
                ));
            }
            prev = n;
        }
        let algo = upload.algo();
        let (b, id, l) = (Arc::clone(&bucket), i.upload_id.clone(), listed.clone());
        let parts = blocking(move || open_parts(&b, &id, &l, algo)).await?;
        let min = inner.config.min_part_size;
        if parts[..parts.len() - 1].iter().any(|(_, m)| m.size < min) {
            return Err(s3_error!(
                EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size."
            ));
        }
        let total: u64 = parts.iter().map(|(_, m)| m.size).sum();
        if let Some(expected) = i.mpu_object_size
            && expected.unsigned_abs() != total
        {
            return Err(s3_error!(
                InvalidRequest,
                "The provided 'x-amz-mp-object-size' header value {expected} does not match what was computed: {total}"
            ));
        }
        let kind = upload
            .checksum_type
            .clone()
            .unwrap_or_else(|| "FULL_OBJECT".to_owned());
        let etags: Vec<&str> = parts.iter().map(|(_, m)| m.etag.as_str()).collect();
        let etag = checksum::multipart_etag(&etags).ok_or_else(|| internal("bad part etag"))?;
        let infos: Vec<PartInfo> = parts
            .iter()
            .map(|(_, m)| PartInfo {
                size: m.size,
                etag: m.etag.clone(),
                checksum: m.checksum.as_ref().map(|c| c.value.clone()),
            })
            .collect();

        // Assemble into a temporary object file, computing a full-object checksum if needed.
        let (tmp, mut file) = Staged::create(&inner).await?;
        let mut full = (kind == "FULL_OBJECT").then(|| Hasher::new(algo));
        for (f, m) in parts {
            let mut src = tokio::fs::File::from_std(f);
            src.seek(SeekFrom::Start(format::HEADER_LEN))
                .await
                .map_err(internal)?;
            let mut chunks = ReaderStream::with_capacity(src.take(m.size), 256 * 1024);
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(internal)?;
                if let Some(h) = full.as_mut() {
                    h.update(&chunk);
                }
                file.write_all(&chunk).await.map_err(internal)?;
            }
        }
        let value = match full {
            Some(h) => h.finish_b64(),
            None => {
                let values: Vec<&str> =
                    infos.iter().filter_map(|p| p.checksum.as_deref()).collect();
                if values.len() != infos.len() {
                    return Err(internal("part without checksum in a composite upload"));
                }
                checksum::composite(algo, &values).ok_or_else(|| internal("bad part checksum"))?
            }
        };
        let shown = if kind == "COMPOSITE" {
            format!("{value}-{}", infos.len())
        } else {
            value.clone()
        };
        check_expected(&i, algo, &value, &shown)?;
        let meta = ObjectMeta {
            key: i.key.clone(),
            size: total,
            etag,
            // AWS: a multipart object's creation date is the upload's initiation date.
            last_modified_ns: upload.initiated_ns,
            attrs: upload.attrs.clone(),
            checksum: Some(StoredChecksum {
                algorithm: algo.name().to_owned(),
                kind: kind.clone(),
                value,
            }),
            parts: infos,
            part_number: None,
            upload_id: Some(i.upload_id.clone()),
        };
        let staged = Staged::from_file(tmp, file, total);
        let tmp = staged.finish(&meta).await?;
        let (m, id) = (meta.clone(), i.upload_id.clone());
        let (if_match, if_none_match) = (i.if_match.clone(), i.if_none_match.clone());
        let inner2 = Arc::clone(&inner);
        blocking(move || {
            let rel = layout::object_rel_path(&m.key);
            let dest = bucket.dir.join(&rel);
            let obj_dir = dest
                .parent()
                .map(std::path::Path::to_path_buf)
                .ok_or_else(|| internal("no parent"))?;
            let updir = upload_dir(&bucket, &id)?;
            let trash = TempFile::reserve(&inner2, "trash");
            {
                let mut st = bucket.lock_live()?;
                if !has_upload(&st, &m.key, &id) {
                    return Err(no_such_upload());
                }
                let key = IndexKey::new(m.key.clone());
                write_precondition(
                    if_match.as_ref(),
                    if_none_match.as_ref(),
                    st.objects.get(&key),
                )?;
                if let Some(fan) = rel.parent() {
                    layout::ensure_dir(&bucket.dir, fan).map_err(internal)?;
                }
                // Object first, durably; only then forget the upload (see the module docs).
                tmp.persist(&dest).map_err(internal)?;
                layout::fsync_dir(&obj_dir).map_err(internal)?;
                st.put_object(&bucket, key.clone(), summary_of(&m));
                std::fs::rename(&updir, trash.path()).map_err(internal)?;
                if let Some(ids) = st.uploads.get_mut(&key) {
                    ids.remove(&id);
                    if ids.is_empty() {
                        st.uploads.remove(&key);
                    }
                }
            }
            layout::fsync_dir(&bucket.dir.join(layout::UPLOADS_DIR)).map_err(internal)?;
            drop(trash);
            Ok(())
        })
        .await?;
        Ok(S3Response::new(completed(&i, &meta)))
    }
}

/// The answer to a completed upload, from the object it made.
fn completed(i: &CompleteMultipartUploadInput, meta: &ObjectMeta) -> CompleteMultipartUploadOutput {
    let mut out = CompleteMultipartUploadOutput {
        bucket: Some(i.bucket.clone()),
        key: Some(i.key.clone()),
        e_tag: Some(ETag::Strong(meta.etag.clone())),
        location: Some(format!("/{}/{}", i.bucket, percent_path(&i.key))),
        ..CompleteMultipartUploadOutput::default()
    };
    if let Some(c) = &meta.checksum {
        let shown = if c.kind == "COMPOSITE" {
            format!("{}-{}", c.value, meta.parts.len())
        } else {
            c.value.clone()
        };
        out.checksum_type = Some(c.kind.clone().into());
        put_checksum!(out, Some(c.algorithm.as_str()), Some(shown));
    }
    out
}

/// The object a retried CompleteMultipartUpload already made (blocking): the object now at `key`
/// was completed from `upload_id`, from the parts listed again (SDKs retry a Complete whose
/// answer was lost, and S3 answers the retry as it answered the first). `None` otherwise: the
/// upload is unknown, or the object has since been overwritten or deleted, or the part list
/// differs.
fn completed_before(
    bucket: &Bucket,
    key: &str,
    upload_id: &str,
    listed: &[CompletedPart],
) -> S3Result<Option<ObjectMeta>> {
    let object = match super::read::open_object(bucket, key, false) {
        Ok(object) => object,
        Err(e) if *e.code() == S3ErrorCode::NoSuchKey => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = object.meta;
    let same_parts = meta.parts.len() == listed.len()
        && meta.parts.iter().zip(listed).all(|(stored, given)| {
            given.e_tag.as_ref().map(ETag::value) == Some(stored.etag.as_str())
        });
    Ok((meta.upload_id.as_deref() == Some(upload_id) && same_parts).then(|| (*meta).clone()))
}

/// A full-object checksum sent with CompleteMultipartUpload must match.
fn check_expected(
    i: &CompleteMultipartUploadInput,
    algo: Algo,
    value: &str,
    shown: &str,
) -> S3Result<()> {
    let given = [
        (Algo::Crc32, i.checksum_crc32.as_deref()),
        (Algo::Crc32c, i.checksum_crc32c.as_deref()),
        (Algo::Crc64Nvme, i.checksum_crc64nvme.as_deref()),
        (Algo::Sha1, i.checksum_sha1.as_deref()),
        (Algo::Sha256, i.checksum_sha256.as_deref()),
    ];
    for (a, v) in given {
        let Some(v) = v.map(str::trim) else { continue };
        if a != algo {
            return Err(s3_error!(
                InvalidRequest,
                "The upload was created using the {} checksum algorithm.",
                algo.name().to_lowercase()
            ));
        }
        if v != value && v != shown {
            return Err(algo.bad_digest());
        }
    }
    Ok(())
}

fn percent_path(key: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(key, SET).to_string()
}
