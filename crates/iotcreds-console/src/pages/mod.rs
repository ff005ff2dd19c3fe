//! The pages: one module per area, each with its `GET` views and `POST` actions. Every action
//! is an API call through [`crate::api::Api`] (or the S3 port), followed by a redirect to a
//! view (post/redirect/get) carrying a one-shot message; views that fail show the API's error.

mod activity;
mod aliases;
mod buckets;
mod certificates;
mod connect;
mod home;
mod password;
mod policies;
mod roles;
mod simulator;
mod things;
mod users;

use std::time::Instant;

use bytes::Bytes;
use http::{Response, StatusCode};
use iotcreds_control::Caller;

use crate::api::{Api, Failure};
use crate::html::Html;
use crate::{Body, BoxError, Console, Incoming, bare_page, head, html_response, redirect};

/// What a page handler works with.
pub struct Cx<'a> {
    /// The console.
    pub console: &'a Console,
    /// The signed-in principal as a control-plane caller.
    pub caller: Caller,
    /// The session cookie (to reach the session).
    pub cookie: String,
    /// The session's CSRF token, for forms.
    pub csrf: String,
    /// The session's public marker.
    pub marker: String,
    /// The one-shot message to show.
    pub flash: Option<(&'static str, String)>,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// Form fields (POST).
    pub form: Vec<(String, String)>,
    /// Whether the connection is TLS.
    pub tls: bool,
}

/// The navigation: `(path, label)`.
const NAV: &[(&str, &str)] = &[
    ("/connect", "Connect a device"),
    ("/things", "Things"),
    ("/certificates", "Certificates"),
    ("/policies", "IoT policies"),
    ("/role-aliases", "Role aliases"),
    ("/roles", "IAM roles"),
    ("/iam-policies", "IAM policies"),
    ("/users", "IAM users"),
    ("/buckets", "Buckets"),
    ("/simulator", "Policy simulator"),
    ("/activity", "Activity"),
];

impl Cx<'_> {
    /// The API on behalf of the signed-in principal.
    pub fn api(&self) -> Api<'_> {
        Api {
            ctx: &self.console.control,
            caller: &self.caller,
        }
    }

    /// A query parameter, or `""`.
    pub fn q(&self, name: &str) -> &str {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A form field, or `""`.
    pub fn f(&self, name: &str) -> &str {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A form field, trimmed.
    pub fn ft(&self, name: &str) -> &str {
        self.f(name).trim()
    }

    /// Whether a checkbox was checked.
    pub fn checked(&self, name: &str) -> bool {
        self.f(name) == "true"
    }

    /// Set the message of the next page.
    pub fn flash(&self, kind: &'static str, msg: impl Into<String>) {
        let msg = msg.into();
        let _ = self
            .console
            .sessions
            .with(&self.cookie, Instant::now(), |s| {
                s.flash = Some((kind, msg))
            });
    }

    /// Redirect to `to` with a success message.
    pub fn done(&self, to: &str, msg: impl Into<String>) -> Response<Body> {
        self.flash("ok", msg);
        redirect(to)
    }

    /// Redirect to `to` with the API's error.
    pub fn failed(&self, to: &str, f: &Failure) -> Response<Body> {
        self.flash("error", f.display());
        redirect(to)
    }

    /// The account id.
    pub fn account(&self) -> &str {
        self.console.control.registry.account_id()
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.console.control.region
    }

    /// A page with the navigation, `active` marking the current area.
    pub fn page(&self, title: &str, active: &str, content: Html) -> Response<Body> {
        self.page_status(StatusCode::OK, title, active, content)
    }

    /// A page with a status.
    pub fn page_status(
        &self,
        status: StatusCode,
        title: &str,
        active: &str,
        content: Html,
    ) -> Response<Body> {
        let mut h = Html::new();
        head(&mut h, title);
        h.raw("<body><header class=\"top\"><button type=\"button\" class=\"menu\" aria-label=\"Menu\" data-toggle=\"side\">&#9776;</button>");
        h.raw("<a class=\"brand\" href=\"/\"><img src=\"/assets/icon.svg\" alt=\"\" width=\"22\" height=\"22\"> iotcreds</a>");
        h.open("span", &[("class", "who"), ("title", "Signed in as")])
            .text(&self.caller.principal.arn())
            .close("span");
        h.form("/signout", &self.csrf, |h| {
            h.el(
                "button",
                &[("type", "submit"), ("class", "link"), ("id", "signout")],
                "Sign out",
            );
        });
        h.raw("</header><div class=\"layout\"><nav class=\"side\" id=\"side\">");
        for (path, label) in NAV {
            if *path == active {
                h.el(
                    "a",
                    &[
                        ("href", path),
                        ("class", "active"),
                        ("aria-current", "page"),
                    ],
                    label,
                );
            } else {
                h.link(path, label);
            }
        }
        h.raw("</nav><main>");
        if let Some((kind, msg)) = &self.flash {
            h.message(kind, msg);
        }
        h.push(content);
        h.raw("</main></div></body></html>");
        html_response(status, h.finish())
    }

    /// A page that shows only an API error (a view whose reads were refused).
    pub fn error_page(&self, title: &str, active: &str, f: &Failure) -> Response<Body> {
        let mut h = Html::new();
        h.h1(title);
        h.message("error", &f.display());
        let status = if f.status.is_client_error() || f.status.is_server_error() {
            f.status
        } else {
            StatusCode::BAD_REQUEST
        };
        self.page_status(status, title, active, h)
    }

    /// A form for this session.
    pub fn form(&self, h: &mut Html, action: &str, f: impl FnOnce(&mut Html)) {
        h.form(action, &self.csrf, f);
    }

    /// A one-button form.
    pub fn button(&self, h: &mut Html, action: &str, label: &str, confirm: Option<&str>) {
        let class = if confirm.is_some() { "danger" } else { "" };
        h.button_form(action, &self.csrf, label, class, confirm);
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` for ms since the epoch.
pub fn fmt_ms(ms: i64) -> String {
    let t = iotcreds_types::time_fmt::iso8601_seconds(ms);
    t.replace('T', " ").replace('Z', " UTC")
}

/// The 404 page before a session is known.
pub fn not_found_bare() -> Response<Body> {
    let mut h = Html::new();
    h.h1("Not found").link("/", "Back to the console");
    html_response(StatusCode::NOT_FOUND, bare_page("Not found", h))
}

/// The 503 page when the registry cannot be reached.
pub fn unavailable(detail: &str) -> Response<Body> {
    tracing::warn!(error = %detail, "console: registry unavailable");
    let mut h = Html::new();
    h.h1("Unavailable")
        .p("The registry cannot be reached right now. Try again later.");
    html_response(StatusCode::SERVICE_UNAVAILABLE, bare_page("Unavailable", h))
}

fn not_found(cx: &Cx<'_>) -> Response<Body> {
    let mut h = Html::new();
    h.h1("Not found").p("There is no such page.");
    cx.page_status(StatusCode::NOT_FOUND, "Not found", "", h)
}

/// Route a `GET` (or `HEAD`).
pub(crate) async fn get(cx: &Cx<'_>, r: &Incoming) -> Response<Body> {
    let seg: Vec<&str> = r.segments.iter().map(String::as_str).collect();
    match seg.as_slice() {
        [] => home::show(cx).await,
        ["password"] => password::show(cx, None),
        ["things"] => things::list(cx).await,
        ["things", name] => things::show(cx, name).await,
        ["thing-types"] => things::types(cx).await,
        ["certificates"] => certificates::list(cx).await,
        ["certificates", "created", token] => certificates::created(cx, token).await,
        ["certificates", "download", token, file] => certificates::download(cx, token, file),
        ["certificates", id] => certificates::show(cx, id).await,
        ["certificates", id, "cert.pem"] => certificates::pem(cx, id).await,
        ["ca-certificates"] => certificates::ca_list(cx).await,
        ["ca-certificates", id] => certificates::ca_show(cx, id).await,
        ["root-ca.pem"] => certificates::root_ca(cx),
        ["policies"] => policies::list(cx).await,
        ["policies", name] => policies::show(cx, name).await,
        ["role-aliases"] => aliases::list(cx).await,
        ["role-aliases", name] => aliases::show(cx, name).await,
        ["roles"] => roles::list(cx).await,
        ["roles", name] => roles::show(cx, name).await,
        ["iam-policies"] => roles::managed_list(cx).await,
        ["iam-policies", "view"] => roles::managed_show(cx).await,
        ["users"] => users::list(cx).await,
        ["users", name] => users::show(cx, name).await,
        ["buckets"] => buckets::list(cx).await,
        ["buckets", bucket] => buckets::show(cx, bucket).await,
        ["buckets", bucket, "object"] => buckets::download(cx, bucket).await,
        ["simulator"] => simulator::show(cx).await,
        ["activity"] => activity::show(cx).await,
        ["activity", "check"] => activity::check(cx).await,
        ["connect"] => connect::thing(cx).await,
        ["connect", step] => connect::step(cx, step).await,
        _ => not_found(cx),
    }
}

/// Route a `POST` (already CSRF-checked).
pub(crate) async fn post<B>(cx: &Cx<'_>, r: &Incoming, body: Option<B>) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + Sync + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let seg: Vec<&str> = r.segments.iter().map(String::as_str).collect();
    match seg.as_slice() {
        ["signout"] => crate::signin::signout(cx.console, &cx.cookie, cx.tls),
        ["password"] => password::change(cx).await,
        ["things"] => things::create(cx).await,
        ["things", name, action] => things::act(cx, name, action).await,
        ["thing-types"] => things::create_type(cx).await,
        ["certificates"] => certificates::create(cx).await,
        ["certificates", "register"] => certificates::register(cx).await,
        ["certificates", id, action] => certificates::act(cx, id, action).await,
        ["ca-certificates"] => certificates::ca_register(cx).await,
        ["ca-certificates", id, action] => certificates::ca_act(cx, id, action).await,
        ["policies"] => policies::create(cx).await,
        ["policies", name, action] => policies::act(cx, name, action).await,
        ["role-aliases"] => aliases::create(cx).await,
        ["role-aliases", name, action] => aliases::act(cx, name, action).await,
        ["roles"] => roles::create(cx).await,
        ["roles", name, action] => roles::act(cx, name, action).await,
        ["iam-policies"] => roles::managed_create(cx).await,
        ["iam-policies", "act"] => roles::managed_act(cx).await,
        ["users"] => users::create(cx).await,
        ["users", name, action] => users::act(cx, name, action).await,
        ["buckets"] => buckets::create(cx).await,
        ["buckets", bucket, "upload"] => buckets::upload(cx, bucket, r, body).await,
        ["buckets", bucket, "delete"] => buckets::delete(cx, bucket).await,
        ["simulator"] => simulator::run(cx).await,
        ["connect", step] => connect::act(cx, step).await,
        _ => not_found(cx),
    }
}
