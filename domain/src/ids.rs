//! Identifiers. Each is a UUID (v7, so ids sort by creation) behind its own type,
//! so a user id can never be passed where an invitation id is expected. The domain
//! never makes ids itself: callers pass fresh ones in, keeping `decide` pure.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID (from storage, a URL, or a generator at the edge).
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// The event stream this id names, e.g. `org-<uuid>`.
            pub fn stream_name(&self) -> String {
                format!("{}-{}", $prefix, self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// An organization; its events live in stream `org-<uuid>`.
    OrgId, "org"
);
id_type!(
    /// An account inside a multi-account organization.
    AccountId, "account"
);
id_type!(
    /// A person's identity; its events live in stream `user-<uuid>`.
    UserId, "user"
);
id_type!(
    /// One invitation, from first send to accept, cancel or expiry.
    InvitationId, "invitation"
);
id_type!(
    /// One (re)send of an invitation; the email's Message-ID and the link's token derive from it.
    SendId, "send"
);
id_type!(
    /// An organization API key; its secret's digest is kept, never the secret.
    ApiKeyId, "api-key"
);
