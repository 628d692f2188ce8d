//! RFC 9457 problem details: every error the API returns has this shape and a
//! stable `type` URI that clients can branch on.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Base of every problem `type` URI; the last segment names the broken rule.
pub const TYPE_BASE: &str = "https://roster.dev/problems/";

pub use roster_commands::FieldError;

/// One invalid input field (the documented shape of [`FieldError`]).
#[derive(Serialize, ToSchema)]
#[schema(as = FieldError)]
#[allow(dead_code)]
pub struct FieldErrorDoc {
    /// The field's name in the request.
    field: String,
    /// What is wrong with it.
    message: String,
}

/// An `application/problem+json` error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    /// The failing fields of a validation error.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<FieldErrorDoc>)]
    pub errors: Vec<FieldError>,
    /// Extra members that help a client act (e.g. the existing invitation's id).
    #[serde(flatten, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(ignore)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    /// A problem of the given status with `type` = [`TYPE_BASE`] + `slug`.
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            type_uri: format!("{TYPE_BASE}{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            extensions: serde_json::Map::new(),
        }
    }

    /// The last segment of its `type`: the rule's stable name.
    pub fn slug(&self) -> &str {
        self.type_uri.trim_start_matches(TYPE_BASE)
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        if let Ok(v) = serde_json::to_value(value) {
            self.extensions.insert(key.to_owned(), v);
        }
        self
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

    /// 413: the body is larger than [`crate::BODY_LIMIT`].
    pub fn body_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Body too large",
            format!(
                "request bodies are limited to {} KiB",
                crate::BODY_LIMIT / 1024
            ),
        )
    }

    /// 422 with the failing fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut p = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid input",
            detail,
        );
        p.errors = errors;
        p
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

/// Unknown routes answer with a problem too, never axum's empty 404; a browser
/// navigating to an unknown page address gets the page's own "Page not found"
/// (see [`roster_web::page_not_found`]).
pub(crate) async fn not_found(
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    if let Some(page) = roster_web::page_not_found(&method, &uri, &headers) {
        return page;
    }
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such resource",
    )
    .into_response()
}
