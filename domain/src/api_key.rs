//! What an organization API key may do. A key acts for its organization only,
//! within its scopes, until it expires or an owner revokes it; it never manages
//! keys itself.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One thing a key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read members, invitations, accounts, history and the event feed.
    Read,
    /// Invite, resend, correct and cancel invitations; change roles; remove
    /// members; add and rename accounts (as an owner would, except keys).
    Manage,
    /// Directory sync over SCIM.
    Scim,
}

impl Scope {
    /// Every scope, in order.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Manage, Scope::Scim];

    /// The scope's name in requests and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Manage => "manage",
            Scope::Scim => "scim",
        }
    }

    /// The scope named `name`, if any.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key's scopes: a set, so order and repeats in a request do not matter.
pub type Scopes = BTreeSet<Scope>;
