//! Choosing a new console password when the login profile requires it
//! (`PasswordResetRequired`). As in AWS, the user needs `iam:ChangePassword` on their own user
//! (AWS's `IAMUserChangePassword` policy grants it); the decision goes through the same
//! authorisation as every API call, and the new password meets the account password policy.

use std::time::Instant;

use http::{Response, StatusCode};
use iotcreds_registry::authz::Principal;
use iotcreds_registry::password;
use iotcreds_store::LoginProfileUpdate;

use super::Cx;
use crate::Body;
use crate::api::Failure;
use crate::html::Html;
use crate::session::Who;

/// `GET /password`.
pub fn show(cx: &Cx<'_>, error: Option<&Failure>) -> Response<Body> {
    let mut h = Html::new();
    h.h1("Choose a new password");
    h.p("Your password must be changed before you continue.");
    if let Some(f) = error {
        h.message("error", &f.display());
    }
    cx.form(&mut h, "/password", |h| {
        h.input(
            "New password",
            "password",
            "",
            &[
                ("type", "password"),
                ("autocomplete", "new-password"),
                ("required", ""),
                ("id", "new-password"),
            ],
        );
        h.input(
            "Confirm new password",
            "confirm",
            "",
            &[
                ("type", "password"),
                ("autocomplete", "new-password"),
                ("required", ""),
                ("id", "confirm-password"),
            ],
        );
        h.note(&format!("Passwords need {}.", password::POLICY_TEXT));
        h.submit("Change password");
    });
    let status = error.map_or(StatusCode::OK, |f| f.status);
    cx.page_status(status, "Choose a new password", "", h)
}

/// `POST /password`.
pub async fn change(cx: &Cx<'_>) -> Response<Body> {
    let Principal::User { user, .. } = &cx.caller.principal else {
        return show(
            cx,
            Some(&Failure::local(
                "InvalidUserType",
                "Only IAM users have console passwords.",
            )),
        );
    };
    let name = user.user.name.clone();
    let new = cx.f("password").to_owned();
    if new != cx.f("confirm") {
        return show(
            cx,
            Some(&Failure::local("InvalidInput", "The two passwords differ.")),
        );
    }
    // The signed-in user's own record: its ARN is the canonical one (stored path and name).
    let own = iotcreds_control::resource::new_iam_user(
        cx.caller.principal.account(),
        &user.user.path,
        &user.user.name,
    );
    if let Err(e) = cx.caller.authorize("iam:ChangePassword", &own) {
        return show(
            cx,
            Some(&Failure {
                status: e.status,
                code: e.code.to_owned(),
                message: e.message,
            }),
        );
    }
    if !password::fits_model(&new) || !password::meets_policy(&new, &name) {
        return show(
            cx,
            Some(&Failure::local(
                "PasswordPolicyViolation",
                password::POLICY_VIOLATION,
            )),
        );
    }
    let hash = match tokio::task::spawn_blocking(move || password::hash(&new)).await {
        Ok(Ok(h)) => h,
        _ => {
            return show(
                cx,
                Some(&Failure::local(
                    "ServiceFailure",
                    "The password could not be set.",
                )),
            );
        }
    };
    let set_at = crate::now_ms();
    let update = LoginProfileUpdate {
        password_hash: Some(hash),
        password_set_at: set_at,
        password_reset_required: Some(false),
    };
    let registry = &cx.console.control.registry;
    if let Err(e) = registry
        .mutate(registry.store().update_login_profile(&name, &update))
        .await
    {
        return show(cx, Some(&Failure::local("ServiceFailure", e.to_string())));
    }
    tracing::info!(
        target: "iotcreds::audit",
        event = "change_password",
        request_id = %cx.caller.request_id,
        principal = %user.arn,
        session = %cx.marker,
    );
    let _ = cx.console.sessions.with(&cx.cookie, Instant::now(), |s| {
        s.must_change_password = false;
        if let Who::User {
            password_set_at, ..
        } = &mut s.who
        {
            *password_set_at = set_at;
        }
    });
    cx.done("/", "Password changed.")
}
