//! `ApiJson<T>`: axum's JSON extractor with every rejection turned into a
//! problem document (400 syntax, 413 too large, 415 content type, 422 shape).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;

use roster_commands::UseCaseError;

use crate::error::ApiError;
use crate::problem::{FieldError, Problem};

/// A JSON body, parsed with problem+json rejections.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(e) => {
                    ApiError::UseCase(UseCaseError::Invalid(vec![FieldError::new(
                        "body",
                        e.body_text(),
                    )]))
                }
                JsonRejection::JsonSyntaxError(e) => ApiError::problem(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "malformed-json",
                    "Malformed JSON",
                    e.body_text(),
                )),
                JsonRejection::MissingJsonContentType(_) => ApiError::problem(Problem::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported-media-type",
                    "Unsupported media type",
                    "send the body as application/json",
                )),
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::problem(Problem::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body-too-large",
                        "Body too large",
                        "request bodies are limited to 64 KiB",
                    ))
                }
                other => ApiError::problem(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    "Bad request",
                    other.body_text(),
                )),
            }),
        }
    }
}

/// Query-string parameters, parsed with a problem+json rejection (422).
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::UseCase(UseCaseError::Invalid(vec![
                FieldError::new("query", rejection.body_text()),
            ]))),
        }
    }
}
