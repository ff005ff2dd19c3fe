//! Buckets and objects: list, create a bucket, browse by prefix, upload, download, delete —
//! each through the S3 endpoint's authorisation ([`crate::objects::Objects`]).

use bytes::Bytes;
use futures::StreamExt as _;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyDataStream, BodyExt, StreamBody};

use super::Cx;
use super::certificates::attachment;
use crate::html::Html;
use crate::objects::ObjectsError;
use crate::url::{path, with_query};
use crate::{Body, BoxError, Incoming};

fn show_error(e: &ObjectsError) -> String {
    format!("{}: {}", e.code, e.message)
}

/// `GET /buckets`.
pub async fn list(cx: &Cx<'_>) -> Response<Body> {
    if !cx.q("open").is_empty() {
        return crate::redirect(&path("/buckets", cx.q("open")));
    }
    let mut h = Html::new();
    h.h1("Buckets");
    match cx.console.objects.list_buckets(&cx.caller).await {
        Ok(buckets) => {
            h.table(&["Bucket", "Created"], |h| {
                for b in &buckets {
                    h.open("tr", &[])
                        .open("td", &[])
                        .link(&path("/buckets", &b.name), &b.name)
                        .close("td");
                    h.el(
                        "td",
                        &[],
                        &b.created_ms.map(super::fmt_ms).unwrap_or_default(),
                    )
                    .close("tr");
                }
            });
            if buckets.is_empty() {
                h.note("No buckets yet.");
            }
        }
        Err(e) => {
            h.message("error", &show_error(&e));
        }
    }
    h.h2("Create a bucket");
    cx.form(&mut h, "/buckets", |h| {
        h.input(
            "Bucket name",
            "name",
            "",
            &[("required", ""), ("id", "bucket-name")],
        );
        h.submit("Create bucket");
    });
    h.h2("Open a bucket");
    h.note("Listing every bucket needs s3:ListAllMyBuckets; a bucket you may list can be opened by name.");
    h.open(
        "form",
        &[
            ("method", "get"),
            ("action", "/buckets"),
            ("class", "inline-form"),
            ("id", "open-bucket"),
        ],
    );
    h.input("Bucket name", "open", "", &[("required", "")]);
    h.el("button", &[("type", "submit")], "Open");
    h.close("form");
    cx.page("Buckets", "/buckets", h)
}

/// `POST /buckets`.
pub async fn create(cx: &Cx<'_>) -> Response<Body> {
    let name = cx.ft("name");
    match cx.console.objects.create_bucket(&cx.caller, name).await {
        Ok(()) => cx.done(&path("/buckets", name), format!("Bucket {name} created.")),
        Err(e) => {
            cx.flash("error", show_error(&e));
            crate::redirect("/buckets")
        }
    }
}

/// `GET /buckets/{bucket}?prefix=…&after=…`.
pub async fn show(cx: &Cx<'_>, bucket: &str) -> Response<Body> {
    let prefix = cx.q("prefix");
    let base = path("/buckets", bucket);
    let after = match cx.q("after") {
        "" => None,
        a => Some(a),
    };
    let mut h = Html::new();
    h.h1(bucket);
    // Breadcrumbs: bucket / a / b /
    h.open("p", &[("class", "crumbs")]).link(&base, bucket);
    let mut acc = String::new();
    for part in prefix.split('/').filter(|p| !p.is_empty()) {
        acc.push_str(part);
        acc.push('/');
        h.text(" / ")
            .link(&with_query(&base, &[("prefix", &acc)]), part);
    }
    h.close("p");
    match cx
        .console
        .objects
        .list_objects(&cx.caller, bucket, prefix, after)
        .await
    {
        Ok(page) => {
            h.table(&["Key", "Size", "Last modified", ""], |h| {
                for p in &page.prefixes {
                    let shown = p.strip_prefix(prefix).unwrap_or(p);
                    h.open("tr", &[]).open("td", &[("class", "mono")]);
                    h.link(&with_query(&base, &[("prefix", p)]), shown)
                        .close("td");
                    h.el("td", &[], "folder")
                        .el("td", &[], "")
                        .el("td", &[], "")
                        .close("tr");
                }
                for o in &page.objects {
                    let shown = o.key.strip_prefix(prefix).unwrap_or(&o.key);
                    h.open("tr", &[]).open("td", &[("class", "mono")]);
                    h.el(
                        "a",
                        &[
                            (
                                "href",
                                &with_query(&format!("{base}/object"), &[("key", &o.key)]),
                            ),
                            ("download", ""),
                        ],
                        shown,
                    );
                    h.close("td").open("td", &[]).num(o.size).close("td");
                    h.el(
                        "td",
                        &[],
                        &o.modified_ms.map(super::fmt_ms).unwrap_or_default(),
                    );
                    h.open("td", &[]);
                    cx.form(h, &format!("{base}/delete"), |h| {
                        h.hidden("key", &o.key).hidden("prefix", prefix);
                        h.el(
                            "button",
                            &[
                                ("type", "submit"),
                                ("class", "danger"),
                                ("data-confirm", "Delete this object?"),
                            ],
                            "Delete",
                        );
                    });
                    h.close("td").close("tr");
                }
            });
            if page.prefixes.is_empty() && page.objects.is_empty() {
                h.note("Nothing here.");
            }
            if let Some(next) = &page.next {
                h.p("").link(
                    &with_query(&base, &[("prefix", prefix), ("after", next)]),
                    "Next page",
                );
            }
        }
        Err(e) => {
            h.message("error", &show_error(&e));
        }
    }
    h.h2("Upload");
    h.open(
        "form",
        &[
            ("class", "upload"),
            ("data-action", &format!("{base}/upload")),
            ("data-csrf", &cx.csrf),
            ("data-prefix", prefix),
            ("id", "upload-form"),
        ],
    );
    h.open("label", &[])
        .text("File")
        .open(
            "input",
            &[
                ("type", "file"),
                ("name", "file"),
                ("required", ""),
                ("id", "upload-file"),
            ],
        )
        .close("label");
    h.input(
        "Key (default: the prefix and the file's name)",
        "key",
        "",
        &[("id", "upload-key")],
    );
    h.submit("Upload");
    h.el(
        "p",
        &[("class", "upload-status"), ("aria-live", "polite")],
        "",
    );
    h.close("form");
    h.note(&format!(
        "Up to {} MiB per object. Uploading needs JavaScript; the file goes to the S3 endpoint's authorisation as a PutObject.",
        cx.console.settings.max_upload_bytes >> 20
    ));
    cx.page(bucket, "/buckets", h)
}

/// `GET /buckets/{bucket}/object?key=…`: the object as a download.
pub async fn download(cx: &Cx<'_>, bucket: &str) -> Response<Body> {
    let key = cx.q("key");
    match cx.console.objects.get_object(&cx.caller, bucket, key).await {
        Ok(d) => {
            let name = key.rsplit('/').next().unwrap_or(key);
            let mut r = attachment(if name.is_empty() { "object" } else { name }, Bytes::new());
            let stream = d.body.map(|chunk| {
                chunk
                    .map(http_body::Frame::data)
                    .map_err(|e| Box::new(e) as BoxError)
            });
            *r.body_mut() = BodyExt::boxed(StreamBody::new(stream));
            if let Some(len) = d.length {
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            }
            r
        }
        Err(e) => {
            let mut h = Html::new();
            h.h1(bucket).message("error", &show_error(&e));
            let status = if e.code == "AccessDenied" {
                StatusCode::FORBIDDEN
            } else if e.code.starts_with("NoSuch") {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::BAD_REQUEST
            };
            cx.page_status(status, bucket, "/buckets", h)
        }
    }
}

/// `POST /buckets/{bucket}/upload?key=…` with the file as the body (sent by the page's
/// script with the CSRF token in `x-csrf-token`). Answers JSON.
pub async fn upload<B>(cx: &Cx<'_>, bucket: &str, r: &Incoming, body: Option<B>) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + Sync + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let json = |status: StatusCode, v: serde_json::Value| {
        let mut resp = Response::new(crate::body(v.to_string()));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    };
    let key = cx.q("key");
    let Some(body) = body else {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"code": "InvalidRequest", "message": "Send the file as the request body with the x-csrf-token header."}),
        );
    };
    if key.is_empty() {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"code": "InvalidArgument", "message": "A key is required."}),
        );
    }
    let Some(length) = r
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return json(
            StatusCode::LENGTH_REQUIRED,
            serde_json::json!({"code": "MissingContentLength", "message": "You must provide the Content-Length HTTP header."}),
        );
    };
    let max = cx.console.settings.max_upload_bytes;
    if length > max {
        return json(
            StatusCode::PAYLOAD_TOO_LARGE,
            serde_json::json!({"code": "EntityTooLarge", "message": format!("Your proposed upload exceeds the console's maximum of {max} bytes.")}),
        );
    }
    let stream = BodyDataStream::new(body).map(|r| r.map_err(|e| std::io::Error::other(e.into())));
    match cx
        .console
        .objects
        .put_object(&cx.caller, bucket, key, length, Box::pin(stream))
        .await
    {
        Ok(()) => {
            let prefix = key.rfind('/').map_or("", |i| &key[..=i]);
            let next = with_query(&path("/buckets", bucket), &[("prefix", prefix)]);
            json(
                StatusCode::OK,
                serde_json::json!({"key": key, "next": next}),
            )
        }
        Err(e) => {
            let status = if e.code == "AccessDenied" {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            json(
                status,
                serde_json::json!({"code": e.code, "message": e.message}),
            )
        }
    }
}

/// `POST /buckets/{bucket}/delete` (form: `key`, `prefix`).
pub async fn delete(cx: &Cx<'_>, bucket: &str) -> Response<Body> {
    let key = cx.f("key");
    let back = with_query(&path("/buckets", bucket), &[("prefix", cx.f("prefix"))]);
    match cx
        .console
        .objects
        .delete_object(&cx.caller, bucket, key)
        .await
    {
        Ok(()) => cx.done(&back, format!("Deleted {key}.")),
        Err(e) => {
            cx.flash("error", show_error(&e));
            crate::redirect(&back)
        }
    }
}
