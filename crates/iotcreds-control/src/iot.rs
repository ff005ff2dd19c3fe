//! The iot API. Handlers are being written; until then every call is refused.

use bytes::Bytes;
use http::{Response, StatusCode};

use super::{ApiError, Caller, ControlContext};

/// Dispatch one authenticated iot request.
pub async fn handle(
    _ctx: &ControlContext,
    caller: &Caller,
    _parts: &http::request::Parts,
    _body: Bytes,
) -> Response<Bytes> {
    let err = ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        "not implemented yet",
    );
    super::render_json_error(&err, &caller.request_id)
}
