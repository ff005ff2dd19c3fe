//! The iotcreds web console: server-rendered pages (a little vanilla JavaScript, no framework),
//! served on their own listener, so no console path can ever collide with an S3 bucket name.
//!
//! - **Sign-in as AWS does it** ([`signin`]): an IAM user with a console password (a login
//!   profile, argon2id-hashed) or the account's root access key. A bounded number of failures
//!   per user and per address ([`limits`]), counted before any password is checked.
//! - **Sessions** ([`session`]): a random id in an `HttpOnly`, `SameSite=Strict` cookie
//!   (`Secure` and `__Host-` over TLS), an absolute and an idle expiry, sign-out, and a CSRF
//!   token that every state-changing request must carry (plus an `Origin` check).
//! - **One authorisation pipeline** ([`api`]): every page and action calls the control plane's
//!   own handlers with a `Caller` for the signed-in principal, so IAM decides, and denials are
//!   AWS's `AccessDenied` messages; S3 goes through the server's S3 authorisation
//!   ([`objects::Objects`]). The same audit lines are written as for the API.
//! - **Served safely**: every dynamic string is escaped ([`html`]); a strict Content Security
//!   Policy without inline scripts; no framing; no caching of pages; downloads are attachments
//!   with a neutral type; redirects only to local paths ([`url::local_redirect`]); all assets
//!   are embedded in the binary, so the console works offline.

pub mod api;
pub mod device;
pub mod html;
pub mod limits;
pub mod objects;
pub mod pages;
pub mod session;
pub mod signin;
pub mod url;
pub mod xml;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use iotcreds_control::{Caller, ControlContext};
use iotcreds_registry::authz::Principal;

use crate::html::Html;
use crate::limits::FailureLimiter;
use crate::objects::Objects;
use crate::session::{Lookup, Sessions, Who};

/// An error inside a response body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The console's response body.
pub type Body = BoxBody<Bytes, BoxError>;

/// The stylesheet, embedded.
const CSS: &str = include_str!("../assets/console.css");
/// The script, embedded.
const JS: &str = include_str!("../assets/console.js");
/// The icon, embedded.
const ICON: &str = include_str!("../assets/icon.svg");

/// The Content Security Policy of every response: only this origin's script and style files,
/// no inline script or style, no plugins, no framing, forms only to this origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Largest form body (a policy document is at most 131072 characters).
const MAX_FORM_BYTES: usize = 512 * 1024;

/// Console settings (`[console]` in the server's configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Longest session, from sign-in.
    pub session_ttl: Duration,
    /// A session ends after this long without a request.
    pub idle_timeout: Duration,
    /// Most sessions held at once (least recently used goes first).
    pub max_sessions: usize,
    /// Largest object uploaded through the console.
    pub max_upload_bytes: u64,
    /// Failed sign-ins allowed per user within `failure_window`.
    pub failures_per_user: u32,
    /// Failed sign-ins allowed per source address (IPv6: per /64) within `failure_window`.
    pub failures_per_address: u32,
    /// The window of the failure counts (and the lock-out time).
    pub failure_window: Duration,
    /// Users and addresses tracked by each failure table.
    pub limiter_capacity: usize,
    /// Password checks running at once (each takes about 19 MiB and tens of ms).
    pub concurrent_password_checks: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(8 * 3600),
            idle_timeout: Duration::from_secs(3600),
            max_sessions: 1000,
            max_upload_bytes: 100 << 20,
            failures_per_user: 5,
            failures_per_address: 20,
            failure_window: Duration::from_secs(15 * 60),
            limiter_capacity: 4096,
            concurrent_password_checks: 2,
        }
    }
}

/// Where a request came from.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The client's address.
    pub ip: IpAddr,
    /// Whether the connection is TLS (cookies are then `Secure`).
    pub tls: bool,
}

/// The console.
pub struct Console {
    pub(crate) control: ControlContext,
    pub(crate) objects: Arc<dyn Objects>,
    pub(crate) sessions: Sessions,
    pub(crate) user_failures: FailureLimiter,
    pub(crate) address_failures: FailureLimiter,
    pub(crate) password_checks: tokio::sync::Semaphore,
    pub(crate) settings: Settings,
}

/// The session cookie's name: `__Host-` prefixed over TLS (the browser then insists on
/// `Secure`, `Path=/` and no `Domain`).
pub(crate) fn session_cookie_name(tls: bool) -> &'static str {
    if tls {
        "__Host-iotcreds-console"
    } else {
        "iotcreds-console"
    }
}

/// The cookie that protects the sign-in form from cross-site posts (before there is a session).
pub(crate) fn signin_cookie_name(tls: bool) -> &'static str {
    if tls {
        "__Host-iotcreds-signin"
    } else {
        "iotcreds-signin"
    }
}

/// A cookie's value from the request.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for `name=value` living `max_age`, `HttpOnly; SameSite=Strict; Path=/`, and
/// `Secure` over TLS.
pub(crate) fn set_cookie(name: &str, value: &str, max_age: Duration, tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    let v = format!(
        "{name}={value}; Max-Age={}; Path=/; HttpOnly; SameSite=Strict{secure}",
        max_age.as_secs()
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A full body.
pub(crate) fn body(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

/// The security headers every answer carries.
pub(crate) fn secure_headers(h: &mut HeaderMap, tls: bool) {
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
}

/// An HTML page response.
pub(crate) fn html_response(status: StatusCode, page: String) -> Response<Body> {
    let mut r = Response::new(body(page));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// `303 See Other` to a path of this console (built by the console; a client-supplied target
/// goes through [`url::local_redirect`] first).
pub(crate) fn redirect(to: &str) -> Response<Body> {
    let mut r = Response::new(body(Bytes::new()));
    *r.status_mut() = StatusCode::SEE_OTHER;
    let local = to.starts_with('/') && !to.starts_with("//") && !to.contains('\\');
    let to = if local { to } else { "/" };
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/")),
    );
    r
}

/// A bare page (no navigation): sign-in, errors before a session exists.
pub(crate) fn bare_page(title: &str, content: Html) -> String {
    let mut h = Html::new();
    head(&mut h, title);
    h.raw("<body class=\"bare\"><main class=\"narrow\">");
    h.raw("<div class=\"brand-big\"><img src=\"/assets/icon.svg\" alt=\"\" width=\"32\" height=\"32\"> iotcreds console</div>");
    h.push(content);
    h.raw("</main></body></html>");
    h.finish()
}

pub(crate) fn head(h: &mut Html, title: &str) {
    h.raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .raw("<meta name=\"referrer\" content=\"same-origin\">")
        .open("title", &[])
        .text(title)
        .text(" · iotcreds console")
        .close("title")
        .raw("<link rel=\"icon\" href=\"/assets/icon.svg\" type=\"image/svg+xml\">")
        .raw("<link rel=\"stylesheet\" href=\"/assets/console.css\">")
        .raw("<script src=\"/assets/console.js\" defer></script></head>");
}

fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    match path {
        "/assets/console.css" => Some(("text/css; charset=utf-8", CSS)),
        "/assets/console.js" => Some(("text/javascript; charset=utf-8", JS)),
        "/assets/icon.svg" | "/favicon.ico" => Some(("image/svg+xml", ICON)),
        _ => None,
    }
}

/// Whether a state-changing request comes from this console's own pages: its `Origin` (or, when
/// a browser sends none, `Sec-Fetch-Site`) must say same origin. Cookies are `SameSite=Strict`
/// and a token is checked as well; this is the second lock.
pub(crate) fn same_origin(headers: &HeaderMap, tls: bool) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let scheme = if tls { "https://" } else { "http://" };
        return match (origin.strip_prefix(scheme), host) {
            (Some(o), Some(h)) => o.eq_ignore_ascii_case(h),
            _ => false,
        };
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        // Neither header: not a browser's cross-site request (browsers send Origin on POST).
        None => true,
    }
}

/// A parsed request, with what every handler needs.
pub(crate) struct Incoming {
    pub method: Method,
    pub path: String,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
}

impl Console {
    /// A console over the control plane `control` and the S3 endpoint's `objects`.
    pub fn new(control: ControlContext, objects: Arc<dyn Objects>, settings: Settings) -> Self {
        Self {
            sessions: Sessions::new(
                settings.session_ttl,
                settings.idle_timeout,
                settings.max_sessions,
            ),
            user_failures: FailureLimiter::new(
                settings.failures_per_user,
                settings.failure_window,
                settings.limiter_capacity,
            ),
            address_failures: FailureLimiter::new(
                settings.failures_per_address,
                settings.failure_window,
                settings.limiter_capacity,
            ),
            password_checks: tokio::sync::Semaphore::new(
                settings.concurrent_password_checks.max(1),
            ),
            control,
            objects,
            settings,
        }
    }

    /// Answer one request.
    pub async fn handle<B>(&self, peer: Peer, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + Sync + Unpin + 'static,
        B::Error: Into<BoxError>,
    {
        let mut resp = self.route(peer, req).await;
        secure_headers(resp.headers_mut(), peer.tls);
        resp
    }

    async fn route<B>(&self, peer: Peer, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + Sync + Unpin + 'static,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = req.into_parts();
        if let Some((ctype, text)) = asset(parts.uri.path())
            && matches!(parts.method, Method::GET | Method::HEAD)
        {
            let mut r = Response::new(crate::body(text));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            return r;
        }
        let Some(segments) = parts
            .uri
            .path()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(url::dec)
            .collect::<Option<Vec<String>>>()
        else {
            return pages::not_found_bare();
        };
        let Some(query) = url::pairs(parts.uri.query().unwrap_or("")) else {
            return pages::not_found_bare();
        };
        let incoming = Incoming {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            segments,
            query,
            headers: parts.headers,
        };
        match incoming.method {
            Method::GET | Method::HEAD | Method::POST => {}
            _ => {
                let mut r = html_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    bare_page("Not allowed", {
                        let mut h = Html::new();
                        h.p("This method is not allowed here.");
                        h
                    }),
                );
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
                return r;
            }
        }
        let first = incoming.segments.first().map(String::as_str);
        if first == Some("signin") {
            let form = match incoming.method {
                Method::POST => match read_form(&incoming.headers, body).await {
                    Ok(f) => f,
                    Err(r) => return r,
                },
                _ => Vec::new(),
            };
            return signin::signin(self, peer, &incoming, form).await;
        }
        // Everything else needs a session.
        let cookie_name = session_cookie_name(peer.tls);
        let Some(cookie) = cookie(&incoming.headers, cookie_name).map(str::to_owned) else {
            return to_signin(&incoming, false);
        };
        let now = Instant::now();
        let state = self.sessions.with(&cookie, now, |s| {
            (
                s.who.clone(),
                s.csrf.clone(),
                s.marker.clone(),
                s.flash.take(),
                s.must_change_password,
            )
        });
        let (who, csrf, marker, flash, must_change) = match state {
            Ok(v) => v,
            Err(Lookup::Expired) => return to_signin(&incoming, true),
            Err(Lookup::Unknown) => return to_signin(&incoming, false),
        };
        let writes = incoming.method == Method::POST;
        if writes {
            let token = incoming
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut body = Some(body);
            let (form, token) = match (token, body.take()) {
                // Uploads carry the token in a header and the file as the body.
                (Some(t), b) => {
                    body = b;
                    (Vec::new(), t)
                }
                (None, None) => (Vec::new(), String::new()),
                (None, Some(b)) => match read_form(&incoming.headers, b).await {
                    Ok(f) => {
                        let t = f
                            .iter()
                            .find(|(k, _)| k == "csrf")
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default();
                        (f, t)
                    }
                    Err(r) => return r,
                },
            };
            if !same_origin(&incoming.headers, peer.tls) || !session::same_secret(&token, &csrf) {
                tracing::info!(
                    target: "iotcreds::audit",
                    event = "console_csrf",
                    decision = "deny",
                    path = %incoming.path,
                    session = %marker,
                    source_ip = %peer.ip,
                );
                return html_response(
                    StatusCode::FORBIDDEN,
                    bare_page("Request refused", {
                        let mut h = Html::new();
                        h.h1("Request refused");
                        h.p("This request did not come from a console page of this session (its CSRF token or origin does not match), so nothing was changed. Reload the page and try again.");
                        h.link("/", "Back to the console");
                        h
                    }),
                );
            }
            let principal = match self.principal_of(&who, &cookie).await {
                Ok(p) => p,
                Err(r) => return r,
            };
            let cx = self.cx(
                peer, principal, &incoming, cookie, csrf, marker, flash, form,
            );
            if must_change && !matches!(first, Some("password" | "signout")) {
                return redirect("/password");
            }
            return pages::post(&cx, &incoming, body).await;
        }
        let principal = match self.principal_of(&who, &cookie).await {
            Ok(p) => p,
            Err(r) => return r,
        };
        if must_change && first != Some("password") {
            return redirect("/password");
        }
        let cx = self.cx(
            peer,
            principal,
            &incoming,
            cookie,
            csrf,
            marker,
            flash,
            Vec::new(),
        );
        pages::get(&cx, &incoming).await
    }

    #[allow(clippy::too_many_arguments)]
    fn cx(
        &self,
        peer: Peer,
        principal: Principal,
        incoming: &Incoming,
        cookie: String,
        csrf: String,
        marker: String,
        flash: Option<(&'static str, String)>,
        form: Vec<(String, String)>,
    ) -> pages::Cx<'_> {
        let caller = Caller {
            principal,
            source_ip: peer.ip,
            secure: peer.tls,
            request_id: uuid::Uuid::new_v4().to_string(),
            now_ms: now_ms(),
        };
        pages::Cx {
            console: self,
            caller,
            cookie,
            csrf,
            marker,
            flash,
            query: incoming.query.clone(),
            form,
            tls: peer.tls,
        }
    }

    /// The principal of a session, as it is now; a session whose principal changed (root key
    /// rotated, user deleted or re-created, password changed or removed) ends here.
    async fn principal_of(&self, who: &Who, cookie: &str) -> Result<Principal, Response<Body>> {
        let registry = &self.control.registry;
        let account = registry.account_id().to_owned();
        let gone = || {
            self.sessions.end(cookie);
            redirect("/signin?ended=1")
        };
        match who {
            Who::Root { access_key_id } => {
                if !session::same_secret(access_key_id, &registry.root().access_key_id) {
                    return Err(gone());
                }
                Ok(Principal::Root {
                    account,
                    access_key_id: access_key_id.clone(),
                })
            }
            Who::User {
                name,
                id,
                password_set_at,
            } => {
                let user = match registry.user(name).await {
                    Ok(Some(u)) if &u.user.id == id => u,
                    Ok(_) => return Err(gone()),
                    Err(e) => return Err(pages::unavailable(&e.to_string())),
                };
                match registry.store().login_profile(name).await {
                    Ok(Some(p)) if p.password_set_at == *password_set_at => {}
                    Ok(_) => return Err(gone()),
                    Err(e) => return Err(pages::unavailable(&e.to_string())),
                }
                Ok(Principal::User {
                    user,
                    account,
                    access_key_id: format!("console-session-{}", marker_of(cookie)),
                })
            }
        }
    }
}

/// The public marker of a session cookie (as in its audit lines).
fn marker_of(cookie: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cookie.as_bytes());
    hex::encode(&d.as_ref()[..6])
}

/// The sign-in page, remembering where the browser was going (GET only; after a refused POST
/// the console's home).
fn to_signin(incoming: &Incoming, expired: bool) -> Response<Body> {
    let next = if incoming.method == Method::GET {
        incoming.path.clone()
    } else {
        "/".to_owned()
    };
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if expired {
        pairs.push(("expired", "1"));
    }
    if next != "/" {
        pairs.push(("next", &next));
    }
    redirect(&url::with_query("/signin", &pairs))
}

/// Read an `application/x-www-form-urlencoded` body of at most [`MAX_FORM_BYTES`].
pub(crate) async fn read_form<B>(
    headers: &HeaderMap,
    body: B,
) -> Result<Vec<(String, String)>, Response<Body>>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let bad = |msg: &str| {
        html_response(
            StatusCode::BAD_REQUEST,
            bare_page("Bad request", {
                let mut h = Html::new();
                h.h1("Bad request").p(msg).link("/", "Back to the console");
                h
            }),
        )
    };
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ctype
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(bad(
            "Forms must be sent as application/x-www-form-urlencoded.",
        ));
    }
    let bytes = match Limited::new(body, MAX_FORM_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(bad("The form is too large.")),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("The form is not UTF-8."))?;
    url::pairs(text).ok_or_else(|| bad("The form is not valid."))
}

/// Now, ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    iotcreds_types::time_fmt::to_millis(time::OffsetDateTime::now_utc())
}
