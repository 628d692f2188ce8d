//! Request bodies are read whole, within [`BODY_TIMEOUT`] and [`crate::body_limit`],
//! before anything else happens to the request: before it takes a place among the
//! writes in flight (`write_gate`) and before its handling is detached from the
//! client (`envelope::run_to_completion`). A client that announces a body and
//! sends it slowly, or never, is answered `408` and holds nothing that others
//! need while it dawdles.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;

/// The longest a client may take to send a request body (64 KiB at most: a slow
/// mobile link sends that in well under a second).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Middleware: buffers the body, then hands the request on with the bytes.
pub(crate) async fn read_whole_body(request: Request, next: Next) -> Response {
    read_within(request, next, BODY_TIMEOUT).await
}

async fn read_within(request: Request, next: Next, within: Duration) -> Response {
    let limit = crate::body_limit(request.uri().path());
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(within, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(e)) if is_over_limit(&e) => Problem::body_too_large().into_response(),
        Ok(Err(_)) => Problem::new(
            StatusCode::BAD_REQUEST,
            "unreadable-body",
            "Unreadable body",
            "the request body ended before it was complete",
        )
        .into_response(),
        Err(_) => Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "body-timeout",
            "Body not sent in time",
            format!(
                "the request body must arrive within {} seconds",
                within.as_secs()
            ),
        )
        .into_response(),
    }
}

fn is_over_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use axum::Router;
    use tower::ServiceExt;

    fn app(within: Duration) -> Router {
        Router::new()
            .route("/", post(|body: String| async move { body }))
            .layer(axum::middleware::from_fn(move |r, n| {
                read_within(r, n, within)
            }))
    }

    #[tokio::test]
    async fn a_whole_body_reaches_the_handler() {
        let answer = app(Duration::from_secs(1))
            .oneshot(
                Request::post("/")
                    .body(Body::from("hello"))
                    .expect("request"),
            )
            .await
            .expect("answer");
        assert_eq!(answer.status(), StatusCode::OK);
        let body = axum::body::to_bytes(answer.into_body(), 100)
            .await
            .expect("body");
        assert_eq!(&body[..], b"hello");
    }

    #[tokio::test]
    async fn a_body_that_never_ends_is_answered_408() {
        let (tx, rx) =
            futures::channel::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
        let answer = app(Duration::from_millis(50))
            .oneshot(
                Request::post("/")
                    .body(Body::from_stream(rx))
                    .expect("request"),
            )
            .await
            .expect("answer");
        drop(tx);
        assert_eq!(answer.status(), StatusCode::REQUEST_TIMEOUT);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_answered_413() {
        let answer = app(Duration::from_secs(1))
            .oneshot(
                Request::post("/")
                    .body(Body::from(vec![b'x'; crate::BODY_LIMIT + 1]))
                    .expect("request"),
            )
            .await
            .expect("answer");
        assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
