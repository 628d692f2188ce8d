//! Which request a command belongs to, without passing it through every use case:
//! the HTTP layer runs each request's handling inside [`scope`], and
//! [`crate::Application::metadata`] stamps every event the request causes with
//! the request's id and one correlation id shared by all of them (the two events
//! of one accept, say). Outside a request (the CLI, the workers) each command gets
//! a correlation id of its own.

use std::future::Future;

use uuid::Uuid;

/// The request a command runs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The request's id (`x-request-id`, set by the server when the client sent none).
    pub request_id: String,
    /// Shared by every event the request causes.
    pub correlation_id: Uuid,
}

impl RequestContext {
    /// The context of the request `request_id`: its correlation id is the request
    /// id itself when that is a UUID (as the server makes them), else a new one.
    /// A client's own id is kept in the log only when it is short printable ASCII
    /// (at most [`MAX_REQUEST_ID`] characters); otherwise the correlation id stands in.
    pub fn for_request(request_id: &str) -> Self {
        let correlation_id = Uuid::parse_str(request_id).unwrap_or_else(|_| Uuid::now_v7());
        let fits = request_id.len() <= MAX_REQUEST_ID
            && !request_id.is_empty()
            && request_id.bytes().all(|b| b.is_ascii_graphic());
        Self {
            request_id: if fits {
                request_id.to_owned()
            } else {
                correlation_id.to_string()
            },
            correlation_id,
        }
    }
}

/// The longest client-chosen request id kept in the log.
pub const MAX_REQUEST_ID: usize = 64;

/// The event a worker is acting on: what it records carries this event's id as
/// its `causation_id` and the event's `correlation_id` as its own, so the chain
/// from a request to the emails it caused can be followed in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cause {
    /// The causing event's id.
    pub event_id: Uuid,
    /// The causing event's correlation id, if it has one.
    pub correlation_id: Option<Uuid>,
}

tokio::task_local! {
    static CURRENT: RequestContext;
    static CAUSE: Cause;
}

/// Runs `work` on behalf of the event `cause`.
pub async fn caused_by<F: Future>(cause: Cause, work: F) -> F::Output {
    CAUSE.scope(cause, work).await
}

/// The event the current task acts on, if any.
pub fn current_cause() -> Option<Cause> {
    CAUSE.try_with(|c| *c).ok()
}

/// Runs `work` as part of the request `context`.
pub async fn scope<F: Future>(context: RequestContext, work: F) -> F::Output {
    CURRENT.scope(context, work).await
}

/// The request the current task works for, if any.
pub fn current() -> Option<RequestContext> {
    CURRENT.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_inside_a_scope_knows_its_request_and_outside_it_does_not() {
        assert_eq!(current(), None);
        let id = "0192c1b6-3c4a-7cde-8f00-000000000001";
        let seen = scope(RequestContext::for_request(id), async { current() }).await;
        assert_eq!(
            seen.map(|c| (c.request_id, c.correlation_id.to_string())),
            Some((id.to_owned(), id.to_owned()))
        );
        let other = RequestContext::for_request("client-chosen-id");
        assert_eq!(other.request_id, "client-chosen-id");
        let bloated = RequestContext::for_request(&"x".repeat(10_000));
        assert_eq!(bloated.request_id, bloated.correlation_id.to_string());
        assert_eq!(current(), None);
    }
}
