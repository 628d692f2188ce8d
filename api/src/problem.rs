//! RFC 9457 problem details: every error the API returns has this shape and a
//! stable `type` URI that clients can branch on.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Base of every problem `type` URI; the last segment names the broken rule.
pub const TYPE_BASE: &str = "https://roster.dev/problems/";

/// An `application/problem+json` error response.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// Stable URI naming the rule or failure, e.g. `…/already-invited`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short, fixed summary of the type.
    pub title: String,
    /// The HTTP status, repeated for clients that only see the body.
    pub status: u16,
    /// What went wrong this time, for a person to read.
    pub detail: String,
}

impl Problem {
    /// A problem of the given status with `type` = [`TYPE_BASE`] + `slug`.
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            type_uri: format!("{TYPE_BASE}{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }

    /// 503: a dependency (the database) is down; retrying later may succeed.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

/// Unknown routes answer with a problem too, never axum's empty 404.
pub(crate) async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such resource",
    )
}
