//! Roster's application layer: the use cases (one module each) and what they run
//! on. The HTTP API, the CLI and the workers call in here; nothing here knows HTTP.
//!
//! * [`use_cases`]: invite, resend, cancel, accept, change a role, remove a member,
//!   add an account, create an organization, sign in and out, and the queries an
//!   owner or member runs. Each takes parsed values and answers a typed result or
//!   a typed [`UseCaseError`].
//! * [`authorize`]: who may manage an organization, from its authoritative state.
//! * [`identity`]: the rules of credentials, sessions and the sign-in throttle.
//! * [`unit_of_work`]: a keyed request's first append and its stored answer in
//!   one transaction.
//! * [`Handler`]: running domain commands against the event store: load (or reuse)
//!   an aggregate's state, `decide`, append with the expected version, retry a lost
//!   race a bounded number of times. State is cached per stream by version, so a
//!   command on an organization with a long history does not replay it.
//! * [`Clock`] and [`tokens`] are the edges the pure domain leaves to the caller.

mod aggregate;
pub mod application;
pub mod authorize;
mod cache;
pub mod correlation;
pub mod error;
mod handler;
pub mod idempotency;
pub mod identity;
pub mod sending_limits;
pub mod sso;
pub mod tokens;
pub mod unit_of_work;
pub mod use_cases;

pub use aggregate::{Aggregate, OrgAggregate, UserAggregate};
pub use application::Application;
pub use error::{FieldError, UseCaseError};
pub use handler::{HandleError, Handler, HandlerConfig, Outcome};
pub use roster_eventstore::{Clock, ManualClock, SystemClock};
