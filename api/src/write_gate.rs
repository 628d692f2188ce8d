//! A bound on the writes (commands, sign-ins, accepts) being handled at once.
//! Past it a write waits its turn in the server, where waiting costs nothing,
//! instead of piling into the database. Requests whose clients vanish still count
//! until they finish (see `envelope::run_to_completion`), so this is also the cap
//! on abandoned work. A write that cannot start within the wait is answered
//! `503 busy` with `Retry-After`, having done nothing. A write takes its permit
//! only once its body has arrived (`body`), and a sign-in only after the throttle's
//! delay, so neither a slow client nor a much-guessed account holds one while waiting.
//!
//! The bound trades command throughput for read latency on a saturated machine
//! (`scripts/bench`, 32 inviting connections, two cores: at 8, reads p50 32 ms
//! and 296 invites/s; at 64, reads p50 55–67 ms and 418 invites/s). The default,
//! 32, is the request pool's size: no write waits for the gate that would not
//! have waited for a connection anyway.

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roster_commands::UseCaseError;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::ApiError;
use crate::AppState;

/// The permits and how long a write may wait for one.
#[derive(Debug)]
pub struct WriteGate {
    permits: Semaphore,
    wait: Duration,
}

impl WriteGate {
    /// At most `max` writes at once (at least one); each waits up to `wait`.
    pub fn new(max: usize, wait: Duration) -> Self {
        Self {
            permits: Semaphore::new(max.max(1)),
            wait,
        }
    }

    /// A place among the writes in flight, or `Busy` after the wait.
    pub async fn enter(&self) -> Result<SemaphorePermit<'_>, UseCaseError> {
        match tokio::time::timeout(self.wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(UseCaseError::Busy {
                retry_after: Duration::from_secs(1),
            }),
        }
    }
}

/// Writes that take their permit themselves, after a wait that must hold none:
/// signing in (a much-guessed account delays each attempt by up to 8 s).
const GATED_BY_HANDLER: &[(Method, &str)] = &[(Method::POST, "/api/sessions")];

/// Middleware: reads pass; writes take a permit for as long as they are handled.
pub(crate) async fn gate_writes(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    if GATED_BY_HANDLER
        .iter()
        .any(|(method, path)| method == request.method() && Some(*path) == route)
    {
        return next.run(request).await;
    }
    match state.writes.enter().await {
        Ok(_permit) => next.run(request).await,
        Err(busy) => ApiError::from(busy).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_past_the_bound_waits_then_is_told_busy() {
        let gate = WriteGate::new(1, Duration::from_millis(30));
        let first = gate.enter().await;
        assert!(first.is_ok());
        assert!(matches!(gate.enter().await, Err(UseCaseError::Busy { .. })));
        drop(first);
        assert!(gate.enter().await.is_ok(), "a freed place is taken at once");
    }
}
