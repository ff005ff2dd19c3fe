//! Console passwords of IAM users: `CreateLoginProfile`, `GetLoginProfile`,
//! `UpdateLoginProfile`, `DeleteLoginProfile`. Without `UserName` (where the model allows it)
//! each acts on the calling IAM user.
//!
//! Passwords are checked against the IAM model (`passwordType`) and AWS's default account
//! password policy (`PasswordPolicyViolation`), hashed with argon2id on a blocking thread, and
//! stored only as the hash. No answer or error ever contains a password: validation errors
//! about one name the field without echoing the value, as AWS does for sensitive members.

use http::StatusCode;
use iotcreds_registry::authz::Principal;
use iotcreds_registry::password;
use iotcreds_store::{LoginProfile, LoginProfileUpdate};

use super::users::{authorized_target, must_specify_user};
use super::{Cx, EXISTING_USER_NAME, Output, SERVICE_FAILURE, no_such_entity, no_such_user};
use crate::ApiError;
use crate::query::{Params, Xml, validation};

/// `NoSuchEntity` for a user without a login profile.
pub(crate) fn no_login_profile(user: &str) -> ApiError {
    no_such_entity(format!("Login Profile for User {user} cannot be found."))
}

/// The user an operation is about (`UserName`, or the calling IAM user when `optional`),
/// authorised for the operation's action, then required to exist: its stored name.
async fn authorized_user(cx: &Cx<'_>, p: &Params, optional: bool) -> Result<String, ApiError> {
    let name = match p.get("UserName") {
        Some(n) => {
            EXISTING_USER_NAME.check("userName", n)?;
            n.to_owned()
        }
        None if optional => match &cx.caller.principal {
            Principal::User { user, .. } => user.user.name.clone(),
            _ => return Err(must_specify_user()),
        },
        None => return Err(crate::query::missing("userName")),
    };
    match authorized_target(cx, &name).await? {
        Some(u) => Ok(u.user.name.clone()),
        None => Err(no_such_user(&name)),
    }
}

/// The `Password` parameter checked against the model, without ever echoing it.
fn password_param<'a>(p: &'a Params, name: &str) -> Result<Option<&'a str>, ApiError> {
    let Some(pw) = p.get(name) else {
        return Ok(None);
    };
    let len = pw.chars().count();
    let constraint = if len < 1 {
        "Member must have length greater than or equal to 1"
    } else if len > password::MAX_LEN {
        "Member must have length less than or equal to 128"
    } else if !password::fits_model(pw) {
        "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
    } else {
        return Ok(Some(pw));
    };
    Err(validation(format_args!(
        "Value at 'password' failed to satisfy constraint: {constraint}"
    )))
}

/// `PasswordPolicyViolation` (400).
pub(crate) fn policy_violation() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "PasswordPolicyViolation",
        password::POLICY_VIOLATION,
    )
}

/// Check the policy, then hash on a blocking thread.
pub(crate) async fn hash_for(user: &str, pw: &str) -> Result<String, ApiError> {
    if !password::meets_policy(pw, user) {
        return Err(policy_violation());
    }
    let pw = pw.to_owned();
    tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| ApiError::internal(SERVICE_FAILURE, e))?
        .map_err(|e| ApiError::internal(SERVICE_FAILURE, e))
}

fn write_profile(x: &mut Xml, profile: &LoginProfile) {
    x.node("LoginProfile", |x| {
        x.text("UserName", &profile.user_name)
            .time("CreateDate", profile.created_at)
            .bool("PasswordResetRequired", profile.password_reset_required);
    });
}

pub(super) async fn create_login_profile(cx: &Cx<'_>, p: &Params) -> Output {
    // The model leaves Password optional only for AssumeRoot sessions, which iotcreds has not.
    let pw = password_param(p, "Password")?.ok_or_else(|| crate::query::missing("password"))?;
    let reset = p
        .bool("PasswordResetRequired", "passwordResetRequired")?
        .unwrap_or(false);
    let user = authorized_user(cx, p, true).await?;
    if cx
        .store()
        .login_profile(&user)
        .await
        .map_err(super::store_error)?
        .is_some()
    {
        return Err(already_exists(&user));
    }
    let hash = hash_for(&user, pw).await?;
    let now = cx.now_ms();
    let profile = LoginProfile {
        user_name: user.clone(),
        password_hash: hash,
        password_reset_required: reset,
        created_at: now,
        password_set_at: now,
    };
    cx.write(cx.store().insert_login_profile(&profile)).await?;
    tracing::info!(
        target: "iotcreds::audit",
        event = "create_login_profile",
        request_id = %cx.caller.request_id,
        principal = %cx.caller.principal.arn(),
        user = %user,
    );
    let mut x = Xml::new();
    write_profile(&mut x, &profile);
    Ok(Some(x.finish()))
}

pub(super) async fn get_login_profile(cx: &Cx<'_>, p: &Params) -> Output {
    let user = authorized_user(cx, p, true).await?;
    let profile = cx
        .store()
        .login_profile(&user)
        .await
        .map_err(super::store_error)?
        .ok_or_else(|| no_login_profile(&user))?;
    let mut x = Xml::new();
    write_profile(&mut x, &profile);
    Ok(Some(x.finish()))
}

pub(super) async fn update_login_profile(cx: &Cx<'_>, p: &Params) -> Output {
    let pw = password_param(p, "Password")?;
    let reset = p.bool("PasswordResetRequired", "passwordResetRequired")?;
    let user = authorized_user(cx, p, false).await?;
    if cx
        .store()
        .login_profile(&user)
        .await
        .map_err(super::store_error)?
        .is_none()
    {
        return Err(no_login_profile(&user));
    }
    let mut update = LoginProfileUpdate {
        password_reset_required: reset,
        ..LoginProfileUpdate::default()
    };
    if let Some(pw) = pw {
        update.password_hash = Some(hash_for(&user, pw).await?);
        update.password_set_at = cx.now_ms();
    }
    cx.write(cx.store().update_login_profile(&user, &update))
        .await?;
    tracing::info!(
        target: "iotcreds::audit",
        event = "update_login_profile",
        request_id = %cx.caller.request_id,
        principal = %cx.caller.principal.arn(),
        user = %user,
        password_changed = update.password_hash.is_some(),
    );
    Ok(None)
}

pub(super) async fn delete_login_profile(cx: &Cx<'_>, p: &Params) -> Output {
    let user = authorized_user(cx, p, true).await?;
    cx.write(cx.store().delete_login_profile(&user)).await?;
    tracing::info!(
        target: "iotcreds::audit",
        event = "delete_login_profile",
        request_id = %cx.caller.request_id,
        principal = %cx.caller.principal.arn(),
        user = %user,
    );
    Ok(None)
}

/// `EntityAlreadyExists` for a user that has a login profile.
fn already_exists(user: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "EntityAlreadyExists",
        format!("Login Profile for user {user} already exists."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_errors_never_echo_the_password() {
        let long = "S3cret!".repeat(20);
        let p = Params::from_form(&format!("Password={long}")).unwrap();
        let e = password_param(&p, "Password").unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert!(!e.message.contains("S3cret"), "{}", e.message);
        assert!(e.message.contains("'password'"));
        let p = Params::from_form("Password=snow%E2%98%83Man1").unwrap();
        let e = password_param(&p, "Password").unwrap_err();
        assert!(!e.message.contains("snow"), "{}", e.message);
        let p = Params::from_form("Password=").unwrap();
        assert!(password_param(&p, "Password").is_err());
        let p = Params::from_form("Password=Fine-pass1").unwrap();
        assert_eq!(password_param(&p, "Password").unwrap(), Some("Fine-pass1"));
        assert_eq!(
            password_param(&Params::default(), "Password").unwrap(),
            None
        );
    }

    #[test]
    fn error_shapes() {
        let e = no_login_profile("bob");
        assert_eq!(
            (e.status, e.code, e.message.as_str()),
            (
                StatusCode::NOT_FOUND,
                "NoSuchEntity",
                "Login Profile for User bob cannot be found."
            )
        );
        let e = already_exists("bob");
        assert_eq!(e.message, "Login Profile for user bob already exists.");
        assert_eq!(policy_violation().code, "PasswordPolicyViolation");
    }
}
