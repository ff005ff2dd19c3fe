//! The upstream object backend of the scale-out deployment: [`UpstreamBackend`], an
//! [`s3s::S3`] implementation that keeps objects in an existing S3-compatible cluster (MinIO,
//! Ceph RGW, Garage, AWS S3) and calls it with the gateway's own service credentials.
//!
//! The gateway has already authenticated the device (SigV4, session token) and authorised the
//! request by IAM policy on the *device-visible* bucket and key before a call reaches this
//! backend; the backend never sees the device's credentials and does no authorisation. It
//! offers the same operations as the embedded file-system backend (`iotcreds-objects`), so
//! the server can use either behind the same `S3ServiceBuilder`:
//!
//! ```no_run
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use iotcreds_objects_upstream::{UpstreamBackend, UpstreamConfig};
//! let config: UpstreamConfig = toml::from_str(r#"
//!     endpoint = "http://minio.internal:9000"
//!     access_key_id = "iotcreds-gateway"
//!     secret_access_key = "..."
//!     bucket_prefix = "fleet-"
//! "#)?;
//! let backend = UpstreamBackend::new(config)?;
//! let service = s3s::service::S3ServiceBuilder::new(backend).build();
//! # let _ = service; Ok(()) }
//! ```
//!
//! The hot operations (GetObject, HeadObject, PutObject, UploadPart) are sent by hand
//! (`wire`): a request built from the typed input, signed with `iotcreds-sigv4`, over one pooled
//! hyper client (`transport`: HTTP/1.1 keep-alive, HTTP/2 where a TLS upstream offers it). The
//! other operations go through `s3s_aws::Proxy` (DTO conversion s3s ↔ `aws-sdk-s3`) over two SDK
//! clients (one with `operation_timeout`, one with `transfer_timeout` for the copies and
//! CompleteMultipartUpload) that use the same pooled client and TLS settings. Around each call
//! the backend maps bucket names, refuses request features that would act with the gateway's
//! privileges (`features` module docs), wraps upload bodies, and maps the answer back. The
//! `config` module docs show the TOML.
//!
//! # Bucket names
//!
//! A device bucket resolves to an upstream bucket through an explicit map, else
//! `bucket_prefix + name`, else (with `allow_unmapped`) the same name; anything else does not
//! exist (`NoSuchBucket`). The mapping is one-to-one, and every answer names buckets as the
//! device does: ListBuckets shows only the buckets that map back, under their device names;
//! listing results, ListMultipartUploads, CreateMultipartUpload, ListParts and
//! CompleteMultipartUpload carry the device name; `Location` is the gateway-relative
//! `/{bucket}[/{key}]`; copy sources (`x-amz-copy-source`) name device buckets and are mapped
//! too; upstream bucket names in error messages are replaced.
//!
//! # Streaming and back-pressure
//!
//! No object body is ever held in memory. A GetObject body is the upstream's response body
//! (`wire::download`), read only as fast as the device's connection takes it, so bytes flow
//! upstream → device at the slower side's pace (TCP flow control on both connections bounds
//! what is in flight). A PutObject/UploadPart body is s3s's request stream wrapped in
//! `UploadBody`, handed to the upstream connection chunk by chunk, with the request's
//! `Content-Length` (decoded length for aws-chunked; a chunked body without a length is refused
//! with `MissingContentLength`, as S3 does); a slow upstream stops the gateway reading from the
//! device. At most one chunk of the device's body is held back (see "Checksums"). Only XML
//! documents (listings, DeleteObjects, CompleteMultipartUpload) and error bodies (≤ 64 KiB) are
//! read whole. The integration tests move 64 MiB through the gateway (+5 MiB peak RSS), 48 MiB
//! to an upstream slower than the device and 48 MiB to a device slower than the upstream, and
//! check the process's peak RSS.
//!
//! Object keys are URI-encoded byte for byte (`..`, `//`, `%`, non-ASCII arrive at the upstream
//! as the device named them; the `keys` integration test lists the upstream to check).
//!
//! # Checksums: who verifies what
//!
//! * `Content-MD5` and `x-amz-checksum-*` **headers** are forwarded; the upstream verifies them
//!   and its `BadDigest` (or `InvalidDigest`, …) is passed to the device.
//! * A **trailing** checksum (`x-amz-trailer`, aws-chunked) cannot be forwarded as a header: its
//!   value arrives after the data. The gateway computes it while streaming and compares it with
//!   the trailer before the last chunk goes upstream; a mismatch aborts the upstream request
//!   (nothing is stored) and the device gets `BadDigest`. The SDK is asked for a checksum of the
//!   same algorithm, so the upstream stores and reports the checksum the device chose.
//! * aws-chunked chunk signatures are verified by s3s.
//! * The device's trailing checksum goes upstream as the trailer of an aws-chunked upload
//!   (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`, `wire::chunked`), so the upstream stores and
//!   verifies the checksum the device chose.
//! * With `checksum_calculation = "when_supported"` (default) the gateway adds its own CRC32
//!   trailer to uploads without a device checksum, protecting the gateway → upstream leg.
//! * With `checksum_validation = "when_supported"` (default) a whole-object GetObject asks the
//!   upstream for its checksum and the gateway checks the bytes while streaming them; a
//!   mismatch ends the device's response before its last byte. Checksum headers are shown to
//!   the device only when it sent `x-amz-checksum-mode: ENABLED`.
//!
//! # Errors
//!
//! Upstream answers the device can act on pass through with their code and status; failures of
//! the gateway's own credentials or configuration become `InternalError`; an unreachable or
//! failing upstream becomes `ServiceUnavailable` (`SlowDown` when it throttles). The table is
//! in the `errors` module docs.
//!
//! # Timeouts and retries
//!
//! `connect_timeout_secs` (5) bounds each TCP connect; `first_byte_timeout_secs` (60) the wait
//! for response headers after a GET/HEAD, or after the last byte of an upload, TLS handshake
//! included; `idle_timeout_secs` (30) a stall of the upstream inside a transfer (an upload chunk
//! it does not take: `ServiceUnavailable`; a download it stops sending: the device's response
//! ends early). Time spent waiting for the device never counts. The SDK's operations are bounded
//! by `operation_timeout_secs` (60) and, for CopyObject, UploadPartCopy and
//! CompleteMultipartUpload, `transfer_timeout_secs` (3600), all attempts included. Reads and
//! bookkeeping are retried up to `max_attempts` (3) on I/O errors, 5xx and throttling, with
//! jittered exponential back-off. A request whose body streams from the device cannot be
//! replayed, so PutObject and UploadPart are sent once; their failures reach the device, which
//! retries as S3 clients do.
//!
//! # What the gateway needs at the upstream
//!
//! One access key whose policy allows, on the mapped buckets: `s3:ListAllMyBuckets`,
//! `s3:ListBucket` (without it S3 answers 403 instead of 404 for a missing key, which devices
//! would see as `InternalError`), `s3:GetBucketLocation`, `s3:GetObject`, `s3:PutObject`,
//! `s3:DeleteObject`, `s3:ListBucketMultipartUploads`, `s3:ListMultipartUploadParts`,
//! `s3:AbortMultipartUpload`, and `s3:CreateBucket`/`s3:DeleteBucket` if devices may manage
//! buckets. Nothing else is ever called.
//!
//! # TLS
//!
//! An `https://` upstream is verified against the system's trust store or, with `ca_bundle`,
//! against that PEM file's CAs only; `client_cert`/`client_key` present a client certificate
//! (`tls` module). The files are read when the backend is built; a bad file is a
//! [`ConfigError`] naming the setting (never key material).
//!
//! # Security
//!
//! * **The gateway's credentials** (`access_key_id`, `secret_access_key`) are held by the SDK's
//!   credentials provider and the hand-written signer only. `UpstreamConfig`'s `Debug` prints `<redacted>` for the secret;
//!   no log line, error or metric of this crate contains it, and it never reaches a device.
//! * **What the device can learn:** the objects, listings and errors of the buckets it may use,
//!   under its own bucket names. It cannot learn the upstream endpoint, the upstream bucket names
//!   (responses and messages are rewritten), the gateway's access key, account or user (owner and
//!   initiator fields are dropped, upstream request ids are not passed on), upstream version ids
//!   or KMS key ids. A rejection of the gateway's credentials or permissions at the upstream
//!   (`InvalidAccessKeyId`, `SignatureDoesNotMatch`, `AccessDenied`, …) reaches the device as a
//!   plain `InternalError`; the cause is logged for the operator.
//! * **What the device cannot do:** the upstream acts with the gateway's privileges, so request
//!   features that would change access control, encryption keys, retention, tags or billing at
//!   the upstream are refused or dropped (see `features`); version ids other
//!   than `null` are refused. A device bucket name resolves only through the configured mapping,
//!   one-to-one, so an upstream bucket outside it cannot be named, and no upstream bucket has two
//!   device names.
//! * **The device's session token, signature and credentials** are not forwarded or logged:
//!   s3s keeps them in the request headers and `S3Request::credentials`, which this backend
//!   never reads; only the typed input goes upstream, in a new request signed with the
//!   gateway's key. Upstream responses pass to the device through an allow-list of S3 object
//!   headers (no request ids, version ids, KMS key ids or vendor headers).
//! * **Logs:** keep the `s3s` and `s3s_aws` targets at `info` or stricter. s3s-aws logs every
//!   input and output DTO at `debug` (object keys and user metadata; never credentials, since
//!   SSE-C keys are refused before forwarding).
//!
//! # Deliberate gaps
//!
//! The same as the embedded backend's: versioning, ACLs, server-side encryption, object lock
//! and storage classes other than `STANDARD` are not exposed, and operations other than those
//! of the `s3` module answer `NotImplemented`. Owner and initiator fields are omitted from
//! listings. Regions are the upstream's: GetBucketLocation and HeadBucket
//! report `region`, and CreateBucket without a LocationConstraint gets `region`'s outside
//! us-east-1; configure the gateway's region and the upstream's alike.

mod backend;
mod body;
mod buckets;
mod config;
mod errors;
mod features;
mod multipart;
mod names;
mod objects;
mod s3;
mod tagging;
mod tls;
mod transport;
mod wire;

pub use self::backend::UpstreamBackend;
pub use self::config::{ChecksumCalculation, ChecksumValidation, ConfigError, UpstreamConfig};
