//! The organization aggregate: one stream `org-<uuid>` per organization holding
//! its accounts, members and invitations.

mod command;
mod decide;
mod error;
mod event;
mod evolve;
mod state;

pub use command::{Envelope, OrgCommand};
pub use decide::{decide, Context, MAX_WORKING_API_KEYS};
pub use error::DomainError;
pub use event::*;
pub use evolve::{evolve, replay};
pub use state::{Account, ApiKey, Invitation, InvitationStatus, Member, Organization};
