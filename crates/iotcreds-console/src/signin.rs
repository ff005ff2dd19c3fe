//! Signing in and out, and the forced password change.
//!
//! An attempt is refused before any secret is checked when its user or its address has failed
//! too often ([`crate::limits`]). Root access keys are compared in constant time. An IAM
//! user's password is checked with argon2id on a blocking thread, at most
//! `concurrent_password_checks` at once; a user without a password (or no such user) costs the
//! same hash, so the answer does not tell whether a user exists. Every attempt writes an audit
//! line (`event=console_signin`), never with the password.

use std::time::{Duration, Instant};

use http::{HeaderValue, Method, Response, StatusCode, header};
use iotcreds_registry::password;
use iotcreds_types::names::IAM_USER_NAME;

use crate::html::Html;
use crate::limits::{Refused, address_key};
use crate::session::{Who, random_token, same_secret};
use crate::{
    Body, Console, Incoming, Peer, bare_page, cookie, html_response, redirect, same_origin,
    session_cookie_name, set_cookie, signin_cookie_name, url,
};

/// AWS's console message for a wrong user name or password.
pub const INCORRECT: &str = "Your authentication information is incorrect. Please try again.";
/// The message when the limits refuse an attempt.
pub const TOO_MANY: &str = "Too many failed sign-in attempts. Sign-in is paused for this user or address; try again later.";

fn field<'f>(form: &'f [(String, String)], name: &str) -> &'f str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn q<'q>(incoming: &'q Incoming, name: &str) -> &'q str {
    incoming
        .query
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// `/signin` (GET: the form; POST: an attempt) and `/signin/out`.
pub(crate) async fn signin(
    console: &Console,
    peer: Peer,
    incoming: &Incoming,
    form: Vec<(String, String)>,
) -> Response<Body> {
    if incoming.method != Method::POST {
        let msg = if q(incoming, "expired") == "1" {
            Some(("info", "Your session has expired. Sign in again."))
        } else if q(incoming, "ended") == "1" {
            Some((
                "info",
                "Your session ended: the user, its password or the root key changed. Sign in again.",
            ))
        } else if q(incoming, "out") == "1" {
            Some(("ok", "You are signed out."))
        } else {
            None
        };
        return form_page(peer, q(incoming, "next"), StatusCode::OK, msg, "");
    }
    let next = url::local_redirect(field(&form, "next")).to_owned();
    // The form's token must match the cookie set with it (a cross-site post has neither).
    let expected = cookie(&incoming.headers, signin_cookie_name(peer.tls)).unwrap_or("");
    if expected.is_empty()
        || !same_secret(field(&form, "csrf"), expected)
        || !same_origin(&incoming.headers, peer.tls)
    {
        return form_page(
            peer,
            &next,
            StatusCode::FORBIDDEN,
            Some((
                "error",
                "The sign-in form could not be verified. Reload the page and try again.",
            )),
            "",
        );
    }
    let kind = field(&form, "kind");
    // Keys and shown names are cut to the longest valid value (IAM user names: 64 characters;
    // access key ids: 128), so a huge field cannot make a huge table entry.
    let (limit_key, shown) = match kind {
        "root" => (
            "root".to_owned(),
            field(&form, "access_key_id")
                .chars()
                .take(128)
                .collect::<String>(),
        ),
        _ => {
            let name: String = field(&form, "user").chars().take(64).collect();
            (format!("user:{}", name.to_lowercase()), name)
        }
    };
    let now = Instant::now();
    let addr = address_key(peer.ip);
    for (table, key) in [
        (&console.address_failures, addr.as_str()),
        (&console.user_failures, limit_key.as_str()),
    ] {
        if let Err(r) = table.admit(key, now) {
            let why = match r {
                Refused::Locked(_) => "locked",
                Refused::Saturated => "saturated",
            };
            audit(peer, kind, &shown, "deny", why);
            return form_page(
                peer,
                &next,
                StatusCode::TOO_MANY_REQUESTS,
                Some(("error", TOO_MANY)),
                &shown,
            );
        }
    }
    let outcome = match kind {
        "root" => check_root(console, &form),
        _ => check_user(console, &form).await,
    };
    let (who, reset) = match outcome {
        Ok(v) => v,
        Err(Attempt::Busy) => {
            audit(peer, kind, &shown, "deny", "busy");
            return form_page(
                peer,
                &next,
                StatusCode::SERVICE_UNAVAILABLE,
                Some((
                    "error",
                    "The console is busy checking other sign-ins. Try again in a moment.",
                )),
                &shown,
            );
        }
        Err(Attempt::Unavailable) => {
            audit(peer, kind, &shown, "deny", "registry unavailable");
            return form_page(
                peer,
                &next,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(("error", "The registry is unavailable. Try again later.")),
                &shown,
            );
        }
        Err(Attempt::Incorrect) => {
            console.address_failures.fail(&addr, now);
            console.user_failures.fail(&limit_key, now);
            audit(peer, kind, &shown, "deny", "incorrect credentials");
            return form_page(
                peer,
                &next,
                StatusCode::UNAUTHORIZED,
                Some(("error", INCORRECT)),
                &shown,
            );
        }
    };
    console.user_failures.clear(&limit_key);
    let old = cookie(&incoming.headers, session_cookie_name(peer.tls));
    let session = console.sessions.create(who, old, now);
    if reset {
        let _ = console
            .sessions
            .with(&session, now, |s| s.must_change_password = true);
    }
    audit(peer, kind, &shown, "allow", "");
    let mut resp = redirect(if reset { "/password" } else { &next });
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(
            session_cookie_name(peer.tls),
            &session,
            // A little longer than the session, so that the server, not the browser, ends
            // it and can say so ("Your session has expired").
            console.sessions.ttl() + Duration::from_secs(300),
            peer.tls,
        ),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(signin_cookie_name(peer.tls), "", Duration::ZERO, peer.tls),
    );
    resp
}

/// Why an attempt did not sign in.
enum Attempt {
    /// Wrong name, password or key.
    Incorrect,
    /// Too many password checks running.
    Busy,
    /// The registry cannot be reached.
    Unavailable,
}

fn check_root(console: &Console, form: &[(String, String)]) -> Result<(Who, bool), Attempt> {
    let root = console.control.registry.root();
    let akid_ok = same_secret(field(form, "access_key_id"), &root.access_key_id);
    let secret_ok = same_secret(field(form, "secret_access_key"), root.secret.expose());
    if akid_ok & secret_ok {
        Ok((
            Who::Root {
                access_key_id: root.access_key_id.clone(),
            },
            false,
        ))
    } else {
        Err(Attempt::Incorrect)
    }
}

async fn check_user(console: &Console, form: &[(String, String)]) -> Result<(Who, bool), Attempt> {
    let name = field(form, "user");
    let pw = field(form, "password").to_owned();
    let plausible = IAM_USER_NAME.check("userName", name).is_ok() && password::fits_model(&pw);
    let permit = tokio::time::timeout(Duration::from_secs(5), console.password_checks.acquire())
        .await
        .map_err(|_| Attempt::Busy)?
        .map_err(|_| Attempt::Busy)?;
    let registry = &console.control.registry;
    let found = if plausible {
        let user = registry
            .user(name)
            .await
            .map_err(|_| Attempt::Unavailable)?;
        match user {
            Some(u) => registry
                .store()
                .login_profile(&u.user.name)
                .await
                .map_err(|_| Attempt::Unavailable)?
                .map(|p| (u, p)),
            None => None,
        }
    } else {
        None
    };
    let hash = found.as_ref().map(|(_, p)| p.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || match hash {
        Some(h) => password::verify(&pw, &h),
        None => {
            password::verify_nothing(&pw);
            false
        }
    })
    .await
    .unwrap_or(false);
    drop(permit);
    match found {
        Some((u, p)) if ok => Ok((
            Who::User {
                name: u.user.name.clone(),
                id: u.user.id.clone(),
                password_set_at: p.password_set_at,
            },
            p.password_reset_required,
        )),
        _ => Err(Attempt::Incorrect),
    }
}

fn audit(peer: Peer, kind: &str, who: &str, decision: &str, reason: &str) {
    let who: String = who.chars().take(128).collect();
    tracing::info!(
        target: "iotcreds::audit",
        event = "console_signin",
        decision,
        kind = if kind == "root" { "root" } else { "user" },
        who = %who,
        reason,
        source_ip = %peer.ip,
    );
}

/// The sign-in page with a fresh form token (and its cookie).
fn form_page(
    peer: Peer,
    next: &str,
    status: StatusCode,
    message: Option<(&'static str, &str)>,
    user: &str,
) -> Response<Body> {
    let token = random_token(32);
    let next = url::local_redirect(next);
    let mut h = Html::new();
    h.h1("Sign in");
    if let Some((kind, text)) = message {
        h.message(kind, text);
    }
    h.open("div", &[("class", "signin")]);
    h.open("section", &[("class", "card")]).h2("IAM user");
    h.open(
        "form",
        &[
            ("method", "post"),
            ("action", "/signin"),
            ("id", "signin-user"),
        ],
    );
    h.hidden("csrf", &token)
        .hidden("kind", "user")
        .hidden("next", next);
    h.input(
        "User name",
        "user",
        user,
        &[
            ("autocomplete", "username"),
            ("required", ""),
            ("id", "user"),
        ],
    );
    h.input(
        "Password",
        "password",
        "",
        &[
            ("type", "password"),
            ("autocomplete", "current-password"),
            ("required", ""),
            ("id", "password"),
        ],
    );
    h.submit("Sign in").close("form").close("section");
    h.open("section", &[("class", "card")])
        .h2("Root access key");
    h.note("The account's root credentials (DATA/admin-credentials) have full rights.");
    h.open(
        "form",
        &[
            ("method", "post"),
            ("action", "/signin"),
            ("id", "signin-root"),
        ],
    );
    h.hidden("csrf", &token)
        .hidden("kind", "root")
        .hidden("next", next);
    h.input(
        "Access key ID",
        "access_key_id",
        "",
        &[
            ("autocomplete", "off"),
            ("required", ""),
            ("id", "access_key_id"),
        ],
    );
    h.input(
        "Secret access key",
        "secret_access_key",
        "",
        &[
            ("type", "password"),
            ("autocomplete", "off"),
            ("required", ""),
            ("id", "secret_access_key"),
        ],
    );
    h.submit("Sign in as root").close("form").close("section");
    h.close("div");
    let mut resp = html_response(status, bare_page("Sign in", h));
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            signin_cookie_name(peer.tls),
            &token,
            Duration::from_secs(3600),
            peer.tls,
        ),
    );
    resp
}

/// `POST /signout`: end the session and clear its cookie.
pub fn signout(console: &Console, cookie_value: &str, tls: bool) -> Response<Body> {
    console.sessions.end(cookie_value);
    let mut resp = redirect("/signin?out=1");
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(session_cookie_name(tls), "", Duration::ZERO, tls),
    );
    resp
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(tls: bool) -> HeaderValue {
    set_cookie(session_cookie_name(tls), "", Duration::ZERO, tls)
}
