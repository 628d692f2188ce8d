//! Where Roster keeps what is not an event: the handle on the one database both
//! backends share ([`Db`]), the tables that are not read models and the runtime
//! every log follower runs on.
//!
//! * [`db`]: the two-backend handle, its transactions and the macros that run one
//!   SQL text on either backend.
//! * [`sessions`], [`credentials`], [`idempotency`], [`checkpoints`],
//!   [`email_retries`], [`api_key_use`], [`scim_errors`], [`sso_logins`]: one module per table, each answering in typed rows.
//! * [`follower`]: leadership across instances, the follow loop, backoff.
//!
//! Read models live in `roster-projections`; the log in `roster-eventstore`. The
//! rules about these tables (how long a session lives, when an answer may be
//! replayed) belong to `roster-commands`, which calls the functions here.

pub mod api_key_use;
pub mod checkpoints;
pub mod credentials;
pub mod db;
pub mod email_retries;
mod error;
pub mod follower;
pub mod idempotency;
pub mod scim_errors;
pub mod sessions;
pub mod sso_logins;

pub use db::{pos_i64, time_text, Db, Tx};
pub use error::StorageError;
