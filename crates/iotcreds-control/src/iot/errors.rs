//! The IoT exceptions (botocore model names and statuses, spec §7) and the one mapping from
//! registry [`StoreError`]s to them.

use http::StatusCode;
use iotcreds_store::{ConflictReason, Entity, StateReason, StoreError};
use iotcreds_types::ValidationError;

use crate::ApiError;

/// 400 `InvalidRequestException`.
pub(super) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "InvalidRequestException", message)
}

/// 400 `InvalidRequestException` worded by `iotcreds_types::names`.
pub(super) fn validation(e: ValidationError) -> ApiError {
    invalid(e.to_string())
}

/// 404 `ResourceNotFoundException`.
pub(super) fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
}

/// 409 `ResourceAlreadyExistsException` naming the existing resource's id and ARN.
pub(super) fn already_exists(message: impl Into<String>, id: &str, arn: &str) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::CONFLICT,
        "ResourceAlreadyExistsException",
        message,
    );
    e.resource = Some((id.to_owned(), arn.to_owned()));
    e
}

/// 400 `MalformedPolicyException`.
pub(super) fn malformed_policy(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "MalformedPolicyException", message)
}

/// 400 `CertificateValidationException`.
pub(super) fn certificate_validation(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "CertificateValidationException",
        message,
    )
}

/// 400 `RegistrationCodeValidationException`.
pub(super) fn registration_code(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "RegistrationCodeValidationException",
        message,
    )
}

/// 406 `CertificateStateException`.
pub(super) fn certificate_state(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "CertificateStateException",
        message,
    )
}

/// 409 `DeleteConflictException`.
pub(super) fn delete_conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "DeleteConflictException", message)
}

/// 409 `VersionConflictException`.
pub(super) fn version_conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "VersionConflictException", message)
}

/// 409 `VersionsLimitExceededException` (409 in the botocore model).
pub(super) fn versions_limit(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "VersionsLimitExceededException",
        message,
    )
}

/// 410 `LimitExceededException`.
pub(super) fn limit_exceeded(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::GONE, "LimitExceededException", message)
}

/// The store's sentence with a capital first letter.
fn sentence(e: &StoreError) -> String {
    let s = e.to_string();
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => s,
    }
}

/// Map a registry error to its IoT exception. Handlers that give a rule a different name
/// (a `Conflict` that AWS reports as `InvalidRequestException`, an `AlreadyExists` that
/// carries the resource's ARN) match that case first and call this for the rest.
pub(super) fn store(e: StoreError) -> ApiError {
    let message = sentence(&e);
    match e {
        StoreError::NotFound { .. } => not_found(message),
        StoreError::AlreadyExists { .. } => ApiError::new(
            StatusCode::CONFLICT,
            "ResourceAlreadyExistsException",
            message,
        ),
        StoreError::Conflict {
            reason: ConflictReason::AttachedToTargets,
            key,
            ..
        } => delete_conflict(format!(
            "The policy cannot be deleted as the policy is attached to one or more principals (name={key})"
        )),
        StoreError::Conflict {
            reason: ConflictReason::NonDefaultVersions,
            key,
            ..
        } => delete_conflict(format!(
            "Cannot delete the policy because it has one or more non-default versions; delete them first (name={key})"
        )),
        StoreError::Conflict { .. } => delete_conflict(message),
        StoreError::LimitExceeded { .. } => limit_exceeded(message),
        StoreError::VersionConflict { .. } => version_conflict(message),
        StoreError::InvalidState {
            reason: StateReason::CertificateActive,
            ..
        } => certificate_state(super::certificates::CERTIFICATE_ACTIVE),
        StoreError::InvalidState {
            entity: Entity::Certificate | Entity::CaCertificate,
            ..
        } => certificate_state(message),
        StoreError::InvalidState { .. } => invalid(message),
        StoreError::InvalidMarker => invalid("The paging marker or token is not valid."),
        StoreError::Unavailable(detail) => {
            tracing::warn!(error = %detail, "registry unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
                "Service Unavailable",
            )
        }
        StoreError::Backend(detail) => ApiError::internal("InternalFailureException", detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotcreds_store::LimitKind;

    fn code(e: StoreError) -> (u16, &'static str) {
        let a = store(e);
        (a.status.as_u16(), a.code)
    }

    #[test]
    fn store_errors_map_to_iot_exceptions() {
        assert_eq!(
            code(StoreError::not_found(Entity::Thing, "t")),
            (404, "ResourceNotFoundException")
        );
        assert_eq!(
            store(StoreError::not_found(Entity::Thing, "t")).message,
            "Thing t does not exist"
        );
        assert_eq!(
            code(StoreError::already_exists(Entity::IotPolicy, "p")),
            (409, "ResourceAlreadyExistsException")
        );
        assert_eq!(
            code(StoreError::conflict(
                Entity::IotPolicy,
                "p",
                ConflictReason::AttachedToTargets
            )),
            (409, "DeleteConflictException")
        );
        assert_eq!(
            code(StoreError::limit(
                Entity::IotPolicy,
                "p",
                LimitKind::PoliciesPerTarget(10)
            )),
            (410, "LimitExceededException")
        );
        assert_eq!(
            code(StoreError::VersionConflict {
                entity: Entity::Thing,
                key: "t".into()
            }),
            (409, "VersionConflictException")
        );
        assert_eq!(
            code(StoreError::invalid_state(
                Entity::Certificate,
                "c",
                StateReason::CertificateActive
            )),
            (406, "CertificateStateException")
        );
        assert_eq!(
            code(StoreError::invalid_state(
                Entity::CaCertificate,
                "c",
                StateReason::CaCertificateActive
            )),
            (406, "CertificateStateException")
        );
        assert_eq!(
            code(StoreError::invalid_state(
                Entity::ThingType,
                "t",
                StateReason::ThingTypeDeprecated
            )),
            (400, "InvalidRequestException")
        );
        assert_eq!(
            code(StoreError::InvalidMarker),
            (400, "InvalidRequestException")
        );
        assert_eq!(
            code(StoreError::Unavailable("down".into())),
            (503, "ServiceUnavailableException")
        );
        let internal = store(StoreError::Backend("secret detail".into()));
        assert_eq!(
            (internal.status.as_u16(), internal.code),
            (500, "InternalFailureException")
        );
        assert!(!internal.message.contains("secret detail"));
    }

    #[test]
    fn constructors() {
        let e = already_exists("exists", "id-1", "arn:x");
        assert_eq!(e.resource, Some(("id-1".into(), "arn:x".into())));
        assert_eq!(versions_limit("x").status, StatusCode::CONFLICT);
        assert_eq!(certificate_state("x").status, StatusCode::NOT_ACCEPTABLE);
        assert_eq!(
            registration_code("x").code,
            "RegistrationCodeValidationException"
        );
        assert_eq!(certificate_validation("x").status, StatusCode::BAD_REQUEST);
        assert_eq!(malformed_policy("x").code, "MalformedPolicyException");
        let v = validation(ValidationError::new("thingName", "a b", "rule"));
        assert_eq!(
            v.message,
            "Value 'a b' at 'thingName' failed to satisfy constraint: rule"
        );
    }
}
