//! GetObject, HeadObject, PutObject and UploadPart on the wire: the typed input (already
//! checked and mapped by `crate::objects`/`crate::multipart`) becomes the upstream request,
//! the upstream response becomes the device's.

use http::{HeaderName, HeaderValue, Method};
use s3s::dto::{
    ETagCondition, GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput,
    PutObjectInput, PutObjectOutput, Timestamp, TimestampFormat, UploadPartInput, UploadPartOutput,
};
use s3s::{S3Error, S3Response, S3Result, s3_error};

use super::chunked::{AwsChunked, encoded_len};
use super::download::{Check, Download};
use super::response::{is_checksum_header, pass_headers};
use super::{Call, Wire, push_query};
use crate::body::{Algo, Prepared};
use crate::errors::Ctx;

fn invalid_header(name: &str) -> S3Error {
    s3_error!(InvalidArgument, "Invalid value of the {} header.", name)
}

/// Request headers under construction.
#[derive(Default)]
struct Headers(Vec<(HeaderName, HeaderValue)>);

impl Headers {
    fn str(&mut self, name: &'static str, value: Option<&str>) -> S3Result<()> {
        if let Some(v) = value {
            let v = HeaderValue::from_str(v).map_err(|_| invalid_header(name))?;
            self.0.push((HeaderName::from_static(name), v));
        }
        Ok(())
    }

    fn date(&mut self, name: &'static str, value: Option<&Timestamp>) -> S3Result<()> {
        if let Some(t) = value {
            let mut buf = Vec::with_capacity(32);
            t.format(TimestampFormat::HttpDate, &mut buf)
                .map_err(|_| invalid_header(name))?;
            let v = HeaderValue::from_bytes(&buf).map_err(|_| invalid_header(name))?;
            self.0.push((HeaderName::from_static(name), v));
        }
        Ok(())
    }

    fn etag(&mut self, name: &'static str, value: Option<&ETagCondition>) -> S3Result<()> {
        if let Some(c) = value {
            let v = c.to_http_header().map_err(|_| invalid_header(name))?;
            self.0.push((HeaderName::from_static(name), v));
        }
        Ok(())
    }

    fn metadata(&mut self, meta: Option<&s3s::dto::Metadata>) -> S3Result<()> {
        for (k, v) in meta.into_iter().flatten() {
            let name = HeaderName::try_from(format!("x-amz-meta-{k}"))
                .map_err(|_| invalid_header("x-amz-meta-*"))?;
            // Text outside US-ASCII as RFC 2047 words, as S3 expects it (s3s decoded the
            // device's).
            let v = HeaderValue::from_str(&iotcreds_types::mime_words::encode(v))
                .map_err(|_| invalid_header("x-amz-meta-*"))?;
            self.0.push((name, v));
        }
        Ok(())
    }
}

/// The five header checksums of an upload input.
struct HeaderChecksums<'a>([(&'static str, Option<&'a str>); 5]);

impl HeaderChecksums<'_> {
    /// The algorithm of the checksum header the device sent (s3s 0.14 reads the algorithm from
    /// `x-amz-checksum-algorithm`, not PutObject's `x-amz-sdk-checksum-algorithm`, so it is
    /// named here after the header present).
    fn algorithm(&self) -> Option<Algo> {
        self.0
            .iter()
            .find(|(_, v)| v.is_some())
            .and_then(|(name, _)| Algo::from_header(name))
    }

    fn add(&self, h: &mut Headers) -> S3Result<()> {
        for (name, v) in self.0 {
            h.str(name, v)?;
        }
        Ok(())
    }
}

fn content_length(h: &http::HeaderMap) -> Option<u64> {
    h.get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The full-object checksum of a response, if there is one to check.
fn full_object_checksum(h: &http::HeaderMap) -> Option<(Algo, String)> {
    if h.get("x-amz-checksum-type")
        .is_some_and(|t| t.as_bytes().eq_ignore_ascii_case(b"COMPOSITE"))
    {
        return None;
    }
    h.iter().find_map(|(name, v)| {
        let n = name.as_str();
        if !is_checksum_header(n) || n == "x-amz-checksum-type" {
            return None;
        }
        let value = v.to_str().ok()?;
        // a multipart upload's checksum of checksums: `<value>-<parts>`
        if value.contains('-') {
            return None;
        }
        Some((Algo::from_header(n)?, value.to_owned()))
    })
}

/// The request of a GetObject or HeadObject.
#[allow(clippy::too_many_arguments)]
fn read_call<'a>(
    wire: &Wire,
    method: Method,
    bucket: &'a str,
    key: &'a str,
    device_checksums: bool,
    whole: bool,
    part_number: Option<i32>,
    conditions: [(&'static str, Option<&ETagCondition>); 2],
    dates: [(&'static str, Option<&Timestamp>); 2],
    range: Option<&s3s::dto::Range>,
    overrides: [(&'static str, Option<&str>); 5],
    response_expires: Option<&Timestamp>,
) -> S3Result<(Call<'a>, bool)> {
    let mut h = Headers::default();
    for (n, c) in conditions {
        h.etag(n, c)?;
    }
    for (n, d) in dates {
        h.date(n, d)?;
    }
    if let Some(r) = range {
        h.str("range", Some(&r.to_header_string()))?;
    }
    let validate = wire.validate && whole;
    if device_checksums || validate {
        h.str("x-amz-checksum-mode", Some("ENABLED"))?;
    }
    let mut query = String::new();
    if let Some(n) = part_number {
        push_query(&mut query, "partNumber", &n.to_string());
    }
    // sorted: cache-control, content-disposition, content-encoding, content-language,
    // content-type, expires
    for (n, v) in &overrides[..] {
        if let Some(v) = v {
            push_query(&mut query, n, v);
        }
    }
    if let Some(t) = response_expires {
        let mut buf = Vec::with_capacity(32);
        t.format(TimestampFormat::HttpDate, &mut buf)
            .map_err(|_| invalid_header("response-expires"))?;
        push_query(
            &mut query,
            "response-expires",
            &String::from_utf8_lossy(&buf),
        );
    }
    Ok((
        Call {
            method,
            bucket,
            key,
            query,
            headers: h.0,
            payload: iotcreds_sigv4::UNSIGNED_PAYLOAD,
        },
        validate,
    ))
}

/// The header names the device overrode with `response-*` (s3s answers those itself).
fn overridden(o: &[(&'static str, Option<&str>); 5], expires: bool) -> Vec<HeaderName> {
    let mut v: Vec<HeaderName> = o
        .iter()
        .filter(|(_, v)| v.is_some())
        .filter_map(|(n, _)| {
            n.strip_prefix("response-")
                .and_then(|h| HeaderName::try_from(h).ok())
        })
        .collect();
    if expires {
        v.push(http::header::EXPIRES);
    }
    v
}

fn checksum_wanted(mode: Option<&s3s::dto::ChecksumMode>) -> bool {
    mode.is_some_and(|m| {
        m.as_str()
            .eq_ignore_ascii_case(s3s::dto::ChecksumMode::ENABLED)
    })
}

impl Wire {
    pub(crate) async fn get_object(
        &self,
        cx: &Ctx<'_>,
        bucket: &str,
        i: &GetObjectInput,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let wants = checksum_wanted(i.checksum_mode.as_ref());
        let whole = i.range.is_none() && i.part_number.is_none();
        let overrides = [
            (
                "response-cache-control",
                i.response_cache_control.as_deref(),
            ),
            (
                "response-content-disposition",
                i.response_content_disposition.as_deref(),
            ),
            (
                "response-content-encoding",
                i.response_content_encoding.as_deref(),
            ),
            (
                "response-content-language",
                i.response_content_language.as_deref(),
            ),
            ("response-content-type", i.response_content_type.as_deref()),
        ];
        let (call, validate) = read_call(
            self,
            Method::GET,
            bucket,
            &i.key,
            wants,
            whole,
            i.part_number,
            [
                ("if-match", i.if_match.as_ref()),
                ("if-none-match", i.if_none_match.as_ref()),
            ],
            [
                ("if-modified-since", i.if_modified_since.as_ref()),
                ("if-unmodified-since", i.if_unmodified_since.as_ref()),
            ],
            i.range.as_ref(),
            overrides,
            i.response_expires.as_ref(),
        )?;
        let resp = self.read(cx, &call).await?;
        let (parts, body) = resp.into_parts();
        let len = content_length(&parts.headers);
        let check = (validate && parts.status == http::StatusCode::OK && len.is_some())
            .then(|| full_object_checksum(&parts.headers))
            .flatten()
            .map(|(algo, value)| Check::new(algo, value));
        let skip = overridden(&overrides, i.response_expires.is_some());
        let headers = pass_headers(&parts.headers, false, wants, &skip);
        let output = GetObjectOutput {
            body: Some(s3s::dto::StreamingBlob::new(Download::new(
                body, len, self.idle, check, cx.op,
            ))),
            content_length: len.and_then(|n| i64::try_from(n).ok()),
            content_range: parts
                .headers
                .get(http::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ..GetObjectOutput::default()
        };
        let mut resp = S3Response::new(output);
        resp.headers = headers;
        Ok(resp)
    }

    pub(crate) async fn head_object(
        &self,
        cx: &Ctx<'_>,
        bucket: &str,
        i: &HeadObjectInput,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let wants = checksum_wanted(i.checksum_mode.as_ref());
        let overrides = [
            (
                "response-cache-control",
                i.response_cache_control.as_deref(),
            ),
            (
                "response-content-disposition",
                i.response_content_disposition.as_deref(),
            ),
            (
                "response-content-encoding",
                i.response_content_encoding.as_deref(),
            ),
            (
                "response-content-language",
                i.response_content_language.as_deref(),
            ),
            ("response-content-type", i.response_content_type.as_deref()),
        ];
        let (call, _) = read_call(
            self,
            Method::HEAD,
            bucket,
            &i.key,
            wants,
            false,
            i.part_number,
            [
                ("if-match", i.if_match.as_ref()),
                ("if-none-match", i.if_none_match.as_ref()),
            ],
            [
                ("if-modified-since", i.if_modified_since.as_ref()),
                ("if-unmodified-since", i.if_unmodified_since.as_ref()),
            ],
            i.range.as_ref(),
            overrides,
            i.response_expires.as_ref(),
        )?;
        let resp = self.read(cx, &call).await?;
        let headers = pass_headers(resp.headers(), false, wants, &[]);
        let output = HeadObjectOutput {
            content_length: content_length(resp.headers()).and_then(|n| i64::try_from(n).ok()),
            content_range: resp
                .headers()
                .get(http::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ..HeadObjectOutput::default()
        };
        let mut r = S3Response::new(output);
        r.headers = headers;
        Ok(r)
    }

    pub(crate) async fn put_object(
        &self,
        cx: &Ctx<'_>,
        bucket: &str,
        i: &PutObjectInput,
        body: Prepared,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let mut h = Headers::default();
        h.str("cache-control", i.cache_control.as_deref())?;
        h.str("content-disposition", i.content_disposition.as_deref())?;
        h.str("content-language", i.content_language.as_deref())?;
        h.str("content-md5", i.content_md5.as_deref())?;
        h.str("content-type", i.content_type.as_deref())?;
        h.date("expires", i.expires.as_ref())?;
        h.etag("if-match", i.if_match.as_ref())?;
        h.etag("if-none-match", i.if_none_match.as_ref())?;
        h.metadata(i.metadata.as_ref())?;
        h.str(
            "x-amz-website-redirect-location",
            i.website_redirect_location.as_deref(),
        )?;
        h.str("x-amz-tagging", i.tagging.as_deref())?;
        let sums = HeaderChecksums([
            ("x-amz-checksum-crc32", i.checksum_crc32.as_deref()),
            ("x-amz-checksum-crc32c", i.checksum_crc32c.as_deref()),
            ("x-amz-checksum-crc64nvme", i.checksum_crc64nvme.as_deref()),
            ("x-amz-checksum-sha1", i.checksum_sha1.as_deref()),
            ("x-amz-checksum-sha256", i.checksum_sha256.as_deref()),
        ]);
        let encoding = device_content_encoding(i.content_encoding.as_deref());
        let resp = self
            .send_upload(cx, bucket, &i.key, String::new(), h, &sums, encoding, body)
            .await?;
        let mut r = S3Response::new(PutObjectOutput::default());
        r.headers = pass_headers(resp.headers(), true, true, &[]);
        Ok(r)
    }

    pub(crate) async fn upload_part(
        &self,
        cx: &Ctx<'_>,
        bucket: &str,
        i: &UploadPartInput,
        body: Prepared,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let mut h = Headers::default();
        h.str("content-md5", i.content_md5.as_deref())?;
        let sums = HeaderChecksums([
            ("x-amz-checksum-crc32", i.checksum_crc32.as_deref()),
            ("x-amz-checksum-crc32c", i.checksum_crc32c.as_deref()),
            ("x-amz-checksum-crc64nvme", i.checksum_crc64nvme.as_deref()),
            ("x-amz-checksum-sha1", i.checksum_sha1.as_deref()),
            ("x-amz-checksum-sha256", i.checksum_sha256.as_deref()),
        ]);
        let mut query = String::new();
        push_query(&mut query, "partNumber", &i.part_number.to_string());
        push_query(&mut query, "uploadId", &i.upload_id);
        let resp = self
            .send_upload(cx, bucket, &i.key, query, h, &sums, None, body)
            .await?;
        let mut r = S3Response::new(UploadPartOutput::default());
        r.headers = pass_headers(resp.headers(), true, true, &[]);
        Ok(r)
    }

    /// Sends an upload: plain with the device's header checksums, or aws-chunked with the
    /// checksum trailer of [`Prepared::trailer`].
    #[allow(clippy::too_many_arguments)]
    async fn send_upload(
        &self,
        cx: &Ctx<'_>,
        bucket: &str,
        key: &str,
        query: String,
        mut h: Headers,
        sums: &HeaderChecksums<'_>,
        encoding: Option<String>,
        body: Prepared,
    ) -> S3Result<http::Response<hyper::body::Incoming>> {
        let Prepared {
            body,
            declared,
            trailer,
            ..
        } = body;
        if let Some(algo) = trailer {
            let ce = match encoding {
                Some(e) => format!("aws-chunked,{e}"),
                None => "aws-chunked".to_owned(),
            };
            h.str("content-encoding", Some(&ce))?;
            h.str("x-amz-decoded-content-length", Some(&declared.to_string()))?;
            h.str("x-amz-sdk-checksum-algorithm", Some(algo.name()))?;
            h.str("x-amz-trailer", Some(&algo.header()))?;
            let call = Call {
                method: Method::PUT,
                bucket,
                key,
                query,
                headers: h.0,
                payload: iotcreds_sigv4::STREAMING_UNSIGNED_PAYLOAD_TRAILER,
            };
            let len = encoded_len(declared, algo);
            self.upload(cx, &call, AwsChunked::new(body, declared), len)
                .await
        } else {
            h.str("content-encoding", encoding.as_deref())?;
            sums.add(&mut h)?;
            h.str(
                "x-amz-sdk-checksum-algorithm",
                sums.algorithm().map(Algo::name),
            )?;
            let call = Call {
                method: Method::PUT,
                bucket,
                key,
                query,
                headers: h.0,
                payload: iotcreds_sigv4::UNSIGNED_PAYLOAD,
            };
            self.upload(cx, &call, body, declared).await
        }
    }
}

/// The device's `Content-Encoding` without `aws-chunked` (which describes its request to the
/// gateway, not the object).
fn device_content_encoding(ce: Option<&str>) -> Option<String> {
    let rest: Vec<&str> = ce?
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!rest.is_empty()).then(|| rest.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_encoding_without_aws_chunked() {
        assert_eq!(device_content_encoding(None), None);
        assert_eq!(device_content_encoding(Some("aws-chunked")), None);
        assert_eq!(
            device_content_encoding(Some("aws-chunked,gzip")).as_deref(),
            Some("gzip")
        );
        assert_eq!(
            device_content_encoding(Some("gzip, br")).as_deref(),
            Some("gzip,br")
        );
    }

    #[test]
    fn full_object_checksums_only() {
        let mut h = http::HeaderMap::new();
        h.insert("x-amz-checksum-crc32", "DUoRhQ==".parse().expect("v"));
        assert_eq!(
            full_object_checksum(&h),
            Some((Algo::Crc32, "DUoRhQ==".to_owned()))
        );
        h.insert("x-amz-checksum-type", "COMPOSITE".parse().expect("v"));
        assert_eq!(full_object_checksum(&h), None);
        let mut h = http::HeaderMap::new();
        h.insert("x-amz-checksum-sha256", "abc-3".parse().expect("v"));
        assert_eq!(full_object_checksum(&h), None);
        assert_eq!(full_object_checksum(&http::HeaderMap::new()), None);
    }
}
