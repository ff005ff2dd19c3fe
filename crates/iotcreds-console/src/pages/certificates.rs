//! Device certificates (create with one click and download once, register a CA-signed one,
//! change status, policies and things, delete) and CA certificates.

use std::time::Instant;

use http::{HeaderValue, Method, Response, StatusCode, header};
use serde_json::{Value, json};

use super::Cx;
use crate::api::{Failure, s, time_of};
use crate::device::{CA_FILE, CERT_FILE, KEY_FILE};
use crate::html::Html;
use crate::session::OneTimeFile;
use crate::url::{enc, path};
use crate::{Body, body};

const STATUSES: &[&str] = &["ACTIVE", "INACTIVE", "REVOKED"];

fn options(values: &[&str]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|v| ((*v).to_owned(), (*v).to_owned()))
        .collect()
}

/// A file download: an attachment with a neutral type, never rendered by the browser.
pub fn attachment(name: &str, contents: impl Into<bytes::Bytes>) -> Response<Body> {
    let mut r = Response::new(body(contents));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            })
            .collect::<String>(),
        enc(name)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    r
}

/// `GET /certificates`.
pub async fn list(cx: &Cx<'_>) -> Response<Body> {
    let certs = match cx
        .api()
        .iot_all(
            "/certificates",
            &[("pageSize", "250")],
            "certificates",
            1000,
        )
        .await
    {
        Ok(c) => c,
        Err(f) => return cx.error_page("Certificates", "/certificates", &f),
    };
    let mut h = Html::new();
    h.h1("Certificates");
    cx.form(&mut h, "/certificates", |h| {
        h.note("A new key pair and a certificate signed by this account's CA, ACTIVE. The private key can be downloaded once.");
        h.el("button", &[("type", "submit"), ("class", "primary"), ("id", "create-certificate")], "Create certificate");
    });
    h.table(&["Certificate ID", "Status", "Created"], |h| {
        for c in &certs {
            let id = s(c, "certificateId");
            h.open("tr", &[])
                .open("td", &[("class", "mono")])
                .link(&path("/certificates", id), id)
                .close("td");
            h.el("td", &[], s(c, "status"))
                .el("td", &[], &time_of(c, "creationDate"))
                .close("tr");
        }
    });
    if certs.is_empty() {
        h.note("No certificates yet.");
    }
    h.h2("Register a CA-signed certificate");
    cx.form(&mut h, "/certificates/register", |h| {
        h.textarea("Certificate (PEM)", "certificate", "", "6");
        h.textarea(
            "CA certificate (PEM, optional if the CA is registered)",
            "ca",
            "",
            "4",
        );
        h.select(
            "Status",
            "status",
            &options(&["ACTIVE", "INACTIVE"]),
            "ACTIVE",
        );
        h.checkbox("Register without a CA (SNI only)", "no_ca", false);
        h.submit("Register certificate");
    });
    h.p("")
        .link("/ca-certificates", "CA certificates")
        .text(" · ")
        .link("/root-ca.pem", "Download this account's root CA");
    cx.page("Certificates", "/certificates", h)
}

/// Create a certificate and its key; the files are offered once. Returns the certificate id
/// and the download token.
pub async fn create_certificate(cx: &Cx<'_>) -> Result<(String, String), Failure> {
    let v = cx
        .api()
        .iot(
            Method::POST,
            "/keys-and-certificate",
            &[("setAsActive", "true")],
            None,
        )
        .await?;
    let id = s(&v, "certificateId").to_owned();
    let files = vec![
        OneTimeFile {
            name: CERT_FILE,
            contents: s(&v, "certificatePem").to_owned(),
        },
        OneTimeFile {
            name: KEY_FILE,
            contents: v
                .pointer("/keyPair/PrivateKey")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        },
    ];
    let now = Instant::now();
    let token = cx
        .console
        .sessions
        .with(&cx.cookie, now, |sess| sess.offer(&id, files, now))
        .map_err(|_| Failure::local("SessionExpired", "The session ended."))?;
    Ok((id, token))
}

/// `POST /certificates`: one click.
pub async fn create(cx: &Cx<'_>) -> Response<Body> {
    match create_certificate(cx).await {
        Ok((id, token)) => cx.done(
            &format!("/certificates/created/{}", enc(&token)),
            format!("Certificate {id} created and ACTIVE."),
        ),
        Err(f) => cx.failed("/certificates", &f),
    }
}

/// The download links of a bundle (used here and by the connect flow).
pub fn download_links(cx: &Cx<'_>, h: &mut Html, token: &str) -> bool {
    let now = Instant::now();
    let left: Option<Vec<&'static str>> = cx
        .console
        .sessions
        .with(&cx.cookie, now, |sess| {
            sess.bundle(token, now)
                .map(|b| b.files.iter().map(|f| f.name).collect())
        })
        .ok()
        .flatten();
    h.open("ul", &[("class", "downloads")]);
    for name in [CERT_FILE, KEY_FILE] {
        h.open("li", &[]);
        if left.as_ref().is_some_and(|l| l.contains(&name)) {
            h.el(
                "a",
                &[
                    (
                        "href",
                        &format!("/certificates/download/{}/{}", enc(token), name),
                    ),
                    ("download", name),
                    ("id", &format!("download-{}", name.replace('.', "-"))),
                ],
                &format!("Download {name}"),
            );
        } else {
            h.text(name).text(" — already downloaded or expired");
        }
        h.close("li");
    }
    h.open("li", &[]).el(
        "a",
        &[
            ("href", "/root-ca.pem"),
            ("download", CA_FILE),
            ("id", "download-root-ca-pem"),
        ],
        &format!("Download {CA_FILE} (root CA)"),
    );
    h.close("li").close("ul");
    left.is_some()
}

/// `GET /certificates/created/{token}`.
pub async fn created(cx: &Cx<'_>, token: &str) -> Response<Body> {
    let now = Instant::now();
    let id = cx
        .console
        .sessions
        .with(&cx.cookie, now, |sess| {
            sess.bundle(token, now).map(|b| b.certificate_id.clone())
        })
        .ok()
        .flatten();
    let mut h = Html::new();
    h.h1("Certificate created");
    match id {
        Some(id) => {
            h.facts(&[("Certificate ID", &id)]);
            h.message(
                "info",
                "Download the private key now: it is not kept, and each file can be downloaded once.",
            );
            download_links(cx, &mut h, token);
            h.p("")
                .link(&path("/certificates", &id), "Attach a policy and a thing");
        }
        None => {
            h.message("info", "These downloads are no longer available.");
        }
    }
    cx.page("Certificate created", "/certificates", h)
}

/// `GET /certificates/download/{token}/{file}`: each file once.
pub fn download(cx: &Cx<'_>, token: &str, file: &str) -> Response<Body> {
    let now = Instant::now();
    let taken = cx
        .console
        .sessions
        .with(&cx.cookie, now, |sess| sess.take(token, file, now))
        .ok()
        .flatten();
    match taken {
        Some(f) => {
            tracing::info!(
                target: "iotcreds::audit",
                event = "console_download",
                file = f.name,
                principal = %cx.caller.principal.arn(),
                session = %cx.marker,
            );
            attachment(f.name, f.contents)
        }
        None => {
            let mut h = Html::new();
            h.h1("Not available")
                .p("This file was already downloaded, or its link expired. A private key is offered only once.");
            cx.page_status(StatusCode::GONE, "Not available", "/certificates", h)
        }
    }
}

/// `GET /root-ca.pem`: the account's CA certificate (public).
pub fn root_ca(cx: &Cx<'_>) -> Response<Body> {
    attachment(
        CA_FILE,
        cx.console.control.registry.ca().cert_pem().to_owned(),
    )
}

/// `GET /certificates/{id}/cert.pem`: a registered certificate (public).
pub async fn pem(cx: &Cx<'_>, id: &str) -> Response<Body> {
    match cx
        .api()
        .iot(Method::GET, &path("/certificates", id), &[], None)
        .await
    {
        Ok(v) => attachment(
            CERT_FILE,
            v.pointer("/certificateDescription/certificatePem")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        ),
        Err(f) => cx.error_page("Certificate", "/certificates", &f),
    }
}

/// `GET /certificates/{id}`.
pub async fn show(cx: &Cx<'_>, id: &str) -> Response<Body> {
    let api = cx.api();
    let base = path("/certificates", id);
    let v = match api.iot(Method::GET, &base, &[], None).await {
        Ok(v) => v,
        Err(f) => return cx.error_page("Certificate", "/certificates", &f),
    };
    let d = v
        .get("certificateDescription")
        .cloned()
        .unwrap_or(Value::Null);
    let arn = s(&d, "certificateArn").to_owned();
    let validity = d.get("validity").cloned().unwrap_or(Value::Null);
    let mut h = Html::new();
    h.h1("Certificate");
    h.facts(&[
        ("ID", s(&d, "certificateId")),
        ("ARN", &arn),
        ("Status", s(&d, "status")),
        ("CA certificate", s(&d, "caCertificateId")),
        ("Mode", s(&d, "certificateMode")),
        ("Valid from", &time_of(&validity, "notBefore")),
        ("Valid until", &time_of(&validity, "notAfter")),
        ("Created", &time_of(&d, "creationDate")),
    ]);
    h.p("")
        .link(&format!("{base}/cert.pem"), "Download cert.pem");
    cx.form(&mut h, &format!("{base}/status"), |h| {
        h.select("Status", "status", &options(STATUSES), s(&d, "status"));
        h.submit("Change status");
    });

    h.h2("IoT policies");
    let policies = api
        .iot(
            Method::POST,
            &format!("/attached-policies/{}", enc(&arn)),
            &[],
            None,
        )
        .await;
    match &policies {
        Ok(p) => {
            let list = p
                .get("policies")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            h.table(&["Policy", ""], |h| {
                for pol in &list {
                    let name = s(pol, "policyName");
                    h.open("tr", &[])
                        .open("td", &[])
                        .link(&path("/policies", name), name)
                        .close("td");
                    h.open("td", &[]);
                    cx.form(h, &format!("{base}/detach-policy"), |h| {
                        h.hidden("policy", name);
                        h.el(
                            "button",
                            &[("type", "submit"), ("class", "danger")],
                            "Detach",
                        );
                    });
                    h.close("td").close("tr");
                }
            });
        }
        Err(f) => {
            h.message("error", &f.display());
        }
    }
    let all = api
        .iot_all("/policies", &[], "policies", 1000)
        .await
        .unwrap_or_default();
    let opts: Vec<(String, String)> = all
        .iter()
        .map(|p| (s(p, "policyName").to_owned(), s(p, "policyName").to_owned()))
        .collect();
    if !opts.is_empty() {
        cx.form(&mut h, &format!("{base}/attach-policy"), |h| {
            h.select("Attach policy", "policy", &opts, "");
            h.submit("Attach");
        });
    }

    h.h2("Things");
    match api
        .iot_full(
            Method::GET,
            "/principals/things",
            &[],
            &[("x-amzn-principal", &arn)],
            None,
        )
        .await
    {
        Ok(t) => {
            h.open("ul", &[]);
            for name in t
                .get("things")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = name.as_str().unwrap_or("");
                h.open("li", &[])
                    .link(&path("/things", name), name)
                    .close("li");
            }
            h.close("ul");
        }
        Err(f) => {
            h.message("error", &f.display());
        }
    }
    h.h2("Certificate (PEM)");
    h.code_block("certificate-pem", s(&d, "certificatePem"));
    h.h2("Delete");
    h.note(
        "Only an INACTIVE or REVOKED certificate with no policy or thing attached can be deleted.",
    );
    cx.button(
        &mut h,
        &format!("{base}/delete"),
        "Delete certificate",
        Some("Delete this certificate?"),
    );
    cx.page("Certificate", "/certificates", h)
}

/// `POST /certificates/{id}/{action}`.
pub async fn act(cx: &Cx<'_>, id: &str, action: &str) -> Response<Body> {
    let api = cx.api();
    let base = path("/certificates", id);
    let arn = cx.console.control.registry.certificate_arn(id);
    let result = match action {
        "status" => api
            .iot(Method::PUT, &base, &[("newStatus", cx.ft("status"))], None)
            .await
            .map(|_| format!("Status set to {}.", cx.ft("status"))),
        "attach-policy" | "detach-policy" => {
            let policy = cx.ft("policy");
            let method = if action == "attach-policy" {
                Method::PUT
            } else {
                Method::POST
            };
            api.iot(
                method,
                &path("/target-policies", policy),
                &[],
                Some(&json!({ "target": arn })),
            )
            .await
            .map(|_| {
                if action == "attach-policy" {
                    format!("Policy {policy} attached.")
                } else {
                    format!("Policy {policy} detached.")
                }
            })
        }
        "delete" => {
            return match api.iot(Method::DELETE, &base, &[], None).await {
                Ok(_) => cx.done("/certificates", format!("Certificate {id} deleted.")),
                Err(f) => cx.failed(&base, &f),
            };
        }
        _ => Err(Failure::local("NotFound", "No such action.")),
    };
    match result {
        Ok(m) => cx.done(&base, m),
        Err(f) => cx.failed(&base, &f),
    }
}

/// `POST /certificates/register`.
pub async fn register(cx: &Cx<'_>) -> Response<Body> {
    let api = cx.api();
    let mut body = json!({ "certificatePem": cx.f("certificate"), "status": cx.ft("status") });
    let result = if cx.checked("no_ca") {
        api.iot(
            Method::POST,
            "/certificate/register-no-ca",
            &[],
            Some(&body),
        )
        .await
    } else {
        if !cx.ft("ca").is_empty() {
            body["caCertificatePem"] = json!(cx.f("ca"));
        }
        api.iot(Method::POST, "/certificate/register", &[], Some(&body))
            .await
    };
    match result {
        Ok(v) => {
            let id = s(&v, "certificateId");
            cx.done(
                &path("/certificates", id),
                format!("Certificate {id} registered."),
            )
        }
        Err(f) => cx.failed("/certificates", &f),
    }
}

/// `GET /ca-certificates`.
pub async fn ca_list(cx: &Cx<'_>) -> Response<Body> {
    let api = cx.api();
    let cas = match api
        .iot_all("/cacertificates", &[], "certificates", 1000)
        .await
    {
        Ok(c) => c,
        Err(f) => return cx.error_page("CA certificates", "/certificates", &f),
    };
    let mut h = Html::new();
    h.h1("CA certificates");
    h.table(&["CA certificate ID", "Status", "Created"], |h| {
        for c in &cas {
            let id = s(c, "certificateId");
            h.open("tr", &[])
                .open("td", &[("class", "mono")])
                .link(&path("/ca-certificates", id), id)
                .close("td");
            h.el("td", &[], s(c, "status"))
                .el("td", &[], &time_of(c, "creationDate"))
                .close("tr");
        }
    });
    if cas.is_empty() {
        h.note("No CA certificates registered. Certificates made by this console are signed by the account's built-in CA.");
    }
    h.h2("Register a CA certificate");
    match api.iot(Method::GET, "/registrationcode", &[], None).await {
        Ok(v) => {
            h.p("Registration code (the common name of the verification certificate):");
            h.code_block("registration-code", s(&v, "registrationCode"));
        }
        Err(f) => {
            h.message("error", &f.display());
        }
    }
    cx.form(&mut h, "/ca-certificates", |h| {
        h.textarea("CA certificate (PEM)", "ca", "", "6");
        h.textarea("Verification certificate (PEM)", "verification", "", "6");
        h.checkbox("Set as ACTIVE", "active", true);
        h.checkbox("Allow auto-registration", "auto", false);
        h.submit("Register CA certificate");
    });
    cx.page("CA certificates", "/certificates", h)
}

/// `POST /ca-certificates`.
pub async fn ca_register(cx: &Cx<'_>) -> Response<Body> {
    let body =
        json!({ "caCertificate": cx.f("ca"), "verificationCertificate": cx.f("verification") });
    let active = if cx.checked("active") {
        "true"
    } else {
        "false"
    };
    let auto = if cx.checked("auto") { "true" } else { "false" };
    match cx
        .api()
        .iot(
            Method::POST,
            "/cacertificate",
            &[("setAsActive", active), ("allowAutoRegistration", auto)],
            Some(&body),
        )
        .await
    {
        Ok(v) => {
            let id = s(&v, "certificateId");
            cx.done(
                &path("/ca-certificates", id),
                format!("CA certificate {id} registered."),
            )
        }
        Err(f) => cx.failed("/ca-certificates", &f),
    }
}

/// `GET /ca-certificates/{id}`.
pub async fn ca_show(cx: &Cx<'_>, id: &str) -> Response<Body> {
    let base = path("/cacertificate", id);
    let v = match cx.api().iot(Method::GET, &base, &[], None).await {
        Ok(v) => v,
        Err(f) => return cx.error_page("CA certificate", "/certificates", &f),
    };
    let d = v
        .get("certificateDescription")
        .cloned()
        .unwrap_or(Value::Null);
    let page = path("/ca-certificates", id);
    let mut h = Html::new();
    h.h1("CA certificate");
    h.facts(&[
        ("ID", s(&d, "certificateId")),
        ("ARN", s(&d, "certificateArn")),
        ("Status", s(&d, "status")),
        ("Auto-registration", s(&d, "autoRegistrationStatus")),
        ("Created", &time_of(&d, "creationDate")),
    ]);
    cx.form(&mut h, &format!("{page}/status"), |h| {
        h.select(
            "Status",
            "status",
            &options(&["ACTIVE", "INACTIVE"]),
            s(&d, "status"),
        );
        h.submit("Change status");
    });
    h.h2("Certificate (PEM)");
    h.code_block("ca-pem", s(&d, "certificatePem"));
    h.h2("Delete");
    cx.button(
        &mut h,
        &format!("{page}/delete"),
        "Delete CA certificate",
        Some("Delete this CA certificate?"),
    );
    cx.page("CA certificate", "/certificates", h)
}

/// `POST /ca-certificates/{id}/{action}`.
pub async fn ca_act(cx: &Cx<'_>, id: &str, action: &str) -> Response<Body> {
    let base = path("/cacertificate", id);
    let page = path("/ca-certificates", id);
    let api = cx.api();
    match action {
        "status" => match api
            .iot(Method::PUT, &base, &[("newStatus", cx.ft("status"))], None)
            .await
        {
            Ok(_) => cx.done(&page, format!("Status set to {}.", cx.ft("status"))),
            Err(f) => cx.failed(&page, &f),
        },
        "delete" => match api.iot(Method::DELETE, &base, &[], None).await {
            Ok(_) => cx.done("/ca-certificates", format!("CA certificate {id} deleted.")),
            Err(f) => cx.failed(&page, &f),
        },
        _ => cx.failed(&page, &Failure::local("NotFound", "No such action.")),
    }
}
