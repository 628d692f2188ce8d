//! The pure model of Roster: ids, value types (`Email`, `PersonName`, roles),
//! commands, events, and the organization and user aggregates with their
//! `decide` and `evolve` functions. No I/O, no clock, no randomness: time, ids and
//! token digests are passed in, so every rule is testable as
//! Given events / When command / Then events.

pub mod api_key;
pub mod codec;
pub mod error_chain;
pub mod ids;
pub mod organization;
pub mod role;
pub mod sso;
pub mod text;
pub mod token;
pub mod user;

pub use api_key::{Scope, Scopes};
pub use codec::{decode, decode_text, encode, DecodeError, DomainEvent, EncodeError};
pub use error_chain::error_chain;
pub use ids::{AccountId, ApiKeyId, InvitationId, OrgId, SendId, UserId};
pub use organization::{
    decide, evolve, Context, DomainError, Envelope, OrgCommand, OrgEvent, Organization,
};
pub use role::{AccountRole, AccountRoles, MultiRole, OrgRole, OrgShape, Role, SingleRole};
pub use sso::{EmailDomain, SealedSecret, SsoConnection, Subject};
pub use text::{DisplayName, Email, PersonName, TextError};
pub use token::TokenDigest;
